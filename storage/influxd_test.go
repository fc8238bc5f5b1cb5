package storage

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/rackpulse/rackpulse/storage/influxtest"
)

// The integration tests run against a real influxd (InfluxDB 1.8.10), one
// per test package, started by TestMain on loopback ports with a temporary
// data directory (see storage/influxtest).

// testInflux is the package's influxd; nil when none was found (then
// noInflux says why).
var (
	testInflux *influxtest.Server
	noInflux   string
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	bin, why := influxtest.Binary()
	if bin == "" {
		noInflux = why
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "rackpulse-influxd-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	d, err := influxtest.New(bin, dir)
	if err == nil {
		err = d.Start()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "influxd: %v\n", err)
		if d != nil {
			d.DumpLog()
		}
		return 1
	}
	testInflux = d
	defer d.Stop()
	return m.Run()
}

// needInflux skips the test when there is no influxd, or fails it when
// RACKPULSE_REQUIRE_INTEGRATION=1.
func needInflux(t testing.TB) *influxtest.Server {
	t.Helper()
	if testInflux == nil {
		influxtest.Require(t, noInflux)
	}
	return testInflux
}

// waitFor polls cond until it holds; it fails the test after two minutes
// (a liveness bound far above what any test here needs, not a performance
// assertion).
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
