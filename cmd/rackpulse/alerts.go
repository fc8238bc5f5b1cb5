package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"github.com/spf13/viper"
	"gopkg.in/yaml.v3"

	"github.com/rackpulse/rackpulse/alert"
	"github.com/rackpulse/rackpulse/inventory"
	"github.com/rackpulse/rackpulse/storage"
)

// alertConfig is how alerts are raised and delivered.
type alertConfig struct {
	settings alert.Settings
	// alertmanagers are the Alertmanager base URLs; none: alerts are
	// still evaluated, logged, listed on /api/alerts and counted.
	alertmanagers []string
	// externalURL is rackpulse's address as alert recipients reach it;
	// empty: the listen address.
	externalURL string
}

// addAlertFlags adds the alert delivery settings to a command. Each is
// also a config-file key and an environment variable
// (RACKPULSE_ALERTMANAGER_URL, comma-separated for several).
func addAlertFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringSlice("alertmanager-url", nil, "Alertmanager to send alerts to (repeat, or comma-separate, for an HA pair); RACKPULSE_ALERTMANAGER_URL")
	f.String("external-url", "", "rackpulse's URL as alert recipients reach it, for links in alerts (default: the listen address); RACKPULSE_EXTERNAL_URL")
}

// readAlertConfig reads the delivery flags and the rules' settings: the
// defaults overlaid with the config file's `alerts:` block.
func readAlertConfig(v *viper.Viper) (alertConfig, error) {
	cfg := alertConfig{externalURL: strings.TrimSuffix(v.GetString("external-url"), "/")}
	for _, u := range v.GetStringSlice("alertmanager-url") {
		cfg.alertmanagers = append(cfg.alertmanagers, splitList(u)...)
	}
	over, err := configAlertSettings(v.ConfigFileUsed())
	if err != nil {
		return cfg, err
	}
	cfg.settings = alert.DefaultSettings().Overlay(over)
	return cfg, nil
}

// configAlertSettings decodes the config file's `alerts:` block with the
// inventory's decoder, so that a mistake is reported with its line.
func configAlertSettings(file string) (inventory.AlertSettings, error) {
	if file == "" {
		return inventory.AlertSettings{}, nil
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		return inventory.AlertSettings{}, fmt.Errorf("config %s: %w", file, err)
	}
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(raw)).Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return inventory.AlertSettings{}, nil
		}
		return inventory.AlertSettings{}, fmt.Errorf("config %s: %w", file, err)
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return inventory.AlertSettings{}, nil
	}
	top := doc.Content[0]
	for i := 0; i+1 < len(top.Content); i += 2 {
		if top.Content[i].Value != "alerts" {
			continue
		}
		s, problems := inventory.DecodeAlertSettings(file, top.Content[i+1], "alerts")
		if errs := problems.Errors(); len(errs) > 0 {
			return s, fmt.Errorf("config %s is invalid:\n%s", file, errs.Error())
		}
		return s, nil
	}
	return inventory.AlertSettings{}, nil
}

// newAlertEngine builds the alert engine and, when Alertmanagers are
// named, their sender (nil otherwise; run it with Run). Alert state
// changes are stored when store is set.
func newAlertEngine(cfg alertConfig, stateDir, externalURL string, interval time.Duration, store *storage.Writer, reg prometheus.Registerer, log *slog.Logger) (*alert.Engine, *alert.Alertmanager, error) {
	opts := alert.Options{Settings: cfg.settings, StateDir: stateDir, ExternalURL: externalURL, Registerer: reg, Logger: log}
	if store != nil {
		opts.Points = store
	}
	var am *alert.Alertmanager
	if len(cfg.alertmanagers) > 0 {
		var err error
		am, err = alert.NewAlertmanager(alert.AlertmanagerOptions{URLs: cfg.alertmanagers, ResendEvery: interval, Registerer: reg, Logger: log})
		if err != nil {
			return nil, nil, err
		}
		opts.Notifiers = append(opts.Notifiers, am)
		redacted := make([]string, len(cfg.alertmanagers))
		for i, u := range cfg.alertmanagers {
			redacted[i] = alert.Redact(u)
		}
		log.Info("sending alerts to Alertmanager", "urls", strings.Join(redacted, ","))
	} else {
		log.Info("no Alertmanager configured (--alertmanager-url): alerts are logged, listed on /api/alerts and counted on /metrics")
	}
	return alert.New(opts), am, nil
}

// addAlertComponents adds the alert engine (its state saved at stop) and,
// when there is one, the Alertmanager sender to a daemon's lifecycle.
func addAlertComponents(life *lifecycle, alerts *alert.Engine, am *alert.Alertmanager,
	wrapRun func(name string, run func(context.Context) error) func(context.Context) error) {
	life.add(component{name: "alert engine", stop: func(context.Context) error {
		if err := alerts.Close(); err != nil {
			return fmt.Errorf("alert state not saved: %w", err)
		}
		return nil
	}})
	if am != nil {
		life.add(component{name: "alertmanager sender", run: wrapRun("alertmanager sender", func(ctx context.Context) error { am.Run(ctx); return nil })})
	}
}
