package redfish

import (
	"context"
	"testing"

	"github.com/rackpulse/rackpulse/bmc"
)

// With a place in the idle budget, a collector keeps one connection to its
// BMC between polls and the next poll reuses it; a collector past the
// budget, and every collector without one, closes its connections after
// each poll; Close gives the place back.
func TestIdleConnectionKeptWithinTheBudget(t *testing.T) {
	budget := bmc.NewIdleConnBudget(1)
	opts := bmcOpts(t)
	opts.IdleConns = budget

	a, clock := newCollector(t, healthySimBMC(t), opts)
	mustPoll(t, a)
	firstDials := a.conns.dials.Load()
	if n := a.conns.openConns(); n != 1 {
		t.Fatalf("%d connections open after the poll, want the one kept", n)
	}
	if budget.Held() != 1 {
		t.Fatalf("budget holds %d, want 1", budget.Held())
	}
	for range 3 {
		clock.advance(a.ep.Cadence.Readings)
		mustPoll(t, a)
	}
	b, _ := newCollector(t, healthySimBMC(t), opts)
	mustPoll(t, b)
	if n := b.conns.openConns(); n != 0 {
		t.Errorf("a collector past the budget keeps %d connections, want none", n)
	}

	none, noneClock := newCollector(t, healthySimBMC(t), bmcOpts(t))
	mustPoll(t, none)
	noneFirst := none.conns.dials.Load()
	for range 3 {
		noneClock.advance(none.ep.Cadence.Readings)
		mustPoll(t, none)
		if n := none.conns.openConns(); n != 0 {
			t.Errorf("a collector without a budget keeps %d connections, want none", n)
		}
	}
	// Three more polls: the kept connection serves them, where a collector
	// without one dials at least once a poll.
	again, noneAgain := a.conns.dials.Load()-firstDials, none.conns.dials.Load()-noneFirst
	t.Logf("3 polls after the first dialled %d connections with one kept, %d without", again, noneAgain)
	if noneAgain < 3 || again >= noneAgain {
		t.Errorf("3 polls dialled %d connections with one kept, %d without: the kept connection is not reused", again, noneAgain)
	}

	if err := a.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if budget.Held() != 0 || a.conns.openConns() != 0 {
		t.Errorf("after Close: budget holds %d, %d connections open; want 0 and 0", budget.Held(), a.conns.openConns())
	}
}
