package ipmi

import (
	"fmt"

	"github.com/rackpulse/rackpulse/bmc"
)

// Sensor types (IPMI 2.0 table 42-3) this package maps.
const (
	sensorTemperature = 0x01
	sensorVoltage     = 0x02
	sensorCurrent     = 0x03
	sensorFan         = 0x04
	sensorProcessor   = 0x07
	sensorPowerSupply = 0x08
	sensorPowerUnit   = 0x09
	sensorMemory      = 0x0c
	sensorDriveSlot   = 0x0d
)

// eventSensorSpecific is the event/reading type code of sensor-specific
// discrete states.
const eventSensorSpecific = 0x6f

// stateName is one discrete state: its name (as ipmitool prints it) and
// the health it means when asserted.
type stateName struct {
	name   string
	health bmc.Health
}

var (
	ok   = bmc.HealthOK
	warn = bmc.HealthWarning
	crit = bmc.HealthCritical
)

// sensorSpecificStates are the sensor-specific offsets (event/reading type
// 6Fh) by sensor type, IPMI 2.0 table 42-3.
var sensorSpecificStates = map[uint8][]stateName{
	0x05: {{"General Chassis intrusion", warn}, {"Drive Bay intrusion", warn}, {"I/O Card area intrusion", warn},
		{"Processor area intrusion", warn}, {"System unplugged from LAN", warn}, {"Unauthorized dock", warn},
		{"FAN area intrusion", warn}},
	sensorProcessor: {{"IERR", crit}, {"Thermal Trip", crit}, {"FRB1/BIST failure", crit},
		{"FRB2/Hang in POST failure", crit}, {"FRB3/Processor startup/init failure", crit},
		{"Configuration Error", warn}, {"SM BIOS Uncorrectable CPU-complex Error", crit},
		{"Presence detected", ok}, {"Disabled", warn}, {"Terminator presence detected", ok},
		{"Throttled", warn}, {"Uncorrectable machine check exception", crit},
		{"Correctable machine check error", warn}},
	sensorPowerSupply: {{"Presence detected", ok}, {"Failure detected", crit}, {"Predictive failure", warn},
		{"Power Supply AC lost", crit}, {"AC lost or out-of-range", crit},
		{"AC out-of-range, but present", warn}, {"Config Error", warn}, {"Power Supply Inactive", warn}},
	sensorPowerUnit: {{"Power off/down", ok}, {"Power cycle", ok}, {"240VA power down", warn},
		{"Interlock power down", warn}, {"AC lost", crit}, {"Soft-power control failure", crit},
		{"Failure detected", crit}, {"Predictive failure", warn}},
	sensorMemory: {{"Correctable ECC", warn}, {"Uncorrectable ECC", crit}, {"Parity", crit},
		{"Memory Scrub Failed", crit}, {"Memory Device Disabled", crit},
		{"Correctable ECC logging limit reached", warn}, {"Presence Detected", ok},
		{"Configuration Error", warn}, {"Spare", ok}, {"Throttled", warn}, {"Critical Overtemperature", crit}},
	sensorDriveSlot: {{"Drive Present", ok}, {"Drive Fault", crit}, {"Predictive Failure", warn},
		{"Hot Spare", ok}, {"Parity Check In Progress", ok}, {"In Critical Array", warn},
		{"In Failed Array", crit}, {"Rebuild In Progress", warn}, {"Rebuild Aborted", warn}},
	0x10: {{"Correctable memory error logging disabled", warn}, {"Event logging disabled", warn},
		{"Log area reset/cleared", ok}, {"All event logging disabled", warn}, {"Log full", warn},
		{"Log almost full", warn}},
	0x13: {{"NMI/Diag Interrupt", warn}, {"Bus Timeout", warn}, {"I/O Channel check NMI", crit},
		{"Software NMI", warn}, {"PCI PERR", crit}, {"PCI SERR", crit}, {"EISA failsafe timeout", warn},
		{"Bus Correctable error", warn}, {"Bus Uncorrectable error", crit}, {"Fatal NMI", crit},
		{"Bus Fatal Error", crit}, {"Bus Degraded", warn}},
	0x25: {{"Present", ok}, {"Absent", warn}, {"Disabled", warn}},
}

// genericStates are the generic discrete offsets by event/reading type
// code (02h-0Ch), IPMI 2.0 table 42-2.
var genericStates = map[uint8][]stateName{
	0x02: {{"Transition to Idle", ok}, {"Transition to Active", ok}, {"Transition to Busy", ok}},
	0x03: {{"State Deasserted", ok}, {"State Asserted", ok}},
	0x04: {{"Predictive Failure Deasserted", ok}, {"Predictive Failure Asserted", warn}},
	0x05: {{"Limit Not Exceeded", ok}, {"Limit Exceeded", warn}},
	0x06: {{"Performance Met", ok}, {"Performance Lags", warn}},
	0x07: {{"Transition to OK", ok}, {"Transition to Non-critical from OK", warn},
		{"Transition to Critical from less severe", crit}, {"Transition to Non-recoverable from less severe", crit},
		{"Transition to Non-critical from more severe", warn}, {"Transition to Critical from Non-recoverable", crit},
		{"Transition to Non-recoverable", crit}, {"Monitor", ok}, {"Informational", ok}},
	0x08: {{"Device Absent", ok}, {"Device Present", ok}},
	0x09: {{"Device Disabled", ok}, {"Device Enabled", ok}},
	0x0a: {{"Transition to Running", ok}, {"Transition to In Test", ok}, {"Transition to Power Off", ok},
		{"Transition to On Line", ok}, {"Transition to Off Line", warn}, {"Transition to Off Duty", ok},
		{"Transition to Degraded", warn}, {"Transition to Power Save", ok}, {"Install Error", warn}},
	0x0b: {{"Fully Redundant", ok}, {"Redundancy Lost", crit}, {"Redundancy Degraded", warn},
		{"Non-Redundant: Sufficient from Redundant", warn}, {"Non-Redundant: Sufficient from Insufficient", warn},
		{"Non-Redundant: Insufficient Resources", crit}, {"Redundancy Degraded from Fully Redundant", warn},
		{"Redundancy Degraded from Non-Redundant", warn}},
	0x0c: {{"D0 Power State", ok}, {"D1 Power State", ok}, {"D2 Power State", ok}, {"D3 Power State", ok}},
}

// thresholdEvents are the threshold event offsets (event/reading type 01h).
var thresholdEvents = []stateName{
	{"Lower Non-critical going low", warn}, {"Lower Non-critical going high", warn},
	{"Lower Critical going low", crit}, {"Lower Critical going high", crit},
	{"Lower Non-recoverable going low", crit}, {"Lower Non-recoverable going high", crit},
	{"Upper Non-critical going low", warn}, {"Upper Non-critical going high", warn},
	{"Upper Critical going low", crit}, {"Upper Critical going high", crit},
	{"Upper Non-recoverable going low", crit}, {"Upper Non-recoverable going high", crit},
}

// lookupState names a discrete offset of a sensor. Unknown offsets get a
// generic name and no health.
func lookupState(sensorType, eventType, offset uint8) stateName {
	var table []stateName
	switch {
	case eventType == 0x01:
		table = thresholdEvents
	case eventType == eventSensorSpecific:
		table = sensorSpecificStates[sensorType]
	default:
		table = genericStates[eventType]
	}
	if int(offset) < len(table) {
		return table[offset]
	}
	return stateName{name: fmt.Sprintf("State %d", offset)}
}

// entityNames names the entity ids (IPMI 2.0 table 43-13) sensors sit on.
var entityNames = map[uint8]string{
	0x01: "Other", 0x02: "Unknown", 0x03: "Processor", 0x04: "Disk Bay", 0x06: "System Management Module",
	0x07: "System Board", 0x08: "Memory Module", 0x0a: "Power Supply", 0x0b: "Add-in Card",
	0x0c: "Front Panel Board", 0x0d: "Back Panel Board", 0x0e: "Power System Board",
	0x0f: "Drive Backplane", 0x13: "Power Unit", 0x14: "Power Module", 0x15: "Power Management",
	0x17: "System Chassis", 0x1a: "Disk Drive", 0x1d: "Fan Device", 0x1e: "Cooling Unit",
	0x20: "Memory Device", 0x2e: "Baseboard Management Controller", 0x37: "Air Inlet",
	0x40: "Air Inlet", 0x41: "Processor", 0x42: "Baseboard",
}

// entityContext maps an entity id to the model's physical context.
func entityContext(entity uint8) string {
	switch entity {
	case 0x03, 0x41:
		return bmc.ContextCPU
	case 0x07, 0x42:
		return bmc.ContextSystemBoard
	case 0x37, 0x40:
		return bmc.ContextIntake
	case 0x08, 0x20:
		return bmc.ContextMemory
	case 0x0a:
		return bmc.ContextPowerSupply
	case 0x1d, 0x1e:
		return bmc.ContextFan
	case 0x04, 0x1a:
		return bmc.ContextStorage
	case 0x17:
		return bmc.ContextChassis
	case 0x14:
		return bmc.ContextVoltageReg
	}
	return bmc.ContextUnknownPlace
}

func entityName(entity, instance uint8) string {
	name, known := entityNames[entity]
	if !known {
		name = fmt.Sprintf("Entity 0x%02x", entity)
	}
	return fmt.Sprintf("%s %d", name, instance)
}
