package fleet

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rackpulse/rackpulse/bmc"
	"github.com/rackpulse/rackpulse/inventory"
	"github.com/rackpulse/rackpulse/power"
	"github.com/rackpulse/rackpulse/rollup"
)

// Options tune a Fleet.
type Options struct {
	// Registerer receives the rollup metrics (nil: not exported).
	Registerer prometheus.Registerer
	Logger     *slog.Logger
	// EventsPerServer bounds the log entries kept per server (default
	// DefaultEventsPerServer).
	EventsPerServer int
}

// Fleet is the live state of the servers one poller polls. It is safe for
// concurrent use: polls arrive from many goroutines.
type Fleet struct {
	opts    Options
	log     *slog.Logger
	metrics *rollupMetrics

	mu       sync.Mutex
	inv      *inventory.Inventory
	servers  map[string]*inventory.Server
	scope    Scope
	interval time.Duration
	states   map[string]rollup.ServerState
	energy   map[string]*power.EnergyMeter
	events   map[string]*eventRing
	polls    map[string][]PollOutcome
	agents   map[string]*agentState
	engine   *rollup.Engine
	sinks    []Sink
	// racks is the last cycle's rack power, as /api/power serves it (the
	// rollup it serves is the view's); nil before the first cycle.
	racks      []RackPower
	rolledUpAt time.Time
	// view is the last cycle's View, for pages; history the last hour of
	// power; today the energy meters' readings at the start of the day.
	view    *View
	history *history
	today   dayEnergy
	// implausible is how many readings each server's last poll had set
	// aside as implausible, so that a change is logged, not every poll.
	implausible map[string]int
}

// New builds the live state of the inventory's racks in scope, polled at
// interval (the rollup cadence).
func New(inv *inventory.Inventory, scope Scope, interval time.Duration, opts Options) *Fleet {
	if opts.EventsPerServer <= 0 {
		opts.EventsPerServer = DefaultEventsPerServer
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	f := &Fleet{
		opts:   opts,
		log:    opts.Logger,
		states: map[string]rollup.ServerState{},
		energy: map[string]*power.EnergyMeter{},
		events: map[string]*eventRing{},
		polls:  map[string][]PollOutcome{},
		agents: map[string]*agentState{},

		implausible: map[string]int{},
	}
	if opts.Registerer != nil {
		f.metrics = newRollupMetrics(opts.Registerer)
	}
	f.setInventory(inv, scope, interval)
	return f
}

// AddSink adds a consumer of polls and cycles and hands it the inventory
// in force. Add sinks before polling starts.
func (f *Fleet) AddSink(s Sink) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sinks = append(f.sinks, s)
	s.SetInventory(f.inv, f.scope, f.interval)
}

// SetInventory applies a (re)loaded inventory: the rollup is rebuilt, the
// state of servers still in scope is kept, and the sinks are told.
func (f *Fleet) SetInventory(inv *inventory.Inventory, scope Scope, interval time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.setInventory(inv, scope, interval)
	for _, s := range f.sinks {
		s.SetInventory(inv, scope, interval)
	}
}

func (f *Fleet) setInventory(inv *inventory.Inventory, scope Scope, interval time.Duration) {
	f.inv, f.scope, f.interval = inv, scope, interval
	f.engine = rollup.NewEngine(inv, rollup.Options{Interval: interval})
	if f.history == nil || f.history.capacity != historyCapacity(interval) {
		f.history = newHistory(interval)
	}
	f.servers = make(map[string]*inventory.Server, inv.Stats().Servers)
	for _, rack := range inv.Racks() {
		if !scope.Has(rack.Name) {
			continue
		}
		for i := range rack.Servers {
			f.servers[rack.Servers[i].Name] = &rack.Servers[i]
		}
	}
	for name := range f.states {
		if _, ok := f.servers[name]; !ok {
			delete(f.states, name)
			delete(f.energy, name)
			delete(f.events, name)
			delete(f.polls, name)
			delete(f.agents, name)
			delete(f.implausible, name)
		}
	}
	kept := make(map[string]bool, len(f.servers))
	for name := range f.servers {
		kept[name] = true
	}
	f.history.forget(kept, scope)
}

// Observe records a poll's outcome (the scheduler's OnPoll) and hands it
// to the sinks. Every reading outside its plausible bound is set aside
// first (bmc.SetAsideImplausible), before the power model, the rollup or
// any sink sees the Snapshot.
func (f *Fleet) Observe(ep bmc.Endpoint, at time.Time, snap *bmc.Snapshot, err error) {
	implausible := 0
	if snap != nil {
		implausible = bmc.SetAsideImplausible(snap)
	}
	f.mu.Lock()
	srv, ok := f.servers[ep.Server]
	if !ok {
		f.mu.Unlock()
		return // a last poll of a server the reloaded inventory dropped
	}
	if snap != nil {
		f.noteImplausible(ep.Server, snap, implausible)
	}
	f.polls[ep.Server] = addOutcome(f.polls[ep.Server], outcomeOf(at, snap, err))
	st := f.states[ep.Server]
	st.Server = ep.Server
	st.Observe(at, snap, err)
	f.states[ep.Server] = st
	p := &Poll{Site: f.inv.Site, Server: srv, At: at, Interval: ep.WithDefaults().Cadence.Readings, Snapshot: snap, Err: err, State: st}
	if snap != nil && st.Power.Known {
		m := f.energy[ep.Server]
		if m == nil {
			// A gap of more than three intervals is reported, not bridged.
			m = power.NewEnergyMeter(3 * f.interval)
			f.energy[ep.Server] = m
		}
		m.Add(at, st.Power.Watts)
		f.history.addTo(f.history.servers, ep.Server, at, st.Power.Watts)
	}
	if m := f.energy[ep.Server]; m != nil {
		p.Energy, p.HasEnergy = m.Energy(), true
	}
	if snap != nil && len(snap.Logs) > 0 {
		r := f.events[ep.Server]
		if r == nil {
			r = &eventRing{}
			f.events[ep.Server] = r
		}
		r.add(f.opts.EventsPerServer, snap.Logs)
	}
	sinks := f.sinks
	f.mu.Unlock()
	for _, s := range sinks {
		s.ObservePoll(p)
	}
}

// noteImplausible logs a server's readings set aside as implausible when
// their number changes (not every poll of a BMC that stays broken), and
// when they are gone. The caller holds f.mu.
func (f *Fleet) noteImplausible(server string, snap *bmc.Snapshot, n int) {
	last := f.implausible[server]
	if n == last {
		return
	}
	if n == 0 {
		delete(f.implausible, server)
		f.log.Info("BMC readings plausible again", "server", server, "rack", snap.Rack)
		return
	}
	f.implausible[server] = n
	var first bmc.Quirk
	for _, q := range snap.Poll.Quirks {
		if strings.HasPrefix(q.Action, "set aside: ") || strings.HasPrefix(q.Action, "left out: not a number") {
			first = q
			break
		}
	}
	f.log.Warn("BMC readings set aside as implausible; the others are used", "server", server, "rack", snap.Rack,
		"set_aside", n, "resource", first.Resource, "property", first.Property, "seen", first.Seen, "action", first.Action)
}

// Rollup rolls the fleet up as of now, publishes the result for the API
// and the metrics, and hands the cycle to the sinks.
func (f *Fleet) Rollup(now time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	res := f.engine.Compute(now, f.states)
	if !f.scope.WholeSite() {
		res = f.scopedRacks(res)
	}
	racks := f.rackPower(now)
	if f.metrics != nil {
		f.metrics.set(res)
		f.metrics.setPower(racks)
	}
	f.racks = racks
	f.rolledUpAt = now
	f.today.roll(now, racks)
	f.view = newView(now, f.interval, f.inv, f.scope, res, racks, &f.today)
	f.history.cycle(f.view)
	c := &Cycle{Time: now, Inventory: f.inv, Scope: f.scope, Result: res, Racks: racks}
	for _, s := range f.sinks {
		s.ObserveCycle(c)
	}
}

// Run rolls the fleet up once per interval (as the inventory in force
// sets it, reloads included) until ctx is done.
func (f *Fleet) Run(ctx context.Context) {
	interval := f.Interval()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			f.Rollup(now)
			if d := f.Interval(); d != interval {
				interval = d
				tick.Reset(d)
			}
		}
	}
}

// Interval is the rollup cadence of the inventory in force.
func (f *Fleet) Interval() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.interval
}

// scopedRacks trims a result to the scope's racks: the levels above are
// the site rollup's to compute, from every rack poller's totals.
func (f *Fleet) scopedRacks(res *rollup.Result) *rollup.Result {
	trimmed := &rollup.Result{Time: res.Time, Freshness: res.Freshness}
	for _, n := range res.Racks {
		if f.scope.Has(n.Name) {
			trimmed.Racks = append(trimmed.Racks, n)
		}
	}
	for _, s := range res.Servers {
		if f.scope.Has(s.Rack) {
			trimmed.Servers = append(trimmed.Servers, s)
		}
	}
	return trimmed
}

// rackPower computes each rack in scope's feeds and energy from its live
// servers.
func (f *Fleet) rackPower(now time.Time) []RackPower {
	var out []RackPower
	for _, rack := range f.inv.Racks() {
		if !f.scope.Has(rack.Name) {
			continue
		}
		rp := RackPower{Rack: rack.Name}
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
