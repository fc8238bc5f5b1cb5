package power

import (
	"strings"
	"testing"

	"github.com/rackpulse/rackpulse/bmc"
)

func psu(bay string, capacity float64, mods ...func(*bmc.PSU)) bmc.PSU {
	p := bmc.PSU{Chassis: "1", Bay: bay, Name: "PS" + bay, State: "Enabled", Health: bmc.HealthOK, LineInputStatus: "Normal"}
	if capacity > 0 {
		p.CapacityWatts = ptr(capacity)
	}
	for _, m := range mods {
		m(&p)
	}
	return p
}

func known(w float64) Reading { return Reading{Known: true, Watts: w} }

func TestPSURedundancy(t *testing.T) {
	tests := []struct {
		name        string
		psus        []bmc.PSU
		load        Reading
		want        Redundancy
		wantPresent int
		wantWorking int
		wantReason  string
	}{
		{
			name: "two healthy supplies carrying the load with one lost",
			psus: []bmc.PSU{psu("1", 800), psu("2", 800)},
			load: known(412), want: RedundancyRedundant, wantPresent: 2, wantWorking: 2,
		},
		{
			// DMTF public-rackmount1: bay 1 Warning with a
			// PowerSupplyPredictiveFailure condition, bay 2 Absent.
			name: "one supply present, failure predicted",
			psus: []bmc.PSU{
				psu("1", 400, func(p *bmc.PSU) { p.Health, p.FailurePredicted = bmc.HealthWarning, true }),
				{Chassis: "1", Bay: "2", State: "Absent"},
			},
			load: known(344), want: RedundancyLost, wantPresent: 1, wantWorking: 1, wantReason: "1 of 1 PSUs working",
		},
		{
			name: "input lost on one of two",
			psus: []bmc.PSU{psu("1", 800), psu("2", 800, func(p *bmc.PSU) { p.LineInputStatus, p.Health = "LossOfInput", bmc.HealthCritical })},
			load: known(412), want: RedundancyLost, wantPresent: 2, wantWorking: 1, wantReason: "PSU 2 input LossOfInput",
		},
		{
			name: "one of three failed, the other two still N+1",
			psus: []bmc.PSU{psu("1", 800), psu("2", 800), psu("3", 800, func(p *bmc.PSU) { p.Health = bmc.HealthCritical })},
			load: known(600), want: RedundancyDegraded, wantPresent: 3, wantWorking: 2, wantReason: "PSU 3 Critical",
		},
		{
			name: "failure predicted on one of two",
			psus: []bmc.PSU{psu("1", 1100, func(p *bmc.PSU) { p.FailurePredicted = true }), psu("2", 1100)},
			load: known(412), want: RedundancyDegraded, wantPresent: 2, wantWorking: 2, wantReason: "failure predicted",
		},
		{
			name: "load above what one supply carries",
			psus: []bmc.PSU{psu("1", 550), psu("2", 550)},
			load: known(700), want: RedundancyLost, wantPresent: 2, wantWorking: 2, wantReason: "exceeds the 550 W left",
		},
		{
			name: "ratings unknown: redundant, capacity not checked",
			psus: []bmc.PSU{psu("1", 0), psu("2", 0)},
			load: known(700), want: RedundancyRedundant, wantPresent: 2, wantWorking: 2, wantReason: "not checked",
		},
		{
			name: "supply unavailable offline",
			psus: []bmc.PSU{psu("1", 800), psu("2", 800, func(p *bmc.PSU) { p.State = "UnavailableOffline" })},
			load: known(300), want: RedundancyLost, wantPresent: 2, wantWorking: 1,
		},
		{
			name: "no PSU data",
			load: known(300), want: RedundancyUnknown, wantReason: "no PSU data",
		},
		{
			name: "every bay empty",
			psus: []bmc.PSU{{Chassis: "1", Bay: "1", State: "Absent"}, {Chassis: "1", Bay: "2", State: "Absent"}},
			load: known(300), want: RedundancyUnknown,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := PSURedundancy(&bmc.Snapshot{PSUs: tt.psus}, tt.load)
			if got.Redundancy != tt.want || got.Present != tt.wantPresent || got.Working != tt.wantWorking {
				t.Errorf("got %+v, want %s with %d present, %d working", got, tt.want, tt.wantPresent, tt.wantWorking)
			}
			if !strings.Contains(got.Reason, tt.wantReason) {
				t.Errorf("Reason = %q, want it to hold %q", got.Reason, tt.wantReason)
			}
		})
	}
}

func TestPSURedundancyWorstChassisWins(t *testing.T) {
	snap := &bmc.Snapshot{PSUs: []bmc.PSU{
		psu("1", 2000), psu("2", 2000),
		func() bmc.PSU { p := psu("1", 800); p.Chassis = "Expansion"; return p }(),
	}}
	load := Reading{Known: true, Watts: 900, Parts: []Part{{Chassis: "1", Watts: 700}, {Chassis: "Expansion", Watts: 200}}}
	got := PSURedundancy(snap, load)
	if got.Redundancy != RedundancyLost || !strings.HasPrefix(got.Reason, "chassis Expansion:") || got.Present != 3 {
		t.Errorf("got %+v, want lost from chassis Expansion with 3 present", got)
	}
}

// The BMC's own redundancy groups are judged too; the worse verdict stands.
func TestPSURedundancyPublishedGroups(t *testing.T) {
	group := func(mods ...func(*bmc.RedundancyGroup)) []bmc.RedundancyGroup {
		g := bmc.RedundancyGroup{Chassis: "1", Mode: "N+m", MinNeeded: 2, MaxSupported: 2, Bays: []string{"1", "2"}, Health: bmc.HealthOK, State: "Enabled"}
		for _, m := range mods {
			m(&g)
		}
		return []bmc.RedundancyGroup{g}
	}
	critical := func(p *bmc.PSU) { p.Health = bmc.HealthCritical }
	for _, tc := range []struct {
		name       string
		psus       []bmc.PSU
		groups     []bmc.RedundancyGroup
		want       Redundancy
		wantReason string
	}{
		{"group agrees: redundant", []bmc.PSU{psu("1", 800), psu("2", 800)}, group(), RedundancyRedundant, ""},
		{"group Warning degrades healthy supplies", []bmc.PSU{psu("1", 800), psu("2", 800)},
			group(func(g *bmc.RedundancyGroup) { g.Health = bmc.HealthWarning }), RedundancyDegraded, "is Warning"},
		{"group Critical", []bmc.PSU{psu("1", 800), psu("2", 800)},
			group(func(g *bmc.RedundancyGroup) { g.Health = bmc.HealthCritical }), RedundancyLost, "is Critical"},
		{"configured NotRedundant", []bmc.PSU{psu("1", 800), psu("2", 800)},
			group(func(g *bmc.RedundancyGroup) { g.Mode = "NotRedundant" }), RedundancyLost, "NotRedundant"},
		// MinNumNeeded is what the group needs to still be redundant
		// (Redfish Redundancy schema): 2 of 2 working with 2 needed is
		// redundant, as BMCs publish for a 1+1 pair.
		{"two of two working, two needed: redundant", []bmc.PSU{psu("1", 800), psu("2", 800)}, group(), RedundancyRedundant, "2 PSUs working"},
		{"three supplies, three needed, one failed", []bmc.PSU{psu("1", 800), psu("2", 800), psu("3", 800, critical)},
			group(func(g *bmc.RedundancyGroup) { g.MinNeeded, g.MaxSupported, g.Bays = 3, 3, []string{"1", "2", "3"} }), RedundancyLost, "2 of 3 members working, 3 needed"},
		{"three supplies, two needed, one failed: still redundant", []bmc.PSU{psu("1", 400), psu("2", 400), psu("3", 400, critical)},
			group(func(g *bmc.RedundancyGroup) { g.MinNeeded, g.MaxSupported, g.Bays = 2, 3, []string{"1", "2", "3"} }), RedundancyDegraded, "PSU 3 Critical"},
		{"a redundant group does not hide a failed supply", []bmc.PSU{psu("1", 800), psu("2", 800, critical)}, group(), RedundancyLost, "1 of 2 PSUs working"},
		{"group of another chassis is not consulted", []bmc.PSU{psu("1", 800), psu("2", 800)},
			group(func(g *bmc.RedundancyGroup) { g.Chassis, g.Health = "2", bmc.HealthCritical }), RedundancyRedundant, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			snap := &bmc.Snapshot{PSUs: tc.psus, RedundancyGroups: tc.groups}
			got := PSURedundancy(snap, known(400))
			if got.Redundancy != tc.want || !strings.Contains(got.Reason, tc.wantReason) {
				t.Errorf("PSURedundancy = %s (%s); want %s with reason containing %q", got.Redundancy, got.Reason, tc.want, tc.wantReason)
			}
		})
	}
}
