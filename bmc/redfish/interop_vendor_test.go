package redfish

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rackpulse/rackpulse/bmc"
	"github.com/rackpulse/rackpulse/bmc/sim"
	"github.com/rackpulse/rackpulse/power"
)

// Real vendor BMC trees (../shared/fixtures/redfish-vendor), with their
// deviations from the schema: each is read whole (no malformed part) and
// read right (values asserted per tree).

func vendorDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(repoRoot(t), "..", "shared", "fixtures", "redfish-vendor")
	if _, err := os.Stat(dir); err != nil {
		if os.Getenv("RACKPULSE_REQUIRE_INTEGRATION") == "1" {
			t.Fatalf("vendor Redfish trees not found at %s (required by RACKPULSE_REQUIRE_INTEGRATION=1): %v", dir, err)
		}
		t.Skipf("vendor Redfish trees not found at %s; set up ../shared/fixtures/redfish-vendor to run this test", dir)
	}
	return dir
}

// pollVendor polls one vendor tree served by the simulator.
func pollVendor(t *testing.T, name string) *bmc.Snapshot {
	t.Helper()
	tree, err := sim.LoadMockup(filepath.Join(vendorDir(t), name))
	if err != nil {
		t.Fatalf("loading %s: %v", name, err)
	}
	_, ep := simBMC(t, tree, sim.RedfishOptions{})
	c, _ := newCollector(t, ep, bmcOpts(t))
	return mustPoll(t, c)
}

// Every tree, DMTF's and the vendors', is read with no malformed part.
func TestInteropEveryTreeReadsWithoutMalformedParts(t *testing.T) {
	for _, dir := range []string{fixturesDir(t), vendorDir(t)} {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if !e.IsDir() {
				continue
			}
			t.Run(e.Name(), func(t *testing.T) {
				tree, err := sim.LoadMockup(filepath.Join(dir, e.Name()))
				if err != nil {
					t.Fatal(err)
				}
				_, ep := simBMC(t, tree, sim.RedfishOptions{})
				c, _ := newCollector(t, ep, bmcOpts(t))
				snap := mustPoll(t, c)
				for _, pe := range snap.Poll.Errors {
					if pe.Kind == bmc.ErrKindMalformed {
						t.Errorf("malformed: %+v", pe)
					}
				}
			})
		}
	}
}

// The Intel server board: six chassis whose Links.ContainedBy is an array
// are read (one quirk each), PowerControl's 148 W with both PSUs, and the
// board's temperatures with the CPUs' from "P1/P2 Temperature".
func TestInteropVendorIntel(t *testing.T) {
	snap := pollVendor(t, "Intel")
	if len(snap.Poll.Errors) != 0 {
		t.Errorf("errors %+v", snap.Poll.Errors)
	}
	if len(snap.Chassis) != 7 {
		t.Errorf("%d chassis, want 7", len(snap.Chassis))
	}
	contained := 0
	for _, q := range snap.Poll.Quirks {
		if q.Property == "Links.ContainedBy" && q.Action == "read the first object" {
			contained++
		}
	}
	if contained != 6 {
		t.Errorf("%d ContainedBy quirks, want 6: %+v", contained, snap.Poll.Quirks)
	}
	for _, ch := range snap.Chassis {
		if ch.ID == "Baseboard" && ch.ContainedBy != "RackMount" {
			t.Errorf("Baseboard contained by %q, want RackMount", ch.ContainedBy)
		}
	}
	got := power.ServerPower(snap, snap.Time)
	if !got.Known || got.Watts != 148 || got.Source != bmc.PowerFromPowerControl {
		t.Errorf("server power %+v, want 148 W from PowerControl", got)
	}
	if len(snap.PSUs) != 2 || snap.PSUs[0].Serial != "CNS2221A4AHAP0490" || snap.PSUs[1].Serial != "CNS2221A4AH9R0616" {
		t.Errorf("PSUs %+v", snap.PSUs)
	}
	if s := findSensor(snap, "Baseboard", "BB Inlet Temp"); s == nil || !ptrEq(s.Value, 22) || s.Context != bmc.ContextIntake || !ptrEq(s.Thresholds.UpperCritical, 65) {
		t.Errorf("BB Inlet Temp = %+v", s)
	}
	if s := findSensor(snap, "Baseboard", "P1 DIMM Thrm 2"); s == nil || s.Value != nil || s.State != "Disabled" {
		t.Errorf("disabled P1 DIMM Thrm 2 = %+v; want no reading", s)
	}
	if len(snap.CPUs) != 2 || !ptrEq(snap.CPUs[0].TemperatureC, 27) || !ptrEq(snap.CPUs[1].TemperatureC, 25) {
		t.Errorf("CPUs %+v; want 27 and 25 °C from P1 and P2 Temperature", snap.CPUs)
	}
	if len(snap.DIMMs) != 6 || len(snap.Drives) != 1 {
		t.Errorf("%d DIMMs, %d drives", len(snap.DIMMs), len(snap.Drives))
	}
}

// The HPE ProLiant XL675d Gen10 Plus: nine GPU temperatures, six PSU bays
// (four supplies, two empty), 894 W from PowerControl; every supply's
// LastPowerOutputWatts holds the server's total (4 × 894 W), which is set
// aside, never summed.
func TestInteropVendorXL675d(t *testing.T) {
	snap := pollVendor(t, "XL675d_A100")
	if len(snap.Poll.Errors) != 0 {
		t.Errorf("errors %+v", snap.Poll.Errors)
	}
	gpus := 0
	for _, s := range snap.Sensors {
		if strings.Contains(s.Name, "-GPU ") && s.Kind == bmc.KindTemperature && ptrEq(s.Value, 50) {
			gpus++
		}
	}
	if gpus != 9 {
		t.Errorf("%d GPU temperatures at 50 °C, want 9", gpus)
	}
	if zone := findSensor(snap, "1", "94-GPU Zone"); zone == nil || zone.State != "Absent" || zone.Value != nil {
		t.Errorf("absent GPU Zone = %+v", zone)
	}
	present := 0
	for _, p := range snap.PSUs {
		if p.State != "Absent" {
			present++
			if !ptrEq(p.CapacityWatts, 3000) || p.Health != bmc.HealthOK {
				t.Errorf("PSU %+v", p)
			}
		}
	}
	if len(snap.PSUs) != 6 || present != 4 {
		t.Errorf("%d PSU bays, %d present; want 6 and 4", len(snap.PSUs), present)
	}
	// iLO numbers the supplies from MemberId 0; the chassis prints bays
	// from 1 (Oem.Hpe.BayNumber).
	var bays []string
	for _, p := range snap.PSUs {
		bays = append(bays, p.Bay)
	}
	if strings.Join(bays, ",") != "1,2,3,4,5,6" {
		t.Errorf("PSU bays %v, want 1 to 6 as the chassis prints them", bays)
	}
	got := power.ServerPower(snap, snap.Time)
	if !got.Known || got.Watts != 894 || got.Source != bmc.PowerFromPowerControl || len(got.SetAside) != 1 || got.SetAside[0].Source != bmc.PowerFromPSUOutput {
		t.Errorf("server power %+v; want 894 W from PowerControl, the 3576 W PSU output sum set aside", got)
	}
	if len(snap.CPUs) != 2 || len(snap.DIMMs) != 32 || len(snap.Chassis) != 2 {
		t.Errorf("%d CPUs, %d DIMMs, %d chassis", len(snap.CPUs), len(snap.DIMMs), len(snap.Chassis))
	}
}

// Stock OpenBMC with the host off: the system reads as off, and the server
// has no power reading, never 0 W.
func TestInteropVendorOpenBMCPoweredOff(t *testing.T) {
	snap := pollVendor(t, "OpenBMC-stock")
	if len(snap.Poll.Errors) != 0 {
		t.Errorf("errors %+v", snap.Poll.Errors)
	}
	if len(snap.Systems) != 1 || snap.Systems[0].PowerState != "Off" {
		t.Fatalf("systems %+v, want one, off", snap.Systems)
	}
	if got := power.ServerPower(snap, snap.Time); got.Known {
		t.Errorf("server power %+v; a powered-off host with no reading has none, not 0 W", got)
	}
	for _, r := range snap.Power {
		t.Errorf("power reading %+v from a host with none", r)
	}
}

// The HPE Cray EX425 blade controller: two nodes with no system-chassis
// links. Each node's CPUs get their own node's temperatures and each node
// its own input power; no total is made up from CPU or memory parts.
func TestInteropVendorEX425Nodes(t *testing.T) {
	snap := pollVendor(t, "EX425")
	if len(snap.Poll.Errors) != 0 {
		t.Errorf("errors %+v", snap.Poll.Errors)
	}
	if len(snap.Systems) != 2 || len(snap.Chassis) != 4 || len(snap.Sensors) != 267 {
		t.Errorf("%d systems, %d chassis, %d sensors; want 2, 4, 267", len(snap.Systems), len(snap.Chassis), len(snap.Sensors))
	}
	want := map[string]float64{"Node0/CPU 0": 33.25, "Node0/CPU 1": 32.25, "Node1/CPU 0": 33.25, "Node1/CPU 1": 31.25}
	for _, cpu := range snap.CPUs {
		w, ok := want[cpu.System+"/"+cpu.Socket]
		if !ok || !ptrEq(cpu.TemperatureC, w) {
			t.Errorf("CPU %s/%s at %v, want %v (its own node's sensor)", cpu.System, cpu.Socket, deref(cpu.TemperatureC), w)
		}
		delete(want, cpu.System+"/"+cpu.Socket)
	}
	if len(want) != 0 {
		t.Errorf("CPUs not read: %v", want)
	}
	nodes := map[string]float64{}
	for _, r := range snap.Power {
		if r.Source != bmc.PowerFromChassisSensor {
			t.Errorf("power reading %+v; want chassis input sensors only", r)
		}
		nodes[r.Chassis] = r.Watts
	}
	if nodes["Node0"] != 240 || nodes["Node1"] != 238 {
		t.Errorf("node power %v; want Node0 240 W and Node1 238 W, each its own", nodes)
	}
	got := power.ServerPower(snap, snap.Time)
	for _, p := range got.Parts {
		if p.Source != bmc.PowerFromChassisSensor {
			t.Errorf("part %+v", p)
		}
	}
}

// The HPE Cray EX chassis controller: no systems, seventeen chassis, four
// rectifiers whose readings are only in the enclosure's sensors.
func TestInteropVendorCMMRectifiers(t *testing.T) {
	snap := pollVendor(t, "CMM")
	if len(snap.Poll.Errors) != 0 {
		t.Errorf("errors %+v", snap.Poll.Errors)
	}
	if len(snap.Systems) != 0 || len(snap.Chassis) != 17 || len(snap.Sensors) != 81 {
		t.Errorf("%d systems, %d chassis, %d sensors; want 0, 17, 81", len(snap.Systems), len(snap.Chassis), len(snap.Sensors))
	}
	in := map[string]float64{}
	for _, p := range snap.PSUs {
		if p.InputWatts == nil || p.OutputWatts == nil || *p.OutputWatts >= *p.InputWatts {
			t.Errorf("rectifier %+v; want input and output from its sensors", p)
			continue
		}
		in[p.Name] = *p.InputWatts
	}
	if len(in) != 4 || in["Rectifier 0"] != 3433 || in["Rectifier 1"] != 3657 || in["Rectifier 2"] != 3816 || in["Rectifier 3"] != 3819 {
		t.Errorf("rectifier inputs %v", in)
	}
	got := power.ServerPower(snap, snap.Time)
	if !got.Known || got.Watts != 14725 || got.Source != bmc.PowerFromPSUInput {
		t.Errorf("enclosure power %+v; want the rectifiers' 14725 W input", got)
	}
	if s := findSensor(snap, "Enclosure", "Rectifier"); s == nil {
		t.Error("rectifier sensors not listed")
	}
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}
