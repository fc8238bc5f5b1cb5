package rollup

import (
	"time"

	"github.com/rackpulse/rackpulse/bmc"
	"github.com/rackpulse/rackpulse/inventory"
	"github.com/rackpulse/rackpulse/power"
)

// DefaultInterval is the poll interval assumed when Options gives none.
const DefaultInterval = 30 * time.Second

// Options tune an Engine.
type Options struct {
	// Interval is the servers' poll interval (default DefaultInterval).
	Interval time.Duration
	// Freshness is how old a server's last good poll may be for it to
	// count as live (default three intervals).
	Freshness time.Duration
}

// ServerState is what the poller knows of one server: its last good
// snapshot, the power read from it, and how its polls went.
type ServerState struct {
	Server string
	// Snapshot is the last good snapshot; nil before the first.
	Snapshot *bmc.Snapshot
	// Power and PSU are read from Snapshot (Observe fills them).
	Power power.Reading
	PSU   power.PSUStatus
	// LastAttempt is when the last poll ended, LastGood when the last poll
	// that returned a snapshot did; LastErr is the last poll's error.
	LastAttempt time.Time
	LastGood    time.Time
	LastErr     error
}

// Observe records one poll of the server, ended at at: a snapshot (possibly
// with part errors) becomes the last good one, with its power and PSU
// redundancy; a poll that returned no snapshot keeps the previous one.
func (s *ServerState) Observe(at time.Time, snap *bmc.Snapshot, err error) {
	s.LastAttempt, s.LastErr = at, err
	if snap == nil {
		return
	}
	s.Snapshot, s.LastGood = snap, at
	s.Power = power.ServerPower(snap, at)
	s.PSU = power.PSURedundancy(snap, s.Power)
}

// Engine rolls server states up the site's tree. Build it once per
// inventory with NewEngine; Compute and ComputeFromRacks reuse its buffers,
// so the Result they return is valid until the next call. An Engine is not
// safe for concurrent use.
type Engine struct {
	opts    Options
	site    string
	servers []serverInfo
	racks   []rackInfo
	rows    []rowInfo
	rooms   []string
	index   index
	result  Result
	// cache holds each server's component faults, keyed by the snapshot
	// they were counted from.
	cache []faultCache
}

type serverInfo struct {
	name string
	rack int
}

type rackInfo struct {
	name, room, row string
	rowIdx          int
	budget          float64
	first, end      int // servers[first:end]
}

type rowInfo struct {
	name, room string
	roomIdx    int
}

type faultCache struct {
	snap   *bmc.Snapshot
	faults Faults
}

type index struct {
	servers map[string]int
	racks   map[string]int
	rows    map[[2]string]int
	rooms   map[string]int
}

// NewEngine builds an engine for the inventory's tree. The inventory is
// read now and not kept.
func NewEngine(inv *inventory.Inventory, opts Options) *Engine {
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	if opts.Freshness <= 0 {
		opts.Freshness = 3 * opts.Interval
	}
	st := inv.Stats()
	e := &Engine{
		opts:    opts,
		site:    inv.Site,
		servers: make([]serverInfo, 0, st.Servers),
		racks:   make([]rackInfo, 0, st.Racks),
		rows:    make([]rowInfo, 0, st.Rows),
		rooms:   make([]string, 0, st.Rooms),
		index: index{
			servers: make(map[string]int, st.Servers),
			racks:   make(map[string]int, st.Racks),
			rows:    make(map[[2]string]int, st.Rows),
			rooms:   make(map[string]int, st.Rooms),
		},
	}
	for _, room := range inv.Rooms {
		roomIdx := len(e.rooms)
		e.index.rooms[room.Name] = roomIdx
		e.rooms = append(e.rooms, room.Name)
		for _, row := range room.Rows {
			rowIdx := len(e.rows)
			e.index.rows[[2]string{room.Name, row.Name}] = rowIdx
			e.rows = append(e.rows, rowInfo{name: row.Name, room: room.Name, roomIdx: roomIdx})
			for _, rack := range row.Racks {
				rackIdx := len(e.racks)
				e.index.racks[rack.Name] = rackIdx
				ri := rackInfo{name: rack.Name, room: room.Name, row: row.Name, rowIdx: rowIdx,
					budget: rack.PowerBudgetWatts, first: len(e.servers)}
				for _, srv := range rack.Servers {
					e.index.servers[srv.Name] = len(e.servers)
					e.servers = append(e.servers, serverInfo{name: srv.Name, rack: rackIdx})
				}
				ri.end = len(e.servers)
				e.racks = append(e.racks, ri)
			}
		}
	}
	e.cache = make([]faultCache, len(e.servers))
	r := &e.result
	r.index = &e.index
	r.Site.Name = inv.Site
	r.Servers = make([]ServerResult, len(e.servers))
	for i, s := range e.servers {
		r.Servers[i] = ServerResult{Name: s.name, Rack: e.racks[s.rack].name}
	}
	r.Racks = make([]Node, len(e.racks))
	for i, rk := range e.racks {
		r.Racks[i] = Node{Name: rk.name, Room: rk.room, Row: rk.row}
	}
	r.Rows = make([]Node, len(e.rows))
	for i, rw := range e.rows {
		r.Rows[i] = Node{Name: rw.name, Room: rw.room}
	}
	r.Rooms = make([]Node, len(e.rooms))
	for i, name := range e.rooms {
		r.Rooms[i] = Node{Name: name}
	}
	return e
}

// Options returns the engine's options with defaults applied.
func (e *Engine) Options() Options { return e.opts }

// Compute rolls the servers' states up at now. states is keyed by server
// name; a server of the inventory without an entry has not been polled. A
// server is live when its last good poll is within the freshness window;
// only live servers with a power reading are summed into Watts. A stale
// server's last good watts go to EstimatedWatts, apart from Watts. Faults
// are counted from live servers' snapshots, plus a BMC fault for each server
// whose last poll failed (Warning) or that is stale after being polled
// (Critical).
func (e *Engine) Compute(now time.Time, states map[string]ServerState) *Result {
	r := &e.result
	r.Time, r.Freshness, r.FromRacks = now, e.opts.Freshness, false
	r.Servers = r.Servers[:len(e.servers)]
	e.reset()
	for i := range e.servers {
		srv := &r.Servers[i]
		st, ok := states[e.servers[i].name]
		e.serverResult(srv, i, now, st, ok)
		rack := &r.Racks[e.servers[i].rack]
		rack.addServer(srv)
	}
	for i := range r.Racks {
		rack := &r.Racks[i]
		rack.setBudget(e.racks[i].budget)
		r.Rows[e.racks[i].rowIdx].addChild(&rack.Totals)
	}
	e.sumUp()
	return r
}

func (e *Engine) serverResult(srv *ServerResult, i int, now time.Time, st ServerState, ok bool) {
	*srv = ServerResult{Name: srv.Name, Rack: srv.Rack, Status: StatusNotPolled, Redundancy: power.RedundancyUnknown}
	if !ok {
		return
	}
	srv.LastGood = st.LastGood
	polled := !st.LastAttempt.IsZero() || st.Snapshot != nil
	if !polled {
		return
	}
	live := st.Snapshot != nil && !st.LastGood.IsZero() && now.Sub(st.LastGood) <= e.opts.Freshness
	// A server's power is summed only when it is a plausible server's:
	// one server's absurd reading never hides the others'.
	unusable := ""
	if st.Snapshot != nil {
		unusable = power.Unusable(st.Power)
		if !st.Power.Known && len(st.Power.SetAside) == 0 {
			unusable = "" // it publishes none: nothing was set aside
		}
	}
	if !live {
		srv.Status = StatusStale
		srv.Faults.add(ComponentBMC, SeverityCritical)
		if st.Snapshot != nil && st.Power.Known && unusable == "" {
			srv.EstimatedWatts = st.Power.Watts
		}
		srv.PowerSetAside = unusable
		return
	}
	srv.Status = StatusLive
	srv.PowerSetAside = unusable
	if st.Power.Known && unusable == "" {
		srv.Watts, srv.PowerKnown, srv.PowerSource = st.Power.Watts, true, st.Power.Source
	}
	if st.PSU.Redundancy != "" {
		srv.Redundancy, srv.RedundancyReason = st.PSU.Redundancy, st.PSU.Reason
	}
	c := &e.cache[i]
	if c.snap != st.Snapshot {
		c.snap, c.faults = st.Snapshot, componentFaults(st.Snapshot)
	}
	srv.Faults = c.faults
	if st.LastErr != nil && st.LastAttempt.After(st.LastGood) {
		srv.Faults.add(ComponentBMC, SeverityWarning)
	}
}

// reset zeroes every node's totals, keeping names.
func (e *Engine) reset() {
	r := &e.result
	for _, nodes := range [][]Node{r.Racks, r.Rows, r.Rooms} {
		for i := range nodes {
			nodes[i].reset()
		}
	}
	r.Site.reset()
}

// sumUp adds rows into rooms and rooms into the site, and sets the
// utilization of every level above racks.
func (e *Engine) sumUp() {
	r := &e.result
	for i := range r.Rows {
		r.Rows[i].finish()
		r.Rooms[e.rows[i].roomIdx].addChild(&r.Rows[i].Totals)
	}
	for i := range r.Rooms {
		r.Rooms[i].finish()
		r.Site.addChild(&r.Rooms[i].Totals)
	}
	r.Site.finish()
}
