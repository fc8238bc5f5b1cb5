package redfish

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stmcginnis/gofish/schemas"

	"github.com/rackpulse/rackpulse/bmc"
	"github.com/rackpulse/rackpulse/bmc/sim"
)

func testdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func decodeTestdata[T any](t *testing.T, name string) *T {
	t.Helper()
	var v T
	if err := (*quirkLog)(nil).decode(bmc.PartPower, name, testdata(t, name), &v); err != nil {
		t.Fatalf("decoding %s: %v", name, err)
	}
	return &v
}

func TestQuirkNullReading(t *testing.T) {
	s := decodeTestdata[wireSensor](t, "sensor_null_reading.json")
	got := sensorFromRedfish("1", s.ODataID, s)
	if got.Value != nil {
		t.Errorf("null reading became %v, want nil", *got.Value)
	}
	if got.Thresholds.UpperWarning != nil || !ptrEq(got.Thresholds.UpperCritical, 70) {
		t.Errorf("thresholds = %+v, want only upper critical 70", got.Thresholds)
	}
	if got.Kind != bmc.KindTemperature || got.Unit != bmc.UnitCelsius || got.Context != bmc.ContextPowerSupply {
		t.Errorf("sensor = %+v", got)
	}
}

func TestQuirkAbsentSensorReadingZero(t *testing.T) {
	s := decodeTestdata[wireSensor](t, "sensor_absent_zero.json")
	got := sensorFromRedfish("Self", s.ODataID, s)
	if got.Value != nil {
		t.Errorf("absent sensor reading 0 kept as %v, want nil", *got.Value)
	}
	if !ptrEq(got.Thresholds.UpperWarning, 80) || !ptrEq(got.Thresholds.UpperCritical, 85) || !ptrEq(got.Thresholds.LowerCritical, 0) {
		t.Errorf("thresholds = %+v", got.Thresholds)
	}
}

func TestQuirkPSUReadingAtCapacityAndPlaceholder(t *testing.T) {
	pw, patched, err := decodeLegacyPower(nil, "power_psu_quirks.json", testdata(t, "power_psu_quirks.json"))
	if err != nil || patched {
		t.Fatalf("decode: %v (patched %v)", err, patched)
	}
	var psus []bmc.PSU
	for _, ps := range pw.PowerSupplies {
		psus = append(psus, legacyPSU("System.Embedded.1", ps))
	}
	if len(psus) != 3 {
		t.Fatalf("%d PSUs", len(psus))
	}
	ps1, ps2, empty := psus[0], psus[1], psus[2]
	if ps1.Bay != "1" || ps1.InputWatts != nil || !ptrEq(ps1.OutputWatts, 196) || len(ps1.Suspect) != 1 || !strings.Contains(ps1.Suspect[0], "input_watts 800 >= capacity 800") {
		t.Errorf("PS1 = %+v", ps1)
	}
	if ps2.Bay != "2" || !ptrEq(ps2.InputWatts, 214) || ps2.OutputWatts != nil || len(ps2.Suspect) != 1 || !strings.Contains(ps2.Suspect[0], "output_watts 880") {
		t.Errorf("PS2 = %+v", ps2)
	}
	if empty.State != "Absent" || empty.InputWatts != nil || empty.OutputWatts != nil || empty.CapacityWatts != nil || empty.Bay != "2" {
		t.Errorf("nil PSU = %+v", empty)
	}
}

func TestQuirkLegacyPowerWithoutPowerControl(t *testing.T) {
	body := testdata(t, "power_without_powercontrol.json")
	// gofish v0.26.0's Power type fails on this payload; the collector's
	// own shape reads it.
	var direct schemas.Power
	if err := json.Unmarshal(body, &direct); err == nil {
		t.Log("gofish now decodes Power without PowerControl")
	}
	pw, patched, err := decodeLegacyPower(nil, "power_without_powercontrol.json", body)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if !patched || len(pw.PowerControl) != 0 || len(pw.PowerSupplies) != 1 {
		t.Fatalf("patched %v, %d controls, %d supplies", patched, len(pw.PowerControl), len(pw.PowerSupplies))
	}
	psu := legacyPSU("Enclosure", pw.PowerSupplies[0])
	if !ptrEq(psu.OutputWatts, 1210) || !ptrEq(psu.CapacityWatts, 3000) || psu.Bay != "1" {
		t.Errorf("PSU = %+v", psu)
	}
}

func TestQuirkPowerTotalsDisagree(t *testing.T) {
	readings := []bmc.PowerReading{
		{Source: bmc.PowerFromPowerControl, Watts: 412},
		{Source: bmc.PowerFromEnvironmentMetrics, Watts: 405},
		{Source: bmc.PowerFromPSUInput, Watts: 980},
		{Source: bmc.PowerFromPSUOutput, Watts: 390},
	}
	markDisagreement(readings)
	for i, wantSuspect := range []bool{false, false, true, false} {
		if got := readings[i].Suspect != ""; got != wantSuspect {
			t.Errorf("%s %g W: suspect %q, want suspect %v", readings[i].Source, readings[i].Watts, readings[i].Suspect, wantSuspect)
		}
	}
	out := []bmc.PowerReading{
		{Source: bmc.PowerFromPowerControl, Watts: 400},
		{Source: bmc.PowerFromEnvironmentMetrics, Watts: 402},
		{Source: bmc.PowerFromPSUOutput, Watts: 600},
	}
	markDisagreement(out)
	if out[2].Suspect == "" || out[0].Suspect != "" {
		t.Errorf("PSU output above input not marked: %+v", out)
	}
}

func TestQuirkZeroDateLogEntries(t *testing.T) {
	var col struct{ Members []schemas.LogEntry }
	if err := json.Unmarshal(testdata(t, "logentries_zero_date.json"), &col); err != nil {
		t.Fatal(err)
	}
	first := logEntryFromRedfish(col.Members[0].ID, col.Members[0].ODataID, &col.Members[0])
	if !first.Time.IsZero() || first.Severity != bmc.HealthCritical || first.Component != "DIMM" || first.MessageID != "0x100B0C" {
		t.Errorf("zero-dated entry = %+v", first)
	}
	second := logEntryFromRedfish(col.Members[1].ID, col.Members[1].ODataID, &col.Members[1])
	if want := time.Date(2024, 5, 2, 8, 14, 11, 0, time.UTC); !second.Time.Equal(want) || second.Component != "PSU" {
		t.Errorf("second entry = %+v", second)
	}
}

func TestLogCursorRecordsPositionFirst(t *testing.T) {
	l := newLogCursor()
	undated := func(keys ...string) logRead {
		return logRead{keys: keys, created: make([]time.Time, len(keys)), complete: true}
	}
	if news, _ := l.advanceRead("/e", undated("1", "2")); news[0] || news[1] {
		t.Errorf("first read reported entries as new: %v", news)
	}
	news, _ := l.advanceRead("/e", undated("1", "2", "3"))
	if news[0] || news[1] || !news[2] {
		t.Errorf("second read: %v, want only entry 3 new", news)
	}
}

func TestQuirkDriveWithoutIDAndLifeLeft(t *testing.T) {
	c, err := New(bmc.Endpoint{Address: "bmc.example:443"}, bmc.CollectorOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p := &poll{c: c, snap: &bmc.Snapshot{}}
	uri := "/redfish/v1/Systems/1/Storage/RAID/Drives/Disk.Bay.3"
	d, err := p.driveFromRedfish(context.Background(), "1", uri, testdata(t, "drive_without_id.json"))
	if err != nil {
		t.Fatal(err)
	}
	if d.Bay != "Disk.Bay.3" || d.Name != "Physical Disk 3" || !ptrEq(d.LifeLeftPercent, 7) || !d.FailurePredicted ||
		d.Media != "SSD" || d.Protocol != "SATA" || d.CapacityBytes != 479559942144 || d.Health != bmc.HealthWarning {
		t.Errorf("drive = %+v", d)
	}
}

func TestMemoryMappingAndECCCounts(t *testing.T) {
	m := decodeTestdata[wireMemory](t, "memory_with_metrics.json")
	d := dimmFromRedfish("1", m)
	if d.Slot != "PROC 1 DIMM 3" || d.SizeMiB != 32768 || d.PartNumber != "P06033-B21" || d.Serial != "3A2B1C0D" || d.Health != bmc.HealthWarning {
		t.Errorf("DIMM = %+v", d)
	}
	ce, ue := eccCounts(decodeTestdata[wireMemoryMetrics](t, "memorymetrics_ecc.json"))
	if ce == nil || *ce != 1587 || ue == nil || *ue != 1 {
		t.Errorf("lifetime counts = %v, %v; want 1587, 1", ce, ue)
	}
	ce, ue = eccCounts(decodeTestdata[wireMemoryMetrics](t, "memorymetrics_current_only.json"))
	if ce == nil || *ce != 4 || ue != nil {
		t.Errorf("current-period counts = %v, %v; want 4, nil", ce, ue)
	}
}

func TestQuirkExpandOneLevel(t *testing.T) {
	root := decodeTestdata[serviceRoot](t, "root_expand_one_level.json")
	var e expandSupport
	e.configure(root.ProtocolFeaturesSupported.ExpandQuery)
	if q := e.query(); q != "?$expand=.($levels=1)" {
		t.Errorf("query = %q", q)
	}
	e.configure(expandQuery{NoLinks: true, Levels: false})
	if q := e.query(); q != "?$expand=." {
		t.Errorf("query without $levels = %q", q)
	}
	e.configure(expandQuery{})
	if q := e.query(); q != "" {
		t.Errorf("query with nothing advertised = %q", q)
	}
	e.configure(expandQuery{NoLinks: true, Levels: true, MaxLevels: 1})
	e.markIgnored("/redfish/v1/Systems")
	if q := e.query(); q != "" || e.honoured() {
		t.Errorf("after the BMC ignored $expand, query = %q", q)
	}
}

func TestQuirkMissingMember(t *testing.T) {
	tree := loadMockup(t, "public-rackmount1")
	tree.Delete("/redfish/v1/Systems/437XR1138R2/Memory/DIMM2")
	_, ep := simBMC(t, tree, sim.RedfishOptions{Expand: sim.ExpandIgnore})
	c, _ := newCollector(t, ep, bmcOpts(t))
	snap := mustPoll(t, c)
	errs := partErrors(snap, bmc.PartMemory)
	if len(errs) != 1 || errs[0].Kind != bmc.ErrKindNotFound || !strings.HasSuffix(errs[0].Resource, "/Memory/DIMM2") {
		t.Fatalf("memory errors = %+v, want one not_found for DIMM2", errs)
	}
	if len(snap.DIMMs) != 3 {
		t.Errorf("%d DIMMs, want the 3 that are served", len(snap.DIMMs))
	}
}

func TestNewLogEntriesSincePreviousRead(t *testing.T) {
	tree := loadMockup(t, "public-rackmount1")
	_, ep := simBMC(t, tree, sim.RedfishOptions{})
	c, clock := newCollector(t, ep, bmcOpts(t))
	if snap := mustPoll(t, c); len(snap.Logs) != 0 {
		t.Fatalf("first poll emitted %d old log entries, want none", len(snap.Logs))
	}
	const entries = "/redfish/v1/Managers/BMC/LogServices/Log/Entries"
	col, ok := tree.Get(entries)
	if !ok {
		t.Fatalf("%s not in the mockup", entries)
	}
	entry := map[string]any{
		"@odata.id": entries + "/9", "@odata.type": "#LogEntry.v1_15_0.LogEntry",
		"Id": "9", "Name": "Log Entry 9", "EntryType": "Event", "Severity": "Warning",
		"Created": "0000-00-00T00:00:00Z", "MessageId": "Memory.1.0.CorrectableErrorThreshold",
		"Message": "DIMM 2 correctable error threshold reached",
	}
	if err := tree.Set(entries+"/9", entry); err != nil {
		t.Fatal(err)
	}
	members, _ := col["Members"].([]any)
	col["Members"] = append(members, map[string]any{"@odata.id": entries + "/9"})
	col["Members@odata.count"] = len(members) + 1
	if err := tree.Set(entries, col); err != nil {
		t.Fatal(err)
	}

	clock.advance(ep.Cadence.Readings)
	if snap := mustPoll(t, c); len(snap.Logs) != 0 || !hasPart(snap.Poll.Cached, bmc.PartLogs) {
		t.Fatalf("logs read before the slow interval: %+v", snap.Logs)
	}
	clock.advance(ep.Cadence.Slow)
	snap := mustPoll(t, c)
	if len(snap.Logs) != 1 {
		t.Fatalf("logs = %+v, want the one new entry", snap.Logs)
	}
	got := snap.Logs[0]
	if got.ID != "9" || !got.Time.IsZero() || got.Severity != bmc.HealthWarning || got.Component != "DIMM" {
		t.Errorf("new entry = %+v", got)
	}
	clock.advance(ep.Cadence.Slow)
	if snap := mustPoll(t, c); len(snap.Logs) != 0 {
		t.Errorf("entry repeated on the next read: %+v", snap.Logs)
	}
}

// A BMC that names a DIMM in its correctable-ECC log entries while the
// DIMM resource publishes no counts: the new entries are the DIMM's
// counts, kept across a restart with the log positions; limits and
// returns to normal are not errors of their own.
func TestQuirkDIMMErrorsOnlyLogged(t *testing.T) {
	tree := loadMockup(t, "public-rackmount1")
	const entries = "/redfish/v1/Managers/BMC/LogServices/Log/Entries"
	next := 100
	add := func(severity, messageID, message string) {
		t.Helper()
		col, _ := tree.Get(entries)
		id := fmt.Sprint(next)
		next++
		entry := map[string]any{
			"@odata.id": entries + "/" + id, "@odata.type": "#LogEntry.v1_15_0.LogEntry", "Id": id, "Name": "Log Entry " + id,
			"EntryType": "Event", "Severity": severity, "Created": "2026-03-01T12:00:00Z", "MessageId": messageID, "Message": message,
			"Links": map[string]any{"OriginOfCondition": map[string]any{"@odata.id": "/redfish/v1/Systems/437XR1138R2/Memory/DIMM1"}},
		}
		if err := tree.Set(entries+"/"+id, entry); err != nil {
			t.Fatal(err)
		}
		members, _ := col["Members"].([]any)
		col["Members"] = append(members, map[string]any{"@odata.id": entries + "/" + id})
		col["Members@odata.count"] = len(members) + 1
		if err := tree.Set(entries, col); err != nil {
			t.Fatal(err)
		}
	}
	dimm := func(snap *bmc.Snapshot, slot string) *bmc.DIMM {
		for i := range snap.DIMMs {
			if snap.DIMMs[i].Slot == slot {
				return &snap.DIMMs[i]
			}
		}
		t.Fatalf("no DIMM %s in %+v", slot, snap.DIMMs)
		return nil
	}
	_, ep := simBMC(t, tree, sim.RedfishOptions{})
	opts := bmcOpts(t)
	opts.StateDir = t.TempDir()
	c, clock := newCollector(t, ep, opts)
	if d := dimm(mustPoll(t, c), "DIMM 1"); d.CorrectableErrors != nil {
		t.Fatalf("DIMM 1 counts %v before any entry; want none (the resource publishes none)", *d.CorrectableErrors)
	}
	add("Warning", "Memory.1.0.CorrectableError", "Correctable ECC error on DIMM 1")
	add("Warning", "Memory.1.0.CorrectableError", "Correctable ECC error on DIMM 1")
	add("Warning", "Memory.1.0.CorrectableErrorThreshold", "DIMM 1 correctable error logging limit reached")
	add("OK", "Memory.1.0.CorrectableErrorCleared", "DIMM 1 returned to normal")
	clock.advance(ep.Cadence.Slow)
	snap := mustPoll(t, c)
	if d := dimm(snap, "DIMM 1"); d.CorrectableErrors == nil || *d.CorrectableErrors != 2 || d.UncorrectableErrors == nil || *d.UncorrectableErrors != 0 {
		t.Fatalf("DIMM 1 = %+v; want 2 correctable, 0 uncorrectable from its log entries", d)
	}
	if d := dimm(snap, "DIMM 2"); d.CorrectableErrors != nil {
		t.Errorf("DIMM 2 got counts %v from entries naming DIMM 1", *d.CorrectableErrors)
	}
	// A new collector (a restart) keeps the counts and adds new entries.
	if err := c.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	add("Critical", "Memory.1.0.UncorrectableError", "Uncorrectable ECC error on DIMM 1")
	c2, _ := newCollector(t, ep, opts)
	snap = mustPoll(t, c2)
	if d := dimm(snap, "DIMM 1"); d.CorrectableErrors == nil || *d.CorrectableErrors != 2 || *d.UncorrectableErrors != 1 {
		t.Errorf("after a restart DIMM 1 = %+v; want 2 correctable and the new uncorrectable", d)
	}
}

// The legacy Power resource's numbers as some firmware writes them: a
// number in a string is read as the number, "N/A" is left out (gofish's
// own Power type read it as 0 W), and each is named.
func TestLegacyPowerLooseNumbers(t *testing.T) {
	body := []byte(`{"PowerControl":[{"PowerConsumedWatts":"N/A","PowerCapacityWatts":"1100"}],
		"PowerSupplies":[{"MemberId":"0","PowerCapacityWatts":"1600","LineInputVoltage":"230.1","LastPowerOutputWatts":266.6}],
		"Voltages":[{"Name":"12V","ReadingVolts":"12.1"}]}`)
	pw, missing, err := decodeLegacyPower(nil, "Power", body)
	if err != nil || missing {
		t.Fatalf("decode: %v (PowerControl missing: %v)", err, missing)
	}
	if pc := pw.PowerControl[0]; pc.PowerConsumedWatts != nil || !ptrEq(pc.PowerCapacityWatts, 1100) {
		t.Errorf("PowerControl = %+v", pc)
	}
	if ps := pw.PowerSupplies[0]; !ptrEq(ps.PowerCapacityWatts, 1600) || !ptrEq(ps.LineInputVoltage, 230.1) || !ptrEq(ps.LastPowerOutputWatts, 266.6) {
		t.Errorf("PowerSupplies[0] = %+v", ps)
	}
	if v := pw.Voltages[0]; !ptrEq(v.ReadingVolts, 12.1) {
		t.Errorf("Voltages[0] = %+v", v)
	}
	devs, err := decodeTolerant(body, new(wirePower))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"PowerControl.PowerConsumedWatts":  "left out",
		"PowerControl.PowerCapacityWatts":  "read as 1100",
		"PowerSupplies.PowerCapacityWatts": "read as 1600",
		"PowerSupplies.LineInputVoltage":   "read as 230.1",
		"Voltages.ReadingVolts":            "read as 12.1",
	}
	for _, d := range devs {
		if want[d.Property] != d.Action {
			t.Errorf("deviation %+v, want action %q", d, want[d.Property])
		}
		delete(want, d.Property)
	}
	for prop := range want {
		t.Errorf("no deviation named %s", prop)
	}
}
