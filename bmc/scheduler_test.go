package bmc

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// fakeCollector records its polls; behaviour is set per server by the test.
type fakeCollector struct {
	fleet  *fakeFleet
	server string
	gen    int // which collector built for this server (1 for the first)
	closed atomic.Bool
}

type fakeFleet struct {
	mu       sync.Mutex
	polls    map[string][]time.Time
	built    map[string]int
	closed   map[string]int
	inFlight map[string]int
	maxPer   int // most polls in flight for one server
	maxAll   int // most polls in flight overall
	all      int
	pollTime time.Duration
	fail     map[string]error
	panics   map[string]bool
	// closeGate, when set for a server, holds its collectors' Close until
	// the channel is closed; closing receives the server when one waits.
	closeGate map[string]chan struct{}
	closing   chan string
	// events is what happened, in order: "build a#2", "poll a#2",
	// "closed a#1".
	events []string
}

func newFakeFleet() *fakeFleet {
	return &fakeFleet{
		polls: map[string][]time.Time{}, built: map[string]int{}, closed: map[string]int{},
		inFlight: map[string]int{}, fail: map[string]error{}, panics: map[string]bool{},
		closeGate: map[string]chan struct{}{}, closing: make(chan string, 16),
	}
}

func (f *fakeFleet) newCollector(ep Endpoint, _ CollectorOptions) (Collector, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.built[ep.Server]++
	gen := f.built[ep.Server]
	f.events = append(f.events, fmt.Sprintf("build %s#%d", ep.Server, gen))
	return &fakeCollector{fleet: f, server: ep.Server, gen: gen}, nil
}

func (c *fakeCollector) Poll(ctx context.Context) (*Snapshot, error) {
	f := c.fleet
	started := time.Now()
	f.mu.Lock()
	f.polls[c.server] = append(f.polls[c.server], started)
	f.events = append(f.events, fmt.Sprintf("poll %s#%d", c.server, c.gen))
	f.inFlight[c.server]++
	f.all++
	f.maxPer = max(f.maxPer, f.inFlight[c.server])
	f.maxAll = max(f.maxAll, f.all)
	err, panics, d := f.fail[c.server], f.panics[c.server], f.pollTime
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.inFlight[c.server]--
		f.all--
		f.mu.Unlock()
	}()
	if d > 0 {
		time.Sleep(d)
	}
	if panics {
		panic("odd BMC answer")
	}
	if err != nil {
		return nil, err
	}
	return &Snapshot{Time: started}, nil
}

func (c *fakeCollector) Close(context.Context) error {
	f := c.fleet
	f.mu.Lock()
	gate := f.closeGate[c.server]
	f.mu.Unlock()
	if gate != nil {
		f.closing <- c.server
		<-gate
	}
	c.closed.Store(true)
	f.mu.Lock()
	f.closed[c.server]++
	f.events = append(f.events, fmt.Sprintf("closed %s#%d", c.server, c.gen))
	f.mu.Unlock()
	return nil
}

// holdClose makes the server's collectors' Close wait until the returned
// function is called (once or more: defer it, so that a failing test
// lets the scheduler stop).
func (f *fakeFleet) holdClose(server string) (release func()) {
	gate := make(chan struct{})
	f.mu.Lock()
	f.closeGate[server] = gate
	f.mu.Unlock()
	return sync.OnceFunc(func() { close(gate) })
}

func (f *fakeFleet) eventLog() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.events)
}

func (f *fakeFleet) pollCount(server string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.polls[server])
}

type recordingObserver struct {
	mu      sync.Mutex
	kinds   map[string][]ErrorKind
	skips   map[string]int
	forgets []string
}

func newRecordingObserver() *recordingObserver {
	return &recordingObserver{kinds: map[string][]ErrorKind{}, skips: map[string]int{}}
}

func (o *recordingObserver) ObservePoll(ep Endpoint, _ *Snapshot, err error, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.kinds[ep.Server] = append(o.kinds[ep.Server], KindOf(err))
}

func (o *recordingObserver) ObserveSkip(ep Endpoint) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.skips[ep.Server]++
}

func (o *recordingObserver) Forget(server string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.forgets = append(o.forgets, server)
}

func endpoints(names ...string) []Endpoint {
	eps := make([]Endpoint, len(names))
	for i, n := range names {
		eps[i] = Endpoint{Server: n, Address: n + ".bmc", Cadence: Cadence{Readings: 30 * time.Second}}
	}
	return eps
}

// runFor runs the scheduler in the bubble for d of fake time, then stops it.
func runFor(t *testing.T, s *Scheduler, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	time.Sleep(d)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
}

func TestSchedulerPollsEachTargetOncePerIntervalFromItsOffset(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fleet := newFakeFleet()
		s := NewScheduler(SchedulerConfig{NewCollector: fleet.newCollector})
		names := []string{"r1-u01", "r1-u02", "r1-u03", "r2-u01"}
		s.Update(endpoints(names...))
		start := time.Now()
		runFor(t, s, 95*time.Second)

		for _, n := range names {
			offset := StartOffset(n, 30*time.Second)
			want := 0
			for at := offset; at < 95*time.Second; at += 30 * time.Second {
				want++
			}
			fleet.mu.Lock()
			polls := fleet.polls[n]
			fleet.mu.Unlock()
			if len(polls) != want {
				t.Errorf("%s: %d polls, want %d (offset %v)", n, len(polls), want, offset)
				continue
			}
			for i, at := range polls {
				if got, want := at.Sub(start), offset+time.Duration(i)*30*time.Second; got != want {
					t.Errorf("%s poll %d at %v, want %v", n, i, got, want)
				}
			}
		}
		if fleet.maxPer != 1 {
			t.Errorf("at most %d polls in flight per BMC, want 1", fleet.maxPer)
		}
		for _, n := range names {
			if fleet.closed[n] != 1 {
				t.Errorf("%s closed %d times after Run, want 1", n, fleet.closed[n])
			}
		}
	})
}

// Between polls a target holds a timer, not a goroutine: a fleet that has
// been polled and waits for its next interval runs no goroutine per BMC;
// stopping ends every target, waiting or not, and closes its collector.
func TestSchedulerHoldsNoGoroutinePerWaitingTarget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const targets = 300
		fleet := newFakeFleet()
		s := NewScheduler(SchedulerConfig{NewCollector: fleet.newCollector})
		names := make([]string, targets)
		for i := range names {
			names[i] = fmt.Sprintf("r%02d-u%02d", i/20, i%20)
		}
		s.Update(endpoints(names...))
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		before := runtime.NumGoroutine()
		go func() { done <- s.Run(ctx) }()
		time.Sleep(30 * time.Second) // every target polled once, the next polls armed
		synctest.Wait()
		fleet.mu.Lock()
		polled := len(fleet.polls)
		fleet.mu.Unlock()
		if polled != targets {
			t.Fatalf("%d targets polled in the first interval, want %d", polled, targets)
		}
		if n := runtime.NumGoroutine() - before; n > 10 {
			t.Errorf("%d goroutines while %d targets wait for their next poll, want a few (Run's), not one per target", n, targets)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run: %v", err)
		}
		fleet.mu.Lock()
		defer fleet.mu.Unlock()
		for _, n := range names {
			if fleet.closed[n] != 1 {
				t.Errorf("%s closed %d times after Run, want 1", n, fleet.closed[n])
			}
		}
	})
}

func TestStartOffsetSpreadsAcrossTheInterval(t *testing.T) {
	const n, interval = 2000, 30 * time.Second
	buckets := make([]int, 10)
	for i := range n {
		off := StartOffset("rack-"+string(rune('a'+i%26))+"-srv-"+time.Duration(i).String(), interval)
		if off < 0 || off >= interval {
			t.Fatalf("offset %v outside [0, %v)", off, interval)
		}
		buckets[off*10/interval]++
	}
	for i, b := range buckets {
		if b < n/10/2 || b > n/10*2 {
			t.Errorf("bucket %d holds %d of %d first polls; spread is uneven: %v", i, b, n, buckets)
		}
	}
}

func TestSchedulerBacksOffFailingBMCAndRecovers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fleet := newFakeFleet()
		fleet.fail["bad"] = NewError(ErrKindTimeout, "/redfish/v1", context.DeadlineExceeded)
		obs := newRecordingObserver()
		s := NewScheduler(SchedulerConfig{NewCollector: fleet.newCollector, Observer: obs, MaxBackoff: 4 * time.Minute})
		s.Update(endpoints("bad", "good"))
		runFor(t, s, 10*time.Minute)

		fleet.mu.Lock()
		bad := fleet.polls["bad"]
		fleet.mu.Unlock()
		// 30 s interval: backoff after n failures is 30s*2^n (capped at 4m) less up to 20% jitter.
		for i := 1; i < len(bad); i++ {
			gap := bad[i].Sub(bad[i-1])
			want := min(30*time.Second<<i, 4*time.Minute)
			if gap > want || gap < want*8/10 {
				t.Errorf("gap before retry %d is %v, want within 20%% below %v", i, gap, want)
			}
		}
		if len(bad) > 6 {
			t.Errorf("failing BMC polled %d times in 10 min; backoff is not working", len(bad))
		}
		if got := fleet.pollCount("good"); got < 19 {
			t.Errorf("healthy BMC polled %d times in 10 min, want 20 (a failing one must not slow it)", got)
		}
		for _, k := range obs.kinds["bad"] {
			if k != ErrKindTimeout {
				t.Errorf("failing BMC observed as %q, want timeout", k)
			}
		}
	})
}

func TestSchedulerRecoversFromCollectorPanic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fleet := newFakeFleet()
		fleet.panics["odd"] = true
		obs := newRecordingObserver()
		s := NewScheduler(SchedulerConfig{NewCollector: fleet.newCollector, Observer: obs})
		s.Update(endpoints("odd", "fine"))
		runFor(t, s, 61*time.Second)
		if len(obs.kinds["odd"]) == 0 || obs.kinds["odd"][0] != ErrKindPanic {
			t.Errorf("panicking collector observed as %v, want panic", obs.kinds["odd"])
		}
		if got := fleet.pollCount("fine"); got < 2 {
			t.Errorf("other BMC polled %d times, want 2: a panic must not stop it", got)
		}
	})
}

func TestSchedulerSkipsOverrunSlotsWithoutStackingPolls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fleet := newFakeFleet()
		fleet.pollTime = 70 * time.Second
		obs := newRecordingObserver()
		s := NewScheduler(SchedulerConfig{NewCollector: fleet.newCollector, Observer: obs})
		eps := endpoints("slow")
		eps[0].PollTimeout = 2 * time.Minute
		s.Update(eps)
		runFor(t, s, 5*time.Minute)
		if fleet.maxPer != 1 {
			t.Errorf("%d polls in flight for one BMC, want 1", fleet.maxPer)
		}
		if obs.skips["slow"] == 0 {
			t.Error("overrunning polls skipped no slot; want skips counted")
		}
		// 70 s polls on a 30 s cadence: one poll per 90 s (three slots).
		if got := fleet.pollCount("slow"); got < 3 || got > 4 {
			t.Errorf("%d polls in 5 min, want 3 or 4", got)
		}
	})
}

// OnPoll is told when the poll ended; the snapshot says when it started.
func TestSchedulerReportsWhenThePollEnded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fleet := newFakeFleet()
		fleet.pollTime = 7 * time.Second
		var mu sync.Mutex
		var took []time.Duration
		s := NewScheduler(SchedulerConfig{NewCollector: fleet.newCollector, OnPoll: func(_ Endpoint, ended time.Time, snap *Snapshot, _ error) {
			mu.Lock()
			defer mu.Unlock()
			took = append(took, ended.Sub(snap.Time))
		}})
		s.Update(endpoints("r12-u03"))
		runFor(t, s, 2*time.Minute)
		mu.Lock()
		defer mu.Unlock()
		if len(took) == 0 {
			t.Fatal("no poll reported")
		}
		for _, d := range took {
			if d != 7*time.Second {
				t.Errorf("OnPoll's time is %v after the snapshot's start, want the poll's 7 s", d)
			}
		}
	})
}

func TestSchedulerBoundsPollsInFlightAcrossTheFleet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fleet := newFakeFleet()
		fleet.pollTime = 2 * time.Second
		s := NewScheduler(SchedulerConfig{NewCollector: fleet.newCollector, Workers: 2})
		s.Update(endpoints("a", "b", "c", "d", "e", "f", "g", "h"))
		runFor(t, s, 65*time.Second)
		if fleet.maxAll > 2 {
			t.Errorf("%d polls in flight, want at most 2 workers", fleet.maxAll)
		}
		for _, n := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
			if fleet.pollCount(n) < 2 {
				t.Errorf("%s polled %d times in 65 s, want 2", n, fleet.pollCount(n))
			}
		}
	})
}

func TestSchedulerUpdateKeepsUnchangedTargetsAndRestartsChangedOnes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fleet := newFakeFleet()
		obs := newRecordingObserver()
		s := NewScheduler(SchedulerConfig{NewCollector: fleet.newCollector, Observer: obs})
		s.Update(endpoints("keep", "change", "drop"))
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- s.Run(ctx) }()
		time.Sleep(40 * time.Second)

		next := endpoints("keep", "change", "new")
		next[1].Address = "moved.bmc"
		added, changed, removed := s.Update(next)
		if added != 1 || changed != 1 || removed != 1 {
			t.Errorf("Update = added %d, changed %d, removed %d; want 1, 1, 1", added, changed, removed)
		}
		time.Sleep(40 * time.Second)
		fleet.mu.Lock()
		if fleet.built["keep"] != 1 {
			t.Errorf("unchanged target rebuilt %d times, want its collector kept", fleet.built["keep"])
		}
		if fleet.built["change"] != 2 || fleet.closed["change"] != 1 {
			t.Errorf("changed target built %d, closed %d; want rebuilt once after closing the old", fleet.built["change"], fleet.closed["change"])
		}
		if fleet.closed["drop"] != 1 {
			t.Errorf("removed target closed %d times, want 1 (its session logged out)", fleet.closed["drop"])
		}
		if fleet.built["new"] != 1 {
			t.Errorf("added target built %d times, want 1", fleet.built["new"])
		}
		fleet.mu.Unlock()
		if len(obs.forgets) != 1 || obs.forgets[0] != "drop" {
			t.Errorf("metrics forgotten for %v, want [drop]", obs.forgets)
		}
		cancel()
		<-done
	})
}

func TestSchedulerReportsCollectorBuildFailureAndRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		builds := 0
		s := NewScheduler(SchedulerConfig{NewCollector: func(Endpoint, CollectorOptions) (Collector, error) {
			builds++
			return nil, errors.New("bad address")
		}})
		s.Update(endpoints("x"))
		runFor(t, s, 5*time.Minute)
		if builds < 2 || builds > 5 {
			t.Errorf("collector build tried %d times in 5 min, want a few with backoff", builds)
		}
	})
}

// TestSchedulerUpdateWaitsForLogoutWithoutHoldingItsLock: a reload that
// drops or changes a BMC slow to log out must not stall the health check
// (Targets, behind /healthz, takes the scheduler's lock), and the changed
// BMC's replacement must not poll before the old session is logged out.
func TestSchedulerUpdateWaitsForLogoutWithoutHoldingItsLock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fleet := newFakeFleet()
		s := NewScheduler(SchedulerConfig{NewCollector: fleet.newCollector})
		s.Update(endpoints("keep", "change", "drop"))
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx) }()
		time.Sleep(40 * time.Second) // every target has polled once

		releaseChange := fleet.holdClose("change")
		defer releaseChange()
		releaseDrop := fleet.holdClose("drop")
		defer releaseDrop()
		next := endpoints("keep", "change")
		next[1].Address = "moved.bmc"
		updated := make(chan [3]int, 1)
		go func() {
			a, c, r := s.Update(next)
			updated <- [3]int{a, c, r}
		}()
		for range 2 {
			<-fleet.closing // both old collectors are in Close, held
		}
		synctest.Wait()
		select {
		case got := <-updated:
			t.Fatalf("Update returned %v before the stopped BMCs logged out", got)
		default:
		}
		// The lock is free while Update waits: the health check answers.
		if !s.mu.TryLock() {
			t.Fatal("Update holds the scheduler's lock while it waits for BMCs to log out: /healthz would hang")
		}
		s.mu.Unlock()
		if n := len(s.Targets()); n != 2 {
			t.Errorf("Targets during the update = %d endpoints, want the 2 of the new inventory", n)
		}

		// Long past the replacement's first slot, it has not started.
		time.Sleep(2 * time.Minute)
		for _, e := range fleet.eventLog() {
			if e == "build change#2" || e == "poll change#2" {
				t.Fatalf("the changed BMC's replacement started (%s) while the old session was still logging out: events %v", e, fleet.eventLog())
			}
		}

		releaseDrop()
		releaseChange()
		if got := <-updated; got != [3]int{0, 1, 1} {
			t.Errorf("Update = added, changed, removed %v; want [0 1 1]", got)
		}
		time.Sleep(40 * time.Second)
		events := fleet.eventLog()
		closedOld, builtNew := slices.Index(events, "closed change#1"), slices.Index(events, "build change#2")
		if closedOld < 0 || builtNew < 0 || builtNew < closedOld || fleet.pollCount("change") < 2 {
			t.Errorf("events %v: want the old change#1 closed, then change#2 built and polling", events)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run: %v", err)
		}
	})
}

// TestSchedulerChainedUpdatesKeepOneSessionPerBMC: a BMC changed twice
// while its first session is still logging out gets its newest target
// only after that logout, and the target in between never polls.
func TestSchedulerChainedUpdatesKeepOneSessionPerBMC(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fleet := newFakeFleet()
		s := NewScheduler(SchedulerConfig{NewCollector: fleet.newCollector})
		s.Update(endpoints("a"))
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx) }()
		time.Sleep(40 * time.Second)

		release := fleet.holdClose("a")
		defer release()
		second := endpoints("a")
		second[0].Address = "second.bmc"
		go s.Update(second)
		<-fleet.closing
		synctest.Wait()
		if !s.mu.TryLock() {
			t.Fatal("Update holds the scheduler's lock while the old session logs out")
		}
		s.mu.Unlock()
		third := endpoints("a")
		third[0].Address = "third.bmc"
		updated := make(chan struct{})
		go func() { s.Update(third); close(updated) }()
		synctest.Wait()
		time.Sleep(2 * time.Minute)
		if n := fleet.pollCount("a"); n != 1 {
			t.Fatalf("a polled %d times while its first session was logging out, want 1: events %v", n, fleet.eventLog())
		}
		release()
		<-updated
		time.Sleep(40 * time.Second)
		events := fleet.eventLog()
		if slices.Contains(events, "build a#3") || !slices.Contains(events, "build a#2") {
			t.Errorf("events %v: want one new collector (for the third endpoint), the second never built", events)
		}
		if i, j := slices.Index(events, "closed a#1"), slices.Index(events, "build a#2"); i < 0 || j < i {
			t.Errorf("events %v: the new collector was built before the first logged out", events)
		}
		cancel()
		<-done
	})
}
