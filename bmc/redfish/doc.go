// Package redfish is the Redfish collector: it polls one BMC over HTTPS and
// turns what the service publishes (ServiceRoot, Systems, Chassis, Power and
// PowerSubsystem, Thermal and ThermalSubsystem, EnvironmentMetrics, Sensors,
// Memory, Processors, Storage and LogServices) into a bmc.Snapshot.
//
// The package owns everything Redfish-specific: the session with the BMC,
// the HTTP transport and its TLS checks, $expand handling, the request
// budget and per-part cadences, and the vendor quirks (see quirks.go and
// docs/redfish.md). Nothing downstream of a Snapshot knows Redfish exists.
//
// The resources read every poll decode into this package's own shapes of
// them (wire.go), the others into the github.com/stmcginnis/gofish schemas
// types; the gofish APIClient carries the requests (bounded concurrency),
// while sessions, conditional reads (etag.go), retries and error
// classification are this package's own.
package redfish
