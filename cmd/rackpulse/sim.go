package main

import (
	"errors"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"
)

// newSimCmd is replaced by the real subcommand.
func newSimCmd(_ *viper.Viper) *cobra.Command {
	return &cobra.Command{Use: "sim", RunE: func(*cobra.Command, []string) error { return errors.New("sim: not built yet") }}
}
