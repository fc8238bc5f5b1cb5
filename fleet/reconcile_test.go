package fleet

import (
	"testing"
	"time"

	"github.com/rackpulse/rackpulse/agent"
	"github.com/rackpulse/rackpulse/bmc"
)

func TestReconcile(t *testing.T) {
	snap := func() *bmc.Snapshot {
		s := snapshot("r12-u01", t0, 300)
		s.Systems[0].UUID, s.Systems[0].Serial = "4c4c4544-0042-3510-8052-b4c04f4e4332", "CN7016318S0042"
		s.CPUs = []bmc.CPU{{Socket: "CPU1"}, {Socket: "CPU2"}}
		s.DIMMs = []bmc.DIMM{{Slot: "A1", SizeMiB: 32768}, {Slot: "A2", SizeMiB: 32768}, {Slot: "A3", State: "Absent"}}
		s.Drives = []bmc.Drive{{Bay: "0", Serial: "S1"}, {Bay: "1", Serial: "S2"}}
		return s
	}
	report := func() *agent.Report {
		return &agent.Report{Identity: agent.Identity{SystemUUID: "4C4C4544-0042-3510-8052-B4C04F4E4332", SystemSerial: "CN7016318S0042"},
			Inventory: &agent.Inventory{
				CPUs:      []agent.CPU{{Socket: 0}, {Socket: 1}},
				DIMMSlots: []agent.DIMMSlot{{Locator: "A1", SizeMiB: 32768}, {Locator: "A2", SizeMiB: 32768}, {Locator: "A3"}},
				Disks:     []agent.Disk{{Name: "sda", Serial: "S1", SizeBytes: 1e12}, {Name: "sdb", Serial: "s2", SizeBytes: 1e12}},
			}}
	}
	if r := Reconcile(snap(), report()); r.Identity != IdentityMatched || len(r.Differences) != 0 {
		t.Errorf("the same machine: %+v", r)
	}
	for _, tc := range []struct {
		name     string
		change   func(*bmc.Snapshot, *agent.Report)
		identity string
		what     []string
	}{
		{"another machine", func(s *bmc.Snapshot, r *agent.Report) {
			r.Identity.SystemUUID, r.Identity.SystemSerial = "4c4c4544-0042-3510-8052-b4c04f4e0000", "CN0000000000"
		}, IdentityMismatch, []string{"system UUID", "system serial"}},
		{"placeholder serial is not a difference", func(s *bmc.Snapshot, r *agent.Report) {
			r.Identity.SystemSerial = "To Be Filled By O.E.M."
		}, IdentityMatched, nil},
		{"nothing to compare", func(s *bmc.Snapshot, r *agent.Report) { s.Systems[0].UUID, s.Systems[0].Serial = "", "" }, IdentityUnknown, nil},
		{"a DIMM fewer", func(s *bmc.Snapshot, r *agent.Report) { r.Inventory.DIMMSlots[1].SizeMiB = 0 }, IdentityMatched, []string{"DIMM count"}},
		{"other DIMM sizes", func(s *bmc.Snapshot, r *agent.Report) { r.Inventory.DIMMSlots[1].SizeMiB = 16384 }, IdentityMatched, []string{"DIMM sizes"}},
		{"a CPU fewer", func(s *bmc.Snapshot, r *agent.Report) { r.Inventory.CPUs = r.Inventory.CPUs[:1] }, IdentityMatched, []string{"CPU count"}},
		{"a swapped disk", func(s *bmc.Snapshot, r *agent.Report) { r.Inventory.Disks[1].Serial = "S9" }, IdentityMatched, []string{"disk serials"}},
		{"an IPMI BMC lists no DIMMs: not compared", func(s *bmc.Snapshot, r *agent.Report) { s.DIMMs = nil }, IdentityMatched, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, r := snap(), report()
			tc.change(s, r)
			got := Reconcile(s, r)
			var what []string
			for _, d := range got.Differences {
				what = append(what, d.What)
			}
			if got.Identity != tc.identity || len(what) != len(tc.what) || (len(what) > 0 && what[0] != tc.what[0]) {
				t.Errorf("got %s %v, want %s %v", got.Identity, what, tc.identity, tc.what)
			}
		})
	}
}

func TestObserveAgentFindsTheOtherServer(t *testing.T) {
	inv := loadInventory(t)
	f := New(inv, nil, 30*time.Second, Options{})
	rec := &agentRecorder{}
	f.AddSink(rec)
	for name, serial := range map[string]string{"r12-u01": "SN-1", "r12-u02": "SN-2"} {
		s := snapshot(name, t0, 300)
		s.Systems[0].Serial = serial
		f.Observe(endpoint(name), t0, s, nil)
	}
	// r12-u01's agent reports r12-u02's serial: the cabling is crossed.
	ar, err := f.ObserveAgent("r12-u01", &agent.Report{Server: "r12-u01", Identity: agent.Identity{SystemSerial: "sn-2"}}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if !ar.Reconciliation.IdentityDiffers() || ar.Reconciliation.OtherServer != "r12-u02" {
		t.Errorf("reconciliation %+v; want a mismatch naming r12-u02", ar.Reconciliation)
	}
	if len(rec.got) != 1 || rec.got[0] != ar {
		t.Errorf("sinks got %d reports", len(rec.got))
	}
	if got, ok := f.Agent("r12-u01"); !ok || got != ar {
		t.Error("the report is not kept")
	}
	if _, err := f.ObserveAgent("nope", &agent.Report{}, t0); err == nil {
		t.Error("a report for a server not polled here was accepted")
	}
}

type agentRecorder struct {
	recorder
	got []*AgentReport
}

func (r *agentRecorder) ObserveAgent(a *AgentReport) { r.got = append(r.got, a) }

func TestAgentReportStale(t *testing.T) {
	at := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	ar := &AgentReport{At: at, Report: &agent.Report{Interval: 30 * time.Second}}
	for _, tc := range []struct {
		age, floor time.Duration
		want       bool
	}{
		{89 * time.Second, 0, false},
		{91 * time.Second, 0, true},
		{91 * time.Second, time.Minute, false}, // a poll interval of a minute: three minutes
		{181 * time.Second, time.Minute, true},
	} {
		if got := ar.Stale(at.Add(tc.age), tc.floor); got != tc.want {
			t.Errorf("%v old, floor %v: stale %v, want %v", tc.age, tc.floor, got, tc.want)
		}
	}
	if (&AgentReport{At: at, Report: &agent.Report{}}).Stale(at.Add(24*time.Hour), 0) {
		t.Error("a report without an interval is stale; nothing says when it is due")
	}
}
