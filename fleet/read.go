package fleet

import (
	"slices"
	"strings"
	"time"

	"github.com/rackpulse/rackpulse/bmc"
	"github.com/rackpulse/rackpulse/inventory"
)

// ServerSummary is one server's latest poll in brief.
type ServerSummary struct {
	Server   string          `json:"server"`
	Rack     string          `json:"rack"`
	Time     time.Time       `json:"time"`
	Health   bmc.Health      `json:"health"`
	Requests int             `json:"requests"`
	Errors   []bmc.PartError `json:"errors,omitempty"`
	LastErr  string          `json:"last_error,omitempty"`
}

// Summaries lists every polled server's latest poll, by name.
func (f *Fleet) Summaries() []ServerSummary {
	f.mu.Lock()
	out := make([]ServerSummary, 0, len(f.states))
	for _, st := range f.states {
		sum := ServerSummary{Server: st.Server}
		if s := st.Snapshot; s != nil {
			sum.Rack, sum.Time, sum.Health, sum.Requests, sum.Errors = s.Rack, s.Time, s.Health(), s.Poll.Requests, s.Poll.Errors
		}
		if st.LastErr != nil {
			sum.LastErr = st.LastErr.Error()
		}
		out = append(out, sum)
	}
	f.mu.Unlock()
	slices.SortFunc(out, func(a, b ServerSummary) int { return strings.Compare(a.Server, b.Server) })
	return out
}

// Snapshot returns a server's last good snapshot. Snapshots are never
// changed once handed over, so the caller may read it without a lock.
func (f *Fleet) Snapshot(server string) (*bmc.Snapshot, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, ok := f.states[server]
	if !ok || st.Snapshot == nil {
		return nil, false
	}
	return st.Snapshot, true
}

// Events returns a server's recent BMC log entries, newest first.
func (f *Fleet) Events(server string) []bmc.LogEntry {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.events[server]
	if r == nil {
		return []bmc.LogEntry{}
	}
	return r.list()
}

// Reporting counts the servers with a good poll.
func (f *Fleet) Reporting() int {
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

// RackPower is the last cycle's rack feeds and energy, in rack order, nil
// before the first cycle. The rollup is the View's. Both are encoded when
// asked for, not every cycle: a large fleet's rollup is megabytes of JSON,
// asked for far less often than it changes.
func (f *Fleet) RackPower() []RackPower {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.racks // replaced each cycle, never changed
}

// Inventory is the inventory in force and the scope polled.
func (f *Fleet) Inventory() (*inventory.Inventory, Scope) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.inv, f.scope
}

// View is the last cycle's View; nil before the first cycle.
func (f *Fleet) View() *View {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.view
}

// History returns the in-memory power history of a server, a rack (and
// its feeds) or the site since from (at most HistoryWindow back).
func (f *Fleet) History(what HistoryOf, from time.Time) []Series {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.history.series(what, from)
}

// Polls returns how a server's last polls went, newest first.
func (f *Fleet) Polls(server string) []PollOutcome {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := slices.Clone(f.polls[server])
	slices.Reverse(out)
	return out
}
