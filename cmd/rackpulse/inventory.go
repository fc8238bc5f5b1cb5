package main

import (
	"errors"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"
)

// newInventoryCmd is replaced by the real subcommand.
func newInventoryCmd(_ *viper.Viper) *cobra.Command {
	return &cobra.Command{Use: "inventory", RunE: func(*cobra.Command, []string) error { return errors.New("inventory: not built yet") }}
}
