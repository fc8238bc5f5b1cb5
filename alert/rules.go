package alert

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rackpulse/rackpulse/bmc"
	"github.com/rackpulse/rackpulse/power"
)

// serverEval is one evaluation of a server's rules on one good poll. It is
// reused across evaluations (the engine holds one), so that evaluating a
// healthy server allocates nothing.
type serverEval struct {
	st    *serverState
	snap  *bmc.Snapshot
	psu   power.PSUStatus
	set   *Settings
	now   time.Time
	found []finding
	// sockets holds the CPUs' labels, in CPUs order.
	sockets []string
	// changed: the evaluation changed state worth saving (a DIMM's
	// counter track).
	changed bool
}

// firing is the severity the rule's alert on subject fires at now (none
// when it is not firing): dead bands keep a firing alert up.
func (ev *serverEval) firing(r rule, subject string) Severity {
	for _, a := range ev.st.alerts {
		if a.rule == r && a.subject == subject && a.alert.State == StateFiring {
			return a.alert.Severity
		}
	}
	return SeverityNone
}

// partFailed reports whether any of parts failed to read this poll.
func (ev *serverEval) partFailed(parts ...bmc.Part) bool {
	for _, e := range ev.snap.Poll.Errors {
		if slices.Contains(parts, e.Part) {
			return true
		}
	}
	return false
}

// partRead reports whether a part was read or carried over this poll.
func (ev *serverEval) partRead(p bmc.Part) bool {
	return slices.Contains(ev.snap.Poll.Read, p) || slices.Contains(ev.snap.Poll.Cached, p)
}

// thresholdLevel compares a value with upper thresholds, with a dead band
// below each for an alert already firing at that level: it fires at warn
// (crit), and a firing alert stays until the value drops below the
// threshold less the dead band.
func thresholdLevel(v, warn, crit, deadBand float64, firing Severity) (Severity, float64) {
	switch {
	case v >= crit:
		return SeverityCritical, crit
	case firing == SeverityCritical && v >= crit-deadBand:
		return SeverityCritical, crit
	case v >= warn:
		return SeverityWarning, warn
	case firing >= SeverityWarning && v >= warn-deadBand:
		return SeverityWarning, warn
	}
	return SeverityNone, warn
}

// upperThresholds are a sensor's warning and critical upper thresholds, the
// defaults where the BMC publishes none; a BMC with only a critical one
// warns there too.
func upperThresholds(t bmc.Thresholds, defWarn, defCrit float64) (warn, crit float64, fromBMC bool) {
	warn, crit = defWarn, defCrit
	switch {
	case t.UpperWarning != nil && t.UpperCritical != nil:
		warn, crit, fromBMC = *t.UpperWarning, *t.UpperCritical, true
	case t.UpperWarning != nil:
		warn, fromBMC = *t.UpperWarning, true
		crit = max(crit, warn)
	case t.UpperCritical != nil:
		crit, fromBMC = *t.UpperCritical, true
		warn = min(warn, crit)
	}
	return warn, crit, fromBMC
}

func healthSeverity(h bmc.Health) Severity {
	switch h {
	case bmc.HealthWarning:
		return SeverityWarning
	case bmc.HealthCritical:
		return SeverityCritical
	}
	return SeverityNone
}

// merge adds f into found, keeping one finding per key: the worse
// severity explains it; a reading anywhere makes it reading-based.
func merge(found []finding, f finding) []finding {
	for i := range found {
		if found[i].key == f.key {
			fromReading := found[i].fromReading || f.fromReading
			if f.sev > found[i].sev {
				found[i] = f
			}
			found[i].fromReading = fromReading
			return found
		}
	}
	return append(found, f)
}

// dimms evaluates DIMMFailing: uncorrectable errors, correctable errors
// per window (counter deltas), the BMC's DIMM health, and memory events.
func (ev *serverEval) dimms() {
	set := ev.set
	memoryRead := ev.partRead(bmc.PartMemory) && !ev.partFailed(bmc.PartMemory)
	for i := range ev.snap.DIMMs {
		d := &ev.snap.DIMMs[i]
		if d.State == "Absent" || d.Slot == "" {
			continue
		}
		tr := ev.st.dimm(i, d.Slot)
		if memoryRead {
			had, known := len(tr.Increments), tr.Known
			if tr.observe(d.Serial, d.CorrectableErrors, d.CountsFromZero, ev.now) {
				ev.st.clearEvents(ruleDIMM, d.Slot, ev.now)
				ev.changed = true
			}
			ev.changed = ev.changed || len(tr.Increments) != had || tr.Known != known
		}
		ue := d.UncorrectableErrors != nil && *d.UncorrectableErrors > 0
		n := tr.inWindow(ev.now, set.DIMMCorrectableWindow)
		if !ue && n < int64(set.DIMMCorrectableLimit) && d.Health != bmc.HealthWarning && d.Health != bmc.HealthCritical {
			continue // a healthy DIMM
		}
		f := finding{key: key{rule: ruleDIMM, subject: d.Slot}, fromReading: true, serial: d.Serial, part: d.PartNumber}
		switch {
		case ue:
			f.sev, f.what = SeverityCritical, plural(*d.UncorrectableErrors, "uncorrectable error")
			f.value, f.hasValue = float64(*d.UncorrectableErrors), true
		case d.Health == bmc.HealthCritical:
			f.sev, f.what = SeverityCritical, "the BMC reports its health Critical"
		}
		if n >= int64(set.DIMMCorrectableLimit) && f.sev == SeverityNone {
			f.sev = SeverityWarning
			f.what = fmt.Sprintf("%s in %s", plural(n, "correctable error"), humanDuration(set.DIMMCorrectableWindow))
			f.value, f.threshold, f.hasValue, f.hasThresh = float64(n), float64(set.DIMMCorrectableLimit), true, true
		}
		if f.sev == SeverityNone && d.Health == bmc.HealthWarning {
			f.sev, f.what = SeverityWarning, "the BMC reports its health Warning"
		}
		if f.sev > SeverityNone {
			f.source = firstNonEmpty(d.Source, "DIMM "+d.Slot)
			ev.found = merge(ev.found, f)
		}
	}
	ev.eventFindings(ruleDIMM, ev.serialOf)
}

func (ev *serverEval) serialOf(slot string) (serial, part string) {
	for i := range ev.snap.DIMMs {
		if ev.snap.DIMMs[i].Slot == slot {
			return ev.snap.DIMMs[i].Serial, ev.snap.DIMMs[i].PartNumber
		}
	}
	return "", ""
}

// eventFindings adds the conditions log entries raised for a rule that
// still hold.
func (ev *serverEval) eventFindings(r rule, ident func(string) (string, string)) {
	for _, c := range ev.st.events {
		if c.Rule != r || !ev.now.Before(c.Until) {
			continue
		}
		f := finding{key: key{rule: r, subject: c.Subject}, sev: c.Sev, what: c.What, source: c.Source}
		if ident != nil {
			f.serial, f.part = ident(c.Subject)
		}
		ev.found = merge(ev.found, f)
	}
}

// sensors evaluates the sensor rules in one pass: CPUHot on each CPU
// package temperature against the BMC's thresholds (the defaults where it
// has none), InletHot on intake temperatures, FanFailed on fans; then
// CPUHot on the processors' own temperatures and health, and thermal
// events.
func (ev *serverEval) sensors(cpu, inlet, fan bool) {
	set := ev.set
	sockets := ev.sockets[:0]
	if cpu {
		for j := range ev.snap.CPUs {
			sockets = append(sockets, ev.st.socketLabel(ev.snap.CPUs[j].Socket))
		}
	}
	ev.sockets = sockets
	sensed := 0 // CPUs with a temperature sensor, a bit per index in CPUs
	for i := range ev.snap.Sensors {
		s := &ev.snap.Sensors[i]
		switch {
		case s.Kind == bmc.KindFan:
			if fan {
				ev.fan(s)
			}
		case s.Kind != bmc.KindTemperature || s.Value == nil:
		case cpu && isContext(s.Context, bmc.ContextCPU):
			label := ev.st.cpuSensorLabel(s.Name, ev.snap.CPUs)
			if label == "" {
				continue
			}
			for j, l := range sockets {
				if l == label {
					sensed |= 1 << j
				}
			}
			warn, crit, fromBMC := upperThresholds(s.Thresholds, set.CPUWarningCelsius, set.CPUCriticalCelsius)
			if f, ok := ev.temperature(ruleCPU, label, *s.Value, warn, crit, fromBMC); ok {
				f.source = s.Source + " (" + s.Name + ")"
				ev.found = merge(ev.found, f)
			}
		case inlet && isContext(s.Context, bmc.ContextIntake):
			warn, crit, fromBMC := upperThresholds(s.Thresholds, set.InletWarningCelsius, set.InletCriticalCelsius)
			if f, ok := ev.temperature(ruleInlet, s.Name, *s.Value, warn, crit, fromBMC); ok {
				f.source = s.Source
				ev.found = merge(ev.found, f)
			}
		}
	}
	if !cpu {
		return
	}
	for j := range ev.snap.CPUs {
		c := &ev.snap.CPUs[j]
		label := sockets[j]
		if sensed&(1<<j) == 0 && c.TemperatureC != nil {
			if f, ok := ev.temperature(ruleCPU, label, *c.TemperatureC, set.CPUWarningCelsius, set.CPUCriticalCelsius, false); ok {
				f.source = "Processor " + c.Socket
				ev.found = merge(ev.found, f)
			}
		}
		if sev := healthSeverity(c.Health); sev > SeverityNone {
			ev.found = merge(ev.found, finding{key: key{rule: ruleCPU, subject: label}, sev: sev, fromReading: true,
				what: "the BMC reports its health " + string(c.Health), source: "Processor " + c.Socket})
		}
	}
	ev.eventFindings(ruleCPU, nil)
}

// cpuSensorLabel names the CPU a CPU temperature sensor measures ("" for
// one that is not a package temperature), remembered per sensor name so
// that a poll allocates nothing for it.
func (st *serverState) cpuSensorLabel(name string, cpus []bmc.CPU) string {
	for _, n := range st.names {
		if n.name == name && n.sensor {
			return n.label
		}
	}
	label := ""
	if packageSensor(name) {
		label = cpuLabel(name)
		if len(cpus) == 1 && cpuNumber(name) == "" {
			label = cpuLabel(cpus[0].Socket)
		}
	}
	st.names = append(st.names, nameLabel{name: name, label: label, sensor: true})
	return label
}

// socketLabel is a CPU socket's label, remembered like cpuSensorLabel.
func (st *serverState) socketLabel(socket string) string {
	for _, n := range st.names {
		if n.name == socket && !n.sensor {
			return n.label
		}
	}
	label := cpuLabel(socket)
	st.names = append(st.names, nameLabel{name: socket, label: label})
	return label
}

// nameLabel is a remembered CPU label of a sensor or socket name.
type nameLabel struct {
	name, label string
	sensor      bool
}

// packageSensor tells a CPU package temperature from the other sensors a
// BMC files under the CPU: margins (which count down to 0), VRs, DIMMs.
func packageSensor(name string) bool {
	n := strings.ToLower(name)
	for _, not := range []string{"margin", "vr", "dimm", "mem", "vccin", "vrm"} {
		if strings.Contains(n, not) {
			return false
		}
	}
	return true
}

// temperature is a temperature rule's finding for a reading, if its
// condition holds; the caller names the source.
func (ev *serverEval) temperature(r rule, subject string, v, warn, crit float64, fromBMC bool) (finding, bool) {
	sev, thr := thresholdLevel(v, warn, crit, ev.set.TemperatureDeadBandCelsius, ev.firing(r, subject))
	if sev == SeverityNone {
		return finding{}, false
	}
	whose := "the default"
	if fromBMC {
		whose = "the BMC's"
	}
	level := "caution"
	if thr == crit {
		level = "critical"
	}
	return finding{key: key{rule: r, subject: subject}, sev: sev, fromReading: true, value: v, threshold: thr, hasValue: true, hasThresh: true,
		what: fmt.Sprintf("%s °C, at or above %s %s threshold %s °C", formatFloat(v), whose, level, formatFloat(thr))}, true
}

// psus evaluates PSUFailed and PSURedundancyLost.
func (ev *serverEval) psus() {
	for i := range ev.snap.PSUs {
		p := &ev.snap.PSUs[i]
		if !power.Present(p) {
			continue
		}
		var what string
		switch {
		case p.LineInputStatus != "" && p.LineInputStatus != "Normal" && p.LineInputStatus != "Unknown":
			what = "input lost (" + p.LineInputStatus + "): check its feed and cord"
		case p.Health == bmc.HealthCritical:
			what = "failed (health Critical)"
		case p.State == "UnavailableOffline" || p.State == "Disabled":
			what = "failed (" + p.State + ")"
		case p.FailurePredicted:
			what = "failure predicted"
		default:
			continue
		}
		ev.found = merge(ev.found, finding{key: key{rule: rulePSUFailed, subject: p.Bay}, sev: SeverityCritical, fromReading: true,
			what: what, serial: p.Serial, part: p.Model, source: firstNonEmpty(p.Source, "PSU "+p.Bay+psuSource(p))})
	}
	// Only lost: redundancy the server had, taken away by a failure. A
	// single supply or a group the BMC configured NotRedundant
	// (not_redundant) is a configuration, never an alert.
	if ev.psu.Redundancy == power.RedundancyLost {
		ev.found = merge(ev.found, finding{key: key{rule: rulePSURedundancy, subject: ""}, sev: SeverityWarning, fromReading: true,
			what: "PSU redundancy lost: " + ev.psu.Reason, source: fmt.Sprintf("%d of %d present supplies working", ev.psu.Working, ev.psu.Present)})
	}
}

func psuSource(p *bmc.PSU) string {
	if p.Chassis != "" {
		return " in chassis " + p.Chassis
	}
	return ""
}

// fan evaluates FanFailed on one fan: Critical, or reading below its
// lower critical threshold.
func (ev *serverEval) fan(s *bmc.Sensor) {
	below := s.Value != nil && s.Thresholds.LowerCritical != nil && *s.Value < *s.Thresholds.LowerCritical
	if !below && s.Health != bmc.HealthCritical {
		return
	}
	f := finding{key: key{rule: ruleFan, subject: s.Name}, sev: SeverityWarning, fromReading: true, source: s.Source}
	switch {
	case below:
		f.value, f.threshold, f.hasValue, f.hasThresh = *s.Value, *s.Thresholds.LowerCritical, true, true
		f.what = fmt.Sprintf("%s %s, below the lower critical threshold %s %s", formatFloat(*s.Value), s.Unit, formatFloat(*s.Thresholds.LowerCritical), s.Unit)
	default:
		f.what = "failed (health Critical)"
		if s.Value != nil {
			f.value, f.hasValue = *s.Value, true
			f.what = fmt.Sprintf("failed (health Critical, %s %s)", formatFloat(*s.Value), s.Unit)
		}
	}
	ev.found = merge(ev.found, f)
}

// drives evaluates DriveFailing.
func (ev *serverEval) drives() {
	for i := range ev.snap.Drives {
		d := &ev.snap.Drives[i]
		if d.State == "Absent" {
			continue
		}
		f := finding{key: key{rule: ruleDrive, subject: d.Bay}, fromReading: true, serial: d.Serial, part: d.Model}
		switch {
		case d.Health == bmc.HealthCritical:
			f.sev, f.what = SeverityCritical, "failed (health Critical)"
		case d.FailurePredicted:
			f.sev, f.what = SeverityWarning, "failure predicted"
			if d.LifeLeftPercent != nil {
				f.what += fmt.Sprintf(", %s %% media life left", formatFloat(*d.LifeLeftPercent))
			}
		case d.Health == bmc.HealthWarning:
			f.sev, f.what = SeverityWarning, "the BMC reports its health Warning"
		default:
			continue
		}
		f.source = firstNonEmpty(d.Source, "Drive "+d.Bay)
		ev.found = merge(ev.found, f)
	}
}

// shows reports whether this poll has a reading of an alert's component
// that can show its recovery: the parts it comes from were read without
// error, and the component is there.
func (ev *serverEval) shows(k key) bool {
	snap := ev.snap
	switch k.rule {
	case ruleDIMM:
		if ev.partFailed(bmc.PartMemory) {
			return false
		}
		// A slot the memory read no longer lists is empty: the DIMM is gone.
		return ev.partRead(bmc.PartMemory) || slices.ContainsFunc(snap.DIMMs, func(d bmc.DIMM) bool { return d.Slot == k.subject })
	case ruleCPU:
		if ev.partFailed(bmc.PartThermal, bmc.PartSensors, bmc.PartSDR, bmc.PartCPU) {
			return false
		}
		for i := range snap.Sensors {
			s := &snap.Sensors[i]
			if s.Kind == bmc.KindTemperature && isContext(s.Context, bmc.ContextCPU) && s.Value != nil && ev.st.cpuSensorLabel(s.Name, snap.CPUs) == k.subject {
				return true
			}
		}
		return slices.ContainsFunc(snap.CPUs, func(c bmc.CPU) bool { return ev.st.socketLabel(c.Socket) == k.subject && c.TemperatureC != nil })
	case ruleInlet:
		if ev.partFailed(bmc.PartThermal, bmc.PartSensors, bmc.PartSDR) {
			return false
		}
		return slices.ContainsFunc(snap.Sensors, func(s bmc.Sensor) bool { return s.Name == k.subject && s.Value != nil })
	case ruleFan:
		if ev.partFailed(bmc.PartThermal, bmc.PartSensors, bmc.PartSDR) {
			return false
		}
		return slices.ContainsFunc(snap.Sensors, func(s bmc.Sensor) bool { return s.Name == k.subject && s.Value != nil })
	case rulePSUFailed:
		if ev.partFailed(bmc.PartPower, bmc.PartSDR) {
			return false
		}
		return slices.ContainsFunc(snap.PSUs, func(p bmc.PSU) bool { return p.Bay == k.subject })
	case rulePSURedundancy:
		return !ev.partFailed(bmc.PartPower, bmc.PartSDR) && ev.psu.Redundancy != power.RedundancyUnknown
	case ruleDrive:
		if ev.partFailed(bmc.PartStorage, bmc.PartSDR) {
			return false
		}
		return slices.ContainsFunc(snap.Drives, func(d bmc.Drive) bool { return d.Bay == k.subject })
	}
	return false
}

func plural(n int64, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// humanDuration writes 24h as "24 h", 90m as "90 min".
func humanDuration(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return fmt.Sprintf("%d h", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%d min", d/time.Minute)
	}
	return d.String()
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// isContext compares a sensor's physical context with a normalized one,
// without regard to case (collectors write the normalized names; a vendor
// may not).
func isContext(ctx, want string) bool {
	return ctx == want || (len(ctx) == len(want) && strings.EqualFold(ctx, want))
}
