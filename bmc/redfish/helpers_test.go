package redfish

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rackpulse/rackpulse/bmc"
	"github.com/rackpulse/rackpulse/bmc/sim"
)

const (
	testUser     = "monitor"
	testPassword = "s3cret-pw"
)

// repoRoot finds the module root (the directory holding go.mod).
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test directory")
		}
		dir = parent
	}
}

// fixturesDir returns ../shared/fixtures/redfish next to the repository, or
// skips (fails under RACKPULSE_REQUIRE_INTEGRATION=1) when it is absent.
func fixturesDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(repoRoot(t), "..", "shared", "fixtures", "redfish")
	if _, err := os.Stat(dir); err != nil {
		if os.Getenv("RACKPULSE_REQUIRE_INTEGRATION") == "1" {
			t.Fatalf("Redfish mockups not found at %s (required by RACKPULSE_REQUIRE_INTEGRATION=1): %v", dir, err)
		}
		t.Skipf("Redfish mockups not found at %s; set up ../shared/fixtures/redfish to run this test", dir)
	}
	return dir
}

// loadMockup loads one DMTF mockup into a simulator tree.
func loadMockup(t *testing.T, name string) *sim.Tree {
	t.Helper()
	tree, err := sim.LoadMockup(filepath.Join(fixturesDir(t), name))
	if err != nil {
		t.Fatalf("loading mockup %s: %v", name, err)
	}
	return tree
}

// tlsServer serves h over TLS and returns the server and an endpoint that
// trusts it through a CA file.
func tlsServer(t testing.TB, h http.Handler) (*httptest.Server, bmc.Endpoint) {
	t.Helper()
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	block := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(caFile, block, 0o600); err != nil {
		t.Fatal(err)
	}
	ep := bmc.Endpoint{
		Server:         "srv-test",
		Rack:           "r1",
		Address:        srv.Listener.Addr().String(),
		Username:       testUser,
		Password:       bmc.Secret(testPassword),
		TLS:            bmc.TLSConfig{CAFile: caFile},
		RequestTimeout: 5 * time.Second,
		PollTimeout:    30 * time.Second,
		Cadence:        bmc.Cadence{Readings: 30 * time.Second, Slow: 5 * time.Minute, Static: time.Hour},
	}
	return srv, ep
}

// simBMC serves a tree with the simulator over TLS.
func simBMC(t testing.TB, tree *sim.Tree, opts sim.RedfishOptions) (*sim.RedfishBMC, bmc.Endpoint) {
	t.Helper()
	if opts.Username == "" {
		opts.Username, opts.Password = testUser, testPassword
	}
	b := sim.NewRedfishBMC(tree, opts)
	_, ep := tlsServer(t, b)
	return b, ep
}

// fakeClock is a settable wall clock for cadence tests.
type fakeClock struct{ t time.Time }

func (f *fakeClock) now() time.Time          { return f.t }
func (f *fakeClock) advance(d time.Duration) { f.t = f.t.Add(d) }

// newCollector builds a collector on a fake clock and closes it at the end.
func newCollector(t testing.TB, ep bmc.Endpoint, opts bmc.CollectorOptions) (*Collector, *fakeClock) {
	t.Helper()
	c, err := New(ep, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	clock := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	c.now = clock.now
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c, clock
}

func mustPoll(t testing.TB, c *Collector) *bmc.Snapshot {
	t.Helper()
	snap, err := c.Poll(context.Background())
	if err != nil {
		t.Fatalf("Poll: %v", err)
	}
	return snap
}

func ptrEq(p *float64, want float64) bool { return p != nil && *p == want }

func findPSU(s *bmc.Snapshot, chassis, bay string) *bmc.PSU {
	for i := range s.PSUs {
		if s.PSUs[i].Chassis == chassis && s.PSUs[i].Bay == bay {
			return &s.PSUs[i]
		}
	}
	return nil
}

func findSensor(s *bmc.Snapshot, chassis, name string) *bmc.Sensor {
	for i := range s.Sensors {
		if s.Sensors[i].Chassis == chassis && s.Sensors[i].Name == name {
			return &s.Sensors[i]
		}
	}
	return nil
}

func findPower(s *bmc.Snapshot, chassis string, src bmc.PowerSource) *bmc.PowerReading {
	for i := range s.Power {
		if s.Power[i].Chassis == chassis && s.Power[i].Source == src {
			return &s.Power[i]
		}
	}
	return nil
}

func partErrors(s *bmc.Snapshot, part bmc.Part) []bmc.PartError {
	var out []bmc.PartError
	for _, e := range s.Poll.Errors {
		if e.Part == part {
			out = append(out, e)
		}
	}
	return out
}

func hasPart(parts []bmc.Part, p bmc.Part) bool {
	for _, x := range parts {
		if x == p {
			return true
		}
	}
	return false
}

// bmcOpts logs through the test log.
func bmcOpts(t *testing.T) bmc.CollectorOptions {
	return bmc.CollectorOptions{Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func equalJSON(t *testing.T, a, b any) bool {
	t.Helper()
	ja, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	jb, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if string(ja) != string(jb) {
		t.Logf("a: %s\nb: %s", ja, jb)
		return false
	}
	return true
}

// simFleetBMC serves one simulated BMC of a profile over TLS.
func simFleetBMC(t testing.TB, profile string) (*sim.SimBMC, bmc.Endpoint) {
	t.Helper()
	f, err := sim.NewFleet(sim.FleetOptions{Count: 1, Mix: []sim.ProfileShare{{Profile: profile, Weight: 1}}, Username: testUser, Password: testPassword})
	if err != nil {
		t.Fatal(err)
	}
	b := f.BMCs()[0]
	_, ep := tlsServer(t, b.Handler())
	ep.Server = b.Name()
	return b, ep
}
