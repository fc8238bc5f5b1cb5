package redfish

import (
	"log/slog"
	"testing"
	"time"

	"github.com/rackpulse/rackpulse/bmc"
	"github.com/rackpulse/rackpulse/bmc/sim"
)

// BenchmarkPoll measures one steady-state poll of a simulated BMC of each
// profile over TLS on loopback (no BMC latency): the poller's CPU and
// allocations per poll, and the requests a poll costs. A steady poll reads
// power, thermal and sensors; every tenth also reads memory, drives and logs
// (5 min slow cadence at a 30 s interval), which the "slow" variants show.
// Each poll opens its connection (TLS session resumption), as a BMC past
// --keep-connections does; the "kept" variants keep one between polls.
// The simulated BMC's own work is in the figures.
func BenchmarkPoll(b *testing.B) {
	for _, profile := range []string{sim.ProfileModern, sim.ProfileLegacy} {
		for _, variant := range []string{"readings", "readings+slow", "readings/kept"} {
			slow, kept := variant == "readings+slow", variant == "readings/kept"
			name := profile + "/" + variant
			b.Run(name, func(b *testing.B) {
				fleet, err := sim.NewFleet(sim.FleetOptions{
					Count: 1, Mix: []sim.ProfileShare{{Profile: profile, Weight: 1}},
					OutDir: b.TempDir(), Username: testUser, Password: testPassword,
				})
				if err != nil {
					b.Fatal(err)
				}
				_, ep := tlsServer(b, fleet.BMCs()[0].Handler())
				opts := bmc.CollectorOptions{Logger: slog.New(slog.DiscardHandler)}
				if kept {
					opts.IdleConns = bmc.NewIdleConnBudget(1)
				}
				c, clock := newCollector(b, ep, opts)
				mustPoll(b, c) // first poll: static facts, session
				requests, dials := 0, c.conns.dials.Load()
				b.ReportAllocs()
				for b.Loop() {
					step := 30 * time.Second
					if slow {
						step = 6 * time.Minute
					}
					clock.advance(step)
					requests += mustPoll(b, c).Poll.Requests
				}
				b.ReportMetric(float64(requests)/float64(b.N), "requests/poll")
				b.ReportMetric(float64(c.conns.dials.Load()-dials)/float64(b.N), "dials/poll")
			})
		}
	}
}
