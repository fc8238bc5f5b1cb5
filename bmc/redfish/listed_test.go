package redfish

import (
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rackpulse/rackpulse/bmc"
	"github.com/rackpulse/rackpulse/bmc/sim"
)

// On a service that lists bare links (no $expand), what the collections
// hold is listed on the static cadence: the Systems and Chassis (read every
// poll), each system's Memory collection and the drives its Storage
// controllers link (slow cadence). The reads in between fetch the members
// they know; a member that fails makes the next read list again.
func TestCollectionsListedOnTheStaticCadence(t *testing.T) {
	const (
		memory     = "/redfish/v1/Systems/System.Embedded.1/Memory"
		storage    = "/redfish/v1/Systems/System.Embedded.1/Storage"
		controller = "/redfish/v1/Systems/System.Embedded.1/Storage/RAID.Integrated.1-1"
	)
	_, ep := simFleetBMC(t, sim.ProfileLegacy)
	ep.Cadence = bmc.Cadence{Readings: 30 * time.Second, Slow: 5 * time.Minute, Static: time.Hour}
	opts := bmcOpts(t)
	requested := traceURLs(&opts)
	c, clock := newCollector(t, ep, opts)
	clock.t = clock.t.Truncate(time.Hour).Add(time.Minute) // early in a static slot
	listings := func() map[string]int {
		n := map[string]int{}
		for _, u := range requested() {
			switch u = strings.SplitN(u, "?", 2)[0]; u {
			case "/redfish/v1/Systems", "/redfish/v1/Chassis", memory, storage, controller:
				n[u]++
			}
		}
		return n
	}
	first := mustPoll(t, c)
	if n := listings(); len(n) != 5 {
		t.Fatalf("first poll listed %v, want Systems, Chassis, Memory, Storage and its controller once each", n)
	}
	if len(first.DIMMs) == 0 || len(first.Drives) == 0 {
		t.Fatalf("first poll: %d DIMMs, %d drives", len(first.DIMMs), len(first.Drives))
	}
	for i := range 12 {
		clock.advance(ep.Cadence.Readings)
		snap := mustPoll(t, c)
		if n := listings(); len(n) != 0 {
			t.Errorf("poll %d listed %v, want nothing within the static cadence", i+2, n)
		}
		if len(snap.Systems) != len(first.Systems) || len(snap.Chassis) != len(first.Chassis) ||
			len(snap.DIMMs) != len(first.DIMMs) || len(snap.Drives) != len(first.Drives) || !snap.Poll.OK() {
			t.Errorf("poll %d: %d systems, %d chassis, %d DIMMs, %d drives, errors %+v; want the first poll's %d, %d, %d and %d",
				i+2, len(snap.Systems), len(snap.Chassis), len(snap.DIMMs), len(snap.Drives), snap.Poll.Errors,
				len(first.Systems), len(first.Chassis), len(first.DIMMs), len(first.Drives))
		}
		if i == 9 && (!hasPart(snap.Poll.Read, bmc.PartMemory) || !hasPart(snap.Poll.Read, bmc.PartStorage)) {
			t.Errorf("poll %d, a slow cadence later, read %v; want memory and storage read", i+2, snap.Poll.Read)
		}
	}
	clock.advance(ep.Cadence.Static)
	mustPoll(t, c)
	if n := listings(); len(n) != 5 {
		t.Errorf("a static cadence later the poll listed %v, want all five again", n)
	}
}

// Drives remembered from the controllers' links are listed again at the
// next read after one fails.
func TestFailingDriveListsTheControllersAgain(t *testing.T) {
	const (
		controller = "/redfish/v1/Systems/System.Embedded.1/Storage/RAID.Integrated.1-1"
		drive      = controller + "/Drives/Disk.Bay.0:Enclosure.Internal.0-1:RAID.Integrated.1-1"
	)
	ep, failing := legacyBMCFailing(t, drive)
	ep.Cadence = bmc.Cadence{Readings: 30 * time.Second, Slow: 5 * time.Minute, Static: time.Hour}
	opts := bmcOpts(t)
	requested := traceURLs(&opts)
	c, clock := newCollector(t, ep, opts)
	clock.t = clock.t.Truncate(time.Hour).Add(time.Minute)
	controllerReads := func() (n int) {
		for _, u := range requested() {
			if u == controller {
				n++
			}
		}
		return n
	}
	first := mustPoll(t, c)
	if n := controllerReads(); n != 1 || len(first.Drives) != 2 {
		t.Fatalf("first poll: controller read %d times, drives %+v; want once, two drives", n, first.Drives)
	}
	failing.Store(true)
	clock.advance(ep.Cadence.Slow)
	snap := mustPoll(t, c)
	if n := controllerReads(); n != 0 || len(partErrors(snap, bmc.PartStorage)) == 0 || len(snap.Drives) != 1 {
		t.Fatalf("a slow read with one drive failing: controller read %d times, errors %+v, drives %+v; want none, the drive's error, the other drive",
			n, snap.Poll.Errors, snap.Drives)
	}
	failing.Store(false)
	clock.advance(ep.Cadence.Slow)
	snap = mustPoll(t, c)
	if n := controllerReads(); n != 1 || len(snap.Drives) != 2 || !snap.Poll.OK() {
		t.Errorf("the read after the failure: controller read %d times, drives %+v, errors %+v; want once, both drives", n, snap.Drives, snap.Poll.Errors)
	}
}

// When not one remembered drive answers, the drives last read are carried
// over, as when the Storage collection cannot be listed.
func TestNoRememberedDriveAnswering(t *testing.T) {
	ep, failing := legacyBMCFailingWhere(t, func(path string) bool { return strings.Contains(path, "/Drives/") })
	ep.Cadence = bmc.Cadence{Readings: 30 * time.Second, Slow: 5 * time.Minute, Static: time.Hour}
	c, clock := newCollector(t, ep, bmcOpts(t))
	clock.t = clock.t.Truncate(time.Hour).Add(time.Minute)
	first := mustPoll(t, c)
	failing.Store(true)
	clock.advance(ep.Cadence.Slow)
	snap := mustPoll(t, c)
	if len(partErrors(snap, bmc.PartStorage)) != 1 || hasPart(snap.Poll.Read, bmc.PartStorage) ||
		!hasPart(snap.Poll.Cached, bmc.PartStorage) || len(snap.Drives) != len(first.Drives) {
		t.Errorf("no drive answering: storage errors %+v, read %v, cached %v, drives %+v; want one error, storage carried over with the first poll's %d drives",
			partErrors(snap, bmc.PartStorage), snap.Poll.Read, snap.Poll.Cached, snap.Drives, len(first.Drives))
	}
}

// A remembered member that fails makes the next poll list its collection
// again (the member may be gone, or another come in its place); the other
// collection stays remembered.
func TestFailingMemberListsItsCollectionAgain(t *testing.T) {
	ep, failing := legacyBMCFailing(t, "/redfish/v1/Systems/System.Embedded.1")
	ep.Cadence = bmc.Cadence{Readings: 30 * time.Second, Slow: 5 * time.Minute, Static: time.Hour}
	opts := bmcOpts(t)
	requested := traceURLs(&opts)
	c, clock := newCollector(t, ep, opts)
	listed := func() (systems, chassis int) {
		for _, u := range requested() {
			switch strings.SplitN(u, "?", 2)[0] {
			case "/redfish/v1/Systems":
				systems++
			case "/redfish/v1/Chassis":
				chassis++
			}
		}
		return systems, chassis
	}
	mustPoll(t, c)
	if s, ch := listed(); s != 1 || ch != 1 {
		t.Fatalf("first poll listed Systems %d and Chassis %d times, want once each", s, ch)
	}
	failing.Store(true)
	clock.advance(ep.Cadence.Readings)
	snap := mustPoll(t, c)
	if len(partErrors(snap, bmc.PartSystems)) == 0 || len(snap.Systems) != 0 {
		t.Fatalf("the failing system: errors %+v, systems %+v", snap.Poll.Errors, snap.Systems)
	}
	if s, ch := listed(); s != 0 || ch != 0 {
		t.Errorf("the poll in which the member failed listed Systems %d and Chassis %d times, want neither", s, ch)
	}
	failing.Store(false)
	clock.advance(ep.Cadence.Readings)
	snap = mustPoll(t, c)
	if s, ch := listed(); s != 1 || ch != 0 {
		t.Errorf("the poll after the failure listed Systems %d and Chassis %d times, want Systems once and Chassis not", s, ch)
	}
	if len(snap.Systems) != 1 || !snap.Poll.OK() {
		t.Errorf("after the failure: systems %+v, errors %+v", snap.Systems, snap.Poll.Errors)
	}
}

// traceURLs has opts trace every request, and returns a function that
// takes the URLs requested since it was last called.
func traceURLs(opts *bmc.CollectorOptions) func() []string {
	var mu sync.Mutex
	var urls []string
	opts.Trace = func(tr bmc.RequestTrace) {
		mu.Lock()
		urls = append(urls, tr.URL)
		mu.Unlock()
	}
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		out := urls
		urls = nil
		return out
	}
}

// The logs a BMC keeps are looked for (managers, their LogServices, each
// service) on the static cadence; the slow reads between read only each
// log's Entries. A log whose Entries fail is looked for again at the next
// read.
func TestLogsLookedForOnTheStaticCadence(t *testing.T) {
	const (
		managers = "/redfish/v1/Managers"
		services = "/redfish/v1/Managers/iDRAC.Embedded.1/LogServices"
		entries  = "/redfish/v1/Managers/iDRAC.Embedded.1/LogServices/Sel/Entries"
	)
	ep, entriesFail := legacyBMCFailing(t, entries)
	ep.Cadence = bmc.Cadence{Readings: 30 * time.Second, Slow: 5 * time.Minute, Static: time.Hour}
	opts := bmcOpts(t)
	requested := traceURLs(&opts)
	c, clock := newCollector(t, ep, opts)
	count := func() map[string]int {
		n := map[string]int{}
		for _, u := range requested() {
			n[strings.SplitN(u, "?", 2)[0]]++
		}
		return n
	}
	slowPoll := func(after time.Duration) (*bmc.Snapshot, map[string]int) {
		t.Helper()
		clock.advance(after)
		snap := mustPoll(t, c)
		if !hasPart(snap.Poll.Read, bmc.PartLogs) {
			t.Fatalf("logs not read: %v", snap.Poll.Read)
		}
		return snap, count()
	}
	clock.t = clock.t.Truncate(time.Hour).Add(time.Minute) // early in a static slot
	mustPoll(t, c)
	if n := count(); n[managers] != 1 || n[services] != 1 || n[entries] == 0 {
		t.Fatalf("first read: %v; want the logs looked for and read", n)
	}
	_, n := slowPoll(ep.Cadence.Slow)
	if n[managers] != 0 || n[services] != 0 || n[entries] == 0 {
		t.Errorf("a slow read within the static cadence requested %v; want only the Entries", n)
	}
	_, n = slowPoll(ep.Cadence.Static)
	if n[managers] != 1 || n[services] != 1 || n[entries] == 0 {
		t.Errorf("a read a static cadence later requested %v; want the logs looked for again", n)
	}
	entriesFail.Store(true)
	clock.advance(ep.Cadence.Slow)
	if snap := mustPoll(t, c); len(partErrors(snap, bmc.PartLogs)) == 0 {
		t.Errorf("failing Entries: no logs error in %+v", snap.Poll.Errors)
	}
	count()
	entriesFail.Store(false)
	clock.advance(ep.Cadence.Readings) // the failed part is due again next poll
	mustPoll(t, c)
	if n := count(); n[managers] != 1 || n[services] != 1 || n[entries] == 0 {
		t.Errorf("the read after Entries failed requested %v; want the logs looked for again", n)
	}
}

// legacyBMCFailing serves a simulated legacy BMC whose resource at path
// answers 500 while the returned switch is on.
func legacyBMCFailing(t *testing.T, path string) (bmc.Endpoint, *atomic.Bool) {
	t.Helper()
	return legacyBMCFailingWhere(t, func(p string) bool { return p == path })
}

// legacyBMCFailingWhere is legacyBMCFailing for every path fails says.
func legacyBMCFailingWhere(t *testing.T, fails func(path string) bool) (bmc.Endpoint, *atomic.Bool) {
	t.Helper()
	f, err := sim.NewFleet(sim.FleetOptions{Count: 1, Mix: []sim.ProfileShare{{Profile: sim.ProfileLegacy, Weight: 1}}, Username: testUser, Password: testPassword})
	if err != nil {
		t.Fatal(err)
	}
	b := f.BMCs()[0]
	failing := new(atomic.Bool)
	_, ep := tlsServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() && fails(r.URL.Path) {
			http.Error(w, `{"error":{"code":"Base.1.0.InternalError","message":"down"}}`, http.StatusInternalServerError)
			return
		}
		b.Handler().ServeHTTP(w, r)
	}))
	ep.Server = b.Name()
	return ep, failing
}
