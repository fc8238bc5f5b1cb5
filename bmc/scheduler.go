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
	go func() {
		defer s.wg.Done()
		defer close(t.done)
		if t.after != nil {
			// Wait for the target this one replaces to log out, even when
			// this one is stopped meanwhile: whatever replaces it in turn
			// waits for this done, so the chain keeps one session per BMC.
			// The wait is bounded by the old collector's Close timeout.
			<-t.after
		}
		if ctx.Err() != nil {
			return
		}
		s.runTarget(ctx, t.ep)
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

func (s *Scheduler) runTarget(ctx context.Context, ep Endpoint) {
	log := s.cfg.Logger.With("server", ep.Server, "address", ep.Address)
	opts := s.cfg.CollectorOptions
	opts.Logger = log
	var collector Collector
	defer s.pool.forget(ep.Server)
	defer func() {
		if collector == nil {
			return
		}
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ep.RequestTimeout)
		defer cancel()
		if err := collector.Close(closeCtx); err != nil {
			log.Warn("closing BMC session", "err", err)
		}
	}()

	var sentBefore int64 // the collector's request count after the last poll
	offset := StartOffset(ep.Server, ep.Cadence.Readings)
	timer := time.NewTimer(offset)
	defer timer.Stop()
	next := time.Now().Add(offset)
	failures := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		slot := next
		if collector == nil {
			c, err := s.cfg.NewCollector(ep, opts)
			if err != nil {
				// A bad endpoint is a configuration error: say so once per
				// backoff period rather than spinning.
				log.Error("building collector", "err", err)
				s.cfg.OnPoll(ep, time.Now(), nil, err)
				failures++
				timer.Reset(Backoff(ep.Cadence.Readings, failures, s.cfg.MaxBackoff))
				continue
			}
			collector = c
		}
		if !s.acquire(ctx, ep) {
			return
		}
		snap, took, err := s.pollOnce(ctx, collector, ep, log)
		ended := time.Now()
		s.pool.release()
		if ctx.Err() != nil {
			return // stopping: a poll cut short is not a BMC failure
		}
		s.pool.observe(ep.Server, took, ep.Cadence.Readings)

		if s.cfg.Observer != nil {
			s.cfg.Observer.ObservePoll(ep, snap, err, took)
			rc, counts := collector.(RequestCounter)
			ro, observes := s.cfg.Observer.(RequestObserver)
			if counts && observes {
				total := rc.RequestsTotal()
				ro.ObserveRequests(ep, total-sentBefore)
				sentBefore = total
			}
		}
		if snap != nil {
			snap.Server, snap.Rack = ep.Server, ep.Rack
		}
		s.cfg.OnPoll(ep, ended, snap, err)
		var wait time.Duration
		if err != nil {
			failures++
			wait = Backoff(ep.Cadence.Readings, failures, s.cfg.MaxBackoff)
			log.Warn("poll failed", "kind", KindOf(err), "err", err, "failures", failures, "retry_in", wait.Round(time.Second))
			next = time.Now().Add(wait)
		} else {
			if failures > 0 {
				log.Info("poll recovered", "after_failures", failures)
			}
			failures = 0
			// Keep the phase: the next slot is one interval after this one;
			// slots that passed while the poll overran are skipped, counted.
			next = slot.Add(ep.Cadence.Readings)
			for now := time.Now(); !next.After(now); next = next.Add(ep.Cadence.Readings) {
				if s.cfg.Observer != nil {
					s.cfg.Observer.ObserveSkip(ep)
				}
			}
			wait = time.Until(next)
		}
		timer.Reset(wait)
	}
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
