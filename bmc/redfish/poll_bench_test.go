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
func BenchmarkPoll(b *testing.B) {
	for _, profile := range []string{sim.ProfileModern, sim.ProfileLegacy} {
		for _, slow := range []bool{false, true} {
			name := profile + "/readings"
			if slow {
				name = profile + "/readings+slow"
			}
			b.Run(name, func(b *testing.B) {
				fleet, err := sim.NewFleet(sim.FleetOptions{
					Count: 1, Mix: []sim.ProfileShare{{Profile: profile, Weight: 1}},
					OutDir: b.TempDir(), Username: testUser, Password: testPassword,
				})
				if err != nil {
					b.Fatal(err)
				}
				_, ep := tlsServer(b, fleet.BMCs()[0].Handler())
				c, clock := newCollector(b, ep, bmc.CollectorOptions{Logger: slog.New(slog.DiscardHandler)})
				mustPoll(b, c) // first poll: static facts, session
				requests := 0
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
			})
		}
	}
}
