package sim

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Data faults: what a failing part looks like in the served payloads. They
// progress in steps (every FaultSpec.Every, default 30s, one poll at the
// usual cadence) from the moment they are injected.
const (
	// FaultDIMMECC: a DIMM's correctable ECC count climbs each step; its
	// health goes Warning past eccWarnCount and Critical past
	// eccCriticalCount (with an uncorrectable error), and the log gains an
	// entry naming the slot.
	FaultDIMMECC Fault = "dimm-ecc"
	// FaultCPUHot: a CPU's temperature climbs each step past its upper
	// caution (Warning) and then critical threshold (Critical).
	FaultCPUHot Fault = "cpu-hot"
	// FaultPSUFail: a PSU goes Critical with no input (LossOfInput); the
	// other PSUs carry the load.
	FaultPSUFail Fault = "psu-fail"
	// FaultFanFail: a fan stops (0 RPM) and goes Critical.
	FaultFanFail Fault = "fan-fail"
	// FaultDrivePredictedFailure: a drive predicts its failure, goes
	// Warning and reports little media life left.
	FaultDrivePredictedFailure Fault = "drive-predicted-failure"
)

// DataFaults lists every data fault.
func DataFaults() []Fault {
	return []Fault{FaultDIMMECC, FaultCPUHot, FaultPSUFail, FaultFanFail, FaultDrivePredictedFailure}
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

// ParseFault checks a fault name.
func ParseFault(s string) (Fault, error) {
	f := Fault(s)
	if f.IsTransport() || f.IsData() {
		return f, nil
	}
	names := make([]string, 0, 11)
	for _, k := range append(DataFaults(), TransportFaults()...) {
		names = append(names, string(k))
	}
	return "", fmt.Errorf("unknown fault %q (want one of %s)", s, strings.Join(names, ", "))
}

// DefaultFaultStep is how often a data fault progresses by one step.
const DefaultFaultStep = 30 * time.Second

// Thresholds the data faults cross.
const (
	eccPerStep        = 8
	eccWarnCount      = 16
	eccCriticalCount  = 64
	cpuCautionCelsius = 85
	cpuCriticalC      = 95
	cpuHotPerStep     = 5
	driveLifeLeftLow  = 3
)

// FaultSpec is one fault to inject into a BMC.
type FaultSpec struct {
	Fault Fault `json:"fault" yaml:"fault"`
	// Target names the part (DIMM, CPU, PSU, fan, drive): its Id, its slot
	// label or its 0-based index. Empty: the first one.
	Target string `json:"target,omitempty" yaml:"target,omitempty"`
	// Every is the step of a progressing fault (default 30s).
	Every time.Duration `json:"every,omitempty" yaml:"every,omitempty"`
}

// targetIndex resolves a fault target among the parts' ids and labels.
func targetIndex(target string, ids, labels []string) (int, error) {
	if target == "" {
		return 0, nil
	}
	for i := range ids {
		if strings.EqualFold(target, ids[i]) || (i < len(labels) && strings.EqualFold(target, labels[i])) {
			return i, nil
		}
	}
	if n, err := strconv.Atoi(target); err == nil && n >= 0 && n < len(ids) {
		return n, nil
	}
	return 0, fmt.Errorf("no part %q (have %s)", target, strings.Join(ids, ", "))
}
