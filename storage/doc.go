// Package storage owns rackpulse's InfluxDB sink: the schema (which
// measurements, tags and fields a server Snapshot and a rollup become), the
// Writer that batches points into InfluxDB without ever blocking the poller
// and keeps them in an on-disk spool while InfluxDB is away, and the Reader
// that reads the racks' latest rollups back for the site rollup.
//
// It must not know how readings are collected (protocols, vendors) nor how
// power or rollups are computed: it takes a bmc.Snapshot and small structs
// (ServerPowerPoint, RollupPoint) that the power and rollup packages fill.
// It knows nothing of the command line or viper: callers pass a Config.
package storage
