package bmc

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
)

func ptr[T any](v T) *T { return &v }

// Every unit's bound takes its edges and refuses what lies beyond them
// either way, and NaN and ±Inf whatever the unit.
func TestUnitBoundsBothSides(t *testing.T) {
	for _, tc := range []struct {
		unit     string
		min, max float64
	}{
		{UnitCelsius, -200, 200},
		{UnitRPM, 0, 50_000},
		{UnitPercent, 0, 100},
		{UnitVolt, -600, 600},
		{UnitAmpere, -5000, 5000},
		{UnitWatt, 0, 250_000},
		{UnitKWh, 0, 1e9},
		{UnitHertz, 0, 1e10},
	} {
		t.Run(tc.unit, func(t *testing.T) {
			b, ok := UnitBound(tc.unit)
			if !ok || b.Min != tc.min || b.Max != tc.max || b.Unit != tc.unit {
				t.Fatalf("UnitBound(%q) = %+v, %t; want %g..%g", tc.unit, b, ok, tc.min, tc.max)
			}
			for _, v := range []float64{tc.min, tc.max, (tc.min + tc.max) / 2} {
				if why := b.Check(v); why != "" {
					t.Errorf("%g %s refused (%s); want it plausible", v, tc.unit, why)
				}
			}
			below := tc.min - math.Max(1, math.Abs(tc.min)*1e-9)
			above := tc.max + math.Max(1, tc.max*1e-9)
			for v, want := range map[float64]string{
				below: "below the plausible minimum", above: "above the plausible maximum",
				math.NaN(): "NaN " + tc.unit + " is not a number", math.Inf(1): "+Inf " + tc.unit + " is not a number",
				math.Inf(-1): "-Inf " + tc.unit + " is not a number",
			} {
				if why := b.Check(v); !strings.Contains(why, want) {
					t.Errorf("Check(%g %s) = %q; want %q", v, tc.unit, why, want)
				}
			}
		})
	}
	// A unit without a bound still refuses what is not a number.
	b, ok := UnitBound("VA")
	if ok || b.Check(1e300) != "" || b.Check(-1e300) != "" || b.Check(math.NaN()) == "" || b.Check(math.Inf(-1)) == "" {
		t.Errorf("unbounded unit: ok %t, 1e300 %q, NaN %q; want only NaN and ±Inf refused", ok, b.Check(1e300), b.Check(math.NaN()))
	}
	for name, b := range map[string]Bound{"server": ServerWattsBound(), "psu": PSUWattsBound()} {
		if b.Check(-1) == "" || b.Check(b.Max) != "" || b.Check(b.Max*1.01) == "" || b.Check(math.Inf(1)) == "" {
			t.Errorf("%s watts bound %+v does not hold its edges", name, b)
		}
	}
}

// absurdSnapshot has one implausible value of every kind, beside
// plausible ones that must be kept.
func absurdSnapshot() *Snapshot {
	s := NewSnapshot("srv", "r1", ProtocolRedfish, time.Unix(1700000000, 0))
	s.Sensors = []Sensor{
		{Kind: KindTemperature, Name: "CPU1 Temp", Unit: UnitCelsius, Value: ptr(-300.0), Health: HealthOK,
			Thresholds: Thresholds{UpperWarning: ptr(85.0), UpperCritical: ptr(255.0)}, Source: "/redfish/v1/Chassis/1U/Sensors/CPU1Temp"},
		{Kind: KindTemperature, Name: "Inlet", Unit: UnitCelsius, Value: ptr(1e308), Health: HealthCritical},
		{Kind: KindTemperature, Name: "Exhaust", Unit: UnitCelsius, Value: ptr(110.0), Health: HealthCritical},
		{Kind: KindFan, Name: "Fan1", Unit: UnitRPM, Value: ptr(0.0), Health: HealthCritical, Thresholds: Thresholds{LowerCritical: ptr(-1.0)}},
		{Kind: KindFan, Name: "Fan2", Unit: UnitPercent, Value: ptr(math.NaN()), Health: HealthOK},
		{Kind: KindVoltage, Name: "12V", Unit: UnitVolt, Value: ptr(-12.0)},
		{Kind: KindCurrent, Name: "PSU1 Current", Unit: UnitAmpere, Value: ptr(math.Inf(-1))},
		{Kind: KindPower, Name: "CPU Power", Unit: UnitWatt, Value: ptr(-5.0)},
		{Kind: KindEnergy, Name: "Energy", Unit: UnitKWh, Value: ptr(325675.0)},
		{Kind: KindHumidity, Name: "Humidity", Unit: UnitPercent, Value: ptr(101.0)},
		{Kind: KindFrequency, Name: "Line", Unit: UnitHertz, Value: ptr(60.0)},
		{Kind: KindOther, Name: "Odd", Unit: "VA", Value: ptr(math.Inf(1))},
		{Kind: KindOther, Name: "Discrete", States: []string{"Present"}},
	}
	s.Power = []PowerReading{
		{Chassis: "1U", Source: PowerFromPowerControl, Watts: 344, CapacityWatts: ptr(800.0), IntervalMin: ptr(30.0)},
		{Chassis: "1U", Source: PowerFromPSUInput, Watts: 1.6e308, Suspect: "sum over 1 of 2 present PSUs"},
		{Chassis: "1U", Source: PowerFromPSUOutput, Watts: math.Inf(1), Resource: "/redfish/v1/Chassis/1U/PowerSubsystem"},
		{Chassis: "1U", Source: PowerFromEnvironmentMetrics, Watts: -1, IntervalMin: ptr(math.NaN()), CapacityWatts: ptr(-800.0)},
	}
	s.PSUs = []PSU{
		{Bay: "1", InputWatts: ptr(8e307), OutputWatts: ptr(300.0), CapacityWatts: ptr(800.0), InputVolts: ptr(230.0)},
		{Bay: "2", InputWatts: ptr(1100.0), OutputWatts: ptr(950.0), CapacityWatts: ptr(800.0), InputVolts: ptr(1e4)},
		{Bay: "3", InputWatts: ptr(400.0), CapacityWatts: ptr(math.Inf(1))},
	}
	s.CPUs = []CPU{{Socket: "CPU 1", TemperatureC: ptr(-300.0), Cores: -4}, {Socket: "CPU 2", TemperatureC: ptr(64.0), Cores: 8}}
	s.DIMMs = []DIMM{{Slot: "A1", CorrectableErrors: ptr(int64(-5)), UncorrectableErrors: ptr(int64(0)), SizeMiB: -1}}
	s.Drives = []Drive{{Bay: "1", LifeLeftPercent: ptr(250.0), MediaErrors: ptr(int64(-1)), CorrectableErrors: ptr(int64(3)), CapacityBytes: -10}}
	return s
}

func sensorNamed(s *Snapshot, name string) *Sensor {
	for i := range s.Sensors {
		if s.Sensors[i].Name == name {
			return &s.Sensors[i]
		}
	}
	return nil
}

func hasSuspect(list []string, want string) bool {
	for _, s := range list {
		if strings.Contains(s, want) {
			return true
		}
	}
	return false
}

func TestSetAsideImplausible(t *testing.T) {
	s := absurdSnapshot()
	n := SetAsideImplausible(s)

	// Sensors: the value set aside is absent with its reason; a sensor the
	// BMC called OK is no longer OK; one it called Critical stays so.
	cpu := sensorNamed(s, "CPU1 Temp")
	if cpu.Value != nil || cpu.Health != HealthUnknown || !hasSuspect(cpu.Suspect, "value -300 Cel below the plausible minimum -200 Cel") {
		t.Errorf("CPU1 Temp = value %v, health %q, suspect %q; want no value, unknown health, the reason", cpu.Value, cpu.Health, cpu.Suspect)
	}
	if cpu.Thresholds.UpperCritical != nil || cpu.Thresholds.UpperWarning == nil || *cpu.Thresholds.UpperWarning != 85 ||
		!hasSuspect(cpu.Suspect, "thresholds.upper_critical 255 Cel above the plausible maximum 200 Cel") {
		t.Errorf("CPU1 Temp thresholds = %+v, suspect %q; want the 255 dropped with its reason, the 85 kept", cpu.Thresholds, cpu.Suspect)
	}
	if in := sensorNamed(s, "Inlet"); in.Value != nil || in.Health != HealthCritical {
		t.Errorf("Inlet = %v, %q; want no value, the BMC's Critical kept", in.Value, in.Health)
	}
	for name, want := range map[string]string{
		"Fan2":         "value NaN % is not a number",
		"PSU1 Current": "value -Inf A is not a number",
		"CPU Power":    "value -5 W below the plausible minimum 0 W",
		"Humidity":     "value 101 % above the plausible maximum 100 %",
		"Odd":          "value +Inf VA is not a number",
	} {
		sn := sensorNamed(s, name)
		if sn.Value != nil || !hasSuspect(sn.Suspect, want) {
			t.Errorf("%s = value %v, suspect %q; want no value and %q", name, sn.Value, sn.Suspect, want)
		}
	}
	if f := sensorNamed(s, "Fan2"); f.Health != HealthUnknown {
		t.Errorf("Fan2 health %q; want unknown once its value is set aside", f.Health)
	}
	fan1 := sensorNamed(s, "Fan1")
	if fan1.Value == nil || *fan1.Value != 0 || fan1.Health != HealthCritical || fan1.Thresholds.LowerCritical != nil {
		t.Errorf("Fan1 = %+v; want its 0 RPM kept (a stopped fan is a reading), the -1 RPM threshold dropped", fan1)
	}
	for _, name := range []string{"Exhaust", "12V", "Energy", "Line"} {
		if sn := sensorNamed(s, name); sn.Value == nil || len(sn.Suspect) != 0 {
			t.Errorf("%s = %+v; want its plausible value kept", name, sn)
		}
	}

	// Power readings: the +Inf one is left out (JSON cannot carry it), the
	// absurd finite ones stay with the reason; windows and capacities
	// that are not numbers are dropped.
	if len(s.Power) != 3 {
		t.Fatalf("power readings %+v; want 3, the +Inf one left out", s.Power)
	}
	pc, sum, env := s.Power[0], s.Power[1], s.Power[2]
	if pc.Suspect != "" || pc.Watts != 344 || pc.CapacityWatts == nil || pc.IntervalMin == nil {
		t.Errorf("PowerControl = %+v; want it untouched", pc)
	}
	if sum.Watts != 1.6e308 || sum.Suspect != "sum over 1 of 2 present PSUs; 1.6e+308 W above the plausible maximum 250000 W" {
		t.Errorf("PSUInput = %+v; want its reason added to the collector's", sum)
	}
	if !strings.Contains(env.Suspect, "-1 W below the plausible minimum 0 W") || env.IntervalMin != nil || env.CapacityWatts != nil {
		t.Errorf("EnvironmentMetrics = %+v; want suspect, no window, no capacity", env)
	}

	// PSUs: beyond the bound, beyond 1.25 × the rating, volts, rating.
	p1, p2, p3 := s.PSUs[0], s.PSUs[1], s.PSUs[2]
	if p1.InputWatts != nil || p1.OutputWatts == nil || !hasSuspect(p1.Suspect, "input_watts 8e+307 W above the plausible maximum 50000 W") {
		t.Errorf("PSU 1 = %+v; want the 8e307 W input set aside, the output kept", p1)
	}
	if p2.InputWatts != nil || p2.OutputWatts == nil || *p2.OutputWatts != 950 || p2.InputVolts != nil ||
		!hasSuspect(p2.Suspect, "input_watts 1100 W above 1.25 × the rating 800 W") || !hasSuspect(p2.Suspect, "input_volts 10000 V above") {
		t.Errorf("PSU 2 = %+v; want 1100 W of an 800 W supply and 10 kV set aside, 950 W kept", p2)
	}
	if p3.CapacityWatts != nil || p3.InputWatts == nil || !hasSuspect(p3.Suspect, "capacity_watts +Inf W is not a number") {
		t.Errorf("PSU 3 = %+v; want the +Inf rating set aside, the 400 W kept", p3)
	}

	// CPUs, DIMMs, drives.
	if c := s.CPUs[0]; c.TemperatureC != nil || c.Cores != 0 || !hasSuspect(c.Suspect, "temperature_c -300 Cel below") || !hasSuspect(c.Suspect, "cores -4 is negative") {
		t.Errorf("CPU 1 = %+v; want its temperature and cores set aside", c)
	}
	if c := s.CPUs[1]; c.TemperatureC == nil || c.Cores != 8 || c.Suspect != nil {
		t.Errorf("CPU 2 = %+v; want it untouched", c)
	}
	if d := s.DIMMs[0]; d.CorrectableErrors != nil || d.UncorrectableErrors == nil || d.SizeMiB != 0 || !hasSuspect(d.Suspect, "correctable_errors -5 is negative") {
		t.Errorf("DIMM = %+v; want the negative count and size set aside, the 0 kept", d)
	}
	if d := s.Drives[0]; d.LifeLeftPercent != nil || d.MediaErrors != nil || d.CorrectableErrors == nil || d.CapacityBytes != 0 ||
		!hasSuspect(d.Suspect, "life_left_percent 250 % above the plausible maximum 100 %") {
		t.Errorf("drive = %+v; want life left, media errors and capacity set aside", d)
	}

	// Every value set aside is counted and is a quirk of the poll.
	const want = 25
	if n != want || len(s.Poll.Quirks) != want {
		t.Errorf("%d set aside, %d quirks; want %d each: %+v", n, len(s.Poll.Quirks), want, s.Poll.Quirks)
	}
	var cpuQuirk *Quirk
	for i, q := range s.Poll.Quirks {
		if q.Resource == "/redfish/v1/Chassis/1U/Sensors/CPU1Temp" && q.Property == "value" {
			cpuQuirk = &s.Poll.Quirks[i]
		}
	}
	if cpuQuirk == nil || cpuQuirk.Part != PartSensors || cpuQuirk.Seen != "-300 Cel" || cpuQuirk.Action != "set aside: -300 Cel below the plausible minimum -200 Cel" {
		t.Errorf("CPU1 Temp quirk = %+v", cpuQuirk)
	}

	// What is left encodes as JSON, and a second check finds nothing.
	if _, err := json.Marshal(s); err != nil {
		t.Errorf("the checked Snapshot does not encode: %v", err)
	}
	if again := SetAsideImplausible(s); again != 0 || len(s.Poll.Quirks) != want {
		t.Errorf("a second check set aside %d more and left %d quirks; want none more", again, len(s.Poll.Quirks))
	}
}

// A plausible Snapshot comes out as it went in.
func TestSetAsideImplausibleKeepsPlausible(t *testing.T) {
	s := NewSnapshot("srv", "r1", ProtocolIPMI, time.Unix(1700000000, 0))
	s.Sensors = []Sensor{{Kind: KindTemperature, Name: "CPU", Unit: UnitCelsius, Value: ptr(-40.0), Health: HealthOK,
		Thresholds: Thresholds{LowerCritical: ptr(-60.0), UpperCritical: ptr(200.0)}},
		// A thermal margin (how far below its throttle point a part runs),
		// as Intel BMCs publish it: a temperature of -71 °C.
		{Kind: KindTemperature, Name: "P1 Therm Margin", Unit: UnitCelsius, Value: ptr(-71.0), Health: HealthOK}}
	s.Power = []PowerReading{{Source: PowerFromDCMI, Watts: 0}}
	s.PSUs = []PSU{{Bay: "1", InputWatts: ptr(1000.0), OutputWatts: ptr(1000.0), CapacityWatts: ptr(800.0), InputVolts: ptr(-48.0)}}
	before, _ := json.Marshal(s)
	if n := SetAsideImplausible(s); n != 0 {
		t.Errorf("%d set aside: %+v", n, s.Poll.Quirks)
	}
	if after, _ := json.Marshal(s); string(after) != string(before) {
		t.Errorf("a plausible Snapshot changed:\n%s\n%s", before, after)
	}
}

// A value a collector shares with an earlier Snapshot (a pointer, a
// slice's spare capacity) is not changed under that Snapshot's readers.
func TestSetAsideImplausibleChangesNothingShared(t *testing.T) {
	shared := ptr(-300.0)
	reasons := make([]string, 1, 4)
	reasons[0] = "earlier"
	earlier := []string{"earlier", "untouched"}
	s := NewSnapshot("srv", "r1", ProtocolRedfish, time.Now())
	s.CPUs = []CPU{{Socket: "1", TemperatureC: shared, Suspect: reasons}}
	SetAsideImplausible(s)
	if *shared != -300 || s.CPUs[0].TemperatureC != nil {
		t.Errorf("shared value %g, CPU temperature %v; want the pointer dropped, its value untouched", *shared, s.CPUs[0].TemperatureC)
	}
	if spare := reasons[:2]; spare[1] != "" {
		t.Errorf("the reason was written into a shared slice's spare capacity: %q (want %q kept)", spare, earlier[:1])
	}
}

// A snapshot's DIMMs and drives may be the list a collector keeps between
// its slow reads (and earlier snapshots hold): what is set aside is set
// aside in a copy, the kept list reads as it did, and a list with nothing
// implausible is left shared, not copied.
func TestSetAsideImplausibleCopiesSharedLists(t *testing.T) {
	keptDIMMs := []DIMM{{Slot: "A1", CorrectableErrors: ptr(int64(3))}, {Slot: "A2", CorrectableErrors: ptr(int64(-1))}}
	keptDrives := []Drive{{Bay: "0", MediaErrors: ptr(int64(0))}}
	s := NewSnapshot("srv", "r1", ProtocolRedfish, time.Now())
	s.DIMMs, s.Drives = keptDIMMs, keptDrives
	if n := SetAsideImplausible(s); n != 1 {
		t.Fatalf("%d set aside, want 1 (A2's negative count)", n)
	}
	if s.DIMMs[1].CorrectableErrors != nil || len(s.DIMMs[1].Suspect) != 1 {
		t.Errorf("snapshot's A2 = %+v; want its count set aside with the reason", s.DIMMs[1])
	}
	if keptDIMMs[1].CorrectableErrors == nil || *keptDIMMs[1].CorrectableErrors != -1 || keptDIMMs[1].Suspect != nil {
		t.Errorf("kept A2 = %+v; want it as the collector read it", keptDIMMs[1])
	}
	if &s.DIMMs[0] == &keptDIMMs[0] {
		t.Error("the snapshot's DIMMs are still the kept list after one was changed")
	}
	if &s.Drives[0] != &keptDrives[0] {
		t.Error("drives with nothing implausible were copied")
	}
}
