package inventory

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// AlertNames lists the alert rules' names, the vocabulary of `disabled`.
func AlertNames() []string {
	return []string{
		"DIMMFailing", "CPUHot", "PSUFailed", "PSURedundancyLost", "FanFailed",
		"DriveFailing", "InletHot", "BMCUnreachable", "RackOverBudget", "FeedFailoverUnsafe",
		"DiskSlow", "NICErrors", "InventoryMismatch", "AgentSilent",
	}
}

// rackAlertNames are the alerts evaluated per rack, tuned by Rack.Alerts:
// listing them in a server's own block has no effect.
func rackAlertNames() []string {
	return []string{"RackOverBudget", "FeedFailoverUnsafe"}
}

// rackAlertKeys are the settings of the rack alerts: they have no effect in
// a server's own block.
func rackAlertKeys() []string {
	return []string{
		"rack_budget_warning_percent", "rack_budget_critical_percent",
		"rack_dead_band_percent", "rack_for_cycles", "feed_dead_band_percent",
	}
}

// Ranges of the alert settings.
const (
	minCelsius    = -50
	maxCelsius    = 200
	maxPercentage = 1000
)

// AlertSettings tune the alert rules. Every field is optional: nil means
// "inherit" (from the level above, then the config file, then the
// engine's defaults).
type AlertSettings struct {
	// Disabled lists alert names switched off for the servers (and racks)
	// below; an explicit empty list re-enables everything.
	Disabled *[]string `yaml:"disabled,omitempty"`
	// DIMMCorrectableLimit is the number of correctable errors per window
	// that fires DIMMFailing (>= 1).
	DIMMCorrectableLimit *int `yaml:"dimm_correctable_limit,omitempty"`
	// DIMMCorrectableWindow is the window correctable errors are counted
	// over (> 0).
	DIMMCorrectableWindow *time.Duration `yaml:"dimm_correctable_window,omitempty"`
	// DIMMEventHold is how long a DIMM log/SEL event keeps DIMMFailing
	// firing (> 0).
	DIMMEventHold *time.Duration `yaml:"dimm_event_hold,omitempty"`
	// CPUWarningCelsius and CPUCriticalCelsius are used where the BMC
	// publishes no threshold.
	CPUWarningCelsius  *float64 `yaml:"cpu_warning_celsius,omitempty"`
	CPUCriticalCelsius *float64 `yaml:"cpu_critical_celsius,omitempty"`
	// CPUEventHold is how long a CPU log/SEL event keeps CPUHot firing.
	CPUEventHold         *time.Duration `yaml:"cpu_event_hold,omitempty"`
	InletWarningCelsius  *float64       `yaml:"inlet_warning_celsius,omitempty"`
	InletCriticalCelsius *float64       `yaml:"inlet_critical_celsius,omitempty"`
	// TemperatureDeadBandCelsius is the hysteresis of the temperature
	// alerts (>= 0).
	TemperatureDeadBandCelsius *float64 `yaml:"temperature_dead_band_celsius,omitempty"`
	// TemperatureForPolls is the number of polls a temperature must stay
	// over a threshold before its alert fires (>= 1).
	TemperatureForPolls *int `yaml:"temperature_for_polls,omitempty"`
	// UnreachableIntervals is the number of failed poll intervals that fire
	// BMCUnreachable (>= 1).
	UnreachableIntervals *int `yaml:"unreachable_intervals,omitempty"`
	// RackBudgetWarningPercent and RackBudgetCriticalPercent are a rack's
	// power as a percentage of its budget (> 0).
	RackBudgetWarningPercent  *float64 `yaml:"rack_budget_warning_percent,omitempty"`
	RackBudgetCriticalPercent *float64 `yaml:"rack_budget_critical_percent,omitempty"`
	// RackDeadBandPercent is the hysteresis of RackOverBudget (>= 0).
	RackDeadBandPercent *float64 `yaml:"rack_dead_band_percent,omitempty"`
	// RackForCycles is the number of rollup cycles a rack must stay over a
	// threshold before RackOverBudget fires (>= 1).
	RackForCycles *int `yaml:"rack_for_cycles,omitempty"`
	// FeedDeadBandPercent is the hysteresis of FeedFailoverUnsafe (>= 0).
	FeedDeadBandPercent *float64 `yaml:"feed_dead_band_percent,omitempty"`
	// DiskSlowHDDMs and DiskSlowSSDMs are the mean I/O latency, in ms,
	// above which a busy disk of that class is slow; DiskSlowReports how
	// many agent reports in a row it must be (>= 1).
	DiskSlowHDDMs   *float64 `yaml:"disk_slow_hdd_ms,omitempty"`
	DiskSlowSSDMs   *float64 `yaml:"disk_slow_ssd_ms,omitempty"`
	DiskSlowReports *int     `yaml:"disk_slow_reports,omitempty"`
	// AgentSilentIntervals is how many of its report intervals an agent
	// may miss before AgentSilent (>= 1).
	AgentSilentIntervals *int `yaml:"agent_silent_intervals,omitempty"`
	// Source is where the block was written (zero when it was not).
	Source Source `yaml:"-"`
}

// Overlay returns s with every field set in over replacing s's. Source
// becomes over's when over's block was written. The result shares no
// Disabled list with s or over.
func (s AlertSettings) Overlay(over AlertSettings) AlertSettings {
	return AlertSettings{
		Disabled:                   cloneList(cmpOr(over.Disabled, s.Disabled)),
		DIMMCorrectableLimit:       cmpOr(over.DIMMCorrectableLimit, s.DIMMCorrectableLimit),
		DIMMCorrectableWindow:      cmpOr(over.DIMMCorrectableWindow, s.DIMMCorrectableWindow),
		DIMMEventHold:              cmpOr(over.DIMMEventHold, s.DIMMEventHold),
		CPUWarningCelsius:          cmpOr(over.CPUWarningCelsius, s.CPUWarningCelsius),
		CPUCriticalCelsius:         cmpOr(over.CPUCriticalCelsius, s.CPUCriticalCelsius),
		CPUEventHold:               cmpOr(over.CPUEventHold, s.CPUEventHold),
		InletWarningCelsius:        cmpOr(over.InletWarningCelsius, s.InletWarningCelsius),
		InletCriticalCelsius:       cmpOr(over.InletCriticalCelsius, s.InletCriticalCelsius),
		TemperatureDeadBandCelsius: cmpOr(over.TemperatureDeadBandCelsius, s.TemperatureDeadBandCelsius),
		TemperatureForPolls:        cmpOr(over.TemperatureForPolls, s.TemperatureForPolls),
		UnreachableIntervals:       cmpOr(over.UnreachableIntervals, s.UnreachableIntervals),
		RackBudgetWarningPercent:   cmpOr(over.RackBudgetWarningPercent, s.RackBudgetWarningPercent),
		RackBudgetCriticalPercent:  cmpOr(over.RackBudgetCriticalPercent, s.RackBudgetCriticalPercent),
		RackDeadBandPercent:        cmpOr(over.RackDeadBandPercent, s.RackDeadBandPercent),
		RackForCycles:              cmpOr(over.RackForCycles, s.RackForCycles),
		FeedDeadBandPercent:        cmpOr(over.FeedDeadBandPercent, s.FeedDeadBandPercent),
		DiskSlowHDDMs:              cmpOr(over.DiskSlowHDDMs, s.DiskSlowHDDMs),
		DiskSlowSSDMs:              cmpOr(over.DiskSlowSSDMs, s.DiskSlowSSDMs),
		DiskSlowReports:            cmpOr(over.DiskSlowReports, s.DiskSlowReports),
		AgentSilentIntervals:       cmpOr(over.AgentSilentIntervals, s.AgentSilentIntervals),
		Source:                     cmpOr(over.Source, s.Source),
	}
}

func cloneList(l *[]string) *[]string {
	if l == nil {
		return nil
	}
	c := slices.Clone(*l)
	if c == nil {
		c = []string{}
	}
	return &c
}

// DecodeAlertSettings decodes an `alerts:` block outside an inventory
// (the config file's), reporting problems with file, line and YAML path
// (path prefix given by the caller, e.g. "alerts"). n is the block's value
// node (a document node holding it is accepted); nil or null is an empty
// block. The problems are sorted by line; any error among them means the
// settings must not be used.
func DecodeAlertSettings(file string, n *yaml.Node, path string) (AlertSettings, Problems) {
	d := &decoder{file: file, dir: filepath.Dir(file), lookupEnv: os.LookupEnv}
	if n != nil && n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return AlertSettings{}, nil
		}
		n = n.Content[0]
	}
	if n == nil {
		return AlertSettings{}, nil
	}
	s, _ := d.alertSettings(n, path, false)
	d.problems.sort()
	return s, d.problems
}

// alertSettings decodes an alerts block and checks each warning threshold
// against its critical one within the block. In a server's own block
// (perServer), settings and names of the rack alerts are warned about: they
// take effect in a defaults block only. It returns the key node of each key
// given.
func (d *decoder) alertSettings(n *yaml.Node, path string, perServer bool) (AlertSettings, map[string]*yaml.Node) {
	s := AlertSettings{Source: d.source(n, path)}
	celsius := numberRange{minCelsius, maxCelsius, true, " °C"}
	celsiusBand := numberRange{0, maxCelsius, true, " °C"}
	percentage := numberRange{0, maxPercentage, false, " percent"}
	percentageBand := numberRange{0, maxPercentage, true, " percent"}
	given := d.mapping(n, path, []field{
		{"disabled", d.alertNames(&s.Disabled, perServer)},
		{"dimm_correctable_limit", d.optInt(&s.DIMMCorrectableLimit, 1)},
		{"dimm_correctable_window", d.optDuration(&s.DIMMCorrectableWindow)},
		{"dimm_event_hold", d.optDuration(&s.DIMMEventHold)},
		{"cpu_warning_celsius", d.optFloat(&s.CPUWarningCelsius, celsius)},
		{"cpu_critical_celsius", d.optFloat(&s.CPUCriticalCelsius, celsius)},
		{"cpu_event_hold", d.optDuration(&s.CPUEventHold)},
		{"inlet_warning_celsius", d.optFloat(&s.InletWarningCelsius, celsius)},
		{"inlet_critical_celsius", d.optFloat(&s.InletCriticalCelsius, celsius)},
		{"temperature_dead_band_celsius", d.optFloat(&s.TemperatureDeadBandCelsius, celsiusBand)},
		{"temperature_for_polls", d.optInt(&s.TemperatureForPolls, 1)},
		{"unreachable_intervals", d.optInt(&s.UnreachableIntervals, 1)},
		{"rack_budget_warning_percent", d.optFloat(&s.RackBudgetWarningPercent, percentage)},
		{"rack_budget_critical_percent", d.optFloat(&s.RackBudgetCriticalPercent, percentage)},
		{"rack_dead_band_percent", d.optFloat(&s.RackDeadBandPercent, percentageBand)},
		{"rack_for_cycles", d.optInt(&s.RackForCycles, 1)},
		{"feed_dead_band_percent", d.optFloat(&s.FeedDeadBandPercent, percentageBand)},
		{"disk_slow_hdd_ms", d.optFloat(&s.DiskSlowHDDMs, numberRange{0, 1e6, false, " ms"})},
		{"disk_slow_ssd_ms", d.optFloat(&s.DiskSlowSSDMs, numberRange{0, 1e6, false, " ms"})},
		{"disk_slow_reports", d.optInt(&s.DiskSlowReports, 1)},
		{"agent_silent_intervals", d.optInt(&s.AgentSilentIntervals, 1)},
	})
	if perServer {
		for _, key := range rackAlertKeys() {
			if k, ok := given[key]; ok {
				d.warnf(k, joinPath(path, key), "%s tunes a rack alert and has no effect on a server; set it in a defaults.alerts block (the rack's or above)", key)
			}
		}
	}
	for _, p := range thresholdPairs(&s) {
		if p.warn == nil || p.crit == nil || *p.warn < *p.crit {
			continue
		}
		d.errorf(given[p.critKey], joinPath(path, p.critKey), "must be above %s (%s at line %d), got %s",
			p.warnKey, formatFloat(*p.warn), lineOf(given[p.warnKey]), formatFloat(*p.crit))
	}
	return s, given
}

// thresholdPair is a warning threshold and the critical one it must stay
// below.
type thresholdPair struct {
	warnKey, critKey string
	warn, crit       *float64
}

func thresholdPairs(s *AlertSettings) []thresholdPair {
	return []thresholdPair{
		{"cpu_warning_celsius", "cpu_critical_celsius", s.CPUWarningCelsius, s.CPUCriticalCelsius},
		{"inlet_warning_celsius", "inlet_critical_celsius", s.InletWarningCelsius, s.InletCriticalCelsius},
		{"rack_budget_warning_percent", "rack_budget_critical_percent", s.RackBudgetWarningPercent, s.RackBudgetCriticalPercent},
	}
}

// alertNames decodes a list of alert names. A null value is an empty list:
// it re-enables everything, like []. A name listed twice is warned about.
func (d *decoder) alertNames(dst **[]string, perServer bool) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		names := []string{}
		known := AlertNames()
		seen := map[string]int{}
		d.sequence(n, path, func(item *yaml.Node, path string) {
			s, ok := d.scalar(item, path, "an alert name")
			if !ok {
				return
			}
			s = strings.TrimSpace(s)
			if !slices.Contains(known, s) {
				d.errorf(item, path, "unknown alert %q%s", s, suggestAlert(s, known))
				return
			}
			if line, dup := seen[s]; dup {
				d.warnf(item, path, "alert %s listed twice (first at line %d)", s, line)
				return
			}
			seen[s] = item.Line
			if perServer && slices.Contains(rackAlertNames(), s) {
				d.warnf(item, path, "%s is a rack alert and is not disabled by a server's block; list it in a defaults.alerts block (the rack's or above)", s)
			}
			names = append(names, s)
		})
		if deref(n).Kind == yaml.SequenceNode || isNull(deref(n)) {
			*dst = &names
		}
	}
}

// suggestAlert returns ` (did you mean "X"?)` for the alert name closest to
// a mistyped one (ignoring case), or the list of alert names.
func suggestAlert(name string, known []string) string {
	if best, ok := closest(name, known); ok {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	return " (known alerts: " + strings.Join(known, ", ") + ")"
}

// optInt decodes a YAML integer of at least min.
func (d *decoder) optInt(dst **int, min int) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
			d.errorf(n, path, "want an integer, got %s", numberKind(n))
			return
		}
		var v int
		if err := n.Decode(&v); err != nil {
			d.errorf(n, path, "want an integer, got %s", kindName(n))
			return
		}
		if v < min {
			d.errorf(n, path, "must be at least %d, got %d", min, v)
			return
		}
		*dst = &v
	}
}

// numberRange is what a float setting accepts: lo to hi, lo itself only
// when closed.
type numberRange struct {
	lo, hi float64
	closed bool
	unit   string
}

func (r numberRange) String() string {
	if r.closed {
		return fmt.Sprintf("from %s to %s%s", formatFloat(r.lo), formatFloat(r.hi), r.unit)
	}
	return fmt.Sprintf("more than %s and at most %s%s", formatFloat(r.lo), formatFloat(r.hi), r.unit)
}

func (r numberRange) contains(v float64) bool {
	if v < r.lo || v > r.hi {
		return false
	}
	return r.closed || v > r.lo
}

// optFloat decodes a YAML number (integer or float) within r. Strings,
// quoted numbers, NaN and infinities are refused.
func (d *decoder) optFloat(dst **float64, r numberRange) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") {
			d.errorf(n, path, "want a number, got %s", numberKind(n))
			return
		}
		var v float64
		if err := n.Decode(&v); err != nil {
			d.errorf(n, path, "want a number, got %s", kindName(n))
			return
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			d.errorf(n, path, "want a finite number, got %s", n.Value)
			return
		}
		if !r.contains(v) {
			d.errorf(n, path, "must be %s, got %s", r, n.Value)
			return
		}
		*dst = &v
	}
}

// numberKind describes a node that should have been a number, pointing out
// quotes around one.
func numberKind(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!str" && n.Style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle) != 0 {
		if _, err := strconv.ParseFloat(strings.TrimSpace(n.Value), 64); err == nil {
			return fmt.Sprintf("the string %q (drop the quotes)", n.Value)
		}
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!float" {
		return n.Value
	}
	return kindName(n)
}

func (d *decoder) optDuration(dst **time.Duration) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		var v time.Duration
		d.duration(&v)(n, path)
		if v > 0 {
			*dst = &v
		}
	}
}

// alertEntries lists the settings given in s as key=value, in the order of
// the reference.
func alertEntries(s AlertSettings) []string {
	var out []string
	add := func(key, value string) { out = append(out, key+"="+value) }
	if s.Disabled != nil {
		if len(*s.Disabled) == 0 {
			add("disabled", "[]")
		} else {
			add("disabled", strings.Join(*s.Disabled, ","))
		}
	}
	ints := func(key string, v *int) {
		if v != nil {
			add(key, strconv.Itoa(*v))
		}
	}
	floats := func(key string, v *float64) {
		if v != nil {
			add(key, formatFloat(*v))
		}
	}
	durations := func(key string, v *time.Duration) {
		if v != nil {
			add(key, formatDuration(*v))
		}
	}
	ints("dimm_correctable_limit", s.DIMMCorrectableLimit)
	durations("dimm_correctable_window", s.DIMMCorrectableWindow)
	durations("dimm_event_hold", s.DIMMEventHold)
	floats("cpu_warning_celsius", s.CPUWarningCelsius)
	floats("cpu_critical_celsius", s.CPUCriticalCelsius)
	durations("cpu_event_hold", s.CPUEventHold)
	floats("inlet_warning_celsius", s.InletWarningCelsius)
	floats("inlet_critical_celsius", s.InletCriticalCelsius)
	floats("temperature_dead_band_celsius", s.TemperatureDeadBandCelsius)
	ints("temperature_for_polls", s.TemperatureForPolls)
	ints("unreachable_intervals", s.UnreachableIntervals)
	floats("rack_budget_warning_percent", s.RackBudgetWarningPercent)
	floats("rack_budget_critical_percent", s.RackBudgetCriticalPercent)
	floats("rack_dead_band_percent", s.RackDeadBandPercent)
	ints("rack_for_cycles", s.RackForCycles)
	floats("feed_dead_band_percent", s.FeedDeadBandPercent)
	return out
}

func formatFloat(v float64) string {
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// formatDuration writes a duration the way it is written in YAML: 24h, 1h30m,
// 5m, not 24h0m0s.
func formatDuration(v time.Duration) string {
	s := v.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// alertBlock is one alerts block on the way down to a rack or server, with
// the line of each key it gives.
type alertBlock struct {
	settings AlertSettings
	lines    map[string]int
}

// inheritedThresholds checks, for the given critical keys, that the warning
// threshold a rack or server inherits stays below its critical one when the
// two come from different blocks of the inventory (one block is checked
// when decoded). blocks are nearest first. A pair is reported once, at the
// nearer of the two keys.
func (c *checker) inheritedThresholds(blocks []alertBlock, critKeys ...string) {
	for i, p := range thresholdPairs(&AlertSettings{}) {
		if !slices.Contains(critKeys, p.critKey) {
			continue
		}
		nearest := func(crit bool) (int, float64) {
			for j, b := range blocks {
				q := thresholdPairs(&b.settings)[i]
				if v := q.warn; !crit && v != nil {
					return j, *v
				}
				if v := q.crit; crit && v != nil {
					return j, *v
				}
			}
			return -1, 0
		}
		wi, warn := nearest(false)
		ci, crit := nearest(true)
		if wi < 0 || ci < 0 || wi == ci || warn < crit {
			continue
		}
		at := func(j int, key string) Source {
			src := blocks[j].settings.Source
			src.Line = blocks[j].lines[key]
			return src
		}
		near, nearKey, far, farKey := ci, p.critKey, wi, p.warnKey
		relation, nearValue, farValue := "above", crit, warn
		if wi < ci {
			near, nearKey, far, farKey = wi, p.warnKey, ci, p.critKey
			relation, nearValue, farValue = "below", warn, crit
		}
		src := at(near, nearKey)
		id := src.File + ":" + strconv.Itoa(src.Line) + ":" + src.Path + "." + nearKey
		if c.reportedAlerts[id] {
			continue
		}
		c.reportedAlerts[id] = true
		farSrc := at(far, farKey)
		c.errorf(src, nearKey, "%s %s is not %s the inherited %s %s (set at %s, %s)",
			nearKey, formatFloat(nearValue), relation, farKey, formatFloat(farValue), where(farSrc, src), joinPath(farSrc.Path, farKey))
	}
}
