package ipmi

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rackpulse/rackpulse/bmc"
)

// toolSensor is one line of `ipmitool sensor list`, temperatures in
// degrees Celsius.
type toolSensor struct {
	value  *float64
	unit   string // as ipmitool prints it ("degrees F")
	status string
	// lnr, lcr, lnc, unc, ucr, unr; nil where "na".
	thresholds [6]*float64
}

// toCelsius converts what ipmitool prints in degrees F or K.
func toCelsius(unit string, v *float64) *float64 {
	if v == nil {
		return nil
	}
	var c float64
	switch unit {
	case "degrees F":
		c = (*v - 32) / 1.8
	case "degrees K":
		c = *v - 273.15
	default:
		return v
	}
	return &c
}

func parseFloatOrNA(s string) *float64 {
	s = strings.TrimSpace(s)
	if s == "na" || s == "" {
		return nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return nil
	}
	return &v
}

// parseSensorList reads `ipmitool sensor list`; names are cut to 16
// characters there, as in the SDR.
func parseSensorList(out string) map[string]toolSensor {
	m := map[string]toolSensor{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Split(line, "|")
		if len(f) < 10 {
			continue
		}
		ts := toolSensor{status: strings.TrimSpace(f[3]), unit: strings.TrimSpace(f[2])}
		if ts.unit != "discrete" {
			ts.value = toCelsius(ts.unit, parseFloatOrNA(f[1]))
		}
		for i := range 6 {
			ts.thresholds[i] = toCelsius(ts.unit, parseFloatOrNA(f[4+i]))
		}
		m[strings.TrimSpace(f[0])] = ts
	}
	return m
}

// parseSDRElist reads the states column of `ipmitool sdr elist` for
// discrete sensors.
func parseSDRElist(out string) map[string][]string {
	m := map[string][]string{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Split(line, "|")
		if len(f) < 5 {
			continue
		}
		var states []string
		for _, s := range strings.Split(f[4], ",") {
			if s = strings.TrimSpace(s); s != "" {
				states = append(states, s)
			}
		}
		m[strings.TrimSpace(f[0])] = states
	}
	return m
}

func eqPtr(a, b *float64) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return math.Abs(*a-*b) < 0.0005 // ipmitool prints three decimals
}

func fmtPtr(p *float64) string {
	if p == nil {
		return "na"
	}
	return strconv.FormatFloat(*p, 'f', 3, 64)
}

func healthForStatus(status string) bmc.Health {
	switch status {
	case "ok":
		return bmc.HealthOK
	case "nc":
		return bmc.HealthWarning
	case "cr", "nr":
		return bmc.HealthCritical
	}
	return bmc.HealthUnknown
}

func sensorByName(snap *bmc.Snapshot, name string) *bmc.Sensor {
	for i := range snap.Sensors {
		if snap.Sensors[i].Name == name {
			return &snap.Sensors[i]
		}
	}
	return nil
}

// sdrOnlyThresholds are the thresholds of the test BMC's sensors that the
// BMC does not give (Get Sensor Thresholds answers "invalid command", and
// ipmitool prints "na" for all six): the SDR's, from testdata/server.sdrs.
var sdrOnlyThresholds = map[string]bmc.Thresholds{
	"VR Temp": {UpperWarning: ptr(90.0), UpperCritical: ptr(100.0)},
}

func fmtThresholds(th bmc.Thresholds) string {
	return fmt.Sprintf("lw=%s lc=%s uw=%s uc=%s", fmtPtr(th.LowerWarning), fmtPtr(th.LowerCritical), fmtPtr(th.UpperWarning), fmtPtr(th.UpperCritical))
}

func thresholdsEqual(a, b bmc.Thresholds) bool {
	return eqPtr(a.LowerWarning, b.LowerWarning) && eqPtr(a.LowerCritical, b.LowerCritical) &&
		eqPtr(a.UpperWarning, b.UpperWarning) && eqPtr(a.UpperCritical, b.UpperCritical)
}

// assertMatchesIpmitool checks every sensor of snap against ipmitool's
// view of the same simulator: values, status, thresholds, discrete states.
// Temperatures ipmitool prints in degrees F or K are compared in degrees C.
// A sensor whose thresholds the BMC does not give must have the SDR's
// (sdrOnlyThresholds) where ipmitool has none.
func assertMatchesIpmitool(t *testing.T, s *sim, snap *bmc.Snapshot) {
	t.Helper()
	list := parseSensorList(s.ipmitool("sensor", "list"))
	elist := parseSDRElist(s.ipmitool("sdr", "elist"))
	if len(list) == 0 || len(list) != len(snap.Sensors) {
		t.Fatalf("ipmitool lists %d sensors, the collector read %d", len(list), len(snap.Sensors))
	}
	for _, got := range snap.Sensors {
		name := got.Name
		if len(name) > 16 {
			name = name[:16]
		}
		want, ok := list[name]
		if !ok {
			t.Errorf("sensor %q not listed by ipmitool", got.Name)
			continue
		}
		if got.States != nil || got.Kind == bmc.KindOther {
			if got.Value != nil {
				t.Errorf("%s: discrete sensor has value %v", got.Name, *got.Value)
			}
			if w := elist[name]; strings.Join(w, ", ") != strings.Join(got.States, ", ") {
				t.Errorf("%s: states %q, ipmitool %q", got.Name, got.States, w)
			}
			continue
		}
		if !eqPtr(got.Value, want.value) {
			t.Errorf("%s: value %s, ipmitool %s", got.Name, fmtPtr(got.Value), fmtPtr(want.value))
		}
		if h := healthForStatus(want.status); got.Health != h {
			t.Errorf("%s: health %q, ipmitool status %q", got.Name, got.Health, want.status)
		}
		lnr, lcr, lnc, unc, ucr, unr := want.thresholds[0], want.thresholds[1], want.thresholds[2], want.thresholds[3], want.thresholds[4], want.thresholds[5]
		if sdr, ok := sdrOnlyThresholds[got.Name]; ok {
			if slices.ContainsFunc(want.thresholds[:], func(v *float64) bool { return v != nil }) {
				t.Errorf("%s: ipmitool reads thresholds %v from the BMC; the test expects the BMC to give none", got.Name, want.thresholds)
			}
			if !thresholdsEqual(got.Thresholds, sdr) {
				t.Errorf("%s: thresholds %s, want the SDR's %s", got.Name, fmtThresholds(got.Thresholds), fmtThresholds(sdr))
			}
			continue
		}
		if lcr == nil {
			lcr = lnr
		}
		if ucr == nil {
			ucr = unr
		}
		th := got.Thresholds
		if !eqPtr(th.LowerWarning, lnc) || !eqPtr(th.LowerCritical, lcr) || !eqPtr(th.UpperWarning, unc) || !eqPtr(th.UpperCritical, ucr) {
			t.Errorf("%s: thresholds lw=%s lc=%s uw=%s uc=%s, ipmitool lnc=%s lcr/lnr=%s unc=%s ucr/unr=%s", got.Name,
				fmtPtr(th.LowerWarning), fmtPtr(th.LowerCritical), fmtPtr(th.UpperWarning), fmtPtr(th.UpperCritical),
				fmtPtr(lnc), fmtPtr(lcr), fmtPtr(unc), fmtPtr(ucr))
		}
	}
}

// selElist is one line of `ipmitool sel elist`: record id and the fields.
type selLine struct {
	id     uint64
	fields []string
}

func parseSELElist(out string) []selLine {
	var lines []selLine
	for _, line := range strings.Split(out, "\n") {
		f := strings.Split(line, "|")
		if len(f) < 5 {
			continue
		}
		id, err := strconv.ParseUint(strings.TrimSpace(f[0]), 16, 16)
		if err != nil {
			continue
		}
		for i := range f {
			f[i] = strings.TrimSpace(f[i])
		}
		lines = append(lines, selLine{id: id, fields: f})
	}
	return lines
}

// traceLog records the commands the collector sent.
type traceLog struct {
	mu  sync.Mutex
	all []bmc.RequestTrace
}

func (l *traceLog) add(tr bmc.RequestTrace) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.all = append(l.all, tr)
}

func (l *traceLog) count(url string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, tr := range l.all {
		if tr.URL == url {
			n++
		}
	}
	return n
}

func (l *traceLog) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.all = nil
}

func newCollector(t *testing.T, ep bmc.Endpoint, opts bmc.CollectorOptions) *Collector {
	t.Helper()
	c, err := New(ep, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(t.Context()) })
	return c
}

func mustPoll(t *testing.T, c *Collector) *bmc.Snapshot {
	t.Helper()
	snap, err := c.Poll(t.Context())
	if err != nil {
		t.Fatalf("poll: %v", err)
	}
	return snap
}

func TestReadingsEqualIpmitool(t *testing.T) {
	s := startSim(t)
	traces := &traceLog{}
	c := newCollector(t, s.endpoint(""), bmc.CollectorOptions{Trace: traces.add})
	snap := mustPoll(t, c)
	if len(snap.Poll.Errors) != 0 {
		t.Errorf("part errors: %+v", snap.Poll.Errors)
	}
	assertMatchesIpmitool(t, s, snap)

	// The model built from the sensors.
	if got := sensorByName(snap, "PSU2 Input Power"); got == nil || got.Value != nil {
		t.Errorf("PSU2 Input Power (scanning disabled) = %+v, want no value", got)
	}
	if got := sensorByName(snap, "Inlet Temp"); got == nil || got.Context != bmc.ContextIntake {
		t.Errorf("Inlet Temp context: %+v", got)
	}
	if len(snap.CPUs) != 2 || snap.CPUs[0].Socket != "CPU1" || *snap.CPUs[0].TemperatureC != 55 || snap.CPUs[1].Socket != "CPU2" {
		t.Errorf("CPUs: %+v", snap.CPUs)
	}
	if len(snap.PSUs) != 2 || *snap.PSUs[0].InputWatts != 320 || snap.PSUs[0].Health != bmc.HealthOK ||
		snap.PSUs[1].InputWatts != nil || snap.PSUs[1].Health != bmc.HealthCritical || snap.PSUs[1].LineInputStatus != "LossOfInput" {
		t.Errorf("PSUs: %+v", snap.PSUs)
	}
	if len(snap.DIMMs) != 1 || snap.DIMMs[0].Slot != "DIMM A1" || snap.DIMMs[0].Health != bmc.HealthOK {
		t.Errorf("DIMMs: %+v", snap.DIMMs)
	}
	if len(snap.Systems) != 1 || snap.Systems[0].PowerState != "Off" || snap.Systems[0].Health != bmc.HealthCritical {
		t.Errorf("systems: %+v (chassis is off; PSU2 lost AC)", snap.Systems)
	}
	// ipmi_sim has no DCMI: power from the watt sensors, named.
	var fromSensor *bmc.PowerReading
	for i, p := range snap.Power {
		if p.Source == bmc.PowerFromSensor {
			fromSensor = &snap.Power[i]
		}
		if p.Source == bmc.PowerFromDCMI {
			t.Errorf("DCMI reading from a BMC without DCMI: %+v", p)
		}
	}
	if fromSensor == nil || fromSensor.Watts != 340 || fromSensor.Resource != "sensor Sys Power" {
		t.Errorf("power readings: %+v", snap.Power)
	}
	if n := traces.count(cmdGetDCMICapabilities.Name); n != 1 {
		t.Errorf("DCMI probed %d times in the first poll, want 1", n)
	}
	// The first poll only records the SEL position: the old record is not news.
	if len(snap.Logs) != 0 {
		t.Errorf("first poll replayed the old SEL: %+v", snap.Logs)
	}
	firstRequests := snap.Poll.Requests

	// Second poll: SDR and thresholds cached, DCMI remembered unsupported,
	// one session.
	traces.reset()
	snap = mustPoll(t, c)
	assertMatchesIpmitool(t, s, snap)
	if n := traces.count(cmdGetSDR.Name); n != 0 {
		t.Errorf("SDR read again (%d records) though unchanged", n)
	}
	if n := traces.count(cmdGetSensorThresholds.Name); n != 0 {
		t.Errorf("thresholds read again (%d) though the SDR is unchanged", n)
	}
	if n := traces.count(cmdGetDCMICapabilities.Name) + traces.count(cmdGetDCMIPowerReading.Name); n != 0 {
		t.Errorf("DCMI asked again (%d) after the BMC said it has none", n)
	}
	if n := traces.count("Open Session (lanplus)"); n != 0 {
		t.Errorf("a second session was opened")
	}
	// 1 SDR info + the sensors + chassis status + SEL info.
	if snap.Poll.Requests != steadyRoundTrips || snap.Poll.Requests >= firstRequests {
		t.Errorf("second poll made %d round trips (first %d), want %d", snap.Poll.Requests, firstRequests, steadyRoundTrips)
	}
}

func TestLiveChangesAppearInNextPoll(t *testing.T) {
	s := startSim(t)
	c := newCollector(t, s.endpoint(""), bmc.CollectorOptions{})
	mustPoll(t, c) // records the SEL position

	s.consoleCmd(
		"sensor_set_value 0x20 0 1 92 0", // CPU1 Temp 92 C: past UCR 90
		// Correctable ECC on DIMM A1 (sensor 0x0c), then one on a module
		// named in event data 3 of a sensor the SDR does not have.
		"sel_add 0x20 0x02 0x00 0x00 0x00 0x00 0x20 0x00 0x04 0x0c 0x0c 0x6f 0x00 0xff 0xff",
		"sel_add 0x20 0x02 0x00 0x00 0x00 0x00 0x20 0x00 0x04 0x0c 0x30 0x6f 0x30 0xff 0x02",
	)
	snap := mustPoll(t, c)
	assertMatchesIpmitool(t, s, snap)
	cpu := sensorByName(snap, "CPU1 Temp")
	if cpu == nil || cpu.Value == nil || *cpu.Value != 92 || cpu.Health != bmc.HealthCritical {
		t.Errorf("CPU1 Temp after the change: %+v", cpu)
	}
	if snap.CPUs[0].Health != bmc.HealthCritical || *snap.CPUs[0].TemperatureC != 92 {
		t.Errorf("CPU1: %+v", snap.CPUs[0])
	}

	if len(snap.Logs) != 2 {
		t.Fatalf("logs: %+v, want the two new records", snap.Logs)
	}
	e := snap.Logs[0]
	if e.Component != "DIMM" || e.Subject != "DIMM A1" || e.Severity != bmc.HealthWarning || !strings.Contains(e.Message, "Correctable ECC") {
		t.Errorf("first entry: %+v", e)
	}
	if e := snap.Logs[1]; e.Component != "DIMM" || e.Subject != "DIMM 2" || e.Severity != bmc.HealthWarning {
		t.Errorf("second entry: %+v", e)
	}
	// The entries are ipmitool's last two records, with the same ids and
	// event descriptions.
	lines := parseSELElist(s.ipmitool("sel", "elist"))
	if len(lines) != 3 {
		t.Fatalf("ipmitool sel elist: %+v", lines)
	}
	for i, e := range snap.Logs {
		l := lines[1+i]
		id, _ := strconv.ParseUint(strings.TrimPrefix(e.ID, "0x"), 16, 16)
		if id != l.id || !strings.Contains(e.Message, l.fields[4]) || !strings.EqualFold(l.fields[5], "Asserted") {
			t.Errorf("entry %+v, ipmitool %q", e, l.fields)
		}
		if !e.Time.IsZero() {
			t.Errorf("pre-init timestamp (%s) decoded as %v, want zero time", l.fields[1], e.Time)
		}
	}

	// Nothing new: nothing reported.
	if snap := mustPoll(t, c); len(snap.Logs) != 0 {
		t.Errorf("logs repeated: %+v", snap.Logs)
	}
}

func TestSELStateSurvivesRestartAndClear(t *testing.T) {
	s := startSim(t)
	dir := t.TempDir()
	opts := bmc.CollectorOptions{StateDir: dir}
	c1, _ := New(s.endpoint(""), opts)
	mustPoll(t, c1)
	s.consoleCmd("sel_add 0x20 0x02 0x00 0x00 0x00 0x00 0x20 0x00 0x04 0x07 0x0b 0x6f 0x01 0xff 0xff")
	if snap := mustPoll(t, c1); len(snap.Logs) != 1 || snap.Logs[0].Component != "CPU" || snap.Logs[0].Subject != "CPU1" ||
		snap.Logs[0].Severity != bmc.HealthCritical {
		t.Fatalf("thermal trip: %+v", snap.Logs)
	}
	_ = c1.Close(t.Context())

	// A new collector (a poller restart) resumes from the state file.
	s.consoleCmd("sel_add 0x20 0x02 0x00 0x00 0x00 0x00 0x20 0x00 0x04 0x08 0x0d 0x6f 0x01 0xff 0xff")
	c2 := newCollector(t, s.endpoint(""), opts)
	snap := mustPoll(t, c2)
	if len(snap.Logs) != 1 || snap.Logs[0].Component != "PSU" || snap.Logs[0].Subject != "1" || snap.Logs[0].Severity != bmc.HealthCritical {
		t.Fatalf("after restart: %+v, want only the PSU1 failure added meanwhile", snap.Logs)
	}

	// Two correctable errors on DIMM A1: counted once, and carried across
	// a restart by the state file.
	s.consoleCmd(
		"sel_add 0x20 0x02 0x00 0x00 0x00 0x00 0x20 0x00 0x04 0x0c 0x0c 0x6f 0x00 0xff 0xff",
		"sel_add 0x20 0x02 0x00 0x00 0x00 0x00 0x20 0x00 0x04 0x0c 0x0c 0x6f 0x00 0xff 0xff",
	)
	if snap := mustPoll(t, c2); len(snap.Logs) != 2 {
		t.Fatalf("correctable errors: %+v", snap.Logs)
	} else {
		wantDIMMCounts(t, "after two correctable errors", snap, "DIMM A1", 2, 0)
	}
	wantDIMMCounts(t, "in the next poll", mustPoll(t, c2), "DIMM A1", 2, 0)
	_ = c2.Close(t.Context())
	c3 := newCollector(t, s.endpoint(""), opts)
	wantDIMMCounts(t, "after a restart", mustPoll(t, c3), "DIMM A1", 2, 0)

	// Cleared SEL (by someone else): everything in it afterwards is new,
	// and the counts start again from it.
	s.ipmitool("sel", "clear")
	s.consoleCmd("sel_add 0x20 0x02 0x00 0x00 0x00 0x00 0x20 0x00 0x04 0x0c 0x0c 0x6f 0x01 0xff 0xff")
	snap = mustPoll(t, c3)
	if len(snap.Logs) != 1 || snap.Logs[0].Severity != bmc.HealthCritical || snap.Logs[0].Subject != "DIMM A1" {
		t.Fatalf("after clear: %+v, want the uncorrectable ECC added after it", snap.Logs)
	}
	wantDIMMCounts(t, "after the SEL was cleared", snap, "DIMM A1", 0, 1)
}

// wantDIMMCounts checks one DIMM's error counts.
func wantDIMMCounts(t *testing.T, what string, snap *bmc.Snapshot, slot string, correctable, uncorrectable int64) {
	t.Helper()
	for _, d := range snap.DIMMs {
		if d.Slot != slot {
			continue
		}
		if d.CorrectableErrors == nil || *d.CorrectableErrors != correctable || d.UncorrectableErrors == nil || *d.UncorrectableErrors != uncorrectable {
			t.Errorf("%s: %s counts %s correctable, %s uncorrectable; want %d and %d", what, slot,
				fmtCount(d.CorrectableErrors), fmtCount(d.UncorrectableErrors), correctable, uncorrectable)
		}
		return
	}
	t.Errorf("%s: no DIMM %s in %+v", what, slot, snap.DIMMs)
}

// TestSELCheckedEveryPoll: the SEL is checked on every poll whatever the
// slow cadence; one Get SEL Info when nothing was added, the new record in
// the next poll when one was.
func TestSELCheckedEveryPoll(t *testing.T) {
	s := startSim(t)
	ep := s.endpoint("")
	ep.Cadence.Slow = ep.Cadence.Readings * 100
	traces := &traceLog{}
	c := newCollector(t, ep, bmc.CollectorOptions{Trace: traces.add})
	mustPoll(t, c)
	traces.reset()
	snap := mustPoll(t, c)
	if traces.count(cmdGetSELInfo.Name) != 1 || traces.count(cmdGetSELEntry.Name) != 0 || len(snap.Logs) != 0 {
		t.Errorf("SEL unchanged: %d Get SEL Info, %d Get SEL Entry, logs %+v; want 1, 0, none",
			traces.count(cmdGetSELInfo.Name), traces.count(cmdGetSELEntry.Name), snap.Logs)
	}
	if len(snap.Poll.Cached) != 0 || !slices.Contains(snap.Poll.Read, bmc.PartSEL) {
		t.Errorf("read %v, cached %v; want the SEL read and nothing cached", snap.Poll.Read, snap.Poll.Cached)
	}
	s.consoleCmd("sel_add 0x20 0x02 0x00 0x00 0x00 0x00 0x20 0x00 0x04 0x0c 0x0c 0x6f 0x00 0xff 0xff")
	snap = mustPoll(t, c)
	if len(snap.Logs) != 1 || snap.Logs[0].Subject != "DIMM A1" {
		t.Errorf("after sel_add: logs %+v, want the correctable ECC on DIMM A1", snap.Logs)
	}
}

func TestWrongPasswordIsAuthError(t *testing.T) {
	s := startSim(t)
	for _, v15 := range []bool{false, true} {
		ep := s.endpoint("")
		ep.Password = "not-the-password"
		ep.IPMIv15 = v15
		if !v15 {
			// RMCP+: the RAKP exchange answers a wrong password, so a long
			// request timeout is never waited out.
			ep.RequestTimeout = 60 * time.Second
			ep.PollTimeout = 120 * time.Second
		}
		c := newCollector(t, ep, bmc.CollectorOptions{})
		snap, err := c.Poll(t.Context())
		if err == nil || snap != nil {
			t.Fatalf("v1.5=%v: poll with a wrong password: %v", v15, err)
		}
		if k := bmc.KindOf(err); k != bmc.ErrKindAuth {
			t.Errorf("v1.5=%v: kind %q (%v), want auth", v15, k, err)
		}
		if strings.Contains(err.Error(), "not-the-password") {
			t.Errorf("error shows the password: %v", err)
		}
	}
}

func TestIPMIv15Session(t *testing.T) {
	s := startSim(t)
	ep := s.endpoint("")
	ep.IPMIv15 = true
	c := newCollector(t, ep, bmc.CollectorOptions{})
	snap := mustPoll(t, c)
	assertMatchesIpmitool(t, s, snap)
}

func TestUnreachableBMC(t *testing.T) {
	requireTools(t)
	port := freePort(t, "udp") // nothing listens there
	ep := (&sim{port: port}).endpoint("")
	ep.RequestTimeout = 600 * time.Millisecond
	c := newCollector(t, ep, bmc.CollectorOptions{})
	_, err := c.Poll(t.Context())
	var be *bmc.Error
	if err == nil || !errors.As(err, &be) {
		t.Fatalf("poll of a closed port: %v", err)
	}
	if k := be.Kind; k != bmc.ErrKindTimeout && k != bmc.ErrKindUnreachable {
		t.Errorf("kind %q (%v), want timeout or unreachable", k, err)
	}
	if err := c.Close(t.Context()); err != nil {
		t.Errorf("close after a failed poll: %v", err)
	}
}

func TestSessionReestablishedAfterBMCRestart(t *testing.T) {
	s := startSim(t)
	traces := &traceLog{}
	c := newCollector(t, s.endpoint(""), bmc.CollectorOptions{Trace: traces.add})
	mustPoll(t, c)
	s.restart() // the BMC forgets every session
	traces.reset()
	snap := mustPoll(t, c)
	if len(snap.Poll.Errors) != 0 {
		t.Errorf("part errors after reconnect: %+v", snap.Poll.Errors)
	}
	if n := traces.count("Open Session (lanplus)"); n != 1 {
		t.Errorf("%d sessions opened after the restart, want 1", n)
	}
	assertMatchesIpmitool(t, s, snap)
}

func TestFirstReadReportsRecentSELWhenAsked(t *testing.T) {
	s := startSim(t)
	for _, offset := range []string{"0x00", "0x01", "0x00"} { // correctable, uncorrectable, correctable
		s.consoleCmd("sel_add 0x20 0x02 0x00 0x00 0x00 0x00 0x20 0x00 0x04 0x0c 0x0c 0x6f " + offset + " 0xff 0xff")
	}
	all := s.ipmitool("sel", "elist")
	records := strings.Count(strings.TrimSpace(all), "\n") + 1

	// serve: an old SEL is not news.
	if snap := mustPoll(t, newCollector(t, s.endpoint(""), bmc.CollectorOptions{})); len(snap.Logs) != 0 {
		t.Errorf("first read without RecentLogs reported %d entries, want 0", len(snap.Logs))
	}
	// probe: the newest two of the records.
	c := newCollector(t, s.endpoint(""), bmc.CollectorOptions{RecentLogs: 2})
	snap := mustPoll(t, c)
	if len(snap.Logs) != min(2, records) {
		t.Fatalf("first read with RecentLogs 2 reported %d entries, want 2 (SEL holds %d):\n%s", len(snap.Logs), records, all)
	}
	if snap.Logs[0].Severity != bmc.HealthCritical || snap.Logs[1].Severity != bmc.HealthWarning {
		t.Errorf("newest two entries %+v, want the uncorrectable then the correctable ECC", snap.Logs)
	}
	// And afterwards only what is new.
	if snap := mustPoll(t, c); len(snap.Logs) != 0 {
		t.Errorf("second read reported %d old entries again", len(snap.Logs))
	}
}
