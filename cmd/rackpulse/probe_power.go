package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/rackpulse/rackpulse/bmc"
	"github.com/rackpulse/rackpulse/power"
)

// probePower is the server power the power model chose, as probe shows it:
// the top-level "power" of `probe --json`.
type probePower struct {
	// Watts is absent when no source gave a reading.
	Watts       *float64        `json:"watts"`
	Source      bmc.PowerSource `json:"source,omitempty"`
	Estimated   bool            `json:"estimated,omitempty"`
	IntervalMin *float64        `json:"interval_min,omitempty"`
	// Doubtful says why the value itself is doubtful (used for want of a
	// better one).
	Doubtful string `json:"doubtful,omitempty"`
	// Suspect lists every reading set aside, with the reason.
	Suspect    []probeSuspect  `json:"suspect"`
	Parts      []power.Part    `json:"parts,omitempty"`
	Redundancy power.PSUStatus `json:"psu_redundancy"`
}

type probeSuspect struct {
	Source  string   `json:"source"`
	Chassis string   `json:"chassis,omitempty"`
	Watts   *float64 `json:"watts,omitempty"`
	Reason  string   `json:"reason"`
}

// probeJSON is the Snapshot with the chosen power beside its readings.
type probeJSON struct {
	*bmc.Snapshot
	Power probePower `json:"power"`
}

func newProbePower(s *bmc.Snapshot, now time.Time) probePower {
	r := power.ServerPower(s, now)
	p := probePower{
		Source: r.Source, Estimated: r.Estimated, IntervalMin: r.IntervalMin, Doubtful: r.Suspect,
		Parts: r.Parts, Suspect: []probeSuspect{}, Redundancy: power.PSURedundancy(s, r),
	}
	if r.Known {
		w := r.Watts
		p.Watts = &w
	}
	for _, a := range r.SetAside {
		w := a.Watts
		p.Suspect = append(p.Suspect, probeSuspect{Source: string(a.Source), Chassis: a.Chassis, Watts: &w, Reason: a.Reason})
	}
	for _, psu := range s.PSUs {
		for _, reason := range psu.Suspect {
			p.Suspect = append(p.Suspect, probeSuspect{Source: "PSU bay " + psu.Bay, Chassis: psu.Chassis, Reason: reason})
		}
	}
	return p
}

// writePowerSummary prints the chosen power and what was set aside.
func writePowerSummary(w io.Writer, p probePower) {
	switch {
	case p.Watts == nil:
		fmt.Fprintf(w, "Power    - (no source gave a reading)\n")
	default:
		how := string(p.Source)
		if p.IntervalMin != nil {
			how += fmt.Sprintf(", %s min average", num(*p.IntervalMin))
		}
		if p.Estimated {
			how += ", estimated from PSU output"
		}
		fmt.Fprintf(w, "Power    %s W from %s\n", num(*p.Watts), how)
	}
	if p.Doubtful != "" {
		fmt.Fprintf(w, "         doubtful: %s\n", p.Doubtful)
	}
	for _, s := range p.Suspect {
		watts := ""
		if s.Watts != nil {
			watts = " " + num(*s.Watts) + " W"
		}
		fmt.Fprintf(w, "         set aside: %s%s: %s\n", s.Source, watts, s.Reason)
	}
	r := p.Redundancy
	fmt.Fprintf(w, "PSUs     %s (%d present, %d working)%s\n", orDash(string(r.Redundancy)), r.Present, r.Working, reasonSuffix(r.Reason))
}

func reasonSuffix(reason string) string {
	if reason == "" {
		return ""
	}
	return ": " + strings.TrimSpace(reason)
}
