package ipmi

import (
	"slices"

	"github.com/rackpulse/rackpulse/bmc"
)

// eventRedundancy is the generic event/reading type code of redundancy
// states (IPMI 2.0 table 42-2, 0Bh).
const eventRedundancy = 0x0b

// entityPowerUnit is the power unit / power domain entity (13h) that PSU
// redundancy sensors often sit on.
const entityPowerUnit = 0x13

// Redundancy states (offsets of event/reading type 0Bh).
const (
	redundancyFull                         = 0x00 // Fully Redundant
	redundancyLost                         = 0x01 // Redundancy Lost
	redundancyDegraded                     = 0x02 // Redundancy Degraded
	redundancyNonRedundantFromRedundant    = 0x03 // Non-redundant: Sufficient Resources from Redundant
	redundancyNonRedundantFromInsufficient = 0x04 // Non-redundant: Sufficient Resources from Insufficient Resources
	redundancyNonRedundantInsufficient     = 0x05 // Non-redundant: Insufficient Resources
	redundancyDegradedFromFull             = 0x06 // Redundancy Degraded from Fully Redundant
	redundancyDegradedFromNonRedundant     = 0x07 // Redundancy Degraded from Non-redundant
	redundancyOffsets                      = 8
)

// Verdicts of the redundancy states, from none to the worst.
const (
	redundancyVerdictUnknownOffset = iota - 1
	redundancyVerdictNone
	redundancyVerdictRedundant
	redundancyVerdictNotRedundant
	redundancyVerdictDegraded
	redundancyVerdictLost
)

// The group's mode and state as the Redfish collector gives them: the
// Redundancy mode (RedundancyType) NotRedundant, and Status.State.
const (
	redundancyModeNotRedundant = "NotRedundant"
	redundancyStateEnabled     = "Enabled"
)

// isPSURedundancy reports whether a sensor reports the redundancy of the
// power supplies: redundancy states (event/reading type 0Bh) on a power
// supply or power unit sensor, or on a power supply or power unit entity.
// (A fan redundancy sensor is neither.)
func isPSURedundancy(rec *sdrRecord) bool {
	if rec.EventType != eventRedundancy {
		return false
	}
	switch rec.SensorType {
	case sensorPowerSupply, sensorPowerUnit:
		return true
	}
	return rec.EntityID == entityPowerSupply || rec.EntityID == entityPowerUnit
}

// redundancyVerdict ranks one asserted redundancy state, the worst
// deciding: lost above degraded above "not redundant" (a configuration)
// above redundant.
func redundancyVerdict(offset uint8) int {
	switch offset {
	case redundancyFull:
		return redundancyVerdictRedundant
	case redundancyNonRedundantFromRedundant, redundancyNonRedundantFromInsufficient:
		return redundancyVerdictNotRedundant
	case redundancyDegraded, redundancyDegradedFromFull, redundancyDegradedFromNonRedundant:
		return redundancyVerdictDegraded
	case redundancyLost, redundancyNonRedundantInsufficient:
		return redundancyVerdictLost
	}
	return redundancyVerdictUnknownOffset
}

// redundancyGroup turns a PSU redundancy sensor's reading into the BMC's
// redundancy group over the supplies' bays, as the Redfish collector
// reports Redundancy and PowerSupplyRedundancy, so that the power package
// judges both alike:
//
//   - Fully Redundant: health OK (redundant);
//   - Redundancy Lost, Non-redundant: Insufficient Resources: health
//     Critical (lost);
//   - Redundancy Degraded (and its "from" variants): health Warning
//     (degraded);
//   - Non-redundant: Sufficient Resources (from Redundant, or from
//     Insufficient): mode NotRedundant, health OK: the BMC says the
//     supplies are not redundant, as Redfish's NotRedundant does.
//
// The worst asserted state decides. A sensor without a reading, or
// asserting no redundancy state, gives no group (ok false).
func redundancyGroup(rec *sdrRecord, r sensorReading, bays []string) (bmc.RedundancyGroup, bool) {
	if !r.ok {
		return bmc.RedundancyGroup{}, false
	}
	worst := redundancyVerdictNone
	for off := uint8(0); off < redundancyOffsets; off++ {
		if r.reading.states&(1<<off) != 0 {
			worst = max(worst, redundancyVerdict(off))
		}
	}
	g := bmc.RedundancyGroup{Name: rec.Name, State: redundancyStateEnabled, Bays: slices.Clone(bays)}
	if g.Bays == nil {
		g.Bays = []string{}
	}
	switch worst {
	case redundancyVerdictRedundant:
		g.Health = bmc.HealthOK
	case redundancyVerdictNotRedundant:
		g.Mode, g.Health = redundancyModeNotRedundant, bmc.HealthOK
	case redundancyVerdictDegraded:
		g.Health = bmc.HealthWarning
	case redundancyVerdictLost:
		g.Health = bmc.HealthCritical
	default:
		return bmc.RedundancyGroup{}, false
	}
	return g, true
}
