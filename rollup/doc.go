// Package rollup turns every server's latest state into totals at each level
// of the site: server → rack → row → room → site. At every level it gives
// the watts of the servers that report live, the budget and utilization,
// how many servers there are and how many report (coverage), a last-known
// estimate for those that do not, and faults counted by component and
// severity. It also rolls up from stored rack totals alone, for the
// site-level role that reads back what rack pollers stored.
//
// It owns freshness (which servers count as live) and the fault taxonomy. It
// reads the normalized bmc model, the inventory tree and the power package's
// readings; it must not know Redfish, IPMI or any vendor, and it does no I/O.
package rollup
