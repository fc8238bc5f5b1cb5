package bmc

import (
	"slices"
	"unique"
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
		x.Kind = SensorKind(Intern(string(x.Kind)))
		x.Name, x.Context, x.Chassis = Intern(x.Name), Intern(x.Context), Intern(x.Chassis)
		x.Unit, x.State, x.Source = Intern(x.Unit), Intern(x.State), Intern(x.Source)
	}
	s.PSUs = clip(s.PSUs)
	for i := range s.PSUs {
		x := &s.PSUs[i]
		x.Chassis, x.Bay, x.Name, x.Model = Intern(x.Chassis), Intern(x.Bay), Intern(x.Name), Intern(x.Model)
		x.State, x.Source = Intern(x.State), Intern(x.Source)
	}
	s.Power = clip(s.Power)
	for i := range s.Power {
		x := &s.Power[i]
		x.Chassis, x.Resource = Intern(x.Chassis), Intern(x.Resource)
	}
	s.DIMMs = CompactDIMMs(s.DIMMs)
	s.CPUs = clip(s.CPUs)
	for i := range s.CPUs {
		x := &s.CPUs[i]
		x.System, x.Socket, x.Model, x.State = Intern(x.System), Intern(x.Socket), Intern(x.Model), Intern(x.State)
	}
	s.Drives = CompactDrives(s.Drives)
	s.Systems, s.Chassis, s.Logs = clip(s.Systems), clip(s.Chassis), clip(s.Logs)
	s.RedundancyGroups = clip(s.RedundancyGroups)
}

// CompactDIMMs is Compact for a list of DIMMs a collector also keeps
// between its slow reads, so that the list it keeps and the snapshot's
// share one copy.
func CompactDIMMs(dimms []DIMM) []DIMM {
	dimms = clip(dimms)
	for i := range dimms {
		x := &dimms[i]
		x.System, x.Slot, x.Manufacturer, x.PartNumber = Intern(x.System), Intern(x.Slot), Intern(x.Manufacturer), Intern(x.PartNumber)
		x.State, x.Source = Intern(x.State), Intern(x.Source)
	}
	return dimms
}

// CompactDrives is CompactDIMMs for drives.
func CompactDrives(drives []Drive) []Drive {
	drives = clip(drives)
	for i := range drives {
		x := &drives[i]
		x.System, x.Bay, x.Name, x.Model = Intern(x.System), Intern(x.Bay), Intern(x.Name), Intern(x.Model)
		x.Protocol, x.State, x.Source = Intern(x.Protocol), Intern(x.State), Intern(x.Source)
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

// Intern returns the process's one shared copy of s (unique.Make): what
// repeats across a fleet's BMCs is held once.
func Intern(s string) string {
	if s == "" {
		return s
	}
	return unique.Make(s).Value()
}
