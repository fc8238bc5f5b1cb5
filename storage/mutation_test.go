package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	http2 "github.com/influxdata/influxdb-client-go/v2/api/http"
	"github.com/influxdata/influxdb-client-go/v2/api/write"

	"github.com/rackpulse/rackpulse/bmc"
)

// mutLines returns n lines of exactly width bytes each (newline excluded).
func mutLines(tag string, n, width int) []string {
	out := make([]string, n)
	for i := range out {
		s := fmt.Sprintf("m,t=%s v=%di", tag, i)
		out[i] = s + " " + strings.Repeat("0", width-len(s)-1)
	}
	return out
}

// mutBytes is what lines take in the spool: each with its newline.
func mutBytes(ls []string) int64 {
	var n int64
	for _, l := range ls {
		n += int64(len(l)) + 1
	}
	return n
}

func mutDrain(t *testing.T, sp *spool) []string {
	t.Helper()
	var got []string
	for !sp.empty() {
		b, err := sp.peek(1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) == 0 {
			t.Fatal("peek returned nothing from a non-empty spool")
		}
		got = append(got, b...)
		if err := sp.commit(b); err != nil {
			t.Fatal(err)
		}
	}
	return got
}

// A batch of exactly the spool's bound fits; two batches that together
// fill the bound exactly are both kept.
func TestSpoolBoundIsInclusive(t *testing.T) {
	a, b := mutLines("a", 4, 30), mutLines("b", 4, 30)
	n := mutBytes(a) // 4 × 31 = 124
	if n != 124 || mutBytes(b) != n {
		t.Fatalf("test lines are %d bytes, want 124", n)
	}

	sp, err := openSpool(t.TempDir(), n, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sp.append(a); err != nil {
		t.Fatalf("a batch of exactly the bound was refused: %v", err)
	}
	sp.close()

	sp, err = openSpool(t.TempDir(), 2*n, n)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.close()
	for _, batch := range [][]string{a, b} {
		if dropped, err := sp.append(batch); err != nil || len(dropped) != 0 {
			t.Fatalf("append: dropped %v, %v; want nothing dropped while at the bound", dropped, err)
		}
	}
	if pts, bytes, _ := sp.stats(); pts != 8 || bytes != 2*n {
		t.Fatalf("stats %d points, %d bytes; want 8 and %d", pts, bytes, 2*n)
	}
	if got := mutDrain(t, sp); !slices.Equal(got, append(slices.Clone(a), b...)) {
		t.Fatalf("drained %v", got)
	}
}

// Batches that fill a segment exactly stay in it; the next one starts a
// new segment.
func TestSpoolSegmentFilledExactly(t *testing.T) {
	a, b, c := mutLines("a", 2, 20), mutLines("b", 2, 20), mutLines("c", 2, 20)
	n := mutBytes(a)
	sp, err := openSpool(t.TempDir(), 1<<20, 2*n)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.close()
	for _, batch := range [][]string{a, b} {
		if _, err := sp.append(batch); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, segs := sp.stats(); segs != 1 {
		t.Fatalf("%d segments after filling one exactly, want 1", segs)
	}
	if _, err := sp.append(c); err != nil {
		t.Fatal(err)
	}
	if _, _, segs := sp.stats(); segs != 2 {
		t.Fatalf("%d segments after one more batch, want 2", segs)
	}
}

// A batch larger than a segment goes into the open segment when that one
// is still empty: no empty segment is left behind for the reader.
func TestSpoolOversizedBatchUsesTheEmptySegment(t *testing.T) {
	dir := t.TempDir()
	sp, err := openSpool(dir, 1<<20, 64)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.close()
	if _, err := sp.append(nil); err != nil {
		t.Fatal(err)
	}
	big := mutLines("big", 5, 40) // 205 bytes, over the 64-byte segment
	if _, err := sp.append(big); err != nil {
		t.Fatal(err)
	}
	if pts, _, segs := sp.stats(); pts != 5 || segs != 1 {
		t.Fatalf("stats: %d points in %d segments, want 5 in 1", pts, segs)
	}
	if got := mutDrain(t, sp); !slices.Equal(got, big) {
		t.Fatalf("drained %v", got)
	}
}

// mutInflux answers each write with the next status of its script (204
// when the script is done) and keeps the lines it accepted.
type mutInflux struct {
	mu       sync.Mutex
	script   []int
	requests int
	lines    []string
}

func (f *mutInflux) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests++
	st := http.StatusNoContent
	if len(f.script) > 0 {
		st, f.script = f.script[0], f.script[1:]
	}
	if st == http.StatusNoContent {
		f.lines = append(f.lines, strings.Split(strings.TrimSpace(string(b)), "\n")...)
	}
	w.WriteHeader(st)
}

func mutWriter(t *testing.T, url string) *Writer {
	t.Helper()
	cfg := Config{
		URL: url, Bucket: "db", SpoolDir: t.TempDir(),
		BatchSize: 100, FlushInterval: time.Hour,
		RetryInterval: 100 * time.Millisecond, MaxRetryInterval: 400 * time.Millisecond,
		WriteTimeout: 30 * time.Second,
	}
	cfg.UseGzip = new(bool) // plain bodies for the fake
	w, err := NewWriter(cfg, WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = w.Close(ctx)
	})
	return w
}

// Lines delivered while older ones wait in the spool go behind them, even
// when InfluxDB is not backing off: never ahead of older points.
func TestDeliverQueuesBehindTheSpool(t *testing.T) {
	f := &mutInflux{}
	srv := httptest.NewServer(f)
	defer srv.Close()
	w := mutWriter(t, srv.URL)
	w.loop.Lock()
	w.spool([]string{"m v=1i 1"})
	w.deliver(context.Background(), []string{"m v=2i 2"})
	pts, _, _ := w.sp.stats()
	w.loop.Unlock()
	if f.requests != 0 || pts != 2 {
		t.Fatalf("requests %d, spooled %d; want no request and both lines spooled", f.requests, pts)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(f.lines, []string{"m v=1i 1", "m v=2i 2"}) {
		t.Fatalf("server has %q, want the spooled line first", f.lines)
	}
}

// A single line InfluxDB refuses as too large cannot be split: it is
// dropped as rejected, not retried or spooled.
func TestSingleLineTooLargeIsRejected(t *testing.T) {
	f := &mutInflux{script: []int{413, 413, 413, 413}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	w := mutWriter(t, srv.URL)
	w.loop.Lock()
	w.Write(write.NewPoint("m", nil, map[string]any{"v": int64(1)}, time.Unix(1_700_000_000, 0)))
	w.step(context.Background(), true)
	w.loop.Unlock()
	s := w.Stats()
	if s.Rejected != 1 || s.SpoolPoints != 0 || s.Written != 0 {
		t.Fatalf("stats %+v, want 1 rejected, nothing spooled", s)
	}
	if f.requests != 1 {
		t.Fatalf("%d requests, want 1", f.requests)
	}
}

// A 500 is retried (spooled), not dropped as bad data.
func TestServerErrorIsRetried(t *testing.T) {
	f := &mutInflux{script: []int{500}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	w := mutWriter(t, srv.URL)
	w.loop.Lock()
	w.Write(write.NewPoint("m", nil, map[string]any{"v": int64(1)}, time.Unix(1_700_000_000, 0)))
	w.step(context.Background(), true)
	w.loop.Unlock()
	if s := w.Stats(); s.Rejected != 0 || s.SpoolPoints != 1 {
		t.Fatalf("stats %+v, want the point spooled for a retry", s)
	}
}

func TestClassify(t *testing.T) {
	bg := context.Background()
	expired, cancel := context.WithDeadline(bg, time.Unix(1, 0))
	defer cancel()
	stopped, stop := context.WithCancel(bg)
	stop()
	status := func(code int) error { return &http2.Error{StatusCode: code} }
	for _, tc := range []struct {
		name      string
		ctx, wctx context.Context
		err       error
		kind      string
		status    int
	}{
		{"connection refused", bg, bg, errors.New("dial tcp: connection refused"), errKindUnreachable, 0},
		{"request deadline", bg, expired, errors.New("net/http: request canceled"), errKindTimeout, 0},
		{"deadline error", bg, bg, fmt.Errorf("post: %w", context.DeadlineExceeded), errKindTimeout, 0},
		{"writer stopped", stopped, stopped, errors.New("canceled"), errKindTimeout, 0},
		{"413", bg, bg, status(413), errKindTooLarge, 413},
		{"429", bg, bg, status(429), errKindBusy, 429},
		{"503", bg, bg, status(503), errKindBusy, 503},
		{"500", bg, bg, status(500), errKindServer, 500},
		{"502", bg, bg, status(502), errKindServer, 502},
		{"401", bg, bg, status(401), errKindAuth, 401},
		{"403", bg, bg, status(403), errKindAuth, 403},
		{"404", bg, bg, status(404), errKindNotFound, 404},
		{"400", bg, bg, status(400), errKindRejected, 400},
		{"422", bg, bg, status(422), errKindRejected, 422},
	} {
		f := classify(tc.ctx, tc.wctx, tc.err)
		if f.kind != tc.kind || f.status != tc.status {
			t.Errorf("%s: kind %q status %d, want %q %d", tc.name, f.kind, f.status, tc.kind, tc.status)
		}
	}
	if f := classify(bg, bg, &http2.Error{StatusCode: 429, RetryAfter: 7}); f.retryAfter != 7*time.Second {
		t.Errorf("Retry-After 7: retry after %v, want 7s", f.retryAfter)
	}
}

// The backoff doubles from RetryInterval up to MaxRetryInterval, each wait
// jittered into the upper half of its step; a Retry-After wins.
func TestBackoffDoublesWithinBounds(t *testing.T) {
	w := mutWriter(t, "http://127.0.0.1:1")
	w.loop.Lock()
	defer w.loop.Unlock()
	ms := time.Millisecond
	steps := []time.Duration{100 * ms, 200 * ms, 400 * ms, 400 * ms, 400 * ms}
	for i, step := range steps {
		before := time.Now()
		w.backoff(&failure{kind: errKindUnreachable})
		after := time.Now()
		lo, hi := step/2, step
		if w.retryAt.Sub(before) < lo || w.retryAt.Sub(after) > hi {
			t.Errorf("attempt %d: next try %v after, want between %v and %v", i+1, w.retryAt.Sub(before), lo, hi)
		}
	}
	for range 30 {
		w.backoff(&failure{kind: errKindUnreachable})
	}
	if d := time.Until(w.retryAt); d > 400*ms {
		t.Errorf("after 35 attempts next try in %v, over the 400ms bound", d)
	}
	before := time.Now()
	w.backoff(&failure{kind: errKindBusy, retryAfter: time.Hour})
	if d := w.retryAt.Sub(before); d < time.Hour || d > time.Hour+time.Minute {
		t.Errorf("Retry-After 1h: next try in %v", d)
	}
}

// mutFields and mutTags read a point back.
func mutFields(p *write.Point) map[string]any {
	out := map[string]any{}
	for _, f := range p.FieldList() {
		out[f.Key] = f.Value
	}
	return out
}

func mutTags(p *write.Point) map[string]string {
	out := map[string]string{}
	for _, t := range p.TagList() {
		out[t.Key] = t.Value
	}
	return out
}

func TestSnapshotPointsFromAPollWithPartErrors(t *testing.T) {
	started := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	s := &bmc.Snapshot{
		Server: "srv-1", Rack: "rk-9",
		Systems: []bmc.System{{ID: "1", Health: bmc.HealthOK}},
		Chassis: []bmc.Chassis{{ID: "1", Health: bmc.HealthWarning}, {ID: "2", Health: bmc.HealthOK}},
		PSUs: []bmc.PSU{
			{Bay: "1", State: "Enabled", Health: bmc.HealthOK, FailurePredicted: true},
			{Bay: "2", State: "Enabled", Health: bmc.HealthOK},
		},
		Poll: bmc.PollReport{Started: started, Errors: []bmc.PartError{
			{Part: bmc.PartSensors}, {Part: bmc.PartMemory}, {Part: bmc.PartSensors},
		}},
	}
	pts := SnapshotPoints(s, Location{Site: "s"})
	health := map[string]*write.Point{}
	var poll *write.Point
	for _, p := range pts {
		if !p.Time().Equal(started) {
			t.Errorf("%s point at %v, want the poll's start %v", p.Name(), p.Time(), started)
		}
		if tags := mutTags(p); tags["server"] != "srv-1" || tags["rack"] != "rk-9" {
			t.Errorf("%s point tags %v, want server srv-1 and rack rk-9 from the snapshot", p.Name(), tags)
		}
		switch p.Name() {
		case MeasurementServerHealth:
			health[mutTags(p)["component"]] = p
		case MeasurementPoll:
			poll = p
		}
	}
	if poll == nil {
		t.Fatal("no poll point")
	}
	if f := mutFields(poll); f["failed_parts"] != "memory,sensors" || f["ok"] != false || f["part_errors"] != int64(3) {
		t.Errorf("poll fields %v, want failed_parts memory,sensors, not ok, 3 part errors", f)
	}
	want := map[string]map[string]any{
		ComponentServer: {"total": int64(3), "warning": int64(1), "critical": int64(0), "health": "Warning", "health_level": int64(2)},
		ComponentPSU:    {"total": int64(2), "warning": int64(1), "critical": int64(0), "health": "Warning", "health_level": int64(2)},
		ComponentBMC:    {"total": int64(1), "warning": int64(1), "critical": int64(0), "health": "Warning", "health_level": int64(2)},
	}
	for comp, wf := range want {
		p := health[comp]
		if p == nil {
			t.Errorf("no server_health point for %s", comp)
			continue
		}
		got := mutFields(p)
		for k, v := range wf {
			if got[k] != v {
				t.Errorf("server_health %s: %s = %v, want %v", comp, k, got[k], v)
			}
		}
	}
}

func TestSnapshotPointsBMCHealthyWhenThePollIsOK(t *testing.T) {
	s := &bmc.Snapshot{Server: "srv-1", Time: time.Unix(1_700_000_000, 0)}
	for _, p := range SnapshotPoints(s, Location{}) {
		if p.Name() == MeasurementServerHealth && mutTags(p)["component"] == ComponentBMC {
			if f := mutFields(p); f["warning"] != int64(0) || f["health"] != "OK" || f["health_level"] != int64(1) {
				t.Errorf("bmc health after a good poll: %v", f)
			}
			return
		}
	}
	t.Fatal("no bmc server_health point")
}

func TestEventPointWithoutATimeTakesThePollTime(t *testing.T) {
	polled := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	p := EventPoint(bmc.LogEntry{Message: "PSU 1 lost input", Severity: bmc.HealthCritical}, Location{Server: "s"}, polled)
	if !p.Time().Equal(polled) {
		t.Errorf("event time %v, want the poll's %v", p.Time(), polled)
	}
	at := polled.Add(-time.Hour)
	p = EventPoint(bmc.LogEntry{Message: "x", Time: at}, Location{Server: "s"}, polled)
	if !p.Time().Equal(at) {
		t.Errorf("event time %v, want its own %v", p.Time(), at)
	}
	if f := mutFields(EventPoint(bmc.LogEntry{Message: "m", Severity: bmc.HealthCritical}, Location{}, polled)); f["severity_level"] != int64(3) {
		t.Errorf("critical event severity_level %v, want 3", f["severity_level"])
	}
}

func TestAlertPointFiringOnlyWhenFiring(t *testing.T) {
	for state, want := range map[string]int64{"firing": 1, "resolved": 0, "pending": 0, "": 0} {
		p := AlertPoint{Name: "PSURedundancyLost", State: state, Time: time.Unix(1_700_000_000, 0)}.Point()
		if got := mutFields(p)["firing"]; got != want {
			t.Errorf("state %q: firing %v, want %d", state, got, want)
		}
	}
}

// A point whose every float is not a number is dropped; one with some
// left keeps them, tags and time; the point given is not changed.
func TestFiniteGuardPoint(t *testing.T) {
	g := newFiniteGuard(slog.New(slog.NewTextHandler(io.Discard, nil)))
	at := time.Unix(1_700_000_000, 0)
	all := write.NewPoint("m", map[string]string{"server": "s"}, map[string]any{"a": math.NaN(), "b": math.Inf(-1)}, at)
	if got := g.point(all); got != nil {
		t.Errorf("point with no number left = %v, want nil", write.PointToLineProtocol(got, time.Nanosecond))
	}
	some := write.NewPoint("m", map[string]string{"server": "s"}, map[string]any{"a": math.Inf(1), "b": 2.5, "c": int64(3)}, at)
	got := g.point(some)
	if got == nil {
		t.Fatal("point with numbers left was dropped")
	}
	if line := write.PointToLineProtocol(got, time.Nanosecond); line != "m,server=s b=2.5,c=3i 1700000000000000000\n" {
		t.Errorf("line %q", line)
	}
	if len(some.FieldList()) != 3 {
		t.Errorf("the point given was changed: %d fields", len(some.FieldList()))
	}
}
