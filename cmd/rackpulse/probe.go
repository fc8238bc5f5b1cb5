package main

import (
	"errors"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"
)

// newProbeCmd is replaced by the real subcommand.
func newProbeCmd(_ *viper.Viper) *cobra.Command {
	return &cobra.Command{Use: "probe", RunE: func(*cobra.Command, []string) error { return errors.New("probe: not built yet") }}
}
