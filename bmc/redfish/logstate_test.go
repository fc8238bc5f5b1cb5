package redfish

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rackpulse/rackpulse/bmc"
	"github.com/rackpulse/rackpulse/bmc/sim"
)

func TestLogStateRoundTrip(t *testing.T) {
	dir := t.TempDir()
	store := newLogStore(dir, "r12/u07 db-01")
	if got, err := store.load(); err != nil || got.Logs != nil {
		t.Fatalf("missing file: %+v, %v; want no state", got, err)
	}
	want := logState{Version: logStateVersion, Server: "r12/u07 db-01", Updated: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC),
		Logs: map[string]*logPosition{"/redfish/v1/Managers/BMC/LogServices/Log/Entries": {
			Newest: time.Date(2026, 2, 28, 23, 59, 59, 0, time.FixedZone("", 3600)), AtNewest: []string{"/e/7", "/e/8"}, Count: 8,
		}}}
	if err := store.save(want); err != nil {
		t.Fatal(err)
	}
	got, err := store.load()
	if err != nil {
		t.Fatal(err)
	}
	pos := got.Logs["/redfish/v1/Managers/BMC/LogServices/Log/Entries"]
	if pos == nil || !pos.Newest.Equal(want.Logs["/redfish/v1/Managers/BMC/LogServices/Log/Entries"].Newest) ||
		!slices.Equal(pos.AtNewest, []string{"/e/7", "/e/8"}) || pos.Count != 8 || got.Server != want.Server {
		t.Fatalf("round trip: %+v (%+v)", got, pos)
	}
	// One file per server, with a safe name, and no temporary file left.
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "redfish-logs-r12_u07_db-01.json" {
		t.Errorf("state dir holds %v", entries)
	}
	if err := os.WriteFile(store.path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := store.load(); err == nil || !strings.Contains(err.Error(), store.path) {
		t.Errorf("corrupt state file: err = %v, want one naming the file", err)
	}
	if err := os.WriteFile(store.path, []byte(`{"version":99,"logs":{}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := store.load(); err == nil {
		t.Error("state file of an unknown version loaded without error")
	}
	// In memory: nothing written.
	mem := newLogStore("", "x")
	if err := mem.save(want); err != nil {
		t.Fatal(err)
	}
	if got, _ := mem.load(); got.Logs != nil {
		t.Error("in-memory store read a file")
	}
}

// read builds a logRead of "key@RFC3339" items ("key@" for undated).
func read(t *testing.T, complete bool, items ...string) logRead {
	t.Helper()
	r := logRead{complete: complete}
	for _, it := range items {
		key, ts, _ := strings.Cut(it, "@")
		var created time.Time
		if ts != "" {
			var err error
			if created, err = time.Parse(time.RFC3339, ts); err != nil {
				t.Fatal(err)
			}
		}
		r.keys = append(r.keys, key)
		r.created = append(r.created, created)
	}
	return r
}

func newKeys(r logRead, isNew []bool) []string {
	var out []string
	for i, n := range isNew {
		if n {
			out = append(out, r.keys[i])
		}
	}
	return out
}

// restored returns a cursor that knows the positions of l only as the state
// file holds them, as after a restart.
func restored(t *testing.T, l *logCursor) *logCursor {
	t.Helper()
	b, err := json.Marshal(l.logs)
	if err != nil {
		t.Fatal(err)
	}
	r := newLogCursor()
	if err := json.Unmarshal(b, &r.logs); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestLogCursorRestoredPosition(t *testing.T) {
	const uri = "/e"
	l := newLogCursor()
	first := read(t, true, "1@2026-03-01T10:00:00Z", "2@2026-03-01T11:00:00Z", "3@2026-03-01T11:00:00Z", "u1@")
	if got := newKeys(first, mustAdvance(l, uri, first)); got != nil {
		t.Fatalf("first read reported %v", got)
	}
	pos := l.logs[uri]
	if !slices.Equal(pos.AtNewest, []string{"2", "3"}) || !slices.Equal(pos.Undated, []string{"u1"}) || pos.Count != 4 {
		t.Errorf("position = %+v", pos)
	}
	// After a restart, newest-first this time: what is newer than the
	// newest entry, or in its second under another key, or undated and not
	// remembered, is new; nothing read before is.
	r := restored(t, l)
	second := read(t, true, "6@2026-03-01T12:00:00Z", "5@2026-03-01T11:00:00Z", "3@2026-03-01T11:00:00Z", "2@2026-03-01T11:00:00Z",
		"1@2026-03-01T10:00:00Z", "u1@", "u2@")
	if got := newKeys(second, mustAdvance(r, uri, second)); !slices.Equal(got, []string{"6", "5", "u2"}) {
		t.Errorf("after restart: new = %v, want [6 5 u2]", got)
	}
	if got := newKeys(second, mustAdvance(r, uri, second)); got != nil {
		t.Errorf("same entries read again: new = %v", got)
	}
}

func mustAdvance(l *logCursor, uri string, r logRead) []bool {
	isNew, _ := l.advanceRead(uri, r)
	return isNew
}

func TestLogCursorCleared(t *testing.T) {
	const uri = "/e"
	for _, restart := range []bool{false, true} {
		t.Run(fmt.Sprint("restart=", restart), func(t *testing.T) {
			l := newLogCursor()
			mustAdvance(l, uri, read(t, true, "1@2026-03-01T10:00:00Z", "2@2026-03-01T11:00:00Z", "3@2026-03-01T12:00:00Z"))
			if restart {
				l = restored(t, l)
			}
			// Cleared, then two entries under reused ids and dated by a
			// clock that was set back: both are new.
			after := read(t, true, "1@2026-02-01T10:00:00Z", "2@2026-02-01T10:00:01Z")
			isNew, cleared := l.advanceRead(uri, after)
			if !cleared || !slices.Equal(newKeys(after, isNew), []string{"1", "2"}) {
				t.Errorf("cleared = %v, new = %v; want both entries new", cleared, newKeys(after, isNew))
			}
		})
	}
	// A read cut short by the bound is not taken for a cleared log.
	l := newLogCursor()
	mustAdvance(l, uri, read(t, true, "1@2026-03-01T10:00:00Z", "2@2026-03-01T11:00:00Z", "3@2026-03-01T12:00:00Z"))
	part := read(t, false, "1@2026-03-01T10:00:00Z")
	if isNew, cleared := l.advanceRead(uri, part); cleared || isNew[0] {
		t.Errorf("partial read: cleared = %v, new = %v", cleared, isNew)
	}
}

// syncBuffer is a log destination that tests read after the collector wrote.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// capturingOpts logs at debug level into the test log and buf.
func capturingOpts(t *testing.T, buf *syncBuffer) bmc.CollectorOptions {
	h := slog.NewTextHandler(multiWriter{testWriter{t}, buf}, &slog.HandlerOptions{Level: slog.LevelDebug})
	return bmc.CollectorOptions{Logger: slog.New(h)}
}

type multiWriter struct {
	a testWriter
	b *syncBuffer
}

func (m multiWriter) Write(p []byte) (int, error) {
	_, _ = m.b.Write(p)
	return m.a.Write(p)
}

const mgrEntries = "/redfish/v1/Managers/BMC/LogServices/Log/Entries"

// pagedLog serves the manager log of the rackmount mockup as pages of
// entries (ids, in the order listed) linked by Members@odata.nextLink. The
// entries of odd pages are listed as links, of even ones inline. Entry n is
// created n minutes after 10:00, and entries sharing a minute are allowed
// through created.
type pagedLog struct {
	t       *testing.T
	tree    *sim.Tree
	created map[int]string
}

func (l *pagedLog) entry(id int) map[string]any {
	created := l.created[id]
	if created == "" {
		created = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC).Add(time.Duration(id) * time.Minute).Format(time.RFC3339)
	}
	uri := fmt.Sprintf("%s/%d", mgrEntries, id)
	return map[string]any{
		"@odata.id": uri, "@odata.type": "#LogEntry.v1_15_0.LogEntry",
		"Id": fmt.Sprint(id), "Name": fmt.Sprintf("Log Entry %d", id), "EntryType": "Event", "Severity": "Warning",
		"Created": created, "MessageId": "Event.1.0.Test", "Message": fmt.Sprintf("Test event %d", id),
	}
}

func pageURI(i int) string {
	if i == 0 {
		return mgrEntries
	}
	return fmt.Sprintf("%sPage%d", mgrEntries, i+1)
}

func (l *pagedLog) set(pages ...[]int) {
	l.t.Helper()
	for i, ids := range pages {
		members := []any{}
		for _, id := range ids {
			e := l.entry(id)
			if err := l.tree.Set(e["@odata.id"].(string), e); err != nil {
				l.t.Fatal(err)
			}
			if i%2 == 0 {
				members = append(members, map[string]any{"@odata.id": e["@odata.id"]})
			} else {
				members = append(members, e)
			}
		}
		col := map[string]any{
			"@odata.id": pageURI(i), "@odata.type": "#LogEntryCollection.LogEntryCollection",
			"Name": "Log Entries", "Members": members,
		}
		if i+1 < len(pages) {
			col["Members@odata.nextLink"] = pageURI(i + 1)
		}
		if err := l.tree.Set(pageURI(i), col); err != nil {
			l.t.Fatal(err)
		}
	}
}

func mgrLogIDs(s *bmc.Snapshot) []string {
	var ids []string
	for _, e := range s.Logs {
		if strings.HasPrefix(e.Source, mgrEntries+"/") {
			ids = append(ids, e.ID)
		}
	}
	slices.SortFunc(ids, func(a, b string) int {
		x, _ := strconv.Atoi(a)
		y, _ := strconv.Atoi(b)
		return x - y
	})
	return ids
}

func TestLogsPersistAcrossRestart(t *testing.T) {
	for _, newestFirst := range []bool{false, true} {
		t.Run(fmt.Sprint("newest_first=", newestFirst), func(t *testing.T) {
			order := func(pages ...[]int) [][]int {
				if !newestFirst {
					return pages
				}
				var all []int
				for _, p := range pages {
					all = append(all, p...)
				}
				slices.Reverse(all)
				out := make([][]int, len(pages))
				for i, p := range pages {
					out[i], all = all[:len(p)], all[len(p):]
				}
				return out
			}
			tree := loadMockup(t, "public-rackmount1")
			log := &pagedLog{t: t, tree: tree, created: map[int]string{}}
			log.set(order([]int{1, 2}, []int{3, 4}, []int{5, 6})...)
			_, ep := simBMC(t, tree, sim.RedfishOptions{})
			opts := bmcOpts(t)
			opts.StateDir = t.TempDir()

			c1, _ := newCollector(t, ep, opts)
			if snap := mustPoll(t, c1); len(snap.Logs) != 0 {
				t.Fatalf("first poll reported %d old entries", len(snap.Logs))
			}
			if _, err := os.Stat(filepath.Join(opts.StateDir, "redfish-logs-srv-test.json")); err != nil {
				t.Fatalf("no state file: %v", err)
			}
			_ = c1.Close(t.Context())

			// While the poller is down: entry 7 in the same minute as the
			// newest one, entry 8 later.
			log.created[7] = log.entry(6)["Created"].(string)
			log.set(order([]int{1, 2}, []int{3, 4}, []int{5, 6, 7, 8})...)

			c2, clock := newCollector(t, ep, opts)
			snap := mustPoll(t, c2)
			if got := mgrLogIDs(snap); !slices.Equal(got, []string{"7", "8"}) {
				t.Errorf("after restart: new entries %v, want [7 8]", got)
			}
			if len(snap.Logs) != 2 {
				t.Errorf("after restart: %d entries reported, want 2: %+v", len(snap.Logs), snap.Logs)
			}
			clock.advance(ep.Cadence.Slow)
			if snap := mustPoll(t, c2); len(snap.Logs) != 0 {
				t.Errorf("entries reported again: %+v", snap.Logs)
			}
			_ = c2.Close(t.Context())

			// And once more across a restart: nothing is repeated.
			c3, _ := newCollector(t, ep, opts)
			if snap := mustPoll(t, c3); len(snap.Logs) != 0 {
				t.Errorf("after a second restart: %+v", snap.Logs)
			}
		})
	}
}

func TestLogsWithoutStateDirRecordPositionFirst(t *testing.T) {
	tree := loadMockup(t, "public-rackmount1")
	log := &pagedLog{t: t, tree: tree}
	log.set([]int{1, 2})
	_, ep := simBMC(t, tree, sim.RedfishOptions{})
	c1, _ := newCollector(t, ep, bmcOpts(t))
	mustPoll(t, c1)
	_ = c1.Close(t.Context())
	log.set([]int{1, 2, 3})
	// No state kept: the new collector's first read only records the
	// position, entry 3 included.
	c2, clock := newCollector(t, ep, bmcOpts(t))
	if snap := mustPoll(t, c2); len(snap.Logs) != 0 {
		t.Fatalf("first read without state reported %+v", snap.Logs)
	}
	log.set([]int{1, 2, 3, 4})
	clock.advance(ep.Cadence.Slow)
	if got := mgrLogIDs(mustPoll(t, c2)); !slices.Equal(got, []string{"4"}) {
		t.Errorf("next read: new entries %v, want [4]", got)
	}
}

func TestLogsCorruptStateFile(t *testing.T) {
	tree := loadMockup(t, "public-rackmount1")
	log := &pagedLog{t: t, tree: tree}
	log.set([]int{1, 2})
	_, ep := simBMC(t, tree, sim.RedfishOptions{})
	var buf syncBuffer
	opts := capturingOpts(t, &buf)
	opts.StateDir = t.TempDir()
	file := filepath.Join(opts.StateDir, "redfish-logs-srv-test.json")
	if err := os.WriteFile(file, []byte(`{"version":1,"logs":{"`+mgrEntries+`":{"count":`), 0o600); err != nil {
		t.Fatal(err)
	}
	c, clock := newCollector(t, ep, opts)
	snap := mustPoll(t, c)
	if len(snap.Logs) != 0 || !hasPart(snap.Poll.Read, bmc.PartLogs) || len(partErrors(snap, bmc.PartLogs)) != 0 {
		t.Fatalf("with a corrupt state file: logs %+v, read %v, errors %+v; want the position recorded", snap.Logs, snap.Poll.Read, snap.Poll.Errors)
	}
	if out := buf.String(); !strings.Contains(out, "level=WARN") || !strings.Contains(out, file) {
		t.Errorf("corrupt state file not logged by name; log:\n%s", out)
	}
	// The file was replaced by a good one, which the next read goes on from.
	if _, err := newLogStore(opts.StateDir, "srv-test").load(); err != nil {
		t.Errorf("state file after the read: %v", err)
	}
	log.set([]int{1, 2, 3})
	clock.advance(ep.Cadence.Slow)
	if got := mgrLogIDs(mustPoll(t, c)); !slices.Equal(got, []string{"3"}) {
		t.Errorf("next read: new entries %v, want [3]", got)
	}
}

func TestLogsPagedReadWhole(t *testing.T) {
	tree := loadMockup(t, "public-rackmount1")
	log := &pagedLog{t: t, tree: tree}
	log.set([]int{1, 2}, []int{3, 4}, []int{5, 6})
	_, ep := simBMC(t, tree, sim.RedfishOptions{})
	opts := bmcOpts(t)
	opts.RecentLogs = 100
	c, clock := newCollector(t, ep, opts)
	snap := mustPoll(t, c)
	if got := mgrLogIDs(snap); !slices.Equal(got, []string{"1", "2", "3", "4", "5", "6"}) {
		t.Errorf("entries of a 3-page log: %v, want all 6", got)
	}
	if errs := partErrors(snap, bmc.PartLogs); len(errs) != 0 {
		t.Errorf("log errors: %+v", errs)
	}
	// An entry added to the last page is found on the next read.
	log.set([]int{1, 2}, []int{3, 4}, []int{5, 6, 7})
	clock.advance(ep.Cadence.Slow)
	if got := mgrLogIDs(mustPoll(t, c)); !slices.Equal(got, []string{"7"}) {
		t.Errorf("next read: new entries %v, want [7]", got)
	}
}

func TestLogsPageBound(t *testing.T) {
	tree := loadMockup(t, "public-rackmount1")
	log := &pagedLog{t: t, tree: tree}
	const pages = maxCollectionPages + 5
	all := make([][]int, pages)
	for i := range all {
		all[i] = []int{i + 1}
	}
	log.set(all...)
	_, ep := simBMC(t, tree, sim.RedfishOptions{})
	var buf syncBuffer
	opts := capturingOpts(t, &buf)
	opts.RecentLogs = 1000
	c, _ := newCollector(t, ep, opts)
	snap := mustPoll(t, c)
	got := mgrLogIDs(snap)
	if len(got) != maxCollectionPages || got[0] != "1" || got[len(got)-1] != fmt.Sprint(maxCollectionPages) {
		t.Errorf("read %d entries %v, want the %d of the first %d pages", len(got), got, maxCollectionPages, maxCollectionPages)
	}
	if !hasPart(snap.Poll.Read, bmc.PartLogs) {
		t.Errorf("a log cut at the bound is still read; read = %v", snap.Poll.Read)
	}
	if !strings.Contains(buf.String(), "the rest is not read this time") {
		t.Errorf("bound not logged; log:\n%s", buf.String())
	}
}

func TestLogsEntryBound(t *testing.T) {
	tree := loadMockup(t, "public-rackmount1")
	log := &pagedLog{t: t, tree: tree}
	// Pages of 300 entries listed inline (odd pages of pagedLog): 7 pages
	// hold 2,100 entries, more than one read takes.
	var all [][]int
	id := 0
	for range 7 {
		page := make([]int, 300)
		for i := range page {
			id++
			page[i] = id
		}
		all = append(all, []int{}, page)
	}
	log.set(all...)
	_, ep := simBMC(t, tree, sim.RedfishOptions{})
	opts := bmcOpts(t)
	opts.RecentLogs = 5000
	c, _ := newCollector(t, ep, opts)
	got := mgrLogIDs(mustPoll(t, c))
	if len(got) != maxCollectionMembers || got[0] != "1" || got[len(got)-1] != fmt.Sprint(maxCollectionMembers) {
		t.Errorf("read %d entries (%v ... %v), want the first %d", len(got), got[:min(3, len(got))], got[max(0, len(got)-3):], maxCollectionMembers)
	}
}

// The DIMMs a collector keeps between slow reads are its snapshots' DIMMs
// too: the counts the logs give are set on a copy, so that the kept list
// keeps no count, and the next poll's copy has the counts as they are then.
func TestLoggedDIMMCountsLeaveTheKeptListAlone(t *testing.T) {
	cur := newLogCursor()
	kept := []bmc.DIMM{{Slot: "A1"}, {Slot: "B1", CorrectableErrors: new(int64(5))}}
	if got := cur.dimmCounts(kept); &got[0] != &kept[0] {
		t.Error("DIMMs no log named were copied")
	}
	entry := bmc.LogEntry{Component: "DIMM", Subject: "A1", Severity: bmc.HealthWarning, Message: "Correctable ECC error on DIMM A1"}
	cur.countDIMMError(entry)
	first := cur.dimmCounts(kept)
	if first[0].CorrectableErrors == nil || *first[0].CorrectableErrors != 1 || !first[0].CountsFromZero {
		t.Fatalf("first poll's A1 = %+v; want 1 correctable, counted from zero", first[0])
	}
	if kept[0].CorrectableErrors != nil || kept[0].CountsFromZero {
		t.Fatalf("kept A1 = %+v; want it without the logged count", kept[0])
	}
	cur.countDIMMError(entry)
	if second := cur.dimmCounts(kept); second[0].CorrectableErrors == nil || *second[0].CorrectableErrors != 2 {
		t.Errorf("second poll's A1 = %+v; want 2 correctable", second[0])
	}
	if *first[0].CorrectableErrors != 1 {
		t.Errorf("the first poll's count changed to %d", *first[0].CorrectableErrors)
	}
	if *first[1].CorrectableErrors != 5 {
		t.Errorf("B1's own count became %d", *first[1].CorrectableErrors)
	}
}
