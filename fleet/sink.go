package fleet

import (
	"time"

	"github.com/rackpulse/rackpulse/bmc"
	"github.com/rackpulse/rackpulse/inventory"
	"github.com/rackpulse/rackpulse/power"
	"github.com/rackpulse/rackpulse/rollup"
)

// Sink takes what the fleet hands on: each inventory in force, each poll
// and each rollup cycle. A sink must not block: one that delivers over the
// network queues (boundedly) and delivers from its own goroutine, so that a
// slow InfluxDB never delays an alert.
type Sink interface {
	// SetInventory is called with the inventory in force at start and
	// after every reload, before any poll of it is observed.
	SetInventory(inv *inventory.Inventory, scope Scope, interval time.Duration)
	// ObservePoll is called after every poll of a server in scope.
	ObservePoll(p *Poll)
	// ObserveCycle is called after every rollup cycle.
	ObserveCycle(c *Cycle)
	// ObserveAgent is called with every accepted agent report.
	ObserveAgent(r *AgentReport)
}

// Scope is the racks a poller publishes: nil for the whole site.
type Scope map[string]bool

// NewScope builds the scope of a rack list; empty means the whole site.
func NewScope(racks []string) Scope {
	if len(racks) == 0 {
		return nil
	}
	s := make(Scope, len(racks))
	for _, r := range racks {
		s[r] = true
	}
	return s
}

// WholeSite reports whether the scope is the whole site.
func (s Scope) WholeSite() bool { return s == nil }

// Has reports whether a rack is in scope.
func (s Scope) Has(rack string) bool { return s == nil || s[rack] }

// Poll is one poll of one server as the fleet saw it.
type Poll struct {
	Site string
	// Server is the server's inventory entry (rack, row, room, position,
	// effective settings). It belongs to the inventory in force.
	Server *inventory.Server
	// At is when the poll ended; Interval the server's readings interval.
	At       time.Time
	Interval time.Duration
	// Snapshot is what the poll read; nil when the poll failed (Err says
	// why, and State keeps the last good snapshot).
	Snapshot *bmc.Snapshot
	Err      error
	// State is the server's state after this poll.
	State rollup.ServerState
	// Energy is the server's integrated energy, when it has a meter.
	Energy    power.Energy
	HasEnergy bool
}

// Events are the BMC log entries new in this poll.
func (p *Poll) Events() []bmc.LogEntry {
	if p.Snapshot == nil {
		return nil
	}
	return p.Snapshot.Logs
}

// RackPower is a rack's feed load, failover headroom and energy.
type RackPower struct {
	Rack   string         `json:"rack"`
	Feeds  power.FeedLoad `json:"feeds"`
	Energy power.Energy   `json:"energy"`
}

// Cycle is one rollup of the fleet.
type Cycle struct {
	Time      time.Time
	Inventory *inventory.Inventory
	Scope     Scope
	// Result is the rollup, trimmed to the scope's racks when the poller
	// publishes only some. It belongs to the rollup engine: valid only
	// during the call.
	Result *rollup.Result
	// Racks are the published racks' feeds and energy.
	Racks []RackPower
}
