package alert

import (
	"time"

	"github.com/rackpulse/rackpulse/inventory"
)

// Settings are the rules' tunables as they apply to one server or rack:
// the defaults, overlaid with the config file's `alerts:` block, then with
// the inventory's `defaults: alerts:` blocks from the site down to the
// server. docs/alerts.md gives each default and its source.
type Settings struct {
	// Disabled holds the rules switched off.
	Disabled ruleSet

	DIMMCorrectableLimit  int
	DIMMCorrectableWindow time.Duration
	DIMMEventHold         time.Duration

	// CPU and inlet thresholds where the BMC publishes none.
	CPUWarningCelsius    float64
	CPUCriticalCelsius   float64
	CPUEventHold         time.Duration
	InletWarningCelsius  float64
	InletCriticalCelsius float64

	TemperatureDeadBandCelsius float64
	TemperatureForPolls        int

	UnreachableIntervals int

	RackBudgetWarningPercent  float64
	RackBudgetCriticalPercent float64
	RackDeadBandPercent       float64
	RackForCycles             int
	FeedDeadBandPercent       float64

	DiskSlowHDDMs        float64
	DiskSlowSSDMs        float64
	DiskSlowReports      int
	AgentSilentIntervals int
}

// DefaultSettings are the rules' untuned defaults.
func DefaultSettings() Settings {
	return Settings{
		// mcelog soft-offlines a page after 10 correctable errors in 24 h.
		DIMMCorrectableLimit:  10,
		DIMMCorrectableWindow: 24 * time.Hour,
		DIMMEventHold:         24 * time.Hour,
		// Within the 95-105 °C Tjmax/Tcase of current server CPUs: used
		// only where the BMC gives no threshold of its own.
		CPUWarningCelsius:  90,
		CPUCriticalCelsius: 100,
		CPUEventHold:       time.Hour,
		// ASHRAE TC 9.9 allowable inlet: class A1 up to 32 °C, A2 up to 35 °C.
		InletWarningCelsius:        32,
		InletCriticalCelsius:       35,
		TemperatureDeadBandCelsius: 3,
		TemperatureForPolls:        2,
		UnreachableIntervals:       3,
		// DCIM practice: amber from 80 % of a rack's budget (the NEC's
		// continuous-load limit for a branch circuit), red at 100 %.
		RackBudgetWarningPercent:  80,
		RackBudgetCriticalPercent: 100,
		RackDeadBandPercent:       2,
		RackForCycles:             2,
		FeedDeadBandPercent:       2,
		// A healthy HDD completes an I/O in 5-15 ms, a SATA SSD in well
		// under 1 ms at moderate load: ten times that, sustained, is a
		// disk that holds its host back.
		DiskSlowHDDMs:        100,
		DiskSlowSSDMs:        20,
		DiskSlowReports:      3,
		AgentSilentIntervals: 3,
	}
}

// Overlay returns s with every setting given in over replacing s's.
func (s Settings) Overlay(over inventory.AlertSettings) Settings {
	if over.Disabled != nil {
		s.Disabled = 0
		for _, name := range *over.Disabled {
			if r, ok := ruleNamed(name); ok {
				s.Disabled |= 1 << r
			}
		}
	}
	setInt(&s.DIMMCorrectableLimit, over.DIMMCorrectableLimit)
	setDuration(&s.DIMMCorrectableWindow, over.DIMMCorrectableWindow)
	setDuration(&s.DIMMEventHold, over.DIMMEventHold)
	setFloat(&s.CPUWarningCelsius, over.CPUWarningCelsius)
	setFloat(&s.CPUCriticalCelsius, over.CPUCriticalCelsius)
	setDuration(&s.CPUEventHold, over.CPUEventHold)
	setFloat(&s.InletWarningCelsius, over.InletWarningCelsius)
	setFloat(&s.InletCriticalCelsius, over.InletCriticalCelsius)
	setFloat(&s.TemperatureDeadBandCelsius, over.TemperatureDeadBandCelsius)
	setInt(&s.TemperatureForPolls, over.TemperatureForPolls)
	setInt(&s.UnreachableIntervals, over.UnreachableIntervals)
	setFloat(&s.RackBudgetWarningPercent, over.RackBudgetWarningPercent)
	setFloat(&s.RackBudgetCriticalPercent, over.RackBudgetCriticalPercent)
	setFloat(&s.RackDeadBandPercent, over.RackDeadBandPercent)
	setInt(&s.RackForCycles, over.RackForCycles)
	setFloat(&s.FeedDeadBandPercent, over.FeedDeadBandPercent)
	setFloat(&s.DiskSlowHDDMs, over.DiskSlowHDDMs)
	setFloat(&s.DiskSlowSSDMs, over.DiskSlowSSDMs)
	setInt(&s.DiskSlowReports, over.DiskSlowReports)
	setInt(&s.AgentSilentIntervals, over.AgentSilentIntervals)
	return s
}

// enabled reports whether a rule is on.
func (s *Settings) enabled(r rule) bool { return s.Disabled&(1<<r) == 0 }

func setInt(dst *int, v *int) {
	if v != nil {
		*dst = *v
	}
}

func setFloat(dst *float64, v *float64) {
	if v != nil {
		*dst = *v
	}
}

func setDuration(dst *time.Duration, v *time.Duration) {
	if v != nil {
		*dst = *v
	}
}
