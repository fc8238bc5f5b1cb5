package redfish

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/rackpulse/rackpulse/bmc"
	"github.com/rackpulse/rackpulse/bmc/sim"
	"github.com/rackpulse/rackpulse/power"
)

// TestInteropEveryMockup polls every DMTF mockup served by the simulator and
// checks that a snapshot comes back with its systems or chassis.
func TestInteropEveryMockup(t *testing.T) {
	dir := fixturesDir(t)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		n++
		t.Run(e.Name(), func(t *testing.T) {
			_, ep := simBMC(t, loadMockup(t, e.Name()), sim.RedfishOptions{})
			c, _ := newCollector(t, ep, bmcOpts(t))
			snap := mustPoll(t, c)
			if len(snap.Systems)+len(snap.Chassis) == 0 {
				t.Fatalf("no systems and no chassis read; errors: %+v", snap.Poll.Errors)
			}
			if snap.Poll.Requests == 0 || snap.Poll.Bytes == 0 {
				t.Errorf("poll report counts %d requests, %d bytes", snap.Poll.Requests, snap.Poll.Bytes)
			}
			t.Logf("%s: %d systems, %d chassis, %d sensors, %d PSUs, %d power readings, %d DIMMs, %d CPUs, %d drives; %d requests; errors %+v",
				e.Name(), len(snap.Systems), len(snap.Chassis), len(snap.Sensors), len(snap.PSUs), len(snap.Power),
				len(snap.DIMMs), len(snap.CPUs), len(snap.Drives), snap.Poll.Requests, snap.Poll.Errors)
		})
	}
	if n == 0 {
		t.Fatalf("no mockups under %s", dir)
	}
}

func TestInteropRackmount1Values(t *testing.T) {
	_, ep := simBMC(t, loadMockup(t, "public-rackmount1"), sim.RedfishOptions{})
	c, _ := newCollector(t, ep, bmcOpts(t))
	snap := mustPoll(t, c)

	psu := findPSU(snap, "1U", "1")
	if psu == nil {
		t.Fatalf("no PSU in bay 1: %+v", snap.PSUs)
	}
	if psu.Health != bmc.HealthWarning || !psu.FailurePredicted || !ptrEq(psu.CapacityWatts, 400) {
		t.Errorf("PSU bay 1 = %+v, want Warning, failure predicted, 400 W rated", psu)
	}
	// Its metrics claim 937.4 W in and out on a 400 W supply.
	if psu.InputWatts != nil || psu.OutputWatts != nil || len(psu.Suspect) != 2 {
		t.Errorf("PSU bay 1 readings at/above capacity must be set aside: in %v out %v suspect %q", psu.InputWatts, psu.OutputWatts, psu.Suspect)
	}
	if !ptrEq(psu.InputVolts, 230.2) || psu.Model != "RKS-440DC" || psu.Serial != "3488247" {
		t.Errorf("PSU bay 1 details = %+v", psu)
	}
	if bay2 := findPSU(snap, "1U", "2"); bay2 == nil || bay2.State != "Absent" {
		t.Errorf("PSU bay 2 = %+v, want Absent", bay2)
	}

	cpuTemp := findSensor(snap, "1U", "CPU #1 Temperature")
	if cpuTemp == nil || !ptrEq(cpuTemp.Value, 44) || cpuTemp.Unit != bmc.UnitCelsius || cpuTemp.Kind != bmc.KindTemperature ||
		!ptrEq(cpuTemp.Thresholds.UpperWarning, 42) || !ptrEq(cpuTemp.Thresholds.UpperCritical, 45) || cpuTemp.Health != bmc.HealthWarning || cpuTemp.Context != "CPU" {
		t.Errorf("CPU #1 Temperature = %+v", cpuTemp)
	}
	fan := findSensor(snap, "1U", "Chassis Fan #1")
	if fan == nil || fan.Kind != bmc.KindFan || fan.Unit != bmc.UnitPercent || !ptrEq(fan.Value, 45) || !ptrEq(fan.Thresholds.LowerWarning, 5) {
		t.Errorf("Chassis Fan #1 = %+v", fan)
	}
	// Sensors are read from one schema only: no duplicate names per chassis.
	seen := map[string]bool{}
	for _, s := range snap.Sensors {
		if seen[s.Chassis+"/"+s.Source] {
			t.Errorf("sensor %s emitted twice", s.Source)
		}
		seen[s.Chassis+"/"+s.Source] = true
	}

	pc := findPower(snap, "1U", bmc.PowerFromPowerControl)
	if pc == nil || pc.Watts != 344 || !ptrEq(pc.IntervalMin, 30) || !ptrEq(pc.CapacityWatts, 800) {
		t.Errorf("PowerControl reading = %+v", pc)
	}
	if env := findPower(snap, "1U", bmc.PowerFromEnvironmentMetrics); env == nil || env.Watts != 374 || env.Suspect != "" {
		t.Errorf("EnvironmentMetrics reading = %+v", env)
	}

	var dimm1 *bmc.DIMM
	for i := range snap.DIMMs {
		if snap.DIMMs[i].Slot == "DIMM 1" {
			dimm1 = &snap.DIMMs[i]
		}
	}
	if dimm1 == nil || dimm1.SizeMiB != 32768 || dimm1.System != "437XR1138R2" || dimm1.Health != bmc.HealthOK {
		t.Errorf("DIMM 1 = %+v (all: %+v)", dimm1, snap.DIMMs)
	}
	if len(snap.Systems) != 1 || snap.Systems[0].PowerState != "On" || snap.Systems[0].Health != bmc.HealthOK {
		t.Errorf("systems = %+v", snap.Systems)
	}
	if len(snap.CPUs) != 2 || snap.CPUs[0].Cores != 8 || snap.CPUs[1].State != "Absent" {
		t.Errorf("CPUs = %+v", snap.CPUs)
	}
}

func TestInteropBladedSeveralSystemsAndEnclosurePower(t *testing.T) {
	_, ep := simBMC(t, loadMockup(t, "public-bladed"), sim.RedfishOptions{})
	c, _ := newCollector(t, ep, bmcOpts(t))
	snap := mustPoll(t, c)
	if len(snap.Systems) != 4 || len(snap.Chassis) != 5 {
		t.Fatalf("want 4 systems and 5 chassis, got %d and %d", len(snap.Systems), len(snap.Chassis))
	}
	blades := 0
	for _, ch := range snap.Chassis {
		if ch.ContainedBy == "MultiBladeEncl" {
			blades++
		}
	}
	if blades != 4 {
		t.Errorf("%d chassis contained by the enclosure, want 4", blades)
	}
	// The enclosure's Power has no PowerControl: gofish alone cannot decode it.
	if errs := partErrors(snap, bmc.PartPower); len(errs) != 0 {
		t.Errorf("power part errors: %+v", errs)
	}
	p0 := findPSU(snap, "MultiBladeEncl", "0")
	if p0 == nil || !ptrEq(p0.OutputWatts, 650) || !ptrEq(p0.CapacityWatts, 1450) {
		t.Errorf("enclosure PSU 0 = %+v (all %+v)", p0, snap.PSUs)
	}
	if out := findPower(snap, "MultiBladeEncl", bmc.PowerFromPSUOutput); out == nil || out.Watts != 1285 {
		t.Errorf("enclosure PSU output sum = %+v", out)
	}
	if cpu := findSensor(snap, "Blade1", "CPU Temp"); cpu == nil || !ptrEq(cpu.Value, 62) || !ptrEq(cpu.Thresholds.UpperWarning, 75) || !ptrEq(cpu.Thresholds.UpperCritical, 90) {
		t.Errorf("Blade1 CPU Temp = %+v", cpu)
	}
	if fan := findSensor(snap, "MultiBladeEncl", "System Fan 2"); fan == nil || !ptrEq(fan.Value, 0) || fan.Health != bmc.HealthCritical {
		t.Errorf("failed enclosure fan = %+v", fan)
	}
}

// The tower's drive M.2-2 publishes NVMe.ActivePersonalities' Identifier
// as a number where the schema says an Identifier object: the drive is read whole, the
// deviation said once.
func TestInteropTowerDriveOfAnotherShapeIsReadWhole(t *testing.T) {
	_, ep := simBMC(t, loadMockup(t, "public-tower"), sim.RedfishOptions{})
	c, _ := newCollector(t, ep, bmcOpts(t))
	snap := mustPoll(t, c)
	if errs := partErrors(snap, bmc.PartStorage); len(errs) != 0 {
		t.Fatalf("storage errors = %+v, want none", errs)
	}
	if len(snap.Drives) != 18 {
		t.Errorf("%d drives read, want all 18", len(snap.Drives))
	}
	var quirk *bmc.Quirk
	for i, q := range snap.Poll.Quirks {
		if q.Resource == "/redfish/v1/Chassis/Tower/Drives/M.2-2" {
			quirk = &snap.Poll.Quirks[i]
		}
	}
	// (Identifier is an object in the schema: a number says nothing of it.)
	if len(snap.Poll.Quirks) != 1 || quirk == nil || quirk.Part != bmc.PartStorage || quirk.Property != "NVMe.ActivePersonalities.Identifier" ||
		quirk.Seen != "number 0, number 1, number 245" || quirk.Action != "left out" {
		t.Errorf("M.2-2's quirk %+v (all %+v)", quirk, snap.Poll.Quirks)
	}
	var m22 *bmc.Drive
	for i := range snap.Drives {
		if snap.Drives[i].Bay == "M.2-2" {
			m22 = &snap.Drives[i]
		}
	}
	if m22 == nil || m22.Protocol != "NVMe" {
		t.Errorf("drive M.2-2 = %+v", m22)
	}
	var m21 *bmc.Drive
	for i := range snap.Drives {
		if snap.Drives[i].Bay == "M.2-1" {
			m21 = &snap.Drives[i]
		}
	}
	if m21 == nil || m21.Media != "SSD" || m21.Protocol != "NVMe" || m21.Model != "NVMe 1000" {
		t.Errorf("drive M.2-1 = %+v", m21)
	}
	if len(snap.DIMMs) != 16 || snap.DIMMs[0].Slot != "Socket 1_A" || snap.DIMMs[0].SizeMiB != 131072 {
		t.Errorf("DIMMs: %d, first %+v", len(snap.DIMMs), snap.DIMMs[0])
	}
	if in := findPower(snap, "Tower", bmc.PowerFromPSUInput); in == nil || in.Watts != 974.8 {
		t.Errorf("PSU input sum = %+v", in)
	}
	if pc := findPower(snap, "Tower", bmc.PowerFromPowerControl); pc == nil || pc.Watts != 926 || pc.Suspect != "" {
		t.Errorf("PowerControl = %+v", pc)
	}
	if psu := findPSU(snap, "Tower", "2"); psu == nil || !ptrEq(psu.InputWatts, 487.4) || !ptrEq(psu.InputVolts, 111) {
		t.Errorf("PSU bay 2 = %+v", psu)
	}
}

func TestInteropLocalstorageLegacySchemas(t *testing.T) {
	_, ep := simBMC(t, loadMockup(t, "public-localstorage"), sim.RedfishOptions{})
	c, _ := newCollector(t, ep, bmcOpts(t))
	snap := mustPoll(t, c)
	vrm := findSensor(snap, "1U", "VRM1 Voltage")
	if vrm == nil || !ptrEq(vrm.Value, 12) || vrm.Unit != bmc.UnitVolt || !ptrEq(vrm.Thresholds.UpperWarning, 12.5) || !ptrEq(vrm.Thresholds.LowerCritical, 11) {
		t.Errorf("VRM1 Voltage = %+v", vrm)
	}
	if cpu2 := findSensor(snap, "1U", "CPU2 Temp"); cpu2 == nil || cpu2.Value != nil {
		t.Errorf("absent CPU2 Temp must have no value: %+v", cpu2)
	}
	if len(snap.Drives) != 4 || snap.Drives[0].CapacityBytes != 899527000064 || snap.Drives[0].Media != "HDD" {
		t.Errorf("drives = %+v", snap.Drives)
	}
}

// The DMTF rack PDU: every kind of sensor, in watts where it is power; the
// main AC power, published only as a chassis Sensor, is the PDU's reading.
func TestInteropPDUSensors(t *testing.T) {
	_, ep := simBMC(t, loadMockup(t, "public-pdu"), sim.RedfishOptions{})
	c, _ := newCollector(t, ep, bmcOpts(t))
	snap := mustPoll(t, c)
	kinds := map[bmc.SensorKind]int{}
	for _, s := range snap.Sensors {
		kinds[s.Kind]++
		if s.Kind == bmc.KindPower && s.Unit != bmc.UnitWatt {
			t.Errorf("power sensor %s in %q, want W", s.Name, s.Unit)
		}
	}
	for _, k := range []bmc.SensorKind{bmc.KindPower, bmc.KindVoltage, bmc.KindCurrent, bmc.KindEnergy, bmc.KindFrequency, bmc.KindHumidity, bmc.KindTemperature} {
		if kinds[k] == 0 {
			t.Errorf("no %s sensors on the PDU (kinds %v)", k, kinds)
		}
	}
	if len(snap.Sensors) != 115 || len(snap.Chassis) != 2 || len(snap.Poll.Errors) != 0 {
		t.Errorf("%d sensors, %d chassis, errors %+v; want 115, 2, none", len(snap.Sensors), len(snap.Chassis), snap.Poll.Errors)
	}
	if s := findSensor(snap, "PDU", "Rack PDU Temperature"); s == nil || !ptrEq(s.Value, 31) || s.Unit != bmc.UnitCelsius {
		t.Errorf("Rack PDU Temperature = %+v", s)
	}
	if s := findSensor(snap, "PDU", "Current Outlet A1"); s == nil || !ptrEq(s.Value, 8.92) || s.Unit != bmc.UnitAmpere || s.Context != "PowerOutlet" {
		t.Errorf("Current Outlet A1 = %+v", s)
	}
	main := findPower(snap, "PDU", bmc.PowerFromChassisSensor)
	if main == nil || main.Watts != 28783 || main.Resource != "/redfish/v1/Chassis/PDU/Sensors/ACMainPower" {
		t.Errorf("PDU main power reading = %+v; want AC Main Power's 28783 W", main)
	}
}

// The DMTF telemetry mockup: DIMMs whose MemoryMetrics publish no ECC
// counts have none (absent, not 0); CPUs take their sensors' temperatures;
// every chassis's PowerControl is read.
func TestInteropTelemetryValues(t *testing.T) {
	_, ep := simBMC(t, loadMockup(t, "public-telemetry"), sim.RedfishOptions{})
	c, _ := newCollector(t, ep, bmcOpts(t))
	snap := mustPoll(t, c)
	if len(snap.Poll.Errors) != 0 {
		t.Errorf("errors %+v", snap.Poll.Errors)
	}
	if len(snap.DIMMs) != 2 {
		t.Fatalf("DIMMs %+v, want 2", snap.DIMMs)
	}
	for _, d := range snap.DIMMs {
		if d.CorrectableErrors != nil || d.UncorrectableErrors != nil || d.Health != bmc.HealthOK || !strings.HasPrefix(d.Slot, "Socket 1_") {
			t.Errorf("DIMM %+v; want no counts (MemoryMetrics publishes none), OK", d)
		}
	}
	if len(snap.CPUs) != 2 || !ptrEq(snap.CPUs[0].TemperatureC, 21) || snap.CPUs[0].Cores != 8 || snap.CPUs[1].Cores != 6 {
		t.Errorf("CPUs %+v", snap.CPUs)
	}
	for _, ch := range []string{"1", "Tray_1", "Tray_2", "Tray_3"} {
		if pc := findPower(snap, ch, bmc.PowerFromPowerControl); pc == nil || pc.Watts != 8000 {
			t.Errorf("chassis %s PowerControl = %+v", ch, pc)
		}
	}
	if len(snap.PSUs) != 12 {
		t.Errorf("%d PSUs, want 12", len(snap.PSUs))
	}
}

// The BMC's PSU redundancy groups, new schema (rackmount1's
// PowerSupplyRedundancy) and legacy (tower's Power.Redundancy), are read with
// their members named by bay.
func TestInteropPSURedundancyGroups(t *testing.T) {
	for _, tc := range []struct {
		mockup, chassis, mode string
		legacyOnly            bool
		minNeeded, max        int
		health                bmc.Health
		state                 string
	}{
		{"public-rackmount1", "1U", "Failover", false, 1, 2, bmc.HealthOK, "UnavailableOffline"},
		{"public-tower", "Tower", "NPlusM", false, 1, 2, bmc.HealthOK, "Enabled"},
		// The same chassis without its PowerSubsystem link: Power.Redundancy.
		{"public-tower", "Tower", "N+m", true, 1, 2, bmc.HealthOK, "Enabled"},
	} {
		t.Run(fmt.Sprintf("%s/legacy=%t", tc.mockup, tc.legacyOnly), func(t *testing.T) {
			tree := loadMockup(t, tc.mockup)
			if tc.legacyOnly {
				uri := "/redfish/v1/Chassis/" + tc.chassis
				ch, _ := tree.Get(uri)
				delete(ch, "PowerSubsystem")
				if err := tree.Set(uri, ch); err != nil {
					t.Fatal(err)
				}
			}
			_, ep := simBMC(t, tree, sim.RedfishOptions{})
			c, _ := newCollector(t, ep, bmcOpts(t))
			snap := mustPoll(t, c)
			if len(snap.RedundancyGroups) != 1 {
				t.Fatalf("redundancy groups %+v, want one", snap.RedundancyGroups)
			}
			g := snap.RedundancyGroups[0]
			var bays []string
			for _, p := range snap.PSUs {
				if p.Chassis == tc.chassis {
					bays = append(bays, p.Bay)
				}
			}
			if g.Chassis != tc.chassis || g.Mode != tc.mode || g.MinNeeded != tc.minNeeded || g.MaxSupported != tc.max ||
				g.Health != tc.health || g.State != tc.state || len(g.Bays) != 2 || !equalJSON(t, g.Bays, bays) {
				t.Errorf("group %+v; want chassis %s, %s, min %d of max %d, %s/%s, members the PSU bays %v",
					g, tc.chassis, tc.mode, tc.minNeeded, tc.max, tc.health, tc.state, bays)
			}
		})
	}
}

// An absent sensor's placeholder reading and thresholds (0 for each) are
// not readings: the sensor is kept with its state, with neither.
func TestInteropAbsentSensorHasNoValueNorThresholds(t *testing.T) {
	tree := loadMockup(t, "public-rackmount1")
	uri := "/redfish/v1/Chassis/1U/Sensors/CPU1Temp"
	s, _ := tree.Get(uri)
	s["Status"] = map[string]any{"State": "Absent"}
	s["Reading"] = 0
	s["Thresholds"] = map[string]any{"UpperCaution": map[string]any{"Reading": 0}, "UpperCritical": map[string]any{"Reading": 0}, "LowerCritical": map[string]any{"Reading": 0}}
	if err := tree.Set(uri, s); err != nil {
		t.Fatal(err)
	}
	_, ep := simBMC(t, tree, sim.RedfishOptions{})
	c, _ := newCollector(t, ep, bmcOpts(t))
	snap := mustPoll(t, c)
	cpu := findSensor(snap, "1U", "CPU #1 Temperature")
	if cpu == nil || cpu.State != "Absent" || cpu.Value != nil || cpu.Thresholds != (bmc.Thresholds{}) {
		t.Errorf("absent CPU #1 Temperature = %+v; want state Absent, no value, no thresholds", cpu)
	}
	if amb := findSensor(snap, "1U", "Ambient Temperature"); amb == nil || amb.State != "Enabled" || amb.Value == nil {
		t.Errorf("present Ambient Temperature = %+v", amb)
	}
}

// addChassis adds a chassis with an EnvironmentMetrics PowerWatts reading
// (measured by source) and the given Links to a tree.
func addChassis(t *testing.T, tree *sim.Tree, id string, watts float64, source string, links map[string]any) {
	t.Helper()
	uri := "/redfish/v1/Chassis/" + id
	ch := map[string]any{
		"@odata.id": uri, "@odata.type": "#Chassis.v1_25_0.Chassis", "Id": id, "Name": id, "ChassisType": "Module",
		"Status":             map[string]any{"State": "Enabled", "Health": "OK"},
		"EnvironmentMetrics": map[string]any{"@odata.id": uri + "/EnvironmentMetrics"},
	}
	if links != nil {
		ch["Links"] = links
	}
	env := map[string]any{"@odata.id": uri + "/EnvironmentMetrics", "@odata.type": "#EnvironmentMetrics.v1_3_0.EnvironmentMetrics", "Id": "EnvironmentMetrics",
		"Name": "Environment Metrics", "PowerWatts": map[string]any{"Reading": watts, "DataSourceUri": source}}
	col, _ := tree.Get("/redfish/v1/Chassis")
	members, _ := col["Members"].([]any)
	col["Members"] = append(members, map[string]any{"@odata.id": uri})
	col["Members@odata.count"] = len(members) + 1
	for u, v := range map[string]any{uri: ch, uri + "/EnvironmentMetrics": env, "/redfish/v1/Chassis": col} {
		if err := tree.Set(u, v); err != nil {
			t.Fatal(err)
		}
	}
}

// A GPU tray publishes its own total and each GPU's chassis its power: the
// GPUs are inside the tray (by its Links.Contains, or, where no link says
// so, because their power is measured by the tray's sensors) and are parts
// of its total, never added to it.
func TestInteropGPUTrayIsNotSummedTwice(t *testing.T) {
	gpus := []string{"GPU_0", "GPU_1", "GPU_2", "GPU_3"}
	for _, tc := range []struct {
		name     string
		contains bool
		source   func(gpu string) string
	}{
		{"tray lists its GPUs in Links.Contains", true, func(gpu string) string { return "/redfish/v1/Chassis/" + gpu + "/Sensors/Power" }},
		{"no links; GPUs measured by the tray's sensors", false, func(gpu string) string { return "/redfish/v1/Chassis/GPUTray/Sensors/" + gpu + "_Power" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tree := loadMockup(t, "public-rackmount1")
			var links map[string]any
			if tc.contains {
				var contains []any
				for _, g := range gpus {
					contains = append(contains, map[string]any{"@odata.id": "/redfish/v1/Chassis/" + g})
				}
				links = map[string]any{"Contains": contains}
			}
			addChassis(t, tree, "GPUTray", 1200, "/redfish/v1/Chassis/GPUTray/Sensors/HSC_Total", links)
			for _, g := range gpus {
				addChassis(t, tree, g, 280, tc.source(g), nil)
			}
			_, ep := simBMC(t, tree, sim.RedfishOptions{})
			c, _ := newCollector(t, ep, bmcOpts(t))
			snap := mustPoll(t, c)
			for _, ch := range snap.Chassis {
				if strings.HasPrefix(ch.ID, "GPU_") && ch.ContainedBy != "GPUTray" {
					t.Errorf("chassis %s contained by %q, want GPUTray", ch.ID, ch.ContainedBy)
				}
			}
			got := power.ServerPower(snap, snap.Time)
			if !got.Known || got.Watts != 344+1200 {
				t.Errorf("server power %g W (parts %+v); want the server's 344 W and the tray's 1200 W, the GPUs not added again", got.Watts, got.Parts)
			}
			aside := 0
			for _, a := range got.SetAside {
				if strings.HasPrefix(a.Chassis, "GPU_") && strings.Contains(a.Reason, "inside chassis GPUTray") {
					aside++
				}
			}
			if aside != len(gpus) {
				t.Errorf("%d GPU readings set aside as parts of the tray, want %d: %+v", aside, len(gpus), got.SetAside)
			}
		})
	}
}

// A group's name (RedundantGroup.GroupName) and a legacy group's
// RedundancyEnabled are read.
func TestInteropRedundancyGroupNameAndEnabled(t *testing.T) {
	tree := loadMockup(t, "public-rackmount1")
	uri := "/redfish/v1/Chassis/1U/PowerSubsystem"
	sub, _ := tree.Get(uri)
	groups, _ := sub["PowerSupplyRedundancy"].([]any)
	groups[0].(map[string]any)["GroupName"] = "PSU pair A"
	if err := tree.Set(uri, sub); err != nil {
		t.Fatal(err)
	}
	_, ep := simBMC(t, tree, sim.RedfishOptions{})
	c, _ := newCollector(t, ep, bmcOpts(t))
	if g := mustPoll(t, c).RedundancyGroups; len(g) != 1 || g[0].Name != "PSU pair A" || g[0].Enabled != nil {
		t.Errorf("groups %+v; want the one named PSU pair A, enabled unpublished", g)
	}

	tower := loadMockup(t, "public-tower")
	for _, u := range []string{"/redfish/v1/Chassis/Tower"} {
		ch, _ := tower.Get(u)
		delete(ch, "PowerSubsystem")
		if err := tower.Set(u, ch); err != nil {
			t.Fatal(err)
		}
	}
	pw, _ := tower.Get("/redfish/v1/Chassis/Tower/Power")
	red, _ := pw["Redundancy"].([]any)
	red[0].(map[string]any)["RedundancyEnabled"] = false
	if err := tower.Set("/redfish/v1/Chassis/Tower/Power", pw); err != nil {
		t.Fatal(err)
	}
	_, ep = simBMC(t, tower, sim.RedfishOptions{})
	c, _ = newCollector(t, ep, bmcOpts(t))
	snap := mustPoll(t, c)
	if g := snap.RedundancyGroups; len(g) != 1 || g[0].Enabled == nil || *g[0].Enabled {
		t.Fatalf("groups %+v; want RedundancyEnabled false read", g)
	}
	if got := power.PSURedundancy(snap, power.ServerPower(snap, snap.Time)); got.Redundancy != power.RedundancyNotRedundant {
		t.Errorf("redundancy %+v; a group with redundancy disabled is not redundant", got)
	}
}
