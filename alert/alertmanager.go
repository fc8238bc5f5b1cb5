package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Alertmanager delivery defaults.
const (
	// DefaultMaxQueued bounds the alerts waiting for one Alertmanager.
	DefaultMaxQueued = 20000
	// maxBatch is the most alerts sent in one request.
	maxBatch = 1000
	minRetry = time.Second
	maxRetry = time.Minute
)

// AlertmanagerOptions configure delivery.
type AlertmanagerOptions struct {
	// URLs are the Alertmanagers to send to (every alert goes to each, as
	// an HA pair expects); their base URL, without /api/v2/alerts.
	URLs []string
	// ResendEvery is the evaluation interval: a firing alert's endsAt is
	// set 4 of these ahead, so that it lapses only when rackpulse stops
	// sending it.
	ResendEvery time.Duration
	// MaxQueued bounds the alerts waiting per Alertmanager (default
	// DefaultMaxQueued); past it new ones are dropped and counted (the
	// next cycle sends every firing alert again).
	MaxQueued  int
	Timeout    time.Duration
	Client     *http.Client
	Registerer prometheus.Registerer
	Logger     *slog.Logger
}

// Alertmanager sends alerts to Prometheus Alertmanagers through their v2
// API, each from its own queue and goroutine, so that one that is down
// neither blocks the engine nor the others.
type Alertmanager struct {
	targets []*amTarget
}

var _ Notifier = (*Alertmanager)(nil)

// amTarget is one Alertmanager: the alerts waiting for it, the latest
// version of each.
type amTarget struct {
	url     string // .../api/v2/alerts
	display string // the URL without credentials, for logs and metrics
	opts    *AlertmanagerOptions
	log     *slog.Logger
	wake    chan struct{}

	mu      sync.Mutex
	pending map[string]amAlert
	order   []string

	sent, failed, dropped prometheus.Counter
	queued                prometheus.Gauge
}

// amAlert is an alert as the v2 API takes it.
type amAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     time.Time         `json:"startsAt,omitzero"`
	EndsAt       time.Time         `json:"endsAt,omitzero"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// NewAlertmanager checks the URLs and builds the senders; Run delivers.
func NewAlertmanager(opts AlertmanagerOptions) (*Alertmanager, error) {
	if opts.ResendEvery <= 0 {
		opts.ResendEvery = time.Minute
	}
	if opts.MaxQueued <= 0 {
		opts.MaxQueued = DefaultMaxQueued
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: opts.Timeout}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	am := &Alertmanager{}
	vecs := newAMMetrics(opts.Registerer)
	for _, raw := range opts.URLs {
		u, err := url.Parse(strings.TrimSpace(raw))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("alertmanager URL %q: want http(s)://host:port", Redact(raw))
		}
		display := Redact(u.String())
		u.Path = strings.TrimSuffix(u.Path, "/") + "/api/v2/alerts"
		t := &amTarget{
			url: u.String(), display: display, opts: &opts, wake: make(chan struct{}, 1),
			log:     opts.Logger.With("alertmanager", display),
			pending: map[string]amAlert{},
			sent:    vecs.sent.WithLabelValues(display), failed: vecs.failed.WithLabelValues(display),
			dropped: vecs.dropped.WithLabelValues(display), queued: vecs.queued.WithLabelValues(display),
		}
		am.targets = append(am.targets, t)
	}
	return am, nil
}

// Redact masks the secret of a URL's userinfo, for logs, metrics and
// errors: the password (http://admin:xxxxx@host), or a userinfo without
// a password, often a token (http://xxxxx@host).
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "[unparsable URL]"
	}
	if u.User != nil {
		if _, hasPassword := u.User.Password(); !hasPassword {
			u.User = url.User("xxxxx")
		}
	}
	return u.Redacted()
}

type amMetrics struct {
	sent, failed, dropped *prometheus.CounterVec
	queued                *prometheus.GaugeVec
}

func newAMMetrics(reg prometheus.Registerer) amMetrics {
	m := amMetrics{
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rackpulse_alertmanager_alerts_sent_total", Help: "Alerts Alertmanager accepted.",
		}, []string{"alertmanager"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rackpulse_alertmanager_requests_failed_total", Help: "Requests to Alertmanager that failed (retried with backoff).",
		}, []string{"alertmanager"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rackpulse_alertmanager_alerts_dropped_total", Help: "Alerts dropped because the queue for an Alertmanager was full.",
		}, []string{"alertmanager"}),
		queued: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "rackpulse_alertmanager_queue_length", Help: "Alerts waiting to be sent to an Alertmanager.",
		}, []string{"alertmanager"}),
	}
	if reg != nil {
		reg.MustRegister(m.sent, m.failed, m.dropped, m.queued)
	}
	return m
}

// Notify queues alerts for every Alertmanager without blocking; a newer
// version of an alert replaces the one waiting.
func (am *Alertmanager) Notify(alerts []Alert) {
	if len(alerts) == 0 {
		return
	}
	now := time.Now()
	for _, t := range am.targets {
		t.enqueue(alerts, now)
	}
}

func (t *amTarget) enqueue(alerts []Alert, now time.Time) {
	t.mu.Lock()
	dropped := 0
	for i := range alerts {
		al := &alerts[i]
		if len(al.Labels) == 0 {
			continue
		}
		fp := fingerprint(al.Labels)
		if _, waiting := t.pending[fp]; !waiting {
			if len(t.pending) >= t.opts.MaxQueued {
				dropped++
				continue
			}
			t.order = append(t.order, fp)
		}
		t.pending[fp] = toAM(al, now, t.opts.ResendEvery)
	}
	n := len(t.pending)
	t.mu.Unlock()
	t.queued.Set(float64(n))
	if dropped > 0 {
		t.dropped.Add(float64(dropped))
		t.log.Warn("alertmanager queue full: alerts dropped (firing ones are sent again next cycle)", "dropped", dropped, "queued", n)
	}
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

func toAM(al *Alert, now time.Time, every time.Duration) amAlert {
	a := amAlert{Labels: al.Labels, StartsAt: al.StartsAt, GeneratorURL: al.GeneratorURL,
		Annotations: map[string]string{"summary": al.Annotations.Summary, "description": al.Annotations.Description}}
	if al.State == StateFiring {
		a.EndsAt = now.Add(4 * every)
	} else {
		a.EndsAt = al.EndsAt
	}
	return a
}

// fingerprint identifies an alert by its labels.
func fingerprint(labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k)
		b.WriteByte(0)
		b.WriteString(labels[k])
		b.WriteByte(0)
	}
	return b.String()
}

// Run delivers queued alerts to every Alertmanager until ctx is done,
// then makes one last attempt for what is still queued.
func (am *Alertmanager) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, t := range am.targets {
		wg.Go(func() { t.run(ctx) })
	}
	wg.Wait()
}

func (t *amTarget) run(ctx context.Context) {
	backoff := time.Duration(0)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		if backoff > 0 {
			timer.Reset(backoff)
			select {
			case <-ctx.Done():
				t.drain()
				return
			case <-timer.C:
			}
		} else {
			select {
			case <-ctx.Done():
				t.drain()
				return
			case <-t.wake:
			}
		}
		if err := t.sendAll(ctx); err != nil {
			backoff = nextBackoff(backoff, err)
			t.failed.Inc()
			t.log.Warn("alertmanager unreachable; retrying", "err", err, "retry_in", backoff.Round(time.Millisecond))
			continue
		}
		backoff = 0
	}
}

// drain makes one bounded attempt to deliver what is queued at shutdown
// (the resolves of a poller that stops, for one).
func (t *amTarget) drain() {
	ctx, cancel := context.WithTimeout(context.Background(), t.opts.Timeout)
	defer cancel()
	if err := t.sendAll(ctx); err != nil {
		t.log.Warn("alerts still queued at shutdown not delivered", "err", err)
	}
}

// sendAll sends everything queued, in batches; on a failure what was not
// sent (and not replaced meanwhile) goes back into the queue.
func (t *amTarget) sendAll(ctx context.Context) error {
	for {
		t.mu.Lock()
		if len(t.order) == 0 {
			t.mu.Unlock()
			return nil
		}
		n := min(len(t.order), maxBatch)
		fps := t.order[:n:n]
		batch := make([]amAlert, 0, n)
		for _, fp := range fps {
			batch = append(batch, t.pending[fp])
		}
		t.mu.Unlock()
		err := t.post(ctx, batch)
		t.mu.Lock()
		if err == nil {
			// Sent: drop them unless a newer version came meanwhile.
			for i, fp := range fps {
				if a, ok := t.pending[fp]; ok && sameAMAlert(a, batch[i]) {
					delete(t.pending, fp)
				}
			}
			t.order = t.order[:0]
			for fp := range t.pending {
				t.order = append(t.order, fp)
			}
		}
		left := len(t.pending)
		t.mu.Unlock()
		t.queued.Set(float64(left))
		if err != nil {
			return err
		}
		t.sent.Add(float64(len(batch)))
	}
}

func sameAMAlert(a, b amAlert) bool {
	return a.EndsAt.Equal(b.EndsAt) && a.StartsAt.Equal(b.StartsAt) && a.Annotations["summary"] == b.Annotations["summary"]
}

// errRetryAfter carries an Alertmanager's Retry-After.
type errRetryAfter struct {
	err   error
	after time.Duration
}

func (e *errRetryAfter) Error() string { return e.err.Error() }
func (e *errRetryAfter) Unwrap() error { return e.err }

func (t *amTarget) post(ctx context.Context, batch []amAlert) error {
	body, err := json.Marshal(batch)
	if err != nil {
		return fmt.Errorf("encoding alerts: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, t.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := t.opts.Client.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // the URL (and any credentials in it) is logged once, redacted
		}
		return fmt.Errorf("POST %s: %w", t.display, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 == 2 {
		return nil
	}
	err = fmt.Errorf("POST %s: %s: %s", t.display, resp.Status, strings.TrimSpace(string(msg)))
	if s := resp.Header.Get("Retry-After"); s != "" {
		if secs, perr := strconv.Atoi(s); perr == nil && secs > 0 {
			return &errRetryAfter{err: err, after: time.Duration(secs) * time.Second}
		}
	}
	return err
}

// nextBackoff doubles the wait (with jitter) up to maxRetry, honouring an
// Alertmanager's Retry-After within that bound.
func nextBackoff(prev time.Duration, err error) time.Duration {
	var ra *errRetryAfter
	if errors.As(err, &ra) {
		return min(ra.after, maxRetry)
	}
	next := max(minRetry, 2*prev)
	next = min(next, maxRetry)
	return next - time.Duration(rand.Int64N(int64(next)/5+1))
}
