package redfish

import (
	"fmt"
	"testing"
	"time"

	"github.com/rackpulse/rackpulse/bmc"
	"github.com/rackpulse/rackpulse/bmc/sim"
)

// slowReadsPerInterval simulates n BMCs polled every fast interval from
// their start offsets over d, each reading its slow parts when cadenceDue
// says so, and returns how many slow reads each fast interval carried.
func slowReadsPerInterval(n int, spread bool, fast, slow, d time.Duration) []int {
	t0 := time.Date(2026, 3, 1, 12, 0, 7, 0, time.UTC)
	counts := make([]int, int(d/fast)+1)
	for i := range n {
		name := fmt.Sprintf("rack-%02d-u%02d", i/40+1, i%40+1)
		c := &Collector{spread: spread, slowPhase: bmc.StartOffset(name+"/slow", slow)}
		var last time.Time
		read := false
		for at := t0.Add(bmc.StartOffset(name, fast)); at.Before(t0.Add(d)); at = at.Add(fast) {
			if c.firstPoll.IsZero() {
				c.firstPoll = at
			}
			if c.cadenceDue(at, last, read, slow, c.slowPhase) {
				last, read = at, true
				counts[int(at.Sub(t0)/fast)]++
			}
		}
	}
	return counts
}

// Spread, the slow reads of a fleet fall evenly over the slow cadence:
// any one fast interval carries about fleet × fast / slow of them, the
// first included, where without spreading the first interval carries the
// whole fleet's (and so does every interval a slow cadence later).
func TestSpreadReadsLevelTheFleetsLoad(t *testing.T) {
	const n = 2000
	fast, slow := 30*time.Second, 5*time.Minute
	even := n * int(fast) / int(slow) // 200 a fast interval
	bunched := slowReadsPerInterval(n, false, fast, slow, 30*time.Minute)
	if bunched[0] != n {
		t.Fatalf("without spreading the first interval has %d slow reads, want the fleet's %d", bunched[0], n)
	}
	counts := slowReadsPerInterval(n, true, fast, slow, 30*time.Minute)
	total := 0
	for i, got := range counts[:len(counts)-1] {
		total += got
		if got > 2*even {
			t.Errorf("fast interval %d carries %d slow reads, want about %d (at most %d)", i, got, even, 2*even)
		}
	}
	// Every BMC reads its slow parts once a slow cadence: at the 6 slot
	// boundaries of 30 minutes, less the first for the tenth of the fleet
	// whose first poll comes after it.
	if total < n*55/10 || total > n*6 {
		t.Errorf("%d slow reads in 30 minutes, want about %d", total, n*59/10)
	}
}

// A collector that spreads its reads reads memory, drives, logs and
// processors first at its phase in their cadences, then once a cadence;
// the first poll reads only the fast parts.
func TestSpreadReadsFollowTheBMCsPhase(t *testing.T) {
	ep := healthySimBMC(t)
	ep.Cadence = bmc.Cadence{Readings: 30 * time.Second, Slow: 5 * time.Minute, Static: time.Hour}
	opts := bmcOpts(t)
	opts.SpreadReads = true
	c, clock := newCollector(t, ep, opts)
	t0 := clock.now()
	phase := bmc.StartOffset(ep.Server+"/slow", ep.Cadence.Slow)
	// The first slot boundary after the first poll.
	boundary := t0.Add(-phase).Truncate(ep.Cadence.Slow).Add(phase)
	if !boundary.After(t0) {
		boundary = boundary.Add(ep.Cadence.Slow)
	}

	var reads []time.Time
	for at := t0; at.Before(t0.Add(12 * time.Minute)); at = at.Add(ep.Cadence.Readings) {
		clock.t = at
		snap := mustPoll(t, c)
		if hasPart(snap.Poll.Read, bmc.PartMemory) {
			reads = append(reads, at)
			if len(snap.DIMMs) == 0 {
				t.Errorf("memory read at %v without DIMMs", at.Sub(t0))
			}
		} else if at.Before(boundary) && (len(snap.DIMMs) != 0 || hasPart(snap.Poll.Cached, bmc.PartMemory)) {
			t.Errorf("before its phase (%v) the memory is not read, yet the poll at %v has DIMMs or a cached read", boundary.Sub(t0), at.Sub(t0))
		}
		if at.Equal(t0) && (hasPart(snap.Poll.Read, bmc.PartStorage) || hasPart(snap.Poll.Read, bmc.PartLogs) || hasPart(snap.Poll.Read, bmc.PartCPU)) {
			t.Errorf("the first poll read slow or static parts: %v", snap.Poll.Read)
		}
	}
	if len(reads) < 2 {
		t.Fatalf("memory read at %v in 12 minutes, want at its phase and a slow cadence later", reads)
	}
	// The first poll at or after the boundary reads it; then one a cadence.
	if first := reads[0]; first.Before(boundary) || first.Sub(boundary) >= ep.Cadence.Readings {
		t.Errorf("memory first read %v after the first poll, want the first poll at or after its phase %v", first.Sub(t0), boundary.Sub(t0))
	}
	if gap := reads[1].Sub(reads[0]); gap < ep.Cadence.Slow-ep.Cadence.Readings || gap > ep.Cadence.Slow+ep.Cadence.Readings {
		t.Errorf("memory read again %v later, want about %v", gap, ep.Cadence.Slow)
	}
}

// healthySimBMC serves a simulated modern BMC whose every status is OK.
func healthySimBMC(t *testing.T) bmc.Endpoint {
	t.Helper()
	_, ep := simFleetBMC(t, sim.ProfileModern)
	return ep
}

// A BMC whose health is not OK at its first poll reads the slow parts at
// once, spreading or not: a fault present at start-up is named at once.
func TestSpreadReadsNotOKAtFirstPollReadsAtOnce(t *testing.T) {
	f, err := sim.NewFleet(sim.FleetOptions{Count: 1, Mix: []sim.ProfileShare{{Profile: sim.ProfileModern, Weight: 1}}, Username: testUser, Password: testPassword})
	if err != nil {
		t.Fatal(err)
	}
	b := f.BMCs()[0]
	if err := b.Inject(sim.FaultSpec{Fault: sim.FaultDIMMUncorrectable}); err != nil {
		t.Fatal(err)
	}
	_, ep := tlsServer(t, b.Handler())
	ep.Server = b.Name()
	ep.Cadence = bmc.Cadence{Readings: 30 * time.Second, Slow: time.Hour, Static: time.Hour}
	opts := bmcOpts(t)
	opts.SpreadReads = true
	c, _ := newCollector(t, ep, opts)
	snap := mustPoll(t, c)
	if !hasPart(snap.Poll.Read, bmc.PartMemory) || len(snap.DIMMs) == 0 {
		t.Fatalf("a BMC not OK at its first poll: read %v, %d DIMMs; want its memory read at once", snap.Poll.Read, len(snap.DIMMs))
	}
	failing := 0
	for _, d := range snap.DIMMs {
		if d.Health == bmc.HealthCritical || d.Health == bmc.HealthWarning {
			failing++
		}
	}
	if failing == 0 {
		t.Errorf("no failing DIMM named at the first poll: %+v", snap.DIMMs)
	}
}

// A log first read after the first poll (spreading deferred it, a health
// change brought it on) reports what the BMC logged since that first poll:
// the DIMM fault that changed the health is named, older entries are not.
func TestSpreadLogsReportWhatCameAfterTheFirstPoll(t *testing.T) {
	b, ep := simFleetBMC(t, sim.ProfileModern)
	ep.Cadence = bmc.Cadence{Readings: 30 * time.Second, Slow: time.Hour, Static: time.Hour}
	opts := bmcOpts(t)
	opts.SpreadReads = true
	c, clock := newCollector(t, ep, opts)
	clock.t = time.Now()
	first := mustPoll(t, c)
	if hasPart(first.Poll.Read, bmc.PartLogs) {
		t.Fatalf("a healthy BMC's first spread poll read its logs: %v", first.Poll.Read)
	}
	if err := b.Inject(sim.FaultSpec{Fault: sim.FaultDIMMUncorrectable}); err != nil {
		t.Fatal(err)
	}
	clock.advance(ep.Cadence.Readings)
	snap := mustPoll(t, c)
	if !hasPart(snap.Poll.Read, bmc.PartLogs) {
		t.Fatalf("the health change did not read the logs: %v", snap.Poll.Read)
	}
	dimm := 0
	for _, e := range snap.Logs {
		if e.Time.Before(first.Time.Truncate(time.Second)) {
			t.Errorf("entry %s dated %v, before the first poll at %v, reported", e.ID, e.Time, first.Time)
		}
		if e.Component == "DIMM" {
			dimm++
		}
	}
	if dimm == 0 {
		t.Errorf("the DIMM fault's entry is not reported: %+v", snap.Logs)
	}
}
