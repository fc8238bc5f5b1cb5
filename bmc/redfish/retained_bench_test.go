package redfish

import (
	"context"
	"encoding/pem"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/rackpulse/rackpulse/bmc"
	"github.com/rackpulse/rackpulse/bmc/sim"
)

// BenchmarkRetainedPerBMC measures the heap a poller keeps per BMC between
// polls: the collector (with what it remembers: tags and decoded values,
// member lists, the slow parts' last values, the session) and the last
// snapshot, compacted as the scheduler keeps it, after a first poll and a
// steady one. It is the share of the fleet benchmark's live heap that
// grows with the fleet, without a poll in flight; kept connections are
// left out (no idle budget), their cost is the transport's and the BMC's.
// The simulated BMCs run in the same process and are counted before the
// collectors are made. RETAINED_PROFILE=FILE writes the heap profile with
// the collectors alive to FILE.modern and FILE.legacy.
func BenchmarkRetainedPerBMC(b *testing.B) {
	const bmcs = 100
	for _, profile := range []string{sim.ProfileModern, sim.ProfileLegacy} {
		b.Run(profile, func(b *testing.B) {
			fleet, err := sim.NewFleet(sim.FleetOptions{
				Count: bmcs, Mix: []sim.ProfileShare{{Profile: profile, Weight: 1}},
				OutDir: b.TempDir(), Username: testUser, Password: testPassword,
			})
			if err != nil {
				b.Fatal(err)
			}
			var eps []bmc.Endpoint
			caFile := ""
			for _, s := range fleet.BMCs() {
				srv, ep := tlsServer(b, s.Handler())
				if caFile == "" {
					caFile = sharedCAFile(b, srv)
				}
				ep.Server, ep.TLS.CAFile = s.Name(), caFile // one CA file for the fleet, as served
				eps = append(eps, ep)
			}
			opts := bmc.CollectorOptions{Logger: slog.New(slog.DiscardHandler), CertPools: bmc.NewCertPools()}
			// One poll first, so that what the process builds once (JSON
			// type caches, shared strings) is not counted per BMC.
			warm, err := New(eps[0], opts)
			if err != nil {
				b.Fatal(err)
			}
			mustPoll(b, warm)
			_ = warm.Close(context.Background())
			var perBMC float64
			for b.Loop() {
				before := liveHeap()
				collectors := make([]*Collector, len(eps))
				snaps := make([]*bmc.Snapshot, len(eps))
				for i, ep := range eps {
					c, err := New(ep, opts)
					if err != nil {
						b.Fatal(err)
					}
					clock := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
					c.now = clock.now
					mustPoll(b, c)
					clock.advance(30 * time.Second)
					snaps[i] = mustPoll(b, c)
					snaps[i].Compact()
					collectors[i] = c
				}
				perBMC = float64(liveHeap()-before) / bmcs
				if file := os.Getenv("RETAINED_PROFILE"); file != "" {
					writeHeapProfile(b, file+"."+profile)
				}
				runtime.KeepAlive(snaps)
				for _, c := range collectors {
					_ = c.Close(context.Background())
				}
			}
			b.ReportMetric(perBMC, "retained-B/BMC")
		})
	}
}

// liveHeap is the heap in use after the server goroutines of closed
// connections have ended and a full collection.
func liveHeap() uint64 {
	time.Sleep(100 * time.Millisecond)
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// sharedCAFile writes the test servers' certificate (the same for every
// httptest server) once, for every endpoint to name.
func sharedCAFile(b *testing.B, srv *httptest.Server) string {
	file := filepath.Join(b.TempDir(), "fleet-ca.pem")
	block := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(file, block, 0o600); err != nil {
		b.Fatal(err)
	}
	return file
}

// writeHeapProfile writes the heap profile as of the last collection.
func writeHeapProfile(b *testing.B, file string) {
	f, err := os.Create(file)
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
}
