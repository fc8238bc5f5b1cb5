package fleet

import (
	"sync"
	"time"

	"github.com/rackpulse/rackpulse/bmc"
	"github.com/rackpulse/rackpulse/inventory"
	"github.com/rackpulse/rackpulse/rollup"
)

// SiteState is the live state of the site role (rackpulse rollup): the
// rollups it makes from the rack pollers' stored totals and feeds, for the
// dashboard. It sees no servers: their Snapshots are on their rack
// pollers' pages.
type SiteState struct {
	mu      sync.Mutex
	view    *View
	history *history
}

// NewSiteState keeps the site role's views and the last hour of its rack,
// feed and site power.
func NewSiteState(interval time.Duration) *SiteState {
	return &SiteState{history: newHistory(interval)}
}

// Update publishes a cycle's rollup (made from rack totals) and the racks'
// feeds.
func (s *SiteState) Update(now time.Time, interval time.Duration, inv *inventory.Inventory, res *rollup.Result, racks []RackPower) {
	v := newView(now, interval, inv, nil, res, racks, nil)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.view = v
	s.history.cycle(v)
}

// View is the last cycle's View; nil before the first.
func (s *SiteState) View() *View {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.view
}

// Snapshot has none: the site role polls no BMC.
func (s *SiteState) Snapshot(string) (*bmc.Snapshot, bool) { return nil, false }

// Agent has none: agents report to their rack's poller.
func (s *SiteState) Agent(string) (*AgentReport, bool) { return nil, false }

// Polls has none: the site role polls no BMC.
func (s *SiteState) Polls(string) []PollOutcome { return nil }

// Events has none: the site role polls no BMC.
func (s *SiteState) Events(string) []bmc.LogEntry { return nil }

// History returns the in-memory power history of a rack (with its feeds)
// or the site since from.
func (s *SiteState) History(what HistoryOf, from time.Time) []Series {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.history.series(what, from)
}
