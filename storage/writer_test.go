package storage

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/influxdata/influxdb-client-go/v2/api/write"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/rackpulse/rackpulse/bmc"
	"github.com/rackpulse/rackpulse/storage/influxtest"
)

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// testConfig is a config for db with quick flushes and retries.
func testConfig(t testing.TB, url, db string) Config {
	return Config{
		URL: url, Bucket: db, SpoolDir: t.TempDir(),
		BatchSize: 200, FlushInterval: 20 * time.Millisecond,
		RetryInterval: 20 * time.Millisecond, MaxRetryInterval: 200 * time.Millisecond,
		WriteTimeout: 5 * time.Second,
	}
}

// startWriter runs w until the test ends.
func startWriter(t testing.TB, w *Writer) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = w.Close(ctx)
	})
}

func closeWriter(t testing.TB, w *Writer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

func seqPoint(i int) *write.Point {
	return write.NewPoint("seq", map[string]string{"server": "s1"}, map[string]any{"seq": int64(i)},
		time.Unix(1_700_000_000, 0).Add(time.Duration(i)*time.Millisecond))
}

// readSeq returns the seq values stored in db, in time order.
func readSeq(t testing.TB, d *influxtest.Server, db string) []int {
	t.Helper()
	r := d.Query(t, db, `SELECT seq FROM seq`)
	var out []int
	for _, res := range r.Results {
		for _, s := range res.Series {
			for _, v := range s.Values {
				out = append(out, int(v[1].(float64)))
			}
		}
	}
	return out
}

func TestSnapshotPointsReadBack(t *testing.T) {
	d := needInflux(t)
	db := d.CreateDB(t)

	// A recording proxy in front of influxd shows what goes on the wire.
	target, _ := url.Parse(d.URL())
	var gzipped, plain atomic.Int64
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v2/write" {
			if r.Header.Get("Content-Encoding") == "gzip" {
				gzipped.Add(1)
			} else {
				plain.Add(1)
			}
		}
		proxy.ServeHTTP(w, r)
	}))
	defer srv.Close()

	w, err := NewWriter(testConfig(t, srv.URL, db), WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	startWriter(t, w)
	t0 := time.Now().Add(-time.Minute).Truncate(time.Second).UTC()
	loc := Location{Site: "dc1", Room: "hall-a", Row: "r1", Rack: "r12", Server: "srv-1"}
	snap := typicalSnapshot("srv-1", t0)
	snap.DIMMs[5].UncorrectableErrors = ip(3)
	snap.DIMMs[5].Health = bmc.HealthCritical
	pts := SnapshotPoints(snap, loc, ServerPowerPoint{Watts: fp(412), Source: "PowerControl"})
	w.Write(pts...)
	w.Write(RollupPoints(
		RollupPoint{Level: LevelRack, Site: "dc1", Room: "hall-a", Row: "r1", Rack: "r12", Time: t0,
			Watts: fp(4120), BudgetWatts: fp(8000), UtilizationPct: fp(51.5), ServersTotal: 10, ServersReporting: 10,
			CoveragePct: fp(100), FaultsCritical: 1, Faults: ComponentFaults{DIMM: 1}},
		RollupPoint{Level: LevelRack, Site: "dc1", Room: "hall-a", Row: "r1", Rack: "r13", Time: t0.Add(-time.Second),
			Watts: fp(100), ServersTotal: 2, ServersReporting: 0, Silent: true},
		// Older point of r12: LatestRacks must return the newer one.
		RollupPoint{Level: LevelRack, Site: "dc1", Room: "hall-a", Row: "r1", Rack: "r12", Time: t0.Add(-10 * time.Second),
			Watts: fp(1), ServersTotal: 10},
		RollupPoint{Level: LevelRack, Site: "dc2", Room: "x", Row: "y", Rack: "z", Time: t0, Watts: fp(5)},
		RollupPoint{Level: LevelRow, Site: "dc1", Room: "hall-a", Row: "r1", Time: t0, Watts: fp(4220)},
	)...)
	total := len(pts) + 5
	waitFor(t, "all points written", func() bool { return w.Stats().Written >= int64(total) })
	if gzipped.Load() == 0 || plain.Load() != 0 {
		t.Errorf("writes: %d gzipped, %d plain; want all gzipped", gzipped.Load(), plain.Load())
	}

	// InfluxQL: documented tags and units.
	r := d.Query(t, db, `SELECT value, upper_critical FROM sensor WHERE server='srv-1' AND sensor='CPU1 Temp' AND unit='Cel' AND kind='temperature'`)
	if v := r.Results[0].Series; len(v) != 1 || v[0].Values[0][1].(float64) != 56 || v[0].Values[0][2].(float64) != 95 {
		t.Errorf("CPU1 Temp via InfluxQL: %+v", v)
	}
	r = d.Query(t, db, `SELECT count(health_level) FROM sensor WHERE sensor='GPU1 Temp' AND state='Absent'`)
	r2 := d.Query(t, db, `SELECT count(value) FROM sensor WHERE sensor='GPU1 Temp'`)
	if len(r.Results[0].Series) != 1 || len(r2.Results[0].Series) != 0 {
		t.Errorf("absent sensor: health points %+v, value points %+v; want one point without a value", r.Results[0].Series, r2.Results[0].Series)
	}
	r = d.Query(t, db, `SELECT uncorrectable_errors, serial FROM dimm WHERE rack='r12' AND uncorrectable_errors > 0`)
	if s := r.Results[0].Series; len(s) != 1 || len(s[0].Values) != 1 || s[0].Values[0][1].(float64) != 3 {
		t.Errorf("failing DIMM via InfluxQL: %+v", s)
	}
	r = d.Query(t, db, `SHOW TAG VALUES FROM psu WITH KEY = "bay"`)
	if s := r.Results[0].Series; len(s) != 1 || len(s[0].Values) != 2 {
		t.Errorf("psu bay tag values: %+v", s)
	}

	// Flux through the client's QueryAPI.
	rd, err := NewReader(Config{URL: d.URL(), Bucket: db})
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	flux := fmt.Sprintf(`from(bucket: %q) |> range(start: -1h)
  |> filter(fn: (r) => r._measurement == "psu" and r._field == "input_watts" and r.server == "srv-1")
  |> sum()`, db)
	res, err := rd.query.Query(ctx, flux)
	if err != nil {
		t.Fatal(err)
	}
	var psuWatts float64
	for res.Next() {
		psuWatts += res.Record().Value().(float64)
	}
	if res.Err() != nil || psuWatts != 420 {
		t.Errorf("flux PSU input watts sum = %v (%v), want 420", psuWatts, res.Err())
	}

	racks, err := rd.LatestRacks(ctx, "dc1", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if len(racks) != 2 {
		t.Fatalf("LatestRacks: %+v, want r12 and r13", racks)
	}
	r12, r13 := racks[0], racks[1]
	if r12.Rack != "r12" || !r12.Time.Equal(t0) || *r12.Watts != 4120 || *r12.BudgetWatts != 8000 || r12.ServersReporting != 10 ||
		r12.Faults.DIMM != 1 || r12.FaultsCritical != 1 || r12.Silent || r12.EstimatedWatts != nil || r12.Room != "hall-a" {
		t.Errorf("r12 = %+v", r12)
	}
	if r13.Rack != "r13" || !r13.Silent || r13.ServersReporting != 0 || r13.BudgetWatts != nil {
		t.Errorf("r13 = %+v", r13)
	}
	if racks, err := rd.LatestRacks(ctx, "dc1", time.Second); err != nil || len(racks) != 0 {
		t.Errorf("LatestRacks with a 1 s window: %+v, %v; want none (points are a minute old)", racks, err)
	}
}

// TestOutageNoLoss writes a numbered series through a recording proxy in
// front of influxd, stops influxd, keeps writing into the spool (several
// segments), restarts it and writes on while the spool is replayed. Every
// point must be accepted by InfluxDB exactly once and in the order it was
// written: InfluxDB itself cannot show a duplicate (a point with the same
// series and time overwrites the first) nor the order (it sorts by time), so
// the test counts the lines the proxy forwarded and influxd accepted, and
// the Writer's own counts, besides reading the series back.
func TestOutageNoLoss(t *testing.T) {
	d := needInflux(t)
	db := d.CreateDB(t)
	rec := newRecordingProxy(t, d.URL())
	cfg := testConfig(t, rec.URL, db)
	cfg.SegmentMaxBytes = 8 << 10 // about 150 lines a segment: the outage spans several
	// A request that times out may have been stored and is sent again: the
	// limit is far above how long influxd takes, so that a slow machine is
	// not taken for a duplicate.
	cfg.WriteTimeout = time.Minute
	w, err := NewWriter(cfg, WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	startWriter(t, w)

	next := 0
	produce := func(n int) { // n points, in batches of 50 as a poller would
		for n > 0 {
			k := min(n, 50)
			batch := make([]*write.Point, 0, k)
			for range k {
				batch = append(batch, seqPoint(next))
				next++
			}
			w.Write(batch...)
			n -= k
		}
	}

	produce(500)
	waitFor(t, "the first points written", func() bool { return w.Stats().Written == 500 })

	d.Stop()
	produce(1000)
	waitFor(t, "the points written during the outage spooled", func() bool {
		s := w.Stats()
		return s.Queued == 0 && s.SpoolPoints == 1000
	})
	if s := w.Stats(); s.SpoolSegments < 3 || s.Written != 500 {
		t.Fatalf("during the outage: %+v; want 1000 points spooled in several segments, none written", s)
	}
	if rec.failed() == 0 {
		t.Fatal("no write failed during the outage")
	}

	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	// Write on while the spool is replayed: each batch after the Writer has
	// made progress, so new points arrive between replayed batches.
	for range 10 {
		before := w.Stats().Written
		produce(100)
		waitFor(t, "progress after the restart", func() bool { return w.Stats().Written > before })
	}
	n := next
	waitFor(t, "every point written after the restart", func() bool {
		s := w.Stats()
		return s.Written >= int64(n) && s.SpoolPoints == 0 && s.Queued == 0
	})
	closeWriter(t, w)

	st := w.Stats()
	if st.Written != int64(n) || st.SpoolPoints != 0 || st.QueueDropped != 0 || st.SpoolDropped != 0 || st.Rejected != 0 {
		t.Fatalf("stats after close: %+v; want Written == %d and nothing spooled, dropped or rejected", st, n)
	}
	accepted := rec.accepted()
	if len(accepted) != n {
		t.Errorf("influxd accepted %d lines through the proxy, want %d", len(accepted), n)
	}
	for i, v := range accepted {
		if v != i {
			t.Fatalf("accepted line %d has seq %d (%v...): a point sent twice, lost or out of order", i, v, accepted[max(0, i-3):min(len(accepted), i+3)])
		}
	}
	got := readSeq(t, d, db)
	if !slices.Equal(got, seqRange(0, n)) {
		t.Errorf("stored %d points %v..., want 0..%d", len(got), head(got), n-1)
	}
}

// recordingProxy forwards requests to influxd and records the seq of every
// line in each write influxd accepted (2xx), in the order they came.
type recordingProxy struct {
	*httptest.Server
	mu       sync.Mutex
	seqs     []int
	failures int
}

var seqField = regexp.MustCompile(`\bseq=(\d+)i\b`)

func newRecordingProxy(t *testing.T, target string) *recordingProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := &recordingProxy{}
	proxy := httputil.NewSingleHostReverseProxy(u)
	proxy.ErrorLog = log.New(io.Discard, "", 0) // influxd down is the point of the test
	rp.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v2/write" {
			proxy.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		plain := body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(bytes.NewReader(body))
			if err == nil {
				plain, err = io.ReadAll(zr)
			}
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		sw := &statusWriter{ResponseWriter: w}
		proxy.ServeHTTP(sw, r)
		rp.mu.Lock()
		defer rp.mu.Unlock()
		if sw.status/100 != 2 {
			rp.failures++
			return
		}
		for _, m := range seqField.FindAllSubmatch(plain, -1) {
			v, _ := strconv.Atoi(string(m[1]))
			rp.seqs = append(rp.seqs, v)
		}
	}))
	t.Cleanup(rp.Close)
	return rp
}

func (rp *recordingProxy) accepted() []int {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	return slices.Clone(rp.seqs)
}

func (rp *recordingProxy) failed() int {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	return rp.failures
}

// statusWriter remembers the status written through it.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// TestSpoolReplayedOnRestart: a writer that could not reach InfluxDB leaves
// a spool; the next writer on the same spool dir writes it first.
func TestSpoolReplayedOnRestart(t *testing.T) {
	d := needInflux(t)
	db := d.CreateDB(t)
	port, _ := influxtest.FreePort() // nothing listens there
	cfg := testConfig(t, fmt.Sprintf("http://127.0.0.1:%d", port), db)
	w1, err := NewWriter(cfg, WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 1000 {
		w1.Write(seqPoint(i))
	}
	closeWriter(t, w1)
	if s := w1.Stats(); s.SpoolPoints != 1000 || s.Written != 0 {
		t.Fatalf("first writer: %+v, want 1000 spooled", s)
	}

	cfg.URL = d.URL()
	w2, err := NewWriter(cfg, WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	if s := w2.Stats(); s.SpoolPoints != 1000 {
		t.Fatalf("second writer found %d spooled points, want 1000", s.SpoolPoints)
	}
	for i := 1000; i < 1100; i++ {
		w2.Write(seqPoint(i))
	}
	startWriter(t, w2)
	waitFor(t, "spool replayed", func() bool { s := w2.Stats(); return s.Written == 1100 })
	got := readSeq(t, d, db)
	if want := seqRange(0, 1100); !slices.Equal(got, want) {
		t.Fatalf("stored %d points %v..., want 0..1099", len(got), head(got))
	}
}

func seqRange(from, to int) []int {
	var out []int
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

func head(s []int) []int { return s[:min(len(s), 10)] }

func TestSpoolBoundDropsOldestPoints(t *testing.T) {
	d := needInflux(t)
	db := d.CreateDB(t)
	port, _ := influxtest.FreePort()
	cfg := testConfig(t, fmt.Sprintf("http://127.0.0.1:%d", port), db)
	cfg.BatchSize = 100
	cfg.SpoolMaxBytes = 64 << 10
	cfg.SegmentMaxBytes = 8 << 10
	reg := prometheus.NewPedanticRegistry()
	w1, err := NewWriter(cfg, WithLogger(testLogger(t)), WithRegisterer(reg))
	if err != nil {
		t.Fatal(err)
	}
	const n = 5000 // ~40 bytes a line: about three times the bound
	for i := range n {
		w1.Write(seqPoint(i))
	}
	closeWriter(t, w1)
	s := w1.Stats()
	if s.SpoolDropped == 0 || s.SpoolBytes > cfg.SpoolMaxBytes || int(s.SpoolDropped)+s.SpoolPoints != n {
		t.Fatalf("spool after overflow: %+v (bound %d)", s, cfg.SpoolMaxBytes)
	}
	if got := testutil.ToFloat64(w1.m.spoolDropped); got != float64(s.SpoolDropped) {
		t.Errorf("rackpulse_storage_spool_dropped_points_total = %v, want %d", got, s.SpoolDropped)
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(fmt.Sprintf(`
# HELP rackpulse_storage_spool_points Points waiting in the spool.
# TYPE rackpulse_storage_spool_points gauge
rackpulse_storage_spool_points %d
`, s.SpoolPoints)), "rackpulse_storage_spool_points"); err != nil {
		t.Error(err)
	}

	cfg.URL = d.URL()
	w2, err := NewWriter(cfg, WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	startWriter(t, w2)
	waitFor(t, "spool replayed", func() bool { return w2.Stats().SpoolPoints == 0 })
	got := readSeq(t, d, db)
	if want := seqRange(int(s.SpoolDropped), n); !slices.Equal(got, want) {
		t.Fatalf("stored %d points from %v, want the newest %d (%d..%d)", len(got), head(got), len(want), s.SpoolDropped, n-1)
	}
}

// TestBadPointDoesNotWedge: InfluxDB refuses a batch (400, field type
// conflict); it is dropped and counted, and later writes go through.
func TestBadPointDoesNotWedge(t *testing.T) {
	d := needInflux(t)
	db := d.CreateDB(t)
	w, err := NewWriter(testConfig(t, d.URL(), db), WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	startWriter(t, w)
	for i := range 10 {
		w.Write(seqPoint(i))
	}
	waitFor(t, "first points", func() bool { return w.Stats().Written == 10 })
	w.Write(write.NewPoint("seq", map[string]string{"server": "s1"}, map[string]any{"seq": "not a number"}, time.Unix(1_700_000_000, 0).Add(time.Hour)))
	waitFor(t, "the bad batch rejected", func() bool { return w.Stats().Rejected == 1 })
	for i := 10; i < 20; i++ {
		w.Write(seqPoint(i))
	}
	waitFor(t, "later points", func() bool { return w.Stats().Written == 20 })
	if got := readSeq(t, d, db); !slices.Equal(got, seqRange(0, 20)) {
		t.Fatalf("stored %v", got)
	}
	if s := w.Stats(); s.SpoolPoints != 0 {
		t.Fatalf("the rejected batch was spooled: %+v", s)
	}
}

// fakeInflux is an HTTP endpoint that decodes gzip bodies, counts lines,
// and answers per a script: 413 above maxLines, or a queued status.
type fakeInflux struct {
	mu       sync.Mutex
	maxLines int
	statuses []int // answered first, one per request
	retryHdr string
	lines    []string
	requests int
}

func (f *fakeInflux) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	b, _ := io.ReadAll(body)
	ls := strings.Split(strings.TrimSpace(string(b)), "\n")
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests++
	if len(f.statuses) > 0 {
		st := f.statuses[0]
		f.statuses = f.statuses[1:]
		if f.retryHdr != "" {
			w.Header().Set("Retry-After", f.retryHdr)
		}
		w.WriteHeader(st)
		return
	}
	if f.maxLines > 0 && len(ls) > f.maxLines {
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		return
	}
	f.lines = append(f.lines, ls...)
	w.WriteHeader(http.StatusNoContent)
}

func TestSplitsOnTooLarge(t *testing.T) {
	f := &fakeInflux{maxLines: 30}
	srv := httptest.NewServer(f)
	defer srv.Close()
	cfg := testConfig(t, srv.URL, "db")
	cfg.BatchSize = 200
	w, err := NewWriter(cfg, WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		w.Write(seqPoint(i))
	}
	closeWriter(t, w)
	if len(f.lines) != 200 {
		t.Fatalf("server took %d lines, want 200", len(f.lines))
	}
	for i, l := range f.lines {
		if !strings.Contains(l, fmt.Sprintf("seq=%di ", i)) {
			t.Fatalf("line %d out of order: %s", i, l)
		}
	}
	if s := w.Stats(); s.Written != 200 || s.SpoolPoints != 0 || s.Rejected != 0 {
		t.Fatalf("stats: %+v", s)
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	f := &fakeInflux{statuses: []int{http.StatusTooManyRequests}, retryHdr: "3600"}
	srv := httptest.NewServer(f)
	defer srv.Close()
	w, err := NewWriter(testConfig(t, srv.URL, "db"), WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	w.loop.Lock()
	w.Write(seqPoint(0))
	w.step(context.Background(), true)
	until := time.Until(w.retryAt)
	w.Write(seqPoint(1))
	w.step(context.Background(), true) // in backoff: spooled, not sent
	w.loop.Unlock()
	if until < 59*time.Minute {
		t.Errorf("next attempt in %v, want the hour Retry-After asked for", until)
	}
	if f.requests != 1 || w.Stats().SpoolPoints != 2 {
		t.Errorf("requests %d, spooled %d; want 1 request and both points spooled", f.requests, w.Stats().SpoolPoints)
	}
	closeWriter(t, w) // Close tries once more: the server now takes both, in order
	if len(f.lines) != 2 || !strings.Contains(f.lines[0], "seq=0i") {
		t.Errorf("after close the server has %q", f.lines)
	}
}

func TestWriteNeverBlocksWhenQueueFull(t *testing.T) {
	cfg := testConfig(t, "http://127.0.0.1:1", "db")
	cfg.QueueSize, cfg.BatchSize = 100, 10
	w, err := NewWriter(cfg, WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close(context.Background())
	// No Run: nothing drains the queue.
	for i := range 150 {
		w.Write(seqPoint(i))
	}
	if s := w.Stats(); s.Queued != 100 || s.QueueDropped != 50 {
		t.Fatalf("stats: %+v, want 100 queued and 50 dropped", s)
	}
}
