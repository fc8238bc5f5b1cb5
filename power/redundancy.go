package power

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/rackpulse/rackpulse/bmc"
)

// Redundancy is the verdict on a server's PSU redundancy.
type Redundancy string

// The verdicts. Each says something different to an operator:
//
//   - redundant: the server survives the loss of a supply.
//   - degraded: it still does, but a supply has failed, warns or predicts
//     its failure, or the BMC's redundancy group warns.
//   - lost: it did, and a failure took that away: fewer supplies work than
//     redundancy needs. PSURedundancyLost fires on this verdict only.
//   - not_redundant: it never did, by configuration: a single supply, a
//     group the BMC configured NotRedundant, supplies that cannot carry the
//     load with one lost. Never an alert.
//   - unknown: no supply data.
const (
	RedundancyUnknown      Redundancy = "unknown"
	RedundancyRedundant    Redundancy = "redundant"
	RedundancyNotRedundant Redundancy = "not_redundant"
	RedundancyDegraded     Redundancy = "degraded"
	RedundancyLost         Redundancy = "lost"
)

// Redundancies lists the verdicts from best to worst, as a server's verdict
// ranks them: the worst of its chassis stands.
func Redundancies() []Redundancy {
	return []Redundancy{RedundancyUnknown, RedundancyRedundant, RedundancyNotRedundant, RedundancyDegraded, RedundancyLost}
}

// rank orders the verdicts for the worst-of over chassis and groups:
// not_redundant ranks above redundant (a chassis without redundancy is
// worth showing) and below degraded and lost, so a configuration never
// masks a failure elsewhere in the server.
func (r Redundancy) rank() int {
	switch r {
	case RedundancyRedundant:
		return 1
	case RedundancyNotRedundant:
		return 2
	case RedundancyDegraded:
		return 3
	case RedundancyLost:
		return 4
	}
	return 0
}

// Worse reports whether r is a worse verdict than other.
func (r Redundancy) Worse(other Redundancy) bool { return r.rank() > other.rank() }

// PSUStatus is a server's PSU redundancy and what it was judged from.
type PSUStatus struct {
	Redundancy Redundancy `json:"redundancy"`
	// Present counts PSUs in their bays; Working those delivering power
	// (a StandbySpare supply, ready to take over, included).
	Present int `json:"present"`
	Working int `json:"working"`
	// Reason says, for an operator, what made the verdict what it is.
	Reason string `json:"reason,omitempty"`
}

// PSURedundancy judges a server's PSU redundancy. The supplies of each
// chassis are one group (a blade enclosure's supplies serve its blades);
// the server gets the worst chassis's verdict.
//
// A chassis's supplies are judged from their own state, health, predicted
// failure and input line, and, where every working supply publishes its
// rating and the load is known, from whether the supplies left after losing
// the largest still carry the load. Where the BMC publishes redundancy
// groups for the chassis (Redfish Power.Redundancy,
// PowerSubsystem.PowerSupplyRedundancy), each is judged too: its mode, its
// state and health, and how many of its members work against its
// MinNumNeeded / MinNeededInGroup. The worst judgement stands, except that
// a group the BMC configured NotRedundant (covering every present supply
// of the chassis) makes the chassis not_redundant whatever its supplies
// show: redundancy that was never configured cannot be lost. IPMI
// BMCs' PSU redundancy sensors arrive as groups too (bmc/ipmi).
func PSURedundancy(s *bmc.Snapshot, load Reading) PSUStatus {
	var chassis []string
	for _, p := range s.PSUs {
		if !slices.Contains(chassis, p.Chassis) {
			chassis = append(chassis, p.Chassis)
		}
	}
	out := PSUStatus{Redundancy: RedundancyUnknown, Reason: "no PSU data"}
	var worst PSUStatus
	for i, c := range chassis {
		watts, known := chassisLoad(load, c, len(chassis))
		st := chassisRedundancy(s, c, watts, known)
		if len(chassis) > 1 && c != "" {
			st.Reason = "chassis " + c + ": " + st.Reason
		}
		if i == 0 || st.Redundancy.Worse(worst.Redundancy) {
			worst = st
		}
		out.Present += st.Present
		out.Working += st.Working
	}
	if len(chassis) > 0 {
		out.Redundancy, out.Reason = worst.Redundancy, worst.Reason
	}
	return out
}

// chassisLoad is the load on one chassis's supplies: that chassis's part
// of the reading, else the whole reading when the server has one chassis
// with supplies.
func chassisLoad(load Reading, chassis string, chassisCount int) (float64, bool) {
	if !load.Known {
		return 0, false
	}
	for _, p := range load.Parts {
		if p.Chassis == chassis {
			return p.Watts, true
		}
	}
	if chassisCount == 1 {
		return load.Watts, true
	}
	return 0, false
}

// chassisRedundancy is one chassis's verdict: its supplies' and its BMC
// groups', the worst standing unless a NotRedundant group configures the
// chassis out of redundancy.
func chassisRedundancy(s *bmc.Snapshot, chassis string, load float64, loadKnown bool) PSUStatus {
	sup := judgeSupplies(s.PSUs, chassis, load, loadKnown)
	st := sup.PSUStatus
	for i := range s.RedundancyGroups {
		g := &s.RedundancyGroups[i]
		if g.Chassis != chassis {
			continue
		}
		gj := judgeGroup(s.PSUs, g)
		if gj.configured && coversPresent(s.PSUs, g) {
			st.Redundancy, st.Reason = RedundancyNotRedundant, gj.Reason
			if sup.notes != "" {
				st.Reason += "; " + sup.notes
			}
			return st
		}
		if gj.Redundancy.Worse(st.Redundancy) {
			st.Redundancy, st.Reason = gj.Redundancy, gj.Reason
		}
	}
	return st
}

// supplyJudgement is the verdict on a chassis's supplies, with the notes
// (failed and warning supplies) it was drawn from.
type supplyJudgement struct {
	PSUStatus
	notes string
}

func judgeSupplies(psus []bmc.PSU, chassis string, load float64, loadKnown bool) supplyJudgement {
	var st PSUStatus
	var failed, warn, absent, spares []string
	var capSum, capMax float64
	ratings := true
	for i := range psus {
		p := &psus[i]
		if p.Chassis != chassis {
			continue
		}
		if !Present(p) {
			absent = append(absent, "PSU "+p.Bay)
			continue
		}
		st.Present++
		if !Working(p) {
			failed = append(failed, "PSU "+p.Bay+" "+notWorkingReason(p))
			continue
		}
		st.Working++
		if p.State == "StandbySpare" {
			spares = append(spares, "PSU "+p.Bay)
		}
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
	notes := strings.Join(append(failed, warn...), ", ")
	withNotes := func(s string) string {
		if notes == "" {
			return s
		}
		return s + ": " + notes
	}
	left := capSum - capMax
	switch {
	case st.Present == 0:
		st.Redundancy, st.Reason = RedundancyUnknown, "no PSU present"
	case st.Present == 1:
		st.Redundancy = RedundancyNotRedundant
		st.Reason = "a single PSU present"
		if len(absent) > 0 {
			st.Reason += " (" + strings.Join(absent, ", ") + " empty)"
		}
		st.Reason = withNotes(st.Reason + ", not redundant")
	case st.Working <= 1:
		st.Redundancy = RedundancyLost
		st.Reason = withNotes(fmt.Sprintf("%d of %d PSUs working", st.Working, st.Present))
	case ratings && loadKnown && left < load && len(failed) > 0:
		st.Redundancy = RedundancyLost
		st.Reason = fmt.Sprintf("%s: load %s W exceeds the %s W the %d PSUs left would carry after losing one more",
			strings.Join(failed, ", "), formatWatts(load), formatWatts(left), st.Working)
	case ratings && loadKnown && left < load:
		st.Redundancy = RedundancyNotRedundant
		st.Reason = withNotes(fmt.Sprintf("load %s W exceeds the %s W left after losing one PSU, not redundant at this load", formatWatts(load), formatWatts(left)))
	case len(failed) > 0 || len(warn) > 0:
		st.Redundancy, st.Reason = RedundancyDegraded, notes
	default:
		st.Redundancy = RedundancyRedundant
		st.Reason = fmt.Sprintf("%d PSUs working", st.Working)
		if len(spares) > 0 {
			st.Reason += " (" + strings.Join(spares, ", ") + " a hot spare)"
		}
		if !ratings || !loadKnown {
			st.Reason += "; N+1 capacity not checked (rating or load unknown)"
		}
	}
	return supplyJudgement{PSUStatus: st, notes: notes}
}

func formatWatts(w float64) string {
	return strconv.FormatFloat(math.Round(w*10)/10, 'f', -1, 64)
}

// Present reports whether a PSU is in its bay.
func Present(p *bmc.PSU) bool { return p.State != "Absent" }

// Working reports whether a present PSU delivers power or stands ready to:
// enabled, degraded or a hot spare (StandbySpare), not Critical, and with
// its input line normal.
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

// groupJudgement is the verdict on one BMC redundancy group; configured
// is set when the BMC says the group is not redundant by configuration.
type groupJudgement struct {
	PSUStatus
	configured bool
}

// judgeGroup judges one of the BMC's redundancy groups against its member
// supplies.
//
// MinNumNeeded (Redundancy) and MinNeededInGroup (RedundantGroup) are,
// in the Redfish schemas up to Redundancy v1.6, "the minimum number of
// members needed for this group to be redundant": a 1+1 pair publishes 2
// and is redundant with both working. Redundancy v1.7 rewords them as the
// members needed "to remain operational or functional". Under either
// reading, fewer working members than needed means redundancy is gone, and
// as many is not a loss; a failed member the number does not count is
// still caught by the supplies' own judgement.
func judgeGroup(psus []bmc.PSU, g *bmc.RedundancyGroup) groupJudgement {
	present, working := 0, 0
	var failed, empty []string
	for i := range psus {
		p := &psus[i]
		if p.Chassis != g.Chassis || !slices.Contains(g.Bays, p.Bay) {
			continue
		}
		switch {
		case !Present(p):
			empty = append(empty, "PSU "+p.Bay)
		case Working(p):
			present++
			working++
		default:
			present++
			failed = append(failed, "PSU "+p.Bay+" "+notWorkingReason(p))
		}
	}
	name := "BMC redundancy group"
	if g.Name != "" {
		name += " " + g.Name
	}
	mode := ""
	if g.Mode != "" {
		mode = " (" + g.Mode + ")"
	}
	counted := fmt.Sprintf("%s%s: %d of %d members working, %d needed to be redundant", name, mode, working, len(g.Bays), g.MinNeeded)
	var j groupJudgement
	switch {
	case strings.EqualFold(g.Mode, "NotRedundant"):
		j.configured = true
		j.Redundancy, j.Reason = RedundancyNotRedundant, name+" is configured NotRedundant"
	case g.State == "Disabled" || (g.Enabled != nil && !*g.Enabled):
		j.configured = true
		j.Redundancy, j.Reason = RedundancyNotRedundant, name+" has redundancy Disabled"
	case g.Health == bmc.HealthCritical:
		j.Redundancy, j.Reason = RedundancyLost, name+" is Critical"
		if len(failed) > 0 {
			j.Reason += ": " + strings.Join(failed, ", ")
		}
	case g.MinNeeded > 0 && len(g.Bays) > 0 && working < g.MinNeeded && (len(failed) > 0 || g.Health == bmc.HealthWarning):
		// Fewer work than needed, and a member failed or the BMC
		// warns: a failure took redundancy away.
		j.Redundancy, j.Reason = RedundancyLost, counted
		if len(failed) > 0 {
			j.Reason += ": " + strings.Join(failed, ", ")
		}
	case g.MinNeeded > 0 && len(g.Bays) > 0 && working < g.MinNeeded:
		// Fewer work than needed only because bays are empty, and the
		// BMC is content: redundant is not how it is installed.
		j.Redundancy = RedundancyNotRedundant
		j.Reason = fmt.Sprintf("%s%s: %d of %d members present, %d needed to be redundant", name, mode, present, len(g.Bays), g.MinNeeded)
		if len(empty) > 0 {
			j.Reason += " (" + strings.Join(empty, ", ") + " empty)"
		}
	case g.Health == bmc.HealthWarning:
		j.Redundancy, j.Reason = RedundancyDegraded, name+" is Warning"
	case offlineGroupState(g.State):
		j.Redundancy, j.Reason = RedundancyNotRedundant, name+" is "+g.State+": the BMC does not count on it for redundancy"
	default:
		j.Redundancy = RedundancyRedundant
		j.Reason = fmt.Sprintf("%s%s: %d of %d members working, %d needed", name, mode, working, len(g.Bays), g.MinNeeded)
	}
	return j
}

// offlineGroupState reports whether a redundancy group's Status.State says
// the group is not providing redundancy now (not a failure by itself: a
// failed member is judged from the supplies).
func offlineGroupState(state string) bool {
	switch state {
	case "UnavailableOffline", "StandbyOffline", "Offline", "Absent":
		return true
	}
	return false
}

// coversPresent reports whether every present supply of the group's
// chassis is a member of the group.
func coversPresent(psus []bmc.PSU, g *bmc.RedundancyGroup) bool {
	for i := range psus {
		p := &psus[i]
		if p.Chassis == g.Chassis && Present(p) && !slices.Contains(g.Bays, p.Bay) {
			return false
		}
	}
	return true
}
