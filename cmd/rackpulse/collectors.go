package main

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/rackpulse/rackpulse/bmc"
	"github.com/rackpulse/rackpulse/bmc/ipmi"
	"github.com/rackpulse/rackpulse/bmc/redfish"
)

// newCollector builds the collector for an endpoint's protocol. It is the
// one place that knows which protocol packages exist. `auto` tries Redfish
// at the address and falls back to IPMI on the same host, on the
// endpoint's IPMI port (the inventory's ipmi_port; 623 when unset).
func newCollector(ep bmc.Endpoint, opts bmc.CollectorOptions) (bmc.Collector, error) {
	switch ep.Protocol {
	case bmc.ProtocolRedfish, "":
		return redfish.New(ep, opts)
	case bmc.ProtocolIPMI:
		return ipmi.New(ep, opts)
	case bmc.ProtocolAuto:
		ipmiEP := ep
		ipmiEP.Protocol = bmc.ProtocolIPMI
		ipmiEP.Address = ipmiAddress(ep)
		return bmc.NewFallbackCollector(ep.Server,
			bmc.Candidate{Protocol: bmc.ProtocolRedfish, New: func() (bmc.Collector, error) { return redfish.New(ep, opts) }},
			bmc.Candidate{Protocol: bmc.ProtocolIPMI, New: func() (bmc.Collector, error) { return ipmi.New(ipmiEP, opts) }},
		), nil
	default:
		return nil, fmt.Errorf("server %s: unknown protocol %q", ep.Server, ep.Protocol)
	}
}

// ipmiAddress is where protocol auto speaks IPMI: the address's host, on
// the endpoint's IPMI port when one is set (else the IPMI collector's
// default, 623).
func ipmiAddress(ep bmc.Endpoint) string {
	host := hostOf(ep.Address)
	if ep.IPMIPort == 0 {
		return host
	}
	return net.JoinHostPort(host, strconv.Itoa(ep.IPMIPort))
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
