package alert

import (
	"fmt"
	"testing"

	"github.com/rackpulse/rackpulse/bmc"
	"github.com/rackpulse/rackpulse/fleet"
	"github.com/rackpulse/rackpulse/inventory"
	"github.com/rackpulse/rackpulse/power"
	"github.com/rackpulse/rackpulse/rollup"
)

// benchFleet is a site of n servers, 40 per rack, each with a snapshot as
// a current 2-socket server's BMC fills it (44 sensors, 16 DIMMs with
// counters, 2 PSUs, 2 drives).
func benchFleet(n int) (*inventory.Inventory, []*fleet.Poll, *rollup.Result, []fleet.RackPower) {
	inv := &inventory.Inventory{Site: "dc1", Rooms: []inventory.Room{{Name: "hall-1"}}}
	room := &inv.Rooms[0]
	res := &rollup.Result{}
	var feeds []fleet.RackPower
	for i := 0; i < n; i += 40 {
		r := i / 40
		if r%10 == 0 {
			room.Rows = append(room.Rows, inventory.Row{Name: fmt.Sprintf("row-%02d", r/10), Room: room.Name})
		}
		row := &room.Rows[len(room.Rows)-1]
		rack := inventory.Rack{Name: fmt.Sprintf("r%04d", r), Room: room.Name, Row: row.Name, PowerBudgetWatts: 20000}
		for j := i; j < min(n, i+40); j++ {
			rack.Servers = append(rack.Servers, inventory.Server{Name: fmt.Sprintf("r%04d-u%02d", r, j-i+1), Position: j - i + 1, Height: 1,
				Room: room.Name, Row: row.Name, Rack: rack.Name})
		}
		row.Racks = append(row.Racks, rack)
		res.Racks = append(res.Racks, rollup.Node{Name: rack.Name, Room: room.Name, Row: row.Name,
			Totals: rollup.Totals{Watts: 12000, BudgetWatts: 20000, Servers: 40, Reporting: 40}})
		feeds = append(feeds, fleet.RackPower{Rack: rack.Name, Feeds: power.FeedLoad{Servers: 40, Failover: []power.Failover{
			{Failed: "A", Survivor: "B", LoadWatts: 12000, CapacityWatts: 22000, HeadroomWatts: 10000, HeadroomPct: 45},
			{Failed: "B", Survivor: "A", LoadWatts: 12000, CapacityWatts: 22000, HeadroomWatts: 10000, HeadroomPct: 45},
		}}})
	}
	var polls []*fleet.Poll
	for _, rack := range inv.Racks() {
		for k := range rack.Servers {
			srv := &rack.Servers[k]
			snap := benchSnapshot(srv.Name)
			var st rollup.ServerState
			st.Observe(t0, snap, nil)
			polls = append(polls, &fleet.Poll{Site: inv.Site, Server: srv, Interval: interval, Snapshot: snap, State: st})
		}
	}
	return inv, polls, res, feeds
}

func benchSnapshot(name string) *bmc.Snapshot {
	s := healthy(name, t0)
	for i := range 8 {
		s.Sensors = append(s.Sensors, bmc.Sensor{Kind: bmc.KindFan, Name: fmt.Sprintf("Fan%d", i+3), Context: bmc.ContextFan, Value: ptr(6500.0), Unit: bmc.UnitRPM,
			Health: bmc.HealthOK, Thresholds: bmc.Thresholds{LowerCritical: ptr(600.0)}})
	}
	for i := range 18 {
		s.Sensors = append(s.Sensors, bmc.Sensor{Kind: bmc.KindVoltage, Name: fmt.Sprintf("VR%d", i), Context: bmc.ContextVoltageReg, Value: ptr(1.2), Unit: bmc.UnitVolt, Health: bmc.HealthOK})
	}
	for i := range 13 {
		s.Sensors = append(s.Sensors, bmc.Sensor{Kind: bmc.KindTemperature, Name: fmt.Sprintf("DIMM%d Temp", i), Context: bmc.ContextMemory, Value: ptr(40.0), Unit: bmc.UnitCelsius, Health: bmc.HealthOK})
	}
	s.DIMMs = s.DIMMs[:0]
	for i := range 16 {
		slot := fmt.Sprintf("CPU%d_DIMM_%c%d", i/8+1, 'A'+rune(i%8/2), i%2+1)
		s.DIMMs = append(s.DIMMs, bmc.DIMM{Slot: slot, State: "Enabled", Health: bmc.HealthOK, Serial: "SN" + slot, CorrectableErrors: ptr[int64](3), UncorrectableErrors: ptr[int64](0)})
	}
	return s
}

// BenchmarkAlertEval10k evaluates every rule for 10,000 servers: one poll
// of each (as a 30 s interval brings) and one rollup cycle of 250 racks.
// One server in a hundred has a failing DIMM, so firing alerts are
// resent and re-described each cycle.
func BenchmarkAlertEval10k(b *testing.B) {
	inv, polls, res, feeds := benchFleet(10000)
	for i, p := range polls {
		if i%100 == 0 {
			p.Snapshot.DIMMs[3].UncorrectableErrors = ptr[int64](1)
		}
	}
	e := New(Options{Notifiers: []Notifier{discard{}}})
	e.SetInventory(inv, nil, interval)
	now := t0
	cycle := func() {
		for _, p := range polls {
			p.At = now
			e.ObservePoll(p)
		}
		e.ObserveCycle(&fleet.Cycle{Time: now, Inventory: inv, Result: res, Racks: feeds})
		now = now.Add(interval)
	}
	cycle() // baselines and the alerts that fire
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		cycle()
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/cycle")
	if n := len(e.Alerts()); n != 100 {
		b.Fatalf("%d alerts, want the 100 failing DIMMs", n)
	}
}

type discard struct{}

func (discard) Notify([]Alert) {}
