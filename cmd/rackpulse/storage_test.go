package main

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/viper"

	"github.com/rackpulse/rackpulse/alert"
)

// Both serve and rollup define the InfluxDB flags on one viper: each must
// read its own.
func TestStorageFlagsReachTheCommandRun(t *testing.T) {
	v := viper.New()
	serve, rollupCmd := newServeCmd(v), newRollupCmd(v)
	if err := serve.ParseFlags([]string{"--influx-url", "http://serve:8086", "--influx-bucket", "b1"}); err != nil {
		t.Fatal(err)
	}
	if cfg := storageConfig(serve, v); cfg.URL != "http://serve:8086" || cfg.Bucket != "b1" {
		t.Errorf("serve reads influx url %q bucket %q; want its own flags", cfg.URL, cfg.Bucket)
	}
	if err := rollupCmd.ParseFlags([]string{"--influx-url", "http://site:8086"}); err != nil {
		t.Fatal(err)
	}
	if cfg := storageConfig(rollupCmd, v); cfg.URL != "http://site:8086" || cfg.Bucket != "rackpulse" {
		t.Errorf("rollup reads influx url %q bucket %q; want its own flags and the default bucket", cfg.URL, cfg.Bucket)
	}
	t.Setenv("RACKPULSE_INFLUX_TOKEN", "user:secret")
	if err := loadConfig(rollupCmd, v); err != nil {
		t.Fatal(err)
	}
	if cfg := storageConfig(rollupCmd, v); cfg.Token.Reveal() != "user:secret" {
		t.Error("the token is not read from RACKPULSE_INFLUX_TOKEN")
	}
}

// The example config file is read: its keys reach serve's settings, and a
// flag still wins over the file.
func TestExampleConfigFile(t *testing.T) {
	v := viper.New()
	serve := newServeCmd(v)
	serve.PersistentFlags().AddFlagSet(newRootCmd().PersistentFlags())
	if err := serve.ParseFlags([]string{"--config", "../../configs/rackpulse.example.yaml", "--workers", "64"}); err != nil {
		t.Fatal(err)
	}
	if err := loadConfig(serve, v); err != nil {
		t.Fatal(err)
	}
	if got := v.GetString("listen"); got != "127.0.0.1:9290" {
		t.Errorf("listen = %q from the file", got)
	}
	if got := v.GetInt("workers"); got != 64 {
		t.Errorf("workers = %d; the flag (64) must win over the file (256)", got)
	}
	cfg := storageConfig(serve, v)
	if cfg.URL != "http://127.0.0.1:8086" || cfg.Bucket != "rackpulse" || cfg.SpoolMaxBytes != 1<<30 {
		t.Errorf("influx settings from the file: %+v", cfg)
	}
	alerts, err := readAlertConfig(v)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(alerts.alertmanagers, []string{"http://127.0.0.1:9093"}) {
		t.Errorf("alertmanagers from the file: %v", alerts.alertmanagers)
	}
	// The example spells out the defaults.
	if alerts.settings != alert.DefaultSettings() {
		t.Errorf("alert settings from the example file %+v differ from the defaults %+v", alerts.settings, alert.DefaultSettings())
	}
}

// The config file's alerts block tunes the rules; a mistake in it names
// the file, line and key; the environment names Alertmanagers.
func TestAlertSettingsFromTheConfigFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	writeFile(t, good, "listen: 127.0.0.1:0\nalerts:\n  cpu_warning_celsius: 80\n  disabled: [InletHot]\n")
	v := viper.New()
	serve := newServeCmd(v)
	serve.PersistentFlags().AddFlagSet(newRootCmd().PersistentFlags())
	if err := serve.ParseFlags([]string{"--config", good}); err != nil {
		t.Fatal(err)
	}
	t.Setenv("RACKPULSE_ALERTMANAGER_URL", "http://am1:9093,http://am2:9093")
	if err := loadConfig(serve, v); err != nil {
		t.Fatal(err)
	}
	cfg, err := readAlertConfig(v)
	if err != nil {
		t.Fatal(err)
	}
	want := alert.DefaultSettings()
	want.CPUWarningCelsius = 80
	if cfg.settings.CPUWarningCelsius != 80 || cfg.settings.DIMMCorrectableLimit != 10 || cfg.settings == want {
		t.Errorf("settings %+v: want cpu_warning_celsius 80, InletHot off, the rest default", cfg.settings)
	}
	if !slices.Equal(cfg.alertmanagers, []string{"http://am1:9093", "http://am2:9093"}) {
		t.Errorf("alertmanagers from RACKPULSE_ALERTMANAGER_URL: %v", cfg.alertmanagers)
	}

	bad := filepath.Join(dir, "bad.yaml")
	writeFile(t, bad, "listen: 127.0.0.1:0\nalerts:\n  cpu_warning_celsius: hot\n  dimm_corectable_limit: 5\n")
	if _, err := configAlertSettings(bad); err == nil ||
		!strings.Contains(err.Error(), bad+":3") || !strings.Contains(err.Error(), "alerts.cpu_warning_celsius") ||
		!strings.Contains(err.Error(), bad+":4") || !strings.Contains(err.Error(), "dimm_correctable_limit") {
		t.Errorf("a bad alerts block gives %v; want both mistakes with file:line and key", err)
	}
}
