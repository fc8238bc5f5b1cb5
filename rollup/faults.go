package rollup

import (
	"encoding/json"

	"github.com/rackpulse/rackpulse/bmc"
	"github.com/rackpulse/rackpulse/power"
)

// Component is the kind of part a fault is about.
type Component uint8

// Components faults are counted by.
const (
	ComponentDIMM Component = iota
	ComponentCPU
	ComponentPSU
	ComponentFan
	ComponentDrive
	// ComponentBMC is a BMC that did not answer: its server's last poll
	// failed (Warning) or it has had no good poll within the freshness
	// window (Critical).
	ComponentBMC
	numComponents
)

// Components lists every component, in the order Faults holds them.
func Components() [numComponents]Component {
	return [...]Component{ComponentDIMM, ComponentCPU, ComponentPSU, ComponentFan, ComponentDrive, ComponentBMC}
}

func (c Component) String() string {
	switch c {
	case ComponentDIMM:
		return "dimm"
	case ComponentCPU:
		return "cpu"
	case ComponentPSU:
		return "psu"
	case ComponentFan:
		return "fan"
	case ComponentDrive:
		return "drive"
	case ComponentBMC:
		return "bmc_unreachable"
	}
	return "unknown"
}

// Severity is a fault's severity.
type Severity uint8

// Severities, as the bmc model's Warning and Critical health.
const (
	SeverityWarning Severity = iota
	SeverityCritical
	numSeverities
)

func (s Severity) String() string {
	if s == SeverityCritical {
		return "critical"
	}
	return "warning"
}

// Faults counts faulty parts by component and severity. The zero value is
// no faults.
type Faults struct {
	counts [numComponents][numSeverities]int
}

// Count returns how many parts of component c are at severity s.
func (f *Faults) Count(c Component, s Severity) int {
	if c >= numComponents || s >= numSeverities {
		return 0
	}
	return f.counts[c][s]
}

// Total returns how many faults there are at severity s.
func (f *Faults) Total(s Severity) int {
	n := 0
	for c := range f.counts {
		n += f.counts[c][s]
	}
	return n
}

// Set sets how many parts of component c are at severity s (rack totals
// read back from storage).
func (f *Faults) Set(c Component, s Severity, n int) {
	if c < numComponents && s < numSeverities {
		f.counts[c][s] = n
	}
}

func (f *Faults) add(c Component, s Severity) { f.counts[c][s]++ }

func (f *Faults) addHealth(c Component, h bmc.Health) {
	switch h {
	case bmc.HealthWarning:
		f.add(c, SeverityWarning)
	case bmc.HealthCritical:
		f.add(c, SeverityCritical)
	}
}

func (f *Faults) merge(o *Faults) {
	for c := range f.counts {
		for s := range f.counts[c] {
			f.counts[c][s] += o.counts[c][s]
		}
	}
}

// MarshalJSON writes {"dimm":{"warning":1,"critical":0},...}.
func (f Faults) MarshalJSON() ([]byte, error) {
	out := make(map[string]map[string]int, numComponents)
	for _, c := range Components() {
		out[c.String()] = map[string]int{
			SeverityWarning.String():  f.counts[c][SeverityWarning],
			SeverityCritical.String(): f.counts[c][SeverityCritical],
		}
	}
	return json.Marshal(out)
}

// componentFaults counts the faulty parts a snapshot reports: DIMMs, CPUs
// and drives by their health (a drive predicting failure is at least a
// Warning), PSUs by health (one not delivering power is Critical, one
// predicting failure at least a Warning), and fans by their sensors' health
// (fan sensors, and discrete sensors placed on a fan). Absent parts are
// skipped.
func componentFaults(s *bmc.Snapshot) Faults {
	var f Faults
	for i := range s.DIMMs {
		if s.DIMMs[i].State != "Absent" {
			f.addHealth(ComponentDIMM, s.DIMMs[i].Health)
		}
	}
	for i := range s.CPUs {
		if s.CPUs[i].State != "Absent" {
			f.addHealth(ComponentCPU, s.CPUs[i].Health)
		}
	}
	for i := range s.Drives {
		d := &s.Drives[i]
		if d.State == "Absent" {
			continue
		}
		h := d.Health
		if d.FailurePredicted {
			h = h.Worse(bmc.HealthWarning)
		}
		f.addHealth(ComponentDrive, h)
	}
	for i := range s.PSUs {
		p := &s.PSUs[i]
		if !power.Present(p) {
			continue
		}
		h := p.Health
		if !power.Working(p) {
			h = bmc.HealthCritical
		} else if p.FailurePredicted {
			h = h.Worse(bmc.HealthWarning)
		}
		f.addHealth(ComponentPSU, h)
	}
	for i := range s.Sensors {
		se := &s.Sensors[i]
		if se.Kind == bmc.KindFan || se.Context == bmc.ContextFan {
			f.addHealth(ComponentFan, se.Health)
		}
	}
	return f
}
