package main

import (
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/rackpulse/rackpulse/bmc"
	"github.com/rackpulse/rackpulse/bmc/ipmi"
	"github.com/rackpulse/rackpulse/bmc/redfish"
)

// newCollector builds the collector for an endpoint's protocol. It is the
// one place that knows which protocol packages exist. `auto` tries Redfish
// at the address and falls back to IPMI on the same host (port 623).
func newCollector(ep bmc.Endpoint, opts bmc.CollectorOptions) (bmc.Collector, error) {
	switch ep.Protocol {
	case bmc.ProtocolRedfish, "":
		return redfish.New(ep, opts)
	case bmc.ProtocolIPMI:
		return ipmi.New(ep, opts)
	case bmc.ProtocolAuto:
		ipmiEP := ep
		ipmiEP.Protocol = bmc.ProtocolIPMI
		ipmiEP.Address = hostOf(ep.Address)
		return bmc.NewFallbackCollector(ep.Server,
			bmc.Candidate{Protocol: bmc.ProtocolRedfish, New: func() (bmc.Collector, error) { return redfish.New(ep, opts) }},
			bmc.Candidate{Protocol: bmc.ProtocolIPMI, New: func() (bmc.Collector, error) { return ipmi.New(ipmiEP, opts) }},
		), nil
	default:
		return nil, fmt.Errorf("server %s: unknown protocol %q", ep.Server, ep.Protocol)
	}
}

// hostOf strips a URL's scheme and any port from an address: with
// protocol auto the port given is Redfish's, and IPMI uses its own.
func hostOf(address string) string {
	if strings.Contains(address, "://") {
		if u, err := url.Parse(address); err == nil {
			return u.Hostname()
		}
	}
	if host, _, err := net.SplitHostPort(address); err == nil {
		return host
	}
	return address
}
