package bmc

import (
	"context"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Worker pool bounds: the pool never shrinks below the configured
// workers, and grows with the fleet's demand up to DefaultMaxWorkers
// (SchedulerConfig.MaxWorkers).
const (
	DefaultWorkers    = 256
	DefaultMaxWorkers = 2048
	// demandHeadroom is how much the pool exceeds the demand it measured:
	// polls do not arrive evenly.
	demandHeadroom = 1.5
	// resizeEvery and warnEvery pace the pool's sizing and the warning
	// that the fleet does not fit.
	resizeEvery = 10 * time.Second
	warnEvery   = 5 * time.Minute
)

// workerPool bounds the polls in flight across the fleet, and sizes that
// bound to the fleet's demand: the sum over its BMCs of the share of the
// interval each one's poll takes (an exponentially weighted mean of its
// durations over its interval), which is how many polls are in flight on
// average. The pool is demand × demandHeadroom, within [min, max]. When
// the demand exceeds max, the fleet cannot be polled within its interval
// with max polls in flight: the pool says so, in its log and metrics,
// rather than letting polls fall behind unexplained.
//
// The bound is a channel of max slots, of which max - limit are held by
// the pool itself: growing gives held slots back, shrinking takes free
// ones.
type workerPool struct {
	slots    chan struct{}
	min, max int
	log      *slog.Logger
	now      func() time.Time

	mu       sync.Mutex
	held     int                // slots the pool holds back: limit = max - held
	share    map[string]float64 // per BMC: mean poll duration over its interval
	demand   float64
	resized  time.Time
	warned   time.Time
	overflow bool // the demand exceeded max at the last sizing

	demandGauge, limitGauge prometheus.Gauge
	inFlight                prometheus.GaugeFunc
	fits                    prometheus.Gauge
}

func newWorkerPool(lo, hi int, reg prometheus.Registerer, log *slog.Logger) *workerPool {
	hi = max(hi, lo)
	p := &workerPool{
		slots: make(chan struct{}, hi),
		min:   lo, max: hi, held: hi - lo,
		log:   log,
		now:   time.Now,
		share: map[string]float64{},
	}
	for range p.held {
		p.slots <- struct{}{}
	}
	p.demandGauge = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "rackpulse_scheduler_demand_polls",
		Help: "Polls the fleet keeps in flight on average at the poll durations observed (sum over BMCs of poll duration / interval).",
	})
	p.limitGauge = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "rackpulse_scheduler_workers",
		Help: "Polls allowed in flight at once, sized to the demand between --workers and the maximum.",
	})
	p.inFlight = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "rackpulse_scheduler_polls_in_flight", Help: "Polls in flight now.",
	}, func() float64 {
		p.mu.Lock()
		defer p.mu.Unlock()
		return float64(len(p.slots) - p.held)
	})
	p.fits = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "rackpulse_scheduler_fleet_fits",
		Help: "1 while the fleet's demand fits the worker maximum, 0 when it does not (polls fall behind their interval).",
	})
	p.limitGauge.Set(float64(lo))
	p.fits.Set(1)
	if reg != nil {
		reg.MustRegister(p.demandGauge, p.limitGauge, p.inFlight, p.fits)
	}
	return p
}

// acquire takes a slot, or gives up when ctx ends.
func (p *workerPool) acquire(ctx context.Context) bool {
	select {
	case p.slots <- struct{}{}:
		return true
	default:
	}
	select {
	case p.slots <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

func (p *workerPool) release() { <-p.slots }

// limit is the bound on polls in flight now.
func (p *workerPool) limit() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.max - p.held
}

// observe records one poll of server: it took took, on an interval of
// every. It resizes the pool at most every resizeEvery.
func (p *workerPool) observe(server string, took, every time.Duration) {
	if every <= 0 {
		return
	}
	share := math.Min(took.Seconds()/every.Seconds(), 1)
	p.mu.Lock()
	defer p.mu.Unlock()
	old, seen := p.share[server]
	next := share
	if seen {
		next = 0.7*old + 0.3*share
	}
	p.share[server] = next
	p.demand += next - old
	if now := p.now(); now.Sub(p.resized) >= resizeEvery {
		p.resized = now
		p.resizeLocked(now)
	}
}

// forget drops a BMC no longer polled from the demand.
func (p *workerPool) forget(server string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.demand -= p.share[server]
	delete(p.share, server)
	if p.demand < 0 || len(p.share) == 0 {
		p.demand = 0
	}
}

// resizeLocked sizes the pool to the demand, within [min, max].
func (p *workerPool) resizeLocked(now time.Time) {
	want := int(math.Ceil(p.demand * demandHeadroom))
	want = max(p.min, min(want, p.max))
	for cur := p.max - p.held; cur < want; cur++ {
		<-p.slots // give a held slot back
		p.held--
	}
	for cur := p.max - p.held; cur > want; cur-- {
		select {
		case p.slots <- struct{}{}: // hold a free slot back
			p.held++
		default:
			cur = want // every slot is busy: shrink at a later sizing
		}
	}
	limit := p.max - p.held
	p.demandGauge.Set(p.demand)
	p.limitGauge.Set(float64(limit))
	overflow := p.demand > float64(p.max)
	if overflow {
		p.fits.Set(0)
		if !p.overflow || now.Sub(p.warned) >= warnEvery {
			p.warned = now
			p.log.Warn("the fleet does not fit its interval: polls fall behind (rackpulse_bmc_polls_skipped_total)",
				"bmcs", len(p.share), "polls_in_flight_needed", math.Round(p.demand), "max_workers", p.max,
				"fix", "raise --max-workers if the machine has CPU to spare, lengthen the interval, or split the fleet across pollers")
		}
	} else {
		p.fits.Set(1)
		if p.overflow {
			p.log.Info("the fleet fits its interval again", "polls_in_flight_needed", math.Round(p.demand), "workers", limit)
		}
	}
	p.overflow = overflow
}
