// Package inventory owns the operator's inventory: the site, its rooms, rows
// and racks, the servers in them, their BMC addresses, credential profiles
// (by reference), PSU-to-feed wiring, rack power budgets and per-rack and
// per-server alert settings (AlertSettings, also decoded from the config
// file by DecodeAlertSettings).
//
// Load reads one YAML file or a directory of them, merges them into one
// Inventory and validates it, reporting every problem at once with its file,
// line and YAML path. It does no network I/O and keeps no state between
// calls, so a poller may call it again on every change and keep the previous
// inventory when the new one has errors.
//
// Endpoints turns servers into bmc.Endpoint poll targets, with defaults
// inherited down the tree and passwords read from the environment or files
// at that moment. Nothing here speaks a BMC protocol.
package inventory
