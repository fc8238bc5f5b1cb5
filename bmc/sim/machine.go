package sim

import (
	"fmt"
	"hash/fnv"
	"math"
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
}

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

// activeFault is a data fault injected into a machine.
type activeFault struct {
	spec   FaultSpec
	target int
	since  time.Time
}

// logEvent is a log entry a machine gained while running.
type logEvent struct {
	created  time.Time
	severity string // OK, Warning, Critical
	message  string
	code     string // MessageId
}

// machine is the state of one simulated server: which profile it is, its
// seed, when it started, and its injected data faults. Its readings are not
// stored: they are computed on request from the time since start.
type machine struct {
	name    string
	profile *profile
	seed    uint64
	start   time.Time
	now     func() time.Time

	mu     sync.Mutex
	faults map[Fault]activeFault
	events []logEvent
}

func newMachine(name string, p *profile, start time.Time, now func() time.Time) *machine {
	h := fnv.New64a()
	_, _ = h.Write([]byte(name))
	return &machine{name: name, profile: p, seed: h.Sum64(), start: start, now: now, faults: make(map[Fault]activeFault)}
}

// partsFor names the parts a data fault acts on.
func (l *layout) partsFor(f Fault) []part {
	switch f {
	case FaultDIMMECC:
		return l.dimms
	case FaultCPUHot:
		return l.cpus
	case FaultPSUFail:
		return l.psus
	case FaultFanFail:
		return l.fans
	case FaultDrivePredictedFailure:
		return l.drives
	}
	return nil
}

// inject starts a data fault.
func (m *machine) inject(spec FaultSpec) error {
	if !spec.Fault.IsData() {
		return fmt.Errorf("%s is not a data fault", spec.Fault)
	}
	parts := m.profile.layout.partsFor(spec.Fault)
	idx, err := targetIndex(spec.Target, ids(parts), labels(parts))
	if err != nil {
		return fmt.Errorf("fault %s: %w", spec.Fault, err)
	}
	if spec.Every <= 0 {
		spec.Every = DefaultFaultStep
	}
	now := m.now()
	p := parts[idx]
	m.mu.Lock()
	defer m.mu.Unlock()
	m.faults[spec.Fault] = activeFault{spec: spec, target: idx, since: now}
	switch spec.Fault {
	case FaultDIMMECC:
		m.events = append(m.events, logEvent{now, "Warning", fmt.Sprintf("Correctable memory error rate exceeded for %s.", p.label), "MEM0701"})
	case FaultCPUHot:
		m.events = append(m.events, logEvent{now, "Warning", fmt.Sprintf("The %s temperature is rising.", p.label), "TMP0118"})
	case FaultPSUFail:
		m.events = append(m.events, logEvent{now, "Critical", fmt.Sprintf("Power supply %s input lost.", p.label), "PSU0031"})
	case FaultFanFail:
		m.events = append(m.events, logEvent{now, "Critical", fmt.Sprintf("Fan %s RPM is less than the lower critical threshold.", p.label), "FAN0001"})
	case FaultDrivePredictedFailure:
		m.events = append(m.events, logEvent{now, "Warning", fmt.Sprintf("A predictive failure was detected on %s.", p.label), "PDR1016"})
	}
	return nil
}

// clear ends a data fault; the log keeps what happened.
func (m *machine) clear(f Fault) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	af, ok := m.faults[f]
	if !ok {
		return false
	}
	delete(m.faults, f)
	label := m.profile.layout.partsFor(f)[af.target].label
	m.events = append(m.events, logEvent{m.now(), "OK", fmt.Sprintf("%s: %s returned to normal.", label, f), "SYS1003"})
	return true
}

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

// readings is what a machine's sensors say at one moment.
type readings struct {
	now        time.Time
	powerWatts float64 // DC load the PSUs deliver
	inputWatts float64 // AC drawn from the feeds
	minWatts   float64 // over the last interval, for PowerMetrics
	maxWatts   float64 // (both of the input)
	inletC     float64
	exhaustC   float64
	cpus       []cpuReading
	psus       []psuReading
	fans       []fanReading
	dimms      []dimmReading
	drives     []driveReading
	events     []logEvent
	health     string // worst of the parts
}

type cpuReading struct {
	celsius float64
	health  string
}

type psuReading struct {
	inputWatts, outputWatts, inputVolts float64
	failed                              bool
	health                              string
}

type fanReading struct {
	rpm, percent float64
	health       string
}

type dimmReading struct {
	correctable, uncorrectable int
	health                     string
}

type driveReading struct {
	lifeLeftPercent int
	predicted       bool
	health          string
}

// PSU efficiency: input exceeds output by this factor's inverse.
const psuEfficiency = 0.93

// Fan model: the speed in percent of the fan's maximum RPM.
const fanMaxRPM = 16000

// read computes the machine's readings now.
func (m *machine) read() *readings {
	now := m.now()
	l := &m.profile.layout
	m.mu.Lock()
	faults := make(map[Fault]activeFault, len(m.faults))
	for k, v := range m.faults {
		faults[k] = v
	}
	events := append([]logEvent(nil), m.events...)
	m.mu.Unlock()

	r := &readings{now: now, events: events, health: "OK"}
	load := m.load(now)
	r.powerWatts = round1(l.idleWatts + (l.peakWatts-l.idleWatts)*load)

	// PSUs share the load; a failed one carries nothing.
	failedPSU := -1
	if af, ok := faults[FaultPSUFail]; ok {
		failedPSU = af.target
	}
	working := len(l.psus)
	if failedPSU >= 0 {
		working--
	}
	for i := range l.psus {
		p := psuReading{inputVolts: round1(230 + 2*m.noise(now, 20+uint64(i))), health: "OK"}
		if i == failedPSU {
			p = psuReading{failed: true, health: "Critical"}
		} else if working > 0 {
			p.outputWatts = round1(r.powerWatts / float64(working))
			p.inputWatts = round1(p.outputWatts / psuEfficiency)
		}
		r.inputWatts += p.inputWatts
		r.psus = append(r.psus, p)
	}
	r.inputWatts = round1(r.inputWatts)
	r.minWatts = round1(r.inputWatts * (0.92 + 0.03*m.noise(now, 11)))
	r.maxWatts = round1(r.inputWatts * (1.06 + 0.03*m.noise(now, 12)))

	// CPUs follow power; a hot one climbs per step.
	frac := (r.powerWatts - l.idleWatts) / (l.peakWatts - l.idleWatts)
	for i := range l.cpus {
		c := cpuReading{celsius: round1(38 + 36*frac + 1.5*float64(i) + m.noise(now, 30+uint64(i))), health: "OK"}
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
	r.inletC = round1(21.5 + 0.8*m.noise(now, 40))
	r.exhaustC = round1(r.inletC + r.powerWatts/28)

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
		d := dimmReading{health: "OK"}
		if af, ok := faults[FaultDIMMECC]; ok && af.target == i {
			d.correctable = eccPerStep * af.steps(now)
			switch {
			case d.correctable > eccCriticalCount:
				d.health = "Critical"
				d.uncorrectable = 1
			case d.correctable > eccWarnCount:
				d.health = "Warning"
			}
		}
		r.dimms = append(r.dimms, d)
	}
	for i := range l.drives {
		d := driveReading{lifeLeftPercent: 92 - int(m.seed%7) - i, health: "OK"}
		if af, ok := faults[FaultDrivePredictedFailure]; ok && af.target == i {
			d = driveReading{lifeLeftPercent: driveLifeLeftLow, predicted: true, health: "Warning"}
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
	for _, p := range r.psus {
		worse(p.health)
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
	// The critical DIMM threshold crossing is logged when it happens.
	if af, ok := faults[FaultDIMMECC]; ok && r.dimms[af.target].health == "Critical" {
		step := eccCriticalCount/eccPerStep + 1
		r.events = append(r.events, logEvent{af.since.Add(time.Duration(step-1) * af.spec.Every), "Critical",
			fmt.Sprintf("Multi-bit memory errors detected on %s.", l.dimms[af.target].label), "MEM0001"})
	}
	return r
}

// steps is how many steps a fault has progressed: 1 when injected.
func (af activeFault) steps(now time.Time) int {
	if af.spec.Every <= 0 {
		return 1
	}
	return 1 + int(now.Sub(af.since)/af.spec.Every)
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

// load is the machine's utilisation in [0, 1]: a daily curve peaking in the
// afternoon, a slower-than-poll wobble so that dashboards move within
// minutes, and noise. The phase comes from the seed, so two servers differ
// but each one is the same across restarts.
func (m *machine) load(now time.Time) float64 {
	const day = 24 * time.Hour
	phase := float64(m.seed%3600) / 3600 * 0.15 // up to 3.6 h of offset
	tod := float64(now.Sub(now.Truncate(day))) / float64(day)
	daily := 0.45 - 0.3*math.Cos(2*math.Pi*(tod-0.125+phase))
	wobble := 0.08 * math.Sin(2*math.Pi*float64(now.Sub(m.start))/float64(10*time.Minute)+float64(m.seed%628)/100)
	v := daily + wobble + 0.04*m.noise(now, 1)
	return math.Min(1, math.Max(0, v))
}

// noise is a deterministic value in [-1, 1] for this machine, channel and
// 10-second bucket of time.
func (m *machine) noise(now time.Time, channel uint64) float64 {
	x := m.seed ^ channel*0x9e3779b97f4a7c15 ^ uint64(now.Unix()/10)*0xbf58476d1ce4e5b9
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return float64(x%2001)/1000 - 1
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }
