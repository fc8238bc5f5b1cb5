package fleet

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/rackpulse/rackpulse/agent"
	"github.com/rackpulse/rackpulse/bmc"
)

// Identity verdicts of a reconciliation.
const (
	IdentityMatched  = "matched"
	IdentityMismatch = "mismatch"
	// IdentityUnknown: one side publishes neither a UUID nor a serial.
	IdentityUnknown = "unknown"
)

// Reconciliation compares what a host's agent says of its hardware with
// what its BMC says: whether they are the same machine at all, and where
// their component lists differ.
type Reconciliation struct {
	// Identity is matched, mismatch or unknown, by the system UUID and
	// serial number.
	Identity string `json:"identity"`
	// OtherServer is the server whose BMC reports the agent's identity,
	// when the identity does not match and another BMC has it.
	OtherServer string `json:"other_server,omitempty"`
	// Differences lists what differs: identity first, then components.
	Differences []Difference `json:"differences,omitempty"`
}

// Difference is one thing the two views disagree on.
type Difference struct {
	// What differs: system UUID, system serial, CPU count, DIMM count,
	// DIMM sizes, disk count, disk serials.
	What  string `json:"what"`
	BMC   string `json:"bmc"`
	Agent string `json:"agent"`
}

// IdentityDiffers reports whether the identity itself differs.
func (r Reconciliation) IdentityDiffers() bool { return r.Identity == IdentityMismatch }

// ComponentsDiffer lists the component differences (not the identity's).
func (r Reconciliation) ComponentsDiffer() []Difference {
	var out []Difference
	for _, d := range r.Differences {
		if d.What != "system UUID" && d.What != "system serial" {
			out = append(out, d)
		}
	}
	return out
}

// Reconcile compares an agent's report with the BMC's last good
// Snapshot. A side that publishes nothing on a point is not compared on
// it: missing is not different.
func Reconcile(snap *bmc.Snapshot, rep *agent.Report) Reconciliation {
	r := Reconciliation{Identity: IdentityUnknown}
	if snap == nil || rep == nil {
		return r
	}
	var bmcUUID, bmcSerial string
	for _, s := range snap.Systems {
		bmcUUID, bmcSerial = cmpOr(bmcUUID, normID(s.UUID)), cmpOr(bmcSerial, normID(s.Serial))
	}
	agentUUID, agentSerial := normID(rep.Identity.SystemUUID), normID(rep.Identity.SystemSerial)
	compared := false
	if bmcUUID != "" && agentUUID != "" {
		compared = true
		if bmcUUID != agentUUID {
			r.Differences = append(r.Differences, Difference{What: "system UUID", BMC: bmcUUID, Agent: agentUUID})
		}
	}
	if bmcSerial != "" && agentSerial != "" {
		compared = true
		if bmcSerial != agentSerial {
			r.Differences = append(r.Differences, Difference{What: "system serial", BMC: bmcSerial, Agent: agentSerial})
		}
	}
	switch {
	case len(r.Differences) > 0:
		r.Identity = IdentityMismatch
	case compared:
		r.Identity = IdentityMatched
	}
	if inv := rep.Inventory; inv != nil {
		r.compareComponents(snap, inv)
	}
	return r
}

func (r *Reconciliation) compareComponents(snap *bmc.Snapshot, inv *agent.Inventory) {
	if cpus := countPresent(snap.CPUs, func(c bmc.CPU) bool { return c.State != "Absent" }); cpus > 0 && len(inv.CPUs) > 0 && cpus != len(inv.CPUs) {
		r.Differences = append(r.Differences, Difference{What: "CPU count", BMC: strconv.Itoa(cpus), Agent: strconv.Itoa(len(inv.CPUs))})
	}
	var bmcSizes, agentSizes []int64
	for _, d := range snap.DIMMs {
		if d.State != "Absent" && d.SizeMiB > 0 {
			bmcSizes = append(bmcSizes, d.SizeMiB)
		}
	}
	for _, s := range inv.DIMMSlots {
		if s.SizeMiB > 0 {
			agentSizes = append(agentSizes, s.SizeMiB)
		}
	}
	slices.Sort(bmcSizes)
	slices.Sort(agentSizes)
	switch {
	case len(bmcSizes) == 0 || len(agentSizes) == 0:
	case len(bmcSizes) != len(agentSizes):
		r.Differences = append(r.Differences, Difference{What: "DIMM count", BMC: strconv.Itoa(len(bmcSizes)), Agent: strconv.Itoa(len(agentSizes))})
	case !slices.Equal(bmcSizes, agentSizes):
		r.Differences = append(r.Differences, Difference{What: "DIMM sizes", BMC: sizes(bmcSizes), Agent: sizes(agentSizes)})
	}
	var bmcSerials, agentSerials []string
	bmcDrives := 0
	for _, d := range snap.Drives {
		if d.State == "Absent" {
			continue
		}
		bmcDrives++
		if s := normID(d.Serial); s != "" {
			bmcSerials = append(bmcSerials, s)
		}
	}
	agentDisks := 0
	for _, d := range inv.Disks {
		if t := strings.ToLower(d.Type); t == "virtual" || t == "loop" || d.SizeBytes == 0 {
			continue
		}
		agentDisks++
		if s := normID(d.Serial); s != "" {
			agentSerials = append(agentSerials, s)
		}
	}
	if bmcDrives > 0 && agentDisks > 0 && bmcDrives != agentDisks {
		r.Differences = append(r.Differences, Difference{What: "disk count", BMC: strconv.Itoa(bmcDrives), Agent: strconv.Itoa(agentDisks)})
	}
	// Disks behind a RAID controller show the host a virtual disk: only
	// serials both sides list are compared, as sets.
	if len(bmcSerials) > 0 && len(bmcSerials) == len(agentSerials) {
		slices.Sort(bmcSerials)
		slices.Sort(agentSerials)
		if !slices.Equal(bmcSerials, agentSerials) {
			r.Differences = append(r.Differences, Difference{What: "disk serials", BMC: strings.Join(bmcSerials, ","), Agent: strings.Join(agentSerials, ",")})
		}
	}
}

func countPresent[T any](xs []T, present func(T) bool) int {
	n := 0
	for _, x := range xs {
		if present(x) {
			n++
		}
	}
	return n
}

func sizes(mib []int64) string {
	parts := make([]string, len(mib))
	for i, m := range mib {
		parts[i] = fmt.Sprintf("%d GiB", m/1024)
	}
	return strings.Join(parts, " ")
}

// normID normalizes a UUID or serial for comparison: trimmed, lower case;
// placeholders firmware writes for "none" are empty.
func normID(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	switch s {
	case "", "0", "none", "n/a", "na", "not specified", "to be filled by o.e.m.", "default string", "system serial number",
		"00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff", "03000200-0400-0500-0006-000700080009":
		return ""
	}
	return s
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
