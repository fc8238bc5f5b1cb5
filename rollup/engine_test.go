package rollup

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/rackpulse/rackpulse/bmc"
	"github.com/rackpulse/rackpulse/inventory"
)

var now = time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)

func ptr(v float64) *float64 { return &v }

func testInventory() *inventory.Inventory {
	servers := func(names ...string) []inventory.Server {
		var out []inventory.Server
		for i, n := range names {
			out = append(out, inventory.Server{Name: n, Position: 1 + 2*i, Height: 2})
		}
		return out
	}
	return &inventory.Inventory{Site: "dc1", Rooms: []inventory.Room{{
		Name: "hall-1",
		Rows: []inventory.Row{
			{Name: "row-a", Racks: []inventory.Rack{
				{Name: "r12", PowerBudgetWatts: 2000, Servers: servers("r12-u01", "r12-u03", "r12-u05", "r12-u07")},
				{Name: "r13", Servers: servers("r13-u01", "r13-u03")},
			}},
			{Name: "row-b", Racks: []inventory.Rack{
				{Name: "r21", PowerBudgetWatts: 3000, Servers: servers("r21-u01", "r21-u03")},
			}},
		},
	}}}
}

// rackmount is a powered-on one-chassis server with two healthy 800 W
// supplies and a PowerControl reading.
func rackmount(name string, watts float64) *bmc.Snapshot {
	return &bmc.Snapshot{
		Server:  name,
		Time:    now,
		Systems: []bmc.System{{ID: "System.Embedded.1", PowerState: "On", Health: bmc.HealthOK}},
		Chassis: []bmc.Chassis{{ID: "System.Embedded.1", PowerState: "On"}},
		Power: []bmc.PowerReading{
			{Chassis: "System.Embedded.1", Source: bmc.PowerFromPowerControl, Watts: watts, IntervalMin: ptr(1)},
		},
		PSUs: []bmc.PSU{
			{Chassis: "System.Embedded.1", Bay: "1", State: "Enabled", Health: bmc.HealthOK, CapacityWatts: ptr(800)},
			{Chassis: "System.Embedded.1", Bay: "2", State: "Enabled", Health: bmc.HealthOK, CapacityWatts: ptr(800)},
		},
		DIMMs: []bmc.DIMM{{Slot: "A1", Health: bmc.HealthOK, State: "Enabled"}, {Slot: "B1", Health: bmc.HealthOK, State: "Enabled"}},
		CPUs:  []bmc.CPU{{Socket: "CPU1", Health: bmc.HealthOK}, {Socket: "CPU2", Health: bmc.HealthOK}},
		Sensors: []bmc.Sensor{
			{Kind: bmc.KindFan, Name: "Fan1A", Context: bmc.ContextFan, Value: ptr(7800), Unit: bmc.UnitRPM, Health: bmc.HealthOK},
			{Kind: bmc.KindTemperature, Name: "CPU1 Temp", Context: bmc.ContextCPU, Value: ptr(61), Unit: bmc.UnitCelsius, Health: bmc.HealthOK},
		},
		Drives: []bmc.Drive{{Bay: "0", Health: bmc.HealthOK, State: "Enabled"}},
	}
}

// observed is a server state after a good poll at at.
func observed(name string, at time.Time, snap *bmc.Snapshot) ServerState {
	st := ServerState{Server: name}
	st.Observe(at, snap, nil)
	return st
}

func fleet() map[string]ServerState {
	faulty := rackmount("r12-u03", 500)
	faulty.DIMMs[1].Health = bmc.HealthCritical
	faulty.Sensors[0].Health = bmc.HealthWarning
	faulty.Drives[0].FailurePredicted = true

	failedPoll := observed("r13-u03", now.Add(-40*time.Second), rackmount("r13-u03", 300))
	failedPoll.LastAttempt = now.Add(-10 * time.Second)
	failedPoll.LastErr = &bmc.Error{Kind: bmc.ErrKindTimeout, Err: errors.New("context deadline exceeded")}

	noPower := rackmount("r13-u01", 0)
	noPower.Power = []bmc.PowerReading{}

	neverGood := ServerState{Server: "r12-u07"}
	neverGood.Observe(now.Add(-20*time.Second), nil, &bmc.Error{Kind: bmc.ErrKindUnreachable, Err: errors.New("no route to host")})

	return map[string]ServerState{
		"r12-u01": observed("r12-u01", now.Add(-20*time.Second), rackmount("r12-u01", 400)),
		"r12-u03": observed("r12-u03", now.Add(-20*time.Second), faulty),
		// Last good poll 10 minutes ago: stale, its 450 W only an estimate.
		"r12-u05": observed("r12-u05", now.Add(-10*time.Minute), rackmount("r12-u05", 450)),
		"r12-u07": neverGood,
		"r13-u01": observed("r13-u01", now.Add(-20*time.Second), noPower),
		"r13-u03": failedPoll,
		"r21-u01": observed("r21-u01", now.Add(-5*time.Second), rackmount("r21-u01", 2600)),
		"r21-u03": observed("r21-u03", now.Add(-5*time.Second), rackmount("r21-u03", 600)),
	}
}

func TestCompute(t *testing.T) {
	e := NewEngine(testInventory(), Options{Interval: 30 * time.Second})
	res := e.Compute(now, fleet())

	type want struct {
		watts, estimated, budget, util   float64
		servers, reporting, noRead, stal int
		overBudget, unbudgeted           int
	}
	nodes := []struct {
		name string
		node func() (*Node, bool)
		want want
	}{
		{"rack r12", func() (*Node, bool) { return res.Rack("r12") }, want{900, 450, 2000, 45, 4, 2, 0, 2, 0, 0}},
		{"rack r13", func() (*Node, bool) { return res.Rack("r13") }, want{300, 0, 0, 0, 2, 1, 1, 0, 0, 1}},
		{"rack r21", func() (*Node, bool) { return res.Rack("r21") }, want{3200, 0, 3000, 100 * 3200.0 / 3000, 2, 2, 0, 0, 1, 0}},
		{"row-a", func() (*Node, bool) { return res.Row("hall-1", "row-a") }, want{1200, 450, 2000, 45, 6, 3, 1, 2, 0, 1}},
		{"row-b", func() (*Node, bool) { return res.Row("hall-1", "row-b") }, want{3200, 0, 3000, 100 * 3200.0 / 3000, 2, 2, 0, 0, 1, 0}},
		{"hall-1", func() (*Node, bool) { return res.Room("hall-1") }, want{4400, 450, 5000, 100 * 4100.0 / 5000, 8, 5, 1, 2, 1, 1}},
		{"site", func() (*Node, bool) { return &res.Site, true }, want{4400, 450, 5000, 100 * 4100.0 / 5000, 8, 5, 1, 2, 1, 1}},
	}
	for _, tt := range nodes {
		n, ok := tt.node()
		if !ok {
			t.Fatalf("%s: not found", tt.name)
		}
		got := want{n.Watts, n.EstimatedWatts, n.BudgetWatts, n.UtilizationPct, n.Servers, n.Reporting, n.NoReading, n.NotLive, n.RacksOverBudget, n.UnbudgetedRacks}
		// Utilization is kept to hundredths of a percent.
		if math.Abs(got.util-tt.want.util) > 0.005 {
			t.Errorf("%s: utilization %g, want %g", tt.name, got.util, tt.want.util)
		}
		got.util = tt.want.util
		if got != tt.want {
			t.Errorf("%s:\n got %+v\nwant %+v", tt.name, got, tt.want)
		}
		if n.Servers != n.Reporting+n.NoReading+n.NotLive {
			t.Errorf("%s: %d servers but %d+%d+%d counted", tt.name, n.Servers, n.Reporting, n.NoReading, n.NotLive)
		}
	}
	r12, _ := res.Rack("r12")
	if c := r12.Coverage(); c != 0.5 {
		t.Errorf("r12 coverage = %g, want 0.5", c)
	}
	statuses := map[string]Status{"r12-u01": StatusLive, "r12-u05": StatusStale, "r12-u07": StatusStale, "r13-u01": StatusLive}
	for name, want := range statuses {
		if s, _ := res.Server(name); s.Status != want {
			t.Errorf("%s status = %s, want %s", name, s.Status, want)
		}
	}
}

func TestRackWattsAreTheSumOfItsLiveServers(t *testing.T) {
	e := NewEngine(testInventory(), Options{})
	res := e.Compute(now, fleet())
	sums := map[string]float64{}
	for _, s := range res.Servers {
		if s.Status == StatusLive && s.PowerKnown {
			sums[s.Rack] += s.Watts
		} else if s.Watts != 0 {
			t.Errorf("%s is %s but has %g W", s.Name, s.Status, s.Watts)
		}
	}
	for _, rack := range res.Racks {
		if !approx(rack.Watts, sums[rack.Name]) {
			t.Errorf("rack %s: %g W, live servers sum to %g W", rack.Name, rack.Watts, sums[rack.Name])
		}
	}
}

func TestComputeCountsFaultsByComponentAndSeverity(t *testing.T) {
	e := NewEngine(testInventory(), Options{})
	res := e.Compute(now, fleet())
	r12, _ := res.Rack("r12")
	r13, _ := res.Rack("r13")
	tests := []struct {
		node string
		f    *Faults
		c    Component
		s    Severity
		want int
	}{
		{"r12", &r12.Faults, ComponentDIMM, SeverityCritical, 1},
		{"r12", &r12.Faults, ComponentDIMM, SeverityWarning, 0},
		{"r12", &r12.Faults, ComponentFan, SeverityWarning, 1},
		{"r12", &r12.Faults, ComponentDrive, SeverityWarning, 1},
		// r12-u05 is stale and r12-u07 never answered.
		{"r12", &r12.Faults, ComponentBMC, SeverityCritical, 2},
		{"r12", &r12.Faults, ComponentPSU, SeverityCritical, 0},
		// r13-u03's last poll timed out, its previous one is still fresh.
		{"r13", &r13.Faults, ComponentBMC, SeverityWarning, 1},
		{"r13", &r13.Faults, ComponentBMC, SeverityCritical, 0},
		{"site", &res.Site.Faults, ComponentBMC, SeverityCritical, 2},
		{"site", &res.Site.Faults, ComponentDIMM, SeverityCritical, 1},
	}
	for _, tt := range tests {
		if got := tt.f.Count(tt.c, tt.s); got != tt.want {
			t.Errorf("%s %s %s = %d, want %d", tt.node, tt.c, tt.s, got, tt.want)
		}
	}
	if got := res.Site.Faults.Total(SeverityCritical); got != 3 {
		t.Errorf("site critical faults = %d, want 3", got)
	}
}

func TestComputeReusesTheResultWithoutCarryingOver(t *testing.T) {
	e := NewEngine(testInventory(), Options{})
	states := fleet()
	e.Compute(now, states)
	states["r21-u01"] = observed("r21-u01", now.Add(25*time.Second), rackmount("r21-u01", 1000))
	res := e.Compute(now.Add(30*time.Second), states)
	r21, _ := res.Rack("r21")
	if r21.Watts != 1600 || r21.RacksOverBudget != 0 {
		t.Errorf("r21 = %g W over budget %d, want 1600 W and not over", r21.Watts, r21.RacksOverBudget)
	}
	if res.Site.Servers != 8 {
		t.Errorf("site servers = %d after two cycles, want 8", res.Site.Servers)
	}
}

func TestComponentFaults(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*bmc.Snapshot)
		c    Component
		s    Severity
		want int
	}{
		{"healthy server", func(*bmc.Snapshot) {}, ComponentDIMM, SeverityCritical, 0},
		{"DIMM warning", func(s *bmc.Snapshot) { s.DIMMs[0].Health = bmc.HealthWarning }, ComponentDIMM, SeverityWarning, 1},
		{"absent DIMM slot is no fault", func(s *bmc.Snapshot) { s.DIMMs[0].State, s.DIMMs[0].Health = "Absent", bmc.HealthCritical }, ComponentDIMM, SeverityCritical, 0},
		{"CPU critical", func(s *bmc.Snapshot) { s.CPUs[1].Health = bmc.HealthCritical }, ComponentCPU, SeverityCritical, 1},
		{"PSU input lost", func(s *bmc.Snapshot) { s.PSUs[1].LineInputStatus = "LossOfInput" }, ComponentPSU, SeverityCritical, 1},
		{"PSU failure predicted", func(s *bmc.Snapshot) { s.PSUs[0].FailurePredicted = true }, ComponentPSU, SeverityWarning, 1},
		{"absent PSU bay", func(s *bmc.Snapshot) { s.PSUs[1].State, s.PSUs[1].Health = "Absent", bmc.HealthUnknown }, ComponentPSU, SeverityCritical, 0},
		{"drive critical", func(s *bmc.Snapshot) { s.Drives[0].Health = bmc.HealthCritical }, ComponentDrive, SeverityCritical, 1},
		{"fan critical", func(s *bmc.Snapshot) { s.Sensors[0].Health = bmc.HealthCritical }, ComponentFan, SeverityCritical, 1},
		{
			// IPMI: a discrete fan sensor on a fan entity, no reading.
			"IPMI discrete fan sensor", func(s *bmc.Snapshot) {
				s.Sensors = append(s.Sensors, bmc.Sensor{Kind: bmc.KindOther, Name: "Fan Redundancy", Context: bmc.ContextFan, States: []string{"Redundancy Lost"}, Health: bmc.HealthWarning})
			}, ComponentFan, SeverityWarning, 1,
		},
		{"hot CPU sensor is not a fan fault", func(s *bmc.Snapshot) { s.Sensors[1].Health = bmc.HealthCritical }, ComponentFan, SeverityCritical, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := rackmount("x", 400)
			tt.mod(s)
			f := componentFaults(s)
			if got := f.Count(tt.c, tt.s); got != tt.want {
				t.Errorf("%s %s = %d, want %d", tt.c, tt.s, got, tt.want)
			}
		})
	}
}

func approx(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
