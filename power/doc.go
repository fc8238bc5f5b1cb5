// Package power turns one server's Snapshot into the numbers a datacentre is
// run by: the server's input power with its provenance (ServerPower), the
// state of its PSU redundancy (PSURedundancy), the load on a rack's power
// feeds and the headroom left if one feed fails (RackFeeds), and the energy
// drawn across polls (EnergyMeter).
//
// It reads only the normalized bmc model and the inventory's rack wiring. It
// must not know Redfish, IPMI or any vendor: every quirk is either already
// resolved by a collector (a PSU reading at its own rating arrives in
// PSU.Suspect) or visible in the model (a PowerReading with Suspect text,
// totals that disagree), and is handled here from the model alone. A value
// that is not a plausible server's power (bmc.ServerWattsBound: NaN, ±Inf,
// negative, beyond any server's draw) is never used, not even for want of a
// better one, and a server without a usable reading is left out of its
// rack's feed sums with the reason (FeedLoad.SetAside). It knows
// nothing of rooms, rows or sites either: that is the rollup's business.
package power
