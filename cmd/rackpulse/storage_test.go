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
