package alert

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rackpulse/rackpulse/agent"
	"github.com/rackpulse/rackpulse/bmc"
	"github.com/rackpulse/rackpulse/fleet"
)

// agentRules are the rules evaluated on an agent's report: the host's own
// view, alerting apart from the BMC's (their alerts carry source=agent).
const agentRules = ruleSet(1<<ruleDIMM | 1<<ruleDrive | 1<<ruleCPU | 1<<ruleDiskSlow | 1<<ruleNICErrors | 1<<ruleInventoryMismatch | 1<<ruleAgentSilent)

// nicWindow is how many reports NICErrors looks back over.
const nicWindow = 10

// agentView is what the engine keeps of a server's agent between reports.
type agentView struct {
	last     time.Time
	interval time.Duration
	dimms    []dimmTrack
	// nics holds each interface's last error counters and whether they
	// grew in each of the last reports.
	nics map[string]*nicTrack
	// slow counts each disk's reports in a row above its latency bound;
	// smartErrs each drive's last command-timeout and error-log counts.
	slow      map[string]int
	smartErrs map[string]int64
	// mismatches counts reports in a row whose components differ from
	// the BMC's.
	mismatches int
}

type nicTrack struct {
	errors int64
	known  bool
	grew   []bool
}

// ObserveAgent evaluates the agent rules on a report: EDAC DIMM counters
// (DIMMFailing), SMART (DriveFailing), hwmon CPU temperatures where the BMC
// has none (CPUHot), slow disks (DiskSlow), NIC errors (NICErrors) and the
// reconciliation with the BMC (InventoryMismatch); a report also ends
// AgentSilent.
func (e *Engine) ObserveAgent(r *fleet.AgentReport) {
	e.mu.Lock()
	defer e.mu.Unlock()
	st := e.servers[r.Server.Name]
	if st == nil {
		return
	}
	if st.agent == nil {
		st.agent = &agentView{nics: map[string]*nicTrack{}, slow: map[string]int{}, smartErrs: map[string]int64{}}
	}
	av := st.agent
	av.last, av.interval = r.At, r.Report.Interval
	ev := &agentEval{st: st, av: av, r: r, set: &st.settings, now: r.At}
	set := &st.settings
	if set.enabled(ruleDIMM) {
		ev.dimms()
	}
	if set.enabled(ruleDrive) || set.enabled(ruleDiskSlow) {
		ev.drives()
	}
	if set.enabled(ruleCPU) {
		ev.cpus()
	}
	if set.enabled(ruleDiskSlow) {
		ev.slowDisks()
	}
	if set.enabled(ruleNICErrors) {
		ev.nicErrors()
	}
	if set.enabled(ruleInventoryMismatch) {
		ev.inventory()
	}
	found := ev.found[:0]
	for _, f := range ev.found {
		if set.enabled(f.rule) {
			f.from = fromAgent
			found = append(found, f)
		}
	}
	e.reconcile(&st.alerts, found, r.At, agentRules, fromAgent, func(a *active) int { return ev.forOf(a.rule) },
		func(a *active) bool { return a.rule == ruleAgentSilent || !ev.missing(a) },
		func(a *active) { e.label(a, st) })
	e.flush()
}

// agentEval is one evaluation of a report.
type agentEval struct {
	st    *serverState
	av    *agentView
	r     *fleet.AgentReport
	set   *Settings
	now   time.Time
	found []finding
}

func (ev *agentEval) forOf(r rule) int {
	switch r {
	case ruleCPU:
		return ev.set.TemperatureForPolls
	case ruleDiskSlow:
		return ev.set.DiskSlowReports
	case ruleNICErrors, ruleInventoryMismatch:
		// Both count their own reports (errors grew in two of the last
		// ten; components differed in two reports in a row).
		return 1
	}
	return 1
}

// missing reports whether the report lacks what an alert is about: the
// DIMM's counters, the drive's SMART read, the socket's package sensor,
// the disk's or NIC's statistics, the inventory. Then the alert is held,
// not resolved: only a reading that shows recovery resolves it (a disk
// that could not be opened, or sleeps, or a hwmon driver that was
// unloaded says nothing about the part).
func (ev *agentEval) missing(a *active) bool {
	rep := ev.r.Report
	switch a.rule {
	case ruleDIMM:
		return !slices.ContainsFunc(rep.DIMMs, func(d agent.DIMM) bool {
			return d.Slot == a.subject && (d.CorrectableErrors != nil || d.UncorrectableErrors != nil)
		})
	case ruleDrive:
		return !slices.ContainsFunc(rep.Drives, func(d agent.Drive) bool {
			return !d.Standby && ev.driveName(d.Device, d.Serial) == a.subject
		})
	case ruleCPU:
		return !slices.ContainsFunc(rep.Sensors, func(s agent.Sensor) bool { return s.CPUPackage && s.Socket == a.subject })
	case ruleDiskSlow:
		// Its latency or its SMART error counters.
		if rep.Vitals != nil && slices.ContainsFunc(rep.Vitals.Disks, func(d agent.DiskIO) bool { return ev.driveName(d.Device, ev.diskSerial(d.Device)) == a.subject }) {
			return false
		}
		return !slices.ContainsFunc(rep.Drives, func(d agent.Drive) bool { return !d.Standby && ev.driveName(d.Device, d.Serial) == a.subject })
	case ruleNICErrors:
		return rep.Vitals == nil || !slices.ContainsFunc(rep.Vitals.NICs, func(n agent.NICStats) bool { return n.Name == a.subject })
	case ruleInventoryMismatch:
		// Nothing could be compared: neither the identity nor components.
		return ev.r.Reconciliation.Identity == fleet.IdentityUnknown && rep.Inventory == nil
	}
	return false
}

// diskSerial is the serial the inventory lists for a block device.
func (ev *agentEval) diskSerial(device string) string {
	if inv := ev.r.Report.Inventory; inv != nil {
		for _, k := range inv.Disks {
			if k.Name == device {
				return k.Serial
			}
		}
	}
	return ""
}

// dimms: the EDAC counters of each DIMM (uncorrectable errors; correctable
// errors per window, reset-aware: EDAC counts from boot).
func (ev *agentEval) dimms() {
	for _, d := range ev.r.Report.DIMMs {
		if d.Slot == "" {
			continue
		}
		var tr *dimmTrack
		for i := range ev.av.dimms {
			if ev.av.dimms[i].Slot == d.Slot {
				tr = &ev.av.dimms[i]
			}
		}
		if tr == nil {
			ev.av.dimms = append(ev.av.dimms, dimmTrack{Slot: d.Slot})
			tr = &ev.av.dimms[len(ev.av.dimms)-1]
		}
		tr.observe(d.Serial, d.CorrectableErrors, false, ev.now)
		n := tr.inWindow(ev.now, ev.set.DIMMCorrectableWindow)
		f := finding{key: key{rule: ruleDIMM, subject: d.Slot}, fromReading: true, serial: d.Serial, part: d.PartNumber,
			source: "EDAC " + strings.TrimSpace(d.Controller+" "+d.Location)}
		switch {
		case d.UncorrectableErrors != nil && *d.UncorrectableErrors > 0:
			f.sev, f.what = SeverityCritical, plural(*d.UncorrectableErrors, "uncorrectable error")+" since boot (EDAC)"
			f.value, f.hasValue = float64(*d.UncorrectableErrors), true
		case n >= int64(ev.set.DIMMCorrectableLimit):
			f.sev = SeverityWarning
			f.what = fmt.Sprintf("%s in %s (EDAC)", plural(n, "correctable error"), humanDuration(ev.set.DIMMCorrectableWindow))
			f.value, f.threshold, f.hasValue, f.hasThresh = float64(n), float64(ev.set.DIMMCorrectableLimit), true, true
		default:
			continue
		}
		ev.found = merge(ev.found, f)
	}
}

// driveName names a disk as the technician finds it: its bay where the
// BMC lists a drive with the same serial, else its device.
func (ev *agentEval) driveName(device, serial string) string {
	if snap := ev.r.Snapshot; snap != nil && serial != "" {
		for _, d := range snap.Drives {
			if d.Bay != "" && strings.EqualFold(strings.TrimSpace(d.Serial), strings.TrimSpace(serial)) {
				return d.Bay
			}
		}
	}
	return strings.TrimPrefix(device, "/dev/")
}

// drives: SMART's verdict and counters (DriveFailing); growing command
// timeouts or error-log entries (DiskSlow).
func (ev *agentEval) drives() {
	for i := range ev.r.Report.Drives {
		d := &ev.r.Report.Drives[i]
		if d.Standby {
			continue
		}
		name := ev.driveName(d.Device, d.Serial)
		src := "SMART " + d.Device
		if ev.set.enabled(ruleDrive) {
			f := finding{key: key{rule: ruleDrive, subject: name}, fromReading: true, serial: d.Serial, part: d.Model, source: src}
			switch {
			case d.Passed != nil && !*d.Passed:
				f.sev, f.what = SeverityCritical, "SMART overall health: FAILED"
			case d.CriticalWarning != nil && *d.CriticalWarning != 0:
				f.sev, f.what = SeverityCritical, fmt.Sprintf("NVMe critical warning 0x%02x", *d.CriticalWarning)
			case d.AvailableSpare != nil && d.AvailableSpareThreshold != nil && *d.AvailableSpare < *d.AvailableSpareThreshold:
				f.sev, f.what = SeverityCritical, fmt.Sprintf("available spare %d %% below its threshold %d %%", *d.AvailableSpare, *d.AvailableSpareThreshold)
			case positive(d.PendingSectors) || positive(d.OfflineUncorrectable):
				f.sev, f.what = SeverityWarning, fmt.Sprintf("%d pending and %d uncorrectable sectors", val(d.PendingSectors), val(d.OfflineUncorrectable))
			case positive(d.MediaErrors):
				f.sev, f.what = SeverityWarning, fmt.Sprintf("%d media errors", *d.MediaErrors)
			case d.PercentageUsed != nil && *d.PercentageUsed >= 100:
				f.sev, f.what = SeverityWarning, fmt.Sprintf("%d %% of its rated endurance used", *d.PercentageUsed)
			case positive(d.GrownDefects):
				f.sev, f.what = SeverityWarning, fmt.Sprintf("%d grown defects", *d.GrownDefects)
			}
			if f.sev > SeverityNone {
				ev.found = merge(ev.found, f)
			}
		}
		if ev.set.enabled(ruleDiskSlow) && (d.CommandTimeouts != nil || d.ErrorLogCount != nil) {
			errs := val(d.CommandTimeouts) + val(d.ErrorLogCount)
			last, seen := ev.av.smartErrs[d.Device]
			ev.av.smartErrs[d.Device] = errs
			if seen && errs > last {
				// A growing error log holds the alert for an hour, as a
				// logged event does.
				ev.st.events = slices.DeleteFunc(ev.st.events, func(c eventCondition) bool { return c.Rule == ruleDiskSlow && c.Subject == name })
				ev.st.events = append(ev.st.events, eventCondition{Rule: ruleDiskSlow, Subject: name, Sev: SeverityWarning, At: ev.now, Until: ev.now.Add(time.Hour),
					What: fmt.Sprintf("%d more command timeouts and errors logged (SMART)", errs-last), Source: src})
			}
		}
	}
	for _, c := range ev.st.events {
		if c.Rule == ruleDiskSlow && ev.now.Before(c.Until) {
			ev.found = merge(ev.found, finding{key: key{rule: ruleDiskSlow, subject: c.Subject}, sev: c.Sev, what: c.What, source: c.Source})
		}
	}
}

// slowDisks: a busy disk whose mean I/O latency stays above its class's
// bound (DiskSlow).
func (ev *agentEval) slowDisks() {
	vt := ev.r.Report.Vitals
	if vt == nil || vt.Interval <= 0 {
		return
	}
	for _, d := range vt.Disks {
		bound, class := ev.set.DiskSlowSSDMs, "SSD"
		if d.Rotational {
			bound, class = ev.set.DiskSlowHDDMs, "HDD"
		}
		if d.ReadIOPS+d.WriteIOPS < 1 || d.AvgLatencyMs < bound {
			delete(ev.av.slow, d.Device)
			continue
		}
		ev.av.slow[d.Device]++
		serial := ev.diskSerial(d.Device)
		name := ev.driveName(d.Device, serial)
		ev.found = merge(ev.found, finding{key: key{rule: ruleDiskSlow, subject: name}, sev: SeverityWarning, fromReading: true,
			value: d.AvgLatencyMs, threshold: bound, hasValue: true, hasThresh: true, serial: serial,
			what:   fmt.Sprintf("%s: %.0f ms per I/O (%s bound %s ms) at %.0f IOPS, queue %.1f", d.Device, d.AvgLatencyMs, class, formatFloat(bound), d.ReadIOPS+d.WriteIOPS, d.AvgQueue),
			source: "/proc/diskstats"})
	}
}

// nicErrors: an interface whose error counters grew in two or more of the
// last reports (NICErrors).
func (ev *agentEval) nicErrors() {
	vt := ev.r.Report.Vitals
	if vt == nil {
		return
	}
	for _, n := range vt.NICs {
		t := ev.av.nics[n.Name]
		if t == nil {
			t = &nicTrack{}
			ev.av.nics[n.Name] = t
		}
		errs := n.RxErrors + n.TxErrors
		t.grew = append(t.grew, t.known && errs > t.errors)
		if len(t.grew) > nicWindow {
			t.grew = t.grew[1:]
		}
		t.errors, t.known = errs, true
		grew := 0
		for _, g := range t.grew {
			if g {
				grew++
			}
		}
		if grew >= 2 {
			ev.found = merge(ev.found, finding{key: key{rule: ruleNICErrors, subject: n.Name}, sev: SeverityWarning, fromReading: true,
				value: float64(errs), hasValue: true,
				what:   fmt.Sprintf("errors grew in %d of the last %d reports: %d rx and %d tx errors, %d rx and %d tx drops so far", grew, len(t.grew), n.RxErrors, n.TxErrors, n.RxDropped, n.TxDropped),
				source: "/proc/net/dev"})
		}
	}
}

// cpus: hwmon package temperatures, where the BMC publishes no CPU
// temperature of its own (CPUHot).
func (ev *agentEval) cpus() {
	if snap := ev.r.Snapshot; snap != nil && bmcHasCPUTemperature(snap) {
		return
	}
	for _, s := range ev.r.Report.Sensors {
		if !s.CPUPackage || s.Socket == "" {
			continue
		}
		warn, crit := ev.set.CPUWarningCelsius, ev.set.CPUCriticalCelsius
		fromChip := false
		if s.Crit != nil {
			crit, fromChip = *s.Crit, true
			warn = min(warn, crit)
		}
		if s.Max != nil && *s.Max < crit {
			warn, fromChip = *s.Max, true
		}
		sev, thr := thresholdLevel(s.Value, warn, crit, ev.set.TemperatureDeadBandCelsius, ev.firing(ruleCPU, s.Socket))
		if sev == SeverityNone {
			continue
		}
		whose := "the default"
		if fromChip {
			whose = "the CPU's"
		}
		ev.found = merge(ev.found, finding{key: key{rule: ruleCPU, subject: s.Socket}, sev: sev, fromReading: true,
			value: s.Value, threshold: thr, hasValue: true, hasThresh: true, source: "hwmon " + s.Chip + " " + s.Name,
			what: fmt.Sprintf("%s °C, at or above %s threshold %s °C (the host's sensor: the BMC has none)", formatFloat(s.Value), whose, formatFloat(thr))})
	}
}

func (ev *agentEval) firing(r rule, subject string) Severity {
	for _, a := range ev.st.alerts {
		if a.rule == r && a.subject == subject && a.from == fromAgent && a.alert.State == StateFiring {
			return a.alert.Severity
		}
	}
	return SeverityNone
}

func bmcHasCPUTemperature(snap *bmc.Snapshot) bool {
	for i := range snap.Sensors {
		s := &snap.Sensors[i]
		if s.Kind == bmc.KindTemperature && s.Value != nil && isContext(s.Context, bmc.ContextCPU) {
			return true
		}
	}
	return slices.ContainsFunc(snap.CPUs, func(c bmc.CPU) bool { return c.TemperatureC != nil })
}

// inventory: the agent's host is not the BMC's (at once), or their
// components differ in two reports in a row (InventoryMismatch).
func (ev *agentEval) inventory() {
	rec := ev.r.Reconciliation
	diffs := rec.ComponentsDiffer()
	if len(diffs) > 0 {
		ev.av.mismatches++
	} else {
		ev.av.mismatches = 0
	}
	var what []string
	if rec.IdentityDiffers() {
		for _, d := range rec.Differences {
			if d.What == "system UUID" || d.What == "system serial" {
				what = append(what, fmt.Sprintf("%s: BMC %s, host %s", d.What, d.BMC, d.Agent))
			}
		}
		if rec.OtherServer != "" {
			what = append(what, "the host's identity is what the BMC of "+rec.OtherServer+" reports")
		}
	}
	if ev.av.mismatches >= 2 {
		for _, d := range diffs {
			what = append(what, fmt.Sprintf("%s: BMC %s, host %s", d.What, d.BMC, d.Agent))
		}
	}
	if len(what) == 0 {
		return
	}
	ev.found = merge(ev.found, finding{key: key{rule: ruleInventoryMismatch}, sev: SeverityWarning, fromReading: true,
		what: strings.Join(what, "; "), source: "agent report and BMC"})
}

// agentSilent evaluates AgentSilent at a cycle: an agent that reported
// before (or has a token in the inventory) and has not for
// AgentSilentIntervals of its intervals, unless the BMC says the host is
// off.
func (e *Engine) agentSilent(st *serverState, now time.Time) {
	if !st.settings.enabled(ruleAgentSilent) || st.srv == nil {
		return
	}
	expected := st.agent != nil || st.srv.Agent.IsSet()
	if !expected {
		return
	}
	since, interval := st.firstSeen, time.Duration(0)
	if st.agent != nil {
		since, interval = st.agent.last, st.agent.interval
	}
	if interval <= 0 {
		interval = st.interval
	}
	if since.IsZero() || interval <= 0 {
		return
	}
	var found []finding
	if d := now.Sub(since); d >= time.Duration(st.settings.AgentSilentIntervals)*interval && !st.hostOff {
		what := "no report for " + d.Truncate(time.Second).String()
		if st.agent == nil {
			what = "no report since the poller started (" + d.Truncate(time.Second).String() + ")"
		}
		found = append(found, finding{key: key{rule: ruleAgentSilent, from: fromAgent}, sev: SeverityInfo, fromReading: true,
			what: what, source: "agent reports"})
	}
	e.reconcile(&st.alerts, found, now, 1<<ruleAgentSilent, fromAgent, func(*active) int { return 1 },
		func(*active) bool { return st.hostOff }, // a report resolves it, or the host going off
		func(a *active) { e.label(a, st) })
}

func positive(p *int64) bool { return p != nil && *p > 0 }

func val(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}
