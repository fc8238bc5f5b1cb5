package sim

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// rfView reads a machine's parts as a Redfish client does: through the
// BMC's handler with a session, from the profile's own URIs.
type rfView struct {
	t     *testing.T
	m     *machine
	h     http.Handler
	token string
}

func newRFView(t *testing.T, m *machine) *rfView {
	t.Helper()
	h := newRedfishBMC(m, RedfishOptions{Username: testUser, Password: testPass, Expand: m.profile.expand, AllowBasicAuth: m.profile.allowBasic})
	token, _ := mustLogin(t, h)
	return &rfView{t: t, m: m, h: h, token: token}
}

func (v *rfView) modern() bool { return v.m.profile.name == ProfileModern }

func (v *rfView) get(uri string) map[string]any {
	v.t.Helper()
	r := do(v.h, http.MethodGet, uri, "", tok(v.token))
	if r.status != http.StatusOK {
		v.t.Fatalf("GET %s: %d %s", uri, r.status, r.body)
	}
	return r.json(v.t)
}

func (v *rfView) system() string {
	if v.modern() {
		return modernSystem
	}
	return legacySystem
}

// dimm is what a client reads of the i-th DIMM.
type dimmView struct {
	health, serial             string
	correctable, uncorrectable float64
}

func (v *rfView) dimm(i int) dimmView {
	v.t.Helper()
	uri := v.system() + "/Memory/" + v.m.profile.layout.dimms[i].id
	mem, metrics := v.get(uri), v.get(uri+"/MemoryMetrics")
	d := dimmView{health: health(v.t, mem), serial: mem["SerialNumber"].(string)}
	d.correctable = dig(v.t, metrics, "CurrentPeriod", "CorrectableECCErrorCount").(float64)
	d.uncorrectable = dig(v.t, metrics, "CurrentPeriod", "UncorrectableECCErrorCount").(float64)
	if life := dig(v.t, metrics, "LifeTime", "CorrectableECCErrorCount").(float64); life != d.correctable {
		v.t.Errorf("DIMM %d: lifetime count %v, current period %v", i, life, d.correctable)
	}
	return d
}

// cpu is the i-th CPU's temperature and health; every resource that
// publishes them must agree.
func (v *rfView) cpu(i int) (float64, string) {
	v.t.Helper()
	c := v.m.profile.layout.cpus[i]
	proc := v.get(v.system() + "/Processors/" + c.id)
	var temp float64
	var others []string
	if v.modern() {
		temp = dig(v.t, v.get(v.system()+"/Processors/"+c.id+"/ProcessorMetrics"), "TemperatureCelsius").(float64)
		s := v.get(modernChassis + "/Sensors/" + c.id + "Temp")
		if s["Reading"] != temp || dig(v.t, s, "Thresholds", "UpperCaution", "Reading") != float64(cpuCautionCelsius) {
			v.t.Errorf("sensor %s: %v, ProcessorMetrics %v", c.id, s, temp)
		}
		others = append(others, health(v.t, s))
		for _, tm := range dig(v.t, v.get(modernChassis+"/ThermalSubsystem/ThermalMetrics"), "TemperatureReadingsCelsius").([]any) {
			if o := tm.(map[string]any); o["DeviceName"] == c.label && o["Reading"] != temp {
				v.t.Errorf("ThermalMetrics %s reads %v, ProcessorMetrics %v", c.label, o["Reading"], temp)
			}
		}
	} else {
		th := dig(v.t, v.get(legacyChassis+"/Thermal"), "Temperatures", 2+i).(map[string]any)
		if th["Name"] != c.label+" Temp" || th["UpperThresholdNonCritical"] != float64(cpuCautionCelsius) {
			v.t.Errorf("Thermal temperature %d: %v", 2+i, th)
		}
		temp = th["ReadingCelsius"].(float64)
		others = append(others, health(v.t, th))
	}
	h := health(v.t, proc)
	for _, o := range others {
		if o != h {
			v.t.Errorf("CPU %d: Processor health %s, sensor %s", i, h, o)
		}
	}
	return temp, h
}

// psuView is what a client reads of a PSU. line is LineInputStatus where
// the profile publishes it (modern), else "".
type psuView struct {
	health, line            string
	in, out, volts, capWatt float64
}

func (v *rfView) psu(i int) psuView {
	v.t.Helper()
	if v.modern() {
		uri := modernChassis + "/PowerSubsystem/PowerSupplies/" + v.m.profile.layout.psus[i].id
		ps, pm := v.get(uri), v.get(uri+"/Metrics")
		return psuView{
			health: health(v.t, ps), line: ps["LineInputStatus"].(string),
			in:    dig(v.t, pm, "InputPowerWatts", "Reading").(float64),
			out:   dig(v.t, pm, "OutputPowerWatts", "Reading").(float64),
			volts: dig(v.t, pm, "InputVoltage", "Reading").(float64), capWatt: ps["PowerCapacityWatts"].(float64),
		}
	}
	ps := dig(v.t, v.get(legacyChassis+"/Power"), "PowerSupplies", i).(map[string]any)
	return psuView{
		health: health(v.t, ps), in: ps["PowerInputWatts"].(float64), out: ps["LastPowerOutputWatts"].(float64),
		volts: ps["LineInputVoltage"].(float64), capWatt: ps["PowerCapacityWatts"].(float64),
	}
}

// inlet is the intake temperature and its health; every resource that
// publishes the temperature must agree.
func (v *rfView) inlet() (float64, string) {
	v.t.Helper()
	if v.modern() {
		s := v.get(modernChassis + "/Sensors/InletTemp")
		temp := s["Reading"].(float64)
		if env := dig(v.t, v.get(modernChassis+"/EnvironmentMetrics"), "TemperatureCelsius", "Reading"); env != temp {
			v.t.Errorf("EnvironmentMetrics inlet %v, sensor %v", env, temp)
		}
		if tm := dig(v.t, v.get(modernChassis+"/ThermalSubsystem/ThermalMetrics"), "TemperatureReadingsCelsius", 0, "Reading"); tm != temp {
			v.t.Errorf("ThermalMetrics inlet %v, sensor %v", tm, temp)
		}
		if dig(v.t, s, "Thresholds", "UpperCaution", "Reading") != 42.0 || dig(v.t, s, "Thresholds", "UpperCritical", "Reading") != 47.0 {
			v.t.Errorf("inlet thresholds %v", s["Thresholds"])
		}
		return temp, health(v.t, s)
	}
	th := dig(v.t, v.get(legacyChassis+"/Thermal"), "Temperatures", 0).(map[string]any)
	if th["PhysicalContext"] != "Intake" || th["UpperThresholdNonCritical"] != 42.0 || th["UpperThresholdCritical"] != 47.0 {
		v.t.Errorf("legacy inlet %v", th)
	}
	return th["ReadingCelsius"].(float64), health(v.t, th)
}

// redundancy is the PSU redundancy group's health.
func (v *rfView) redundancy() string {
	v.t.Helper()
	if v.modern() {
		return health(v.t, dig(v.t, v.get(modernChassis+"/PowerSubsystem"), "PowerSupplyRedundancy", 0).(map[string]any))
	}
	return health(v.t, dig(v.t, v.get(legacyChassis+"/Power"), "Redundancy", 0).(map[string]any))
}

// inputWatts is the server's input power as the profile publishes it.
func (v *rfView) inputWatts() float64 {
	v.t.Helper()
	if v.modern() {
		return dig(v.t, v.get(modernChassis+"/EnvironmentMetrics"), "PowerWatts", "Reading").(float64)
	}
	return dig(v.t, v.get(legacyChassis+"/Power"), "PowerControl", 0, "PowerConsumedWatts").(float64)
}

type driveView struct {
	health, state, serial string
	predicted             bool
	lifeLeft              float64
}

func (v *rfView) drive(i int) driveView {
	v.t.Helper()
	storage := modernSystem + "/Storage/1"
	if !v.modern() {
		storage = legacySystem + "/Storage/RAID.Integrated.1-1"
	}
	d := v.get(storage + "/Drives/" + v.m.profile.layout.drives[i].id)
	return driveView{
		health: health(v.t, d), state: dig(v.t, d, "Status", "State").(string), serial: d["SerialNumber"].(string),
		predicted: d["FailurePredicted"].(bool), lifeLeft: d["PredictedMediaLifeLeftPercent"].(float64),
	}
}

func (v *rfView) systemHealth() string {
	v.t.Helper()
	return health(v.t, v.get(v.system()))
}

// logs are the log entries the profile serves.
func (v *rfView) logs() []map[string]any {
	v.t.Helper()
	uri := modernSystem + "/LogServices/Log1/Entries"
	if !v.modern() {
		uri = "/redfish/v1/Managers/iDRAC.Embedded.1/LogServices/Sel/Entries"
	}
	var out []map[string]any
	for _, e := range v.get(uri)["Members"].([]any) {
		out = append(out, e.(map[string]any))
	}
	return out
}

// lastLog is the newest log entry.
func (v *rfView) lastLog() map[string]any {
	v.t.Helper()
	logs := v.logs()
	return logs[len(logs)-1]
}

func wantLog(t *testing.T, e map[string]any, severity, message string) {
	t.Helper()
	if e["Severity"] != severity || e["Message"] != message {
		t.Errorf("log entry %q %q, want %s %q", e["Severity"], e["Message"], severity, message)
	}
}

// checkReplaced checks a part's replacement after its fault was cleared:
// the newest log entry says so and names the new serial number, which
// differs from the old one and stays put.
func checkReplaced(t *testing.T, v *rfView, label, oldSerial, newSerial, again string) {
	t.Helper()
	if newSerial == oldSerial || len(newSerial) != len(oldSerial) || again != newSerial {
		t.Errorf("%s serial %q before, %q after the replacement, then %q", label, oldSerial, newSerial, again)
	}
	e := v.lastLog()
	if e["Severity"] != "OK" || !strings.Contains(e["Message"].(string), label+" was replaced") || !strings.Contains(e["Message"].(string), newSerial) {
		t.Errorf("replacement entry %q %q, want OK naming %s and %s", e["Severity"], e["Message"], label, newSerial)
	}
}

// TestRedfishNewFaults drives each fault on both synthetic profiles and
// checks what a client reads through the BMC's handler, then what clearing
// it leaves.
func TestRedfishNewFaults(t *testing.T) {
	tests := []struct {
		name  string
		spec  FaultSpec
		check func(t *testing.T, v *rfView, clock *fakeClock)
	}{
		{"dimm-ecc at 3 a step, then replaced", FaultSpec{Fault: FaultDIMMECC, Target: "2", Count: 3}, func(t *testing.T, v *rfView, clock *fakeClock) {
			label := v.m.profile.layout.dimms[2].label
			before := v.dimm(2)
			since := clock.t
			wantLog(t, v.lastLog(), "Warning", fmt.Sprintf("Correctable memory errors detected on %s.", label))
			// Warning past 16 (step 6: 18), Critical past 64 (step 22: 66).
			for step := 1; step <= 22; step++ {
				d := v.dimm(2)
				want, unc := "OK", 0.0
				switch {
				case step >= 22:
					want, unc = "Critical", 1
				case step >= 6:
					want = "Warning"
				}
				if d.correctable != float64(3*step) || d.uncorrectable != unc || d.health != want {
					t.Fatalf("step %d: %+v, want %d correctable, %v uncorrectable, %s", step, d, 3*step, unc, want)
				}
				// The rate is logged as exceeded at the step the health
				// turns Warning, not before.
				if rate := fmt.Sprintf("Correctable memory error rate exceeded for %s.", label); (v.lastLog()["Message"] == rate) != (step >= 6 && step < 22) {
					t.Errorf("step %d: newest log entry %q", step, v.lastLog()["Message"])
				}
				if step < 22 {
					clock.advance(DefaultFaultStep)
				}
			}
			crit := v.lastLog()
			wantLog(t, crit, "Critical", fmt.Sprintf("Multi-bit memory errors detected on %s.", label))
			if crit["Created"] != redfishTime(since.Add(21*DefaultFaultStep)) {
				t.Errorf("critical entry dated %v, want the step it crossed at", crit["Created"])
			}
			if rate := v.logs()[len(v.logs())-2]; rate["Severity"] != "Warning" || rate["Created"] != redfishTime(since.Add(5*DefaultFaultStep)) {
				t.Errorf("rate entry %v, want Warning dated at step 6", rate)
			}
			if !v.m.clear(FaultDIMMECC) {
				t.Fatal("dimm-ecc was not on")
			}
			after := v.dimm(2)
			if after.correctable != 0 || after.uncorrectable != 0 || after.health != "OK" || v.systemHealth() != "OK" {
				t.Errorf("replaced DIMM %+v, system %s: want clean and OK", after, v.systemHealth())
			}
			clock.advance(time.Hour)
			checkReplaced(t, v, label, before.serial, after.serial, v.dimm(2).serial)
			if v.dimm(3).serial != v.m.serial(v.m.profile.layout.dimmSerialPrefix, 3) {
				t.Errorf("DIMM 3 (not replaced) changed serial")
			}
			// The critical entry stays in the log after the fault ended.
			n := 0
			for _, e := range v.logs() {
				if e["Message"] == crit["Message"] {
					n++
				}
			}
			if n != 1 {
				t.Errorf("the critical entry appears %d times after the replacement", n)
			}
		}},
		{"dimm-uncorrectable, then replaced", FaultSpec{Fault: FaultDIMMUncorrectable, Target: "5"}, func(t *testing.T, v *rfView, _ *fakeClock) {
			label := v.m.profile.layout.dimms[5].label
			d := v.dimm(5)
			if d.uncorrectable != 1 || d.correctable != 0 || d.health != "Critical" || v.systemHealth() != "Critical" {
				t.Errorf("DIMM %+v, system %s: want one uncorrectable error, Critical", d, v.systemHealth())
			}
			wantLog(t, v.lastLog(), "Critical", fmt.Sprintf("Multi-bit memory errors detected on %s.", label))
			if o := v.dimm(4); o.health != "OK" || o.uncorrectable != 0 {
				t.Errorf("DIMM 4 (not faulted) %+v", o)
			}
			v.m.clear(FaultDIMMUncorrectable)
			after := v.dimm(5)
			if after.uncorrectable != 0 || after.health != "OK" {
				t.Errorf("replaced DIMM %+v", after)
			}
			checkReplaced(t, v, label, d.serial, after.serial, v.dimm(5).serial)
		}},
		{"cpu-oscillate by 3 °C", FaultSpec{Fault: FaultCPUOscillate, Target: "1", Swing: 3}, func(t *testing.T, v *rfView, clock *fakeClock) {
			for step := 1; step <= 6; step++ {
				temp, h := v.cpu(1)
				want, wantHealth := 88.0, "Warning"
				if step%2 == 0 {
					want, wantHealth = 82.0, "OK"
				}
				if temp != want || h != wantHealth {
					t.Errorf("step %d: CPU 2 at %v °C %s, want %v °C %s", step, temp, h, want, wantHealth)
				}
				if _, h := v.cpu(0); h != "OK" {
					t.Errorf("CPU 1 (not faulted) %s", h)
				}
				clock.advance(DefaultFaultStep)
			}
			v.m.clear(FaultCPUOscillate)
			if temp, h := v.cpu(1); temp >= cpuCautionCelsius-5 || h != "OK" {
				t.Errorf("CPU 2 after clearing: %v °C %s", temp, h)
			}
			wantLog(t, v.lastLog(), "OK", v.m.profile.layout.cpus[1].label+": cpu-oscillate returned to normal.")
		}},
		{"inlet-hot", FaultSpec{Fault: FaultInletHot}, func(t *testing.T, v *rfView, clock *fakeClock) {
			// From 4 °C under caution (42), 2 °C a step, to 2 °C past
			// critical (47).
			for step, want := range []struct {
				temp   float64
				health string
			}{{40, "OK"}, {42, "Warning"}, {44, "Warning"}, {46, "Warning"}, {48, "Critical"}, {49, "Critical"}, {49, "Critical"}} {
				temp, h := v.inlet()
				if temp != want.temp || h != want.health || v.systemHealth() != want.health {
					t.Errorf("step %d: inlet %v °C %s, system %s; want %v °C %s", step+1, temp, h, v.systemHealth(), want.temp, want.health)
				}
				clock.advance(DefaultFaultStep)
			}
			wantLog(t, v.logs()[len(v.logs())-1], "Warning", "The system board inlet temperature is rising.")
			v.m.clear(FaultInletHot)
			if temp, h := v.inlet(); temp > 40 || h != "OK" || v.systemHealth() != "OK" {
				t.Errorf("inlet after clearing: %v °C %s", temp, h)
			}
			wantLog(t, v.lastLog(), "OK", "The system: inlet-hot returned to normal.")
		}},
		{"psu-input-loss", FaultSpec{Fault: FaultPSUInputLoss, Target: "0"}, func(t *testing.T, v *rfView, _ *fakeClock) {
			lost, other := v.psu(0), v.psu(1)
			if lost.health != "Critical" || lost.in != 0 || lost.out != 0 || lost.volts != 0 {
				t.Errorf("PSU without input: %+v, want Critical, 0 W, 0 V", lost)
			}
			if v.modern() && lost.line != "LossOfInput" {
				t.Errorf("LineInputStatus %q, want LossOfInput", lost.line)
			}
			if v.modern() && (other.line != "Normal" || other.in != v.inputWatts()) {
				t.Errorf("PSU 2 %+v does not carry the %v W", other, v.inputWatts())
			}
			if other.health != "OK" || other.out < v.m.profile.layout.idleWatts || v.redundancy() != "Warning" {
				t.Errorf("PSU 2 %+v, redundancy %s: want it carrying the load, redundancy Warning", other, v.redundancy())
			}
			wantLog(t, v.lastLog(), "Critical", fmt.Sprintf("Power supply %s input lost.", v.m.profile.layout.psus[0].label))
			v.m.clear(FaultPSUInputLoss)
			if back := v.psu(0); back.health != "OK" || back.out <= 0 || back.volts < 225 || v.redundancy() != "OK" {
				t.Errorf("PSU 1 after clearing %+v, redundancy %s", back, v.redundancy())
			}
		}},
		{"psu-fail keeps its input", FaultSpec{Fault: FaultPSUFail, Target: "1"}, func(t *testing.T, v *rfView, _ *fakeClock) {
			failed := v.psu(1)
			if failed.health != "Critical" || failed.out != 0 || failed.volts < 225 || (v.modern() && (failed.line != "Normal" || failed.in != 0)) {
				t.Errorf("failed PSU %+v, want Critical, no output, line input normal", failed)
			}
			if v.redundancy() != "Warning" {
				t.Errorf("redundancy %s", v.redundancy())
			}
			wantLog(t, v.lastLog(), "Critical", fmt.Sprintf("Power supply %s failed.", v.m.profile.layout.psus[1].label))
		}},
		{"drive-fail, then replaced", FaultSpec{Fault: FaultDriveFail, Target: "1"}, func(t *testing.T, v *rfView, _ *fakeClock) {
			label := v.m.profile.layout.drives[1].label
			d := v.drive(1)
			if d.health != "Critical" || d.state != "Enabled" || d.predicted || v.systemHealth() != "Critical" {
				t.Errorf("failed drive %+v, system %s", d, v.systemHealth())
			}
			wantLog(t, v.lastLog(), "Critical", fmt.Sprintf("Fault detected on drive %s.", label))
			if o := v.drive(0); o.health != "OK" {
				t.Errorf("drive 0 (not faulted) %+v", o)
			}
			v.m.clear(FaultDriveFail)
			after := v.drive(1)
			if after.health != "OK" || after.lifeLeft != 100 {
				t.Errorf("replaced drive %+v, want OK and new", after)
			}
			checkReplaced(t, v, label, d.serial, after.serial, v.drive(1).serial)
		}},
		{"drive-predicted-failure, then replaced", FaultSpec{Fault: FaultDrivePredictedFailure}, func(t *testing.T, v *rfView, _ *fakeClock) {
			d := v.drive(0)
			if d.health != "Warning" || !d.predicted || d.lifeLeft != driveLifeLeftLow {
				t.Errorf("drive %+v", d)
			}
			// A drive that then fails outright is replaced once for both.
			if err := v.m.inject(FaultSpec{Fault: FaultDriveFail}); err != nil {
				t.Fatal(err)
			}
			if d := v.drive(0); d.health != "Critical" || !d.predicted {
				t.Errorf("predicted then failed: %+v", d)
			}
			v.m.clear(FaultDrivePredictedFailure)
			after := v.drive(0)
			if after.health != "OK" || after.predicted {
				t.Errorf("replaced drive %+v", after)
			}
			if got := v.m.activeFaults(); len(got) != 0 {
				t.Errorf("faults on the replaced drive: %v", got)
			}
			checkReplaced(t, v, v.m.profile.layout.drives[0].label, d.serial, after.serial, v.drive(0).serial)
		}},
		{"overload", FaultSpec{Fault: FaultOverload}, func(t *testing.T, v *rfView, clock *fakeClock) {
			l := &v.m.profile.layout
			share := float64(rackBudgetWatts([]float64{l.maxInputWatts()}))
			for range 12 {
				in := v.inputWatts()
				if in <= share || in < 2*l.maxInputWatts()*0.9 {
					t.Errorf("overloaded server draws %v W: want above a one-server rack's %v W budget", in, share)
				}
				for i := range l.psus {
					p := v.psu(i)
					if v.modern() || i == 0 { // legacy PS2 publishes its rating as its input (QuirkPSUInputIsRating)
						if p.in >= p.capWatt || p.in < in/2-1 {
							t.Errorf("PSU %d input %v W with rating %v W, server %v W", i, p.in, p.capWatt, in)
						}
					}
				}
				for i := range l.cpus {
					if temp, h := v.cpu(i); h != "OK" || temp >= cpuCautionCelsius {
						t.Errorf("CPU %d at %v °C %s under overload", i, temp, h)
					}
				}
				if v.systemHealth() != "OK" {
					t.Errorf("system %s under overload", v.systemHealth())
				}
				clock.advance(7 * time.Minute)
			}
			wantLog(t, v.lastLog(), "Warning", fmt.Sprintf("The system input power (about %.0f W) is above its normal range.", l.overloadInputWatts()))
			v.m.clear(FaultOverload)
			if in := v.inputWatts(); in > l.maxInputWatts() {
				t.Errorf("after clearing: %v W", in)
			}
			wantLog(t, v.lastLog(), "OK", "The system: overload returned to normal.")
		}},
	}
	for _, prof := range SyntheticProfiles() {
		for _, tc := range tests {
			t.Run(prof+"/"+tc.name, func(t *testing.T) {
				m, clock := newTestMachine(t, prof)
				v := newRFView(t, m)
				if v.systemHealth() != "OK" {
					t.Fatalf("before the fault: %s", v.systemHealth())
				}
				if err := m.inject(tc.spec); err != nil {
					t.Fatal(err)
				}
				tc.check(t, v, clock)
			})
		}
	}
}

func TestFaultSpecFields(t *testing.T) {
	m, _ := newTestMachine(t, ProfileModern)
	for _, tc := range []struct {
		spec FaultSpec
		want string
	}{
		{FaultSpec{Fault: FaultCPUHot, Count: 4}, "count applies to dimm-ecc only"},
		{FaultSpec{Fault: FaultDIMMECC, Count: -1}, "count -1"},
		{FaultSpec{Fault: FaultDIMMECC, Swing: 2}, "swing applies to cpu-oscillate only"},
		{FaultSpec{Fault: FaultCPUOscillate, Swing: 0.5}, "swing 0.5"},
		{FaultSpec{Fault: FaultCPUOscillate, Swing: 10}, "below 10"},
		{FaultSpec{Fault: FaultOverload, Target: "PSU1"}, "no target"},
		{FaultSpec{Fault: FaultInletHot, Target: "Fan1"}, "no target"},
		{FaultSpec{Fault: FaultDriveFail, Target: "NVMe9"}, "NVMe9"},
	} {
		if err := m.inject(tc.spec); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want one saying %q", tc.spec, err, tc.want)
		}
	}
	if got := m.activeFaults(); len(got) != 0 {
		t.Errorf("refused faults are on: %v", got)
	}
	for _, f := range DataFaults() {
		if _, err := ParseFault(string(f)); err != nil {
			t.Errorf("ParseFault(%s): %v", f, err)
		}
	}
}
