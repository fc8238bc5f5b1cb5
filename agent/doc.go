// Package agent is the in-band view of one host: its hardware inventory
// (ghw, the SMBIOS tables), DIMM error counters (EDAC), temperatures, fans
// and power (hwmon), disks' SMART data (smartctl), and its load (procfs).
// It builds a Report and sends it to the host's poller. Every reader takes
// a root directory (/ on the host; a fixture tree in tests; /host in a
// container) and says what it could not read instead of failing.
//
// agent knows the host, not BMCs: the poller reconciles the two views.
package agent
