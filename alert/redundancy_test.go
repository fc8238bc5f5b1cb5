package alert

import (
	"slices"
	"strings"
	"testing"

	"github.com/rackpulse/rackpulse/bmc"
)

// PSURedundancyLost fires on the lost verdict only: a failure took away
// redundancy the server had. A configuration without redundancy
// (not_redundant) never raises it, whatever else is wrong.
func TestPSURedundancyLostFiresOnLostOnly(t *testing.T) {
	failover := func(s *bmc.Snapshot, mods ...func(*bmc.RedundancyGroup)) {
		g := bmc.RedundancyGroup{Chassis: "1", Name: "PowerSupply Redundancy Group 1", Mode: "Failover", MinNeeded: 2, MaxSupported: 2,
			Bays: []string{"1", "2"}, Health: bmc.HealthOK, State: "Enabled"}
		for _, m := range mods {
			m(&g)
		}
		s.RedundancyGroups = []bmc.RedundancyGroup{g}
	}
	for _, tc := range []struct {
		name  string
		setup func(s *bmc.Snapshot)
		want  []string // firing, sorted
	}{
		{"a healthy 1+1 pair whose group needs 2", func(s *bmc.Snapshot) { failover(s) }, nil},
		{"a hot spare beside the active supply", func(s *bmc.Snapshot) { s.PSUs[1].State = "StandbySpare"; failover(s) }, nil},
		{"one supply of two lost its input", func(s *bmc.Snapshot) {
			s.PSUs[1].LineInputStatus, s.PSUs[1].Health, s.PSUs[1].InputWatts = "LossOfInput", bmc.HealthCritical, ptr(0.0)
			failover(s, func(g *bmc.RedundancyGroup) { g.Health = bmc.HealthWarning })
		}, []string{"PSUFailed critical 2", "PSURedundancyLost warning"}},
		{"a single supply", func(s *bmc.Snapshot) { s.PSUs = s.PSUs[:1] }, nil},
		{"a single supply in a two-bay group the BMC is content with", func(s *bmc.Snapshot) {
			s.PSUs[1] = bmc.PSU{Chassis: "1", Bay: "2", State: "Absent"}
			failover(s)
		}, nil},
		// The BMC says the group lost a member it needs: believed,
		// though only one supply is in its bay now.
		{"a single supply in a two-bay group the BMC warns about", func(s *bmc.Snapshot) {
			s.PSUs[1] = bmc.PSU{Chassis: "1", Bay: "2", State: "Absent"}
			failover(s, func(g *bmc.RedundancyGroup) { g.Health = bmc.HealthWarning })
		}, []string{"PSURedundancyLost warning"}},
		{"a group configured NotRedundant, one supply failed", func(s *bmc.Snapshot) {
			s.PSUs[1].Health = bmc.HealthCritical
			failover(s, func(g *bmc.RedundancyGroup) { g.Mode = "NotRedundant" })
		}, []string{"PSUFailed critical 2"}},
		{"supplies too small for the load to be redundant", func(s *bmc.Snapshot) {
			s.Power[0].Watts = 1000 // two 800 W supplies
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Options{})
			s := healthy("r12-u03", h.now)
			tc.setup(s)
			h.poll("r12-u03", s, nil)
			got := h.firing()
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("firing %v, want %v", got, tc.want)
			}
		})
	}
}

// A lost redundancy resolves when the supply works again, and its
// summary says why it fired.
func TestPSURedundancyLostResolves(t *testing.T) {
	h := newHarness(t, Options{})
	s := healthy("r12-u03", h.now)
	s.PSUs[0].State, s.PSUs[0].Health = "UnavailableOffline", bmc.HealthCritical
	h.poll("r12-u03", s, nil)
	a := h.alert("PSURedundancyLost")
	if !strings.Contains(a.Annotations.Summary, "1 of 2 PSUs working: PSU 1") {
		t.Errorf("summary %q; want it to say which supply took redundancy away", a.Annotations.Summary)
	}
	h.changes()
	h.poll("r12-u03", healthy("r12-u03", h.now), nil)
	got := h.changes()
	slices.Sort(got)
	if want := []string{"PSUFailed critical resolved 1", "PSURedundancyLost warning resolved"}; !slices.Equal(got, want) {
		t.Errorf("recovery: %v, want %v", got, want)
	}
}
