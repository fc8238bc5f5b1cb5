package power

import (
	"math"
	"testing"

	"github.com/rackpulse/rackpulse/bmc"
	"github.com/rackpulse/rackpulse/inventory"
)

func twoFeedRack(capacity float64) *inventory.Rack {
	return &inventory.Rack{
		Name:     "r12",
		Feeds:    map[string]inventory.Feed{"A": {CapacityWatts: capacity}, "B": {CapacityWatts: capacity}},
		PSUFeeds: map[string]string{"1": "A", "2": "B"},
	}
}

func server(name string, watts float64, psus ...bmc.PSU) Server {
	return Server{Name: name, Snapshot: &bmc.Snapshot{Server: name, PSUs: psus}, Power: known(watts)}
}

func withInput(w float64) func(*bmc.PSU) { return func(p *bmc.PSU) { p.InputWatts = ptr(w) } }

func near(a, b float64) bool { return math.Abs(a-b) < 1e-6 }

func TestRackFeeds(t *testing.T) {
	type feedWant struct {
		name  string
		watts float64
	}
	type failWant struct {
		failed, survivor string
		load, headroom   float64
		overloaded       bool
		dropped          int
	}
	tests := []struct {
		name         string
		rack         *inventory.Rack
		servers      []Server
		wantFeeds    []feedWant
		wantFail     []failWant
		unwired      float64
		unattributed float64
	}{
		{
			name: "equal shares without per-PSU readings",
			rack: twoFeedRack(8000),
			servers: []Server{
				server("u01", 400, psu("1", 800), psu("2", 800)),
				server("u02", 600, psu("1", 800), psu("2", 800)),
			},
			wantFeeds: []feedWant{{"A", 500}, {"B", 500}},
			wantFail:  []failWant{{"A", "B", 1000, 7000, false, 0}, {"B", "A", 1000, 7000, false, 0}},
		},
		{
			name: "shares follow the PSU input watts, scaled to the chosen reading",
			rack: twoFeedRack(8000),
			servers: []Server{
				server("u01", 420, psu("1", 800, withInput(300)), psu("2", 800, withInput(100))),
			},
			wantFeeds: []feedWant{{"A", 315}, {"B", 105}},
			wantFail:  []failWant{{"A", "B", 420, 7580, false, 0}, {"B", "A", 420, 7580, false, 0}},
		},
		{
			name: "a supply without input: the whole load on the other feed, and dark if that feed fails",
			rack: twoFeedRack(8000),
			servers: []Server{
				server("u01", 500, psu("1", 800), psu("2", 800, func(p *bmc.PSU) { p.LineInputStatus = "LossOfInput" })),
				server("u02", 300, psu("1", 800), psu("2", 800)),
			},
			wantFeeds: []feedWant{{"A", 650}, {"B", 150}},
			wantFail:  []failWant{{"A", "B", 300, 7700, false, 1}, {"B", "A", 800, 7200, false, 0}},
		},
		{
			name: "failover overloads the surviving feed",
			rack: twoFeedRack(5000),
			servers: []Server{
				server("u01", 3000, psu("1", 2400), psu("2", 2400)),
				server("u02", 3000, psu("1", 2400), psu("2", 2400)),
			},
			wantFeeds: []feedWant{{"A", 3000}, {"B", 3000}},
			wantFail:  []failWant{{"A", "B", 6000, -1000, true, 0}, {"B", "A", 6000, -1000, true, 0}},
		},
		{
			name: "unwired bay and a server without PSU data count on every survivor",
			rack: twoFeedRack(8000),
			servers: []Server{
				server("u01", 900, psu("1", 800), psu("2", 800), psu("3", 800)),
				server("u02", 200),
			},
			wantFeeds:    []feedWant{{"A", 300}, {"B", 300}},
			wantFail:     []failWant{{"A", "B", 1100, 6900, false, 0}, {"B", "A", 1100, 6900, false, 0}},
			unwired:      300,
			unattributed: 200,
		},
		{
			name: "default wiring without feeds in the inventory: loads, no headroom",
			rack: &inventory.Rack{Name: "r13"},
			servers: []Server{
				server("u01", 400, psu("1", 800), psu("2", 800)),
			},
			wantFeeds: []feedWant{{"A", 200}, {"B", 200}},
			wantFail:  []failWant{{"A", "B", 400, 0, false, 0}, {"B", "A", 400, 0, false, 0}},
		},
		{
			name: "three feeds: the tightest survivor is reported",
			rack: &inventory.Rack{Name: "r14",
				Feeds:    map[string]inventory.Feed{"A": {CapacityWatts: 4000}, "B": {CapacityWatts: 4000}, "C": {CapacityWatts: 2000}},
				PSUFeeds: map[string]string{"1": "A", "2": "B", "3": "C"},
			},
			servers: []Server{
				server("u01", 1200, psu("1", 800), psu("2", 800), psu("3", 800)),
			},
			wantFeeds: []feedWant{{"A", 400}, {"B", 400}, {"C", 400}},
			wantFail:  []failWant{{"A", "C", 600, 1400, false, 0}, {"B", "C", 600, 1400, false, 0}, {"C", "A", 600, 3400, false, 0}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := RackFeeds(tt.rack, tt.servers)
			if len(got.Feeds) != len(tt.wantFeeds) {
				t.Fatalf("Feeds = %+v, want %v", got.Feeds, tt.wantFeeds)
			}
			for i, w := range tt.wantFeeds {
				if f := got.Feeds[i]; f.Name != w.name || !near(f.Watts, w.watts) {
					t.Errorf("Feeds[%d] = %s %g W, want %s %g W", i, f.Name, f.Watts, w.name, w.watts)
				}
			}
			if len(got.Failover) != len(tt.wantFail) {
				t.Fatalf("Failover = %+v, want %v", got.Failover, tt.wantFail)
			}
			for i, w := range tt.wantFail {
				f := got.Failover[i]
				if f.Failed != w.failed || f.Survivor != w.survivor || !near(f.LoadWatts, w.load) ||
					!near(f.HeadroomWatts, w.headroom) || f.Overloaded != w.overloaded || f.ServersDropped != w.dropped {
					t.Errorf("Failover[%d] = %+v, want %+v", i, f, w)
				}
			}
			if !near(got.UnwiredWatts, tt.unwired) || !near(got.UnattributedWatts, tt.unattributed) {
				t.Errorf("unwired %g unattributed %g, want %g and %g", got.UnwiredWatts, got.UnattributedWatts, tt.unwired, tt.unattributed)
			}
		})
	}
}

func TestRackFeedsUtilizationAndHeadroomPct(t *testing.T) {
	got := RackFeeds(twoFeedRack(8000), []Server{server("u01", 2000, psu("1", 2400), psu("2", 2400))})
	if !near(got.Feeds[0].UtilizationPct, 12.5) {
		t.Errorf("A utilization = %g%%, want 12.5%%", got.Feeds[0].UtilizationPct)
	}
	if !near(got.Failover[0].HeadroomPct, 75) {
		t.Errorf("headroom with A failed = %g%%, want 75%%", got.Failover[0].HeadroomPct)
	}
}

func TestFailoverFollowsTheSurvivingSuppliesShares(t *testing.T) {
	rack := &inventory.Rack{Name: "r14",
		Feeds:    map[string]inventory.Feed{"A": {CapacityWatts: 4000}, "B": {CapacityWatts: 4000}, "C": {CapacityWatts: 4000}},
		PSUFeeds: map[string]string{"1": "A", "2": "B", "3": "C"},
	}
	// PS1 carries half, PS2 three tenths, PS3 a fifth. When A fails, its
	// 500 W move to B and C in the ratio 3:2.
	got := RackFeeds(rack, []Server{server("u01", 1000,
		psu("1", 800, withInput(500)), psu("2", 800, withInput(300)), psu("3", 800, withInput(200)))})
	if f := got.Failover[0]; f.Failed != "A" || f.Survivor != "B" || !near(f.LoadWatts, 600) {
		t.Errorf("A failing: %+v, want B carrying 600 W", f)
	}
}
