package redfish

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rackpulse/rackpulse/bmc"
	"github.com/rackpulse/rackpulse/bmc/sim"
)

// A change in a system's or chassis's health reads memory, drives, logs and
// processors in the same poll, whatever their cadence; a poll without one
// reads none of them before their cadence.

// earlyReadParts are the parts a health change reads early.
var earlyReadParts = []bmc.Part{bmc.PartMemory, bmc.PartStorage, bmc.PartLogs, bmc.PartCPU}

// longCadence: the slow parts are never due by their cadence in these
// tests (the fake clock moves 30 s a poll).
var longCadence = bmc.Cadence{Readings: 30 * time.Second, Slow: time.Hour, Static: 24 * time.Hour}

// healthSimCollector builds a collector on a fake clock for one simulated
// BMC with a long slow cadence.
func healthSimCollector(t *testing.T, f *sim.Fleet, b *sim.SimBMC) (*Collector, *fakeClock) {
	t.Helper()
	ep := bmc.Endpoint{
		Server:         b.Name(),
		Address:        b.URL(),
		Username:       testUser,
		Password:       bmc.Secret(testPassword),
		TLS:            bmc.TLSConfig{CAFile: f.CAFile()},
		Cadence:        longCadence,
		RequestTimeout: 10 * time.Second,
		PollTimeout:    20 * time.Second,
	}
	return newCollector(t, ep, bmcOpts(t))
}

// startHealthFleet starts n BMCs of each synthetic profile.
func startHealthFleet(t *testing.T, n int) (*sim.Fleet, map[string][]*sim.SimBMC) {
	t.Helper()
	f, err := sim.StartOnFreePorts(context.Background(), sim.FleetOptions{
		Count:    2 * n,
		Mix:      []sim.ProfileShare{{Profile: sim.ProfileModern, Weight: 1}, {Profile: sim.ProfileLegacy, Weight: 1}},
		OutDir:   t.TempDir(),
		Username: testUser,
		Password: testPassword,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := f.Close(); err != nil {
			t.Errorf("closing fleet: %v", err)
		}
	})
	byProfile := map[string][]*sim.SimBMC{}
	for _, b := range f.BMCs() {
		byProfile[b.Info().Profile] = append(byProfile[b.Info().Profile], b)
	}
	for _, prof := range simProfiles {
		if len(byProfile[prof.name]) < n {
			t.Fatalf("fleet has %d %s BMCs, want %d", len(byProfile[prof.name]), prof.name, n)
		}
	}
	return f, byProfile
}

// assertEarlyParts checks whether the slow and static parts were read
// (listed in Poll.Read, not in Poll.Cached) or carried over.
func assertEarlyParts(t *testing.T, what string, snap *bmc.Snapshot, read bool) {
	t.Helper()
	for _, part := range earlyReadParts {
		if hasPart(snap.Poll.Read, part) != read || hasPart(snap.Poll.Cached, part) == read {
			verb := "carried over"
			if read {
				verb = "read"
			}
			t.Errorf("%s: part %s not %s (read %v, cached %v)", what, part, verb, snap.Poll.Read, snap.Poll.Cached)
		}
	}
}

func fmtCount(n *int64) string {
	if n == nil {
		return "none"
	}
	return strconv.FormatInt(*n, 10)
}

// statusesOf is the systems' and chassis' Health and HealthRollup, as the
// health watch sees them (all but the summaries').
func statusesOf(s *bmc.Snapshot) string {
	var b strings.Builder
	for _, sys := range s.Systems {
		fmt.Fprintf(&b, "system %s %s/%s;", sys.ID, sys.Health, sys.HealthRollup)
	}
	for _, ch := range s.Chassis {
		fmt.Fprintf(&b, "chassis %s %s/%s;", ch.ID, ch.Health, ch.HealthRollup)
	}
	return b.String()
}

// worstHealth is the worst Health or HealthRollup of the systems and chassis.
func worstHealth(s *bmc.Snapshot) bmc.Health {
	h := bmc.HealthOK
	for _, sys := range s.Systems {
		h = h.Worse(sys.Health).Worse(sys.HealthRollup)
	}
	for _, ch := range s.Chassis {
		h = h.Worse(ch.Health).Worse(ch.HealthRollup)
	}
	return h
}

func systemHealth(s *bmc.Snapshot) bmc.Health {
	if len(s.Systems) == 0 {
		return bmc.HealthUnknown
	}
	return s.Systems[0].Health
}

// TestDIMMNamedInThePollHealthTurnsWarning: with the slow cadence at an
// hour, the poll in which a system first reports Warning for correctable
// ECC errors also carries the DIMM (slot, Warning health) and the log
// entry naming it; polls in which no health changed read no memory.
func TestDIMMNamedInThePollHealthTurnsWarning(t *testing.T) {
	fleet, byProfile := startHealthFleet(t, 1)
	for _, prof := range simProfiles {
		b := byProfile[prof.name][0]
		t.Run(prof.name, func(t *testing.T) {
			t.Parallel()
			c, clock := healthSimCollector(t, fleet, b)

			first := basePoll(t, c)
			assertEarlyParts(t, "first poll", first, true)
			if d := findDIMM(first, prof.dimmSlot); d == nil || d.Health != bmc.HealthOK {
				t.Fatalf("DIMM %s before the fault: %+v", prof.dimmSlot, d)
			}
			clock.advance(longCadence.Readings)
			steady := basePoll(t, c)
			assertEarlyParts(t, "steady poll", steady, false)

			// The DIMM reaches Warning at its third step (2 s after the
			// injection), Critical at its ninth: the window between is
			// wide enough for a poll on a loaded machine.
			inject(t, b, sim.FaultSpec{Fault: sim.FaultDIMMECC, Target: "0", Every: time.Second})
			var trigger *bmc.Snapshot
			for polls := 0; trigger == nil; polls++ {
				clock.advance(longCadence.Readings)
				if clock.t.Sub(first.Time) >= longCadence.Slow {
					t.Fatalf("no health change after %d polls: the slow cadence came round", polls)
				}
				snap := mustPoll(t, c)
				// The fault shows in the system's and the chassis's status;
				// a poll may read one after the fault's step and the other
				// before: either is the change.
				if statusesOf(snap) != statusesOf(first) {
					trigger = snap
					break
				}
				// No health change: nothing read early, the DIMM carried.
				assertEarlyParts(t, "poll without a health change", snap, false)
				if snap.Poll.Requests != steady.Poll.Requests {
					t.Errorf("poll without a health change made %d requests, the steady poll %d", snap.Poll.Requests, steady.Poll.Requests)
				}
				if d := findDIMM(snap, prof.dimmSlot); d == nil || d.Health != bmc.HealthOK {
					t.Errorf("DIMM %s changed without a memory read: %+v", prof.dimmSlot, d)
				}
				time.Sleep(100 * time.Millisecond)
			}

			if h := worstHealth(trigger); h != bmc.HealthWarning {
				t.Fatalf("health went OK -> %s: the poll missed the Warning stage", h)
			}
			assertEarlyParts(t, "poll in which the health changed", trigger, true)
			d := findDIMM(trigger, prof.dimmSlot)
			if d == nil {
				t.Fatalf("poll in which the health changed has no DIMM %s: %+v", prof.dimmSlot, trigger.DIMMs)
			}
			// Read after the system in the same poll: Warning, or Critical
			// had the poll stalled for seconds between the two.
			if d.Health != bmc.HealthWarning && d.Health != bmc.HealthCritical {
				t.Errorf("DIMM %s in the poll the system turned Warning: %+v, want Warning", prof.dimmSlot, d)
			}
			if prof.eccCounters && (d.CorrectableErrors == nil || *d.CorrectableErrors <= 16) {
				t.Errorf("DIMM %s correctable count %s, want past 16", prof.dimmSlot, fmtCount(d.CorrectableErrors))
			}
			if e := findLog([]*bmc.Snapshot{trigger}, "DIMM", prof.dimmSlot, bmc.HealthWarning); e == nil {
				t.Errorf("no Warning log entry naming DIMM %s in that poll; new entries: %+v", prof.dimmSlot, trigger.Logs)
			}
			if trigger.Poll.Requests <= steady.Poll.Requests {
				t.Errorf("poll reading the slow parts made %d requests, a steady one %d", trigger.Poll.Requests, steady.Poll.Requests)
			}

			// The next poll reads memory again only if the health changed again.
			clock.advance(longCadence.Readings)
			next := mustPoll(t, c)
			assertEarlyParts(t, "poll after the change", next, statusesOf(next) != statusesOf(trigger))
			if d := findDIMM(next, prof.dimmSlot); d == nil || d.Health == bmc.HealthOK {
				t.Errorf("DIMM %s after the change: %+v", prof.dimmSlot, d)
			}
		})
	}
}

// TestEarlyReadWaitsForBusyBackoff: a health change seen while the BMC is
// in a busy backoff reads the slow parts at the first poll after it, not
// during it.
func TestEarlyReadWaitsForBusyBackoff(t *testing.T) {
	fleet, byProfile := startHealthFleet(t, 1)
	prof := simProfiles[0]
	b := byProfile[prof.name][0]
	c, clock := healthSimCollector(t, fleet, b)
	basePoll(t, c)
	clock.advance(longCadence.Readings)
	steady := basePoll(t, c)

	inject(t, b, sim.FaultSpec{Fault: sim.FaultBusy})
	clock.advance(longCadence.Readings)
	if _, err := c.Poll(context.Background()); bmc.KindOf(err) != bmc.ErrKindBusy {
		t.Fatalf("poll of a busy BMC: %v, want busy", err)
	}
	if !b.Clear(sim.FaultBusy) {
		t.Fatal("busy fault was not on")
	}
	// A step of a nanosecond: the DIMM is Critical at once.
	inject(t, b, sim.FaultSpec{Fault: sim.FaultDIMMECC, Target: "0", Every: time.Nanosecond})

	// Inside the backoff (it starts at the readings interval): the change
	// is seen, the slow parts wait.
	clock.advance(longCadence.Readings / 3)
	during := mustPoll(t, c)
	if systemHealth(during) != bmc.HealthCritical {
		t.Fatalf("system health %q during the backoff, want Critical", systemHealth(during))
	}
	assertEarlyParts(t, "poll in the busy backoff", during, false)
	if during.Poll.Requests != steady.Poll.Requests {
		t.Errorf("poll in the busy backoff made %d requests, a steady poll %d", during.Poll.Requests, steady.Poll.Requests)
	}
	if d := findDIMM(during, prof.dimmSlot); d == nil || d.Health != bmc.HealthOK {
		t.Errorf("DIMM %s during the backoff: %+v, want the last value read (OK)", prof.dimmSlot, d)
	}

	// After the backoff: no new change, but the pending read is done.
	clock.advance(longCadence.Readings)
	after := basePoll(t, c)
	assertEarlyParts(t, "first poll after the backoff", after, true)
	if d := findDIMM(after, prof.dimmSlot); d == nil || d.Health != bmc.HealthCritical {
		t.Errorf("DIMM %s after the backoff: %+v, want Critical", prof.dimmSlot, d)
	}

	// Done: the next poll reads nothing early.
	clock.advance(longCadence.Readings)
	assertEarlyParts(t, "second poll after the backoff", basePoll(t, c), false)
}

// switchablePaths answers 500 for paths containing the fragment set in
// failing, and passes the rest on.
type switchablePaths struct {
	next    http.Handler
	failing atomic.Pointer[string]
}

func (s *switchablePaths) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f := s.failing.Load(); f != nil && strings.Contains(r.URL.Path, *f) {
		failingPaths(s.next, http.StatusInternalServerError, *f).ServeHTTP(w, r)
		return
	}
	s.next.ServeHTTP(w, r)
}

func (s *switchablePaths) fail(fragment string) { s.failing.Store(&fragment) }
func (s *switchablePaths) heal()                { s.failing.Store(nil) }

// setStatus changes Status fields of a resource of a mockup tree.
func setStatus(t *testing.T, tree *sim.Tree, uri string, path []string, fields map[string]any) {
	t.Helper()
	obj, ok := tree.Get(uri)
	if !ok {
		t.Fatalf("%s not in the mockup", uri)
	}
	m := obj
	for _, key := range path {
		next, ok := m[key].(map[string]any)
		if !ok {
			t.Fatalf("%s has no %s", uri, strings.Join(path, "."))
		}
		m = next
	}
	st, ok := m["Status"].(map[string]any)
	if !ok {
		t.Fatalf("%s %s has no Status", uri, strings.Join(path, "."))
	}
	for k, v := range fields {
		st[k] = v
	}
	if err := tree.Set(uri, obj); err != nil {
		t.Fatal(err)
	}
}

const (
	rm1System  = "/redfish/v1/Systems/437XR1138R2"
	rm1DIMM1   = "/redfish/v1/Systems/437XR1138R2/Memory/DIMM1"
	rm1Chassis = "/redfish/v1/Chassis/1U"
)

// TestEachWatchedHealthTriggersAnEarlyRead: on the DMTF public-rackmount1
// mockup, a change of the MemorySummary status alone, of the chassis's
// HealthRollup alone, and of the system's Health alone each read the slow
// parts in that poll; a poll without a change reads none of them and costs
// what a steady poll costs.
func TestEachWatchedHealthTriggersAnEarlyRead(t *testing.T) {
	tree := loadMockup(t, "public-rackmount1")
	_, ep := simBMC(t, tree, sim.RedfishOptions{})
	ep.Cadence = longCadence
	c, clock := newCollector(t, ep, bmcOpts(t))
	mustPoll(t, c)
	clock.advance(ep.Cadence.Readings)
	steady := mustPoll(t, c)
	assertEarlyParts(t, "steady poll", steady, false)

	changes := []struct {
		name   string
		change func()
	}{
		{"MemorySummary Health", func() {
			setStatus(t, tree, rm1DIMM1, nil, map[string]any{"Health": "Warning"})
			setStatus(t, tree, rm1System, []string{"MemorySummary"}, map[string]any{"Health": "Warning", "HealthRollup": "Warning"})
		}},
		{"chassis HealthRollup", func() { setStatus(t, tree, rm1Chassis, nil, map[string]any{"HealthRollup": "Warning"}) }},
		{"system Health", func() { setStatus(t, tree, rm1System, nil, map[string]any{"Health": "Critical"}) }},
		{"ProcessorSummary HealthRollup", func() {
			setStatus(t, tree, rm1System, []string{"ProcessorSummary"}, map[string]any{"HealthRollup": "Warning"})
		}},
	}
	for _, ch := range changes {
		ch.change()
		clock.advance(ep.Cadence.Readings)
		snap := mustPoll(t, c)
		assertEarlyParts(t, ch.name+" changed", snap, true)
		if ch.name == "MemorySummary Health" {
			if d := findDIMM(snap, "DIMM 1"); d == nil || d.Health != bmc.HealthWarning {
				t.Errorf("DIMM 1 after its health changed: %+v (all %+v)", d, snap.DIMMs)
			}
		}
		clock.advance(ep.Cadence.Readings)
		quiet := mustPoll(t, c)
		assertEarlyParts(t, "poll after the "+ch.name+" change", quiet, false)
		if quiet.Poll.Requests != steady.Poll.Requests {
			t.Errorf("poll after the %s change made %d requests, a steady poll %d", ch.name, quiet.Poll.Requests, steady.Poll.Requests)
		}
	}
}

// TestEarlyReadRetriedUntilRead: an early read whose collection cannot be
// read is tried again at the next poll, though no health changed since.
func TestEarlyReadRetriedUntilRead(t *testing.T) {
	tree := loadMockup(t, "public-rackmount1")
	b := sim.NewRedfishBMC(tree, sim.RedfishOptions{Username: testUser, Password: testPassword})
	sw := &switchablePaths{next: b}
	_, ep := tlsServer(t, sw)
	ep.Cadence = longCadence
	c, clock := newCollector(t, ep, bmcOpts(t))
	mustPoll(t, c)

	setStatus(t, tree, rm1DIMM1, nil, map[string]any{"Health": "Critical"})
	setStatus(t, tree, rm1System, nil, map[string]any{"HealthRollup": "Critical"})
	sw.fail("/Memory")
	clock.advance(ep.Cadence.Readings)
	snap := mustPoll(t, c)
	if errs := partErrors(snap, bmc.PartMemory); len(errs) == 0 {
		t.Fatalf("memory read with its collection failing: no part error (read %v)", snap.Poll.Read)
	}
	if !hasPart(snap.Poll.Read, bmc.PartStorage) || !hasPart(snap.Poll.Read, bmc.PartCPU) {
		t.Errorf("the other parts were not read early: read %v", snap.Poll.Read)
	}

	sw.heal()
	clock.advance(ep.Cadence.Readings)
	snap = mustPoll(t, c)
	if !hasPart(snap.Poll.Read, bmc.PartMemory) {
		t.Fatalf("memory not read again after its early read failed: read %v, cached %v", snap.Poll.Read, snap.Poll.Cached)
	}
	for _, p := range []bmc.Part{bmc.PartStorage, bmc.PartLogs, bmc.PartCPU} {
		if !hasPart(snap.Poll.Cached, p) {
			t.Errorf("part %s read again though its early read succeeded: read %v", p, snap.Poll.Read)
		}
	}
	if d := findDIMM(snap, "DIMM 1"); d == nil || d.Health != bmc.HealthCritical {
		t.Errorf("DIMM 1: %+v, want Critical", d)
	}
	clock.advance(ep.Cadence.Readings)
	assertEarlyParts(t, "poll after the retried read", mustPoll(t, c), false)
}

// TestSystemsNotListedKeepsTheirParts: a poll that cannot list the systems
// does not take their DIMMs, drives and processors for gone; they are read
// once the systems are listed again.
func TestSystemsNotListedKeepsTheirParts(t *testing.T) {
	tree := loadMockup(t, "public-rackmount1")
	b := sim.NewRedfishBMC(tree, sim.RedfishOptions{Username: testUser, Password: testPassword})
	sw := &switchablePaths{next: b}
	_, ep := tlsServer(t, sw)
	ep.Cadence = longCadence
	c, clock := newCollector(t, ep, bmcOpts(t))
	mustPoll(t, c)

	// The chassis health changes in a poll in which the systems cannot be
	// listed.
	setStatus(t, tree, rm1Chassis, nil, map[string]any{"Health": "Warning"})
	sw.fail("/Systems")
	clock.advance(ep.Cadence.Readings)
	snap := mustPoll(t, c)
	if len(snap.DIMMs) != 4 || len(snap.CPUs) != 2 || len(snap.Drives) == 0 {
		t.Errorf("with the systems unlisted: %d DIMMs, %d CPUs, %d drives; want the last ones read", len(snap.DIMMs), len(snap.CPUs), len(snap.Drives))
	}
	for _, p := range []bmc.Part{bmc.PartMemory, bmc.PartStorage, bmc.PartCPU} {
		if hasPart(snap.Poll.Read, p) {
			t.Errorf("part %s read without the systems", p)
		}
	}

	sw.heal()
	clock.advance(ep.Cadence.Readings)
	snap = mustPoll(t, c)
	assertEarlyParts(t, "poll with the systems listed again", snap, true)
	if len(snap.DIMMs) != 4 || len(snap.CPUs) != 2 {
		t.Errorf("after the systems came back: %d DIMMs, %d CPUs", len(snap.DIMMs), len(snap.CPUs))
	}
}

func TestHealthWatchObserve(t *testing.T) {
	ok := healthPair{bmc.HealthOK, bmc.HealthOK}
	warnRollup := healthPair{bmc.HealthOK, bmc.HealthWarning}
	var w healthWatch
	if ch := w.observe(map[string]healthPair{"system 1": ok, "chassis 1": ok}, false); ch != nil || len(w.parts()) != 0 {
		t.Fatalf("first observation: changes %v, pending %v; want none", ch, w.parts())
	}
	if ch := w.observe(map[string]healthPair{"system 1": ok, "chassis 1": ok}, false); ch != nil {
		t.Fatalf("same statuses: changes %v", ch)
	}
	// A member not read this poll keeps its status: not a change, then or
	// when it is read again unchanged.
	if ch := w.observe(map[string]healthPair{"chassis 1": ok}, false); ch != nil {
		t.Fatalf("system 1 not read: changes %v", ch)
	}
	if ch := w.observe(map[string]healthPair{"system 1": ok, "chassis 1": ok}, false); ch != nil {
		t.Fatalf("system 1 read again unchanged: changes %v", ch)
	}
	ch := w.observe(map[string]healthPair{"system 1": ok, "chassis 1": warnRollup, "chassis 2": ok}, false)
	want := []string{"chassis 1 HealthRollup OK->Warning", "chassis 2 appeared (Health OK, HealthRollup OK)"}
	if !slices.Equal(ch, want) {
		t.Errorf("changes %q, want %q", ch, want)
	}
	if !slices.Equal(w.parts(), earlyReadParts) || w.reason != strings.Join(want, "; ") {
		t.Errorf("pending %v (%q), want every early part", w.parts(), w.reason)
	}
	w.done([]bmc.Part{bmc.PartMemory, bmc.PartLogs})
	if !slices.Equal(w.parts(), []bmc.Part{bmc.PartStorage, bmc.PartCPU}) || w.reason == "" {
		t.Errorf("pending after memory and logs were read: %v (%q)", w.parts(), w.reason)
	}
	w.done([]bmc.Part{bmc.PartStorage, bmc.PartCPU})
	if len(w.parts()) != 0 || w.reason != "" {
		t.Errorf("pending after every part was read: %v (%q)", w.parts(), w.reason)
	}
	if ch := w.observe(map[string]healthPair{"system 1": {bmc.HealthUnknown, bmc.HealthOK}}, false); !slices.Equal(ch, []string{"system 1 Health OK->none"}) {
		t.Errorf("health gone: changes %q", ch)
	}
}
