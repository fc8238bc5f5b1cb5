package rollup

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/rackpulse/rackpulse/bmc"
	"github.com/rackpulse/rackpulse/power"
)

// One server's absurd power never reaches a sum: it is set aside with its
// reason (live or stale), and every other server, rack, row, room and the
// site still add up and encode.
func TestAbsurdServerPowerIsSetAsideOthersStillSum(t *testing.T) {
	e := NewEngine(testInventory(), Options{Interval: 30 * time.Second})
	states := map[string]ServerState{
		"r12-u01": observed("r12-u01", now, rackmount("r12-u01", 400)),
		"r12-u03": observed("r12-u03", now, rackmount("r12-u03", 8e307)),
		"r12-u05": observed("r12-u05", now, rackmount("r12-u05", math.Inf(1))),
		"r21-u01": observed("r21-u01", now, rackmount("r21-u01", 500)),
	}
	// A state whose reading got past the power model (a caller that
	// builds one by hand) is refused all the same, live or stale.
	forged := observed("r13-u01", now, rackmount("r13-u01", 300))
	forged.Power = power.Reading{Known: true, Watts: 1.6e308, Source: bmc.PowerFromPSUInput}
	states["r13-u01"] = forged
	stale := observed("r13-u03", now.Add(-time.Hour), rackmount("r13-u03", 300))
	stale.Power = power.Reading{Known: true, Watts: math.NaN()}
	states["r13-u03"] = stale

	res := e.Compute(now, states)
	for _, tc := range []struct {
		server string
		known  bool
		reason string
	}{
		{"r12-u01", true, ""},
		{"r12-u03", false, "no usable power reading: PowerControl: not a reading: 8e+307 W above the plausible maximum 250000 W"},
		{"r12-u05", false, "no usable power reading: PowerControl: not a reading: +Inf W is not a number"},
		{"r13-u01", false, "power 1.6e+308 W above the plausible maximum 250000 W"},
		{"r13-u03", false, "power NaN W is not a number"},
	} {
		s, _ := res.Server(tc.server)
		if s.PowerKnown != tc.known || s.PowerSetAside != tc.reason || s.EstimatedWatts != 0 && tc.reason != "" {
			t.Errorf("%s: known %t, set aside %q, estimate %g; want known %t, %q", tc.server, s.PowerKnown, s.PowerSetAside, s.EstimatedWatts, tc.known, tc.reason)
		}
	}
	for _, tc := range []struct {
		node  *Node
		watts float64
	}{
		{mustRack(t, res, "r12"), 400}, {mustRack(t, res, "r13"), 0}, {mustRack(t, res, "r21"), 500},
		{&res.Rows[0], 400}, {&res.Site, 900},
	} {
		if tc.node.Watts != tc.watts || !bmc.Finite(tc.node.UtilizationPct) {
			t.Errorf("%s: %g W (utilization %g); want %g W", tc.node.Name, tc.node.Watts, tc.node.UtilizationPct, tc.watts)
		}
	}
	if r12 := mustRack(t, res, "r12"); r12.Reporting != 1 || r12.NoReading != 2 {
		t.Errorf("r12 reporting %d, no reading %d; want 1 and the two absurd servers live without a reading", r12.Reporting, r12.NoReading)
	}
	if _, err := json.Marshal(res); err != nil {
		t.Errorf("the rollup does not encode: %v", err)
	}
}

// A rack budget that is not a number is no budget.
func TestBudgetThatIsNotANumberIsNone(t *testing.T) {
	inv := testInventory()
	inv.Rooms[0].Rows[0].Racks[0].PowerBudgetWatts = math.Inf(1)
	inv.Rooms[0].Rows[1].Racks[0].PowerBudgetWatts = math.NaN()
	res := NewEngine(inv, Options{}).Compute(now, map[string]ServerState{"r12-u01": observed("r12-u01", now, rackmount("r12-u01", 400))})
	if r12 := mustRack(t, res, "r12"); r12.BudgetWatts != 0 || r12.UnbudgetedRacks != 1 || res.Site.BudgetWatts != 0 {
		t.Errorf("r12 budget %g (unbudgeted %d), site %g; want none", r12.BudgetWatts, r12.UnbudgetedRacks, res.Site.BudgetWatts)
	}
	if _, err := json.Marshal(res); err != nil {
		t.Errorf("the rollup does not encode: %v", err)
	}
}

// Fresh stored rack totals that are not numbers are set aside with the
// reason; the other racks still sum.
func TestStoredRackTotalsThatAreNotNumbersAreSetAside(t *testing.T) {
	e := NewEngine(testInventory(), Options{Interval: 30 * time.Second})
	stored := map[string]RackTotals{
		"r12": {Time: now, Totals: Totals{Watts: math.Inf(1), Reporting: 4, Servers: 4}},
		"r13": {Time: now, Totals: Totals{Watts: 600, EstimatedWatts: math.NaN(), Reporting: 2, Servers: 2}},
		"r21": {Time: now, Totals: Totals{Watts: 700, Reporting: 2, Servers: 2}},
	}
	res := e.ComputeFromRacks(now, stored, 0)
	r12, r13 := mustRack(t, res, "r12"), mustRack(t, res, "r13")
	if !strings.Contains(r12.SetAside, "stored watts +Inf") || r12.Watts != 0 || r12.NotLive != 4 || r12.Reporting != 0 {
		t.Errorf("r12 = %+v; want set aside for its +Inf watts, its servers not live", r12)
	}
	if !strings.Contains(r13.SetAside, "stored estimated_watts NaN") || r13.Watts != 0 {
		t.Errorf("r13 = %+v; want set aside for its NaN estimate", r13)
	}
	if res.Site.Watts != 700 || res.Site.Reporting != 2 {
		t.Errorf("site %g W, %d reporting; want r21's 700 W and 2 servers", res.Site.Watts, res.Site.Reporting)
	}
	if _, err := json.Marshal(res); err != nil {
		t.Errorf("the rollup does not encode: %v", err)
	}
}

// A stored rack total beyond any rack's power (8e307 W: a float that is
// finite, so no decode error) is set aside like one that is not a number;
// the other racks still sum.
func TestStoredRackTotalsBeyondAnyRackAreSetAside(t *testing.T) {
	e := NewEngine(mutInventory(0, 0), Options{})
	stored := map[string]RackTotals{
		"ra": {Time: mutNow, Totals: Totals{Watts: 8e307, Servers: 3, Reporting: 3}},
	}
	r := e.ComputeFromRacks(mutNow, stored, time.Minute)
	ra := mutRack(t, r, "ra")
	if ra.SetAside == "" || ra.Watts != 0 {
		t.Fatalf("stored 8e307 W: ra = %+v (set aside %q), want set aside", ra.Totals, ra.SetAside)
	}
	if r.Site.Watts != 0 {
		t.Errorf("site watts %v with the only rack set aside, want 0", r.Site.Watts)
	}
	stored["ra"] = RackTotals{Time: mutNow, Totals: Totals{Watts: 1_500_000, Servers: 3, Reporting: 3}}
	if ra := mutRack(t, e.ComputeFromRacks(mutNow, stored, time.Minute), "ra"); ra.SetAside != "" || ra.Watts != 1_500_000 {
		t.Errorf("a 1.5 MW rack (within the bound) = %+v, set aside %q", ra.Totals, ra.SetAside)
	}
}
