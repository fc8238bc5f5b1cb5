package ipmi

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/rackpulse/rackpulse/bmc"
)

// TestUnitsConvertToCelsius: temperatures in degrees F and kelvins are
// converted to the model's degrees C, readings and thresholds alike, with
// the record's factors first; other units are left as they are, and a
// compound unit (a rate) is not taken for its base unit.
func TestUnitsConvertToCelsius(t *testing.T) {
	rec := func(unit uint8, m, b int) *sdrRecord {
		return &sdrRecord{Type: sdrFullSensor, EventType: 0x01, SensorType: sensorTemperature, BaseUnit: unit, M: m, B: b}
	}
	for _, tc := range []struct {
		name string
		rec  *sdrRecord
		raw  uint8
		kind bmc.SensorKind
		unit string
		want float64
	}{
		{"32 F", rec(unitDegF, 1, 0), 32, bmc.KindTemperature, bmc.UnitCelsius, 0},
		{"77 F", rec(unitDegF, 1, 0), 77, bmc.KindTemperature, bmc.UnitCelsius, 25},
		{"212 F", rec(unitDegF, 1, 0), 212, bmc.KindTemperature, bmc.UnitCelsius, 100},
		{"0 F", rec(unitDegF, 1, 0), 0, bmc.KindTemperature, bmc.UnitCelsius, -17.777778},
		{"100 F", rec(unitDegF, 1, 0), 100, bmc.KindTemperature, bmc.UnitCelsius, 37.777778},
		// (15·1 + 273·10²)·10⁻² = 273.15 K
		{"273.15 K", &sdrRecord{Type: sdrFullSensor, EventType: 0x01, SensorType: sensorTemperature, BaseUnit: unitDegK, M: 15, B: 273, BExp: 2, RExp: -2}, 1, bmc.KindTemperature, bmc.UnitCelsius, 0},
		{"373.15 K", &sdrRecord{Type: sdrFullSensor, EventType: 0x01, SensorType: sensorTemperature, BaseUnit: unitDegK, M: 15, B: 373, BExp: 2, RExp: -2}, 1, bmc.KindTemperature, bmc.UnitCelsius, 100},
		{"300 K", rec(unitDegK, 1, 200), 100, bmc.KindTemperature, bmc.UnitCelsius, 26.85},
		{"55 C", rec(unitDegC, 1, 0), 55, bmc.KindTemperature, bmc.UnitCelsius, 55},
		{"12.06 V", &sdrRecord{Type: sdrFullSensor, EventType: 0x01, SensorType: sensorVoltage, BaseUnit: unitVolts, M: 6, RExp: -2}, 201, bmc.KindVoltage, bmc.UnitVolt, 12.06},
		{"degrees C per second", &sdrRecord{Type: sdrFullSensor, EventType: 0x01, SensorType: sensorTemperature, BaseUnit: unitDegF, RateUnit: 3, M: 1}, 50, bmc.KindOther, "", 50},
		{"degrees F times a modifier", &sdrRecord{Type: sdrFullSensor, EventType: 0x01, SensorType: sensorTemperature, BaseUnit: unitDegF, ModifierUnit: 2, M: 1}, 50, bmc.KindOther, "", 50},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := sensorValue(tc.rec, tc.raw)
			if v == nil || *v != tc.want {
				t.Errorf("raw %d reads %s, want %v", tc.raw, fmtPtr(v), tc.want)
			}
			if kind, unit := sensorKind(tc.rec); kind != tc.kind || unit != tc.unit {
				t.Errorf("kind %s unit %q, want %s %q", kind, unit, tc.kind, tc.unit)
			}
			// Thresholds are converted as the readings are.
			th := thresholds(tc.rec, thresholdSet{mask: 1 << 4, raw: [6]uint8{4: tc.raw}})
			if th.UpperCritical == nil || *th.UpperCritical != tc.want {
				t.Errorf("upper critical threshold of raw %d is %s, want %v", tc.raw, fmtPtr(th.UpperCritical), tc.want)
			}
		})
	}
}

// TestThresholdsMapping: the model's four thresholds from the six; a
// non-recoverable threshold stands in for a missing critical one.
func TestThresholdsMapping(t *testing.T) {
	rec := &sdrRecord{Type: sdrFullSensor, EventType: 0x01, BaseUnit: unitDegC, M: 1}
	for _, tc := range []struct {
		name string
		set  thresholdSet
		want bmc.Thresholds
	}{
		{"all six", thresholdSet{mask: 0x3f, raw: [6]uint8{10, 5, 1, 85, 90, 95}},
			bmc.Thresholds{LowerWarning: ptr(10.0), LowerCritical: ptr(5.0), UpperWarning: ptr(85.0), UpperCritical: ptr(90.0)}},
		{"UNR without UCR", thresholdSet{mask: 1<<3 | 1<<5, raw: [6]uint8{3: 70, 5: 80}},
			bmc.Thresholds{UpperWarning: ptr(70.0), UpperCritical: ptr(80.0)}},
		{"LNR without LCR", thresholdSet{mask: 1<<0 | 1<<2, raw: [6]uint8{0: 20, 2: 5}},
			bmc.Thresholds{LowerWarning: ptr(20.0), LowerCritical: ptr(5.0)}},
		{"values outside the mask are not thresholds", thresholdSet{mask: 1 << 4, raw: [6]uint8{10, 5, 1, 85, 90, 95}},
			bmc.Thresholds{UpperCritical: ptr(90.0)}},
		{"none", thresholdSet{}, bmc.Thresholds{}},
	} {
		if got := thresholds(rec, tc.set); !thresholdsEqual(got, tc.want) {
			t.Errorf("%s: %s, want %s", tc.name, fmtThresholds(got), fmtThresholds(tc.want))
		}
	}
}

// TestThresholdsFollowTheBMC (ipmi_sim and ipmitool): the thresholds are
// those the BMC enforces now, as Get Sensor Thresholds gives them and
// ipmitool prints them, read again on the static cadence after they were
// set at run time; the SDR's stand where the BMC gives none; temperatures
// in degrees F and K come out in degrees C; a read cut short keeps what
// was read before and is done again in the next poll.
func TestThresholdsFollowTheBMC(t *testing.T) {
	s := startSim(t)
	proxy := startProxy(t, s.port, nil)
	ep := s.endpoint(proxy.address())
	ep.Cadence.Static = time.Hour
	ep.RequestTimeout = 600 * time.Millisecond
	ep.PollTimeout = 10 * time.Second
	traces := &traceLog{}
	var cutAfterThresholds atomic.Int64 // cut the link after this many Get Sensor Thresholds; 0: never
	var thresholdReads atomic.Int64
	trace := func(tr bmc.RequestTrace) {
		traces.add(tr)
		if tr.URL == cmdGetSensorThresholds.Name && thresholdReads.Add(1) == cutAfterThresholds.Load() {
			proxy.stopped.Store(true)
		}
	}
	c := newCollector(t, ep, bmc.CollectorOptions{Trace: trace})
	at := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	c.now = func() time.Time { return at }
	poll := func(step time.Duration) *bmc.Snapshot {
		t.Helper()
		at = at.Add(step)
		traces.reset()
		thresholdReads.Store(0)
		return mustPoll(t, c)
	}
	// Full records whose SDR says their thresholds are readable: every
	// analog sensor of the test BMC.
	const readable = 14

	type want struct {
		value float64
		th    bmc.Thresholds
	}
	check := func(what string, snap *bmc.Snapshot, wants map[string]want) {
		t.Helper()
		for name, w := range wants {
			got := sensorByName(snap, name)
			if got == nil {
				t.Errorf("%s: no sensor %s", what, name)
				continue
			}
			if !eqPtr(got.Value, &w.value) || got.Unit != bmc.UnitCelsius || !thresholdsEqual(got.Thresholds, w.th) {
				t.Errorf("%s: %s reads %s %s with %s, want %v Cel with %s", what, name, fmtPtr(got.Value), got.Unit,
					fmtThresholds(got.Thresholds), w.value, fmtThresholds(w.th))
			}
		}
	}
	// Known values: testdata/server.emu.
	before := map[string]want{
		"CPU1 Temp":   {55, bmc.Thresholds{UpperWarning: ptr(85.0), UpperCritical: ptr(90.0)}},
		"Mezz Temp F": {25, bmc.Thresholds{LowerWarning: ptr(10.0), LowerCritical: ptr(5.0), UpperWarning: ptr(40.0), UpperCritical: ptr(45.0)}},
		"PCH Temp K":  {26.85, bmc.Thresholds{UpperWarning: ptr(46.85), UpperCritical: ptr(51.85)}},
		"VR Temp":     {60, bmc.Thresholds{UpperWarning: ptr(90.0), UpperCritical: ptr(100.0)}},
		"M2 Temp":     {45, bmc.Thresholds{UpperWarning: ptr(70.0), UpperCritical: ptr(80.0)}},
	}
	snap := poll(0)
	if n := traces.count(cmdGetSensorThresholds.Name); n != readable {
		t.Errorf("first poll sent Get Sensor Thresholds %d times, want %d", n, readable)
	}
	assertMatchesIpmitool(t, s, snap)
	check("first poll", snap, before)

	// Set at run time on the BMC: CPU1 Temp UNC 88, UCR 93, UNR 97; Mezz
	// Temp F LNC 41 F (5 C), LCR 32 F (0 C), UNC 113 F (45 C), UCR 122 F
	// (50 C). The SDR still says what it said.
	s.consoleCmd(
		"sensor_set_threshold 0x20 0 1 readable 111000 97 93 88 00 00 00",
		"sensor_set_threshold 0x20 0 16 readable 011011 00 122 113 00 32 41",
	)
	after := map[string]want{
		"CPU1 Temp":   {55, bmc.Thresholds{UpperWarning: ptr(88.0), UpperCritical: ptr(93.0)}},
		"Mezz Temp F": {25, bmc.Thresholds{LowerWarning: ptr(5.0), LowerCritical: ptr(0.0), UpperWarning: ptr(45.0), UpperCritical: ptr(50.0)}},
		"PCH Temp K":  before["PCH Temp K"],
		"VR Temp":     before["VR Temp"],
		"M2 Temp":     before["M2 Temp"],
	}

	// Within the static cadence: the cached thresholds, none asked.
	snap = poll(ep.Cadence.Readings)
	if n := traces.count(cmdGetSensorThresholds.Name); n != 0 {
		t.Errorf("Get Sensor Thresholds sent %d times before the static cadence came round", n)
	}
	check("poll within the static cadence", snap, before)

	// The static cadence comes round, and the link is cut after the third
	// sensor's thresholds: the poll fails its sensors, and keeps the
	// thresholds it had for the sensors it did not reach.
	cutAfterThresholds.Store(3)
	at = at.Add(ep.Cadence.Static)
	traces.reset()
	thresholdReads.Store(0)
	if cut, err := c.Poll(t.Context()); err == nil {
		if cut.Poll.OK() {
			t.Fatal("a poll whose link was cut has no part errors")
		}
		if s := sensorByName(cut, "VR Temp"); s != nil && s.Value != nil {
			t.Errorf("a poll cut off read VR Temp: %+v", s)
		}
	}
	if n := traces.count(cmdGetSensorThresholds.Name); n < 3 {
		t.Fatalf("%d Get Sensor Thresholds before the cut, want 3", n)
	}
	proxy.stopped.Store(false)
	cutAfterThresholds.Store(0)

	// The link back: the read left unfinished is done again at once.
	snap = poll(ep.Cadence.Readings)
	if n := traces.count(cmdGetSensorThresholds.Name); n != readable {
		t.Errorf("poll after the cut sent Get Sensor Thresholds %d times, want %d (all again)", n, readable)
	}
	assertMatchesIpmitool(t, s, snap)
	check("poll after the static cadence", snap, after)

	// And kept until the cadence comes round again.
	snap = poll(ep.Cadence.Readings)
	if n := traces.count(cmdGetSensorThresholds.Name); n != 0 {
		t.Errorf("Get Sensor Thresholds sent %d times in a steady poll", n)
	}
	check("steady poll", snap, after)
}
