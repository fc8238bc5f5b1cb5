package main

import (
	"errors"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"
)

// newServeCmd is replaced by the real subcommand.
func newServeCmd(_ *viper.Viper) *cobra.Command {
	return &cobra.Command{Use: "serve", RunE: func(*cobra.Command, []string) error { return errors.New("serve: not built yet") }}
}
