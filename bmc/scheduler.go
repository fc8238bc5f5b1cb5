package bmc

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"reflect"
	"runtime/debug"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// PollObserver is told about every poll; the Prometheus metrics implement it.
type PollObserver interface {
	// ObservePoll is called after every poll attempt; err is the poll's
	// error (nil when a Snapshot was read, even with part errors).
	ObservePoll(ep Endpoint, snap *Snapshot, err error, took time.Duration)
	// ObserveSkip is called when a poll could not start in its interval
	// (the previous one overran, or no worker was free in time).
	ObserveSkip(ep Endpoint)
	// Forget drops everything kept about a server removed from the fleet.
	Forget(server string)
}

// SchedulerConfig wires a Scheduler.
type SchedulerConfig struct {
	// NewCollector builds a collector per endpoint.
	NewCollector NewCollectorFunc
	// CollectorOptions are passed to every collector (the logger is set per
	// endpoint).
	CollectorOptions CollectorOptions
	// OnPoll receives the outcome of every poll: the snapshot read (nil when
	// the poll failed) or the error, and when the poll ended (the
	// snapshot's own Time is when it started). It must not block for long:
	// sinks queue on their side.
	OnPoll func(ep Endpoint, ended time.Time, snap *Snapshot, err error)
	// Workers is the least bound on polls in flight across the fleet
	// (default DefaultWorkers); the bound grows with the fleet's demand up
	// to MaxWorkers (default DefaultMaxWorkers, at least Workers), and
	// the scheduler says when the fleet does not fit (workers.go).
	Workers    int
	MaxWorkers int
	// Registerer, when set, takes the worker pool's metrics.
	Registerer prometheus.Registerer
	// MaxBackoff caps the wait after repeated failures (default 10 min).
	MaxBackoff time.Duration
	Observer   PollObserver
	Logger     *slog.Logger
}

// Scheduler polls a fleet of endpoints, each on its own cadence: at most one
// poll in flight per BMC, at most Workers across the fleet, first polls
// spread over the interval by a hash of the server name (so load stays put
// across restarts), and exponential backoff with jitter for failing BMCs.
// Update swaps the fleet without disturbing the BMCs that did not change.
type Scheduler struct {
	cfg  SchedulerConfig
	pool *workerPool

	// mu guards the target set only: it is never held while waiting on a
	// BMC (a poll, a logout), so Targets, which /healthz calls, always
	// answers at once.
	mu      sync.Mutex
	ctx     context.Context // set by Run; targets started before Run wait for it
	stopped bool            // Run has stopped every target: none is started again
	targets map[string]*target
	wg      sync.WaitGroup
}

type target struct {
	ep     Endpoint
	cancel context.CancelFunc
	done   chan struct{} // closed once the target stopped and logged out
	// after, when set, is the done of the target this one replaces: this
	// one starts only once it is closed, so that a BMC never sees two
	// sessions from us.
	after <-chan struct{}
}

// NewScheduler returns a scheduler with no targets; call Update and Run.
func NewScheduler(cfg SchedulerConfig) *Scheduler {
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	if cfg.MaxWorkers <= 0 {
		cfg.MaxWorkers = max(DefaultMaxWorkers, cfg.Workers)
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 10 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.OnPoll == nil {
		cfg.OnPoll = func(Endpoint, time.Time, *Snapshot, error) {}
	}
	return &Scheduler{
		cfg:     cfg,
		pool:    newWorkerPool(cfg.Workers, cfg.MaxWorkers, cfg.Registerer, cfg.Logger),
		targets: map[string]*target{},
	}
}

// Run polls until ctx is done, then stops every target and closes (logs out)
// every collector before it returns.
func (s *Scheduler) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.ctx != nil {
		s.mu.Unlock()
		return errors.New("scheduler already running")
	}
	s.ctx = ctx
	pending := make([]*target, 0, len(s.targets))
	for _, t := range s.targets {
		pending = append(pending, t)
	}
	for _, t := range pending {
		s.startLocked(t)
	}
	s.mu.Unlock()

	<-ctx.Done()
	s.mu.Lock()
	s.stopped = true
	for name, t := range s.targets {
		if t.cancel != nil {
			t.cancel()
		}
		delete(s.targets, name)
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

// Update replaces the fleet with eps. Targets whose endpoint is unchanged
// keep polling (and keep their session); removed or changed ones are
// stopped, and a changed one's replacement starts only once the old one has
// logged out. Update returns, with how many targets were added, changed and
// removed, once every stopped target has logged out; it waits without
// holding the scheduler's lock, so Targets answers meanwhile.
func (s *Scheduler) Update(eps []Endpoint) (added, changed, removed int) {
	want := make(map[string]Endpoint, len(eps))
	for _, ep := range eps {
		want[ep.Server] = ep.WithDefaults()
	}
	s.mu.Lock()
	var stopping []*target
	replaced := map[string]<-chan struct{}{}
	for name, t := range s.targets {
		ep, keep := want[name]
		switch {
		case !keep:
			removed++
		case !reflect.DeepEqual(ep, t.ep):
			changed++
			if t.done != nil {
				replaced[name] = t.done
			}
		default:
			continue
		}
		if t.cancel != nil {
			t.cancel()
		}
		stopping = append(stopping, t)
		delete(s.targets, name)
		if !keep && s.cfg.Observer != nil {
			s.cfg.Observer.Forget(name)
		}
	}
	for name, ep := range want {
		if _, running := s.targets[name]; running {
			continue
		}
		if !containsTarget(stopping, name) {
			added++
		}
		t := &target{ep: ep, after: replaced[name]}
		s.targets[name] = t
		if s.ctx != nil && !s.stopped {
			s.startLocked(t)
		}
	}
	s.mu.Unlock()

	for _, t := range stopping {
		if t.done != nil {
			<-t.done
		}
	}
	return added, changed, removed
}

func containsTarget(ts []*target, name string) bool {
	for _, t := range ts {
		if t.ep.Server == name {
			return true
		}
	}
	return false
}

// Targets returns the endpoints being polled.
func (s *Scheduler) Targets() []Endpoint {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Endpoint, 0, len(s.targets))
	for _, t := range s.targets {
		out = append(out, t.ep)
	}
	return out
}

func (s *Scheduler) startLocked(t *target) {
	ctx, cancel := context.WithCancel(s.ctx)
	t.cancel = cancel
	t.done = make(chan struct{})
	s.wg.Add(1)
	r := newTargetRun(ctx, s, t)
	if t.after == nil {
		r.start()
		return
	}
	go func() {
		// Wait for the target this one replaces to log out, even when
		// this one is stopped meanwhile: whatever replaces it in turn
		// waits for this done, so the chain keeps one session per BMC.
		// The wait is bounded by the old collector's Close timeout.
		<-t.after
		r.start()
	}()
}

// StartOffset spreads first polls over the interval by a hash of the server
// name: stable across restarts, uniform across a fleet.
func StartOffset(server string, interval time.Duration) time.Duration {
	if interval <= 0 {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(server))
	return time.Duration(h.Sum64() % uint64(interval))
}

// Backoff returns the wait after n consecutive failures: the interval doubled
// per failure, capped, with up to 20% jitter so failed BMCs do not retry in
// lockstep.
func Backoff(interval time.Duration, failures int, max time.Duration) time.Duration {
	if failures <= 0 {
		return interval
	}
	d := interval
	for i := 0; i < failures && d < max; i++ {
		d *= 2
	}
	d = min(d, max)
	jitter := time.Duration(rand.Int64N(int64(d)/5 + 1))
	return d - jitter
}

// targetRun polls one target. Between polls it holds a timer, not a
// goroutine: each poll runs on the goroutine the timer starts, which ends
// with it. (A goroutine parked per BMC kept its stack, grown by the polls,
// for the whole interval: some 70 MiB at 10,000 BMCs.)
type targetRun struct {
	s   *Scheduler
	t   *target
	ctx context.Context
	log *slog.Logger

	// Touched by one poll at a time: the timer starts the next only
	// after this one armed it.
	collector  Collector
	sentBefore int64 // the collector's request count after the last poll
	next       time.Time
	failures   int

	mu       sync.Mutex // orders arming the timer against stopping it
	timer    *time.Timer
	finished sync.Once
}

func newTargetRun(ctx context.Context, s *Scheduler, t *target) *targetRun {
	return &targetRun{s: s, t: t, ctx: ctx, log: s.cfg.Logger.With("server", t.ep.Server, "address", t.ep.Address)}
}

// start arms the first poll at the target's offset in the interval, and
// has the run end when its context does.
func (r *targetRun) start() {
	if r.ctx.Err() != nil {
		r.finish()
		return
	}
	offset := StartOffset(r.t.ep.Server, r.t.ep.Cadence.Readings)
	r.next = time.Now().Add(offset)
	r.mu.Lock()
	r.timer = time.AfterFunc(offset, r.poll)
	r.mu.Unlock()
	context.AfterFunc(r.ctx, r.stop)
}

// stop ends the run at once if it is waiting for its next poll; a poll in
// flight ends it when it returns (arm sees the context done).
func (r *targetRun) stop() {
	r.mu.Lock()
	waiting := r.timer.Stop()
	r.mu.Unlock()
	if waiting {
		r.finish()
	}
}

// arm sets the next poll wait from now, or ends the run if it was stopped.
func (r *targetRun) arm(wait time.Duration) {
	r.mu.Lock()
	if r.ctx.Err() == nil {
		r.timer.Reset(wait)
		r.mu.Unlock()
		return
	}
	r.mu.Unlock()
	r.finish()
}

// finish closes (logs out) the collector and says the target is done.
func (r *targetRun) finish() {
	r.finished.Do(func() {
		defer r.s.wg.Done()
		defer close(r.t.done)
		r.s.pool.forget(r.t.ep.Server)
		if r.collector == nil {
			return
		}
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(r.ctx), r.t.ep.RequestTimeout)
		defer cancel()
		if err := r.collector.Close(closeCtx); err != nil {
			r.log.Warn("closing BMC session", "err", err)
		}
	})
}

// poll runs one poll when the timer fires, and arms the next.
func (r *targetRun) poll() {
	s, ep, ctx := r.s, r.t.ep, r.ctx
	if ctx.Err() != nil {
		r.finish()
		return
	}
	slot := r.next
	if r.collector == nil {
		opts := s.cfg.CollectorOptions
		opts.Logger = r.log
		c, err := s.cfg.NewCollector(ep, opts)
		if err != nil {
			// A bad endpoint is a configuration error: say so once per
			// backoff period rather than spinning.
			r.log.Error("building collector", "err", err)
			s.cfg.OnPoll(ep, time.Now(), nil, err)
			r.failures++
			r.arm(Backoff(ep.Cadence.Readings, r.failures, s.cfg.MaxBackoff))
			return
		}
		r.collector = c
	}
	if !s.acquire(ctx, ep) {
		r.finish()
		return
	}
	snap, took, err := s.pollOnce(ctx, r.collector, ep, r.log)
	ended := time.Now()
	s.pool.release()
	if ctx.Err() != nil {
		r.finish() // stopping: a poll cut short is not a BMC failure
		return
	}
	s.pool.observe(ep.Server, took, ep.Cadence.Readings)

	if s.cfg.Observer != nil {
		s.cfg.Observer.ObservePoll(ep, snap, err, took)
		rc, counts := r.collector.(RequestCounter)
		ro, observes := s.cfg.Observer.(RequestObserver)
		if counts && observes {
			total := rc.RequestsTotal()
			ro.ObserveRequests(ep, total-r.sentBefore)
			r.sentBefore = total
		}
	}
	if snap != nil {
		snap.Server, snap.Rack = ep.Server, ep.Rack
	}
	s.cfg.OnPoll(ep, ended, snap, err)
	var wait time.Duration
	if err != nil {
		r.failures++
		wait = Backoff(ep.Cadence.Readings, r.failures, s.cfg.MaxBackoff)
		r.log.Warn("poll failed", "kind", KindOf(err), "err", err, "failures", r.failures, "retry_in", wait.Round(time.Second))
		r.next = time.Now().Add(wait)
	} else {
		if r.failures > 0 {
			r.log.Info("poll recovered", "after_failures", r.failures)
		}
		r.failures = 0
		// Keep the phase: the next slot is one interval after this one;
		// slots that passed while the poll overran are skipped, counted.
		r.next = slot.Add(ep.Cadence.Readings)
		for now := time.Now(); !r.next.After(now); r.next = r.next.Add(ep.Cadence.Readings) {
			if s.cfg.Observer != nil {
				s.cfg.Observer.ObserveSkip(ep)
			}
		}
		wait = time.Until(r.next)
	}
	r.arm(wait)
}

// acquire takes a worker slot, or gives up when ctx ends.
func (s *Scheduler) acquire(ctx context.Context, _ Endpoint) bool { return s.pool.acquire(ctx) }

// pollOnce runs one poll under the poll deadline, turning a panic in the
// collector into an error so that one odd BMC never takes the poller down.
func (s *Scheduler) pollOnce(ctx context.Context, c Collector, ep Endpoint, log *slog.Logger) (snap *Snapshot, took time.Duration, err error) {
	start := time.Now()
	pollCtx, cancel := context.WithTimeout(ctx, ep.PollTimeout)
	defer cancel()
	defer func() {
		took = time.Since(start)
		if r := recover(); r != nil {
			log.Error("collector panicked", "panic", r, "stack", string(debug.Stack()))
			snap, err = nil, NewError(ErrKindPanic, "", fmt.Errorf("collector panicked: %v", r))
		}
	}()
	snap, err = c.Poll(pollCtx)
	if snap != nil {
		snap.Compact() // kept until the next poll
	}
	return snap, time.Since(start), err
}
