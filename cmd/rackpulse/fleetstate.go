package main

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rackpulse/rackpulse/bmc"
	"github.com/rackpulse/rackpulse/inventory"
	"github.com/rackpulse/rackpulse/power"
	"github.com/rackpulse/rackpulse/rollup"
	"github.com/rackpulse/rackpulse/storage"
)

// fleetState keeps every polled server's latest outcome and rolls the
// fleet up the site's tree once per interval. A poller of some racks
// publishes those racks; a poller of the whole site publishes every level.
type fleetState struct {
	mu       sync.Mutex
	inv      *inventory.Inventory
	interval time.Duration
	states   map[string]rollup.ServerState
	energy   map[string]*power.EnergyMeter
	engine   *rollup.Engine
	racks    map[string]bool // selected racks; nil: the whole site
	rollup   []byte          // the last rollup, as served on /api/rollup
	power    []byte          // the last rack feeds and energy, on /api/power
	metrics  *rollupMetrics
	// store receives server and rollup points; nil without InfluxDB.
	store *storage.Writer
}

// rackPower is a rack's feed load, failover headroom and energy.
type rackPower struct {
	Rack   string         `json:"rack"`
	Feeds  power.FeedLoad `json:"feeds"`
	Energy power.Energy   `json:"energy"`
}

func newFleetState(inv *inventory.Inventory, racks []string, interval time.Duration, reg prometheus.Registerer) *fleetState {
	f := &fleetState{states: map[string]rollup.ServerState{}, energy: map[string]*power.EnergyMeter{}, metrics: newRollupMetrics(reg)}
	f.setInventory(inv, racks, interval)
	return f
}

// setInventory rebuilds the rollup for a (re)loaded inventory, keeping the
// state of servers still in it.
func (f *fleetState) setInventory(inv *inventory.Inventory, racks []string, interval time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inv, f.interval = inv, interval
	f.engine = rollup.NewEngine(inv, rollup.Options{Interval: interval})
	f.racks = nil
	if len(racks) > 0 {
		f.racks = map[string]bool{}
		for _, r := range racks {
			f.racks[r] = true
		}
	}
	for name := range f.states {
		if srv, ok := inv.Server(name); !ok || (f.racks != nil && !f.racks[srv.Rack]) {
			delete(f.states, name)
			delete(f.energy, name)
		}
	}
}

// observe records a poll's outcome (scheduler OnPoll).
func (f *fleetState) observe(ep bmc.Endpoint, started time.Time, snap *bmc.Snapshot, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if srv, ok := f.inv.Server(ep.Server); !ok || (f.racks != nil && !f.racks[srv.Rack]) {
		return // a last poll of a server the reloaded inventory dropped
	}
	st := f.states[ep.Server]
	st.Server = ep.Server
	st.Observe(started, snap, err)
	f.states[ep.Server] = st
	if snap != nil && st.Power.Known {
		m := f.energy[ep.Server]
		if m == nil {
			// A gap of more than three intervals is reported, not bridged.
			m = power.NewEnergyMeter(3 * f.interval)
			f.energy[ep.Server] = m
		}
		m.Add(started, st.Power.Watts)
	}
	if f.store != nil && snap != nil {
		f.store.Write(serverPoints(f.inv, st, f.energy[ep.Server])...)
	}
}

// computeRollup rolls the fleet up as of now and publishes the result on
// /api/rollup, as metrics and to storage.
func (f *fleetState) computeRollup(now time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	res := f.engine.Compute(now, f.states)
	if f.racks != nil {
		res = f.selectedRacks(res)
	}
	f.metrics.set(res)
	if b, err := json.Marshal(res); err == nil {
		f.rollup = b
	}
	racks := f.rackPower(now)
	f.metrics.setPower(racks)
	if b, err := json.Marshal(racks); err == nil {
		f.power = b
	}
	if f.store != nil {
		points := rollupPoints(f.inv.Site, res, f.racks == nil, true)
		energy := make(map[string]float64, len(racks))
		for _, rp := range racks {
			energy[rp.Rack] = rp.Energy.Wh
		}
		for i := range points {
			if wh, ok := energy[points[i].Rack]; ok && points[i].Level == storage.LevelRack {
				points[i].EnergyWh = &wh
			}
		}
		f.store.Write(storage.RollupPoints(points...)...)
		f.store.Write(feedPoints(f.inv, racks, now)...)
	}
}

// selectedRacks trims a result to the poller's racks: the levels above are
// the site rollup's to compute, from every rack poller's totals.
func (f *fleetState) selectedRacks(res *rollup.Result) *rollup.Result {
	trimmed := &rollup.Result{Time: res.Time, Freshness: res.Freshness}
	for _, n := range res.Racks {
		if f.racks[n.Name] {
			trimmed.Racks = append(trimmed.Racks, n)
		}
	}
	for _, s := range res.Servers {
		if f.racks[s.Rack] {
			trimmed.Servers = append(trimmed.Servers, s)
		}
	}
	return trimmed
}

// rackPower computes each published rack's feeds and energy from its live
// servers.
func (f *fleetState) rackPower(now time.Time) []rackPower {
	var out []rackPower
	for _, rack := range f.inv.Racks() {
		if f.racks != nil && !f.racks[rack.Name] {
			continue
		}
		rp := rackPower{Rack: rack.Name}
		var servers []power.Server
		for _, s := range rack.Servers {
			st, ok := f.states[s.Name]
			if m := f.energy[s.Name]; m != nil {
				rp.Energy = rp.Energy.Plus(m.Energy())
			}
			if !ok || st.Snapshot == nil || now.Sub(st.LastGood) > 3*f.interval {
				continue // not live: its load is not known now
			}
			servers = append(servers, power.Server{Name: s.Name, Snapshot: st.Snapshot, Power: st.Power})
		}
		rp.Feeds = power.RackFeeds(rack, servers)
		out = append(out, rp)
	}
	return out
}

func (f *fleetState) servePower(w http.ResponseWriter, _ *http.Request) {
	f.mu.Lock()
	b := f.power
	f.mu.Unlock()
	writeRollupJSON(w, b)
}

// rollupInterval is the interval of the inventory in force.
func (f *fleetState) rollupInterval() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.interval
}

func (f *fleetState) reporting() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, st := range f.states {
		if st.Snapshot != nil {
			n++
		}
	}
	return n
}

func (f *fleetState) serveRollup(w http.ResponseWriter, _ *http.Request) {
	f.mu.Lock()
	b := f.rollup
	f.mu.Unlock()
	writeRollupJSON(w, b)
}

type serverSummary struct {
	Server   string          `json:"server"`
	Rack     string          `json:"rack"`
	Time     time.Time       `json:"time"`
	Health   bmc.Health      `json:"health"`
	Requests int             `json:"requests"`
	Errors   []bmc.PartError `json:"errors,omitempty"`
	LastErr  string          `json:"last_error,omitempty"`
}

// serveServers lists the latest good snapshot of every server, or with
// ?server=NAME that server's whole snapshot.
func (f *fleetState) serveServers(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	if name := r.URL.Query().Get("server"); name != "" {
		st, ok := f.states[name]
		f.mu.Unlock()
		if !ok || st.Snapshot == nil {
			http.Error(w, "no snapshot for server "+name, http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(st.Snapshot)
		return
	}
	out := make([]serverSummary, 0, len(f.states))
	for _, st := range f.states {
		sum := serverSummary{Server: st.Server}
		if s := st.Snapshot; s != nil {
			sum.Rack, sum.Time, sum.Health, sum.Requests, sum.Errors = s.Rack, s.Time, s.Health(), s.Poll.Requests, s.Poll.Errors
		}
		if st.LastErr != nil {
			sum.LastErr = st.LastErr.Error()
		}
		out = append(out, sum)
	}
	f.mu.Unlock()
	slices.SortFunc(out, func(a, b serverSummary) int { return strings.Compare(a.Server, b.Server) })
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

// rollupMetrics exports the rack and site totals for dashboards and alerts.
type rollupMetrics struct {
	watts, estimated, budget, utilization, servers, reporting, faults *prometheus.GaugeVec
	feedWatts, headroom, energy                                       *prometheus.GaugeVec
}

func newRollupMetrics(reg prometheus.Registerer) *rollupMetrics {
	gauge := func(name, help string, labels ...string) *prometheus.GaugeVec {
		g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
		reg.MustRegister(g)
		return g
	}
	return &rollupMetrics{
		watts:       gauge("rackpulse_rollup_watts", "Input power of the live servers with a reading.", "level", "name"),
		estimated:   gauge("rackpulse_rollup_estimated_watts", "Last good power of servers that are not live: an estimate, not in rackpulse_rollup_watts.", "level", "name"),
		budget:      gauge("rackpulse_rollup_budget_watts", "Power budget.", "level", "name"),
		utilization: gauge("rackpulse_rollup_utilization_ratio", "Budgeted racks' power over their budget.", "level", "name"),
		servers:     gauge("rackpulse_rollup_servers", "Servers in the inventory.", "level", "name"),
		reporting:   gauge("rackpulse_rollup_servers_reporting", "Servers live with a power reading.", "level", "name"),
		faults:      gauge("rackpulse_rollup_faults", "Faults by severity.", "level", "name", "severity"),
		feedWatts:   gauge("rackpulse_feed_watts", "Load on a rack's power feed.", "rack", "feed"),
		headroom:    gauge("rackpulse_feed_failover_headroom_watts", "Capacity left on the tightest surviving feed if this feed fails (negative: overloaded).", "rack", "failed_feed"),
		energy:      gauge("rackpulse_rack_energy_wh", "Energy the rack's servers drew since the poller started, over the time covered by readings.", "rack"),
	}
}

func (m *rollupMetrics) setPower(racks []rackPower) {
	m.feedWatts.Reset()
	m.headroom.Reset()
	m.energy.Reset()
	for _, rp := range racks {
		for _, fd := range rp.Feeds.Feeds {
			m.feedWatts.WithLabelValues(rp.Rack, fd.Name).Set(fd.Watts)
		}
		for _, fo := range rp.Feeds.Failover {
			m.headroom.WithLabelValues(rp.Rack, fo.Failed).Set(fo.HeadroomWatts)
		}
		m.energy.WithLabelValues(rp.Rack).Set(rp.Energy.Wh)
	}
}

func (m *rollupMetrics) set(res *rollup.Result) {
	for _, v := range []*prometheus.GaugeVec{m.watts, m.estimated, m.budget, m.utilization, m.servers, m.reporting, m.faults} {
		v.Reset()
	}
	put := func(level string, n *rollup.Node) {
		name := n.Name
		if level == "row" {
			name = n.Room + "/" + n.Name // row names repeat across rooms
		}
		m.watts.WithLabelValues(level, name).Set(n.Watts)
		m.estimated.WithLabelValues(level, name).Set(n.EstimatedWatts)
		m.budget.WithLabelValues(level, name).Set(n.BudgetWatts)
		m.utilization.WithLabelValues(level, name).Set(n.UtilizationPct / 100)
		m.servers.WithLabelValues(level, name).Set(float64(n.Servers))
		m.reporting.WithLabelValues(level, name).Set(float64(n.Reporting))
		for _, sev := range []rollup.Severity{rollup.SeverityWarning, rollup.SeverityCritical} {
			m.faults.WithLabelValues(level, name, sev.String()).Set(float64(n.Faults.Total(sev)))
		}
	}
	for i := range res.Racks {
		put("rack", &res.Racks[i])
	}
	if res.Site.Name != "" {
		put("site", &res.Site)
		for i := range res.Rows {
			put("row", &res.Rows[i])
		}
		for i := range res.Rooms {
			put("room", &res.Rooms[i])
		}
	}
}

// writeRollupJSON serves a rollup marshalled by computeRollup, or 503
// before the first one.
func writeRollupJSON(w http.ResponseWriter, b []byte) {
	if b == nil {
		http.Error(w, "no rollup yet", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}
