package alert

import (
	"slices"
	"strings"
	"testing"

	"github.com/rackpulse/rackpulse/agent"
	"github.com/rackpulse/rackpulse/bmc"
	"github.com/rackpulse/rackpulse/fleet"
	"github.com/rackpulse/rackpulse/rollup"
)

// report hands the engine an agent report of a server at the harness's
// clock, reconciled with snap, then advances the clock one interval.
func (h *harness) report(name string, rep *agent.Report, snap *bmc.Snapshot) {
	h.t.Helper()
	rep.Server, rep.Interval = name, interval
	h.e.ObserveAgent(&fleet.AgentReport{Site: h.inv.Site, Server: h.server(name), At: h.now, Report: rep, Snapshot: snap, Reconciliation: fleet.Reconcile(snap, rep)})
	h.now = h.now.Add(interval)
}

func edacReport(ce, ue int64) *agent.Report {
	return &agent.Report{DIMMs: []agent.DIMM{
		{Slot: "CPU1_DIMM_A1", Controller: "mc0", Location: "channel 0 slot 0", Serial: "SN1", CorrectableErrors: ptr(ce), UncorrectableErrors: ptr(ue)},
		{Slot: "CPU1_DIMM_B1", Controller: "mc0", CorrectableErrors: ptr[int64](0), UncorrectableErrors: ptr[int64](0)},
	}}
}

func TestAgentDIMMCountersAlertApartFromTheBMC(t *testing.T) {
	h := newHarness(t, Options{})
	snap := healthy("r12-u05", h.now)
	snap.Protocol, snap.DIMMs = bmc.ProtocolIPMI, []bmc.DIMM{} // an IPMI BMC: no DIMM counters
	h.poll("r12-u05", snap, nil)
	for _, ce := range []int64{5, 9, 16} {
		h.report("r12-u05", edacReport(ce, 0), snap)
	}
	if got := h.changes(); !slices.Equal(got, []string{"DIMMFailing warning firing CPU1_DIMM_A1"}) {
		t.Fatalf("changes %v; want 11 correctable errors since the first report to fire", got)
	}
	a := h.alert("DIMMFailing")
	if a.Labels["source"] != "agent" || a.Labels["slot"] != "CPU1_DIMM_A1" || !strings.Contains(a.Annotations.Summary, "11 correctable errors in 24 h (EDAC)") {
		t.Errorf("alert %v %q", a.Labels, a.Annotations.Summary)
	}
	// A BMC poll does not resolve the agent's alert.
	h.poll("r12-u05", snap, nil)
	if got := h.changes(); len(got) != 0 {
		t.Errorf("a BMC poll changed the agent's alert: %v", got)
	}
	// EDAC could not be read: held.
	rep := &agent.Report{Problems: []agent.Problem{{Part: agent.PartEDAC, Message: "no EDAC driver loaded"}}}
	h.report("r12-u05", rep, snap)
	if got := h.changes(); len(got) != 0 {
		t.Errorf("missing EDAC data changed the alert: %v", got)
	}
	// An uncorrectable error: critical.
	h.report("r12-u05", edacReport(16, 1), snap)
	if got := h.changes(); !slices.Equal(got, []string{"DIMMFailing warning resolved CPU1_DIMM_A1", "DIMMFailing critical firing CPU1_DIMM_A1"}) {
		t.Errorf("changes %v", got)
	}
}

func TestSMARTDriveFailing(t *testing.T) {
	h := newHarness(t, Options{})
	snap := healthy("r12-u03", h.now)
	snap.Drives[1].Serial = "WD-1234"
	snap.Drives[1].Bay = "Bay 1"
	h.poll("r12-u03", snap, nil)
	passed := false
	rep := &agent.Report{Drives: []agent.Drive{
		{Device: "/dev/sdb", Serial: "WD-1234", Model: "WUH721818ALE6L4", Protocol: "ATA", Passed: &passed},
		{Device: "/dev/nvme0", Serial: "N1", Protocol: "NVMe", AvailableSpare: ptr[int64](5), AvailableSpareThreshold: ptr[int64](10)},
		{Device: "/dev/sdc", Serial: "S3", Protocol: "ATA", PendingSectors: ptr[int64](8)},
		{Device: "/dev/sdd", Standby: true},
	}}
	h.report("r12-u03", rep, snap)
	got := h.firing()
	slices.Sort(got)
	want := []string{"DriveFailing critical Bay 1", "DriveFailing critical nvme0", "DriveFailing warning sdc"}
	if !slices.Equal(got, want) {
		t.Errorf("firing %v\nwant   %v", got, want)
	}
	h.changes()

	// A disk asleep, or one that could not be opened, says nothing: held.
	// Another disk's problem does not hold the disks that were read.
	rep = &agent.Report{Drives: []agent.Drive{
		{Device: "/dev/sdb", Serial: "WD-1234", Standby: true},
		{Device: "/dev/nvme0", Serial: "N1", Protocol: "NVMe", AvailableSpare: ptr[int64](100), AvailableSpareThreshold: ptr[int64](10)},
	}, Problems: []agent.Problem{{Part: agent.PartSMART, Path: "/dev/sdc", Message: "smartctl exit status 2: open failed"}}}
	h.report("r12-u03", rep, snap)
	if got := h.changes(); !slices.Equal(got, []string{"DriveFailing critical resolved nvme0"}) {
		t.Errorf("changes %v; want nvme0 resolved by its reading, Bay 1 (asleep) and sdc (not read) held", got)
	}
}

// One hwmon chip gone holds the CPU alert of its socket only; EDAC
// reporting another DIMM does not resolve the one it no longer lists.
func TestAgentAlertsHeldPerPart(t *testing.T) {
	h := newHarness(t, Options{})
	snap := healthy("r12-u03", h.now)
	snap.Sensors = slices.DeleteFunc(snap.Sensors, func(s bmc.Sensor) bool { return s.Context == bmc.ContextCPU })
	for i := range snap.CPUs {
		snap.CPUs[i].TemperatureC = nil
	}
	pkg := func(socket string, c float64) agent.Sensor {
		return agent.Sensor{Chip: "coretemp", Name: "Package id", Kind: agent.SensorTemperature, CPUPackage: true, Socket: socket, Value: c, Unit: "Cel", Max: ptr(84.0), Crit: ptr(100.0)}
	}
	for range 2 {
		h.report("r12-u03", &agent.Report{Sensors: []agent.Sensor{pkg("CPU1", 95), pkg("CPU2", 95)}}, snap)
	}
	if got := h.firing(); len(got) != 2 {
		t.Fatalf("firing %v; want CPUHot on both sockets", got)
	}
	h.changes()
	h.report("r12-u03", &agent.Report{Sensors: []agent.Sensor{pkg("CPU1", 50)},
		Problems: []agent.Problem{{Part: agent.PartHwmon, Path: "/sys/class/hwmon/hwmon1", Message: "reading hwmon chip: no such file"}}}, snap)
	if got := h.changes(); !slices.Equal(got, []string{"CPUHot warning resolved CPU1"}) {
		t.Errorf("changes %v; want CPU1 resolved, CPU2 (chip gone) held", got)
	}

	h.report("r12-u03", edacReport(0, 1), snap)
	if got := h.changes(); !slices.Equal(got, []string{"DIMMFailing critical firing CPU1_DIMM_A1"}) {
		t.Fatalf("changes %v", got)
	}
	onlyB1 := edacReport(0, 0)
	onlyB1.DIMMs = onlyB1.DIMMs[1:]
	h.report("r12-u03", onlyB1, snap)
	if got := h.changes(); len(got) != 0 {
		t.Errorf("a report without A1's counters changed its alert: %v", got)
	}
}

func TestDiskSlowAndNICErrors(t *testing.T) {
	h := newHarness(t, Options{})
	vitals := func(latency float64, rxErrors int64) *agent.Report {
		return &agent.Report{Vitals: &agent.Vitals{Interval: interval,
			Disks: []agent.DiskIO{{Device: "sda", Rotational: true, ReadIOPS: 80, AvgLatencyMs: latency, AvgQueue: 9}, {Device: "nvme0n1", ReadIOPS: 0, AvgLatencyMs: 500}},
			NICs:  []agent.NICStats{{Name: "eth0", RxErrors: rxErrors}}}}
	}
	// Three reports over 100 ms (an HDD's bound) fire DiskSlow; an idle
	// disk's latency does not count.
	for i, lat := range []float64{150, 180, 160} {
		h.report("r12-u03", vitals(lat, 10), nil)
		if got := h.changes(); (i < 2) != (len(got) == 0) {
			t.Fatalf("report %d: changes %v", i, got)
		}
	}
	if a := h.alert("DiskSlow"); a.Labels["drive"] != "sda" || !strings.Contains(a.Annotations.Summary, "160 ms per I/O (HDD bound 100 ms)") {
		t.Errorf("DiskSlow %v %q", a.Labels, a.Annotations.Summary)
	}
	h.report("r12-u03", vitals(8, 10), nil)
	if got := h.changes(); !slices.Equal(got, []string{"DiskSlow warning resolved sda"}) {
		t.Errorf("back to 8 ms: %v", got)
	}
	// NIC errors growing in two reports of ten.
	for _, e := range []int64{10, 12, 12, 15} {
		h.report("r12-u03", vitals(8, e), nil)
	}
	if !slices.Contains(h.firing(), "NICErrors warning eth0") {
		t.Errorf("firing %v; want NICErrors on eth0", h.firing())
	}
	for range 10 {
		h.report("r12-u03", vitals(8, 15), nil)
	}
	if slices.Contains(h.firing(), "NICErrors warning eth0") {
		t.Error("NICErrors still firing after ten reports without growth")
	}
}

func TestHwmonCPUOnlyWhereTheBMCHasNone(t *testing.T) {
	h := newHarness(t, Options{})
	rep := func(c float64) *agent.Report {
		return &agent.Report{Sensors: []agent.Sensor{{Chip: "coretemp", Name: "Package id 0", Kind: agent.SensorTemperature, CPUPackage: true, Socket: "CPU1", Value: c, Unit: "Cel", Max: ptr(84.0), Crit: ptr(100.0)}}}
	}
	withSensors := healthy("r12-u03", h.now)
	h.report("r12-u03", rep(90), withSensors)
	h.report("r12-u03", rep(90), withSensors)
	if got := h.changes(); len(got) != 0 {
		t.Errorf("hwmon alerted where the BMC has CPU temperatures: %v", got)
	}
	without := healthy("r12-u03", h.now)
	without.Sensors = slices.DeleteFunc(without.Sensors, func(s bmc.Sensor) bool { return s.Context == bmc.ContextCPU })
	for i := range without.CPUs {
		without.CPUs[i].TemperatureC = nil
	}
	h.report("r12-u03", rep(90), without)
	h.report("r12-u03", rep(90), without)
	if got := h.changes(); !slices.Equal(got, []string{"CPUHot warning firing CPU1"}) {
		t.Errorf("changes %v; want CPUHot from hwmon at its max 84 °C", got)
	}
}

func TestInventoryMismatchAndAgentSilent(t *testing.T) {
	h := newHarness(t, Options{})
	snap := healthy("r12-u03", h.now)
	snap.Systems[0].Serial = "SN-BMC"
	h.poll("r12-u03", snap, nil)
	h.report("r12-u03", &agent.Report{Identity: agent.Identity{SystemSerial: "SN-OTHER"}}, snap)
	if got := h.changes(); !slices.Equal(got, []string{"InventoryMismatch warning firing"}) {
		t.Fatalf("changes %v; want a mismatch at once", got)
	}
	if a := h.alert("InventoryMismatch"); !strings.Contains(a.Annotations.Summary, "system serial: BMC sn-bmc, host sn-other") {
		t.Errorf("summary %q", a.Annotations.Summary)
	}
	h.report("r12-u03", &agent.Report{Identity: agent.Identity{SystemSerial: "SN-BMC"}}, snap)
	if got := h.changes(); !slices.Equal(got, []string{"InventoryMismatch warning resolved"}) {
		t.Errorf("matching again: %v", got)
	}

	// Three intervals without a report: AgentSilent (info), unless the
	// host is off.
	cycle := func() { h.e.ObserveCycle(&fleet.Cycle{Time: h.now, Inventory: h.inv, Result: &rollup.Result{}}) }
	h.now = h.now.Add(3 * interval)
	cycle()
	if got := h.changes(); !slices.Equal(got, []string{"AgentSilent info firing"}) {
		t.Fatalf("changes %v", got)
	}
	h.report("r12-u03", &agent.Report{Identity: agent.Identity{SystemSerial: "SN-BMC"}}, snap)
	if got := h.changes(); !slices.Equal(got, []string{"AgentSilent info resolved"}) {
		t.Errorf("a report: %v", got)
	}
	off := healthy("r12-u03", h.now)
	off.Systems[0].PowerState = "Off"
	h.poll("r12-u03", off, nil)
	h.now = h.now.Add(5 * interval)
	cycle()
	if got := h.changes(); len(got) != 0 {
		t.Errorf("a host the BMC says is off raised %v", got)
	}
}
