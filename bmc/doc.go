// Package bmc owns the normalized model that every collector fills and
// everything downstream reads: a Snapshot per server per poll, with sensors,
// power supplies, DIMMs, CPUs, drives, health, new log entries and a report of
// how the poll went. It also owns the poll targets (Endpoint), the Collector
// interface the protocol packages implement, and the scheduler that polls a
// fleet of endpoints on their cadences.
//
// Nothing here knows a protocol or a vendor: bmc/redfish and bmc/ipmi turn
// wire data into this model, and power, rollup and the sinks consume it.
package bmc
