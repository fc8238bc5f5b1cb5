package fleet

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/influxdata/influxdb-client-go/v2/api/write"

	"github.com/rackpulse/rackpulse/bmc"
	"github.com/rackpulse/rackpulse/inventory"
)

var t0 = time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)

func ptr(v float64) *float64 { return &v }

// rollupJSON and powerJSON encode the last cycle's rollup and rack power
// as /api/rollup and /api/power serve them.
func rollupJSON(t *testing.T, f *Fleet) []byte {
	t.Helper()
	v := f.View()
	if v == nil {
		t.Fatal("no rollup yet")
	}
	b, err := json.Marshal(&v.Result)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func powerJSON(t *testing.T, f *Fleet) []byte {
	t.Helper()
	b, err := json.Marshal(f.RackPower())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func loadInventory(t *testing.T) *inventory.Inventory {
	t.Helper()
	t.Setenv("FLEET_TEST_PASSWORD", "fleet-test-password")
	inv, problems, err := inventory.Load("testdata/inventory.yaml")
	if err != nil {
		t.Fatalf("inventory: %v\n%s", err, problems.Errors())
	}
	return inv
}

// snapshot is a healthy server drawing watts, with logs new in its poll.
func snapshot(server string, at time.Time, watts float64, logs ...bmc.LogEntry) *bmc.Snapshot {
	s := bmc.NewSnapshot(server, "", bmc.ProtocolRedfish, at)
	s.Systems = []bmc.System{{ID: "1", PowerState: "On", Health: bmc.HealthOK}}
	s.Chassis = []bmc.Chassis{{ID: "1", PowerState: "On"}}
	s.Power = []bmc.PowerReading{{Chassis: "1", Source: bmc.PowerFromPowerControl, Watts: watts}}
	s.PSUs = []bmc.PSU{
		{Chassis: "1", Bay: "1", State: "Enabled", Health: bmc.HealthOK, CapacityWatts: ptr(800)},
		{Chassis: "1", Bay: "2", State: "Enabled", Health: bmc.HealthOK, CapacityWatts: ptr(800)},
	}
	s.Logs = append(s.Logs, logs...)
	return s
}

// recorder is a sink that keeps what it is handed.
type recorder struct {
	mu          sync.Mutex
	inventories int
	polls       []Poll
	cycles      []string // rack:watts of each cycle's racks
}

func (r *recorder) SetInventory(*inventory.Inventory, Scope, time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.inventories++
}

func (r *recorder) ObservePoll(p *Poll) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.polls = append(r.polls, *p)
}

func (r *recorder) ObserveAgent(*AgentReport) {}

func (r *recorder) ObserveCycle(c *Cycle) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range c.Result.Racks {
		r.cycles = append(r.cycles, fmt.Sprintf("%s:%g", n.Name, n.Watts))
	}
}

func endpoint(server string) bmc.Endpoint {
	return bmc.Endpoint{Server: server, Cadence: bmc.Cadence{Readings: 30 * time.Second}}
}

func TestFleetHandsPollsAndCyclesToSinks(t *testing.T) {
	inv := loadInventory(t)
	f := New(inv, nil, 30*time.Second, Options{})
	rec := &recorder{}
	f.AddSink(rec)
	if rec.inventories != 1 {
		t.Fatalf("a sink added gets the inventory in force: %d calls", rec.inventories)
	}

	dimmEvent := bmc.LogEntry{ID: "7", Message: "Multi-bit memory errors detected on A1.", Component: "DIMM", Subject: "A1", Severity: bmc.HealthCritical}
	f.Observe(endpoint("r12-u01"), t0, snapshot("r12-u01", t0, 300, dimmEvent), nil)
	f.Observe(endpoint("r12-u02"), t0, snapshot("r12-u02", t0, 500), nil)
	f.Observe(endpoint("r13-u01"), t0, nil, &bmc.Error{Kind: bmc.ErrKindTimeout, Err: errors.New("no answer")})
	f.Observe(endpoint("not-in-inventory"), t0, snapshot("not-in-inventory", t0, 100), nil)

	if len(rec.polls) != 3 {
		t.Fatalf("sink saw %d polls, want the 3 of servers in the inventory", len(rec.polls))
	}
	p := rec.polls[0]
	if p.Server.Rack != "r12" || p.Server.Row != "row-a" || p.Server.Room != "hall-1" || p.Server.Position != 1 || p.Site != "dc1" {
		t.Errorf("poll's server = %+v in site %q; want r12-u01 at r12/row-a/hall-1 U1 in dc1", *p.Server, p.Site)
	}
	if ev := p.Events(); len(ev) != 1 || ev[0].Subject != "A1" {
		t.Errorf("poll's events = %+v, want the DIMM entry", ev)
	}
	if !p.State.Power.Known || p.State.Power.Watts != 300 {
		t.Errorf("poll's state power = %+v, want 300 W known", p.State.Power)
	}
	if failed := rec.polls[2]; failed.Snapshot != nil || failed.Err == nil || failed.Events() != nil {
		t.Errorf("failed poll handed on as %+v; want no snapshot, its error, no events", failed)
	}

	f.Rollup(t0.Add(time.Second))
	if want := []string{"r12:800", "r13:0"}; fmt.Sprint(rec.cycles) != fmt.Sprint(want) {
		t.Errorf("cycle racks = %v, want %v", rec.cycles, want)
	}
	var res struct {
		Site struct {
			Watts     float64 `json:"watts"`
			Reporting int     `json:"reporting"`
		} `json:"site"`
	}
	if err := json.Unmarshal(rollupJSON(t, f), &res); err != nil || res.Site.Watts != 800 || res.Site.Reporting != 2 {
		t.Errorf("published rollup: site %+v (err %v), want 800 W from 2 servers", res.Site, err)
	}
	if got := f.Events("r12-u01"); len(got) != 1 || got[0].ID != "7" {
		t.Errorf("kept events of r12-u01 = %+v", got)
	}
	if n := f.Reporting(); n != 2 {
		t.Errorf("reporting = %d, want 2", n)
	}
}

func TestFleetScopeAndReloadDropServers(t *testing.T) {
	inv := loadInventory(t)
	f := New(inv, NewScope([]string{"r12"}), 30*time.Second, Options{})
	rec := &recorder{}
	f.AddSink(rec)
	f.Observe(endpoint("r13-u01"), t0, snapshot("r13-u01", t0, 100), nil)
	f.Observe(endpoint("r12-u01"), t0, snapshot("r12-u01", t0, 100, bmc.LogEntry{ID: "1", Message: "x"}), nil)
	if len(rec.polls) != 1 || rec.polls[0].Server.Name != "r12-u01" {
		t.Fatalf("a poller of r12 handed on %d polls; want only r12-u01's", len(rec.polls))
	}
	f.Rollup(t0)
	if fmt.Sprint(rec.cycles) != "[r12:100]" {
		t.Errorf("a poller of r12 publishes racks %v, want [r12:100]", rec.cycles)
	}

	// A reload whose scope no longer holds r12 forgets its servers.
	f.SetInventory(inv, NewScope([]string{"r13"}), 30*time.Second)
	if rec.inventories != 2 {
		t.Errorf("sink told of %d inventories, want 2", rec.inventories)
	}
	if _, ok := f.Snapshot("r12-u01"); ok {
		t.Error("r12-u01 kept after it left the scope")
	}
	if ev := f.Events("r12-u01"); len(ev) != 0 {
		t.Errorf("r12-u01's events kept after it left the scope: %v", ev)
	}
}

func TestEventRingKeepsTheNewest(t *testing.T) {
	inv := loadInventory(t)
	f := New(inv, nil, 30*time.Second, Options{EventsPerServer: 3})
	for i := range 5 {
		at := t0.Add(time.Duration(i) * 30 * time.Second)
		f.Observe(endpoint("r12-u01"), at, snapshot("r12-u01", at, 100, bmc.LogEntry{ID: fmt.Sprint(i)}), nil)
	}
	var ids []string
	for _, e := range f.Events("r12-u01") {
		ids = append(ids, e.ID)
	}
	if fmt.Sprint(ids) != "[4 3 2]" {
		t.Errorf("kept events %v, want the 3 newest, newest first: [4 3 2]", ids)
	}
}

// points is a PointWriter that keeps what it is given.
type points struct {
	mu  sync.Mutex
	got []*write.Point
}

func (p *points) Write(ps ...*write.Point) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.got = append(p.got, ps...)
}

func (p *points) count(measurement string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, pt := range p.got {
		if pt.Name() == measurement {
			n++
		}
	}
	return n
}

func TestStoreWritesPollsEventsAndCycles(t *testing.T) {
	inv := loadInventory(t)
	f := New(inv, nil, 30*time.Second, Options{})
	w := &points{}
	f.AddSink(NewStore(w))
	entries := []bmc.LogEntry{
		{ID: "1", Time: t0.Add(-time.Minute), Message: "Fan 3 RPM is less than the lower critical threshold.", Component: "Fan", Subject: "Fan3", Severity: bmc.HealthCritical},
		{ID: "2", Message: "undated"},
	}
	f.Observe(endpoint("r12-u01"), t0, snapshot("r12-u01", t0, 300, entries...), nil)
	f.Observe(endpoint("r12-u02"), t0, nil, errors.New("unreachable"))
	f.Rollup(t0)
	if n := w.count("event"); n != 2 {
		t.Errorf("%d event points, want 2", n)
	}
	for _, pt := range w.got {
		if pt.Name() != "event" {
			continue
		}
		tags := map[string]string{}
		for _, tg := range pt.TagList() {
			tags[tg.Key] = tg.Value
		}
		if tags["server"] != "r12-u01" || tags["rack"] != "r12" || tags["site"] != "dc1" {
			t.Errorf("event point tags %v lack the server's location", tags)
		}
		if tags["subject"] == "Fan3" && !pt.Time().Equal(t0.Add(-time.Minute)) {
			t.Errorf("dated event stored at %v, want when the BMC logged it", pt.Time())
		}
		if tags["subject"] == "" && !pt.Time().Equal(t0) {
			t.Errorf("undated event stored at %v, want the poll's time", pt.Time())
		}
	}
	if w.count("server_power") != 1 || w.count("rollup") != 5 || w.count("feed") != 2 {
		t.Errorf("points: server_power %d (want 1: the failed poll writes none), rollup %d (want 2 racks, a row, a room, the site), feed %d (want r12's A and B)",
			w.count("server_power"), w.count("rollup"), w.count("feed"))
	}
}

func TestViewAndHistory(t *testing.T) {
	inv := loadInventory(t)
	f := New(inv, nil, 30*time.Second, Options{})
	if f.View() != nil {
		t.Fatal("a view before the first cycle")
	}
	for i := range 4 {
		at := t0.Add(time.Duration(i) * 30 * time.Second)
		f.Observe(endpoint("r12-u01"), at, snapshot("r12-u01", at, 300+float64(i), bmc.LogEntry{}), nil)
		f.Observe(endpoint("r12-u02"), at, snapshot("r12-u02", at, 500), nil)
		f.Rollup(at.Add(time.Second))
	}
	v := f.View()
	if v == nil || v.Result.Site.Watts != 803 || len(v.Result.Servers) != 3 {
		t.Fatalf("view: %+v", v)
	}
	if n, ok := v.Rack("r12"); !ok || n.Watts != 803 || n.Reporting != 2 {
		t.Errorf("rack r12 in the view: %+v", n)
	}
	// 90 s at 800 W and more: about 20 Wh since the meters started.
	if wh := v.EnergyToday["r12"]; wh < 19 || wh > 21 || v.SiteEnergyToday != wh {
		t.Errorf("energy today: r12 %v Wh, site %v Wh; want about 20", wh, v.SiteEnergyToday)
	}
	// The view is a copy: the next cycle does not change it.
	f.Rollup(t0.Add(3 * time.Minute))
	if v.Result.Racks[0].Watts != 803 {
		t.Error("a later cycle changed an earlier view")
	}

	server := f.History(HistoryOf{Server: "r12-u01"}, t0)
	if len(server) != 1 || len(server[0].Samples) != 4 || server[0].Samples[3].W != 303 {
		t.Errorf("server history %+v; want the 4 polls' watts", server)
	}
	rack := f.History(HistoryOf{Rack: "r12"}, t0)
	if len(rack) != 3 || rack[0].Name != "r12" || rack[1].Name != "feed A" || rack[2].Name != "feed B" || len(rack[0].Samples) != 5 {
		t.Errorf("rack history %+v; want r12, feed A, feed B over 5 cycles", rack)
	}
	if site := f.History(HistoryOf{}, t0.Add(time.Minute)); len(site) != 1 || len(site[0].Samples) != 3 {
		t.Errorf("site history since 1 min: %+v; want the 3 cycles since", site)
	}
	// r13 reports nothing: a gap, not 0 W.
	if r13 := f.History(HistoryOf{Rack: "r13"}, t0); len(r13) == 0 || !math.IsNaN(r13[0].Samples[0].W) {
		t.Errorf("r13 history %+v; want NaN where nothing was measured", r13)
	}
}

func TestHistoryRingIsBounded(t *testing.T) {
	var r ring
	for i := range 10 {
		r.add(4, t0.Add(time.Duration(i)*time.Second), float64(i))
	}
	got := r.since(time.Time{})
	if len(got) != 4 || got[0].W != 6 || got[3].W != 9 {
		t.Errorf("ring of 4 after 10 samples: %+v; want 6..9", got)
	}
}
