package rollup

import (
	"testing"
	"time"
)

func TestComputeFromRacks(t *testing.T) {
	e := NewEngine(testInventory(), Options{Interval: 30 * time.Second})
	// The rack pollers' last stored totals.
	polled := e.Compute(now, fleet())
	stored := map[string]RackTotals{}
	for _, r := range polled.Racks {
		stored[r.Name] = RackTotals{Time: now, Totals: r.Totals}
	}
	// r13's poller went quiet five minutes ago; r21's never wrote.
	r13 := stored["r13"]
	r13.Time = now.Add(-5 * time.Minute)
	stored["r13"] = r13
	delete(stored, "r21")

	res := e.ComputeFromRacks(now.Add(30*time.Second), stored, 0)
	if !res.FromRacks || len(res.Servers) != 0 {
		t.Errorf("FromRacks %v with %d servers, want true and none", res.FromRacks, len(res.Servers))
	}
	tests := []struct {
		name                     string
		node                     *Node
		silent                   bool
		watts, estimated, budget float64
		servers, reporting, not  int
		silentRacks              int
		bmcCritical              int
	}{
		{"r12", mustRack(t, res, "r12"), false, 900, 450, 2000, 4, 2, 2, 0, 2},
		{"r13", mustRack(t, res, "r13"), true, 0, 300, 0, 2, 0, 2, 1, 0},
		{"r21", mustRack(t, res, "r21"), true, 0, 0, 3000, 2, 0, 2, 1, 0},
		{"site", &res.Site, false, 900, 750, 5000, 8, 2, 6, 2, 2},
	}
	for _, tt := range tests {
		n := tt.node
		if n.Silent != tt.silent || n.Watts != tt.watts || n.EstimatedWatts != tt.estimated || n.BudgetWatts != tt.budget ||
			n.Servers != tt.servers || n.Reporting != tt.reporting || n.NotLive != tt.not || n.SilentRacks != tt.silentRacks ||
			n.Faults.Count(ComponentBMC, SeverityCritical) != tt.bmcCritical {
			t.Errorf("%s: got silent %v, %g W, est %g W, budget %g, servers %d/%d reporting, %d not live, %d silent racks, %d BMC critical",
				tt.name, n.Silent, n.Watts, n.EstimatedWatts, n.BudgetWatts, n.Servers, n.Reporting, n.NotLive, n.SilentRacks,
				n.Faults.Count(ComponentBMC, SeverityCritical))
		}
	}
	if got := res.Site.UtilizationPct; !approx(got, 100*900.0/5000) {
		t.Errorf("site utilization = %g%%, want %g%%: silent racks' budgets count, their watts do not", got, 100*900.0/5000)
	}
	// The same engine rolls up servers again afterwards.
	if again := e.Compute(now, fleet()); len(again.Servers) != 8 || again.Site.Watts != 4400 {
		t.Errorf("Compute after ComputeFromRacks: %d servers, %g W", len(again.Servers), again.Site.Watts)
	}
}

func mustRack(t *testing.T, res *Result, name string) *Node {
	t.Helper()
	n, ok := res.Rack(name)
	if !ok {
		t.Fatalf("rack %s missing", name)
	}
	return n
}

// The site role sees only stored rack totals: their PSU redundancy counts
// are summed into rows, rooms and the site, and a rack whose totals are
// older than the freshness window counts nothing (its servers are not
// live, so no verdict of theirs is current).
func TestComputeFromRacksSumsStoredRedundancyCounts(t *testing.T) {
	e := NewEngine(testInventory(), Options{Interval: 30 * time.Second})
	totals := func(at time.Time, lost, degraded, notRedundant int) RackTotals {
		return RackTotals{Time: at, Totals: Totals{Servers: 2, Reporting: 2, Watts: 600,
			RedundancyLost: lost, RedundancyDegraded: degraded, RedundancyNotRedundant: notRedundant}}
	}
	stored := map[string]RackTotals{
		"r12": totals(now, 1, 2, 1),
		"r13": totals(now, 0, 1, 1),
		"r21": totals(now, 2, 0, 1),
	}
	res := e.ComputeFromRacks(now.Add(10*time.Second), stored, 0)
	for _, tt := range []struct {
		name string
		node *Node
		want redundancyCounts
	}{
		{"rack r12", mustRack(t, res, "r12"), redundancyCounts{1, 2, 1}},
		{"rack r13", mustRack(t, res, "r13"), redundancyCounts{0, 1, 1}},
		{"rack r21", mustRack(t, res, "r21"), redundancyCounts{2, 0, 1}},
		{"row-a", mustRow(t, res, "hall-1", "row-a"), redundancyCounts{1, 3, 2}},
		{"row-b", mustRow(t, res, "hall-1", "row-b"), redundancyCounts{2, 0, 1}},
		{"hall-1", mustRoom(t, res, "hall-1"), redundancyCounts{3, 3, 3}},
		{"site", &res.Site, redundancyCounts{3, 3, 3}},
	} {
		if got := countsOf(tt.node); got != tt.want {
			t.Errorf("%s: lost/degraded/not_redundant %+v, want %+v", tt.name, got, tt.want)
		}
	}

	// r21's poller falls silent: its counts leave row-b, the room and the
	// site; the next rollup from fresh totals counts afresh.
	stored["r21"] = totals(now.Add(-5*time.Minute), 2, 0, 1)
	res = e.ComputeFromRacks(now.Add(10*time.Second), stored, 0)
	if got := countsOf(mustRack(t, res, "r21")); got != (redundancyCounts{}) {
		t.Errorf("silent rack r21: %+v, want none counted", got)
	}
	if got, want := countsOf(mustRow(t, res, "hall-1", "row-b")), (redundancyCounts{}); got != want {
		t.Errorf("row-b with r21 silent: %+v, want %+v", got, want)
	}
	if got, want := countsOf(&res.Site), (redundancyCounts{1, 3, 2}); got != want {
		t.Errorf("site with r21 silent: %+v, want %+v", got, want)
	}
}

func mustRow(t *testing.T, res *Result, room, row string) *Node {
	t.Helper()
	n, ok := res.Row(room, row)
	if !ok {
		t.Fatalf("row %s/%s missing", room, row)
	}
	return n
}

func mustRoom(t *testing.T, res *Result, name string) *Node {
	t.Helper()
	n, ok := res.Room(name)
	if !ok {
		t.Fatalf("room %s missing", name)
	}
	return n
}
