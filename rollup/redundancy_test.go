package rollup

import (
	"strings"
	"testing"
	"time"

	"github.com/rackpulse/rackpulse/bmc"
	"github.com/rackpulse/rackpulse/power"
)

// redundancyFleet gives each server of the test inventory a snapshot whose
// PSU redundancy verdict is known, one of them stale.
func redundancyFleet() (map[string]ServerState, map[string]power.Redundancy) {
	lost := func(name string) *bmc.Snapshot {
		s := rackmount(name, 400)
		s.PSUs[1].LineInputStatus, s.PSUs[1].Health = "LossOfInput", bmc.HealthCritical
		return s
	}
	single := func(name string) *bmc.Snapshot {
		s := rackmount(name, 300)
		s.PSUs = s.PSUs[:1]
		return s
	}
	degraded := rackmount("r13-u01", 300)
	degraded.PSUs[1].FailurePredicted = true
	noPSUs := rackmount("r21-u03", 300)
	noPSUs.PSUs = nil

	recent := now.Add(-20 * time.Second)
	states := map[string]ServerState{
		"r12-u01": observed("r12-u01", recent, rackmount("r12-u01", 400)),
		"r12-u03": observed("r12-u03", recent, lost("r12-u03")),
		"r12-u05": observed("r12-u05", recent, single("r12-u05")),
		// Lost, but its last good poll is 10 minutes old: not counted.
		"r12-u07": observed("r12-u07", now.Add(-10*time.Minute), lost("r12-u07")),
		"r13-u01": observed("r13-u01", recent, degraded),
		"r13-u03": observed("r13-u03", recent, single("r13-u03")),
		"r21-u01": observed("r21-u01", recent, lost("r21-u01")),
		"r21-u03": observed("r21-u03", recent, noPSUs),
	}
	verdicts := map[string]power.Redundancy{
		"r12-u01": power.RedundancyRedundant, "r12-u03": power.RedundancyLost, "r12-u05": power.RedundancyNotRedundant,
		"r12-u07": power.RedundancyUnknown, // stale: no current verdict
		"r13-u01": power.RedundancyDegraded, "r13-u03": power.RedundancyNotRedundant,
		"r21-u01": power.RedundancyLost, "r21-u03": power.RedundancyUnknown,
	}
	return states, verdicts
}

type redundancyCounts struct{ lost, degraded, notRedundant int }

func countsOf(n *Node) redundancyCounts {
	return redundancyCounts{n.RedundancyLost, n.RedundancyDegraded, n.RedundancyNotRedundant}
}

func TestComputeCountsPSURedundancyVerdicts(t *testing.T) {
	e := NewEngine(testInventory(), Options{Interval: 30 * time.Second})
	states, verdicts := redundancyFleet()
	res := e.Compute(now, states)

	for name, want := range verdicts {
		s, ok := res.Server(name)
		if !ok {
			t.Fatalf("no server %s", name)
		}
		if s.Redundancy != want {
			t.Errorf("%s: verdict %s (%s), want %s", name, s.Redundancy, s.RedundancyReason, want)
		}
		if s.Status == StatusLive && s.RedundancyReason == "" {
			t.Errorf("%s: a live server's verdict %s comes without its reason", name, s.Redundancy)
		}
	}
	if s, _ := res.Server("r12-u03"); !strings.Contains(s.RedundancyReason, "PSU 2 input LossOfInput") {
		t.Errorf("r12-u03 reason %q; want the supply that lost its input", s.RedundancyReason)
	}

	for _, tt := range []struct {
		name string
		node func() (*Node, bool)
		want redundancyCounts
	}{
		{"rack r12", func() (*Node, bool) { return res.Rack("r12") }, redundancyCounts{1, 0, 1}},
		{"rack r13", func() (*Node, bool) { return res.Rack("r13") }, redundancyCounts{0, 1, 1}},
		{"rack r21", func() (*Node, bool) { return res.Rack("r21") }, redundancyCounts{1, 0, 0}},
		{"row-a", func() (*Node, bool) { return res.Row("hall-1", "row-a") }, redundancyCounts{1, 1, 2}},
		{"row-b", func() (*Node, bool) { return res.Row("hall-1", "row-b") }, redundancyCounts{1, 0, 0}},
		{"hall-1", func() (*Node, bool) { return res.Room("hall-1") }, redundancyCounts{2, 1, 2}},
		{"site", func() (*Node, bool) { return &res.Site, true }, redundancyCounts{2, 1, 2}},
	} {
		n, ok := tt.node()
		if !ok {
			t.Fatalf("%s: not found", tt.name)
		}
		if got := countsOf(n); got != tt.want {
			t.Errorf("%s: lost/degraded/not_redundant %+v, want %+v", tt.name, got, tt.want)
		}
	}

	// The engine reuses its result: the next cycle counts afresh.
	healthy := map[string]ServerState{}
	for name := range states {
		healthy[name] = observed(name, now.Add(-5*time.Second), rackmount(name, 300))
	}
	if got := countsOf(&e.Compute(now, healthy).Site); got != (redundancyCounts{}) {
		t.Errorf("a healthy fleet after a faulty one: site counts %+v, want none", got)
	}
}

// The site role takes the counts from the racks' stored totals; a silent
// rack's are not counted.
func TestComputeFromRacksCountsPSURedundancy(t *testing.T) {
	e := NewEngine(testInventory(), Options{Interval: 30 * time.Second})
	states, _ := redundancyFleet()
	polled := e.Compute(now, states)
	stored := map[string]RackTotals{}
	for _, r := range polled.Racks {
		stored[r.Name] = RackTotals{Time: now, Totals: r.Totals}
	}
	r13 := stored["r13"]
	r13.Time = now.Add(-5 * time.Minute)
	stored["r13"] = r13

	res := e.ComputeFromRacks(now.Add(30*time.Second), stored, 0)
	if got, want := countsOf(mustRack(t, res, "r13")), (redundancyCounts{}); got != want {
		t.Errorf("silent rack r13: %+v, want none counted", got)
	}
	if got, want := countsOf(&res.Site), (redundancyCounts{2, 0, 1}); got != want {
		t.Errorf("site from rack totals: %+v, want %+v (r12 and r21; r13 silent)", got, want)
	}
}
