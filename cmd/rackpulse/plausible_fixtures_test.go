package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rackpulse/rackpulse/bmc"
	"github.com/rackpulse/rackpulse/bmc/sim"
)

// The plausibility bounds set aside nothing a real BMC publishes: every
// Redfish fixture tree (the DMTF mockups and the vendor captures) and every
// simulator profile (Redfish and IPMI) polls with no reading set aside.
func TestPlausibilityBoundsKeepEveryRealReading(t *testing.T) {
	base := filepath.Dir(fixturesDir(t))
	for _, set := range []string{"redfish", "redfish-vendor"} {
		entries, err := os.ReadDir(filepath.Join(base, set))
		if err != nil {
			if set == "redfish-vendor" && os.IsNotExist(err) && os.Getenv("RACKPULSE_REQUIRE_INTEGRATION") != "1" {
				continue
			}
			t.Fatal(err)
		}
		for _, e := range entries {
			if !e.IsDir() {
				continue
			}
			t.Run(set+"/"+e.Name(), func(t *testing.T) {
				tree, err := sim.LoadMockup(filepath.Join(base, set, e.Name()))
				if err != nil {
					t.Fatal(err)
				}
				c := treeCollector(t, e.Name(), tree)
				ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
				defer cancel()
				snap, err := c.Poll(ctx)
				if err != nil {
					t.Skipf("the tree cannot be polled as a server: %v", err)
				}
				checkNothingSetAside(t, snap)
			})
		}
	}

	mix, err := sim.ParseMix("modern=1,legacy=1,ipmi=1")
	if err != nil {
		t.Fatal(err)
	}
	_, invPath := startSimFleet(t, sim.FleetOptions{Count: 6, Mix: mix})
	_, collectors := collectorsOf(t, invPath)
	for server, c := range collectors {
		t.Run("sim/"+server, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			snap, err := c.Poll(ctx)
			if err != nil {
				t.Fatalf("poll: %v", err)
			}
			checkNothingSetAside(t, snap)
		})
	}
}

func checkNothingSetAside(t *testing.T, snap *bmc.Snapshot) {
	t.Helper()
	before := len(snap.Poll.Quirks)
	if n := bmc.SetAsideImplausible(snap); n != 0 {
		t.Errorf("%d readings set aside: %+v", n, snap.Poll.Quirks[before:])
	}
}
