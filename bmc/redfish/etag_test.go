package redfish

import (
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/rackpulse/rackpulse/bmc"
	"github.com/rackpulse/rackpulse/bmc/sim"
)

// A system and a chassis listed as links are read conditionally: from the
// second poll on they cost a 304 Not Modified each, the snapshot still
// holds them as read, the deviation their decoding found is still
// reported every poll, and a change on the BMC is read at the next poll.
func TestUnchangedMembersAreNotReadAgain(t *testing.T) {
	tree, set := treeSetter(t)
	set("/redfish/v1", map[string]any{"Id": "RootService", "Systems": odataLink("/redfish/v1/Systems"), "Chassis": odataLink("/redfish/v1/Chassis")})
	set("/redfish/v1/Systems", map[string]any{"Members": []any{odataLink("/redfish/v1/Systems/1")}})
	set("/redfish/v1/Chassis", map[string]any{"Members": []any{odataLink("/redfish/v1/Chassis/1")}})
	system := func(health string) map[string]any {
		// PowerState as a boolean: a deviation, read as "On".
		return map[string]any{"Id": "1", "Name": "node", "SerialNumber": "SN1", "PowerState": true,
			"Status": map[string]any{"State": "Enabled", "Health": health}}
	}
	set("/redfish/v1/Systems/1", system("OK"))
	set("/redfish/v1/Chassis/1", map[string]any{"Id": "1", "ChassisType": "RackMount", "Status": map[string]any{"State": "Enabled", "Health": "OK"}})
	_, ep := simBMC(t, tree, sim.RedfishOptions{})
	ep.Cadence = bmc.Cadence{Readings: 30 * time.Second, Slow: 5 * time.Minute, Static: time.Hour}

	var mu sync.Mutex
	statuses := map[string][]int{}
	opts := bmcOpts(t)
	opts.Trace = func(tr bmc.RequestTrace) {
		if path := tr.URL[max(strings.LastIndex(tr.URL, "/redfish"), 0):]; path == "/redfish/v1/Systems/1" || path == "/redfish/v1/Chassis/1" {
			mu.Lock()
			statuses[path] = append(statuses[path], tr.Status)
			mu.Unlock()
		}
	}
	c, clock := newCollector(t, ep, opts)
	took := func() map[string][]int {
		mu.Lock()
		defer mu.Unlock()
		out := statuses
		statuses = map[string][]int{}
		return out
	}
	check := func(poll int, snap *bmc.Snapshot, wantStatus int, wantHealth bmc.Health) {
		t.Helper()
		got := took()
		for _, uri := range []string{"/redfish/v1/Systems/1", "/redfish/v1/Chassis/1"} {
			if len(got[uri]) != 1 || got[uri][0] != wantStatus {
				t.Errorf("poll %d: %s answered %v, want one %d", poll, uri, got[uri], wantStatus)
			}
		}
		if len(snap.Systems) != 1 || snap.Systems[0].Serial != "SN1" || snap.Systems[0].PowerState != "On" || snap.Systems[0].Health != wantHealth {
			t.Errorf("poll %d: systems %+v", poll, snap.Systems)
		}
		if len(snap.Chassis) != 1 || snap.Chassis[0].ChassisType != "RackMount" {
			t.Errorf("poll %d: chassis %+v", poll, snap.Chassis)
		}
		quirk := false
		for _, q := range snap.Poll.Quirks {
			quirk = quirk || q.Property == "PowerState" && q.Resource == "/redfish/v1/Systems/1"
		}
		if !quirk {
			t.Errorf("poll %d: the PowerState deviation is not reported: %+v", poll, snap.Poll.Quirks)
		}
	}
	check(1, mustPoll(t, c), 200, bmc.HealthOK)
	for poll := 2; poll <= 3; poll++ {
		clock.advance(ep.Cadence.Readings)
		check(poll, mustPoll(t, c), 304, bmc.HealthOK)
	}
	set("/redfish/v1/Systems/1", system("Critical"))
	clock.advance(ep.Cadence.Readings)
	snap := mustPoll(t, c)
	got := took()
	if s := got["/redfish/v1/Systems/1"]; len(s) != 1 || s[0] != 200 {
		t.Errorf("after the change the system answered %v, want one 200", s)
	}
	if len(snap.Systems) != 1 || snap.Systems[0].Health != bmc.HealthCritical {
		t.Errorf("after the change: systems %+v, want Critical", snap.Systems)
	}
}

// A legacy service's DIMMs' MemoryMetrics are read conditionally on the
// slow cadence, the DIMM resources themselves not (their system's
// MemorySummary stands for their status): unchanged, each counter costs a
// 304 and the DIMMs are the same; a DIMM fault, which turns the system's
// memory health, reads the DIMMs again at once, and the one whose counters
// moved shows them.
func TestUnchangedDIMMsAreNotReadAgain(t *testing.T) {
	b, ep := simFleetBMC(t, sim.ProfileLegacy)
	ep.Cadence = bmc.Cadence{Readings: 30 * time.Second, Slow: 5 * time.Minute, Static: time.Hour}
	var mu sync.Mutex
	var memoryGets []bmc.RequestTrace
	opts := bmcOpts(t)
	opts.Trace = func(tr bmc.RequestTrace) {
		if strings.Contains(tr.URL, "/Memory/") {
			mu.Lock()
			memoryGets = append(memoryGets, tr)
			mu.Unlock()
		}
	}
	c, clock := newCollector(t, ep, opts)
	statuses := func() map[int]int {
		mu.Lock()
		defer mu.Unlock()
		out := map[int]int{}
		for _, tr := range memoryGets {
			out[tr.Status]++
		}
		memoryGets = nil
		return out
	}
	first := mustPoll(t, c)
	if !hasPart(first.Poll.Read, bmc.PartMemory) || len(first.DIMMs) == 0 {
		t.Fatalf("first poll read %v, %d DIMMs", first.Poll.Read, len(first.DIMMs))
	}
	if got := statuses(); got[http.StatusOK] != 2*len(first.DIMMs) || len(got) != 1 {
		t.Fatalf("first read of %d DIMMs answered %v, want a 200 for each DIMM and each MemoryMetrics", len(first.DIMMs), got)
	}
	clock.advance(ep.Cadence.Slow)
	again := mustPoll(t, c)
	if got := statuses(); got[http.StatusNotModified] != len(first.DIMMs) || len(got) != 1 {
		t.Errorf("unchanged DIMMs' counters read again answered %v, want a 304 for each DIMM's MemoryMetrics, and no DIMM read", got)
	}
	if !hasPart(again.Poll.Read, bmc.PartMemory) || !equalJSON(t, again.DIMMs, first.DIMMs) {
		t.Errorf("DIMMs from 304s differ:\n got %+v\nwant %+v", again.DIMMs, first.DIMMs)
	}
	if err := b.Inject(sim.FaultSpec{Fault: sim.FaultDIMMUncorrectable}); err != nil {
		t.Fatal(err)
	}
	clock.advance(ep.Cadence.Slow)
	changed := mustPoll(t, c)
	if got := statuses(); got[http.StatusOK] == 0 || got[http.StatusNotModified] == 0 {
		t.Errorf("after one DIMM's fault the reads answered %v, want 200s for what changed and 304s for the rest", got)
	}
	failing := 0
	for _, d := range changed.DIMMs {
		if d.UncorrectableErrors != nil && *d.UncorrectableErrors > 0 {
			failing++
		}
	}
	if failing != 1 || len(changed.DIMMs) != len(first.DIMMs) {
		t.Errorf("after the fault %d of %d DIMMs show uncorrectable errors, want 1 of %d: %+v", failing, len(changed.DIMMs), len(first.DIMMs), changed.DIMMs)
	}
}

// Values kept by two BMCs' collectors share their equal strings, and so do
// the paths they are kept under and the members their collections list.
func TestKeptValuesShareTheirStrings(t *testing.T) {
	body := []byte(`{"@odata.id":"/redfish/v1/Systems/1","Id":"1","Name":"node","Memory":{"@odata.id":"/redfish/v1/Systems/1/Memory"},
		"Links":{"Chassis":[{"@odata.id":"/redfish/v1/Chassis/1"}]}}`)
	var kept [2]*wireSystem
	var keys, listed [2]string
	for i := range kept {
		var tags taggedValues
		var v wireSystem
		if _, err := decodeTolerant(body, &v); err != nil {
			t.Fatal(err)
		}
		tags.keep(strings.Clone("/redfish/v1/Systems/1"), `"t"`, &v, nil, time.Now(), time.Minute)
		got, ok := tags.get("/redfish/v1/Systems/1")
		if !ok {
			t.Fatal("value not kept")
		}
		kept[i] = got.value.(*wireSystem)
		keys[i] = tags.byURI.entries[0].uri
		var lists memberLists
		lists.storeURIs("/redfish/v1/Systems", []string{strings.Clone("/redfish/v1/Systems/1")}, time.Now())
		uris, _ := lists.fresh("/redfish/v1/Systems", time.Now(), time.Hour)
		listed[i] = uris[0]
	}
	a, b := kept[0], kept[1]
	for _, pair := range [][2]string{{a.ODataID, b.ODataID}, {a.Memory.ID, b.Memory.ID}, {a.Links.Chassis[0].ID, b.Links.Chassis[0].ID}, {a.Name, b.Name},
		{keys[0], keys[1]}, {listed[0], listed[1]}} {
		if pair[0] != pair[1] || unsafe.StringData(pair[0]) != unsafe.StringData(pair[1]) {
			t.Errorf("%q and %q are separate copies", pair[0], pair[1])
		}
	}
}

// A BMC whose tag never changes (it answers 304 to any If-None-Match,
// whatever the resource says now) shows a change at the latest a slow
// cadence after the body was last read: then the member is read without
// its tag.
func TestAConstantTagIsReadAgainWithinTheSlowCadence(t *testing.T) {
	tree, set := treeSetter(t)
	set("/redfish/v1", map[string]any{"Id": "RootService", "Systems": odataLink("/redfish/v1/Systems")})
	set("/redfish/v1/Systems", map[string]any{"Members": []any{odataLink("/redfish/v1/Systems/1")}})
	system := func(health string) map[string]any {
		return map[string]any{"Id": "1", "PowerState": "On", "Status": map[string]any{"State": "Enabled", "Health": health}}
	}
	set("/redfish/v1/Systems/1", system("OK"))
	b := sim.NewRedfishBMC(tree, sim.RedfishOptions{Username: testUser, Password: testPassword})
	_, ep := tlsServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/redfish/v1/Systems/1" {
			if r.Header.Get("If-None-Match") != "" {
				w.Header().Set("ETag", `"v1"`)
				w.WriteHeader(http.StatusNotModified)
				return
			}
			b.ServeHTTP(&constantTag{ResponseWriter: w}, r)
			return
		}
		b.ServeHTTP(w, r)
	}))
	ep.Cadence = bmc.Cadence{Readings: 30 * time.Second, Slow: 5 * time.Minute, Static: time.Hour}
	c, clock := newCollector(t, ep, bmcOpts(t))
	if snap := mustPoll(t, c); len(snap.Systems) != 1 || snap.Systems[0].Health != bmc.HealthOK {
		t.Fatalf("first poll: systems %+v", snap.Systems)
	}
	set("/redfish/v1/Systems/1", system("Critical"))
	var critical time.Duration
	for elapsed := ep.Cadence.Readings; elapsed <= ep.Cadence.Slow+ep.Cadence.Readings; elapsed += ep.Cadence.Readings {
		clock.advance(ep.Cadence.Readings)
		snap := mustPoll(t, c)
		if len(snap.Systems) == 1 && snap.Systems[0].Health == bmc.HealthCritical {
			critical = elapsed
			break
		}
	}
	if critical == 0 || critical > ep.Cadence.Slow {
		t.Fatalf("the change behind a constant tag showed after %v, want within the slow cadence (%v)", critical, ep.Cadence.Slow)
	}
}

// constantTag is a ResponseWriter that tags every body "v1".
type constantTag struct{ http.ResponseWriter }

func (w *constantTag) WriteHeader(status int) {
	w.Header().Set("ETag", `"v1"`)
	w.ResponseWriter.WriteHeader(status)
}

// treeSetter returns an empty tree and a function that sets a resource in
// it with its @odata.id.
func treeSetter(t *testing.T) (*sim.Tree, func(uri string, obj map[string]any)) {
	tree := sim.NewTree()
	return tree, func(uri string, obj map[string]any) {
		t.Helper()
		obj["@odata.id"] = uri
		if err := tree.Set(uri, obj); err != nil {
			t.Fatal(err)
		}
	}
}

// odataLink is a navigation link to uri.
func odataLink(uri string) map[string]any { return map[string]any{"@odata.id": uri} }

// Between slow reads a snapshot's DIMMs and drives are the lists the
// collector keeps, not copies of them: a fleet holds one per BMC.
func TestSnapshotsShareTheKeptDIMMsAndDrives(t *testing.T) {
	_, ep := simFleetBMC(t, sim.ProfileLegacy)
	c, clock := newCollector(t, ep, bmc.CollectorOptions{Logger: slog.New(slog.DiscardHandler)})
	first := mustPoll(t, c)
	clock.advance(30 * time.Second)
	second := mustPoll(t, c)
	if len(second.DIMMs) == 0 || len(second.Drives) == 0 || !slices.Contains(second.Poll.Cached, bmc.PartMemory) {
		t.Fatalf("second poll: %d DIMMs, %d drives, cached %v; want both carried over", len(second.DIMMs), len(second.Drives), second.Poll.Cached)
	}
	if &second.DIMMs[0] != &c.memory.value[0] || &first.DIMMs[0] != &second.DIMMs[0] {
		t.Error("the snapshots' DIMMs are copies of the kept list")
	}
	if &second.Drives[0] != &c.storage.value[0] {
		t.Error("the snapshot's drives are a copy of the kept list")
	}
	if cap(second.DIMMs) != len(second.DIMMs) {
		t.Error("the shared DIMM list has room to append into")
	}
}

// A poll's sensor list is made at the size of the last poll's, so that
// it takes one allocation and is kept without a copy to cut it to length.
func TestSensorListMadeAtTheLastPollsSize(t *testing.T) {
	for _, profile := range []string{sim.ProfileModern, sim.ProfileLegacy} {
		_, ep := simFleetBMC(t, profile)
		c, clock := newCollector(t, ep, bmc.CollectorOptions{Logger: slog.New(slog.DiscardHandler)})
		first := mustPoll(t, c)
		clock.advance(30 * time.Second)
		second := mustPoll(t, c)
		if len(second.Sensors) == 0 || len(second.Sensors) != len(first.Sensors) {
			t.Fatalf("%s: %d sensors, then %d; want the same, not none", profile, len(first.Sensors), len(second.Sensors))
		}
		if cap(second.Sensors) != len(second.Sensors) {
			t.Errorf("%s: the second poll's %d sensors in a list with room for %d", profile, len(second.Sensors), cap(second.Sensors))
		}
	}
}

// The DIMM resources are read on the static cadence, their MemoryMetrics
// on the slow one; a counter that fails makes the next memory read read
// the DIMMs again.
func TestDIMMResourcesReadOnTheStaticCadence(t *testing.T) {
	b, _ := simFleetBMC(t, sim.ProfileLegacy)
	var failMetrics sync.Mutex
	failing := false
	_, ep := tlsServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		failMetrics.Lock()
		fail := failing && strings.HasSuffix(r.URL.Path, "/MemoryMetrics")
		failMetrics.Unlock()
		if fail {
			http.Error(w, `{"error":{"code":"Base.1.15.InternalError","message":"internal error"}}`, http.StatusInternalServerError)
			return
		}
		b.Handler().ServeHTTP(w, r)
	}))
	ep.Cadence = bmc.Cadence{Readings: 30 * time.Second, Slow: 5 * time.Minute, Static: time.Hour}
	var mu sync.Mutex
	var dimmGets, metricsGets int
	opts := bmcOpts(t)
	opts.Trace = func(tr bmc.RequestTrace) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case strings.HasSuffix(tr.URL, "/MemoryMetrics"):
			metricsGets++
		case strings.Contains(tr.URL, "/Memory/"):
			dimmGets++
		}
	}
	counts := func() (dimms, metrics int) {
		mu.Lock()
		defer mu.Unlock()
		dimms, metrics, dimmGets, metricsGets = dimmGets, metricsGets, 0, 0
		return dimms, metrics
	}
	c, clock := newCollector(t, ep, opts)
	first := mustPoll(t, c)
	n := len(first.DIMMs)
	if d, m := counts(); n == 0 || d != n || m != n {
		t.Fatalf("first poll: %d DIMMs, %d DIMM and %d MemoryMetrics requests; want one of each per DIMM", n, d, m)
	}
	for step := 1; step < 12; step++ { // the slow reads within the hour
		clock.advance(ep.Cadence.Slow)
		snap := mustPoll(t, c)
		if d, m := counts(); d != 0 || m != n || !hasPart(snap.Poll.Read, bmc.PartMemory) || !equalJSON(t, snap.DIMMs, first.DIMMs) {
			t.Fatalf("slow read %d: %d DIMM and %d MemoryMetrics requests, read %v; want only the %d counters, the DIMMs as first read", step, d, m, snap.Poll.Read, n)
		}
	}
	clock.advance(ep.Cadence.Slow) // an hour on: the static cadence
	mustPoll(t, c)
	if d, m := counts(); d != n || m != n {
		t.Errorf("after the static cadence: %d DIMM and %d MemoryMetrics requests; want %d of each", d, m, n)
	}

	failMetrics.Lock()
	failing = true
	failMetrics.Unlock()
	clock.advance(ep.Cadence.Slow)
	broken := mustPoll(t, c)
	if d, _ := counts(); d != 0 || len(partErrors(broken, bmc.PartMemory)) != n || !hasPart(broken.Poll.Cached, bmc.PartMemory) || !equalJSON(t, broken.DIMMs, first.DIMMs) {
		t.Errorf("counters failing: %d DIMM requests, %d memory errors, cached %v; want none, one per counter, the DIMMs last read carried over", d, len(partErrors(broken, bmc.PartMemory)), broken.Poll.Cached)
	}
	failMetrics.Lock()
	failing = false
	failMetrics.Unlock()
	clock.advance(ep.Cadence.Slow)
	mustPoll(t, c)
	if d, m := counts(); d != n || m != n {
		t.Errorf("the memory read after failing counters: %d DIMM and %d MemoryMetrics requests; want the DIMMs read again (%d each)", d, m, n)
	}
}

// Without a MemorySummary status to stand for the DIMMs', or without
// MemoryMetrics to read, every memory read reads the DIMM resources.
func TestDIMMResourcesDue(t *testing.T) {
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	systems := []systemRef{{ID: "1", links: navLinks{Memory: odataID{ID: "/redfish/v1/Systems/1/Memory"}}}}
	summaryOK := map[string]healthPair{"system 1 MemorySummary": {health: bmc.HealthOK, rollup: bmc.HealthOK}}
	for _, c := range []struct {
		name    string
		read    bool // a full read done at start
		metrics []string
		health  map[string]healthPair
		pending bool
		after   time.Duration
		want    bool
	}{
		{name: "never read", want: true, health: summaryOK, after: 5 * time.Minute},
		{name: "counters due", read: true, metrics: []string{"/m/1", "/m/2"}, health: summaryOK, after: 5 * time.Minute, want: false},
		{name: "static cadence come round", read: true, metrics: []string{"/m/1", "/m/2"}, health: summaryOK, after: time.Hour, want: true},
		{name: "health change pending", read: true, metrics: []string{"/m/1", "/m/2"}, health: summaryOK, pending: true, after: 5 * time.Minute, want: true},
		{name: "no MemorySummary status", read: true, metrics: []string{"/m/1", "/m/2"}, health: map[string]healthPair{}, after: 5 * time.Minute, want: true},
		{name: "no MemoryMetrics", read: true, metrics: []string{"", ""}, health: summaryOK, after: 5 * time.Minute, want: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			col := &Collector{ep: bmc.Endpoint{Cadence: bmc.Cadence{Readings: 30 * time.Second, Slow: 5 * time.Minute, Static: time.Hour}}}
			if c.read {
				col.memory.store([]bmc.DIMM{{Slot: "A1"}, {Slot: "A2"}}, start)
				col.dimmMetrics, col.dimmsReadAt = c.metrics, start
			}
			if c.pending {
				col.health.pending = map[bmc.Part]bool{bmc.PartMemory: true}
			}
			p := &poll{c: col, snap: bmc.NewSnapshot("s", "r", bmc.ProtocolRedfish, start.Add(c.after)), health: c.health}
			if got := p.dimmResourcesDue(systems); got != c.want {
				t.Errorf("dimmResourcesDue = %v, want %v", got, c.want)
			}
		})
	}
}
