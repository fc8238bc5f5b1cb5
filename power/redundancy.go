package power

import (
	"fmt"
	"slices"
	"strings"

	"github.com/rackpulse/rackpulse/bmc"
)

// Redundancy is the state of a server's PSU redundancy.
type Redundancy string

// Redundancy states, from best to worst; unknown when there is no PSU data.
const (
	RedundancyUnknown   Redundancy = "unknown"
	RedundancyRedundant Redundancy = "redundant"
	RedundancyDegraded  Redundancy = "degraded"
	RedundancyLost      Redundancy = "lost"
)

func (r Redundancy) rank() int {
	switch r {
	case RedundancyRedundant:
		return 1
	case RedundancyDegraded:
		return 2
	case RedundancyLost:
		return 3
	}
	return 0
}

// PSUStatus is a server's PSU redundancy and what it was judged from.
type PSUStatus struct {
	Redundancy Redundancy `json:"redundancy"`
	// Present counts PSUs in their bays; Working those delivering power.
	Present int `json:"present"`
	Working int `json:"working"`
	// Reason says what made the state what it is.
	Reason string `json:"reason,omitempty"`
}

// PSURedundancy judges the server's PSU redundancy from each supply's
// state, health, predicted failure and line input status, and, where the
// supplies publish their rating, from whether the supplies left after losing
// the largest one still carry the load. PSUs are judged per chassis (a blade
// enclosure's supplies are one group) and the server gets the worst group.
//
// Where the BMC publishes redundancy groups (Redfish Redundancy and
// PowerSupplyRedundancy), each is judged too: its own health, a
// NotRedundant mode, and whether as many members work as it needs to be
// redundant; the worse of the two judgements stands. (IPMI redundancy sensors are not read.)
func PSURedundancy(s *bmc.Snapshot, load Reading) PSUStatus {
	var groups []string
	for _, p := range s.PSUs {
		if !slices.Contains(groups, p.Chassis) {
			groups = append(groups, p.Chassis)
		}
	}
	out := PSUStatus{Redundancy: RedundancyUnknown, Reason: "no PSU data"}
	worst := PSUStatus{Redundancy: RedundancyUnknown}
	for i, g := range groups {
		watts, known := groupLoad(load, g, len(groups))
		st := groupRedundancy(s.PSUs, g, watts, known)
		if pub, ok := publishedRedundancy(s, g); ok && pub.Redundancy.rank() > st.Redundancy.rank() {
			st.Redundancy, st.Reason = pub.Redundancy, pub.Reason
		}
		if len(groups) > 1 && g != "" {
			st.Reason = "chassis " + g + ": " + st.Reason
		}
		if i == 0 || st.Redundancy.rank() > worst.Redundancy.rank() {
			worst = st
		}
		out.Present += st.Present
		out.Working += st.Working
	}
	if len(groups) > 0 {
		out.Redundancy, out.Reason = worst.Redundancy, worst.Reason
	}
	return out
}

// groupLoad is the load on one chassis's supplies: that chassis's part of
// the reading, else the whole reading when the server has one PSU group.
func groupLoad(load Reading, chassis string, groups int) (float64, bool) {
	if !load.Known {
		return 0, false
	}
	for _, p := range load.Parts {
		if p.Chassis == chassis {
			return p.Watts, true
		}
	}
	if groups == 1 {
		return load.Watts, true
	}
	return 0, false
}

func groupRedundancy(psus []bmc.PSU, chassis string, load float64, loadKnown bool) PSUStatus {
	var st PSUStatus
	var lost, warn []string
	var capSum, capMax float64
	ratings := true
	for i := range psus {
		p := &psus[i]
		if p.Chassis != chassis || !Present(p) {
			continue
		}
		st.Present++
		if !Working(p) {
			lost = append(lost, "PSU "+p.Bay+" "+notWorkingReason(p))
			continue
		}
		st.Working++
		if p.Health == bmc.HealthWarning || p.FailurePredicted || p.State == "Degraded" {
			warn = append(warn, "PSU "+p.Bay+" "+warningReason(p))
		}
		if p.CapacityWatts == nil {
			ratings = false
			continue
		}
		capSum += *p.CapacityWatts
		capMax = max(capMax, *p.CapacityWatts)
	}
	notes := strings.Join(append(lost, warn...), ", ")
	switch {
	case st.Present == 0:
		st.Redundancy, st.Reason = RedundancyUnknown, "no PSU present"
	case st.Working <= 1:
		st.Redundancy = RedundancyLost
		st.Reason = fmt.Sprintf("%d of %d PSUs working", st.Working, st.Present)
		if notes != "" {
			st.Reason += ": " + notes
		}
	case ratings && loadKnown && capSum-capMax < load:
		st.Redundancy = RedundancyLost
		st.Reason = fmt.Sprintf("load %g W exceeds the %g W left after losing one PSU", round1(load), capSum-capMax)
	case len(lost) > 0 || len(warn) > 0:
		st.Redundancy, st.Reason = RedundancyDegraded, notes
	default:
		st.Redundancy = RedundancyRedundant
		st.Reason = fmt.Sprintf("%d PSUs working", st.Working)
		if !ratings || !loadKnown {
			st.Reason += "; N+1 capacity not checked (rating or load unknown)"
		}
	}
	return st
}

// Present reports whether a PSU is in its bay.
func Present(p *bmc.PSU) bool { return p.State != "Absent" }

// Working reports whether a present PSU delivers power: enabled (or a
// ready spare), not Critical, and with its input line normal.
func Working(p *bmc.PSU) bool {
	switch p.State {
	case "", "Enabled", "StandbySpare", "Degraded":
	default:
		return false
	}
	if p.Health == bmc.HealthCritical {
		return false
	}
	switch p.LineInputStatus {
	case "", "Normal", "Unknown":
		return true
	}
	return false
}

func notWorkingReason(p *bmc.PSU) string {
	switch {
	case p.LineInputStatus != "" && p.LineInputStatus != "Normal" && p.LineInputStatus != "Unknown":
		return "input " + p.LineInputStatus
	case p.Health == bmc.HealthCritical:
		return "Critical"
	}
	return p.State
}

func warningReason(p *bmc.PSU) string {
	if p.FailurePredicted {
		return "failure predicted"
	}
	if p.Health == bmc.HealthWarning {
		return "Warning"
	}
	return p.State
}

// publishedRedundancy judges the BMC's own redundancy groups of a chassis's
// supplies: the worst group decides. ok is false when the BMC publishes
// none for that chassis.
func publishedRedundancy(s *bmc.Snapshot, chassis string) (st PSUStatus, ok bool) {
	for _, g := range s.RedundancyGroups {
		if g.Chassis != chassis {
			continue
		}
		working := 0
		for i := range s.PSUs {
			p := &s.PSUs[i]
			if p.Chassis == chassis && slices.Contains(g.Bays, p.Bay) && Present(p) && Working(p) {
				working++
			}
		}
		name := "BMC redundancy group"
		if g.Name != "" {
			name += " " + g.Name
		}
		var r PSUStatus
		switch {
		case g.Health == bmc.HealthCritical:
			r = PSUStatus{Redundancy: RedundancyLost, Reason: name + " is Critical"}
		case strings.EqualFold(g.Mode, "NotRedundant"):
			r = PSUStatus{Redundancy: RedundancyLost, Reason: name + " is NotRedundant"}
		case g.MinNeeded > 0 && working < g.MinNeeded:
			// MinNumNeeded (Redundancy) and MinNeededInGroup
			// (RedundantGroup) are the members needed for the group to
			// still be redundant.
			r = PSUStatus{Redundancy: RedundancyLost, Reason: fmt.Sprintf("%s (%s): %d of %d members working, %d needed to be redundant", name, g.Mode, working, len(g.Bays), g.MinNeeded)}
		case g.Health == bmc.HealthWarning:
			r = PSUStatus{Redundancy: RedundancyDegraded, Reason: name + " is Warning"}
		default:
			r = PSUStatus{Redundancy: RedundancyRedundant, Reason: fmt.Sprintf("%s (%s): %d members working, %d needed", name, g.Mode, working, g.MinNeeded)}
		}
		if !ok || r.Redundancy.rank() > st.Redundancy.rank() {
			st = r
		}
		ok = true
	}
	return st, ok
}
