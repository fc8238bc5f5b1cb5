package ipmi

import (
	"slices"
	"testing"
	"time"

	"github.com/rackpulse/rackpulse/bmc"
	bmcsim "github.com/rackpulse/rackpulse/bmc/sim"
)

// The SEL is checked on every poll (one Get SEL Info), whatever the slow
// cadence: the event naming a failing DIMM arrives in the poll in which
// the memory sensor changes, and a poll with nothing new costs one round
// trip and reads no record.

// selCounts is how many Get SEL Info and Get SEL Entry commands a poll sent.
func selCounts(traces *traceLog) (info, entries int) {
	return traces.count(cmdGetSELInfo.Name), traces.count(cmdGetSELEntry.Name)
}

func TestSELEventArrivesWithTheSensorChange(t *testing.T) {
	f := startIPMIFleet(t, 1)
	b := f.BMCs()[0]
	ep := fleetEndpoint(b)
	ep.Cadence.Slow = time.Hour
	traces := &traceLog{}
	c := newCollector(t, ep, bmc.CollectorOptions{Trace: traces.add})
	// A fake clock 30 s a poll: an hour of slow cadence never comes round.
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	c.now = func() time.Time { return at }
	poll := func(what string) *bmc.Snapshot {
		t.Helper()
		at = at.Add(ep.Cadence.Readings)
		traces.reset()
		snap := cleanPoll(t, c)
		if slices.Contains(snap.Poll.Cached, bmc.PartSEL) {
			t.Errorf("%s: SEL listed as cached", what)
		}
		return snap
	}
	memStates := func(snap *bmc.Snapshot) []string {
		t.Helper()
		return mustSensor(t, snap, "CPU2 Memory").States
	}
	quiet := func(what string) *bmc.Snapshot {
		t.Helper()
		snap := poll(what)
		if len(snap.Logs) != 0 {
			t.Errorf("%s: SEL entries %s, want none", what, fmtLogs(snap.Logs))
		}
		if info, entries := selCounts(traces); info != 1 || entries != 0 {
			t.Errorf("%s: %d Get SEL Info, %d Get SEL Entry; want 1 and 0", what, info, entries)
		}
		return snap
	}

	if snap := poll("first poll"); len(snap.Logs) != 0 {
		t.Fatalf("first poll reported the old SEL: %s", fmtLogs(snap.Logs))
	}
	before := quiet("steady poll")
	if !slices.Equal(memStates(before), []string{"Presence Detected"}) {
		t.Fatalf("CPU2 Memory before the fault: %q", memStates(before))
	}

	// DIMM_B5 (CPU2 group, module 4): correctable ECC at once; a step of an
	// hour keeps it there.
	inject(t, b, bmcsim.FaultSpec{Fault: bmcsim.FaultDIMMECC, Target: "DIMM_B5", Every: time.Hour})
	snap := poll("poll after the fault")
	afterFirst := memStates(snap)
	if slices.Equal(afterFirst, memStates(before)) || !slices.Contains(afterFirst, "Correctable ECC") {
		t.Fatalf("CPU2 Memory states %q: the sensor did not change in this poll", afterFirst)
	}
	if mustSensor(t, snap, "CPU2 Memory").Health != bmc.HealthWarning {
		t.Errorf("CPU2 Memory health %q, want Warning", mustSensor(t, snap, "CPU2 Memory").Health)
	}
	wantDIMMEvent(t, snap, "DIMM_B5")
	quiet("poll after the event")

	// DIMM_B6 in the same group: the group's sensor already asserts
	// Correctable ECC and does not change; the SEL still names the module.
	inject(t, b, bmcsim.FaultSpec{Fault: bmcsim.FaultDIMMECC, Target: "DIMM_B6", Every: time.Hour})
	snap = poll("poll after the second DIMM's fault")
	if got := memStates(snap); !slices.Equal(got, afterFirst) {
		t.Errorf("CPU2 Memory states %q, want them unchanged (%q)", got, afterFirst)
	}
	wantDIMMEvent(t, snap, "DIMM_B6")
	quiet("poll after the second event")
}

// wantDIMMEvent checks that snap carries exactly one SEL entry, the
// correctable ECC event naming dimm.
func wantDIMMEvent(t *testing.T, snap *bmc.Snapshot, dimm string) {
	t.Helper()
	if len(snap.Logs) != 1 {
		t.Fatalf("SEL entries %s, want the correctable ECC event of %s", fmtLogs(snap.Logs), dimm)
	}
	e := snap.Logs[0]
	if e.Component != "DIMM" || e.Subject != dimm || e.Severity != bmc.HealthWarning ||
		e.Message != "CPU2 Memory: Correctable ECC asserted" || e.Source != "SEL" {
		t.Errorf("SEL entry %+v, want Warning correctable ECC about %s", e, dimm)
	}
}
