package bmc

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// testPool is a pool on a settable clock, logging into a buffer.
func testPool(t *testing.T, lo, hi int) (*workerPool, *time.Time, *bytes.Buffer) {
	t.Helper()
	var logs bytes.Buffer
	p := newWorkerPool(lo, hi, prometheus.NewRegistry(), slog.New(slog.NewTextHandler(&logs, nil)))
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	p.now = func() time.Time { return now }
	return p, &now, &logs
}

// observeFleet records one poll of each of n BMCs taking took every 30 s,
// then moves the clock on past the sizing pace.
func observeFleet(p *workerPool, now *time.Time, n int, took time.Duration) {
	for i := range n {
		p.observe(fmt.Sprintf("bmc-%d", i), took, 30*time.Second)
	}
	*now = now.Add(resizeEvery)
	p.observe("bmc-0", took, 30*time.Second)
}

func TestWorkerPoolGrowsWithDemand(t *testing.T) {
	p, now, logs := testPool(t, 16, 512)
	// 1,000 BMCs whose polls take 6 s of their 30 s: 200 polls in flight
	// on average; the pool keeps half again.
	observeFleet(p, now, 1000, 6*time.Second)
	if got := testutil.ToFloat64(p.demandGauge); got < 199 || got > 201 {
		t.Errorf("demand %v, want 200", got)
	}
	if got := p.limit(); got != 300 {
		t.Errorf("workers %d, want 300 (demand 200 × 1.5)", got)
	}
	if testutil.ToFloat64(p.fits) != 1 || strings.Contains(logs.String(), "does not fit") {
		t.Errorf("a fleet within the maximum reported as not fitting: %s", logs)
	}
	// The polls get quick: the pool shrinks back towards its floor.
	for range 20 {
		observeFleet(p, now, 1000, 100*time.Millisecond)
	}
	if got := p.limit(); got > 16 {
		t.Errorf("workers %d after the demand fell to %v, want the floor 16", got, testutil.ToFloat64(p.demandGauge))
	}
}

func TestWorkerPoolSaysWhenTheFleetDoesNotFit(t *testing.T) {
	p, now, logs := testPool(t, 16, 100)
	observeFleet(p, now, 1000, 6*time.Second) // 200 needed, 100 at most
	if got := p.limit(); got != 100 {
		t.Errorf("workers %d, want the maximum 100", got)
	}
	if testutil.ToFloat64(p.fits) != 0 {
		t.Error("rackpulse_scheduler_fleet_fits is 1 for a fleet needing twice the maximum")
	}
	if n := strings.Count(logs.String(), "the fleet does not fit its interval"); n != 1 {
		t.Fatalf("%d warnings, want 1:\n%s", n, logs)
	}
	if !strings.Contains(logs.String(), "polls_in_flight_needed=200") || !strings.Contains(logs.String(), "max_workers=100") {
		t.Errorf("the warning does not say what is needed against what is allowed:\n%s", logs)
	}
	observeFleet(p, now, 1000, 6*time.Second)
	if n := strings.Count(logs.String(), "does not fit"); n != 1 {
		t.Errorf("warned %d times within %v, want once", n, warnEvery)
	}
	for range 10 {
		observeFleet(p, now, 1000, time.Second) // 33 needed
	}
	if testutil.ToFloat64(p.fits) != 1 || !strings.Contains(logs.String(), "fits its interval again") {
		t.Errorf("the fleet fits again but the pool does not say so:\n%s", logs)
	}
}

// The scheduler sizes its pool to the fleet: 60 BMCs whose polls take 20 s
// of their 30 s interval need 40 polls in flight; with 4 workers
// configured and a maximum of 128, every BMC is still polled once an
// interval once the pool has grown.
func TestSchedulerGrowsItsPoolToTheFleet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fleet := newFakeFleet()
		fleet.pollTime = 20 * time.Second
		reg := prometheus.NewRegistry()
		s := NewScheduler(SchedulerConfig{NewCollector: fleet.newCollector, Workers: 4, MaxWorkers: 128, Registerer: reg})
		var names []string
		for i := range 60 {
			names = append(names, fmt.Sprintf("bmc-%02d", i))
		}
		s.Update(endpoints(names...))
		runFor(t, s, 10*time.Minute)
		if got := s.pool.limit(); got < 40 {
			t.Errorf("workers %d, want at least the 40 the fleet needs", got)
		}
		// In the last five minutes every BMC was polled about once an
		// interval (10 polls).
		cutoff := time.Now().Add(-5 * time.Minute)
		for _, n := range names {
			fleet.mu.Lock()
			recent := 0
			for _, at := range fleet.polls[n] {
				if at.After(cutoff) {
					recent++
				}
			}
			fleet.mu.Unlock()
			if recent < 9 {
				t.Errorf("%s polled %d times in the last 5 minutes, want about 10", n, recent)
			}
		}
	})
}
