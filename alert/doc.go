// Package alert evaluates alert rules on the normalized model after every
// poll and every rollup cycle: failing DIMMs, hot CPUs, failed PSUs and
// lost redundancy, failed fans, failing drives, hot inlets, unreachable
// BMCs, racks over budget and feeds that are not failover-safe. It keeps
// each alert's state (for-durations, dead bands, held while data is
// missing), saves it across restarts, and delivers changes to Prometheus
// Alertmanager through its v2 API.
//
// The Engine is a fleet.Sink: it is handed polls and cycles and never
// reads a BMC. Rules know the Snapshot model and the rollup, not
// protocols; their tunables come from Settings (defaults, the config file,
// the inventory's per-rack and per-server overrides). docs/alerts.md
// documents every rule.
package alert
