// Package fleet owns the daemon's live state: every polled server's latest
// state (its last good Snapshot, the power read from it, how its polls
// went), its recent BMC log entries, its energy meter, and the last rollup
// of the site's tree with each rack's feeds and energy.
//
// The scheduler hands every poll to Fleet.Observe; Fleet.Run rolls the
// fleet up once per interval. Each poll and each rollup cycle is handed on
// to the sinks (storage, the alert engine), and the HTTP API reads the
// state through Fleet's read methods. fleet knows the inventory, the
// Snapshot model, power and rollup; it does not know protocols, HTTP, or
// how a sink delivers what it is handed.
package fleet
