package alert

import (
	"log/slog"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/influxdata/influxdb-client-go/v2/api/write"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/rackpulse/rackpulse/bmc"
	"github.com/rackpulse/rackpulse/fleet"
	"github.com/rackpulse/rackpulse/inventory"
	"github.com/rackpulse/rackpulse/rollup"
	"github.com/rackpulse/rackpulse/storage"
)

// DefaultResolvedRetention is how long a resolved alert is still listed
// on the API and sent again to Alertmanager (as Prometheus does, so that a
// lost notification of the resolve is made good).
const DefaultResolvedRetention = 15 * time.Minute

// maxResolved bounds the resolved alerts kept for the API.
const maxResolved = 1000

// Notifier delivers alerts (Alertmanager). Notify must not block: it
// queues, boundedly, and delivers from its own goroutine.
type Notifier interface {
	Notify(alerts []Alert)
}

// PointWriter queues points for InfluxDB without blocking.
type PointWriter interface {
	Write(points ...*write.Point)
}

// Options configure an Engine.
type Options struct {
	// Settings are the rules' settings before the inventory's overrides:
	// DefaultSettings overlaid with the config file's.
	Settings Settings
	// StateDir keeps the alert state (alerts.json) across restarts; empty:
	// kept in memory only.
	StateDir string
	// ExternalURL is rackpulse's own address as the people who get alerts
	// reach it (generatorURL); empty: no link.
	ExternalURL string
	Notifiers   []Notifier
	// Points receives an alert point per state change (InfluxDB).
	Points            PointWriter
	Registerer        prometheus.Registerer
	Logger            *slog.Logger
	ResolvedRetention time.Duration
}

// Engine evaluates the alert rules after every poll and every rollup
// cycle (it is a fleet.Sink), keeps each alert's state with its
// for-duration and dead band, and hands every change, and every firing
// alert again each cycle, to its notifiers. It is safe for concurrent use.
type Engine struct {
	opts    Options
	log     *slog.Logger
	metrics *metrics

	// saveMu orders writes of the state file, done without mu.
	saveMu sync.Mutex

	mu       sync.Mutex
	site     string
	servers  map[string]*serverState
	racks    map[string]*rackState
	resolved []Alert
	// eval and changed are scratch space reused across evaluations.
	eval    serverEval
	changed []Alert
	// seq numbers evaluations; dirty: the state changed since it was
	// last saved.
	seq   uint64
	dirty bool
}

var _ fleet.Sink = (*Engine)(nil)

// serverState is what the engine knows of one server.
type serverState struct {
	name     string
	srv      *inventory.Server
	settings Settings
	// interval is the server's poll interval; firstSeen when the engine
	// first heard of a poll of it; lastGood its last good poll.
	interval  time.Duration
	firstSeen time.Time
	lastGood  time.Time
	lastErr   error
	alerts    []*active
	dimms     []dimmTrack
	events    []eventCondition
	// names remembers the CPU labels of sensor and socket names.
	names []nameLabel
	// agent is what is known of the host's agent (nil before a report);
	// hostOff whether the BMC's last good poll found the host off.
	agent   *agentView
	hostOff bool
}

// rackState is what the engine knows of one rack.
type rackState struct {
	name, room, row string
	settings        Settings
	alerts          []*active
}

// active is an alert that is pending or firing.
type active struct {
	key
	alert       Alert
	hits        int
	fromReading bool
	// last is the finding of the last evaluation that found the condition.
	last finding
	// seen is the evaluation that last found its condition.
	seen uint64
}

// New builds an engine, restoring the alerts that were firing when the
// state under StateDir was saved.
func New(opts Options) *Engine {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Settings == (Settings{}) {
		opts.Settings = DefaultSettings()
	}
	if opts.ResolvedRetention <= 0 {
		opts.ResolvedRetention = DefaultResolvedRetention
	}
	e := &Engine{
		opts:    opts,
		log:     opts.Logger,
		metrics: newMetrics(opts.Registerer),
		servers: map[string]*serverState{},
		racks:   map[string]*rackState{},
	}
	e.restore()
	return e
}

// SetInventory applies the inventory in force: each server's and rack's
// settings, and the resolve of every alert of a server or rack no longer
// in scope.
func (e *Engine) SetInventory(inv *inventory.Inventory, scope fleet.Scope, _ time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := time.Now()
	e.site = inv.Site
	inScope := map[string]bool{}
	racks := map[string]bool{}
	for _, rack := range inv.Racks() {
		if !scope.Has(rack.Name) {
			continue
		}
		racks[rack.Name] = true
		rs := e.racks[rack.Name]
		if rs == nil {
			rs = &rackState{name: rack.Name}
			e.racks[rack.Name] = rs
		}
		rs.room, rs.row = rack.Room, rack.Row
		rs.settings = e.opts.Settings.Overlay(rack.Alerts)
		for i := range rack.Servers {
			srv := &rack.Servers[i]
			inScope[srv.Name] = true
			st := e.servers[srv.Name]
			if st == nil {
				st = &serverState{name: srv.Name}
				e.servers[srv.Name] = st
			}
			st.srv = srv
			st.settings = e.opts.Settings.Overlay(srv.Alerts)
			for _, a := range st.alerts {
				if a.alert.State == StateFiring {
					e.label(a, st)
				}
			}
		}
	}
	for name, st := range e.servers {
		if !inScope[name] {
			for _, a := range st.alerts {
				e.resolve(a, now, "the server left the inventory")
			}
			delete(e.servers, name)
			e.dirty = true
		}
	}
	for name, rs := range e.racks {
		if !racks[name] {
			for _, a := range rs.alerts {
				e.resolve(a, now, "the rack left the inventory")
			}
			delete(e.racks, name)
			e.dirty = true
		}
	}
	e.flush()
}

// ObservePoll evaluates a server's rules on a good poll, or
// BMCUnreachable on a failed one. A failed poll resolves nothing.
func (e *Engine) ObservePoll(p *fleet.Poll) {
	e.mu.Lock()
	defer e.mu.Unlock()
	start := time.Now()
	defer func() { e.metrics.pollSeconds.Add(time.Since(start).Seconds()) }()
	st := e.servers[p.Server.Name]
	if st == nil {
		return // not in the inventory in force
	}
	if st.firstSeen.IsZero() {
		st.firstSeen = p.At
	}
	st.interval = p.Interval
	if p.Snapshot == nil {
		st.lastErr = p.Err
		e.unreachable(st, p.At)
		e.flush()
		return
	}
	st.lastGood, st.lastErr = p.At, nil
	st.hostOff = len(p.Snapshot.Systems) > 0 && !slices.ContainsFunc(p.Snapshot.Systems, func(s bmc.System) bool { return s.PowerState != "Off" })
	e.evaluateServer(st, p)
	e.flush()
}

// evaluateServer runs every server rule on a good poll.
func (e *Engine) evaluateServer(st *serverState, p *fleet.Poll) {
	ev := &e.eval
	*ev = serverEval{st: st, snap: p.Snapshot, psu: p.State.PSU, set: &st.settings, now: p.At, found: ev.found[:0], sockets: ev.sockets[:0]}
	e.observeEvents(st, p.Snapshot, p.At)
	set := &st.settings
	if set.enabled(ruleDIMM) {
		ev.dimms()
	}
	// One pass over the sensors for CPUHot, InletHot and FanFailed: a
	// server's sensors are most of what a poll brings.
	ev.sensors(set.enabled(ruleCPU), set.enabled(ruleInlet), set.enabled(ruleFan))
	if set.enabled(rulePSUFailed) || set.enabled(rulePSURedundancy) {
		ev.psus()
	}
	if set.enabled(ruleDrive) {
		ev.drives()
	}
	found := ev.found[:0]
	for _, f := range ev.found {
		if set.enabled(f.rule) {
			found = append(found, f)
		}
	}
	// Every server rule but BMCUnreachable was evaluated; a good poll is
	// the reading that resolves BMCUnreachable.
	evaluated := ruleSet(1<<ruleUnreachable) | serverRules
	e.reconcile(&st.alerts, found, p.At, evaluated, "", func(a *active) int { return e.forOf(a.rule, set) },
		func(a *active) bool { return a.rule == ruleUnreachable || !a.fromReading || ev.shows(a.key) },
		func(a *active) { e.label(a, st) })
	e.dirty = e.dirty || ev.changed
}

// serverRules are the rules evaluated on a server's good poll.
const serverRules = ruleSet(1<<ruleDIMM | 1<<ruleCPU | 1<<rulePSUFailed | 1<<rulePSURedundancy | 1<<ruleFan | 1<<ruleDrive | 1<<ruleInlet)

// forOf is how many consecutive evaluations a rule's condition must hold
// before it fires.
func (e *Engine) forOf(r rule, set *Settings) int {
	switch r {
	case ruleCPU, ruleInlet:
		return set.TemperatureForPolls
	case ruleRackBudget, ruleFeedFailover:
		return set.RackForCycles
	}
	return 1
}

// observeEvents turns a poll's new log entries into event conditions, and
// clears those that an entry says are over.
func (e *Engine) observeEvents(st *serverState, snap *bmc.Snapshot, now time.Time) {
	kept := st.events[:0]
	for _, c := range st.events {
		if now.Before(c.Until) {
			kept = append(kept, c)
		}
	}
	if len(kept) != len(st.events) {
		e.dirty = true
	}
	st.events = kept
	for i := range snap.Logs {
		le := &snap.Logs[i]
		v, ok := classifyEvent(le)
		if !ok {
			continue
		}
		at := le.Time
		if at.IsZero() || at.After(now) {
			at = now
		}
		if v.clears {
			st.clearEventsBefore(v.rule, le.Subject, at)
			continue
		}
		hold := st.settings.DIMMEventHold
		if v.rule == ruleCPU {
			hold = st.settings.CPUEventHold
		}
		if !now.Before(at.Add(hold)) {
			continue // an old entry: its hold is over
		}
		src := "log entry " + le.ID
		if le.Source != "" {
			src += " (" + le.Source + ")"
		}
		if le.Message != "" {
			src += ": " + strconv.Quote(le.Message)
		}
		c := eventCondition{Rule: v.rule, Subject: le.Subject, Sev: v.sev, At: at, Until: at.Add(hold), What: v.what, Source: src}
		i := slices.IndexFunc(st.events, func(x eventCondition) bool { return x.Rule == c.Rule && x.Subject == c.Subject })
		switch {
		case i < 0:
			st.events = append(st.events, c)
		case c.Sev >= st.events[i].Sev || !now.Before(st.events[i].Until):
			if c.Until.Before(st.events[i].Until) {
				c.Until = st.events[i].Until
			}
			st.events[i] = c
		}
		e.dirty = true
	}
}

// clearEventsBefore drops a subject's event conditions raised at or
// before t (an entry at t says it is OK again).
func (st *serverState) clearEventsBefore(r rule, subject string, t time.Time) {
	st.events = slices.DeleteFunc(st.events, func(c eventCondition) bool {
		return c.Rule == r && c.Subject == subject && !c.At.After(t)
	})
}

// clearEvents drops a subject's event conditions (its part was replaced).
func (st *serverState) clearEvents(r rule, subject string, _ time.Time) {
	st.events = slices.DeleteFunc(st.events, func(c eventCondition) bool { return c.Rule == r && c.Subject == subject })
}

// dimm returns the counter track of the DIMM at index i of the snapshot
// with slot, making one if there is none.
func (st *serverState) dimm(i int, slot string) *dimmTrack {
	if i < len(st.dimms) && st.dimms[i].Slot == slot {
		return &st.dimms[i]
	}
	for j := range st.dimms {
		if st.dimms[j].Slot == slot {
			return &st.dimms[j]
		}
	}
	st.dimms = append(st.dimms, dimmTrack{Slot: slot})
	return &st.dimms[len(st.dimms)-1]
}

// unreachable evaluates BMCUnreachable: no good poll for
// UnreachableIntervals intervals.
func (e *Engine) unreachable(st *serverState, now time.Time) {
	if st.lastErr == nil || !st.settings.enabled(ruleUnreachable) || st.interval <= 0 {
		return
	}
	// Only the time this process has watched counts: after a restart
	// the BMC gets UnreachableIntervals again, whatever its last good
	// poll before it.
	since := st.lastGood
	if since.Before(st.firstSeen) {
		since = st.firstSeen
	}
	limit := time.Duration(st.settings.UnreachableIntervals) * st.interval
	var found []finding
	if d := now.Sub(since); d >= limit {
		what := "no good poll for " + d.Truncate(time.Second).String()
		if !st.lastGood.IsZero() {
			what += ", the last at " + st.lastGood.UTC().Format(time.RFC3339)
		}
		found = append(found, finding{key: key{rule: ruleUnreachable, subject: ""}, sev: SeverityWarning, fromReading: true,
			value: d.Seconds(), threshold: limit.Seconds(), hasValue: true, hasThresh: true,
			what: what, source: unreachableReason(st.lastErr)})
	}
	e.reconcile(&st.alerts, found, now, 1<<ruleUnreachable, "", func(*active) int { return 1 },
		func(*active) bool { return false }, // only a good poll resolves it
		func(a *active) { e.label(a, st) })
}

// unreachableReason explains a failed poll; a refused login is its own
// reason, since no amount of waiting fixes it.
func unreachableReason(err error) string {
	switch bmc.KindOf(err) {
	case bmc.ErrKindAuth:
		return "the BMC refused the credentials (wrong user or password): " + err.Error()
	case bmc.ErrKindTimeout:
		return "the BMC did not answer in time: " + err.Error()
	}
	if err == nil {
		return "no good poll"
	}
	return "last poll: " + err.Error()
}

// ObserveCycle evaluates the rack rules on a rollup cycle and
// BMCUnreachable for every server whose last poll failed, then sends
// every firing alert again (and the recently resolved ones) and saves the
// state.
func (e *Engine) ObserveCycle(c *fleet.Cycle) {
	e.mu.Lock()
	start := time.Now()
	for _, st := range e.servers {
		if st.lastErr != nil {
			e.unreachable(st, c.Time)
		}
		e.agentSilent(st, c.Time)
	}
	e.evaluateRacks(c.Time, c.Result, c.Racks)
	e.flush()
	e.resend(c.Time)
	state := e.stateToSave()
	e.metrics.cycleSeconds.Add(time.Since(start).Seconds())
	e.mu.Unlock()
	_ = e.writeState(state)
}

// EvaluateRacks evaluates the rack rules on a rollup made elsewhere (the
// site role's, from stored rack totals and feeds), then sends and saves
// as a cycle does.
func (e *Engine) EvaluateRacks(now time.Time, res *rollup.Result, feeds []fleet.RackPower) {
	e.mu.Lock()
	e.evaluateRacks(now, res, feeds)
	e.flush()
	e.resend(now)
	state := e.stateToSave()
	e.mu.Unlock()
	_ = e.writeState(state)
}

// evaluateRacks runs RackOverBudget on each rack of the rollup and
// FeedFailoverUnsafe on each rack's feeds (when given).
func (e *Engine) evaluateRacks(now time.Time, res *rollup.Result, feeds []fleet.RackPower) {
	for i := range res.Racks {
		n := &res.Racks[i]
		rs := e.racks[n.Name]
		if rs == nil {
			continue
		}
		set := &rs.settings
		var found []finding
		evaluated := ruleSet(0)
		known := n.Reporting > 0 && !n.Silent
		if set.enabled(ruleRackBudget) && n.BudgetWatts > 0 && known {
			evaluated |= 1 << ruleRackBudget
			pct := 100 * n.Watts / n.BudgetWatts
			firing := SeverityNone
			if a := findActive(rs.alerts, key{rule: ruleRackBudget, subject: ""}); a != nil && a.alert.State == StateFiring {
				firing = a.alert.Severity
			}
			sev, thr := thresholdLevel(pct, set.RackBudgetWarningPercent, set.RackBudgetCriticalPercent, set.RackDeadBandPercent, firing)
			if sev > SeverityNone {
				found = append(found, finding{key: key{rule: ruleRackBudget, subject: ""}, sev: sev, fromReading: true,
					value: pct, threshold: thr, hasValue: true, hasThresh: true,
					what:   formatWatts(n.Watts) + ", " + strconv.FormatFloat(pct, 'f', 0, 64) + " % of its " + formatWatts(n.BudgetWatts) + " budget",
					source: strconv.Itoa(n.Reporting) + " of " + strconv.Itoa(n.Servers) + " servers reporting"})
			}
		}
		if set.enabled(ruleFeedFailover) {
			for j := range feeds {
				if feeds[j].Rack != n.Name || feeds[j].Feeds.Servers == 0 {
					continue
				}
				evaluated |= 1 << ruleFeedFailover
				for _, fo := range feeds[j].Feeds.Failover {
					if fo.CapacityWatts <= 0 {
						continue
					}
					firing := findActive(rs.alerts, key{rule: ruleFeedFailover, subject: fo.Failed})
					unsafe := fo.Overloaded || fo.HeadroomWatts < 0
					if !unsafe && !(firing != nil && firing.alert.State == StateFiring && fo.HeadroomPct < set.FeedDeadBandPercent) {
						continue
					}
					found = append(found, finding{key: key{rule: ruleFeedFailover, subject: fo.Failed}, sev: SeverityWarning, fromReading: true,
						value: fo.LoadWatts, threshold: fo.CapacityWatts, hasValue: true, hasThresh: true,
						what:   "if feed " + fo.Failed + " fails, " + survivor(fo.Survivor) + " must carry " + formatWatts(fo.LoadWatts) + " of its " + formatWatts(fo.CapacityWatts) + " capacity",
						source: strconv.Itoa(feeds[j].Feeds.Servers) + " live servers' PSU loads"})
				}
			}
		}
		e.reconcile(&rs.alerts, found, now, evaluated, "", func(a *active) int { return e.forOf(a.rule, set) },
			func(*active) bool { return true }, func(a *active) { e.labelRack(a, rs) })
	}
}

func survivor(name string) string {
	if name == "" {
		return "the surviving feed"
	}
	return "feed " + name
}

func findActive(as []*active, k key) *active {
	for _, a := range as {
		if a.key == k {
			return a
		}
	}
	return nil
}

func formatWatts(w float64) string {
	if w >= 1000 {
		return strconv.FormatFloat(w/1000, 'f', 1, 64) + " kW"
	}
	return strconv.FormatFloat(w, 'f', 0, 64) + " W"
}

// reconcile applies one evaluation's findings to an owner's alerts, for
// the rules evaluated: a finding starts or advances an alert (firing once
// it has held for forOf evaluations); an alert without a finding resolves
// when recovered says a reading shows recovery, and is held otherwise; a
// pending one is dropped.
func (e *Engine) reconcile(alerts *[]*active, found []finding, now time.Time, evaluated ruleSet, from string,
	forOf func(*active) int, recovered func(*active) bool, label func(*active)) {
	if len(found) == 0 && len(*alerts) == 0 {
		return
	}
	e.seq++
	seq := e.seq
	for i := range found {
		f := &found[i]
		a := findActive(*alerts, f.key)
		if a == nil {
			a = &active{key: f.key}
			a.alert.ActiveAt = now
			*alerts = append(*alerts, a)
		}
		a.seen = seq
		a.hits++
		a.fromReading = a.fromReading || f.fromReading
		wasFiring, wasSev := a.alert.State == StateFiring, a.alert.Severity
		a.alert.Severity = f.sev
		a.last = *f
		if f.hasValue {
			v := f.value
			a.alert.Value = &v
		}
		if f.hasThresh {
			t := f.threshold
			a.alert.Threshold = &t
		}
		switch {
		case !wasFiring && a.hits >= forOf(a):
			a.alert.State, a.alert.StartsAt = StateFiring, now
			label(a)
			e.record(a.alert, now, "")
		case wasFiring && wasSev != f.sev:
			// Severity is a label: the alert at the old severity ends and
			// one at the new severity starts.
			old := a.alert
			old.State, old.EndsAt = StateResolved, now
			old.Severity = wasSev
			e.record(old, now, "severity changed to "+f.sev.String())
			a.alert.StartsAt = now
			label(a)
			e.record(a.alert, now, "")
		default:
			label(a)
		}
	}
	kept := (*alerts)[:0]
	for _, a := range *alerts {
		switch {
		case a.seen == seq || evaluated&(1<<a.rule) == 0 || a.from != from:
			kept = append(kept, a)
		case a.alert.State == StatePending:
			// The condition did not last: nothing was sent.
		case recovered(a):
			e.resolve(a, now, "")
		default:
			kept = append(kept, a) // missing is not OK: held
		}
	}
	clear((*alerts)[len(kept):])
	*alerts = kept
}

// record notes a change of an alert's state: the log line, the alert
// point, the metrics, and the notifiers' queue.
func (e *Engine) record(al Alert, now time.Time, why string) {
	e.dirty = true
	e.changed = append(e.changed, al)
	e.metrics.change(al)
	attrs := []any{"alertname", al.Name, "severity", al.Severity.String(), "rack", al.Labels["rack"]}
	if s := al.Labels["server"]; s != "" {
		attrs = append(attrs, "server", s)
	}
	if comp := componentLabel(al); comp != "" {
		attrs = append(attrs, comp, al.Labels[comp])
	}
	attrs = append(attrs, "summary", al.Annotations.Summary)
	if why != "" {
		attrs = append(attrs, "why", why)
	}
	if al.State == StateFiring {
		e.log.Warn("alert firing", attrs...)
	} else {
		e.log.Info("alert resolved", attrs...)
	}
	if e.opts.Points != nil {
		comp := componentLabel(al)
		p := storage.AlertPoint{Name: al.Name, Severity: al.Severity.String(), State: al.State.String(),
			Location:  storage.Location{Site: al.Labels["site"], Room: al.Labels["room"], Row: al.Labels["row"], Rack: al.Labels["rack"], Server: al.Labels["server"]},
			Component: comp, Subject: al.Labels[comp], Summary: al.Annotations.Summary, Value: al.Value, Threshold: al.Threshold, Time: now}
		e.opts.Points.Write(p.Point())
	}
}

// componentLabel is the name of an alert's component label, "" for none.
func componentLabel(al Alert) string {
	if r, ok := ruleNamed(al.Name); ok {
		return r.info().component
	}
	return ""
}

// resolve ends a firing alert.
func (e *Engine) resolve(a *active, now time.Time, why string) {
	if a.alert.State != StateFiring {
		return
	}
	a.alert.State, a.alert.EndsAt = StateResolved, now
	e.record(a.alert, now, why)
	e.resolved = append(e.resolved, a.alert)
	if len(e.resolved) > maxResolved {
		e.resolved = slices.Delete(e.resolved, 0, len(e.resolved)-maxResolved)
	}
}

// flush hands the changes of the evaluation just done to the notifiers.
func (e *Engine) flush() {
	if len(e.changed) == 0 {
		return
	}
	batch := slices.Clone(e.changed)
	clear(e.changed)
	e.changed = e.changed[:0]
	for _, n := range e.opts.Notifiers {
		n.Notify(batch)
	}
}

// resend sends every firing alert again, with the resolved ones of the
// retention window, and drops resolved alerts kept too long.
func (e *Engine) resend(now time.Time) {
	cut := 0
	for cut < len(e.resolved) && now.Sub(e.resolved[cut].EndsAt) > 24*time.Hour {
		cut++
	}
	e.resolved = slices.Delete(e.resolved, 0, cut)
	if len(e.opts.Notifiers) == 0 {
		return
	}
	var batch []Alert
	e.eachActive(func(a *active) {
		if a.alert.State == StateFiring {
			batch = append(batch, a.alert)
		}
	})
	for _, r := range e.resolved {
		if now.Sub(r.EndsAt) <= e.opts.ResolvedRetention {
			batch = append(batch, r)
		}
	}
	if len(batch) == 0 {
		return
	}
	for _, n := range e.opts.Notifiers {
		n.Notify(batch)
	}
}

func (e *Engine) eachActive(fn func(*active)) {
	for _, st := range e.servers {
		for _, a := range st.alerts {
			fn(a)
		}
	}
	for _, rs := range e.racks {
		for _, a := range rs.alerts {
			fn(a)
		}
	}
}

// Alerts lists the pending and firing alerts and those resolved in the
// last 24 hours (newest resolves last).
func (e *Engine) Alerts() []Alert {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Alert
	e.eachActive(func(a *active) {
		al := a.alert
		if al.Labels == nil {
			al.Labels = map[string]string{}
		}
		out = append(out, al)
	})
	slices.SortFunc(out, func(a, b Alert) int { return a.ActiveAt.Compare(b.ActiveAt) })
	return append(out, e.resolved...)
}

// Close saves the state.
func (e *Engine) Close() error {
	e.mu.Lock()
	e.dirty = true
	state := e.stateToSave()
	e.mu.Unlock()
	return e.writeState(state)
}

// generatorURL links to rackpulse's view of a server, or of the rollup.
func (e *Engine) generatorURL(server string) string {
	if e.opts.ExternalURL == "" {
		return ""
	}
	if server == "" {
		return e.opts.ExternalURL + "/api/rollup"
	}
	return e.opts.ExternalURL + "/api/servers?server=" + url.QueryEscape(server)
}
