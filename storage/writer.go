package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/influxdata/influxdb-client-go/v2/api"
	http2 "github.com/influxdata/influxdb-client-go/v2/api/http"
	"github.com/influxdata/influxdb-client-go/v2/api/write"
	lp "github.com/influxdata/line-protocol"
	"github.com/prometheus/client_golang/prometheus"
)

// Writer batches points into InfluxDB. Write never blocks: it appends to a
// bounded in-memory queue. Run, the Writer's loop, takes batches off the
// queue and writes them; a batch InfluxDB cannot take now (unreachable,
// timeout, 5xx, 429, auth, missing bucket) goes to the on-disk spool, and
// the spool is replayed, oldest first, before any newer point is sent.
type Writer struct {
	cfg    Config
	log    *slog.Logger
	client influxdb2.Client
	api    api.WriteAPIBlocking
	m      *metrics
	// finite leaves fields that are not numbers out of every point.
	finite *finiteGuard

	mu        sync.Mutex
	queue     []*write.Point
	closed    bool
	queueFull bool // logged that the queue is full; reset when it has room
	running   bool
	cancelRun context.CancelFunc
	stats     Stats

	kick chan struct{} // a full batch is waiting

	// loop guards what the loop owns: the spool, the encoder and the backoff.
	// Run holds it while running; Close takes it after Run has returned.
	loop     sync.Mutex
	sp       *spool
	enc      *lp.Encoder
	encBuf   bytes.Buffer
	attempts int
	retryAt  time.Time
	// spoolErr is why the spool last refused a batch (its points lost);
	// Close returns what its final flush met.
	spoolErr error
}

// Stats is a point-in-time view of the Writer's counters.
type Stats struct {
	// Queued is the points in the in-memory queue.
	Queued int
	// Written counts points InfluxDB accepted; Batches the requests.
	Written int64
	Batches int64
	// Rejected counts batches dropped as bad data (4xx).
	Rejected int64
	// QueueDropped counts points dropped because the queue was full (or the
	// Writer closed); SpoolDropped points dropped to keep the spool bound.
	QueueDropped int64
	SpoolDropped int64
	// Spool* is what waits on disk.
	SpoolPoints   int
	SpoolBytes    int64
	SpoolSegments int
}

// Option configures a Writer.
type Option func(*writerOptions)

type writerOptions struct {
	log *slog.Logger
	reg prometheus.Registerer
}

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(o *writerOptions) { o.log = l } }

// WithRegisterer registers the Writer's metrics with r.
func WithRegisterer(r prometheus.Registerer) Option {
	return func(o *writerOptions) { o.reg = r }
}

// NewWriter checks cfg, opens the spool (whatever an earlier run left there
// is replayed first by Run) and prepares the client. It makes no request.
func NewWriter(cfg Config, opts ...Option) (*Writer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	o := writerOptions{log: slog.Default()}
	for _, opt := range opts {
		opt(&o)
	}
	sp, err := openSpool(cfg.SpoolDir, cfg.SpoolMaxBytes, cfg.SegmentMaxBytes)
	if err != nil {
		return nil, err
	}
	w := &Writer{
		cfg:  cfg,
		log:  o.log.With("sink", "influxdb"),
		sp:   sp,
		kick: make(chan struct{}, 1),
	}
	w.finite = newFiniteGuard(w.log)
	w.client = newClient(cfg)
	w.api = w.client.WriteAPIBlocking(cfg.Org, cfg.Bucket)
	w.enc = lp.NewEncoder(&w.encBuf)
	w.enc.FailOnFieldErr(true)
	w.enc.SetPrecision(time.Nanosecond)
	w.m = newMetrics(func() float64 {
		w.mu.Lock()
		defer w.mu.Unlock()
		return float64(len(w.queue))
	})
	w.updateSpoolStats()
	if o.reg != nil {
		for _, c := range w.Collectors() {
			if err := o.reg.Register(c); err != nil {
				sp.close()
				w.client.Close()
				return nil, fmt.Errorf("register storage metrics: %w", err)
			}
		}
	}
	if pts, b, segs := sp.stats(); pts > 0 {
		w.log.Info("spool holds points from an earlier run; replaying them first",
			"spool_dir", cfg.SpoolDir, "spool_points", pts, "spool_bytes", b, "spool_segments", segs)
	}
	return w, nil
}

func newClient(cfg Config) influxdb2.Client {
	opts := influxdb2.DefaultOptions().
		SetUseGZip(cfg.gzip()).
		SetPrecision(time.Nanosecond).
		SetApplicationName("rackpulse").
		SetHTTPRequestTimeout(uint(cfg.WriteTimeout.Seconds()) + 1).
		SetBatchSize(uint(cfg.BatchSize))
	return influxdb2.NewClientWithOptions(cfg.URL, cfg.Token.Reveal(), opts)
}

// Collectors returns the Writer's Prometheus collectors (for a caller that
// did not pass WithRegisterer).
func (w *Writer) Collectors() []prometheus.Collector {
	return append(w.m.collectors(), w.finite.collectors()...)
}

// Stats returns the Writer's counters.
func (w *Writer) Stats() Stats {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.stats
	s.Queued = len(w.queue)
	return s
}

// Write queues points without blocking. Points without a time get the
// current time. Callers must not change points after Write. When the queue
// is full the points that do not fit are dropped and counted.
func (w *Writer) Write(points ...*write.Point) {
	if len(points) == 0 {
		return
	}
	now := time.Now()
	for _, p := range points {
		if p.Time().IsZero() {
			p.SetTime(now)
		}
	}
	w.mu.Lock()
	if w.closed {
		w.stats.QueueDropped += int64(len(points))
		w.mu.Unlock()
		w.m.queueDropped.Add(float64(len(points)))
		return
	}
	dropped := 0
	if room := w.cfg.QueueSize - len(w.queue); len(points) > room {
		dropped = len(points) - room
		points = points[:room]
	}
	w.queue = append(w.queue, points...)
	full := len(w.queue) >= w.cfg.BatchSize
	logFull := false
	if dropped > 0 {
		w.stats.QueueDropped += int64(dropped)
		logFull = !w.queueFull
		w.queueFull = true
	} else {
		w.queueFull = false
	}
	w.mu.Unlock()
	if dropped > 0 {
		w.m.queueDropped.Add(float64(dropped))
		if logFull {
			w.log.Warn("storage queue full; dropping points", "queue_size", w.cfg.QueueSize, "dropped_points", dropped)
		}
	}
	if full {
		select {
		case w.kick <- struct{}{}:
		default:
		}
	}
}

// Run writes batches until ctx is done or Close is called: a full batch at
// once, a partial one every FlushInterval, the spool first. It returns nil
// when stopped; call Close afterwards to flush what is left.
func (w *Writer) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w.mu.Lock()
	if w.running || w.closed {
		w.mu.Unlock()
		return errors.New("storage writer: already running or closed")
	}
	w.running = true
	w.cancelRun = cancel
	w.mu.Unlock()
	w.loop.Lock()
	defer w.loop.Unlock()

	flush := time.NewTicker(w.cfg.FlushInterval)
	defer flush.Stop()
	retry := time.NewTimer(time.Hour)
	defer retry.Stop()
	for {
		all := false
		select {
		case <-ctx.Done():
			return nil
		case <-w.kick:
		case <-flush.C:
			all = true
		case <-retry.C:
		}
		w.step(ctx, all)
		if w.inBackoff() {
			retry.Reset(time.Until(w.retryAt))
		}
	}
}

// Close stops Run, then writes what is queued (the spool first) as far as
// ctx allows, spools the rest, and releases the spool and the client.
// Points left in the spool are not an error (the next start sends them);
// points the spool could not take, and so lost, are.
func (w *Writer) Close(ctx context.Context) error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	if w.cancelRun != nil {
		w.cancelRun()
	}
	w.mu.Unlock()

	w.loop.Lock()
	defer w.loop.Unlock()
	w.retryAt = time.Time{} // one more try, whatever the backoff said
	w.spoolErr = nil
	w.step(ctx, true)
	if !w.sp.empty() {
		pts, b, _ := w.sp.stats()
		w.log.Info("storage closed with points spooled; they are written on the next start",
			"spool_dir", w.cfg.SpoolDir, "spool_points", pts, "spool_bytes", b)
	}
	w.sp.close()
	w.client.Close()
	if w.spoolErr != nil {
		return fmt.Errorf("storage: points lost at close, the spool in %s could not take them: %w", w.cfg.SpoolDir, w.spoolErr)
	}
	return nil
}

// step replays the spool, then delivers queued batches: full ones only,
// or everything when all is set.
func (w *Writer) step(ctx context.Context, all bool) {
	w.replay(ctx)
	for {
		lines := w.take(all)
		if lines == nil {
			return
		}
		w.deliver(ctx, lines)
	}
}

// take encodes the next batch off the queue; nil when there is none.
func (w *Writer) take(all bool) []string {
	w.mu.Lock()
	n := len(w.queue)
	if n == 0 || !all && n < w.cfg.BatchSize {
		w.mu.Unlock()
		return nil
	}
	k := min(n, w.cfg.BatchSize)
	pts := w.queue[:k:k]
	w.queue = w.queue[k:]
	if len(w.queue) == 0 {
		w.queue = nil
	}
	w.mu.Unlock()

	lines := make([]string, 0, len(pts))
	for _, p := range pts {
		if p = w.finite.point(p); p == nil {
			continue // nothing left that is a number
		}
		w.encBuf.Reset()
		if _, err := w.enc.Encode(p); err != nil {
			w.m.writeErrors.WithLabelValues(errKindEncode).Inc()
			w.log.Warn("point cannot be encoded; dropped", "measurement", p.Name(), "err", err)
			continue
		}
		lines = append(lines, strings.TrimSuffix(w.encBuf.String(), "\n"))
	}
	return lines
}

func (w *Writer) inBackoff() bool {
	return !w.retryAt.IsZero() && time.Now().Before(w.retryAt)
}

// deliver sends a batch, or spools it when the spool is not empty (older
// points go first), when InfluxDB is backing off, or when the send fails
// in a way worth retrying.
func (w *Writer) deliver(ctx context.Context, lines []string) {
	if len(lines) == 0 {
		return
	}
	if !w.sp.empty() || w.inBackoff() {
		w.spool(lines)
		return
	}
	if f := w.send(ctx, lines); f != nil {
		w.spool(lines)
		w.backoff(f)
	}
}

// replay sends the spool's batches oldest first until it is empty, a send
// fails, or ctx is done. Full batches that queue up meanwhile are spooled
// behind, so the queue never overflows during a long replay.
func (w *Writer) replay(ctx context.Context) {
	for !w.sp.empty() && !w.inBackoff() && ctx.Err() == nil {
		lines, err := w.sp.peek(w.cfg.BatchSize)
		if err != nil {
			w.m.writeErrors.WithLabelValues(errKindSpool).Inc()
			w.log.Error("spool read failed", "spool_dir", w.cfg.SpoolDir, "err", err)
			w.backoff(&failure{kind: errKindSpool, err: err})
			return
		}
		if f := w.send(ctx, lines); f != nil {
			w.backoff(f)
			return
		}
		if err := w.sp.commit(lines); err != nil {
			w.m.writeErrors.WithLabelValues(errKindSpool).Inc()
			w.log.Error("spool commit failed; some points may be sent twice", "err", err)
		}
		if w.sp.empty() {
			w.log.Info("spool replayed", "spool_dir", w.cfg.SpoolDir)
		}
		w.updateSpoolStats()
		for !w.sp.empty() {
			lines := w.take(false)
			if lines == nil {
				break
			}
			w.spool(lines)
		}
	}
}

// spool appends a batch to the spool, dropping the oldest segments when the
// bound is reached.
func (w *Writer) spool(lines []string) {
	dropped, err := w.sp.append(lines)
	for _, d := range dropped {
		w.m.spoolDropped.Add(float64(d.lines))
		w.mu.Lock()
		w.stats.SpoolDropped += int64(d.lines)
		w.mu.Unlock()
		w.log.Warn("spool full; dropped its oldest segment", "spool_dir", w.cfg.SpoolDir,
			"spool_max_bytes", w.cfg.SpoolMaxBytes, "segment", d.seq, "dropped_points", d.lines, "dropped_bytes", d.bytes)
	}
	if err != nil {
		w.spoolErr = err
		w.m.writeErrors.WithLabelValues(errKindSpool).Inc()
		w.m.spoolDropped.Add(float64(len(lines)))
		w.mu.Lock()
		w.stats.SpoolDropped += int64(len(lines))
		w.mu.Unlock()
		w.log.Error("spool append failed; batch lost", "spool_dir", w.cfg.SpoolDir, "points", len(lines), "err", err)
	}
	w.updateSpoolStats()
}

func (w *Writer) updateSpoolStats() {
	pts, b, segs := w.sp.stats()
	w.m.spoolPoints.Set(float64(pts))
	w.m.spoolBytes.Set(float64(b))
	w.m.spoolSegments.Set(float64(segs))
	w.mu.Lock()
	w.stats.SpoolPoints, w.stats.SpoolBytes, w.stats.SpoolSegments = pts, b, segs
	w.mu.Unlock()
}

// failure is a send that is worth retrying.
type failure struct {
	kind       string
	status     int
	retryAfter time.Duration
	err        error
}

// send writes lines in one request (halves on 413). It returns nil when the
// lines are done with, written or rejected as bad data, and a failure when
// they should be retried.
func (w *Writer) send(ctx context.Context, lines []string) *failure {
	start := time.Now()
	wctx, cancel := context.WithTimeout(ctx, w.cfg.WriteTimeout)
	err := w.api.WriteRecord(wctx, lines...)
	cancel()
	w.m.writeSeconds.Observe(time.Since(start).Seconds())
	if err == nil {
		w.m.pointsWritten.Add(float64(len(lines)))
		w.m.batchesWritten.Inc()
		w.mu.Lock()
		w.stats.Written += int64(len(lines))
		w.stats.Batches++
		w.mu.Unlock()
		if w.attempts > 0 {
			w.log.Info("influxdb writes resumed", "failed_attempts", w.attempts)
		}
		w.attempts, w.retryAt = 0, time.Time{}
		return nil
	}
	f := classify(ctx, wctx, err)
	w.m.writeErrors.WithLabelValues(f.kind).Inc()
	switch {
	case f.status == http.StatusRequestEntityTooLarge:
		if len(lines) == 1 {
			w.reject(lines, f)
			return nil
		}
		h := len(lines) / 2
		w.log.Debug("influxdb refused a batch as too large; splitting it", "points", len(lines))
		if f := w.send(ctx, lines[:h]); f != nil {
			return f
		}
		return w.send(ctx, lines[h:])
	case f.kind == errKindRejected:
		w.reject(lines, f)
		return nil
	}
	return f
}

func (w *Writer) reject(lines []string, f *failure) {
	w.m.rejectedBatches.Inc()
	w.mu.Lock()
	w.stats.Rejected++
	w.mu.Unlock()
	first := lines[0]
	if len(first) > 200 {
		first = first[:200]
	}
	w.log.Error("influxdb rejected a batch as bad data; dropped", "status", f.status, "points", len(lines), "first_line", first, "err", f.err)
}

// classify sorts a write error into a kind; kind rejected is not retried.
func classify(ctx, wctx context.Context, err error) *failure {
	f := &failure{kind: errKindOther, err: err}
	var he *http2.Error
	if errors.As(err, &he) {
		f.status = he.StatusCode
		f.retryAfter = time.Duration(he.RetryAfter) * time.Second
	}
	switch s := f.status; {
	case s == 0:
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(wctx.Err(), context.DeadlineExceeded) || ctx.Err() != nil {
			f.kind = errKindTimeout
		} else {
			f.kind = errKindUnreachable
		}
	case s == http.StatusRequestEntityTooLarge:
		f.kind = errKindTooLarge
	case s == http.StatusTooManyRequests || s == http.StatusServiceUnavailable:
		f.kind = errKindBusy
	case s >= 500:
		f.kind = errKindServer
	case s == http.StatusUnauthorized || s == http.StatusForbidden:
		f.kind = errKindAuth
	case s == http.StatusNotFound:
		f.kind = errKindNotFound
	case s >= 400:
		f.kind = errKindRejected
	}
	return f
}

// backoff schedules the next attempt: Retry-After when InfluxDB sent one,
// else RetryInterval doubling per failed attempt (with jitter) up to
// MaxRetryInterval.
func (w *Writer) backoff(f *failure) {
	w.attempts++
	d := f.retryAfter
	if d <= 0 {
		d = w.cfg.RetryInterval << min(w.attempts-1, 20)
		if d <= 0 || d > w.cfg.MaxRetryInterval {
			d = w.cfg.MaxRetryInterval
		}
		d = d/2 + rand.N(d/2+1)
	}
	w.retryAt = time.Now().Add(d)
	pts, _, _ := w.sp.stats()
	w.log.Warn("influxdb write failed; spooling and retrying", "kind", f.kind, "status", f.status,
		"attempt", w.attempts, "retry_in", d.Round(time.Millisecond), "spool_points", pts, "err", f.err)
}
