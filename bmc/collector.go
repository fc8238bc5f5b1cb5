package bmc

import (
	"context"
	"log/slog"
)

// Collector polls one BMC. It keeps whatever it needs between polls (a
// session, cached static facts, the last log record seen) and releases it on
// Close. Poll returns a Snapshot whenever anything could be read, with the
// failed parts in Snapshot.Poll.Errors; it returns an error (wrapping an
// *Error) only when nothing could be read at all: unreachable, timed out,
// refused credentials.
//
// A Collector is used by one goroutine at a time: the scheduler never runs
// two polls of one BMC at once.
type Collector interface {
	Poll(ctx context.Context) (*Snapshot, error)
	// Close logs out and releases the session. It must be safe to call after
	// a failed Poll and more than once.
	Close(ctx context.Context) error
}

// CollectorOptions are what every collector constructor takes besides the
// endpoint.
type CollectorOptions struct {
	// Logger carries the server (the scheduler's and probe's do): collectors
	// do not add it again.
	Logger *slog.Logger
	// Trace, when set, is called once per request with what it did.
	Trace func(RequestTrace)
	// RecentLogs: on the first read of a log with no saved position, report
	// up to this many of its newest entries. Zero (what serve uses): only
	// record the position, since an old log is not news. Probe sets it so
	// that an operator sees the BMC's recent log.
	RecentLogs int
	// StateDir is where a collector may keep small state files across
	// restarts (the last IPMI SEL record seen). Empty: keep state in memory.
	StateDir string
	// SpreadReads: the parts read on the slow and static cadences are read
	// at this BMC's own phase within their cadence (stable per BMC, as its
	// first fast poll is), not all at the first poll, so that a fleet's
	// slow reads spread over the cadence instead of landing in one
	// interval. A BMC whose health is not OK at its first poll reads them
	// at once. The scheduler sets it; probe, which polls once, does not.
	SpreadReads bool
	// IdleConns, when set, lets a collector keep one connection to its BMC
	// open between polls while the budget has room (nil: every poll's
	// connections are closed at its end).
	IdleConns *IdleConnBudget
	// CertPools, when set, shares the CA pools of the endpoints' CA files
	// among the collectors (nil: each reads and parses its own).
	CertPools *CertPools
}

// NewCollectorFunc builds a collector for an endpoint. The scheduler is given
// one, so that bmc does not import the protocol packages.
type NewCollectorFunc func(Endpoint, CollectorOptions) (Collector, error)
