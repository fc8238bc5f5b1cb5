package ipmi

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rackpulse/rackpulse/bmc"
	bmcsim "github.com/rackpulse/rackpulse/bmc/sim"
)

// The project simulator's IPMI BMCs (go-ipmi's reference BMC answering
// from a simulated machine) polled by the real collector, over RMCP+ with
// cipher suite 3. Unlike ipmi_sim these need no external tool and speak
// DCMI, and their data faults move the sensors and the SEL together.

const (
	fleetUser     = "rp-monitor"
	fleetPassword = "rp-fleet-s3cret"
)

// startIPMIFleet starts n IPMI BMCs of the simulator on a random range of
// free loopback ports.
func startIPMIFleet(t *testing.T, n int) *bmcsim.Fleet {
	t.Helper()
	f, err := bmcsim.StartOnFreePorts(context.Background(), bmcsim.FleetOptions{
		Count:    n,
		Mix:      []bmcsim.ProfileShare{{Profile: bmcsim.ProfileIPMI, Weight: 1}},
		OutDir:   t.TempDir(),
		Username: fleetUser,
		Password: fleetPassword,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := f.Close(); err != nil {
			t.Errorf("closing fleet: %v", err)
		}
	})
	for _, b := range f.BMCs() {
		if b.Protocol() != "ipmi" || b.IPMI() == nil {
			t.Fatalf("BMC %s speaks %s, want ipmi", b.Name(), b.Protocol())
		}
	}
	return f
}

// fleetEndpoint is the endpoint of one simulated BMC: lanplus, cipher
// suite 3, and a slow cadence short enough that the SEL is read on every
// poll.
func fleetEndpoint(b *bmcsim.SimBMC) bmc.Endpoint {
	return bmc.Endpoint{
		Server:         b.Name(),
		Rack:           "sim",
		Protocol:       bmc.ProtocolIPMI,
		Address:        b.URL(),
		Username:       fleetUser,
		Password:       bmc.Secret(fleetPassword),
		CipherSuite:    3,
		Privilege:      "ADMINISTRATOR",
		RequestTimeout: 1500 * time.Millisecond,
		PollTimeout:    20 * time.Second,
		Cadence:        bmc.Cadence{Readings: 30 * time.Second, Slow: time.Nanosecond},
	}
}

// cleanPoll polls and fails the test on any part error.
func cleanPoll(t *testing.T, c *Collector) *bmc.Snapshot {
	t.Helper()
	snap := mustPoll(t, c)
	if !snap.Poll.OK() {
		t.Fatalf("poll has part errors: %+v", snap.Poll.Errors)
	}
	if !slices.Contains(snap.Poll.Read, bmc.PartSEL) {
		t.Fatalf("the SEL was not read (read %v, cached %v)", snap.Poll.Read, snap.Poll.Cached)
	}
	return snap
}

// pollUntil polls until done says so and returns every snapshot taken;
// it fails the test after 15 s. Every poll must be clean.
func pollUntil(t *testing.T, c *Collector, what string, done func(*bmc.Snapshot) bool) []*bmc.Snapshot {
	t.Helper()
	var snaps []*bmc.Snapshot
	deadline := time.Now().Add(15 * time.Second)
	for {
		snap := cleanPoll(t, c)
		snaps = append(snaps, snap)
		if done(snap) {
			return snaps
		}
		if time.Now().After(deadline) {
			t.Fatalf("still waiting for %s after %d polls; last sensors %s", what, len(snaps), sensorSummary(snap))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func allLogs(snaps []*bmc.Snapshot) []bmc.LogEntry {
	var out []bmc.LogEntry
	for _, s := range snaps {
		out = append(out, s.Logs...)
	}
	return out
}

func sensorSummary(snap *bmc.Snapshot) string {
	var b strings.Builder
	for _, s := range snap.Sensors {
		fmt.Fprintf(&b, "%s=%s/%s%v; ", s.Name, fmtPtr(s.Value), s.Health, s.States)
	}
	return b.String()
}

func mustSensor(t *testing.T, snap *bmc.Snapshot, name string) *bmc.Sensor {
	t.Helper()
	s := sensorByName(snap, name)
	if s == nil {
		t.Fatalf("no sensor %q in %s", name, sensorSummary(snap))
	}
	return s
}

func healthOf(snap *bmc.Snapshot, name string) bmc.Health {
	if s := sensorByName(snap, name); s != nil {
		return s.Health
	}
	return bmc.HealthUnknown
}

func psuByBay(snap *bmc.Snapshot, bay string) *bmc.PSU {
	for i := range snap.PSUs {
		if snap.PSUs[i].Bay == bay {
			return &snap.PSUs[i]
		}
	}
	return nil
}

func powerFrom(snap *bmc.Snapshot, src bmc.PowerSource) *bmc.PowerReading {
	for i := range snap.Power {
		if snap.Power[i].Source == src {
			return &snap.Power[i]
		}
	}
	return nil
}

// logsFor keeps the entries about one component.
func logsFor(logs []bmc.LogEntry, component string) []bmc.LogEntry {
	var out []bmc.LogEntry
	for _, e := range logs {
		if e.Component == component {
			out = append(out, e)
		}
	}
	return out
}

func fmtLogs(logs []bmc.LogEntry) string {
	var b strings.Builder
	for _, e := range logs {
		fmt.Fprintf(&b, "\n  %s %s %s/%s %q", e.ID, e.Severity, e.Component, e.Subject, e.Message)
	}
	return b.String()
}

// opened counts the sessions the collector opened (traced without error).
func opened(l *traceLog) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, tr := range l.all {
		if tr.URL == "Open Session (lanplus)" && tr.Err == "" {
			n++
		}
	}
	return n
}

func ptrEq(p *float64, v float64) bool { return p != nil && *p == v }

// steadyPoll polls until one poll ran within one 10-second bucket of the
// simulator's noise (readings taken across a bucket edge may differ by
// more than their resolution).
func steadyPoll(t *testing.T, c *Collector) *bmc.Snapshot {
	t.Helper()
	for range 5 {
		snap := cleanPoll(t, c)
		end := snap.Poll.Started.Add(snap.Poll.Duration)
		if snap.Poll.Started.Unix()/10 == end.Unix()/10 {
			return snap
		}
	}
	t.Fatal("five polls in a row ran across a 10-second boundary")
	return nil
}

func TestSimIPMIReadingsAreTheMachines(t *testing.T) {
	f := startIPMIFleet(t, 1)
	b := f.BMCs()[0]
	traces := &traceLog{}
	c := newCollector(t, fleetEndpoint(b), bmc.CollectorOptions{Trace: traces.add})
	cleanPoll(t, c) // session, SDR, thresholds, DCMI probe, SEL position
	if c.dcmi != dcmiSupported {
		t.Fatalf("DCMI support %v after the first poll, want supported", c.dcmi)
	}
	snap := steadyPoll(t, c)

	if snap.Protocol != bmc.ProtocolIPMI || snap.Server != b.Name() {
		t.Errorf("snapshot of %s over %s, want %s over ipmi", snap.Server, snap.Protocol, b.Name())
	}
	// The profile's 28 sensors, each with its kind, unit, context and
	// thresholds (docs/simulator.md, "ipmi").
	type want struct {
		kind       bmc.SensorKind
		unit       string
		context    string
		thresholds bmc.Thresholds
	}
	f64 := func(v float64) *float64 { return &v }
	cpuT := bmc.Thresholds{UpperWarning: f64(85), UpperCritical: f64(95)}
	fanT := bmc.Thresholds{LowerWarning: f64(1000), LowerCritical: f64(600)}
	wattT := bmc.Thresholds{UpperWarning: f64(1000), UpperCritical: f64(1100)}
	volts := func(n float64) bmc.Thresholds {
		return bmc.Thresholds{LowerCritical: f64(n * 0.9), LowerWarning: f64(n * 0.95), UpperWarning: f64(n * 1.05), UpperCritical: f64(n * 1.1)}
	}
	temp := func(ctx string, t bmc.Thresholds) want { return want{bmc.KindTemperature, bmc.UnitCelsius, ctx, t} }
	discrete := func(ctx string) want { return want{bmc.KindOther, "", ctx, bmc.Thresholds{}} }
	wants := map[string]want{
		"CPU1 Temp":        temp(bmc.ContextCPU, cpuT),
		"CPU2 Temp":        temp(bmc.ContextCPU, cpuT),
		"Inlet Temp":       temp(bmc.ContextIntake, bmc.Thresholds{UpperWarning: f64(38), UpperCritical: f64(42)}),
		"Exhaust Temp":     temp(bmc.ContextExhaust, bmc.Thresholds{UpperWarning: f64(70), UpperCritical: f64(75)}),
		"CPU1 DIMM Temp":   temp(bmc.ContextMemory, bmc.Thresholds{UpperWarning: f64(85), UpperCritical: f64(90)}),
		"CPU2 DIMM Temp":   temp(bmc.ContextMemory, bmc.Thresholds{UpperWarning: f64(85), UpperCritical: f64(90)}),
		"12V":              {bmc.KindVoltage, bmc.UnitVolt, bmc.ContextSystemBoard, volts(12)},
		"5V":               {bmc.KindVoltage, bmc.UnitVolt, bmc.ContextSystemBoard, volts(5)},
		"3.3V":             {bmc.KindVoltage, bmc.UnitVolt, bmc.ContextSystemBoard, volts(3.3)},
		"PSU1 Input Power": {bmc.KindPower, bmc.UnitWatt, bmc.ContextPowerSupply, wattT},
		"PSU2 Input Power": {bmc.KindPower, bmc.UnitWatt, bmc.ContextPowerSupply, wattT},
		"Total Power":      {bmc.KindPower, bmc.UnitWatt, bmc.ContextSystemBoard, wattT},
		"PSU1 Status":      discrete(bmc.ContextPowerSupply),
		"PSU2 Status":      discrete(bmc.ContextPowerSupply),
		"CPU1 Memory":      discrete(bmc.ContextMemory),
		"CPU2 Memory":      discrete(bmc.ContextMemory),
		"CPU1 Status":      discrete(bmc.ContextCPU),
		"CPU2 Status":      discrete(bmc.ContextCPU),
		"Drive0 Status":    discrete(bmc.ContextStorage),
		"Drive1 Status":    discrete(bmc.ContextStorage),
		"Fan1":             {bmc.KindFan, bmc.UnitRPM, bmc.ContextFan, fanT},
		"Fan2":             {bmc.KindFan, bmc.UnitRPM, bmc.ContextFan, fanT},
		"Fan3":             {bmc.KindFan, bmc.UnitRPM, bmc.ContextFan, fanT},
		"Fan4":             {bmc.KindFan, bmc.UnitRPM, bmc.ContextFan, fanT},
		"Fan5":             {bmc.KindFan, bmc.UnitRPM, bmc.ContextFan, fanT},
		"Fan6":             {bmc.KindFan, bmc.UnitRPM, bmc.ContextFan, fanT},
	}
	if len(snap.Sensors) != len(wants) {
		t.Errorf("%d sensors, want %d: %s", len(snap.Sensors), len(wants), sensorSummary(snap))
	}
	// Thresholds are whole raw counts: compare within one count.
	near := func(got, want *float64, step float64) bool {
		if got == nil || want == nil {
			return got == nil && want == nil
		}
		return math.Abs(*got-*want) <= step/2+1e-9
	}
	steps := map[string]float64{"12V": 0.06, "5V": 0.025, "3.3V": 0.0165}
	for _, s := range snap.Sensors {
		w, ok := wants[s.Name]
		if !ok {
			t.Errorf("unexpected sensor %q", s.Name)
			continue
		}
		if s.Kind != w.kind || s.Unit != w.unit || s.Context != w.context {
			t.Errorf("%s: kind %s unit %q context %q, want %s %q %q", s.Name, s.Kind, s.Unit, s.Context, w.kind, w.unit, w.context)
		}
		step := steps[s.Name]
		th, wt := s.Thresholds, w.thresholds
		if !near(th.LowerWarning, wt.LowerWarning, step) || !near(th.LowerCritical, wt.LowerCritical, step) ||
			!near(th.UpperWarning, wt.UpperWarning, step) || !near(th.UpperCritical, wt.UpperCritical, step) {
			t.Errorf("%s: thresholds lw=%s lc=%s uw=%s uc=%s, want lw=%s lc=%s uw=%s uc=%s", s.Name,
				fmtPtr(th.LowerWarning), fmtPtr(th.LowerCritical), fmtPtr(th.UpperWarning), fmtPtr(th.UpperCritical),
				fmtPtr(wt.LowerWarning), fmtPtr(wt.LowerCritical), fmtPtr(wt.UpperWarning), fmtPtr(wt.UpperCritical))
		}
		if w.kind == bmc.KindOther {
			if s.Value != nil || s.Health != bmc.HealthOK || len(s.States) != 1 || !strings.Contains(strings.ToLower(s.States[0]), "presen") {
				t.Errorf("%s: value %s health %q states %q, want only presence and OK", s.Name, fmtPtr(s.Value), s.Health, s.States)
			}
			continue
		}
		if s.Value == nil || s.Health != bmc.HealthOK {
			t.Errorf("%s: value %s health %q, want a reading and OK", s.Name, fmtPtr(s.Value), s.Health)
		}
	}
	if t.Failed() {
		return
	}
	val := func(name string) float64 { return *mustSensor(t, snap, name).Value }

	// Voltages within a count or two of nominal.
	for name, nominal := range map[string]float64{"12V": 12, "5V": 5, "3.3V": 3.3} {
		if v := val(name); math.Abs(v-nominal) > 2*steps[name]+1e-9 {
			t.Errorf("%s reads %v, want %v within two counts", name, v, nominal)
		}
	}
	// CPUs: sockets CPU1, CPU2 with their temperature sensors' values, in
	// the machine's range (38-75 °C, whole degrees).
	if len(snap.CPUs) != 2 {
		t.Fatalf("CPUs: %+v", snap.CPUs)
	}
	for i, cpu := range snap.CPUs {
		name := fmt.Sprintf("CPU%d", i+1)
		v := val(name + " Temp")
		if cpu.Socket != name || !ptrEq(cpu.TemperatureC, v) || cpu.Health != bmc.HealthOK || cpu.State != "Enabled" {
			t.Errorf("CPU %d: %+v (temperature %s), want socket %s at %v, OK", i, cpu, fmtPtr(cpu.TemperatureC), name, v)
		}
		if v < 35 || v > 80 || v != math.Round(v) {
			t.Errorf("%s Temp %v outside the machine's 35-80 °C in whole degrees", name, v)
		}
	}
	// Fans: the profile's fans spin at 25-100 % of 16000 RPM, in 100 RPM counts.
	for i := 1; i <= 6; i++ {
		if v := val(fmt.Sprintf("Fan%d", i)); v < 3800 || v > 16000 || math.Mod(v, 100) != 0 {
			t.Errorf("Fan%d reads %v RPM", i, v)
		}
	}
	// Power: the two supplies share the load equally; the total is their
	// sum; DCMI reports that total to the watt. Sensors count 5 W (the two
	// supplies are read a moment apart: one count of drift at most).
	psu1, psu2, total := val("PSU1 Input Power"), val("PSU2 Input Power"), val("Total Power")
	if math.Abs(psu1-psu2) > 5 || math.Mod(psu1, 5) != 0 || math.Mod(psu2, 5) != 0 {
		t.Errorf("PSU input power %v and %v, want equal shares in 5 W counts", psu1, psu2)
	}
	if math.Abs(psu1+psu2-total) > 7.5 {
		t.Errorf("PSU inputs %v + %v, Total Power %v", psu1, psu2, total)
	}
	dcmi := powerFrom(snap, bmc.PowerFromDCMI)
	if dcmi == nil {
		t.Fatalf("no DCMI power reading in %+v", snap.Power)
	}
	if dcmi.Watts != math.Round(dcmi.Watts) || math.Abs(dcmi.Watts-total) > 4 || dcmi.Watts < 200/0.93-1 || dcmi.Watts > 620/0.93+1 {
		t.Errorf("DCMI reads %v W, Total Power sensor %v W (machine draws 215-667 W)", dcmi.Watts, total)
	}
	if !ptrEq(dcmi.IntervalMin, 1) || dcmi.Resource == "" {
		t.Errorf("DCMI reading over %s min from %q, want the BMC's 1-minute period", fmtPtr(dcmi.IntervalMin), dcmi.Resource)
	}
	if snap.Power[0].Source != bmc.PowerFromDCMI {
		t.Errorf("DCMI is not the first power reading: %+v", snap.Power)
	}
	if s := powerFrom(snap, bmc.PowerFromSensor); s == nil || s.Watts != total || s.Resource != "sensor Total Power" {
		t.Errorf("sensor power reading %+v, want Total Power's %v", s, total)
	}
	if s := powerFrom(snap, bmc.PowerFromPSUInput); s == nil || s.Watts != psu1+psu2 {
		t.Errorf("PSU input power reading %+v, want %v", s, psu1+psu2)
	}
	// PSUs by bay with their input watts; present, normal input.
	if len(snap.PSUs) != 2 {
		t.Fatalf("PSUs: %+v", snap.PSUs)
	}
	for i, p := range snap.PSUs {
		bay := fmt.Sprint(i + 1)
		in := val("PSU" + bay + " Input Power")
		if p.Bay != bay || p.Health != bmc.HealthOK || p.State != "Enabled" || p.LineInputStatus != "Normal" || !ptrEq(p.InputWatts, in) {
			t.Errorf("PSU %d: %+v (input %s), want bay %s, OK, Normal, %v W", i, p, fmtPtr(p.InputWatts), bay, in)
		}
	}
	if len(snap.Drives) != 2 {
		t.Fatalf("drives: %+v", snap.Drives)
	}
	for _, d := range snap.Drives {
		if d.FailurePredicted || d.Health != bmc.HealthOK || d.State != "Enabled" {
			t.Errorf("drive %+v, want present and OK", d)
		}
	}
	if len(snap.Systems) != 1 || snap.Systems[0].PowerState != "On" || snap.Systems[0].Health != bmc.HealthOK {
		t.Errorf("systems: %+v, want one, on, OK", snap.Systems)
	}
	if len(snap.Logs) != 0 {
		t.Errorf("logs from an empty SEL: %s", fmtLogs(snap.Logs))
	}
	// A steady poll: no SDR or DCMI capabilities again, one session.
	if n := traces.count(cmdGetDCMICapabilities.Name); n != 1 {
		t.Errorf("Get DCMI Capabilities sent %d times over two polls, want once", n)
	}
	if n := traces.count("Open Session (lanplus)"); n != 1 {
		t.Errorf("%d sessions opened over two polls, want 1", n)
	}
	if n := b.IPMI().ActiveSessions(); n != 1 {
		t.Errorf("the BMC holds %d sessions, want 1", n)
	}
	if err := c.Close(t.Context()); err != nil {
		t.Errorf("Close: %v", err)
	}
	if n := b.IPMI().ActiveSessions(); n != 0 {
		t.Errorf("the BMC holds %d sessions after Close, want 0", n)
	}
}

func TestSimIPMIDataFaults(t *testing.T) {
	cases := []string{"dimm-ecc", "cpu-hot", "psu-fail", "fan-fail", "drive-predicted-failure"}
	f := startIPMIFleet(t, len(cases))
	for i, name := range cases {
		b := f.BMCs()[i]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newCollector(t, fleetEndpoint(b), bmc.CollectorOptions{})
			if snap := cleanPoll(t, c); len(snap.Logs) != 0 || snap.Health() != bmc.HealthOK {
				t.Fatalf("before the fault: health %q, logs %s", snap.Health(), fmtLogs(snap.Logs))
			}
			switch name {
			case "dimm-ecc":
				testDIMMECC(t, b, c)
			case "cpu-hot":
				testCPUHot(t, b, c)
			case "psu-fail":
				testPSUFail(t, b, c)
			case "fan-fail":
				testFanFail(t, b, c)
			case "drive-predicted-failure":
				testDrivePredictedFailure(t, b, c)
			}
		})
	}
}

func inject(t *testing.T, b *bmcsim.SimBMC, spec bmcsim.FaultSpec) {
	t.Helper()
	if err := b.Inject(spec); err != nil {
		t.Fatalf("inject %s: %v", spec.Fault, err)
	}
}

// testDIMMECC: correctable errors on DIMM_B5 (the fifth module of the CPU2
// group, event data 3 = 4), past the logging limit, then uncorrectable.
func testDIMMECC(t *testing.T, b *bmcsim.SimBMC, c *Collector) {
	inject(t, b, bmcsim.FaultSpec{Fault: bmcsim.FaultDIMMECC, Target: "DIMM_B5", Every: 250 * time.Millisecond})
	snaps := pollUntil(t, c, "CPU2 Memory Critical", func(s *bmc.Snapshot) bool { return healthOf(s, "CPU2 Memory") == bmc.HealthCritical })
	// The memory sensor went Warning (correctable ECC) before Critical.
	var healths []bmc.Health
	for _, s := range snaps {
		if h := healthOf(s, "CPU2 Memory"); len(healths) == 0 || healths[len(healths)-1] != h {
			healths = append(healths, h)
		}
	}
	if !slices.Equal(healths, []bmc.Health{bmc.HealthWarning, bmc.HealthCritical}) {
		t.Errorf("CPU2 Memory went %v, want Warning then Critical", healths)
	}
	last := snaps[len(snaps)-1]
	mem := mustSensor(t, last, "CPU2 Memory")
	wantStates := []string{"Correctable ECC", "Uncorrectable ECC", "Correctable ECC logging limit reached", "Presence Detected"}
	if !slices.Equal(mem.States, wantStates) {
		t.Errorf("CPU2 Memory states %q, want %q", mem.States, wantStates)
	}
	if other := mustSensor(t, last, "CPU1 Memory"); other.Health != bmc.HealthOK || len(other.States) != 1 {
		t.Errorf("CPU1 Memory (not faulted): %s %q", other.Health, other.States)
	}
	if last.Systems[0].Health != bmc.HealthCritical {
		t.Errorf("system health %q, want Critical", last.Systems[0].Health)
	}

	// The DIMMs: the slots the SDR names, the bank sensor CPU2 Memory
	// none of them; the module the SEL names counts its errors, under the
	// slot's name, which the log entries give it too (so that the alert
	// rules take the counts and the entries for one DIMM).
	var b5 *bmc.DIMM
	for i, d := range last.DIMMs {
		if d.Source == dimmSource("CPU2 Memory") {
			t.Errorf("the bank sensor CPU2 Memory is listed as a DIMM: %+v", d)
		}
		if d.Slot == "DIMM_B5" {
			b5 = &last.DIMMs[i]
		} else if d.CorrectableErrors == nil || *d.CorrectableErrors != 0 || d.UncorrectableErrors == nil || *d.UncorrectableErrors != 0 {
			t.Errorf("DIMM %s (not faulted) counts %s/%s errors", d.Slot, fmtCount(d.CorrectableErrors), fmtCount(d.UncorrectableErrors))
		}
	}
	if b5 == nil || b5.CorrectableErrors == nil || *b5.CorrectableErrors != 1 || b5.UncorrectableErrors == nil || *b5.UncorrectableErrors != 1 || b5.Source != dimmLocatorSource("DIMM_B5") {
		t.Errorf("DIMMs %+v: want DIMM_B5 from its FRU locator with 1 correctable and 1 uncorrectable error", last.DIMMs)
	}
	if !slices.Contains(last.Poll.Read, bmc.PartMemory) {
		t.Errorf("memory part not read: %v", last.Poll.Read)
	}

	logs := allLogs(snaps)
	dimm := logsFor(logs, "DIMM")
	want := []struct {
		severity bmc.Health
		state    string
	}{
		{bmc.HealthWarning, "Correctable ECC asserted"},
		{bmc.HealthWarning, "Correctable ECC logging limit reached asserted"},
		{bmc.HealthCritical, "Uncorrectable ECC asserted"},
	}
	if len(dimm) != len(want) || len(logs) != len(want) {
		t.Fatalf("SEL entries %s, want the three DIMM records", fmtLogs(logs))
	}
	for i, w := range want {
		e := dimm[i]
		if e.Severity != w.severity || e.Message != "CPU2 Memory: "+w.state || e.Subject != "DIMM_B5" ||
			e.Source != "SEL" || e.Time.IsZero() {
			t.Errorf("DIMM entry %d: %+v, want %s %q about DIMM_B5", i, e, w.severity, w.state)
		}
	}

	// The DIMM replaced: the memory sensor is clean again, but the SEL
	// keeps the records, and so the counts stand (until the SEL is
	// cleared: TestSELStateSurvivesRestartAndClear).
	if !b.Clear(bmcsim.FaultDIMMECC) {
		t.Fatal("dimm-ecc was not on")
	}
	after := cleanPoll(t, c)
	if mem := mustSensor(t, after, "CPU2 Memory"); mem.Health != bmc.HealthOK {
		t.Errorf("CPU2 Memory after the replacement: %s %q", mem.Health, mem.States)
	}
	i := slices.IndexFunc(after.DIMMs, func(d bmc.DIMM) bool { return d.Slot == "DIMM_B5" })
	if i < 0 || fmtCount(after.DIMMs[i].CorrectableErrors) != "1" || fmtCount(after.DIMMs[i].UncorrectableErrors) != "1" {
		t.Errorf("DIMMs after the replacement %+v, want DIMM_B5 still counting 1 and 1", after.DIMMs)
	}
}

// testCPUHot: CPU2 climbs past its upper warning (85) and critical (95)
// thresholds.
func testCPUHot(t *testing.T, b *bmcsim.SimBMC, c *Collector) {
	inject(t, b, bmcsim.FaultSpec{Fault: bmcsim.FaultCPUHot, Target: "CPU2", Every: 400 * time.Millisecond})
	snaps := pollUntil(t, c, "CPU2 Temp Critical", func(s *bmc.Snapshot) bool { return healthOf(s, "CPU2 Temp") == bmc.HealthCritical })
	var healths []bmc.Health
	sawWarning := false
	for _, s := range snaps {
		temp := mustSensor(t, s, "CPU2 Temp")
		cpu := s.CPUs[1]
		if temp.Value == nil || !ptrEq(cpu.TemperatureC, *temp.Value) || cpu.Socket != "CPU2" {
			t.Fatalf("CPU2 %+v, CPU2 Temp %s", cpu, fmtPtr(temp.Value))
		}
		v := *temp.Value
		wantHealth := bmc.HealthOK
		switch {
		case v >= 95:
			wantHealth = bmc.HealthCritical
		case v >= 85:
			wantHealth = bmc.HealthWarning
			sawWarning = true
		}
		if temp.Health != wantHealth {
			t.Errorf("CPU2 Temp %v reads %s, want %s", v, temp.Health, wantHealth)
		}
		// The CPU follows its temperature and its status sensor, which
		// asserts Thermal Trip at the critical threshold (read a moment
		// later in the poll, so it may be a step ahead).
		status := mustSensor(t, s, "CPU2 Status")
		if cpu.Health != wantHealth.Worse(status.Health) {
			t.Errorf("CPU2 at %v °C with status %q is %s, want %s", v, status.States, cpu.Health, wantHealth.Worse(status.Health))
		}
		if len(healths) == 0 || healths[len(healths)-1] != temp.Health {
			healths = append(healths, temp.Health)
		}
	}
	if !sawWarning || healths[len(healths)-1] != bmc.HealthCritical || slices.Index(healths, bmc.HealthWarning) > slices.Index(healths, bmc.HealthCritical) {
		t.Errorf("CPU2 Temp went %v, want Warning then Critical", healths)
	}
	last := snaps[len(snaps)-1]
	if st := mustSensor(t, last, "CPU2 Status"); !slices.Contains(st.States, "Thermal Trip") || st.Health != bmc.HealthCritical {
		t.Errorf("CPU2 Status %q %s, want Thermal Trip, Critical", st.States, st.Health)
	}
	if cpu1 := last.CPUs[0]; cpu1.Health != bmc.HealthOK {
		t.Errorf("CPU1 (not faulted) is %s", cpu1.Health)
	}

	cpuLogs := logsFor(allLogs(snaps), "CPU")
	var sawUNC, sawUCR, sawTrip bool
	for _, e := range cpuLogs {
		if e.Subject != "CPU2" {
			t.Errorf("CPU entry about %q, want CPU2: %+v", e.Subject, e)
		}
		switch e.Message {
		case "CPU2 Temp: Upper Non-critical going high asserted":
			sawUNC = e.Severity == bmc.HealthWarning && !sawUCR
		case "CPU2 Temp: Upper Critical going high asserted":
			sawUCR = e.Severity == bmc.HealthCritical && sawUNC
		case "CPU2 Status: Thermal Trip asserted":
			sawTrip = e.Severity == bmc.HealthCritical
		}
	}
	if !sawUNC || !sawUCR || !sawTrip {
		t.Errorf("CPU entries %s, want upper non-critical (Warning), then upper critical and thermal trip (Critical)", fmtLogs(cpuLogs))
	}
}

// testPSUFail: PSU1 fails (its AC input stays); PSU2 carries the load.
// Clearing the fault deasserts what it asserted.
func testPSUFail(t *testing.T, b *bmcsim.SimBMC, c *Collector) {
	inject(t, b, bmcsim.FaultSpec{Fault: bmcsim.FaultPSUFail, Target: "PSU1"})
	snap := cleanPoll(t, c)
	p1, p2 := psuByBay(snap, "1"), psuByBay(snap, "2")
	if p1 == nil || p2 == nil {
		t.Fatalf("PSUs: %+v", snap.PSUs)
	}
	if p1.Health != bmc.HealthCritical || p1.LineInputStatus != "Normal" || p1.InputWatts != nil || p1.State != "Enabled" {
		t.Errorf("PSU1: %+v (input %s), want Critical, input Normal, no input watts", *p1, fmtPtr(p1.InputWatts))
	}
	if p2.Health != bmc.HealthOK || p2.LineInputStatus != "Normal" || p2.InputWatts == nil || *p2.InputWatts < 200/0.93-5 {
		t.Errorf("PSU2: %+v (input %s), want OK carrying the whole load", *p2, fmtPtr(p2.InputWatts))
	}
	// The failed supply's input power is absent, not 0 W.
	if in := mustSensor(t, snap, "PSU1 Input Power"); in.Value != nil || in.Health != bmc.HealthUnknown {
		t.Errorf("PSU1 Input Power %s %q, want no reading", fmtPtr(in.Value), in.Health)
	}
	st := mustSensor(t, snap, "PSU1 Status")
	if want := []string{"Presence detected", "Failure detected"}; !slices.Equal(st.States, want) || st.Health != bmc.HealthCritical {
		t.Errorf("PSU1 Status %q %s, want %q Critical", st.States, st.Health, want)
	}
	if r := powerFrom(snap, bmc.PowerFromPSUInput); r == nil || p2.InputWatts == nil || r.Watts != *p2.InputWatts || r.Resource != "sensors PSU2 Input Power" {
		t.Errorf("PSU input power reading %+v, want PSU2's alone", r)
	}
	wantLogs := []string{"PSU1 Status: Failure detected asserted"}
	checkPSULogs(t, snap.Logs, wantLogs, bmc.HealthCritical)

	if !b.Clear(bmcsim.FaultPSUFail) {
		t.Fatal("psu-fail was not on")
	}
	snap = cleanPoll(t, c)
	if p1 := psuByBay(snap, "1"); p1 == nil || p1.Health != bmc.HealthOK || p1.LineInputStatus != "Normal" || p1.InputWatts == nil {
		t.Errorf("PSU1 after clearing: %+v", p1)
	}
	checkPSULogs(t, snap.Logs, []string{"PSU1 Status: Failure detected deasserted"}, bmc.HealthOK)
}

func checkPSULogs(t *testing.T, logs []bmc.LogEntry, messages []string, severity bmc.Health) {
	t.Helper()
	if len(logs) != len(messages) {
		t.Fatalf("SEL entries %s, want %q", fmtLogs(logs), messages)
	}
	for i, e := range logs {
		if e.Component != "PSU" || e.Subject != "1" || e.Message != messages[i] || e.Severity != severity {
			t.Errorf("entry %d: %+v, want PSU 1 %q %s", i, e, messages[i], severity)
		}
	}
}

// testFanFail: Fan3 stops.
func testFanFail(t *testing.T, b *bmcsim.SimBMC, c *Collector) {
	inject(t, b, bmcsim.FaultSpec{Fault: bmcsim.FaultFanFail, Target: "Fan3"})
	snap := cleanPoll(t, c)
	fan := mustSensor(t, snap, "Fan3")
	if !ptrEq(fan.Value, 0) || fan.Health != bmc.HealthCritical {
		t.Errorf("Fan3 %s RPM %s, want 0 Critical", fmtPtr(fan.Value), fan.Health)
	}
	for _, name := range []string{"Fan1", "Fan2", "Fan4", "Fan5", "Fan6"} {
		if s := mustSensor(t, snap, name); s.Health != bmc.HealthOK || s.Value == nil || *s.Value == 0 {
			t.Errorf("%s (not faulted) %s %s", name, fmtPtr(s.Value), s.Health)
		}
	}
	if snap.Systems[0].Health != bmc.HealthCritical {
		t.Errorf("system health %q, want Critical", snap.Systems[0].Health)
	}
	want := []string{"Fan3: Lower Critical going low asserted", "Fan3: Lower Non-recoverable going low asserted"}
	if len(snap.Logs) != len(want) {
		t.Fatalf("SEL entries %s, want %q", fmtLogs(snap.Logs), want)
	}
	for i, e := range snap.Logs {
		if e.Component != "Fan" || e.Subject != "Fan3" || e.Message != want[i] || e.Severity != bmc.HealthCritical {
			t.Errorf("entry %d: %+v, want Fan3 %q Critical", i, e, want[i])
		}
	}
}

// testDrivePredictedFailure: Drive1 predicts its failure.
func testDrivePredictedFailure(t *testing.T, b *bmcsim.SimBMC, c *Collector) {
	inject(t, b, bmcsim.FaultSpec{Fault: bmcsim.FaultDrivePredictedFailure, Target: "Drive1"})
	snap := cleanPoll(t, c)
	if len(snap.Drives) != 2 {
		t.Fatalf("drives: %+v", snap.Drives)
	}
	d0, d1 := snap.Drives[0], snap.Drives[1]
	if d1.Bay != "Drive1" || d1.Name != "Drive1 Status" || !d1.FailurePredicted || d1.Health != bmc.HealthWarning || d1.State != "Enabled" {
		t.Errorf("Drive1: %+v, want failure predicted, Warning", d1)
	}
	if d0.FailurePredicted || d0.Health != bmc.HealthOK {
		t.Errorf("Drive0 (not faulted): %+v", d0)
	}
	if st := mustSensor(t, snap, "Drive1 Status"); !slices.Equal(st.States, []string{"Drive Present", "Predictive Failure"}) {
		t.Errorf("Drive1 Status states %q", st.States)
	}
	if len(snap.Logs) != 1 {
		t.Fatalf("SEL entries %s, want one", fmtLogs(snap.Logs))
	}
	if e := snap.Logs[0]; e.Component != "Drive" || e.Subject != "Drive1" || e.Severity != bmc.HealthWarning ||
		e.Message != "Drive1 Status: Predictive Failure asserted" {
		t.Errorf("entry %+v, want a Warning predictive failure on Drive1 Status", e)
	}
}

// TestSimIPMISELFirstRead: the first read records where the SEL ends and
// reports none of what is in it; later reads report only new records.
func TestSimIPMISELFirstRead(t *testing.T) {
	f := startIPMIFleet(t, 1)
	b := f.BMCs()[0]
	// Logged before the collector's first read: old news.
	inject(t, b, bmcsim.FaultSpec{Fault: bmcsim.FaultDrivePredictedFailure, Target: "Drive0"})
	c := newCollector(t, fleetEndpoint(b), bmc.CollectorOptions{})
	snap := cleanPoll(t, c)
	if len(snap.Logs) != 0 {
		t.Errorf("first read reported %s, want nothing", fmtLogs(snap.Logs))
	}
	if !c.selCursor.Valid || c.selCursor.Empty || c.selCursor.LastRecordID != 1 || c.selCursor.Entries != 1 {
		t.Errorf("cursor after the first read %+v, want record 0x0001 of 1", c.selCursor)
	}
	if !snap.Drives[0].FailurePredicted {
		t.Errorf("Drive0 %+v: the fault is on, only its log is old", snap.Drives[0])
	}
	if snap := cleanPoll(t, c); len(snap.Logs) != 0 {
		t.Errorf("nothing new, yet %s", fmtLogs(snap.Logs))
	}
	inject(t, b, bmcsim.FaultSpec{Fault: bmcsim.FaultFanFail, Target: "Fan1"})
	snap = cleanPoll(t, c)
	if len(snap.Logs) != 2 || snap.Logs[0].ID != "0x0002" || snap.Logs[1].ID != "0x0003" ||
		logsFor(snap.Logs, "Fan")[0].Subject != "Fan1" {
		t.Errorf("after fan-fail: %s, want records 0x0002 and 0x0003 about Fan1", fmtLogs(snap.Logs))
	}
	if snap := cleanPoll(t, c); len(snap.Logs) != 0 {
		t.Errorf("reported again: %s", fmtLogs(snap.Logs))
	}
	if c.selCursor.LastRecordID != 3 {
		t.Errorf("cursor %+v, want record 0x0003", c.selCursor)
	}
}

// TestSimIPMITransportFaults: a BMC that stops answering fails the poll as
// timeout before the poll's deadline and is read again once it answers; a
// BMC that forgets its sessions costs one new session and no error.
func TestSimIPMITransportFaults(t *testing.T) {
	f := startIPMIFleet(t, 2)
	t.Run("timeout", func(t *testing.T) {
		t.Parallel()
		b := f.BMCs()[0]
		ep := fleetEndpoint(b)
		ep.RequestTimeout = 300 * time.Millisecond // 100 ms a try
		ep.PollTimeout = 3 * time.Second
		traces := &traceLog{}
		c := newCollector(t, ep, bmc.CollectorOptions{Trace: traces.add})
		cleanPoll(t, c)
		if n := opened(traces); n != 1 {
			t.Fatalf("%d sessions opened by the first poll, want 1", n)
		}
		inject(t, b, bmcsim.FaultSpec{Fault: bmcsim.FaultTimeout})
		before := b.IPMI().Requests()
		start := time.Now()
		snap, err := c.Poll(t.Context())
		took := time.Since(start)
		if err == nil {
			t.Fatalf("poll of a silent BMC succeeded: %+v", snap.Poll)
		}
		if k := bmc.KindOf(err); k != bmc.ErrKindTimeout {
			t.Errorf("poll failed as %q (%v), want timeout", k, err)
		}
		// The deadline bounds the poll (the retry budget ends it sooner);
		// the margin is for a loaded machine.
		if took > ep.PollTimeout+2*time.Second {
			t.Errorf("poll took %v, past its %v deadline", took, ep.PollTimeout)
		}
		if b.IPMI().Requests() == before {
			t.Error("the BMC received nothing while silent")
		}
		if !b.Clear(bmcsim.FaultTimeout) {
			t.Fatal("timeout was not on")
		}
		snap = cleanPoll(t, c)
		if len(snap.Sensors) == 0 || powerFrom(snap, bmc.PowerFromDCMI) == nil {
			t.Errorf("after recovery: %d sensors, power %+v", len(snap.Sensors), snap.Power)
		}
		// The silent session was abandoned (no Close Session waited for)
		// and one new session opened.
		if n := opened(traces); n != 2 {
			t.Errorf("%d sessions opened in all, want 2", n)
		}
	})
	t.Run("session-loss", func(t *testing.T) {
		t.Parallel()
		b := f.BMCs()[1]
		ep := fleetEndpoint(b)
		ep.RequestTimeout = 600 * time.Millisecond
		traces := &traceLog{}
		c := newCollector(t, ep, bmc.CollectorOptions{Trace: traces.add})
		cleanPoll(t, c)
		old := c.sess.client
		inject(t, b, bmcsim.FaultSpec{Fault: bmcsim.FaultSessionLoss})
		if n := b.IPMI().ActiveSessions(); n != 0 {
			t.Fatalf("the BMC holds %d sessions after session-loss, want 0", n)
		}
		snap := cleanPoll(t, c)
		if len(snap.Sensors) == 0 || powerFrom(snap, bmc.PowerFromDCMI) == nil {
			t.Errorf("after the session was lost: %d sensors, power %+v", len(snap.Sensors), snap.Power)
		}
		if n := opened(traces); n != 2 {
			t.Errorf("%d sessions opened, want 2 (one again after the loss)", n)
		}
		if !c.sess.reconnected || c.sess.client == old {
			t.Error("the poll did not open a new session")
		}
		if n := b.IPMI().ActiveSessions(); n != 1 {
			t.Errorf("the BMC holds %d sessions, want the new one", n)
		}
		// And the new session stays: the next poll opens none.
		cleanPoll(t, c)
		if n := opened(traces); n != 2 {
			t.Errorf("%d sessions opened after a steady poll, want still 2", n)
		}
	})
}
