package rollup

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/rackpulse/rackpulse/bmc"
	"github.com/rackpulse/rackpulse/inventory"
)

var mutNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// mutInventory is one room, one row, two racks: ra (budget given) with
// servers a1, a2, a3 and rb with server b1.
func mutInventory(budgetA, budgetB float64) *inventory.Inventory {
	return &inventory.Inventory{Site: "s", Rooms: []inventory.Room{{
		Name: "room",
		Rows: []inventory.Row{{Name: "row", Racks: []inventory.Rack{
			{Name: "ra", PowerBudgetWatts: budgetA, Servers: []inventory.Server{{Name: "a1", Position: 1}, {Name: "a2", Position: 3}, {Name: "a3", Position: 5}}},
			{Name: "rb", PowerBudgetWatts: budgetB, Servers: []inventory.Server{{Name: "b1", Position: 1}}},
		}}},
	}}}
}

// mutSnapshot is a powered-on server reading watts through PowerControl,
// with the DIMMs given.
func mutSnapshot(watts float64, dimms ...bmc.DIMM) *bmc.Snapshot {
	s := &bmc.Snapshot{
		Systems: []bmc.System{{ID: "1", PowerState: "On"}},
		DIMMs:   dimms,
	}
	if watts >= 0 {
		s.Power = []bmc.PowerReading{{Chassis: "1", Source: bmc.PowerFromPowerControl, Watts: watts}}
	}
	return s
}

func mutState(at time.Time, snap *bmc.Snapshot, err error) ServerState {
	var st ServerState
	st.Observe(at, snap, err)
	return st
}

func mutRack(t *testing.T, r *Result, name string) *Node {
	t.Helper()
	n, ok := r.Rack(name)
	if !ok {
		t.Fatalf("no rack %s", name)
	}
	return n
}

func TestDefaultFreshnessIsThreeIntervals(t *testing.T) {
	if got := NewEngine(mutInventory(0, 0), Options{}).Options(); got.Interval != 30*time.Second || got.Freshness != 90*time.Second {
		t.Errorf("defaults = %+v, want 30s interval, 90s freshness", got)
	}
	if got := NewEngine(mutInventory(0, 0), Options{Interval: 10 * time.Second}).Options(); got.Freshness != 30*time.Second {
		t.Errorf("freshness for a 10s interval = %v, want 30s", got.Freshness)
	}
	if got := NewEngine(mutInventory(0, 0), Options{Interval: 10 * time.Second, Freshness: 7 * time.Second}).Options(); got.Freshness != 7*time.Second {
		t.Errorf("freshness given 7s = %v, want 7s", got.Freshness)
	}
}

// A good poll exactly one freshness window old still counts as live; one
// nanosecond older does not.
func TestComputeFreshnessBoundaryIsInclusive(t *testing.T) {
	e := NewEngine(mutInventory(0, 0), Options{Interval: 10 * time.Second})
	at := mutNow.Add(-30 * time.Second)
	states := map[string]ServerState{"a1": mutState(at, mutSnapshot(250), nil)}
	r := e.Compute(mutNow, states)
	s, _ := r.Server("a1")
	if s.Status != StatusLive || s.Watts != 250 {
		t.Errorf("at the window's edge: %+v, want live with 250 W", s)
	}
	r = e.Compute(mutNow.Add(time.Nanosecond), states)
	s, _ = r.Server("a1")
	if s.Status != StatusStale || s.EstimatedWatts != 250 {
		t.Errorf("past the window: %+v, want stale with 250 W estimated", s)
	}
}

// A server that publishes no power reading at all has nothing set aside.
func TestComputeServerWithoutReadingsHasNothingSetAside(t *testing.T) {
	e := NewEngine(mutInventory(0, 0), Options{})
	r := e.Compute(mutNow, map[string]ServerState{"a1": mutState(mutNow, mutSnapshot(-1), nil)})
	s, _ := r.Server("a1")
	if s.Status != StatusLive || s.PowerKnown || s.PowerSetAside != "" {
		t.Errorf("server = %+v, want live, no power, nothing set aside", s)
	}
	if ra := mutRack(t, r, "ra"); ra.NoReading != 1 || ra.Reporting != 0 {
		t.Errorf("rack ra = %+v, want one live server without reading", ra.Totals)
	}
}

// A poll that returned a snapshot with a part error is a good poll: its
// error is no BMC fault. A later failed poll is.
func TestComputePartErrorOfAGoodPollIsNoBMCFault(t *testing.T) {
	e := NewEngine(mutInventory(0, 0), Options{})
	st := mutState(mutNow, mutSnapshot(300), errors.New("part dimms: 500"))
	r := e.Compute(mutNow, map[string]ServerState{"a1": st})
	s, _ := r.Server("a1")
	if n := s.Faults.Count(ComponentBMC, SeverityWarning); n != 0 {
		t.Errorf("BMC warnings after a good poll with a part error = %d, want 0", n)
	}
	st.Observe(mutNow.Add(10*time.Second), nil, errors.New("timeout"))
	r = e.Compute(mutNow.Add(10*time.Second), map[string]ServerState{"a1": st})
	s, _ = r.Server("a1")
	if n := s.Faults.Count(ComponentBMC, SeverityWarning); n != 1 || s.Status != StatusLive {
		t.Errorf("after a failed poll: status %v, BMC warnings %d, want live and 1", s.Status, n)
	}
}

// A new snapshot's faults replace the previous snapshot's.
func TestComputeFaultsFollowANewSnapshot(t *testing.T) {
	e := NewEngine(mutInventory(0, 0), Options{})
	bad := mutSnapshot(300, bmc.DIMM{Slot: "A1", State: "Enabled", Health: bmc.HealthCritical})
	r := e.Compute(mutNow, map[string]ServerState{"a1": mutState(mutNow, bad, nil)})
	s, _ := r.Server("a1")
	if n := s.Faults.Count(ComponentDIMM, SeverityCritical); n != 1 {
		t.Fatalf("critical DIMMs = %d, want 1", n)
	}
	good := mutSnapshot(300, bmc.DIMM{Slot: "A1", State: "Enabled", Health: bmc.HealthOK})
	later := mutNow.Add(10 * time.Second)
	r = e.Compute(later, map[string]ServerState{"a1": mutState(later, good, nil)})
	s, _ = r.Server("a1")
	if n := s.Faults.Count(ComponentDIMM, SeverityCritical); n != 0 {
		t.Errorf("critical DIMMs after the DIMM recovered = %d, want 0", n)
	}
}

// A rack at exactly its budget is not over it; a rack with a negative
// budget has none.
func TestRackAtItsBudgetAndNegativeBudget(t *testing.T) {
	e := NewEngine(mutInventory(1000, -500), Options{})
	r := e.Compute(mutNow, map[string]ServerState{
		"a1": mutState(mutNow, mutSnapshot(600), nil),
		"a2": mutState(mutNow, mutSnapshot(400), nil),
		"b1": mutState(mutNow, mutSnapshot(200), nil),
	})
	ra := mutRack(t, r, "ra")
	if ra.Watts != 1000 || ra.RacksOverBudget != 0 || ra.UtilizationPct != 100 {
		t.Errorf("ra = %+v, want 1000 W, 100%%, not over budget", ra.Totals)
	}
	rb := mutRack(t, r, "rb")
	if rb.BudgetWatts != 0 || rb.UnbudgetedRacks != 1 || rb.UtilizationPct != 0 {
		t.Errorf("rb = %+v, want no budget", rb.Totals)
	}
	if r.Site.BudgetWatts != 1000 || r.Site.UtilizationPct != 100 {
		t.Errorf("site budget %g W at %g%%, want 1000 W at 100%%", r.Site.BudgetWatts, r.Site.UtilizationPct)
	}
}

func TestComputeFromRacksFreshnessBoundaryIsInclusive(t *testing.T) {
	e := NewEngine(mutInventory(0, 0), Options{})
	edge := mutNow.Add(-time.Minute)
	racks := map[string]RackTotals{
		"ra": {Time: edge, Totals: Totals{Watts: 900, Servers: 3, Reporting: 3}},
		"rb": {Time: edge, Totals: Totals{Watts: math.NaN(), Servers: 1, Reporting: 1}},
	}
	r := e.ComputeFromRacks(mutNow, racks, time.Minute)
	ra := mutRack(t, r, "ra")
	if ra.Silent || ra.Watts != 900 || ra.Reporting != 3 {
		t.Errorf("ra at the window's edge = %+v (silent %v), want 900 W from 3 reporting", ra.Totals, ra.Silent)
	}
	rb := mutRack(t, r, "rb")
	if rb.Silent || rb.SetAside == "" || rb.NotLive != 1 {
		t.Errorf("rb at the window's edge = %+v (silent %v, set aside %q), want set aside, not silent", rb.Totals, rb.Silent, rb.SetAside)
	}
}

// A silent rack's estimate is its last measured and last estimated watts.
func TestComputeFromRacksSilentRackEstimateAddsBoth(t *testing.T) {
	e := NewEngine(mutInventory(0, 0), Options{})
	racks := map[string]RackTotals{
		"ra": {Time: mutNow.Add(-time.Hour), Totals: Totals{Watts: 1000, EstimatedWatts: 200, Servers: 3, Reporting: 2, NotLive: 1}},
	}
	r := e.ComputeFromRacks(mutNow, racks, time.Minute)
	ra := mutRack(t, r, "ra")
	if !ra.Silent || ra.Watts != 0 || ra.EstimatedWatts != 1200 || ra.NotLive != 3 {
		t.Errorf("ra = %+v (silent %v), want silent, 0 W, 1200 W estimated, 3 not live", ra.Totals, ra.Silent)
	}
	if r.Site.EstimatedWatts != 1200 || r.Site.SilentRacks != 2 {
		t.Errorf("site = %+v, want 1200 W estimated and both racks silent", r.Site.Totals)
	}
}

// Stored totals that count more servers than the inventory now holds never
// make NotLive negative.
func TestComputeFromRacksMoreStoredServersThanInventory(t *testing.T) {
	e := NewEngine(mutInventory(0, 0), Options{})
	racks := map[string]RackTotals{
		"ra": {Time: mutNow, Totals: Totals{Watts: 1500, Servers: 5, Reporting: 4, NoReading: 1}},
	}
	r := e.ComputeFromRacks(mutNow, racks, time.Minute)
	ra := mutRack(t, r, "ra")
	if ra.Servers != 3 || ra.NotLive != 0 || ra.Watts != 1500 {
		t.Errorf("ra = %+v, want 3 servers, 0 not live, 1500 W", ra.Totals)
	}
}

// Negative stored watts are not a rack's power.
func TestComputeFromRacksNegativeWattsAreSetAside(t *testing.T) {
	for _, tot := range []Totals{{Watts: -5, Servers: 3, Reporting: 3}, {Watts: 10, EstimatedWatts: -1, Servers: 3, Reporting: 3}} {
		e := NewEngine(mutInventory(0, 0), Options{})
		r := e.ComputeFromRacks(mutNow, map[string]RackTotals{"ra": {Time: mutNow, Totals: tot}}, time.Minute)
		ra := mutRack(t, r, "ra")
		if ra.SetAside == "" || ra.Watts != 0 || ra.EstimatedWatts != 0 || ra.Reporting != 0 || ra.NotLive != 3 {
			t.Errorf("stored %+v: ra = %+v (set aside %q), want set aside with nothing summed", tot, ra.Totals, ra.SetAside)
		}
	}
}

// A rollup from racks has no servers to look up.
func TestComputeFromRacksHasNoServers(t *testing.T) {
	e := NewEngine(mutInventory(0, 0), Options{})
	r := e.ComputeFromRacks(mutNow, nil, time.Minute)
	if s, ok := r.Server("a1"); ok || s != nil {
		t.Errorf("Server(a1) = %v, %v; want none", s, ok)
	}
}

func TestCoverageWithoutServersIsFull(t *testing.T) {
	var tot Totals
	if got := tot.Coverage(); got != 1 {
		t.Errorf("coverage of no servers = %g, want 1", got)
	}
	tot = Totals{Servers: 4, Reporting: 3}
	if got := tot.Coverage(); got != 0.75 {
		t.Errorf("coverage 3 of 4 = %g, want 0.75", got)
	}
}

func TestFaultsCountOutOfRangeIsZero(t *testing.T) {
	var f Faults
	f.Set(ComponentBMC, SeverityCritical, 2)
	if got := f.Count(ComponentBMC, SeverityCritical); got != 2 {
		t.Errorf("BMC critical = %d, want 2", got)
	}
	if got := f.Count(numComponents, SeverityWarning); got != 0 {
		t.Errorf("count of a component past the last = %d, want 0", got)
	}
	if got := f.Count(ComponentDIMM, numSeverities); got != 0 {
		t.Errorf("count of a severity past the last = %d, want 0", got)
	}
	f.Set(numComponents, SeverityWarning, 1) // ignored, no panic
}
