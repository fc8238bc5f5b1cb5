package rollup

import (
	"fmt"
	"time"

	"github.com/rackpulse/rackpulse/bmc"
)

// RackTotals are a rack's totals as a rack poller stored them, and when it
// computed them.
type RackTotals struct {
	Time time.Time
	Totals
}

// ComputeFromRacks rolls stored rack totals up to rows, rooms and the site,
// for the site-level role that sees no servers. Budgets and server counts
// come from the inventory. A rack whose totals are older than freshness, or
// absent, is silent: none of its servers count as live, its last watts (and
// last estimate) go to EstimatedWatts, its faults are not counted, and
// SilentRacks says so at every level above it. freshness 0 means the
// engine's freshness window.
func (e *Engine) ComputeFromRacks(now time.Time, racks map[string]RackTotals, freshness time.Duration) *Result {
	if freshness <= 0 {
		freshness = e.opts.Freshness
	}
	r := &e.result
	r.Time, r.Freshness, r.FromRacks = now, freshness, true
	r.Servers = r.Servers[:0]
	e.reset()
	for i := range r.Racks {
		info := &e.racks[i]
		n := &r.Racks[i]
		servers := info.end - info.first
		stored, ok := racks[info.name]
		if ok {
			n.DataTime = stored.Time
		}
		why := ""
		if ok {
			why = unusableTotals(&stored.Totals)
		}
		if ok && why != "" && now.Sub(stored.Time) <= freshness {
			// Fresh but not numbers: nothing of it is summed.
			n.SetAside = why
			n.Servers, n.NotLive = servers, servers
		} else if ok && now.Sub(stored.Time) <= freshness {
			n.Totals = stored.Totals
			// Counts from the inventory: the stored ones may be older.
			if n.Servers != servers {
				n.NotLive = max(servers-n.Reporting-n.NoReading, 0)
				n.Servers = servers
			}
			n.Racks, n.UnbudgetedRacks, n.RacksOverBudget, n.SilentRacks = 0, 0, 0, 0
			n.BudgetedWatts, n.UtilizationPct = 0, 0
		} else {
			n.Silent = true
			n.Servers, n.NotLive, n.SilentRacks = servers, servers, 1
			if ok && why == "" {
				n.EstimatedWatts = stored.Watts + stored.EstimatedWatts
			}
		}
		n.noteDecimals(n.Watts, n.EstimatedWatts)
		n.setBudget(info.budget)
		r.Rows[info.rowIdx].addChild(&n.Totals)
	}
	e.sumUp()
	return r
}

// unusableTotals says why stored rack totals cannot be summed (a watts
// figure that is not a number, negative, or beyond any rack's power,
// bmc.MaxRackWatts), or "" when they can.
func unusableTotals(t *Totals) string {
	for _, f := range []struct {
		name string
		v    float64
	}{{"watts", t.Watts}, {"estimated_watts", t.EstimatedWatts}} {
		if !bmc.Finite(f.v) || f.v < 0 || f.v > bmc.MaxRackWatts {
			return fmt.Sprintf("stored %s %g is not a rack's power", f.name, f.v)
		}
	}
	return ""
}
