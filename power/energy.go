package power

import (
	"time"

	"github.com/rackpulse/rackpulse/bmc"
)

// EnergyMeter integrates power readings into energy across polls. The zero
// value is not usable: make one with NewEnergyMeter.
//
// Between two consecutive readings no more than MaxGap apart it adds the
// trapezoid (mean of the two powers × the time between them). A longer gap
// is not bridged: nothing is added for it, the whole gap is added to
// Uncovered, and integration resumes from the reading after it. Readings not
// later than the last one (the same snapshot fed twice, a reading out of
// order) and readings that are not a server's power (negative, NaN, ±Inf,
// beyond bmc.ServerWattsBound) are ignored, so the energy never decreases
// and never overflows.
type EnergyMeter struct {
	// MaxGap is the longest interval bridged between two readings.
	MaxGap time.Duration

	wh        float64
	covered   time.Duration
	uncovered time.Duration
	gaps      int
	last      time.Time
	lastWatts float64
	started   bool
}

// NewEnergyMeter returns a meter that bridges gaps up to maxGap (typically
// three poll intervals).
func NewEnergyMeter(maxGap time.Duration) *EnergyMeter {
	return &EnergyMeter{MaxGap: maxGap}
}

// Add records a power reading taken at t and returns the energy it added in
// watt-hours, and whether the reading was taken into account.
func (m *EnergyMeter) Add(t time.Time, watts float64) (addedWh float64, used bool) {
	if bmc.ServerWattsBound().Check(watts) != "" {
		return 0, false
	}
	if m.started && !t.After(m.last) {
		return 0, false
	}
	if m.started {
		dt := t.Sub(m.last)
		if dt <= m.MaxGap {
			addedWh = (m.lastWatts + watts) / 2 * dt.Hours()
			m.wh += addedWh
			m.covered += dt
		} else {
			m.uncovered += dt
			m.gaps++
		}
	}
	m.started = true
	m.last, m.lastWatts = t, watts
	return addedWh, true
}

// Energy is what a meter has integrated.
type Energy struct {
	// Wh is the energy over the covered time, in watt-hours.
	Wh float64 `json:"wh"`
	// Covered is the time integrated; Uncovered the time in gaps longer
	// than MaxGap, over which nothing was added; Gaps how many such gaps.
	Covered   time.Duration `json:"covered_ns"`
	Uncovered time.Duration `json:"uncovered_ns"`
	Gaps      int           `json:"gaps"`
	// Last is the time of the last reading taken into account.
	Last time.Time `json:"last"`
}

// Energy returns what the meter has integrated so far.
func (m *EnergyMeter) Energy() Energy {
	return Energy{Wh: m.wh, Covered: m.covered, Uncovered: m.uncovered, Gaps: m.gaps, Last: m.last}
}

// Plus returns the sum of two meters' energy (a rack's from its servers'):
// energies, covered and uncovered times and gaps add up; Last is the later.
func (e Energy) Plus(o Energy) Energy {
	e.Wh += o.Wh
	e.Covered += o.Covered
	e.Uncovered += o.Uncovered
	e.Gaps += o.Gaps
	if o.Last.After(e.Last) {
		e.Last = o.Last
	}
	return e
}
