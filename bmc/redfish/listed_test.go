package redfish

import (
	"sync"
	"testing"
	"time"

	"github.com/rackpulse/rackpulse/bmc"
	"github.com/rackpulse/rackpulse/bmc/sim"
)

// On a service that lists bare links (no $expand), the Systems and Chassis
// collections are listed on the slow cadence, not every poll: the polls in
// between fetch the members they know; a member that fails makes the next
// poll list the collection again.
func TestSystemsAndChassisListedOnTheSlowCadence(t *testing.T) {
	_, ep := simFleetBMC(t, sim.ProfileLegacy)
	ep.Cadence = bmc.Cadence{Readings: 30 * time.Second, Slow: 5 * time.Minute, Static: time.Hour}
	var mu sync.Mutex
	var gets []string
	opts := bmcOpts(t)
	opts.Trace = func(tr bmc.RequestTrace) {
		mu.Lock()
		gets = append(gets, tr.URL)
		mu.Unlock()
	}
	c, clock := newCollector(t, ep, opts)
	listings := func() (n int) {
		mu.Lock()
		defer mu.Unlock()
		for _, u := range gets {
			if u == "/redfish/v1/Systems" || u == "/redfish/v1/Chassis" || u == "/redfish/v1/Systems?$expand=.($levels=1)" || u == "/redfish/v1/Chassis?$expand=.($levels=1)" {
				n++
			}
		}
		gets = nil
		return n
	}
	first := mustPoll(t, c)
	if n := listings(); n != 2 {
		t.Fatalf("first poll listed the collections %d times, want Systems and Chassis once each", n)
	}
	for i := range 4 {
		clock.advance(ep.Cadence.Readings)
		snap := mustPoll(t, c)
		if n := listings(); n != 0 {
			t.Errorf("poll %d listed the collections %d times, want none within the slow cadence", i+2, n)
		}
		if len(snap.Systems) != len(first.Systems) || len(snap.Chassis) != len(first.Chassis) || !snap.Poll.OK() {
			t.Errorf("poll %d: %d systems, %d chassis, errors %+v; want the first poll's %d and %d",
				i+2, len(snap.Systems), len(snap.Chassis), snap.Poll.Errors, len(first.Systems), len(first.Chassis))
		}
	}
	clock.advance(ep.Cadence.Slow)
	mustPoll(t, c)
	if n := listings(); n != 2 {
		t.Errorf("a slow cadence later the collections were listed %d times, want 2", n)
	}
}
