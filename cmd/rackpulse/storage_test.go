package main

import (
	"testing"

	"github.com/spf13/viper"
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
}
