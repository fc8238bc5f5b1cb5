package sim

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Data faults: what a failing part looks like in the served payloads. The
// progressing ones (dimm-ecc, cpu-hot, cpu-oscillate, inlet-hot) move in steps (every
// FaultSpec.Every, default 30s, one poll at the usual cadence) from the
// moment they are injected; the others show in full at once.
const (
	// FaultDIMMECC: a DIMM's correctable ECC count climbs each step (by
	// FaultSpec.Count, default 8); its health goes Warning past
	// eccWarnCount and Critical past eccCriticalCount (with an
	// uncorrectable error), and the log gains an entry naming the slot.
	FaultDIMMECC Fault = "dimm-ecc"
	// FaultDIMMUncorrectable: a DIMM has one uncorrectable ECC error at
	// once and goes Critical; the log names the slot.
	FaultDIMMUncorrectable Fault = "dimm-uncorrectable"
	// FaultCPUHot: a CPU's temperature climbs each step past its upper
	// caution (Warning) and then critical threshold (Critical).
	FaultCPUHot Fault = "cpu-hot"
	// FaultCPUOscillate: a CPU's temperature alternates each step between
	// FaultSpec.Swing above and below its upper caution threshold, starting
	// above: Warning on the hot steps, OK on the others.
	FaultCPUOscillate Fault = "cpu-oscillate"
	// FaultPSUFail: a PSU fails: Critical, no output, while its AC input
	// stays normal; the other PSUs carry the load.
	FaultPSUFail Fault = "psu-fail"
	// FaultPSUInputLoss: a PSU loses its AC input (LossOfInput, 0 W) and
	// goes Critical; the other PSUs carry the load.
	FaultPSUInputLoss Fault = "psu-input-loss"
	// FaultFanFail: a fan stops (0 RPM) and goes Critical.
	FaultFanFail Fault = "fan-fail"
	// FaultInletHot: the air at the server's intake warms each step past
	// the inlet's upper caution (Warning) and critical (Critical)
	// thresholds, as when a cooling unit fails. It has no target.
	FaultInletHot Fault = "inlet-hot"
	// FaultDriveFail: a drive fails and goes Critical (still Enabled).
	FaultDriveFail Fault = "drive-fail"
	// FaultDrivePredictedFailure: a drive predicts its failure, goes
	// Warning and reports little media life left.
	FaultDrivePredictedFailure Fault = "drive-predicted-failure"
	// FaultOverload: the whole server draws its overload power, well above
	// its normal range: a rack whose servers all do is over the budget the
	// simulator's inventory gives it, while every PSU stays below its
	// rating. It has no target.
	FaultOverload Fault = "overload"
)

// PSU redundancy faults: how a server's supplies are set up, or one taken
// out, as a Redfish BMC publishes it, so that every PSU redundancy verdict
// (docs/power.md) has a simulated server to be drawn from. They apply to
// the Redfish profiles only (RedfishOnly): the ipmi profile publishes no
// redundancy group.
const (
	// FaultPSUHotSpare: a supply becomes a hot spare (Status.State
	// StandbySpare, health OK, 0 W): it stands ready while the others
	// carry the load, and takes over if they fail. Redundancy holds.
	FaultPSUHotSpare Fault = "psu-hot-spare"
	// FaultPSUSingle: the server is built with one supply, its first:
	// the BMC lists no other bay and publishes no redundancy group.
	FaultPSUSingle Fault = "psu-single"
	// FaultPSUNotRedundant: the BMC's redundancy group is configured
	// NotRedundant (RedundancyType, or the legacy Mode); every supply
	// still works and shares the load. It has no target.
	FaultPSUNotRedundant Fault = "psu-not-redundant"
	// FaultPSURemoved: a supply is pulled from its bay: the bay is listed
	// with Status.State Absent and no readings, the redundancy group goes
	// Warning, and the others carry the load.
	FaultPSURemoved Fault = "psu-removed"
)

// DataFaults lists every data fault.
func DataFaults() []Fault {
	return []Fault{
		FaultDIMMECC, FaultDIMMUncorrectable, FaultCPUHot, FaultCPUOscillate, FaultPSUFail, FaultPSUInputLoss,
		FaultFanFail, FaultInletHot, FaultDriveFail, FaultDrivePredictedFailure, FaultOverload,
		FaultPSUHotSpare, FaultPSUSingle, FaultPSUNotRedundant, FaultPSURemoved,
	}
}

// RedfishOnly reports whether f is a data fault only the Redfish profiles
// show: the PSU redundancy faults, which act on what the BMC publishes of
// its supplies' configuration (a hot spare, its redundancy group).
func (f Fault) RedfishOnly() bool {
	switch f {
	case FaultPSUHotSpare, FaultPSUSingle, FaultPSUNotRedundant, FaultPSURemoved:
		return true
	}
	return false
}

// IsTransport reports whether f is a transport fault (acting on the HTTP
// exchange rather than on the payload).
func (f Fault) IsTransport() bool { return f.bit() != 0 || f == FaultSessionLoss }

// IsData reports whether f is a data fault.
func (f Fault) IsData() bool {
	for _, d := range DataFaults() {
		if d == f {
			return true
		}
	}
	return false
}

// replacesPart reports whether clearing f means the part was swapped for a
// new one (a new serial number, counters from 0), rather than repaired.
func (f Fault) replacesPart() bool {
	switch f {
	case FaultDIMMECC, FaultDIMMUncorrectable, FaultDriveFail, FaultDrivePredictedFailure:
		return true
	}
	return false
}

// ParseFault checks a fault name.
func ParseFault(s string) (Fault, error) {
	f := Fault(s)
	if f.IsTransport() || f.IsData() {
		return f, nil
	}
	all := append(DataFaults(), TransportFaults()...)
	names := make([]string, 0, len(all))
	for _, k := range all {
		names = append(names, string(k))
	}
	return "", fmt.Errorf("unknown fault %q (want one of %s)", s, strings.Join(names, ", "))
}

// DefaultFaultStep is how often a data fault progresses by one step.
const DefaultFaultStep = 30 * time.Second

// Thresholds the data faults cross, and their defaults.
const (
	eccPerStep        = 8 // dimm-ecc's default count
	eccWarnCount      = 16
	eccCriticalCount  = 64
	cpuCautionCelsius = 85
	cpuCriticalC      = 95
	cpuHotPerStep     = 5
	cpuSwingDefault   = 2.0 // cpu-oscillate's default swing, °C
	cpuSwingMin       = 1.0 // an IPMI reading has 1 °C steps: less would not cross
	driveLifeLeftLow  = 3
	// inlet-hot: the intake starts inletHotStartBelowC under its caution
	// threshold (or where it is, if warmer) and climbs inletHotPerStep a
	// step, the first step included, to inletHotAboveCriticalC past the
	// critical threshold.
	inletHotStartBelowC    = 4
	inletHotPerStep        = 2
	inletHotAboveCriticalC = 2
)

// FaultSpec is one fault to inject into a BMC.
type FaultSpec struct {
	Fault Fault `json:"fault" yaml:"fault"`
	// Target names the part (DIMM, CPU, PSU, fan, drive): its Id, its slot
	// label or its 0-based index. Empty: the first one. overload,
	// inlet-hot, psu-single and psu-not-redundant have none.
	Target string `json:"target,omitempty" yaml:"target,omitempty"`
	// Every is the step of a progressing fault (default 30s).
	Every time.Duration `json:"every,omitempty" yaml:"every,omitempty"`
	// Count is how many correctable errors dimm-ecc adds a step (default
	// 8). Only for dimm-ecc.
	Count int `json:"count,omitempty" yaml:"count,omitempty"`
	// Swing is how far, in °C, cpu-oscillate takes the CPU above and below
	// its upper caution threshold (default 2, at least 1, below the gap to
	// the critical threshold). Only for cpu-oscillate.
	Swing float64 `json:"swing,omitempty" yaml:"swing,omitempty"`
}

// check refuses fields that do not apply to the fault or are out of range.
func (s FaultSpec) check() error {
	switch {
	case s.Count < 0:
		return fmt.Errorf("fault %s: count %d: want a positive number of errors per step", s.Fault, s.Count)
	case s.Count != 0 && s.Fault != FaultDIMMECC:
		return fmt.Errorf("fault %s: field count applies to %s only", s.Fault, FaultDIMMECC)
	case s.Swing != 0 && s.Fault != FaultCPUOscillate:
		return fmt.Errorf("fault %s: field swing applies to %s only", s.Fault, FaultCPUOscillate)
	case s.Swing != 0 && (s.Swing < cpuSwingMin || s.Swing >= cpuCriticalC-cpuCautionCelsius):
		return fmt.Errorf("fault %s: swing %g °C: want at least %g and below %d, so that the CPU crosses its caution threshold (%d °C) and stays under critical (%d °C)",
			s.Fault, s.Swing, cpuSwingMin, cpuCriticalC-cpuCautionCelsius, cpuCautionCelsius, cpuCriticalC)
	case s.Target != "" && s.Fault.IsData() && s.Fault.part() == "":
		return fmt.Errorf("fault %s: no target: it acts on the whole server, got target %q", s.Fault, s.Target)
	}
	return nil
}

// eccCount is the correctable errors dimm-ecc adds a step.
func (s FaultSpec) eccCount() int {
	if s.Count > 0 {
		return s.Count
	}
	return eccPerStep
}

// swing is cpu-oscillate's distance from the caution threshold, °C.
func (s FaultSpec) swing() float64 {
	if s.Swing > 0 {
		return s.Swing
	}
	return cpuSwingDefault
}

// targetIndex resolves a fault target among the parts' ids and labels:
// exactly (but for case), else ignoring spaces, '_' and '-' ("DIMM B5" and
// "DIMMB5" are DIMM_B5).
func targetIndex(target string, ids, labels []string) (int, error) {
	if target == "" {
		return 0, nil
	}
	for _, same := range []func(a, b string) bool{strings.EqualFold, looselyEqual} {
		for i := range ids {
			if same(target, ids[i]) || (i < len(labels) && same(target, labels[i])) {
				return i, nil
			}
		}
	}
	if n, err := strconv.Atoi(target); err == nil && n >= 0 && n < len(ids) {
		return n, nil
	}
	return 0, fmt.Errorf("no part %q (have %s)", target, strings.Join(ids, ", "))
}

// looselyEqual compares two part names ignoring case, spaces, '_' and '-'.
func looselyEqual(a, b string) bool {
	strip := strings.NewReplacer(" ", "", "_", "", "-", "")
	return strings.EqualFold(strip.Replace(a), strip.Replace(b))
}
