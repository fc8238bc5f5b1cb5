package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/influxdb-client-go/v2/api/write"

	"github.com/rackpulse/rackpulse/alert"
	"github.com/rackpulse/rackpulse/bmc/sim"
	"github.com/rackpulse/rackpulse/storage"
)

// The daemon's own lifecycle: a component that dies takes serve (and the
// site role) down with an error naming it, after stopping the others in
// order (every BMC logged out, the storage writer flushed to its spool); a
// start that fails leaves nothing running.

// unreachableInflux is a storage config whose InfluxDB refuses
// connections and whose points wait in memory (FlushInterval 1 h) until
// the writer is closed, which spools them: points found in the spool
// afterwards show the writer was closed.
func unreachableInflux(t *testing.T) storage.Config {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ln.Close()
	return storage.Config{URL: url, SpoolDir: t.TempDir(), FlushInterval: time.Hour, WriteTimeout: 5 * time.Second}
}

// spooledPoints is how many points a writer opened on cfg's spool finds
// there.
func spooledPoints(t *testing.T, cfg storage.Config) int {
	t.Helper()
	w, err := storage.NewWriter(cfg, storage.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatalf("reopening the spool %s: %v", cfg.SpoolDir, err)
	}
	n := w.Stats().SpoolPoints
	// Its own Close spools again what it found; the count is taken.
	_ = w.Close(context.Background())
	return n
}

// leftGoroutines lists the goroutines still in the storage writer's loop
// or the scheduler.
func leftGoroutines() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var left []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "storage.(*Writer).Run") || strings.Contains(g, "bmc.(*Scheduler).Run") {
			left = append(left, g)
		}
	}
	return left
}

// serveUntilItStops starts serve with cfg on a simulated fleet, waits
// until it polls, calls breakIt, and returns the error serve ended with.
func serveUntilItStops(t *testing.T, cfg serveConfig, fleet *sim.Fleet, breakIt func()) error {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- runServe(ctx, cfg, slog.New(slog.DiscardHandler), ready) }()
	var base string
	select {
	case addr := <-ready:
		base = "http://" + addr
	case err := <-done:
		t.Fatalf("serve stopped at start: %v", err)
	}
	waitFor(t, 60*time.Second, func() bool {
		return strings.Contains(getBody(t, base+"/metrics"), `rackpulse_bmc_polls_total{`)
	})
	for _, b := range fleet.BMCs() {
		waitFor(t, 60*time.Second, func() bool { return b.Handler().ActiveSessions() > 0 })
	}
	breakIt()
	select {
	case err := <-done:
		return err
	case <-time.After(2 * time.Minute):
		t.Fatal("serve kept running half-alive after one of its components died")
		return nil
	}
}

// checkStoppedInOrder checks that what serve opened was closed: every
// BMC logged out, the queued points spooled, no loop left running.
func checkStoppedInOrder(t *testing.T, fleet *sim.Fleet, store storage.Config) {
	t.Helper()
	for _, b := range fleet.BMCs() {
		if n := b.Handler().ActiveSessions(); n != 0 {
			t.Errorf("%s holds %d sessions after serve stopped; want every BMC logged out", b.Name(), n)
		}
	}
	if n := spooledPoints(t, store); n == 0 {
		t.Error("the spool is empty after serve stopped: the storage writer was not closed (its queued points were lost)")
	}
	if left := leftGoroutines(); len(left) > 0 {
		t.Errorf("still running after serve returned:\n%s", strings.Join(left, "\n\n"))
	}
}

// brokenListener is a listener the test can break under the HTTP server.
type brokenListener struct {
	net.Listener
	broken chan struct{}
}

func (l *brokenListener) Accept() (net.Conn, error) {
	type accepted struct {
		c   net.Conn
		err error
	}
	got := make(chan accepted, 1)
	go func() {
		c, err := l.Listener.Accept()
		got <- accepted{c, err}
	}()
	select {
	case a := <-got:
		return a.c, a.err
	case <-l.broken:
		l.Listener.Close()
		return nil, errors.New("accept: too many open files (the test broke the listener)")
	}
}

func TestServeEndsWhenItsHTTPServerFails(t *testing.T) {
	fleet, invPath := startSimFleet(t, sim.FleetOptions{Count: 3, Mix: modernOnly(t)})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	broken := &brokenListener{Listener: ln, broken: make(chan struct{})}
	store := unreachableInflux(t)
	cfg := serveConfig{inventoryPath: invPath, listener: broken, workers: 4, reloadCheck: time.Hour, stateDir: t.TempDir(), storage: store}
	err = serveUntilItStops(t, cfg, fleet, func() { close(broken.broken) })
	if err == nil || !strings.Contains(err.Error(), "http server stopped") || !strings.Contains(err.Error(), ln.Addr().String()) ||
		!strings.Contains(err.Error(), "too many open files") {
		t.Fatalf("serve ended with %v; want an error naming the HTTP server, its address and what broke", err)
	}
	checkStoppedInOrder(t, fleet, store)
}

func TestServeEndsWhenItsStorageLoopFails(t *testing.T) {
	fleet, invPath := startSimFleet(t, sim.FleetOptions{Count: 3, Mix: modernOnly(t)})
	store := unreachableInflux(t)
	fail := make(chan struct{})
	cfg := serveConfig{inventoryPath: invPath, listen: "127.0.0.1:0", workers: 4, reloadCheck: time.Hour, stateDir: t.TempDir(), storage: store,
		runHook: func(name string, run func(context.Context) error) func(context.Context) error {
			if name != "storage writer" {
				return run
			}
			// The writer's loop runs, then fails.
			return func(ctx context.Context) error {
				ctx, cancel := context.WithCancel(ctx)
				defer cancel()
				ran := make(chan error, 1)
				go func() { ran <- run(ctx) }()
				select {
				case <-fail:
					cancel()
					<-ran
					return errors.New("spool disk gone")
				case err := <-ran:
					return err
				}
			}
		}}
	err := serveUntilItStops(t, cfg, fleet, func() { close(fail) })
	if err == nil || !strings.Contains(err.Error(), "storage writer stopped: spool disk gone") {
		t.Fatalf("serve ended with %v; want an error naming the storage writer and its failure", err)
	}
	checkStoppedInOrder(t, fleet, store)
}

func TestFailedStartLeavesNothingRunning(t *testing.T) {
	_, invPath := startSimFleet(t, sim.FleetOptions{Count: 1, Mix: modernOnly(t)})
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()

	// A spool holding points from an earlier run: a failed start must
	// neither lose them nor leave the spool open.
	store := unreachableInflux(t)
	seed, err := storage.NewWriter(store, storage.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	seed.Write(write.NewPoint("earlier_run", nil, map[string]any{"v": 1.0}, time.Unix(1700000000, 0)))
	if err := seed.Close(t.Context()); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name  string
		start func() error
		want  string
	}{
		{"serve, port in use", func() error {
			return runServe(t.Context(), serveConfig{inventoryPath: invPath, listen: taken.Addr().String(), stateDir: t.TempDir(), storage: store},
				slog.New(slog.DiscardHandler), nil)
		}, "listen " + taken.Addr().String()},
		{"serve, bad Alertmanager URL after the writer opened", func() error {
			return runServe(t.Context(), serveConfig{inventoryPath: invPath, listen: "127.0.0.1:0", stateDir: t.TempDir(), storage: store,
				alerts: alertConfig{settings: alert.DefaultSettings(), alertmanagers: []string{"ftp://am:9093"}}},
				slog.New(slog.DiscardHandler), nil)
		}, "alertmanager URL"},
		{"site role, port in use", func() error {
			return runSiteRollup(t.Context(), siteRollupConfig{inventoryPath: invPath, interval: time.Second, freshness: time.Minute,
				lookback: time.Hour, storage: store, stateDir: t.TempDir(), listen: taken.Addr().String()}, slog.New(slog.DiscardHandler))
		}, "listen " + taken.Addr().String()},
		{"site role, bad Alertmanager URL after the writer opened", func() error {
			return runSiteRollup(t.Context(), siteRollupConfig{inventoryPath: invPath, interval: time.Second, freshness: time.Minute,
				lookback: time.Hour, storage: store, stateDir: t.TempDir(), listen: "127.0.0.1:0",
				alerts: alertConfig{settings: alert.DefaultSettings(), alertmanagers: []string{"ftp://am:9093"}}}, slog.New(slog.DiscardHandler))
		}, "alertmanager URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.start()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("start = %v, want an error with %q", err, tc.want)
			}
			if left := leftGoroutines(); len(left) > 0 {
				t.Errorf("still running after the failed start:\n%s", strings.Join(left, "\n\n"))
			}
			if n := spooledPoints(t, store); n != 1 {
				t.Errorf("the spool holds %d points after the failed start, want the earlier run's 1", n)
			}
		})
	}
}

// The site role's rollup loop is one of its components: if it dies, the
// role stops, its writer flushed.
func TestSiteRollupEndsWhenItsLoopFails(t *testing.T) {
	_, invPath := startSimFleet(t, sim.FleetOptions{Count: 1, Mix: modernOnly(t)})
	store := unreachableInflux(t)
	fail := make(chan struct{})
	cfg := siteRollupConfig{inventoryPath: invPath, interval: time.Hour, freshness: time.Minute, lookback: time.Hour,
		storage: store, stateDir: t.TempDir(), listen: "127.0.0.1:0",
		runHook: func(name string, run func(context.Context) error) func(context.Context) error {
			if name != "rollup loop" {
				return run
			}
			return func(ctx context.Context) error {
				select {
				case <-fail:
					panic("rack totals of an unknown rack")
				case <-ctx.Done():
					return nil
				}
			}
		}}
	done := make(chan error, 1)
	go func() { done <- runSiteRollup(t.Context(), cfg, slog.New(slog.DiscardHandler)) }()
	close(fail)
	var err error
	select {
	case err = <-done:
	case <-time.After(2 * time.Minute):
		t.Fatal("the site role kept running after its loop died")
	}
	if err == nil || !strings.Contains(err.Error(), "rollup loop stopped: panicked: rack totals of an unknown rack") {
		t.Fatalf("site role ended with %v; want an error naming the loop and its panic", err)
	}
	if left := leftGoroutines(); len(left) > 0 {
		t.Errorf("still running after the site role returned:\n%s", strings.Join(left, "\n\n"))
	}
}
