package sim

import (
	"fmt"
	"hash/fnv"
	"math"
	"strings"
	"sync"
	"time"
)

// part is one replaceable component of a simulated server.
type part struct {
	id    string // Redfish Id
	label string // service label: what a technician reads on the board
}

// layout is the hardware of a profile's server, shared by every BMC of that
// profile.
type layout struct {
	cpus, dimms, psus, fans, drives []part
	psuCapacityWatts                float64
	idleWatts, peakWatts            float64
	// inletCautionC and inletCriticalC are the inlet temperature's upper
	// thresholds as the profile publishes them.
	inletCautionC, inletCriticalC float64
	// Serial number prefixes of the replaceable parts.
	dimmSerialPrefix, driveSerialPrefix string
}

// maxInputWatts is the most a healthy server of this layout draws: its
// peak DC load through the PSUs' efficiency.
func (l *layout) maxInputWatts() float64 { return l.peakWatts / psuEfficiency }

// overloadInputWatts is what a server under the overload fault draws:
// overloadMargin above the whole budget of a rack holding only this server.
// Rack budgets are per-server shares rounded up once per rack, so a rack of
// any size whose servers all draw this much is over its budget.
func (l *layout) overloadInputWatts() float64 {
	return overloadMargin * float64(rackBudgetWatts([]float64{l.maxInputWatts()}))
}

// Overload: the margin over a one-server rack's budget, and the noise on
// the level (a fraction of it, either way).
const (
	overloadMargin = 1.08
	overloadNoise  = 0.005
)

func ids(parts []part) []string {
	out := make([]string, len(parts))
	for i, p := range parts {
		out[i] = p.id
	}
	return out
}

func labels(parts []part) []string {
	out := make([]string, len(parts))
	for i, p := range parts {
		out[i] = p.label
	}
	return out
}

// partKind is a kind of part a data fault acts on.
type partKind string

const (
	partCPU   partKind = "cpu"
	partDIMM  partKind = "dimm"
	partPSU   partKind = "psu"
	partFan   partKind = "fan"
	partDrive partKind = "drive"
)

// part is the kind of part f acts on; "" for a fault on the whole server.
func (f Fault) part() partKind {
	switch f {
	case FaultDIMMECC, FaultDIMMUncorrectable:
		return partDIMM
	case FaultCPUHot, FaultCPUOscillate:
		return partCPU
	case FaultPSUFail, FaultPSUInputLoss, FaultPSUHotSpare, FaultPSURemoved:
		return partPSU
	case FaultFanFail:
		return partFan
	case FaultDriveFail, FaultDrivePredictedFailure:
		return partDrive
	}
	return ""
}

// partSlot is one part of a machine: its kind and index.
type partSlot struct {
	kind  partKind
	index int
}

// activeFault is a data fault injected into a machine.
type activeFault struct {
	spec   FaultSpec
	target int
	since  time.Time
	// warnLogged and criticalLogged: the log has the entries of the
	// fault's warning and critical steps (dimm-ecc), each written once that
	// step is reached.
	warnLogged, criticalLogged bool
}

// logEvent is a log entry a machine gained while running.
type logEvent struct {
	created  time.Time
	severity string // OK, Warning, Critical
	message  string
	code     string // MessageId
}

// machine is the state of one simulated server: which profile it is, its
// seed, when it started, its injected data faults and the parts replaced
// since. Its readings are not stored: they are computed on request from the
// time since start.
type machine struct {
	name    string
	profile *profile
	seed    uint64
	start   time.Time
	now     func() time.Time
	// warm machines run hotter than the others (a hot spot in the room):
	// CPUs peak a few °C below their caution threshold and the inlet sits
	// a few °C below its own, never reaching them.
	warm bool

	mu     sync.Mutex
	faults map[Fault]activeFault
	events []logEvent
	// replaced counts the replacements of each part: its generation, 0 for
	// the part the server started with.
	replaced map[partSlot]int
}

func newMachine(name string, p *profile, start time.Time, now func() time.Time) *machine {
	h := fnv.New64a()
	_, _ = h.Write([]byte(name))
	seed := h.Sum64()
	return &machine{
		name: name, profile: p, seed: seed, start: start, now: now,
		warm:   mix64(seed^warmChannel)%warmOneIn == 0,
		faults: make(map[Fault]activeFault), replaced: make(map[partSlot]int),
	}
}

// Warm machines: about one in warmOneIn, picked by a channel of the seed of
// their own, so that warmth does not go with the load's phase.
const (
	warmOneIn   = 10
	warmChannel = 0x5741524d // "WARM"
	// warmCPUExtraC lifts a warm machine's CPUs: their normal peak (71.8 °C
	// at most, noise included) becomes 81.8 °C, 3.2 °C under caution.
	warmCPUExtraC = 10
	// warmInletBelowC: a warm machine's inlet sits this far under its
	// caution threshold, ±inletNoiseC.
	warmInletBelowC = 5
	inletNoiseC     = 0.8
	inletNormalC    = 21.5
)

// partsFor names the parts a data fault acts on; nil for a fault on the
// whole server.
func (l *layout) partsFor(f Fault) []part {
	switch f.part() {
	case partDIMM:
		return l.dimms
	case partCPU:
		return l.cpus
	case partPSU:
		return l.psus
	case partFan:
		return l.fans
	case partDrive:
		return l.drives
	}
	return nil
}

// inject starts a data fault.
func (m *machine) inject(spec FaultSpec) error {
	if !spec.Fault.IsData() {
		return fmt.Errorf("%s is not a data fault", spec.Fault)
	}
	if spec.Fault.RedfishOnly() && m.profile.name == ProfileIPMI {
		return fmt.Errorf("fault %s applies to the Redfish profiles (%s) only: the %s profile publishes no PSU redundancy group",
			spec.Fault, strings.Join(SyntheticProfiles(), ", "), ProfileIPMI)
	}
	if err := spec.check(); err != nil {
		return err
	}
	parts := m.profile.layout.partsFor(spec.Fault)
	idx := 0
	if parts != nil {
		var err error
		if idx, err = targetIndex(spec.Target, ids(parts), labels(parts)); err != nil {
			return fmt.Errorf("fault %s: %w", spec.Fault, err)
		}
	}
	if spec.Every <= 0 {
		spec.Every = DefaultFaultStep
	}
	now := m.now()
	label := ""
	if parts != nil {
		label = parts[idx].label
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.logDue(now)
	m.faults[spec.Fault] = activeFault{spec: spec, target: idx, since: now}
	log := func(severity, code, format string, args ...any) {
		m.events = append(m.events, logEvent{now, severity, fmt.Sprintf(format, args...), code})
	}
	switch spec.Fault {
	case FaultDIMMECC:
		log("Warning", "MEM0700", "Correctable memory errors detected on %s.", label)
	case FaultDIMMUncorrectable:
		log("Critical", "MEM0001", "Multi-bit memory errors detected on %s.", label)
	case FaultCPUHot:
		log("Warning", "TMP0118", "The %s temperature is rising.", label)
	case FaultCPUOscillate:
		log("Warning", "TMP0120", "The %s temperature is swinging around its upper warning threshold (%d °C).", label, cpuCautionCelsius)
	case FaultPSUFail:
		log("Critical", "PSU0003", "Power supply %s failed.", label)
	case FaultPSUInputLoss:
		log("Critical", "PSU0031", "Power supply %s input lost.", label)
	case FaultFanFail:
		log("Critical", "FAN0001", "Fan %s RPM is less than the lower critical threshold.", label)
	case FaultInletHot:
		log("Warning", "TMP0121", "The system board inlet temperature is rising.")
	case FaultDriveFail:
		log("Critical", "PDR0001", "Fault detected on drive %s.", label)
	case FaultDrivePredictedFailure:
		log("Warning", "PDR1016", "A predictive failure was detected on %s.", label)
	case FaultOverload:
		log("Warning", "PWR1001", "The system input power (about %.0f W) is above its normal range.", m.profile.layout.overloadInputWatts())
	case FaultPSUHotSpare:
		log("OK", "PSU0800", "Power supply %s is configured as a hot spare.", label)
	case FaultPSUSingle:
		log("OK", "PSU0801", "The system has a single power supply (%s): power supply redundancy is not available.", m.profile.layout.psus[0].label)
	case FaultPSUNotRedundant:
		log("OK", "PSU0802", "The power supply redundancy policy is set to Not Redundant.")
	case FaultPSURemoved:
		log("Critical", "PSU0016", "Power supply %s was removed: power supply redundancy is lost.", label)
	}
	return nil
}

// clear ends a data fault; the log keeps what happened. Ending a fault of
// a DIMM or a drive means the part was replaced: it gets a new serial
// number and starts clean (counters at 0), and any other fault on that part
// ends with it. Other parts are restored as they were.
func (m *machine) clear(f Fault) bool {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	af, ok := m.faults[f]
	if !ok {
		return false
	}
	m.logDue(now)
	delete(m.faults, f)
	l := &m.profile.layout
	parts := l.partsFor(f)
	if !f.replacesPart() {
		subject := "The system"
		if parts != nil {
			subject = parts[af.target].label
		}
		m.events = append(m.events, logEvent{now, "OK", fmt.Sprintf("%s: %s returned to normal.", subject, f), "SYS1003"})
		return true
	}
	for _, other := range DataFaults() {
		if o, ok := m.faults[other]; ok && other.part() == f.part() && o.target == af.target {
			delete(m.faults, other)
		}
	}
	slot := partSlot{f.part(), af.target}
	m.replaced[slot]++
	label := parts[af.target].label
	switch slot.kind {
	case partDIMM:
		m.events = append(m.events, logEvent{now, "OK", fmt.Sprintf("The memory module %s was replaced (new serial number %s).",
			label, m.partSerial(l.dimmSerialPrefix, slot, m.replaced[slot])), "MEM9020"})
	case partDrive:
		m.events = append(m.events, logEvent{now, "OK", fmt.Sprintf("The drive %s was replaced (new serial number %s).",
			label, m.partSerial(l.driveSerialPrefix, slot, m.replaced[slot])), "PDR1001"})
	}
	return true
}

// logDue writes the log entries of fault stages reached by now and not yet
// logged: dimm-ecc's warning step (the rate exceeded) and critical step,
// each dated when it was reached. It is called, with m.mu held, before
// anything else is logged, so that the log stays in time order and keeps
// those entries once the fault ends.
func (m *machine) logDue(now time.Time) {
	af, ok := m.faults[FaultDIMMECC]
	if !ok {
		return
	}
	label := m.profile.layout.dimms[af.target].label
	if step := eccWarnStep(af.spec); !af.warnLogged && af.steps(now) >= step {
		m.events = append(m.events, logEvent{af.atStep(step), "Warning",
			fmt.Sprintf("Correctable memory error rate exceeded for %s.", label), "MEM0701"})
		af.warnLogged = true
	}
	if step := eccCriticalStep(af.spec); !af.criticalLogged && af.steps(now) >= step {
		m.events = append(m.events, logEvent{af.atStep(step), "Critical",
			fmt.Sprintf("Multi-bit memory errors detected on %s.", label), "MEM0001"})
		af.criticalLogged = true
	}
	m.faults[FaultDIMMECC] = af
}

// eccWarnStep and eccCriticalStep are the steps at which dimm-ecc's count
// passes the warning and the critical counts.
func eccWarnStep(s FaultSpec) int     { return eccWarnCount/s.eccCount() + 1 }
func eccCriticalStep(s FaultSpec) int { return eccCriticalCount/s.eccCount() + 1 }

// activeFaults lists the data faults in effect.
func (m *machine) activeFaults() []FaultSpec {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]FaultSpec, 0, len(m.faults))
	for _, f := range DataFaults() {
		if af, ok := m.faults[f]; ok {
			out = append(out, af.spec)
		}
	}
	return out
}

// partSerial is the serial number of a part in its gen-th replacement (0:
// the part the server came with).
func (m *machine) partSerial(prefix string, slot partSlot, gen int) string {
	if gen == 0 {
		return m.serial(prefix, slot.index)
	}
	h := fnv.New64a()
	_, _ = fmt.Fprintf(h, "%s/%d/%d", slot.kind, slot.index, gen)
	return fmt.Sprintf("%s%08X%02d", prefix, uint32(mix64(m.seed^h.Sum64())), slot.index)
}

// readings is what a machine's sensors say at one moment.
type readings struct {
	now        time.Time
	load       float64 // utilisation in [0, 1]: what the CPUs work at
	powerWatts float64 // DC load the PSUs deliver
	inputWatts float64 // AC drawn from the feeds
	minWatts   float64 // over the last interval, for PowerMetrics
	maxWatts   float64 // (both of the input)
	inletC     float64
	inlet      string // the inlet temperature's health
	exhaustC   float64
	cpus       []cpuReading
	psus       []psuReading
	fans       []fanReading
	dimms      []dimmReading
	drives     []driveReading
	events     []logEvent
	health     string // worst of the parts

	// psuSingle: the server has one supply (psu-single): the BMC lists no
	// other bay and no redundancy group. psuNotRedundant: its redundancy
	// group is configured NotRedundant (psu-not-redundant).
	psuSingle, psuNotRedundant bool
}

type cpuReading struct {
	celsius float64
	health  string
}

type psuReading struct {
	inputWatts, outputWatts, inputVolts float64
	// failed: the supply itself failed (psu-fail); inputLost: its AC input
	// is gone (psu-input-loss). Either way it delivers nothing.
	failed, inputLost bool
	// spare: a hot spare standing by (psu-hot-spare), delivering nothing
	// while another supply does; removed: pulled from its bay
	// (psu-removed); unlisted: a bay the server was built without
	// (psu-single), which the BMC does not publish.
	spare, removed, unlisted bool
	health                   string
}

// delivering reports whether the supply carries its share of the load.
func (p psuReading) delivering() bool {
	return !p.failed && !p.inputLost && !p.spare && !p.removed && !p.unlisted
}

// absent reports whether the bay is empty: the supply was removed, or was
// never fitted.
func (p psuReading) absent() bool { return p.removed || p.unlisted }

// lineInputStatus is the PowerSupply LineInputStatus.
func (p psuReading) lineInputStatus() string {
	if p.inputLost {
		return "LossOfInput"
	}
	return "Normal"
}

type fanReading struct {
	rpm, percent float64
	health       string
}

type dimmReading struct {
	correctable, uncorrectable int
	generation                 int // replacements so far
	health                     string
}

type driveReading struct {
	lifeLeftPercent int
	predicted       bool
	failed          bool
	generation      int // replacements so far
	health          string
}

// PSU efficiency: input exceeds output by this factor's inverse.
const psuEfficiency = 0.93

// Fan model: the speed in percent of the fan's maximum RPM.
const fanMaxRPM = 16000

// machineState is what a reading is computed from besides the clock.
type machineState struct {
	faults   map[Fault]activeFault
	events   []logEvent
	replaced map[partSlot]int
}

// state copies the machine's state; m.mu must be held.
func (m *machine) state() machineState {
	st := machineState{
		faults:   make(map[Fault]activeFault, len(m.faults)),
		events:   append([]logEvent(nil), m.events...),
		replaced: make(map[partSlot]int, len(m.replaced)),
	}
	for k, v := range m.faults {
		st.faults[k] = v
	}
	for k, v := range m.replaced {
		st.replaced[k] = v
	}
	return st
}

// read computes the machine's readings now.
func (m *machine) read() *readings {
	now := m.now()
	m.mu.Lock()
	m.logDue(now)
	st := m.state()
	m.mu.Unlock()
	return m.compute(now, st)
}

// readAt computes what the sensors said at t with the faults in effect now
// (for dating the IPMI SEL records of a progressing fault). It logs
// nothing.
func (m *machine) readAt(t time.Time) *readings {
	m.mu.Lock()
	st := m.state()
	m.mu.Unlock()
	return m.compute(t, st)
}

// compute is the machine's physics: the readings at now in state st.
func (m *machine) compute(now time.Time, st machineState) *readings {
	l := &m.profile.layout
	faults := st.faults
	r := &readings{now: now, events: st.events, health: "OK"}
	r.load = m.load(now)
	r.powerWatts = round1(l.idleWatts + (l.peakWatts-l.idleWatts)*r.load)
	if _, ok := faults[FaultOverload]; ok {
		// The extra draw is beyond the CPUs (accelerators, a lifted power
		// cap): the CPUs keep following the load.
		r.powerWatts = round1(l.overloadInputWatts() * psuEfficiency * (1 + overloadNoise*m.noise(now, 13)))
	}

	// PSUs share the load; a failed one, or one without input, carries
	// nothing.
	target := func(f Fault) int {
		if af, ok := faults[f]; ok {
			return af.target
		}
		return -1
	}
	failedPSU, lostPSU := target(FaultPSUFail), target(FaultPSUInputLoss)
	sparePSU, removedPSU := target(FaultPSUHotSpare), target(FaultPSURemoved)
	_, single := faults[FaultPSUSingle]
	_, r.psuNotRedundant = faults[FaultPSUNotRedundant]
	r.psuSingle = single
	for i := range l.psus {
		p := psuReading{inputVolts: round1(230 + 2*m.noise(now, 20+uint64(i))), health: "OK"}
		switch {
		case single && i > 0:
			p = psuReading{unlisted: true}
		case i == removedPSU:
			p = psuReading{removed: true}
		default:
			if i == sparePSU {
				p.spare = true
			}
			if i == failedPSU {
				p.failed, p.health = true, "Critical"
			}
			if i == lostPSU {
				p.inputLost, p.inputVolts, p.health = true, 0, "Critical"
			}
		}
		r.psus = append(r.psus, p)
	}
	working := 0
	for _, p := range r.psus {
		if p.delivering() {
			working++
		}
	}
	if working == 0 && sparePSU >= 0 {
		// The hot spare takes over when no other supply delivers.
		if p := &r.psus[sparePSU]; !p.failed && !p.inputLost && !p.absent() {
			p.spare = false
			working = 1
		}
	}
	for i := range r.psus {
		p := &r.psus[i]
		if p.delivering() && working > 0 {
			p.outputWatts = round1(r.powerWatts / float64(working))
			p.inputWatts = round1(p.outputWatts / psuEfficiency)
		}
		r.inputWatts += p.inputWatts
	}
	r.inputWatts = round1(r.inputWatts)
	r.minWatts = round1(r.inputWatts * (0.92 + 0.03*m.noise(now, 11)))
	r.maxWatts = round1(r.inputWatts * (1.06 + 0.03*m.noise(now, 12)))

	// CPUs follow the load; a hot one climbs per step, an oscillating one
	// alternates around its caution threshold.
	warmth := 0.0
	if m.warm {
		warmth = warmCPUExtraC
	}
	for i := range l.cpus {
		c := cpuReading{celsius: round1(38 + 36*r.load + 1.5*float64(i) + m.noise(now, 30+uint64(i)) + warmth), health: "OK"}
		if af, ok := faults[FaultCPUOscillate]; ok && af.target == i {
			c.celsius = oscillateCelsius(af, af.steps(now))
		}
		if af, ok := faults[FaultCPUHot]; ok && af.target == i {
			c.celsius = round1(math.Max(c.celsius, 70) + cpuHotPerStep*float64(af.steps(now)))
		}
		switch {
		case c.celsius >= cpuCriticalC:
			c.health = "Critical"
		case c.celsius >= cpuCautionCelsius:
			c.health = "Warning"
		}
		r.cpus = append(r.cpus, c)
	}
	hottest := 0.0
	for _, c := range r.cpus {
		hottest = math.Max(hottest, c.celsius)
	}
	inlet := inletNormalC
	if m.warm {
		inlet = l.inletCautionC - warmInletBelowC
	}
	r.inletC = round1(inlet + inletNoiseC*m.noise(now, 40))
	r.inlet = "OK"
	if af, ok := faults[FaultInletHot]; ok {
		r.inletC = round1(math.Min(math.Max(r.inletC, l.inletCautionC-inletHotStartBelowC)+inletHotPerStep*float64(af.steps(now)),
			l.inletCriticalC+inletHotAboveCriticalC))
	}
	switch {
	case r.inletC >= l.inletCriticalC:
		r.inlet = "Critical"
	case r.inletC >= l.inletCautionC:
		r.inlet = "Warning"
	}
	// Exhaust: inlet plus the heat of the load; beyond the profile's peak
	// (overload) the fans are flat out and the rise grows half as fast.
	r.exhaustC = round1(r.inletC + math.Min(r.powerWatts, l.peakWatts)/28 + math.Max(0, r.powerWatts-l.peakWatts)/56)

	// Fans follow the hottest CPU.
	pct := math.Min(100, math.Max(25, 25+(hottest-40)*1.6))
	for i := range l.fans {
		f := fanReading{percent: round1(pct + m.noise(now, 50+uint64(i))), health: "OK"}
		if af, ok := faults[FaultFanFail]; ok && af.target == i {
			f = fanReading{health: "Critical"}
		}
		f.rpm = math.Round(f.percent/100*fanMaxRPM/10) * 10
		r.fans = append(r.fans, f)
	}

	for i := range l.dimms {
		d := dimmReading{health: "OK", generation: st.replaced[partSlot{partDIMM, i}]}
		if af, ok := faults[FaultDIMMECC]; ok && af.target == i {
			d.correctable = af.spec.eccCount() * af.steps(now)
			switch {
			case d.correctable > eccCriticalCount:
				d.health = "Critical"
				d.uncorrectable = 1
			case d.correctable > eccWarnCount:
				d.health = "Warning"
			}
		}
		if af, ok := faults[FaultDIMMUncorrectable]; ok && af.target == i {
			d.uncorrectable = max(d.uncorrectable, 1)
			d.health = "Critical"
		}
		r.dimms = append(r.dimms, d)
	}
	for i := range l.drives {
		d := driveReading{lifeLeftPercent: 92 - int(m.seed%7) - i, health: "OK", generation: st.replaced[partSlot{partDrive, i}]}
		if d.generation > 0 {
			d.lifeLeftPercent = 100 // a new drive
		}
		if af, ok := faults[FaultDrivePredictedFailure]; ok && af.target == i {
			d.lifeLeftPercent, d.predicted, d.health = driveLifeLeftLow, true, "Warning"
		}
		if af, ok := faults[FaultDriveFail]; ok && af.target == i {
			d.failed, d.health = true, "Critical"
		}
		r.drives = append(r.drives, d)
	}

	worse := func(h string) {
		if healthRank(h) > healthRank(r.health) {
			r.health = h
		}
	}
	for _, c := range r.cpus {
		worse(c.health)
	}
	worse(r.inlet)
	for _, p := range r.psus {
		worse(p.health)
		if p.removed {
			worse("Warning") // redundancy lost
		}
	}
	for _, f := range r.fans {
		worse(f.health)
	}
	for _, d := range r.dimms {
		worse(d.health)
	}
	for _, d := range r.drives {
		worse(d.health)
	}
	return r
}

// oscillateCelsius is an oscillating CPU's temperature at a step: above
// the caution threshold on odd steps (the first included), below on even
// ones.
func oscillateCelsius(af activeFault, step int) float64 {
	if step%2 == 1 {
		return round1(cpuCautionCelsius + af.spec.swing())
	}
	return round1(cpuCautionCelsius - af.spec.swing())
}

// steps is how many steps a fault has progressed: 1 when injected.
func (af activeFault) steps(now time.Time) int {
	if af.spec.Every <= 0 {
		return 1
	}
	return 1 + int(now.Sub(af.since)/af.spec.Every)
}

// atStep is when a fault reaches a step (1: when injected).
func (af activeFault) atStep(step int) time.Time {
	every := af.spec.Every
	if every <= 0 {
		every = DefaultFaultStep
	}
	return af.since.Add(time.Duration(step-1) * every)
}

func healthRank(h string) int {
	switch h {
	case "OK":
		return 1
	case "Warning":
		return 2
	case "Critical":
		return 3
	}
	return 0
}

// Load curve: the daily curve's middle and amplitude, the wobble's and the
// noise's amplitudes. The load tops out at loadPeak (0.87) at the daily
// peak, noise included, below the profile's peak power.
const (
	loadDailyMean      = 0.45
	loadDailyAmplitude = 0.3
	loadWobble         = 0.08
	loadNoise          = 0.04
	loadPeak           = loadDailyMean + loadDailyAmplitude + loadWobble + loadNoise
)

// load is the machine's utilisation in [0, 1]: a daily curve peaking in the
// afternoon, a slower-than-poll wobble so that dashboards move within
// minutes, and noise. The phase comes from the seed, so two servers differ
// but each one is the same across restarts.
func (m *machine) load(now time.Time) float64 {
	const day = 24 * time.Hour
	phase := float64(m.seed%3600) / 3600 * 0.15 // up to 3.6 h of offset
	tod := float64(now.Sub(now.Truncate(day))) / float64(day)
	daily := loadDailyMean - loadDailyAmplitude*math.Cos(2*math.Pi*(tod-0.125+phase))
	wobble := loadWobble * math.Sin(2*math.Pi*float64(now.Sub(m.start))/float64(10*time.Minute)+float64(m.seed%628)/100)
	v := daily + wobble + loadNoise*m.noise(now, 1)
	return math.Min(1, math.Max(0, v))
}

// noise is a deterministic value in [-1, 1] for this machine, channel and
// 10-second bucket of time.
func (m *machine) noise(now time.Time, channel uint64) float64 {
	x := mix64(m.seed ^ channel*0x9e3779b97f4a7c15 ^ uint64(now.Unix()/10)*0xbf58476d1ce4e5b9)
	return float64(x%2001)/1000 - 1
}

// mix64 scrambles the bits of x (the splitmix64 finaliser).
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }
