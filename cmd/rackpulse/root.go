package main

import (
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"
)

// newRootCmd builds the command tree. Configuration comes from flags, then
// RACKPULSE_* environment variables, then the config file (--config).
func newRootCmd() *cobra.Command {
	v := viper.New()
	root := &cobra.Command{
		Use:           "rackpulse",
		Short:         "Datacentre hardware and power telemetry from BMCs",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return loadConfig(cmd, v)
		},
	}
	pf := root.PersistentFlags()
	pf.String("config", "", "config file (YAML); RACKPULSE_CONFIG")
	pf.String("inventory", "configs/inventory.yaml", "inventory file or directory; RACKPULSE_INVENTORY")
	pf.String("log-level", "info", "debug, info, warn or error; RACKPULSE_LOG_LEVEL")
	pf.String("log-format", "text", "text or json; RACKPULSE_LOG_FORMAT")
	_ = v.BindPFlags(pf)

	root.AddCommand(
		newInventoryCmd(v),
		newProbeCmd(v),
		newServeCmd(v),
		newRollupCmd(v),
		newAgentCmd(v),
		newSimCmd(v),
	)
	return root
}

func loadConfig(cmd *cobra.Command, v *viper.Viper) error {
	v.SetEnvPrefix("RACKPULSE")
	v.SetEnvKeyReplacer(strings.NewReplacer("-", "_", ".", "_"))
	v.AutomaticEnv()
	if err := v.BindPFlags(cmd.Flags()); err != nil {
		return err
	}
	if file := v.GetString("config"); file != "" {
		v.SetConfigFile(file)
		if err := v.ReadInConfig(); err != nil {
			return fmt.Errorf("config %s: %w", file, err)
		}
	}
	return nil
}

// newLogger builds the process logger from --log-level and --log-format,
// writing to w (the command's standard error).
func newLogger(v *viper.Viper, w io.Writer) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(v.GetString("log-level"))); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if v.GetString("log-format") == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
