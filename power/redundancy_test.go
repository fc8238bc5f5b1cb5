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

func absent(bay string) bmc.PSU { return bmc.PSU{Chassis: "1", Bay: bay, State: "Absent"} }

var (
	critical      = func(p *bmc.PSU) { p.Health = bmc.HealthCritical }
	inputLost     = func(p *bmc.PSU) { p.LineInputStatus, p.Health = "LossOfInput", bmc.HealthCritical }
	standbySpare  = func(p *bmc.PSU) { p.State = "StandbySpare" }
	predictsFault = func(p *bmc.PSU) { p.Health, p.FailurePredicted = bmc.HealthWarning, true }
)

// The verdicts from the supplies alone (no BMC redundancy group).
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
			load: known(412), want: RedundancyRedundant, wantPresent: 2, wantWorking: 2, wantReason: "2 PSUs working",
		},
		{
			// DMTF public-rackmount1: bay 1 Warning with a
			// PowerSupplyPredictiveFailure condition, bay 2 Absent.
			name: "one supply present, the other bay empty: a configuration",
			psus: []bmc.PSU{psu("1", 400, predictsFault), absent("2")},
			load: known(344), want: RedundancyNotRedundant, wantPresent: 1, wantWorking: 1,
			wantReason: "a single PSU present (PSU 2 empty), not redundant: PSU 1 failure predicted",
		},
		{
			name: "a server built with one supply",
			psus: []bmc.PSU{psu("1", 400)},
			load: known(200), want: RedundancyNotRedundant, wantPresent: 1, wantWorking: 1, wantReason: "a single PSU present, not redundant",
		},
		{
			name: "a single supply that failed is still a configuration without redundancy",
			psus: []bmc.PSU{psu("1", 400, critical)},
			load: known(200), want: RedundancyNotRedundant, wantPresent: 1, wantWorking: 0, wantReason: "PSU 1 Critical",
		},
		{
			name: "input lost on one of two",
			psus: []bmc.PSU{psu("1", 800), psu("2", 800, inputLost)},
			load: known(412), want: RedundancyLost, wantPresent: 2, wantWorking: 1, wantReason: "1 of 2 PSUs working: PSU 2 input LossOfInput",
		},
		{
			name: "both of two failed",
			psus: []bmc.PSU{psu("1", 800, critical), psu("2", 800, critical)},
			load: known(412), want: RedundancyLost, wantPresent: 2, wantWorking: 0, wantReason: "0 of 2 PSUs working",
		},
		{
			name: "supply unavailable offline",
			psus: []bmc.PSU{psu("1", 800), psu("2", 800, func(p *bmc.PSU) { p.State = "UnavailableOffline" })},
			load: known(300), want: RedundancyLost, wantPresent: 2, wantWorking: 1, wantReason: "PSU 2 UnavailableOffline",
		},
		{
			name: "one of three failed, the other two still N+1",
			psus: []bmc.PSU{psu("1", 800), psu("2", 800), psu("3", 800, critical)},
			load: known(600), want: RedundancyDegraded, wantPresent: 3, wantWorking: 2, wantReason: "PSU 3 Critical",
		},
		{
			name: "one of three failed, the two left cannot lose another",
			psus: []bmc.PSU{psu("1", 800), psu("2", 800), psu("3", 800, critical)},
			load: known(1000), want: RedundancyLost, wantPresent: 3, wantWorking: 2,
			wantReason: "PSU 3 Critical: load 1000 W exceeds the 800 W the 2 PSUs left would carry after losing one more",
		},
		{
			name: "failure predicted on one of two",
			psus: []bmc.PSU{psu("1", 1100, func(p *bmc.PSU) { p.FailurePredicted = true }), psu("2", 1100)},
			load: known(412), want: RedundancyDegraded, wantPresent: 2, wantWorking: 2, wantReason: "PSU 1 failure predicted",
		},
		{
			name: "a supply Degraded but delivering",
			psus: []bmc.PSU{psu("1", 1100, func(p *bmc.PSU) { p.State = "Degraded" }), psu("2", 1100)},
			load: known(412), want: RedundancyDegraded, wantPresent: 2, wantWorking: 2, wantReason: "PSU 1 Degraded",
		},
		{
			// Nothing failed: the supplies are too small for the load
			// to be redundant. A sizing matter, not a loss.
			name: "load above what one supply carries",
			psus: []bmc.PSU{psu("1", 550), psu("2", 550)},
			load: known(700), want: RedundancyNotRedundant, wantPresent: 2, wantWorking: 2, wantReason: "load 700 W exceeds the 550 W left after losing one PSU",
		},
		{
			name: "ratings unknown: redundant, capacity not checked",
			psus: []bmc.PSU{psu("1", 0), psu("2", 0)},
			load: known(700), want: RedundancyRedundant, wantPresent: 2, wantWorking: 2, wantReason: "not checked",
		},
		{
			name: "load unknown: redundant, capacity not checked",
			psus: []bmc.PSU{psu("1", 550), psu("2", 550)},
			want: RedundancyRedundant, wantPresent: 2, wantWorking: 2, wantReason: "not checked",
		},
		{
			// A hot spare stands ready to take over: it is working.
			name: "one supply enabled, the other a hot spare",
			psus: []bmc.PSU{psu("1", 800), psu("2", 800, standbySpare)},
			load: known(412), want: RedundancyRedundant, wantPresent: 2, wantWorking: 2, wantReason: "2 PSUs working",
		},
		{
			name: "the active supply failed, the spare carries the load alone",
			psus: []bmc.PSU{psu("1", 800, critical), psu("2", 800, standbySpare)},
			load: known(412), want: RedundancyLost, wantPresent: 2, wantWorking: 1, wantReason: "1 of 2 PSUs working: PSU 1 Critical",
		},
		{
			name: "no PSU data",
			load: known(300), want: RedundancyUnknown, wantReason: "no PSU data",
		},
		{
			name: "every bay empty",
			psus: []bmc.PSU{absent("1"), absent("2")},
			load: known(300), want: RedundancyUnknown, wantReason: "no PSU present",
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

// StandbySpare counts as working wherever working is counted: in the
// supplies' own judgement and in a BMC group's members.
func TestStandbySpareIsWorking(t *testing.T) {
	spare := psu("2", 800, standbySpare)
	if !Present(&spare) || !Working(&spare) {
		t.Fatalf("a StandbySpare supply: present %v, working %v; want both", Present(&spare), Working(&spare))
	}
	snap := &bmc.Snapshot{
		PSUs: []bmc.PSU{psu("1", 800), spare},
		RedundancyGroups: []bmc.RedundancyGroup{{Chassis: "1", Name: "PS Redundancy", Mode: "Failover", MinNeeded: 2, MaxSupported: 2,
			Bays: []string{"1", "2"}, Health: bmc.HealthOK, State: "Enabled"}},
	}
	if got := PSURedundancy(snap, known(412)); got.Redundancy != RedundancyRedundant || got.Working != 2 {
		t.Errorf("Enabled + StandbySpare with 2 needed: %+v; want redundant, 2 working", got)
	}
	snap.RedundancyGroups = nil
	if got := PSURedundancy(snap, known(412)); got.Redundancy != RedundancyRedundant || !strings.Contains(got.Reason, "PSU 2 a hot spare") {
		t.Errorf("supplies only: %+v; want redundant, the reason naming the spare", got)
	}
}

// The server's verdict is its worst chassis's, and not_redundant never
// masks a failure in another chassis.
func TestPSURedundancyWorstChassisWins(t *testing.T) {
	expansion := func(mods ...func(*bmc.PSU)) bmc.PSU {
		p := psu("1", 800, mods...)
		p.Chassis = "Expansion"
		return p
	}
	load := Reading{Known: true, Watts: 900, Parts: []Part{{Chassis: "1", Watts: 700}, {Chassis: "Expansion", Watts: 200}}}
	for _, tc := range []struct {
		name       string
		psus       []bmc.PSU
		want       Redundancy
		wantReason string
	}{
		{"a single-supply chassis beside a redundant one", []bmc.PSU{psu("1", 2000), psu("2", 2000), expansion()},
			RedundancyNotRedundant, "chassis Expansion: a single PSU present"},
		{"a lost chassis beside a single-supply one", []bmc.PSU{psu("1", 2000), psu("2", 2000, inputLost), expansion()},
			RedundancyLost, "chassis 1: 1 of 2 PSUs working"},
		{"a degraded chassis beside a single-supply one", []bmc.PSU{psu("1", 2000), psu("2", 2000, predictsFault), expansion()},
			RedundancyDegraded, "chassis 1: PSU 2 failure predicted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := PSURedundancy(&bmc.Snapshot{PSUs: tc.psus}, load)
			if got.Redundancy != tc.want || !strings.HasPrefix(got.Reason, tc.wantReason) || got.Present != len(tc.psus) {
				t.Errorf("got %+v; want %s, reason starting %q, %d present", got, tc.want, tc.wantReason, len(tc.psus))
			}
		})
	}
}

func TestRedundancyRanks(t *testing.T) {
	all := Redundancies()
	for i := range all {
		for j := range all {
			if got, want := all[i].Worse(all[j]), i > j; got != want {
				t.Errorf("%s.Worse(%s) = %v, want %v", all[i], all[j], got, want)
			}
		}
	}
	if RedundancyNotRedundant.Worse(RedundancyLost) || RedundancyNotRedundant.Worse(RedundancyDegraded) {
		t.Error("not_redundant must rank below degraded and lost")
	}
}

// The BMC's own redundancy groups are judged too; the worst verdict
// stands, except that a group configured NotRedundant makes its chassis
// not_redundant.
func TestPSURedundancyPublishedGroups(t *testing.T) {
	group := func(mods ...func(*bmc.RedundancyGroup)) bmc.RedundancyGroup {
		g := bmc.RedundancyGroup{Chassis: "1", Mode: "N+m", MinNeeded: 2, MaxSupported: 2, Bays: []string{"1", "2"}, Health: bmc.HealthOK, State: "Enabled"}
		for _, m := range mods {
			m(&g)
		}
		return g
	}
	three := func(needed int) func(*bmc.RedundancyGroup) {
		return func(g *bmc.RedundancyGroup) { g.MinNeeded, g.MaxSupported, g.Bays = needed, 3, []string{"1", "2", "3"} }
	}
	for _, tc := range []struct {
		name       string
		psus       []bmc.PSU
		groups     []bmc.RedundancyGroup
		want       Redundancy
		wantReason string
	}{
		{"group agrees: redundant", []bmc.PSU{psu("1", 800), psu("2", 800)}, []bmc.RedundancyGroup{group()}, RedundancyRedundant, "2 PSUs working"},
		// MinNumNeeded is what the group needs to still be redundant
		// (Redfish Redundancy schema): 2 of 2 working with 2 needed is
		// redundant, as BMCs publish for a 1+1 pair.
		{"two of two working, two needed", []bmc.PSU{psu("1", 800), psu("2", 800)}, []bmc.RedundancyGroup{group()}, RedundancyRedundant, ""},
		{"one of two working, two needed", []bmc.PSU{psu("1", 800), psu("2", 800, inputLost)}, []bmc.RedundancyGroup{group()}, RedundancyLost, "1 of 2 PSUs working: PSU 2 input LossOfInput"},
		{"two of two working, one needed (DMTF mockups' 1+1 pair)", []bmc.PSU{psu("1", 800), psu("2", 800)},
			[]bmc.RedundancyGroup{group(func(g *bmc.RedundancyGroup) { g.MinNeeded = 1 })}, RedundancyRedundant, ""},
		{"one of two working, one needed: the supplies tell the loss", []bmc.PSU{psu("1", 800), psu("2", 800, critical)},
			[]bmc.RedundancyGroup{group(func(g *bmc.RedundancyGroup) { g.MinNeeded = 1 })}, RedundancyLost, "1 of 2 PSUs working: PSU 2 Critical"},
		{"three supplies, three needed, one failed", []bmc.PSU{psu("1", 800), psu("2", 800), psu("3", 800, critical)},
			[]bmc.RedundancyGroup{group(three(3))}, RedundancyLost, "2 of 3 members working, 3 needed to be redundant: PSU 3 Critical"},
		{"three supplies, two needed, one failed: still redundant", []bmc.PSU{psu("1", 400), psu("2", 400), psu("3", 400, critical)},
			[]bmc.RedundancyGroup{group(three(2))}, RedundancyDegraded, "PSU 3 Critical"},
		{"group Warning degrades healthy supplies", []bmc.PSU{psu("1", 800), psu("2", 800)},
			[]bmc.RedundancyGroup{group(func(g *bmc.RedundancyGroup) { g.Health = bmc.HealthWarning })}, RedundancyDegraded, "is Warning"},
		{"group Critical", []bmc.PSU{psu("1", 800), psu("2", 800)},
			[]bmc.RedundancyGroup{group(func(g *bmc.RedundancyGroup) { g.Health = bmc.HealthCritical })}, RedundancyLost, "is Critical"},
		{"a redundant group does not hide a failed supply", []bmc.PSU{psu("1", 800), psu("2", 800, critical)},
			[]bmc.RedundancyGroup{group(func(g *bmc.RedundancyGroup) { g.MinNeeded = 0 })}, RedundancyLost, "1 of 2 PSUs working"},
		{"RedundancyEnabled false", []bmc.PSU{psu("1", 800), psu("2", 800)},
			[]bmc.RedundancyGroup{group(func(g *bmc.RedundancyGroup) { off := false; g.Enabled = &off })}, RedundancyNotRedundant, "has redundancy Disabled"},
		{"RedundancyEnabled true changes nothing", []bmc.PSU{psu("1", 800), psu("2", 800)},
			[]bmc.RedundancyGroup{group(func(g *bmc.RedundancyGroup) { on := true; g.Enabled = &on })}, RedundancyRedundant, ""},
		{"configured NotRedundant (Redundancy.Mode)", []bmc.PSU{psu("1", 800), psu("2", 800)},
			[]bmc.RedundancyGroup{group(func(g *bmc.RedundancyGroup) { g.Mode = "NotRedundant" })}, RedundancyNotRedundant, "is configured NotRedundant"},
		{"configured NotRedundant (RedundantGroup.RedundancyType), a supply failed", []bmc.PSU{psu("1", 800), psu("2", 800, inputLost)},
			[]bmc.RedundancyGroup{group(func(g *bmc.RedundancyGroup) { g.Mode, g.MinNeeded = "NotRedundant", 1 })}, RedundancyNotRedundant,
			"is configured NotRedundant; PSU 2 input LossOfInput"},
		{"redundancy Disabled (Status.State)", []bmc.PSU{psu("1", 800), psu("2", 800)},
			[]bmc.RedundancyGroup{group(func(g *bmc.RedundancyGroup) { g.State = "Disabled" })}, RedundancyNotRedundant, "has redundancy Disabled"},
		{"a NotRedundant group of some supplies does not mask a lost group of others",
			[]bmc.PSU{psu("1", 800), psu("2", 800), psu("3", 800), psu("4", 800, critical)},
			[]bmc.RedundancyGroup{
				group(func(g *bmc.RedundancyGroup) { g.Mode = "NotRedundant" }),
				group(func(g *bmc.RedundancyGroup) { g.Bays = []string{"3", "4"} }),
			}, RedundancyLost, "2 members working, 2 needed to be redundant: PSU 4 Critical"},
		{"group offline with both supplies working", []bmc.PSU{psu("1", 800), psu("2", 800)},
			[]bmc.RedundancyGroup{group(func(g *bmc.RedundancyGroup) { g.State = "UnavailableOffline" })}, RedundancyNotRedundant, "is UnavailableOffline"},
		{"group offline and a supply Disabled: a failure", []bmc.PSU{psu("1", 800), psu("2", 800, func(p *bmc.PSU) { p.State, p.Health = "Disabled", bmc.HealthWarning })},
			[]bmc.RedundancyGroup{group(func(g *bmc.RedundancyGroup) { g.MinNeeded, g.State = 1, "Offline" })}, RedundancyLost, "1 of 2 PSUs working: PSU 2 Disabled"},
		// DMTF public-rackmount1: MinNeededInGroup 1, bay 2 Absent, the
		// group UnavailableOffline.
		{"one supply in a two-bay group, one needed", []bmc.PSU{psu("1", 400, predictsFault), absent("2")},
			[]bmc.RedundancyGroup{group(func(g *bmc.RedundancyGroup) { g.Mode, g.MinNeeded, g.State = "Failover", 1, "UnavailableOffline" })},
			RedundancyNotRedundant, "a single PSU present (PSU 2 empty)"},
		{"one supply in a two-bay group, two needed, the BMC content", []bmc.PSU{psu("1", 800), absent("2")},
			[]bmc.RedundancyGroup{group()}, RedundancyNotRedundant, "a single PSU present"},
		{"one supply in a two-bay group, two needed, the BMC warning", []bmc.PSU{psu("1", 800), absent("2")},
			[]bmc.RedundancyGroup{group(func(g *bmc.RedundancyGroup) { g.Health = bmc.HealthWarning })}, RedundancyLost, "1 of 2 members working, 2 needed to be redundant"},
		{"members the collector could not name are not counted", []bmc.PSU{psu("1", 800), psu("2", 800)},
			[]bmc.RedundancyGroup{group(func(g *bmc.RedundancyGroup) { g.Bays = []string{} })}, RedundancyRedundant, "2 PSUs working"},
		{"group of another chassis is not consulted", []bmc.PSU{psu("1", 800), psu("2", 800)},
			[]bmc.RedundancyGroup{group(func(g *bmc.RedundancyGroup) { g.Chassis, g.Health = "2", bmc.HealthCritical })}, RedundancyRedundant, ""},
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

// An HPE iLO 5 legacy Power resource for a 1+1 pair, as the collector
// reads it: "PowerSupply Redundancy Group 1", Mode Failover,
// MinNumNeeded 2, MaxNumSupported 2, RedundancySet the two supplies
// (MemberId 0 and 1), Status Enabled/OK. Two healthy supplies are
// redundant (issue 10: it read "2 of 2 members working, 2 needed" as lost).
func TestPSURedundancyILOFailoverPair(t *testing.T) {
	ilo := func(mods ...func(*bmc.PSU)) *bmc.Snapshot {
		supply := func(bay string) bmc.PSU {
			return bmc.PSU{Chassis: "1", Bay: bay, Name: "HpeServerPowerSupply", Model: "865414-B21", State: "Enabled", Health: bmc.HealthOK,
				CapacityWatts: ptr(800), InputVolts: ptr(206), Source: "/redfish/v1/Chassis/1/Power/#PowerSupplies/" + bay}
		}
		s := &bmc.Snapshot{
			PSUs: []bmc.PSU{supply("0"), supply("1")},
			RedundancyGroups: []bmc.RedundancyGroup{{Chassis: "1", Name: "PowerSupply Redundancy Group 1", Mode: "Failover",
				MinNeeded: 2, MaxSupported: 2, Bays: []string{"0", "1"}, Health: bmc.HealthOK, State: "Enabled"}},
		}
		for _, m := range mods {
			m(&s.PSUs[1])
		}
		return s
	}
	got := PSURedundancy(ilo(), known(296))
	if got.Redundancy != RedundancyRedundant || got.Present != 2 || got.Working != 2 {
		t.Errorf("two healthy iLO supplies, 2 needed: %+v; want redundant, 2 of 2 working", got)
	}
	failed := ilo(inputLost)
	failed.RedundancyGroups[0].Health = bmc.HealthWarning
	if got := PSURedundancy(failed, known(296)); got.Redundancy != RedundancyLost || !strings.Contains(got.Reason, "PSU 1 input LossOfInput") {
		t.Errorf("one iLO supply without input: %+v; want lost naming PSU 1", got)
	}
}
