package power

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/rackpulse/rackpulse/bmc"
)

// AssumedPSUEfficiency converts a PSU output sum into input power when
// nothing better is published: input ≈ output / efficiency. 0.94 is an
// 80 PLUS Platinum supply near half load.
const AssumedPSUEfficiency = 0.94

// DisagreeRatio is how far (as a fraction of the chosen value) another input
// measure of the same chassis may be before it is set aside as disagreeing.
const DisagreeRatio = 0.25

// Reading is a server's input power and where it came from. The zero value
// (Known false) means no source gave a usable number: missing, not 0 W.
type Reading struct {
	// Watts is the server's input power; meaningful only when Known.
	Watts float64 `json:"watts"`
	Known bool    `json:"known"`
	// Source is the source of the reading. When several chassis were
	// summed with different sources, it is the least direct one used.
	Source bmc.PowerSource `json:"source,omitempty"`
	// Estimated is set when the value is a PSU output sum converted with
	// AssumedPSUEfficiency rather than a measure of input power.
	Estimated bool `json:"estimated,omitempty"`
	// IntervalMin is the BMC's averaging window where it publishes one
	// (the longest one, when several chassis were summed).
	IntervalMin *float64 `json:"interval_min,omitempty"`
	// Measured is when the snapshot was taken; Age is now minus Measured.
	Measured time.Time     `json:"measured"`
	Age      time.Duration `json:"age_ns"`
	// Suspect says why the value is doubtful: it was used only because
	// nothing better existed. Empty when the value is not doubtful.
	Suspect string `json:"suspect,omitempty"`
	// Parts are the chassis readings summed into Watts, one per chassis.
	Parts []Part `json:"parts,omitempty"`
	// SetAside are the readings not used, each with the reason.
	SetAside []SetAside `json:"set_aside,omitempty"`
}

// Part is one chassis's contribution to a Reading.
type Part struct {
	Chassis     string          `json:"chassis,omitempty"`
	Source      bmc.PowerSource `json:"source"`
	Watts       float64         `json:"watts"`
	Estimated   bool            `json:"estimated,omitempty"`
	IntervalMin *float64        `json:"interval_min,omitempty"`
	Resource    string          `json:"resource,omitempty"`
	Suspect     string          `json:"suspect,omitempty"`
}

// SetAside is a published reading that was not used, and why. Watts is 0
// when what was published is not a number (NaN, ±Inf): Reason says what.
type SetAside struct {
	Chassis  string          `json:"chassis,omitempty"`
	Source   bmc.PowerSource `json:"source"`
	Watts    float64         `json:"watts"`
	Resource string          `json:"resource,omitempty"`
	Reason   string          `json:"reason"`
}

// precedence orders the sources from the most direct measure of a chassis's
// input power down; a source not listed is never used.
func precedence(src bmc.PowerSource) (int, bool) {
	switch src {
	case bmc.PowerFromPowerControl:
		return 0, true
	case bmc.PowerFromEnvironmentMetrics:
		return 1, true
	case bmc.PowerFromChassisSensor:
		return 2, true
	case bmc.PowerFromDCMI:
		return 3, true
	case bmc.PowerFromPSUInput:
		return 4, true
	case bmc.PowerFromSensor:
		return 5, true
	case bmc.PowerFromPSUOutput:
		return 6, true
	}
	return 0, false
}

// ServerPower returns the server's input power from the snapshot, measured
// at now. One value is chosen per chassis (see choose); a chassis inside
// another chassis of the same snapshot (a blade in its enclosure) is counted
// through the enclosure when the enclosure has a reading, and only otherwise
// through its own; top-level chassis are summed. Every reading not used is
// listed in SetAside with the reason.
func ServerPower(s *bmc.Snapshot, now time.Time) Reading {
	out := Reading{Measured: s.Time}
	if !s.Time.IsZero() && !now.IsZero() {
		// Never negative: a clock read a moment before the snapshot's
		// start is not a reading from the future.
		out.Age = max(0, now.Sub(s.Time))
	}
	on := poweredOn(s)

	// Readings by chassis, in snapshot order.
	byChassis := map[string][]int{}
	var order []string
	for i, r := range s.Power {
		if _, ok := byChassis[r.Chassis]; !ok {
			order = append(order, r.Chassis)
		}
		byChassis[r.Chassis] = append(byChassis[r.Chassis], i)
	}
	chosen := map[string]Part{}
	for _, c := range order {
		if p, ok := choose(s.Power, byChassis[c], on, &out.SetAside); ok {
			chosen[c] = p
		}
	}

	// The chassis tree: children by parent, for chassis the snapshot lists.
	listed := map[string]bool{}
	for _, c := range s.Chassis {
		listed[c.ID] = true
	}
	children := map[string][]string{}
	var roots []string
	for _, c := range s.Chassis {
		if c.ContainedBy != "" && c.ContainedBy != c.ID && listed[c.ContainedBy] {
			children[c.ContainedBy] = append(children[c.ContainedBy], c.ID)
		} else {
			roots = append(roots, c.ID)
		}
	}
	// Readings of chassis the snapshot does not list (IPMI has none) are
	// top-level: they measure the whole server.
	for _, c := range order {
		if !listed[c] {
			roots = append(roots, c)
		}
	}
	visited := map[string]bool{}
	var resolve func(id string) bool
	resolve = func(id string) bool {
		if visited[id] {
			return false
		}
		visited[id] = true
		if p, ok := chosen[id]; ok {
			out.Parts = append(out.Parts, p)
			for _, child := range children[id] {
				setAsideTree(child, id, children, chosen, visited, &out.SetAside)
			}
			return true
		}
		found := false
		for _, child := range children[id] {
			if resolve(child) {
				found = true
			}
		}
		return found
	}
	for _, id := range roots {
		resolve(id)
	}
	// Chassis in a ContainedBy loop are never reached from a root; count
	// them on their own rather than lose them.
	for _, c := range order {
		if !visited[c] {
			if p, ok := chosen[c]; ok {
				visited[c] = true
				out.Parts = append(out.Parts, p)
			}
		}
	}
	combine(&out)
	return out
}

// setAsideTree lists the chosen readings of a chassis inside an enclosure
// that is measured as a whole, and of everything inside it.
func setAsideTree(id, enclosure string, children map[string][]string, chosen map[string]Part, visited map[string]bool, aside *[]SetAside) {
	if visited[id] {
		return
	}
	visited[id] = true
	if p, ok := chosen[id]; ok {
		*aside = append(*aside, SetAside{Chassis: id, Source: p.Source, Watts: p.Watts, Resource: p.Resource,
			Reason: fmt.Sprintf("inside chassis %s, whose own reading counts it", enclosure)})
	}
	for _, child := range children[id] {
		setAsideTree(child, enclosure, children, chosen, visited, aside)
	}
}

// combine sums the parts into the reading. A sum that is not a plausible
// server reading (chassis that each pass but add up beyond any server's
// draw) is no reading: the parts are set aside with the reason.
func combine(out *Reading) {
	if len(out.Parts) == 0 {
		return
	}
	var sum float64
	for _, p := range out.Parts {
		sum += p.Watts
	}
	if why := bmc.ServerWattsBound().Check(sum); why != "" {
		for _, p := range out.Parts {
			out.SetAside = append(out.SetAside, SetAside{Chassis: p.Chassis, Source: p.Source, Watts: p.Watts, Resource: p.Resource,
				Reason: "the chassis sum to " + why})
		}
		out.Parts = nil
		return
	}
	out.Known = true
	worst := -1
	var reasons []string
	for _, p := range out.Parts {
		out.Watts += p.Watts
		if rank, _ := precedence(p.Source); rank > worst {
			worst = rank
			out.Source = p.Source
		}
		if p.Estimated {
			out.Estimated = true
		}
		if p.IntervalMin != nil && (out.IntervalMin == nil || *p.IntervalMin > *out.IntervalMin) {
			out.IntervalMin = p.IntervalMin
		}
		if p.Suspect != "" {
			reasons = append(reasons, p.Suspect)
		}
	}
	out.Suspect = strings.Join(reasons, "; ")
}

// choose picks one chassis's reading: the first source in precedence order
// whose reading is not suspect; among several readings of one source (IPMI
// watt sensors), the largest, since the whole-server input exceeds any
// component's. A suspect reading is used only when there is nothing else,
// and the part then carries its reason. The others are set aside when
// suspect or when they disagree with the choice; lower-precedence readings
// that agree are simply not needed and are not listed.
func choose(readings []bmc.PowerReading, idx []int, on bool, aside *[]SetAside) (Part, bool) {
	best, bestSuspect := -1, -1
	why := make([]string, len(idx))
	for k, i := range idx {
		r := &readings[i]
		rank, known := precedence(r.Source)
		switch {
		case !known:
			why[k] = "unknown source"
			continue
		case bmc.ServerWattsBound().Check(r.Watts) != "":
			// Not a reading (NaN, ±Inf, negative, beyond any server's
			// draw): never used, even for want of a better one.
			why[k] = "not a reading: " + bmc.ServerWattsBound().Check(r.Watts)
			continue
		case r.Suspect != "":
			why[k] = r.Suspect
		case r.Watts == 0 && on:
			why[k] = "0 W while powered on"
		}
		if why[k] == "" {
			if best < 0 || better(r, &readings[idx[best]], rank) {
				best = k
			}
		} else if bestSuspect < 0 || better(r, &readings[idx[bestSuspect]], rank) {
			bestSuspect = k
		}
	}
	pick := best
	if pick < 0 {
		pick = bestSuspect
	}
	if pick < 0 {
		for k, i := range idx {
			*aside = append(*aside, setAside(&readings[i], why[k]))
		}
		return Part{}, false
	}
	r := &readings[idx[pick]]
	part := Part{Chassis: r.Chassis, Source: r.Source, Watts: r.Watts, IntervalMin: r.IntervalMin, Resource: r.Resource, Suspect: why[pick]}
	if r.Source == bmc.PowerFromPSUOutput {
		part.Watts = r.Watts / AssumedPSUEfficiency
		part.Estimated = true
	}
	for k, i := range idx {
		if k == pick {
			continue
		}
		o := &readings[i]
		reason := why[k]
		if reason == "" {
			reason = disagreement(o, part)
		}
		if reason != "" {
			*aside = append(*aside, setAside(o, reason))
		}
	}
	return part, true
}

// better reports whether r beats cur, of rank rank, as a chassis's choice.
func better(r, cur *bmc.PowerReading, rank int) bool {
	curRank, _ := precedence(cur.Source)
	if rank != curRank {
		return rank < curRank
	}
	return r.Source == bmc.PowerFromSensor && r.Watts > cur.Watts
}

// disagreement says why a plausible reading o is set aside next to the
// chosen part, or "" when it agrees.
func disagreement(o *bmc.PowerReading, chosen Part) string {
	if chosen.Watts <= 0 {
		return ""
	}
	if o.Source == bmc.PowerFromPSUOutput {
		if o.Watts > chosen.Watts {
			return fmt.Sprintf("PSU output %g W above the input %g W (%s)", o.Watts, round1(chosen.Watts), chosen.Source)
		}
		return ""
	}
	off := (o.Watts - chosen.Watts) / chosen.Watts
	if math.Abs(off) > DisagreeRatio {
		return fmt.Sprintf("%g W is %+.0f%% from the %g W used (%s)", o.Watts, off*100, round1(chosen.Watts), chosen.Source)
	}
	return ""
}

func setAside(r *bmc.PowerReading, reason string) SetAside {
	w := r.Watts
	if !bmc.Finite(w) {
		w = 0 // JSON cannot carry it; the reason says what it was
	}
	return SetAside{Chassis: r.Chassis, Source: r.Source, Watts: w, Resource: r.Resource, Reason: reason}
}

// poweredOn reports whether any system or chassis says it is on.
func poweredOn(s *bmc.Snapshot) bool {
	for _, sys := range s.Systems {
		if sys.PowerState == "On" {
			return true
		}
	}
	for _, c := range s.Chassis {
		if c.PowerState == "On" {
			return true
		}
	}
	return false
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }
