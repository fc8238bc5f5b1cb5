package redfish

import (
	"os"
	"testing"

	"github.com/rackpulse/rackpulse/bmc/sim"
)

// TestInteropEveryMockup polls every DMTF mockup served by the simulator and
// checks that a snapshot comes back with its systems or chassis.
func TestInteropEveryMockup(t *testing.T) {
	dir := fixturesDir(t)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		n++
		t.Run(e.Name(), func(t *testing.T) {
			_, ep := simBMC(t, loadMockup(t, e.Name()), sim.RedfishOptions{})
			c, _ := newCollector(t, ep, bmcOpts(t))
			snap := mustPoll(t, c)
			if len(snap.Systems)+len(snap.Chassis) == 0 {
				t.Fatalf("no systems and no chassis read; errors: %+v", snap.Poll.Errors)
			}
			if snap.Poll.Requests == 0 || snap.Poll.Bytes == 0 {
				t.Errorf("poll report counts %d requests, %d bytes", snap.Poll.Requests, snap.Poll.Bytes)
			}
			t.Logf("%s: %d systems, %d chassis, %d sensors, %d PSUs, %d power readings, %d DIMMs, %d CPUs, %d drives; %d requests; errors %+v",
				e.Name(), len(snap.Systems), len(snap.Chassis), len(snap.Sensors), len(snap.PSUs), len(snap.Power),
				len(snap.DIMMs), len(snap.CPUs), len(snap.Drives), snap.Poll.Requests, snap.Poll.Errors)
		})
	}
	if n == 0 {
		t.Fatalf("no mockups under %s", dir)
	}
}
