package main

import (
	"fmt"

	"github.com/rackpulse/rackpulse/bmc"
	"github.com/rackpulse/rackpulse/bmc/redfish"
)

// newCollector builds the collector for an endpoint's protocol. It is the
// one place that knows which protocol packages exist.
func newCollector(ep bmc.Endpoint, opts bmc.CollectorOptions) (bmc.Collector, error) {
	switch ep.Protocol {
	case bmc.ProtocolRedfish, bmc.ProtocolAuto, "":
		return redfish.New(ep, opts)
	default:
		return nil, fmt.Errorf("server %s: protocol %q is not supported by this build", ep.Server, ep.Protocol)
	}
}
