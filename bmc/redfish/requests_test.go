package redfish

import (
	"testing"

	"github.com/rackpulse/rackpulse/bmc/sim"
)

// RequestsTotal counts every request the BMC got from the collector,
// session setup and logout included, across polls: the simulator's own
// count agrees.
func TestRequestsTotalMatchesTheBMCsCount(t *testing.T) {
	b, ep := simBMC(t, loadMockup(t, "public-rackmount1"), sim.RedfishOptions{})
	c, clock := newCollector(t, ep, bmcOpts(t))
	var fromPolls int64
	for range 3 {
		snap := mustPoll(t, c)
		fromPolls += int64(snap.Poll.Requests)
		clock.advance(ep.Cadence.Readings)
	}
	if got, want := c.RequestsTotal(), b.Requests(); got != want || got == 0 {
		t.Errorf("RequestsTotal %d, the BMC served %d", got, want)
	}
	if c.RequestsTotal() < fromPolls {
		t.Errorf("RequestsTotal %d is below the polls' own counts %d", c.RequestsTotal(), fromPolls)
	}
}
