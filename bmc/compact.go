package bmc

import (
	"slices"
	"unique"
	"unsafe"
)

// Compact makes a snapshot cheaper to keep until the next poll replaces
// it: its lists are cut to their length, and the strings that repeat from
// poll to poll and from BMC to BMC of one model (sensor names and
// sources, contexts, states, units, slots, models) are shared through the
// unique package instead of each poll's decoding holding copies: a fleet
// keeps one snapshot per BMC. Serial numbers, messages and log entries,
// which do not repeat, are left as they are. The snapshot reads the same.
func (s *Snapshot) Compact() {
	s.Sensors = clip(s.Sensors)
	for i := range s.Sensors {
		x := &s.Sensors[i]
		kind := string(x.Kind)
		if shareStrings(&kind) {
			x.Kind = SensorKind(kind)
		}
		shareStrings(&x.Name, &x.Context, &x.Chassis, &x.Unit, &x.State, &x.Source)
	}
	s.PSUs = clip(s.PSUs)
	for i := range s.PSUs {
		x := &s.PSUs[i]
		shareStrings(&x.Chassis, &x.Bay, &x.Name, &x.Model, &x.State, &x.Source)
	}
	s.Power = clip(s.Power)
	for i := range s.Power {
		x := &s.Power[i]
		shareStrings(&x.Chassis, &x.Resource)
	}
	s.DIMMs = CompactDIMMs(s.DIMMs)
	s.CPUs = clip(s.CPUs)
	for i := range s.CPUs {
		x := &s.CPUs[i]
		shareStrings(&x.System, &x.Socket, &x.Model, &x.State)
	}
	s.Drives = CompactDrives(s.Drives)
	s.Systems, s.Chassis, s.Logs = clip(s.Systems), clip(s.Chassis), clip(s.Logs)
	s.RedundancyGroups = clip(s.RedundancyGroups)
}

// CompactDIMMs is Compact for a list of DIMMs a collector also keeps
// between its slow reads, and hands to its snapshots as it is: the list it
// keeps and theirs are one copy.
func CompactDIMMs(dimms []DIMM) []DIMM {
	dimms = clip(dimms)
	for i := range dimms {
		x := &dimms[i]
		shareStrings(&x.System, &x.Slot, &x.Manufacturer, &x.PartNumber, &x.State, &x.Source)
	}
	return dimms
}

// CompactDrives is CompactDIMMs for drives.
func CompactDrives(drives []Drive) []Drive {
	drives = clip(drives)
	for i := range drives {
		x := &drives[i]
		shareStrings(&x.System, &x.Bay, &x.Name, &x.Model, &x.Protocol, &x.State, &x.Source)
	}
	return drives
}

// clip returns s without spare capacity (a copy when the spare is more
// than an eighth), nil and empty as they were.
func clip[T any](s []T) []T {
	if cap(s)-len(s) <= len(s)/8 {
		return s
	}
	return slices.Clone(s)
}

// shareStrings makes each string the shared copy (Intern), writing only
// those that are not, and reports whether it wrote any: a snapshot's DIMMs
// and drives may be a collector's kept list, already shared, that earlier
// snapshots being read hold too.
func shareStrings(fields ...*string) bool {
	wrote := false
	for _, f := range fields {
		if v := Intern(*f); unsafe.StringData(v) != unsafe.StringData(*f) {
			*f, wrote = v, true
		}
	}
	return wrote
}

// Intern returns the process's one shared copy of s (unique.Make): what
// repeats across a fleet's BMCs is held once.
func Intern(s string) string {
	if s == "" {
		return s
	}
	return unique.Make(s).Value()
}
