// Package rollup turns every server's latest state into totals at each level
// of the site: server → rack → row → room → site. At every level it gives
// the watts of the servers that report live, the budget and utilization,
// how many servers there are and how many report (coverage), a last-known
// estimate for those that do not, and faults counted by component and
// severity. It also rolls up from stored rack totals alone, for the
// site-level role that reads back what rack pollers stored.
//
// NaN and ±Inf never enter a sum: a server whose power is not a plausible
// server's (power.Unusable) is set aside with its reason
// (ServerResult.PowerSetAside) and the others still sum; fresh stored rack
// totals that are not numbers are set aside (Node.SetAside); a budget that
// is not a number is none.
//
// It owns freshness (which servers count as live) and the fault taxonomy. It
// reads the normalized bmc model, the inventory tree and the power package's
// readings; it must not know Redfish, IPMI or any vendor, and it does no I/O.
package rollup
