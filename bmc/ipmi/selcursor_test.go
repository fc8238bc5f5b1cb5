package ipmi

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rackpulse/rackpulse/bmc"
)

// TestPlanSELRead: what a read does, from the cursor and Get SEL Info.
func TestPlanSELRead(t *testing.T) {
	info := selInfo{entries: 5, addition: 1000, erase: 500}
	at := selCursor{Valid: true, LastRecordID: 5, Entries: 5, Addition: 1000, Erase: 500}
	with := func(f func(*selCursor)) selCursor {
		c := at
		f(&c)
		return c
	}
	for _, tc := range []struct {
		name   string
		cur    selCursor
		info   selInfo
		recent int
		want   selPlan
	}{
		{"first read: record the end", selCursor{}, info, 0, selRecordEnd},
		{"first read for a person: the recent records", selCursor{}, info, 3, selFromStart},
		{"nothing added", at, info, 0, selUnchanged},
		{"a record added", at, selInfo{entries: 6, addition: 1001, erase: 500}, 0, selResume},
		{"added in the same second: the count says", at, selInfo{entries: 6, addition: 1000, erase: 500}, 0, selResume},
		{"cleared", at, selInfo{entries: 1, addition: 1200, erase: 1100}, 0, selFromStart},
		{"cleared and nothing added", at, selInfo{entries: 0, addition: 1000, erase: 1100}, 0, selFromStart},
		{"was empty", with(func(c *selCursor) { c.Empty, c.LastRecordID = true, 0 }), selInfo{entries: 6, addition: 1001, erase: 500}, 0, selFromStart},
		// The bug this guards against: a read cut short saved the new
		// counters, the next read saw nothing added, and the records after
		// the cut stayed hidden.
		{"cut short: read on though the counters match", with(func(c *selCursor) { c.Partial = true }), info, 0, selResume},
		{"cut short after a clear, nothing read yet", with(func(c *selCursor) { c.Partial, c.Empty, c.LastRecordID = true, true, 0 }), info, 0, selFromStart},
		{"cut short, then cleared", with(func(c *selCursor) { c.Partial = true }), selInfo{entries: 1, addition: 1200, erase: 1100}, 0, selFromStart},
	} {
		if got := planSELRead(tc.cur, tc.info, tc.recent); got != tc.want {
			t.Errorf("%s: plan %d, want %d", tc.name, got, tc.want)
		}
	}
}

// TestSELCursorAfterARead: a complete read takes the SEL's counters; a
// read cut short stays at the last record actually read, keeps the old
// counters and says it was cut short; a clear starts the position and the
// DIMM counts again (the DIMMs stay, at zero). Counts and position move
// together, so a record read twice (cut, then resumed) counts once.
func TestSELCursorAfterARead(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	dimm := &sdrRecord{Name: "DIMM A1", SensorType: sensorMemory, EntityID: entityMemoryDevice, EntityInstance: 1}
	ce := func(id uint16) selRecord {
		return selRecord{ID: id, Type: 0x02, SensorType: sensorMemory, EventType: eventSensorSpecific, Data: [3]uint8{memCorrectableECC, 0xff, 0xff}}
	}
	ue := func(id uint16) selRecord {
		r := ce(id)
		r.Data[0] = memUncorrectableECC
		return r
	}
	old := selCursor{Valid: true, LastRecordID: 1, Entries: 1, Addition: 1000, Erase: 500,
		DIMMErrors: map[string]dimmErrors{"DIMM A1": {Correctable: 4}, "DIMM B2": {Uncorrectable: 1}}}
	grown := selInfo{entries: 4, addition: 1003, erase: 500}

	type step struct {
		records   []selRecord
		cut       bool // the read is cut short after records
		info      selInfo
		wantLast  uint16
		wantCE    int64 // DIMM A1's correctable count after
		wantUE    int64 // DIMM A1's uncorrectable count after
		wantPlan  selPlan
		wantEmpty bool
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"complete", []step{
			{records: []selRecord{ce(2), ce(3), ue(4)}, info: grown, wantLast: 4, wantCE: 6, wantUE: 1, wantPlan: selResume},
		}},
		{"cut after the first of three, then resumed", []step{
			{records: []selRecord{ce(2)}, cut: true, info: grown, wantLast: 2, wantCE: 5, wantPlan: selResume},
			{records: []selRecord{ce(3), ue(4)}, info: grown, wantLast: 4, wantCE: 6, wantUE: 1, wantPlan: selResume},
		}},
		{"cut before any record: nothing moves", []step{
			{cut: true, info: grown, wantLast: 1, wantCE: 4, wantPlan: selResume},
			{records: []selRecord{ce(2), ce(3), ue(4)}, info: grown, wantLast: 4, wantCE: 6, wantUE: 1, wantPlan: selResume},
		}},
		{"cleared, cut, resumed", []step{
			{records: []selRecord{ue(1)}, cut: true, info: selInfo{entries: 2, addition: 1300, erase: 1200}, wantLast: 1, wantUE: 1, wantPlan: selFromStart},
			{records: []selRecord{ce(2)}, info: selInfo{entries: 2, addition: 1300, erase: 1200}, wantLast: 2, wantCE: 1, wantUE: 1, wantPlan: selResume},
		}},
		{"cleared, cut before any record", []step{
			{cut: true, info: selInfo{entries: 2, addition: 1300, erase: 1200}, wantLast: 0, wantEmpty: true, wantPlan: selFromStart},
			{records: []selRecord{ue(1), ce(2)}, info: selInfo{entries: 2, addition: 1300, erase: 1200}, wantLast: 2, wantCE: 1, wantUE: 1, wantPlan: selFromStart},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cur := old.clone()
			for i, st := range tc.steps {
				if plan := planSELRead(cur, st.info, 0); plan != st.wantPlan {
					t.Fatalf("step %d: plan %d, want %d", i, plan, st.wantPlan)
				}
				read := startSELRead(cur, st.info, now)
				for _, r := range st.records {
					read.take(r, dimm)
				}
				var next selCursor
				if st.cut {
					next = read.interrupted()
					if !next.Partial || next.Addition != cur.Addition || next.Entries != cur.Entries {
						t.Errorf("step %d: cut read left %+v, want partial with the old counters %d/%d", i, next, cur.Addition, cur.Entries)
					}
				} else {
					next = read.complete(st.info)
					if next.Partial || next.Addition != st.info.addition || next.Entries != st.info.entries || next.Erase != st.info.erase {
						t.Errorf("step %d: complete read left %+v, want the SEL's counters", i, next)
					}
				}
				if next.LastRecordID != st.wantLast || next.Empty != st.wantEmpty || !next.Valid {
					t.Errorf("step %d: at record %d (empty %v), want %d (empty %v)", i, next.LastRecordID, next.Empty, st.wantLast, st.wantEmpty)
				}
				if got := next.DIMMErrors["DIMM A1"]; got != (dimmErrors{Correctable: st.wantCE, Uncorrectable: st.wantUE}) {
					t.Errorf("step %d: DIMM A1 counts %+v, want %d correctable, %d uncorrectable", i, got, st.wantCE, st.wantUE)
				}
				// The other DIMM keeps its count, or is zero after a clear.
				wantB2 := dimmErrors{Uncorrectable: 1}
				if st.info.erase != old.Erase {
					wantB2 = dimmErrors{}
				}
				if got, ok := next.DIMMErrors["DIMM B2"]; !ok || got != wantB2 {
					t.Errorf("step %d: DIMM B2 counts %+v (listed %v), want %+v", i, got, ok, wantB2)
				}
				cur = next
			}
			// The read that was cut leaves the original untouched.
			if old.DIMMErrors["DIMM A1"].Correctable != 4 {
				t.Errorf("a read changed the cursor it started from: %+v", old.DIMMErrors)
			}
			// Done: the next poll with nothing added reads nothing.
			if plan := planSELRead(cur, tc.steps[len(tc.steps)-1].info, 0); plan != selUnchanged {
				t.Errorf("after the last read: plan %d, want nothing to read", plan)
			}
		})
	}
}

// TestSELCounts: which records count as a DIMM's correctable or
// uncorrectable error, and which DIMM.
func TestSELCounts(t *testing.T) {
	dimmSensor := &sdrRecord{Name: "DIMM A1 Status", SensorType: sensorMemory, EventType: eventSensorSpecific, EntityID: entityMemoryDevice, EntityInstance: 3}
	bank := &sdrRecord{Name: "CPU2 Memory", SensorType: sensorMemory, EventType: eventSensorSpecific, EntityID: entityMemoryDevice, EntityInstance: 2}
	onEntity := &sdrRecord{Name: "Mem Status", SensorType: sensorMemory, EventType: eventSensorSpecific, EntityID: entityMemoryDevice, EntityInstance: 7}
	system := &sdrRecord{Name: "Memory", SensorType: sensorMemory, EventType: eventSensorSpecific, EntityID: 0x07, EntityInstance: 1}
	mem := func(offset, data1Flags, data3 uint8) selRecord {
		return selRecord{Type: 0x02, SensorType: sensorMemory, EventType: eventSensorSpecific, Data: [3]uint8{data1Flags | offset, 0xff, data3}}
	}
	deassert := mem(memUncorrectableECC, 0, 0xff)
	deassert.Deassert = true
	oem := mem(memCorrectableECC, 0, 0xff)
	oem.Type = 0xc0
	processor := mem(memUncorrectableECC, 0, 0xff)
	processor.SensorType = sensorProcessor
	for _, tc := range []struct {
		name   string
		r      selRecord
		sdr    *sdrRecord
		want   map[string]dimmErrors
		isBank bool
	}{
		{"correctable on a DIMM's sensor", mem(memCorrectableECC, 0, 0xff), dimmSensor, map[string]dimmErrors{"DIMM A1": {Correctable: 1}}, false},
		{"uncorrectable", mem(memUncorrectableECC, 0, 0xff), dimmSensor, map[string]dimmErrors{"DIMM A1": {Uncorrectable: 1}}, false},
		{"parity is uncorrected", mem(memParity, 0, 0xff), dimmSensor, map[string]dimmErrors{"DIMM A1": {Uncorrectable: 1}}, false},
		{"the module in event data 3 of a bank sensor", mem(memCorrectableECC, 0x30, 4), bank, map[string]dimmErrors{"CPU2 Memory DIMM 4": {Correctable: 1}}, true},
		{"event data 3 without the flag is not a module", mem(memCorrectableECC, 0, 4), bank, map[string]dimmErrors{"DIMM2": {Correctable: 1}}, false},
		{"module of a sensor the SDR lacks", mem(memUncorrectableECC, 0x30, 2), nil, map[string]dimmErrors{"DIMM 2": {Uncorrectable: 1}}, false},
		{"the sensor's memory device entity", mem(memCorrectableECC, 0, 0xff), onEntity, map[string]dimmErrors{"DIMM7": {Correctable: 1}}, false},
		{"no DIMM named: not counted", mem(memUncorrectableECC, 0, 0xff), system, nil, false},
		{"logging limit reached is no error", mem(0x05, 0, 0xff), dimmSensor, nil, false},
		{"presence is no error", mem(0x06, 0, 0xff), dimmSensor, nil, false},
		{"deassertion", deassert, dimmSensor, nil, false},
		{"OEM record", oem, dimmSensor, nil, false},
		{"processor event", processor, dimmSensor, nil, false},
	} {
		var c selCursor
		c.count(tc.r, tc.sdr)
		if !reflect.DeepEqual(c.DIMMErrors, tc.want) {
			t.Errorf("%s: counts %+v, want %+v", tc.name, c.DIMMErrors, tc.want)
		}
		if isBank := len(c.BankSensors) == 1 && c.BankSensors[0] == "CPU2 Memory"; isBank != tc.isBank {
			t.Errorf("%s: bank sensors %v", tc.name, c.BankSensors)
		}
		// The count's DIMM is the one the log entry names, so that the
		// alert rules take the two for one DIMM.
		if tc.want != nil {
			e := decodeEvent(tc.r, tc.sdr)
			if _, ok := tc.want[e.Subject]; !ok || e.Component != "DIMM" {
				t.Errorf("%s: log entry about %s %q, counted for %v", tc.name, e.Component, e.Subject, tc.want)
			}
		}
	}
}

// TestApplySELCounts: the snapshot's DIMMs carry the counts; DIMMs only
// the SEL names are added; a bank sensor is no DIMM; nothing before the
// position is recorded.
func TestApplySELCounts(t *testing.T) {
	snap := func() *bmc.Snapshot {
		return &bmc.Snapshot{DIMMs: []bmc.DIMM{
			{Slot: "DIMM A1", Health: bmc.HealthOK, State: "Enabled", Source: dimmSource("DIMM A1")},
			{Slot: "DIMM2", Health: bmc.HealthWarning, State: "Enabled", Source: dimmSource("CPU2 Memory")},
		}}
	}
	s := snap()
	applySELCounts(s, selCursor{})
	if !reflect.DeepEqual(s, snap()) {
		t.Errorf("counts before the SEL position was recorded: %+v", s.DIMMs)
	}
	s = snap()
	applySELCounts(s, selCursor{Valid: true,
		DIMMErrors:  map[string]dimmErrors{"DIMM A1": {Correctable: 2}, "CPU2 Memory DIMM 4": {Correctable: 11, Uncorrectable: 1}},
		BankSensors: []string{"CPU2 Memory"}})
	type counts struct{ ce, ue int64 }
	got := map[string]counts{}
	for _, d := range s.DIMMs {
		if d.CorrectableErrors == nil || d.UncorrectableErrors == nil {
			t.Errorf("%s: no counts", d.Slot)
			continue
		}
		got[d.Slot] = counts{*d.CorrectableErrors, *d.UncorrectableErrors}
	}
	want := map[string]counts{"DIMM A1": {2, 0}, "CPU2 Memory DIMM 4": {11, 1}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("DIMMs %v, want %v (the bank sensor's DIMM2 gone)", got, want)
	}
	if d := s.DIMMs[len(s.DIMMs)-1]; d.Source != dimmFromSEL || d.Slot != "CPU2 Memory DIMM 4" {
		t.Errorf("the DIMM only the SEL names: %+v", d)
	}
	// A DIMM with no error logged counts 0.
	s = snap()
	applySELCounts(s, selCursor{Valid: true})
	for _, d := range s.DIMMs {
		if d.CorrectableErrors == nil || *d.CorrectableErrors != 0 || d.UncorrectableErrors == nil || *d.UncorrectableErrors != 0 {
			t.Errorf("%s: counts %v/%v, want 0 and 0", d.Slot, d.CorrectableErrors, d.UncorrectableErrors)
		}
	}
}

// TestSELReadCutShortLosesNoRecord (ipmi_sim and ipmitool): three memory
// errors are logged; the link is cut after the first of them is read. The
// poll keeps that record and fails its SEL part; the next poll, with the
// link back, delivers the other two (nothing twice, nothing lost), and
// DIMM A1 counts two correctable and one uncorrectable error, which a
// restarted collector reads back from the state file without counting
// anything again.
func TestSELReadCutShortLosesNoRecord(t *testing.T) {
	s := startSim(t)
	proxy := startProxy(t, s.port, nil)
	ep := s.endpoint(proxy.address())
	ep.RequestTimeout = 600 * time.Millisecond
	ep.PollTimeout = 10 * time.Second
	dir := t.TempDir()
	var cutAfter, entriesRead atomic.Int64 // cut the link after this many Get SEL Entry; 0: never
	trace := func(tr bmc.RequestTrace) {
		if tr.URL == cmdGetSELEntry.Name && tr.Err == "" && entriesRead.Add(1) == cutAfter.Load() {
			proxy.stopped.Store(true)
		}
	}
	c := newCollector(t, ep, bmc.CollectorOptions{Trace: trace, StateDir: dir})
	if snap := mustPoll(t, c); len(snap.Logs) != 0 {
		t.Fatalf("first poll reported the old SEL: %s", fmtLogs(snap.Logs))
	}
	// Correctable, correctable, uncorrectable ECC on DIMM A1 (sensor 0Ch).
	s.consoleCmd(
		"sel_add 0x20 0x02 0x00 0x00 0x00 0x00 0x20 0x00 0x04 0x0c 0x0c 0x6f 0x00 0xff 0xff",
		"sel_add 0x20 0x02 0x00 0x00 0x00 0x00 0x20 0x00 0x04 0x0c 0x0c 0x6f 0x00 0xff 0xff",
		"sel_add 0x20 0x02 0x00 0x00 0x00 0x00 0x20 0x00 0x04 0x0c 0x0c 0x6f 0x01 0xff 0xff",
	)
	// Get SEL Entry of the last record read (it names the next), then the
	// first new record: cut there.
	entriesRead.Store(0)
	cutAfter.Store(2)
	cut, err := c.Poll(t.Context())
	if err != nil {
		t.Fatalf("poll cut in its SEL read failed as a whole: %v", err)
	}
	if !proxy.stopped.Load() {
		t.Fatal("the link was never cut")
	}
	var selErr *bmc.PartError
	for i, pe := range cut.Poll.Errors {
		if pe.Part == bmc.PartSEL {
			selErr = &cut.Poll.Errors[i]
		}
	}
	if selErr == nil || selErr.Kind != bmc.ErrKindTimeout {
		t.Errorf("part errors %+v, want the SEL read to time out", cut.Poll.Errors)
	}
	if len(cut.Logs) != 1 || cut.Logs[0].ID != "0x0002" {
		t.Fatalf("the poll cut short delivered %s, want the first new record 0x0002", fmtLogs(cut.Logs))
	}
	if st, err := newSELStore(dir, ep.Server).load(); err != nil || !st.Partial || st.LastRecordID != 2 {
		t.Errorf("state after the cut: %+v (%v), want partial at record 0x0002", st, err)
	}

	proxy.stopped.Store(false)
	cutAfter.Store(0)
	next := mustPoll(t, c)
	if !next.Poll.OK() {
		t.Errorf("poll after the link came back: %+v", next.Poll.Errors)
	}
	got := append(append([]bmc.LogEntry{}, cut.Logs...), next.Logs...)
	lines := parseSELElist(s.ipmitool("sel", "elist"))
	if len(lines) != 4 || len(got) != 3 {
		t.Fatalf("delivered %s over the two polls; ipmitool lists %d records, want the old one and three new", fmtLogs(got), len(lines))
	}
	for i, e := range got {
		l := lines[1+i]
		if e.ID != fmt.Sprintf("0x%04x", l.id) || !strings.Contains(e.Message, l.fields[4]) || e.Subject != "DIMM A1" {
			t.Errorf("record %d: %+v, ipmitool %q", i, e, l.fields)
		}
	}
	wantDIMMCounts(t, "after the two polls", next, "DIMM A1", 2, 1)
	if !slices.Contains(next.Poll.Read, bmc.PartMemory) {
		t.Errorf("memory part not read: %v", next.Poll.Read)
	}

	// A restarted collector: the position and the counts from the state
	// file; nothing new, nothing counted again.
	_ = c.Close(t.Context())
	c2 := newCollector(t, s.endpoint(""), bmc.CollectorOptions{StateDir: dir})
	again := mustPoll(t, c2)
	if len(again.Logs) != 0 {
		t.Errorf("restarted collector delivered %s again", fmtLogs(again.Logs))
	}
	wantDIMMCounts(t, "after a restart", again, "DIMM A1", 2, 1)
}

func fmtCount(p *int64) string {
	if p == nil {
		return "none"
	}
	return strconv.FormatInt(*p, 10)
}
