package main

import (
	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/rackpulse/rackpulse/bmc"
	"github.com/rackpulse/rackpulse/storage"
)

// addStorageFlags adds the InfluxDB settings to a command. Each is also a
// config-file key (influx.url, ...) and an environment variable
// (RACKPULSE_INFLUX_URL, ...).
func addStorageFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.String("influx-url", "", "InfluxDB URL (empty: no storage); RACKPULSE_INFLUX_URL")
	f.String("influx-token", "", "InfluxDB token (for 1.8: user:password); prefer RACKPULSE_INFLUX_TOKEN")
	f.String("influx-org", "", "InfluxDB organization (ignored by 1.8); RACKPULSE_INFLUX_ORG")
	f.String("influx-bucket", "rackpulse", "InfluxDB bucket (for 1.8: database[/retention policy]); RACKPULSE_INFLUX_BUCKET")
	f.String("influx-spool-dir", "var/spool", "directory of the on-disk spool kept while InfluxDB is unreachable; RACKPULSE_INFLUX_SPOOL_DIR")
	f.Int64("influx-spool-max-bytes", 1<<30, "bound of the spool; the oldest points are dropped past it; RACKPULSE_INFLUX_SPOOL_MAX_BYTES")
}

// storageConfig reads the InfluxDB settings of the command being run: its
// flags are bound to the influx.* keys now, since several commands define
// the same flags on one viper.
func storageConfig(cmd *cobra.Command, v *viper.Viper) storage.Config {
	for _, name := range []string{"url", "token", "org", "bucket", "spool-dir", "spool-max-bytes"} {
		_ = v.BindPFlag("influx."+name, cmd.Flags().Lookup("influx-"+name))
	}
	return storage.Config{
		URL:           v.GetString("influx.url"),
		Token:         bmc.Secret(v.GetString("influx.token")),
		Org:           v.GetString("influx.org"),
		Bucket:        v.GetString("influx.bucket"),
		SpoolDir:      v.GetString("influx.spool-dir"),
		SpoolMaxBytes: v.GetInt64("influx.spool-max-bytes"),
	}
}
