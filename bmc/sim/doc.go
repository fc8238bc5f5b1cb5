// Package sim owns the BMC fleet simulator: virtual Redfish BMCs that serve
// a resource tree the way real firmware does (sessions and their limits,
// Basic auth, $expand, Redfish error bodies), synthetic server profiles whose
// readings move over time, named vendor quirks, injected data and transport
// faults, and a fleet of such BMCs on loopback HTTPS ports with an admin API.
//
// It knows nothing of the collectors that poll it: it speaks only the wire
// protocol, so that the collectors can be tested and benchmarked against it
// as if against real hardware. It never reads the DMTF mockups at run time
// unless asked to serve one (LoadMockup): the synthetic profiles are built in
// code.
package sim
