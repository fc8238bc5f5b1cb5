// Package ipmi is the IPMI collector: it polls one BMC over IPMI 2.0/RMCP+
// (lanplus) or IPMI 1.5 (lan) and turns what the BMC publishes (the SDR
// repository, sensor readings and thresholds, DCMI power readings, chassis
// status, the system GUID and FRU product serial, and the System Event Log)
// into a bmc.Snapshot.
//
// The package owns everything IPMI-specific: the one session per BMC and
// its re-establishment, the per-poll retry budget for lost UDP datagrams,
// SDR record decoding and the SDR cache, the thresholds the BMC enforces
// (Get Sensor Thresholds on the static cadence, the SDR's as a fallback),
// reading conversion (M, B and exponents, °F and K to °C), sensor type and
// entity mapping, discrete state names, PSU redundancy sensors as
// redundancy groups, the SEL cursor and its state file (which survives a
// read cut short) with the per-DIMM memory error counts derived from the
// SEL, the GUID byte order, and the event decoding table (see
// docs/ipmi.md). Nothing downstream of a Snapshot knows IPMI exists.
//
// github.com/bougou/go-ipmi carries the session (RAKP, integrity,
// confidentiality) and the UDP exchange; every command this package sends
// is built and decoded here from raw bytes, so that one odd record or
// answer never costs the rest of a poll.
package ipmi
