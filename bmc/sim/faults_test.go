package sim

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

// served returns a resource as a client decodes it.
func served(t *testing.T, m *machine, uri string) map[string]any {
	t.Helper()
	o, ok := m.resource(uri)
	if !ok {
		t.Fatalf("%s not served", uri)
	}
	data, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// dig walks a decoded JSON value by keys and indexes.
func dig(t *testing.T, v any, keys ...any) any {
	t.Helper()
	for _, k := range keys {
		switch k := k.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("not an object at %q in %v", k, v)
			}
			v = m[k]
		case int:
			a, ok := v.([]any)
			if !ok || k >= len(a) {
				t.Fatalf("no index %d in %v", k, v)
			}
			v = a[k]
		}
	}
	return v
}

func health(t *testing.T, o map[string]any) string {
	t.Helper()
	h, _ := dig(t, o, "Status", "Health").(string)
	return h
}

const (
	modernChassis = "/redfish/v1/Chassis/1"
	modernSystem  = "/redfish/v1/Systems/1"
	legacyChassis = "/redfish/v1/Chassis/System.Embedded.1"
	legacySystem  = "/redfish/v1/Systems/System.Embedded.1"
)

func TestModernPowerModel(t *testing.T) {
	m, clock := newTestMachine(t, ProfileModern)
	for range 48 { // a day in half hours
		clock.advance(30 * time.Minute)
		total := dig(t, served(t, m, modernChassis+"/EnvironmentMetrics"), "PowerWatts", "Reading").(float64)
		var in, out float64
		for _, id := range []string{"PSU1", "PSU2"} {
			pm := served(t, m, modernChassis+"/PowerSubsystem/PowerSupplies/"+id+"/Metrics")
			i := dig(t, pm, "InputPowerWatts", "Reading").(float64)
			o := dig(t, pm, "OutputPowerWatts", "Reading").(float64)
			if i <= o {
				t.Fatalf("%s input %v not above output %v", id, i, o)
			}
			in, out = in+i, out+o
		}
		if out < 180 || out > 450 {
			t.Fatalf("server DC load %v W outside 180–450", out)
		}
		if diff := in - total; diff > 0.5 || diff < -0.5 {
			t.Fatalf("EnvironmentMetrics %v W, PSU inputs sum %v W", total, in)
		}
	}
}

func TestValuesMove(t *testing.T) {
	m, clock := newTestMachine(t, ProfileModern)
	seen := map[float64]bool{}
	for range 10 {
		clock.advance(time.Minute)
		seen[dig(t, served(t, m, modernChassis+"/EnvironmentMetrics"), "PowerWatts", "Reading").(float64)] = true
	}
	if len(seen) < 5 {
		t.Errorf("power took only %d distinct values over 10 minutes", len(seen))
	}
	other, _ := newTestMachine(t, ProfileModern)
	other.seed++
	a := served(t, m, modernChassis+"/EnvironmentMetrics")
	b := served(t, other, modernChassis+"/EnvironmentMetrics")
	if dig(t, a, "PowerWatts", "Reading") == dig(t, b, "PowerWatts", "Reading") {
		t.Errorf("two machines with different seeds read the same power")
	}
}

func TestDataFaults(t *testing.T) {
	tests := []struct {
		profile string
		spec    FaultSpec
		check   func(t *testing.T, m *machine, clock *fakeClock)
	}{
		{ProfileModern, FaultSpec{Fault: FaultDIMMECC, Target: "PROC 1 DIMM 3"}, func(t *testing.T, m *machine, clock *fakeClock) {
			uri := modernSystem + "/Memory/DIMM3"
			var last float64
			var healths []string
			for range 12 {
				n := dig(t, served(t, m, uri+"/MemoryMetrics"), "CurrentPeriod", "CorrectableECCErrorCount").(float64)
				if n <= last {
					t.Fatalf("correctable count %v did not climb from %v", n, last)
				}
				last = n
				h := health(t, served(t, m, uri))
				if len(healths) == 0 || healths[len(healths)-1] != h {
					healths = append(healths, h)
				}
				clock.advance(DefaultFaultStep)
			}
			if strings.Join(healths, ",") != "OK,Warning,Critical" {
				t.Errorf("DIMM health went %v, want OK,Warning,Critical", healths)
			}
			if u := dig(t, served(t, m, uri+"/MemoryMetrics"), "CurrentPeriod", "UncorrectableECCErrorCount").(float64); u < 1 {
				t.Errorf("critical DIMM has no uncorrectable error")
			}
			if h := health(t, served(t, m, modernSystem+"/Memory/DIMM1")); h != "OK" {
				t.Errorf("other DIMM health %s", h)
			}
			entries, _ := served(t, m, modernSystem+"/LogServices/Log1/Entries")["Members"].([]any)
			var slot int
			for _, e := range entries {
				if strings.Contains(e.(map[string]any)["Message"].(string), "PROC 1 DIMM 3") {
					slot++
				}
			}
			if slot < 2 {
				t.Errorf("want a warning and a critical log entry naming the slot, got %d in %v", slot, entries)
			}
		}},
		{ProfileModern, FaultSpec{Fault: FaultCPUHot, Target: "CPU2"}, func(t *testing.T, m *machine, clock *fakeClock) {
			var healths []string
			for range 8 {
				h := health(t, served(t, m, modernSystem+"/Processors/CPU2"))
				if len(healths) == 0 || healths[len(healths)-1] != h {
					healths = append(healths, h)
				}
				clock.advance(DefaultFaultStep)
			}
			if healths[len(healths)-1] != "Critical" || !slices.Contains(healths, "Warning") {
				t.Errorf("CPU health went %v, want through Warning to Critical", healths)
			}
			temp := dig(t, served(t, m, modernSystem+"/Processors/CPU2/ProcessorMetrics"), "TemperatureCelsius").(float64)
			if temp < cpuCriticalC {
				t.Errorf("ProcessorMetrics temperature %v below critical", temp)
			}
			if s := served(t, m, modernChassis+"/Sensors/CPU2Temp"); s["Reading"].(float64) != temp || health(t, s) != "Critical" {
				t.Errorf("sensor %v disagrees with ProcessorMetrics %v", s, temp)
			}
		}},
		{ProfileModern, FaultSpec{Fault: FaultPSUFail, Target: "PSU1"}, func(t *testing.T, m *machine, _ *fakeClock) {
			// The supply failed; its AC input is still there.
			ps := served(t, m, modernChassis+"/PowerSubsystem/PowerSupplies/PSU1")
			if health(t, ps) != "Critical" || ps["LineInputStatus"] != "Normal" {
				t.Errorf("failed PSU: %v", ps)
			}
			pm := served(t, m, modernChassis+"/PowerSubsystem/PowerSupplies/PSU1/Metrics")
			if in, out := dig(t, pm, "InputPowerWatts", "Reading"), dig(t, pm, "OutputPowerWatts", "Reading"); in != 0.0 || out != 0.0 {
				t.Errorf("failed PSU input %v W, output %v W", in, out)
			}
			if v := dig(t, pm, "InputVoltage", "Reading").(float64); v < 225 || v > 235 {
				t.Errorf("failed PSU input voltage %v V, want its line's 230 V", v)
			}
			other := served(t, m, modernChassis+"/PowerSubsystem/PowerSupplies/PSU2/Metrics")
			total := dig(t, served(t, m, modernChassis+"/EnvironmentMetrics"), "PowerWatts", "Reading")
			if dig(t, other, "InputPowerWatts", "Reading") != total {
				t.Errorf("PSU2 does not carry the load: %v of %v", dig(t, other, "InputPowerWatts", "Reading"), total)
			}
		}},
		{ProfileModern, FaultSpec{Fault: FaultFanFail, Target: "Fan4"}, func(t *testing.T, m *machine, _ *fakeClock) {
			f := served(t, m, modernChassis+"/ThermalSubsystem/Fans/Fan4")
			if health(t, f) != "Critical" || dig(t, f, "SpeedPercent", "Reading") != 0.0 || dig(t, f, "SpeedPercent", "SpeedRPM") != 0.0 {
				t.Errorf("failed fan: %v", f)
			}
		}},
		{ProfileModern, FaultSpec{Fault: FaultDrivePredictedFailure}, func(t *testing.T, m *machine, _ *fakeClock) {
			d := served(t, m, modernSystem+"/Storage/1/Drives/NVMe1")
			if d["FailurePredicted"] != true || health(t, d) != "Warning" || d["PredictedMediaLifeLeftPercent"].(float64) > 10 {
				t.Errorf("drive: %v", d)
			}
		}},
		{ProfileLegacy, FaultSpec{Fault: FaultPSUFail, Target: "PS1"}, func(t *testing.T, m *machine, _ *fakeClock) {
			p := served(t, m, legacyChassis+"/Power")
			if health(t, dig(t, p, "PowerSupplies", 0).(map[string]any)) != "Critical" || dig(t, p, "PowerSupplies", 0, "PowerInputWatts") != 0.0 ||
				dig(t, p, "PowerSupplies", 0, "LineInputVoltage").(float64) < 225 {
				t.Errorf("failed legacy PSU (its line still live): %v", dig(t, p, "PowerSupplies", 0))
			}
			if out := dig(t, p, "PowerSupplies", 1, "LastPowerOutputWatts").(float64); out < 180 {
				t.Errorf("PS2 output %v W does not carry the load", out)
			}
		}},
		{ProfileLegacy, FaultSpec{Fault: FaultFanFail, Target: "2"}, func(t *testing.T, m *machine, _ *fakeClock) {
			f := dig(t, served(t, m, legacyChassis+"/Thermal"), "Fans", 2).(map[string]any)
			if f["Reading"] != 0.0 || health(t, f) != "Critical" || f["ReadingUnits"] != "RPM" {
				t.Errorf("failed legacy fan: %v", f)
			}
		}},
		{ProfileLegacy, FaultSpec{Fault: FaultCPUHot}, func(t *testing.T, m *machine, clock *fakeClock) {
			clock.advance(20 * DefaultFaultStep)
			cpu := dig(t, served(t, m, legacyChassis+"/Thermal"), "Temperatures", 2).(map[string]any)
			if cpu["Name"] != "CPU1 Temp" || health(t, cpu) != "Critical" || cpu["ReadingCelsius"].(float64) < cpu["UpperThresholdCritical"].(float64) {
				t.Errorf("hot legacy CPU: %v", cpu)
			}
		}},
		{ProfileLegacy, FaultSpec{Fault: FaultDIMMECC, Target: "DIMM.Socket.B2"}, func(t *testing.T, m *machine, clock *fakeClock) {
			clock.advance(3 * DefaultFaultStep)
			mm := served(t, m, legacySystem+"/Memory/DIMM.Socket.B2/MemoryMetrics")
			if dig(t, mm, "CurrentPeriod", "CorrectableECCErrorCount").(float64) <= eccWarnCount {
				t.Errorf("legacy DIMM metrics %v", mm)
			}
			entries, _ := served(t, m, "/redfish/v1/Managers/iDRAC.Embedded.1/LogServices/Sel/Entries")["Members"].([]any)
			last := entries[len(entries)-1].(map[string]any)
			if !strings.Contains(last["Message"].(string), "DIMM.Socket.B2") || last["EntryType"] != "SEL" {
				t.Errorf("last SEL entry %v does not name the slot", last)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.profile+"/"+string(tc.spec.Fault), func(t *testing.T) {
			m, clock := newTestMachine(t, tc.profile)
			if err := m.inject(tc.spec); err != nil {
				t.Fatal(err)
			}
			tc.check(t, m, clock)
			if !m.clear(tc.spec.Fault) {
				t.Fatal("clear reported the fault inactive")
			}
			if got := m.activeFaults(); len(got) != 0 {
				t.Errorf("faults after clear: %v", got)
			}
		})
	}
}

func TestInjectErrors(t *testing.T) {
	m, _ := newTestMachine(t, ProfileModern)
	if err := m.inject(FaultSpec{Fault: FaultDIMMECC, Target: "DIMM99"}); err == nil || !strings.Contains(err.Error(), "DIMM99") {
		t.Errorf("unknown target: %v", err)
	}
	if err := m.inject(FaultSpec{Fault: FaultBusy}); err == nil {
		t.Errorf("transport fault accepted as a data fault")
	}
	if _, err := ParseFault("smoke"); err == nil || !strings.Contains(err.Error(), "dimm-ecc") {
		t.Errorf("ParseFault error should list the faults: %v", err)
	}
}

func TestLegacyQuirks(t *testing.T) {
	m, _ := newTestMachine(t, ProfileLegacy)
	power := served(t, m, legacyChassis+"/Power")
	ps2 := dig(t, power, "PowerSupplies", 1).(map[string]any)
	if ps2["PowerInputWatts"] != ps2["PowerCapacityWatts"] {
		t.Errorf("%s: PS2 input %v, rating %v", QuirkPSUInputIsRating, ps2["PowerInputWatts"], ps2["PowerCapacityWatts"])
	}
	if v, ok := dig(t, power, "Voltages", 1).(map[string]any)["ReadingVolts"]; !ok || v != nil {
		t.Errorf("%s: ReadingVolts %v", QuirkNullReadings, v)
	}
	pm := dig(t, power, "PowerControl", 0, "PowerMetrics").(map[string]any)
	if pm["IntervalInMin"] != 1.0 || pm["MinConsumedWatts"].(float64) > pm["AverageConsumedWatts"].(float64) || pm["MaxConsumedWatts"].(float64) < pm["AverageConsumedWatts"].(float64) {
		t.Errorf("PowerMetrics %v: want IntervalInMin 1 and min <= average <= max", pm)
	}
	var absentZero bool
	for _, tmp := range dig(t, served(t, m, legacyChassis+"/Thermal"), "Temperatures").([]any) {
		o := tmp.(map[string]any)
		if dig(t, o, "Status", "State") == "Absent" && o["ReadingCelsius"] == 0.0 {
			absentZero = true
		}
	}
	if !absentZero {
		t.Errorf("%s: no absent sensor reading 0", QuirkAbsentSensorZero)
	}
	entries := served(t, m, "/redfish/v1/Managers/iDRAC.Embedded.1/LogServices/Sel/Entries")["Members"].([]any)
	if dig(t, entries, 0, "Created") != "0000-00-00T00:00:00Z" {
		t.Errorf("%s: first entry %v", QuirkZeroDate, entries[0])
	}
	if e := served(t, m, "/redfish/v1/Managers/iDRAC.Embedded.1/LogServices/Sel/Entries/2"); e["Id"] != "2" {
		t.Errorf("entry by URI: %v", e)
	}
	drive := served(t, m, legacySystem+"/Storage/RAID.Integrated.1-1/Drives/Disk.Bay.1:Enclosure.Internal.0-1:RAID.Integrated.1-1")
	if _, ok := drive["Id"]; ok {
		t.Errorf("%s: drive has an Id", QuirkDriveWithoutID)
	}
	if m.profile.expand != ExpandIgnore || dig(t, served(t, m, ServiceRootPath), "ProtocolFeaturesSupported", "ExpandQuery", "MaxLevels") != 1.0 {
		t.Errorf("%s: not advertised with MaxLevels 1 and ignored", QuirkExpandIgnored)
	}
}
