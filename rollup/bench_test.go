package rollup

import (
	"fmt"
	"testing"
	"time"

	"github.com/rackpulse/rackpulse/bmc"
	"github.com/rackpulse/rackpulse/inventory"
)

// benchSite builds a site of rooms×rows×racks racks of perRack servers.
func benchSite(rooms, rows, racks, perRack int) *inventory.Inventory {
	inv := &inventory.Inventory{Site: "bench"}
	for ro := range rooms {
		room := inventory.Room{Name: fmt.Sprintf("hall-%d", ro)}
		for rw := range rows {
			row := inventory.Row{Name: fmt.Sprintf("row-%d", rw)}
			for rk := range racks {
				rack := inventory.Rack{Name: fmt.Sprintf("h%d-r%d-k%d", ro, rw, rk), PowerBudgetWatts: 16000}
				for s := range perRack {
					rack.Servers = append(rack.Servers, inventory.Server{Name: fmt.Sprintf("%s-u%02d", rack.Name, s+1), Position: s + 1})
				}
				row.Racks = append(row.Racks, rack)
			}
			room.Rows = append(room.Rows, row)
		}
		inv.Rooms = append(inv.Rooms, room)
	}
	return inv
}

// benchStates returns one poll generation of states for every server: each
// server gets a snapshot of its own (sharing its parts' slices with a few
// templates, to keep memory in bounds) polled at polledAt. One server in 50
// has a failing DIMM, one in 100 is stale and one in 500 never answered.
func benchStates(inv *inventory.Inventory, polledAt time.Time) map[string]ServerState {
	templates := make([]*bmc.Snapshot, 8)
	for i := range templates {
		s := rackmount("template", 300+float64(i)*25)
		for d := range 14 {
			s.DIMMs = append(s.DIMMs, bmc.DIMM{Slot: fmt.Sprintf("C%d", d), Health: bmc.HealthOK, State: "Enabled"})
		}
		for f := range 5 {
			s.Sensors = append(s.Sensors, bmc.Sensor{Kind: bmc.KindFan, Name: fmt.Sprintf("Fan%d", f), Value: ptr(8000), Unit: bmc.UnitRPM, Health: bmc.HealthOK})
		}
		if i == 7 {
			s.DIMMs[3].Health = bmc.HealthCritical
		}
		templates[i] = s
	}
	states := make(map[string]ServerState, inv.Stats().Servers)
	n := 0
	for _, rack := range inv.Racks() {
		for _, srv := range rack.Servers {
			n++
			t := templates[n%len(templates)]
			if n%50 == 0 {
				t = templates[7]
			}
			snap := *t
			snap.Server, snap.Rack, snap.Time = srv.Name, rack.Name, polledAt
			st := ServerState{Server: srv.Name}
			switch {
			case n%500 == 0:
				st.Observe(polledAt, nil, fmt.Errorf("unreachable"))
			case n%100 == 0:
				st.Observe(polledAt.Add(-time.Hour), &snap, nil)
			default:
				st.Observe(polledAt, &snap, nil)
			}
			states[srv.Name] = st
		}
	}
	return states
}

// BenchmarkRollup100k rolls up 100,000 servers in 2,500 racks per cycle.
// Cycles alternate between two poll generations, so every cycle sees a new
// snapshot for every server (the worst case for the fault cache).
func BenchmarkRollup100k(b *testing.B) {
	inv := benchSite(5, 10, 50, 40)
	if st := inv.Stats(); st.Servers != 100_000 || st.Racks != 2_500 {
		b.Fatalf("site has %d servers in %d racks", st.Servers, st.Racks)
	}
	generations := []map[string]ServerState{benchStates(inv, now), benchStates(inv, now.Add(30*time.Second))}
	e := NewEngine(inv, Options{Interval: 30 * time.Second})
	e.Compute(now, generations[0]) // the first cycle fills the caches
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		res := e.Compute(now.Add(45*time.Second), generations[i%2])
		if res.Site.Servers != 100_000 {
			b.Fatalf("site servers = %d", res.Site.Servers)
		}
	}
}

// BenchmarkRollupFromRacks2500 rolls up 2,500 stored rack totals.
func BenchmarkRollupFromRacks2500(b *testing.B) {
	inv := benchSite(5, 10, 50, 40)
	e := NewEngine(inv, Options{Interval: 30 * time.Second})
	stored := map[string]RackTotals{}
	for _, r := range e.Compute(now, benchStates(inv, now)).Racks {
		stored[r.Name] = RackTotals{Time: now, Totals: r.Totals}
	}
	b.ReportAllocs()
	for b.Loop() {
		e.ComputeFromRacks(now.Add(30*time.Second), stored, 0)
	}
}
