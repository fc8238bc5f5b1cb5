package rollup

import (
	"math"
	"time"

	"github.com/rackpulse/rackpulse/bmc"
	"github.com/rackpulse/rackpulse/power"
)

// Status is whether a server's numbers are current.
type Status uint8

// Server statuses.
const (
	// StatusNotPolled: no poll has ended for the server yet.
	StatusNotPolled Status = iota
	// StatusLive: a good poll within the freshness window.
	StatusLive
	// StatusStale: polled, but no good poll within the freshness window.
	StatusStale
)

func (s Status) String() string {
	switch s {
	case StatusLive:
		return "live"
	case StatusStale:
		return "stale"
	}
	return "not_polled"
}

// MarshalText writes the status's name.
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// ServerResult is one server's numbers in a rollup.
type ServerResult struct {
	Name string `json:"name"`
	Rack string `json:"rack"`
	// Status says whether the numbers are current.
	Status Status `json:"status"`
	// Watts is the live input power, set when Status is live and
	// PowerKnown; PowerSource where it came from.
	Watts       float64         `json:"watts"`
	PowerKnown  bool            `json:"power_known"`
	PowerSource bmc.PowerSource `json:"power_source,omitempty"`
	// EstimatedWatts is a stale server's last good reading: an estimate,
	// never summed into Watts.
	EstimatedWatts float64 `json:"estimated_watts,omitempty"`
	// PowerSetAside says why a server that has been read has no power in
	// Watts or EstimatedWatts: its readings were set aside (with their
	// reasons), or what it read is not a plausible server's power.
	PowerSetAside string `json:"power_set_aside,omitempty"`
	// Redundancy is the live server's PSU redundancy verdict (unknown
	// when not live), RedundancyReason what made it so.
	Redundancy       power.Redundancy `json:"psu_redundancy"`
	RedundancyReason string           `json:"psu_redundancy_reason,omitempty"`
	Faults           Faults           `json:"faults"`
	LastGood         time.Time        `json:"last_good,omitzero"`
}

// Totals are the numbers of one rack, row, room or the site.
type Totals struct {
	// Watts sums the live servers with a power reading.
	Watts float64 `json:"watts"`
	// EstimatedWatts sums the last good readings of servers that are not
	// live (and, from rack totals, the last readings of silent racks): an
	// estimate of what is not measured now, never part of Watts.
	EstimatedWatts float64 `json:"estimated_watts"`
	// BudgetWatts is the rack's power budget; above racks, the sum of the
	// budgets below. 0 when no rack below has one.
	BudgetWatts float64 `json:"budget_watts"`
	// BudgetedWatts is the Watts of the racks that have a budget, and
	// UtilizationPct BudgetedWatts over BudgetWatts (0 without a budget):
	// racks without a budget do not inflate utilization.
	BudgetedWatts  float64 `json:"budgeted_watts"`
	UtilizationPct float64 `json:"utilization_pct"`
	// Servers counts the inventory's servers: Reporting are live with a
	// power reading, NoReading live without one, NotLive stale, not yet
	// polled, or in a silent rack. Servers = Reporting + NoReading + NotLive.
	Servers   int `json:"servers"`
	Reporting int `json:"reporting"`
	NoReading int `json:"no_reading"`
	NotLive   int `json:"not_live"`
	// Racks counts the racks; UnbudgetedRacks those without a budget,
	// RacksOverBudget those whose Watts exceed their budget, SilentRacks
	// those whose stored totals are older than the freshness window
	// (rollups from rack totals only).
	Racks           int `json:"racks"`
	UnbudgetedRacks int `json:"unbudgeted_racks"`
	RacksOverBudget int `json:"racks_over_budget"`
	SilentRacks     int `json:"silent_racks"`
	// RedundancyLost, RedundancyDegraded and RedundancyNotRedundant count
	// live servers by PSU redundancy verdict: lost (a failure took
	// redundancy away: PSURedundancyLost fires), degraded (it holds, but a
	// supply failed or warns), not_redundant (none by configuration: a
	// single supply, a group configured NotRedundant).
	RedundancyLost         int    `json:"psu_redundancy_lost"`
	RedundancyDegraded     int    `json:"psu_redundancy_degraded"`
	RedundancyNotRedundant int    `json:"psu_redundancy_not_redundant"`
	Faults                 Faults `json:"faults"`

	// decimals is the most decimal places any reading summed here
	// carries (at most maxSumDecimals): the sums are rounded to it, so
	// that 104.8 + 104.8 + 104.8 reads 314.4, not 314.40000000000003.
	decimals int
}

// maxSumDecimals bounds the decimals a sum keeps.
const maxSumDecimals = 3

// decimalsOf is how many decimal places v's shortest representation has,
// at most maxSumDecimals.
func decimalsOf(v float64) int {
	if !bmc.Finite(v) || v == math.Trunc(v) {
		return 0
	}
	for d := 1; d < maxSumDecimals; d++ {
		p := math.Pow10(d)
		if r := math.Round(v*p) / p; r == v {
			return d
		}
	}
	return maxSumDecimals
}

// noteDecimals widens the decimals the sums keep to those of vs.
func (t *Totals) noteDecimals(vs ...float64) {
	for _, v := range vs {
		t.decimals = max(t.decimals, decimalsOf(v))
	}
}

// roundSums rounds the summed watts to the decimals of what was summed,
// and utilization to hundredths of a percent.
func (t *Totals) roundSums() {
	p := math.Pow10(t.decimals)
	round := func(v float64) float64 {
		if !bmc.Finite(v) {
			return v
		}
		return math.Round(v*p) / p
	}
	t.Watts, t.EstimatedWatts = round(t.Watts), round(t.EstimatedWatts)
	t.BudgetWatts, t.BudgetedWatts = round(t.BudgetWatts), round(t.BudgetedWatts)
	if bmc.Finite(t.UtilizationPct) {
		t.UtilizationPct = math.Round(t.UtilizationPct*100) / 100
	}
}

// Coverage is the share of servers reporting, from 0 to 1 (1 when there
// are no servers).
func (t *Totals) Coverage() float64 {
	if t.Servers == 0 {
		return 1
	}
	return float64(t.Reporting) / float64(t.Servers)
}

// Node is one rack, row, room or the site in a rollup.
type Node struct {
	Name string `json:"name"`
	// Room and Row say where the node sits (a row has Room, a rack both).
	Room string `json:"room,omitempty"`
	Row  string `json:"row,omitempty"`
	// Silent marks a rack whose stored totals are older than the freshness
	// window; DataTime is when they were computed (rollups from rack totals).
	Silent   bool      `json:"silent,omitempty"`
	DataTime time.Time `json:"data_time,omitzero"`
	// SetAside says why a rack's stored totals were not used although
	// fresh (a watts figure that is not a number): its servers count as
	// not live, and nothing of it is summed.
	SetAside string `json:"set_aside,omitempty"`
	Totals
}

// Result is one rollup of the whole site. It belongs to the Engine and is
// overwritten by its next Compute or ComputeFromRacks.
type Result struct {
	Time      time.Time     `json:"time"`
	Freshness time.Duration `json:"freshness_ns"`
	// FromRacks is set when the rollup was made from rack totals: Servers
	// is then empty.
	FromRacks bool           `json:"from_racks"`
	Site      Node           `json:"site"`
	Rooms     []Node         `json:"rooms"`
	Rows      []Node         `json:"rows"`
	Racks     []Node         `json:"racks"`
	Servers   []ServerResult `json:"servers"`
	index     *index
}

// Rack returns the named rack's node.
func (r *Result) Rack(name string) (*Node, bool) { return lookup(r.Racks, r.index.racks, name) }

// Row returns a row's node by room and row name.
func (r *Result) Row(room, row string) (*Node, bool) {
	return lookup(r.Rows, r.index.rows, [2]string{room, row})
}

// Room returns the named room's node.
func (r *Result) Room(name string) (*Node, bool) { return lookup(r.Rooms, r.index.rooms, name) }

// Server returns the named server's result (not in rollups from racks).
func (r *Result) Server(name string) (*ServerResult, bool) {
	i, ok := r.index.servers[name]
	if !ok || i >= len(r.Servers) {
		return nil, false
	}
	return &r.Servers[i], true
}

func lookup[K comparable](nodes []Node, idx map[K]int, key K) (*Node, bool) {
	i, ok := idx[key]
	if !ok {
		return nil, false
	}
	return &nodes[i], true
}

func (n *Node) reset() {
	n.Silent, n.DataTime, n.SetAside = false, time.Time{}, ""
	n.Totals = Totals{}
}

// addServer counts one server into a rack.
func (n *Node) addServer(s *ServerResult) {
	t := &n.Totals
	t.Servers++
	switch {
	case s.Status == StatusLive && s.PowerKnown:
		t.Reporting++
		t.Watts += s.Watts
		t.noteDecimals(s.Watts)
	case s.Status == StatusLive:
		t.NoReading++
	default:
		t.NotLive++
		t.EstimatedWatts += s.EstimatedWatts
		t.noteDecimals(s.EstimatedWatts)
	}
	if s.Status == StatusLive {
		switch s.Redundancy {
		case power.RedundancyLost:
			t.RedundancyLost++
		case power.RedundancyDegraded:
			t.RedundancyDegraded++
		case power.RedundancyNotRedundant:
			t.RedundancyNotRedundant++
		}
	}
	t.Faults.merge(&s.Faults)
}

// setBudget sets a rack's budget and utilization from its Watts, its
// sums rounded to the decimals of what was summed.
func (n *Node) setBudget(budget float64) {
	t := &n.Totals
	t.Racks = 1
	if !bmc.Finite(budget) || budget < 0 {
		budget = 0 // not a budget: the rack has none
	}
	t.noteDecimals(budget)
	t.BudgetWatts = budget
	defer t.roundSums()
	if budget <= 0 {
		t.UnbudgetedRacks = 1
		return
	}
	t.BudgetedWatts = t.Watts
	t.UtilizationPct = 100 * t.Watts / budget
	if t.Watts > budget {
		t.RacksOverBudget = 1
	}
}

// addChild adds a child's totals into a row, room or the site.
func (n *Node) addChild(c *Totals) {
	t := &n.Totals
	t.Watts += c.Watts
	t.EstimatedWatts += c.EstimatedWatts
	t.BudgetWatts += c.BudgetWatts
	t.BudgetedWatts += c.BudgetedWatts
	t.Servers += c.Servers
	t.Reporting += c.Reporting
	t.NoReading += c.NoReading
	t.NotLive += c.NotLive
	t.Racks += c.Racks
	t.UnbudgetedRacks += c.UnbudgetedRacks
	t.RacksOverBudget += c.RacksOverBudget
	t.SilentRacks += c.SilentRacks
	t.RedundancyLost += c.RedundancyLost
	t.RedundancyDegraded += c.RedundancyDegraded
	t.RedundancyNotRedundant += c.RedundancyNotRedundant
	t.decimals = max(t.decimals, c.decimals)
	t.Faults.merge(&c.Faults)
}

// finish sets a row's, room's or the site's utilization.
func (n *Node) finish() {
	if n.BudgetWatts > 0 {
		n.UtilizationPct = 100 * n.BudgetedWatts / n.BudgetWatts
	}
	n.roundSums()
}
