package main

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/rackpulse/rackpulse/bmc"
	"github.com/rackpulse/rackpulse/bmc/sim"
)

// protocol auto with an ipmi_port: the fallback speaks IPMI on that port
// of the address's host (here a simulated IPMI BMC on a free port), and
// keeps to it.
func TestAutoFallsBackToIPMIOnItsPort(t *testing.T) {
	fleet, err := sim.StartOnFreePorts(context.Background(), sim.FleetOptions{
		Count: 1, Mix: []sim.ProfileShare{{Profile: sim.ProfileIPMI, Weight: 1}},
		OutDir: t.TempDir(), Username: "admin", Password: "auto-password",
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fleet.Close() })
	_, portStr, err := net.SplitHostPort(fleet.BMCs()[0].URL())
	if err != nil {
		t.Fatal(err)
	}
	ipmiPort, _ := strconv.Atoi(portStr)

	// A TCP port with nothing listening: the Redfish attempt is refused.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().(*net.TCPAddr).Port
	ln.Close()

	ep := bmc.Endpoint{
		Server: "auto-2", Protocol: bmc.ProtocolAuto, Address: "https://127.0.0.1:" + strconv.Itoa(closed), IPMIPort: ipmiPort,
		Username: "admin", Password: bmc.Secret("auto-password"), RequestTimeout: 2 * time.Second, PollTimeout: 20 * time.Second,
	}.WithDefaults()
	c, err := newCollector(ep, bmc.CollectorOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	for i := range 2 {
		snap, err := c.Poll(t.Context())
		if err != nil {
			t.Fatalf("poll %d: %v", i, err)
		}
		if snap.Protocol != bmc.ProtocolIPMI || len(snap.Sensors) == 0 {
			t.Fatalf("poll %d: protocol %q, %d sensors; want IPMI readings", i, snap.Protocol, len(snap.Sensors))
		}
	}
	if fb, ok := c.(*bmc.FallbackCollector); !ok || fb.Protocol() != bmc.ProtocolIPMI {
		t.Errorf("auto collector settled on %v, want ipmi", c)
	}
	if n := fleet.BMCs()[0].IPMI().ActiveSessions(); n != 1 {
		t.Errorf("the IPMI BMC on port %d holds %d sessions, want the collector's", ipmiPort, n)
	}
}

func TestIPMIAddressOfAuto(t *testing.T) {
	for _, tc := range []struct {
		address string
		port    int
		want    string
	}{
		{"10.0.12.1", 0, "10.0.12.1"},
		{"https://10.0.12.1:8443", 0, "10.0.12.1"},
		{"https://10.0.12.1:8443", 6230, "10.0.12.1:6230"},
		{"bmc-3.example.net:443", 16230, "bmc-3.example.net:16230"},
		{"https://[fd00::17]:8443", 6230, "[fd00::17]:6230"},
		{"[fd00::17]:8443", 0, "fd00::17"},
	} {
		if got := ipmiAddress(bmc.Endpoint{Address: tc.address, IPMIPort: tc.port}); got != tc.want {
			t.Errorf("%s with IPMI port %d: %q, want %q", tc.address, tc.port, got, tc.want)
		}
	}
}
