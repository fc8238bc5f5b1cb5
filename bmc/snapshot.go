package bmc

import (
	"slices"
	"time"
)

// Health is the normalized health of a part: OK, Warning, Critical, or
// empty when the BMC does not say.
type Health string

// Health values. Redfish uses these names; IPMI states map onto them.
const (
	HealthUnknown  Health = ""
	HealthOK       Health = "OK"
	HealthWarning  Health = "Warning"
	HealthCritical Health = "Critical"
)

// Worse returns the worse of two healths (Critical > Warning > OK > unknown).
func (h Health) Worse(o Health) Health {
	if healthRank(o) > healthRank(h) {
		return o
	}
	return h
}

func healthRank(h Health) int {
	switch h {
	case HealthOK:
		return 1
	case HealthWarning:
		return 2
	case HealthCritical:
		return 3
	}
	return 0
}

// SensorKind is what a sensor measures.
type SensorKind string

// Sensor kinds.
const (
	KindTemperature SensorKind = "temperature"
	KindFan         SensorKind = "fan"
	KindVoltage     SensorKind = "voltage"
	KindCurrent     SensorKind = "current"
	KindPower       SensorKind = "power"
	KindEnergy      SensorKind = "energy"
	KindHumidity    SensorKind = "humidity"
	KindFrequency   SensorKind = "frequency"
	KindOther       SensorKind = "other"
)

// Units used in the model. Every value is converted to one of these.
const (
	UnitCelsius = "Cel"
	UnitRPM     = "RPM"
	UnitPercent = "%"
	UnitVolt    = "V"
	UnitAmpere  = "A"
	UnitWatt    = "W"
	UnitKWh     = "kWh"
	UnitHertz   = "Hz"
)

// Physical contexts, normalized from Redfish PhysicalContext and IPMI entity
// IDs. A collector may use other Redfish PhysicalContext names verbatim.
const (
	ContextCPU          = "CPU"
	ContextIntake       = "Intake"
	ContextExhaust      = "Exhaust"
	ContextMemory       = "Memory"
	ContextPowerSupply  = "PowerSupply"
	ContextSystemBoard  = "SystemBoard"
	ContextStorage      = "StorageDevice"
	ContextFan          = "Fan"
	ContextChassis      = "Chassis"
	ContextNetwork      = "NetworkingDevice"
	ContextGPU          = "GPU"
	ContextVoltageReg   = "VoltageRegulator"
	ContextUnknownPlace = ""
)

// Thresholds of a sensor, each absent when the BMC publishes none.
type Thresholds struct {
	LowerCritical *float64 `json:"lower_critical,omitempty"`
	LowerWarning  *float64 `json:"lower_warning,omitempty"`
	UpperWarning  *float64 `json:"upper_warning,omitempty"`
	UpperCritical *float64 `json:"upper_critical,omitempty"`
}

// Sensor is one reading. Value is nil when the BMC reports no reading
// (absent, not scanning, null): missing is never zero.
type Sensor struct {
	Kind SensorKind `json:"kind"`
	Name string     `json:"name"`
	// Context is where the sensor sits (CPU, Intake, Exhaust, Memory, ...).
	Context string `json:"context,omitempty"`
	// Chassis (Redfish) or entity (IPMI) the sensor belongs to.
	Chassis    string     `json:"chassis,omitempty"`
	Value      *float64   `json:"value,omitempty"`
	Unit       string     `json:"unit"`
	Thresholds Thresholds `json:"thresholds"`
	Health     Health     `json:"health,omitempty"`
	// State is the sensor's Status.State where the BMC publishes one
	// (Enabled, Absent, UnavailableOffline). An absent sensor has no value
	// and no thresholds, whatever placeholders the BMC sent.
	State string `json:"state,omitempty"`
	// States holds a discrete sensor's asserted states (IPMI), in place of a value.
	States []string `json:"states,omitempty"`
	// Source is the resource or record the reading came from.
	Source string `json:"source,omitempty"`
	// Suspect lists what was set aside as implausible (SetAsideImplausible),
	// each with the reason ("value -300 Cel below the plausible minimum
	// -60 Cel"): the value or threshold is then absent.
	Suspect []string `json:"suspect,omitempty"`
}

// PSU is one power supply bay.
type PSU struct {
	Chassis string `json:"chassis,omitempty"`
	// Bay is the bay number as the board prints it ("1", "2").
	Bay    string `json:"bay"`
	Name   string `json:"name,omitempty"`
	Model  string `json:"model,omitempty"`
	Serial string `json:"serial,omitempty"`
	// InputWatts and OutputWatts are readings; CapacityWatts the rating.
	InputWatts    *float64 `json:"input_watts,omitempty"`
	OutputWatts   *float64 `json:"output_watts,omitempty"`
	CapacityWatts *float64 `json:"capacity_watts,omitempty"`
	InputVolts    *float64 `json:"input_volts,omitempty"`
	Health        Health   `json:"health,omitempty"`
	// State is the Redfish Status.State (Enabled, Absent, UnavailableOffline, ...).
	State            string `json:"state,omitempty"`
	FailurePredicted bool   `json:"failure_predicted,omitempty"`
	// LineInputStatus is Normal, LossOfInput, OutOfRange... where published.
	LineInputStatus string `json:"line_input_status,omitempty"`
	// Suspect lists readings set aside as implausible, with the reason
	// (for example "input_watts 800 >= capacity 800").
	Suspect []string `json:"suspect,omitempty"`
	// Source is the resource or record the PSU was read from.
	Source string `json:"source,omitempty"`
}

// RedundancyGroup is a group of power supplies that the BMC says back each
// other up (Redfish Power.Redundancy, PowerSubsystem.PowerSupplyRedundancy).
type RedundancyGroup struct {
	Chassis string `json:"chassis,omitempty"`
	Name    string `json:"name,omitempty"`
	// Mode is the BMC's word for the arrangement: N+m, Failover, Sparing,
	// NotRedundant...
	Mode string `json:"mode,omitempty"`
	// MinNeeded is how many members must work to carry the load (0: not
	// published); MaxSupported how many the group can hold.
	MinNeeded    int `json:"min_needed,omitempty"`
	MaxSupported int `json:"max_supported,omitempty"`
	// Bays are the members' PSU bays.
	Bays   []string `json:"bays"`
	Health Health   `json:"health,omitempty"`
	State  string   `json:"state,omitempty"`
	// Enabled is the BMC's RedundancyEnabled where it publishes one:
	// false says it does not count on the group for redundancy.
	Enabled *bool `json:"enabled,omitempty"`
}

// DIMM is one memory module slot.
type DIMM struct {
	System string `json:"system,omitempty"`
	// Slot is the label printed on the board (Redfish DeviceLocator).
	Slot         string `json:"slot"`
	SizeMiB      int64  `json:"size_mib,omitempty"`
	Manufacturer string `json:"manufacturer,omitempty"`
	PartNumber   string `json:"part_number,omitempty"`
	Serial       string `json:"serial,omitempty"`
	Health       Health `json:"health,omitempty"`
	State        string `json:"state,omitempty"`
	// Error counters, nil where the BMC does not publish them.
	CorrectableErrors   *int64 `json:"correctable_errors,omitempty"`
	UncorrectableErrors *int64 `json:"uncorrectable_errors,omitempty"`
	// CountsFromZero says the counts are the collector's own, from 0 when
	// it began counting (memory errors named by the SEL or the BMC's log):
	// everything in them is new, where a BMC's own counter's first value
	// is history.
	CountsFromZero bool `json:"counts_from_zero,omitempty"`
	// Source is the resource or record the DIMM was read from.
	Source string `json:"source,omitempty"`
	// Suspect lists what was set aside as implausible, with the reason.
	Suspect []string `json:"suspect,omitempty"`
}

// CPU is one processor socket.
type CPU struct {
	System       string   `json:"system,omitempty"`
	Socket       string   `json:"socket"`
	Model        string   `json:"model,omitempty"`
	Cores        int      `json:"cores,omitempty"`
	TemperatureC *float64 `json:"temperature_c,omitempty"`
	Health       Health   `json:"health,omitempty"`
	State        string   `json:"state,omitempty"`
	// Suspect lists what was set aside as implausible, with the reason.
	Suspect []string `json:"suspect,omitempty"`
}

// Drive is one disk.
type Drive struct {
	System string `json:"system,omitempty"`
	// Bay is the physical slot where published, else the drive's name or id.
	Bay              string   `json:"bay"`
	Name             string   `json:"name,omitempty"`
	Model            string   `json:"model,omitempty"`
	Serial           string   `json:"serial,omitempty"`
	Media            string   `json:"media,omitempty"` // HDD, SSD, SMR
	Protocol         string   `json:"protocol,omitempty"`
	CapacityBytes    int64    `json:"capacity_bytes,omitempty"`
	Health           Health   `json:"health,omitempty"`
	State            string   `json:"state,omitempty"`
	FailurePredicted bool     `json:"failure_predicted,omitempty"`
	LifeLeftPercent  *float64 `json:"life_left_percent,omitempty"`
	// Error counters where published (DriveMetrics, SMART).
	CorrectableErrors   *int64 `json:"correctable_errors,omitempty"`
	UncorrectableErrors *int64 `json:"uncorrectable_errors,omitempty"`
	MediaErrors         *int64 `json:"media_errors,omitempty"`
	// Source is the resource or record the drive was read from.
	Source string `json:"source,omitempty"`
	// Suspect lists what was set aside as implausible, with the reason.
	Suspect []string `json:"suspect,omitempty"`
}

// System is one computer system behind the BMC (several on a blade BMC).
type System struct {
	ID           string `json:"id"`
	Name         string `json:"name,omitempty"`
	Model        string `json:"model,omitempty"`
	Manufacturer string `json:"manufacturer,omitempty"`
	Serial       string `json:"serial,omitempty"`
	// UUID is the system's UUID as the BMC reports it (Redfish
	// ComputerSystem.UUID, IPMI Get System GUID), lower case 8-4-4-4-12.
	UUID         string `json:"uuid,omitempty"`
	Health       Health `json:"health,omitempty"`
	HealthRollup Health `json:"health_rollup,omitempty"`
	PowerState   string `json:"power_state,omitempty"`
}

// Chassis is one enclosure behind the BMC.
type Chassis struct {
	ID           string `json:"id"`
	Name         string `json:"name,omitempty"`
	ChassisType  string `json:"chassis_type,omitempty"`
	Model        string `json:"model,omitempty"`
	Serial       string `json:"serial,omitempty"`
	Health       Health `json:"health,omitempty"`
	HealthRollup Health `json:"health_rollup,omitempty"`
	PowerState   string `json:"power_state,omitempty"`
	// ContainedBy is the id of the enclosing chassis (a blade's enclosure).
	ContainedBy string `json:"contained_by,omitempty"`
}

// PowerSource names where a power reading came from.
type PowerSource string

// Power reading sources, from the most direct measure of input power down.
const (
	PowerFromPowerControl       PowerSource = "PowerControl"
	PowerFromEnvironmentMetrics PowerSource = "EnvironmentMetrics"
	// PowerFromChassisSensor is a chassis's input power published only as
	// a Sensor (ReadingType Power) of the chassis as a whole: power
	// shelves and newer BMCs.
	PowerFromChassisSensor PowerSource = "ChassisSensor"
	PowerFromDCMI          PowerSource = "DCMI"
	PowerFromSensor        PowerSource = "Sensor"
	PowerFromPSUInput      PowerSource = "PSUInput"
	PowerFromPSUOutput     PowerSource = "PSUOutput"
)

// PowerReading is one published measure of a chassis's power, with where it
// came from. Collectors report every measure they saw; the power package
// chooses.
type PowerReading struct {
	Chassis string      `json:"chassis,omitempty"`
	Source  PowerSource `json:"source"`
	Watts   float64     `json:"watts"`
	// IntervalMin is the BMC's averaging window where it publishes one.
	IntervalMin *float64 `json:"interval_min,omitempty"`
	// CapacityWatts is the chassis's or control's power capacity, if published.
	CapacityWatts *float64 `json:"capacity_watts,omitempty"`
	// Resource is the URI or record the reading came from.
	Resource string `json:"resource,omitempty"`
	// Suspect says why the reading is implausible; empty when it is not.
	Suspect string `json:"suspect,omitempty"`
}

// LogEntry is one BMC log record, new since the previous poll.
type LogEntry struct {
	ID        string    `json:"id"`
	Time      time.Time `json:"time,omitzero"`
	Severity  Health    `json:"severity,omitempty"`
	MessageID string    `json:"message_id,omitempty"`
	Message   string    `json:"message"`
	// Component is what the entry is about (DIMM, CPU, PSU, Fan, Drive), and
	// Subject which one (a DIMM slot, a PSU bay), where known.
	Component string `json:"component,omitempty"`
	Subject   string `json:"subject,omitempty"`
	Source    string `json:"source,omitempty"`
}

// Snapshot is everything read from one server's BMC in one poll. Slices are
// empty, not absent, when a part was read and had nothing; a part that was
// not read this poll (slower cadence) keeps the previous poll's values and is
// listed in Poll.Cached. DIMMs and Drives may be the very lists a collector
// keeps between its slow reads, shared with earlier Snapshots: whoever
// changes one of their elements changes a copy of the list
// (SetAsideImplausible does).
type Snapshot struct {
	Server   string    `json:"server"`
	Rack     string    `json:"rack,omitempty"`
	Protocol Protocol  `json:"protocol"`
	Time     time.Time `json:"time"`

	Systems []System       `json:"systems"`
	Chassis []Chassis      `json:"chassis"`
	Sensors []Sensor       `json:"sensors"`
	Power   []PowerReading `json:"power_readings"`
	PSUs    []PSU          `json:"psus"`
	// RedundancyGroups are the PSU redundancy groups the BMC publishes.
	RedundancyGroups []RedundancyGroup `json:"redundancy_groups,omitempty"`
	DIMMs            []DIMM            `json:"dimms"`
	CPUs             []CPU             `json:"cpus"`
	Drives           []Drive           `json:"drives"`
	Logs             []LogEntry        `json:"logs"`

	Poll PollReport `json:"poll"`
}

// NewSnapshot starts a poll's Snapshot: every list empty (read and found
// nothing), not absent, until the collector fills it.
func NewSnapshot(server, rack string, protocol Protocol, started time.Time) *Snapshot {
	return &Snapshot{
		Server: server, Rack: rack, Protocol: protocol, Time: started,
		Systems: []System{}, Chassis: []Chassis{}, Sensors: []Sensor{}, Power: []PowerReading{},
		PSUs: []PSU{}, DIMMs: []DIMM{}, CPUs: []CPU{}, Drives: []Drive{}, Logs: []LogEntry{},
		Poll: PollReport{Started: started},
	}
}

// Health returns the worst health over the systems and chassis.
func (s *Snapshot) Health() Health {
	h := HealthUnknown
	for _, sys := range s.Systems {
		h = h.Worse(sys.Health).Worse(sys.HealthRollup)
	}
	for _, c := range s.Chassis {
		h = h.Worse(c.Health)
	}
	return h
}

// Part names a piece of a poll that can fail on its own.
type Part string

// Parts of a poll.
const (
	PartSession Part = "session"
	PartService Part = "service"
	PartSystems Part = "systems"
	PartChassis Part = "chassis"
	PartPower   Part = "power"
	PartThermal Part = "thermal"
	PartSensors Part = "sensors"
	PartMemory  Part = "memory"
	PartCPU     Part = "processors"
	PartStorage Part = "storage"
	PartLogs    Part = "logs"
	PartSDR     Part = "sdr"
	PartSEL     Part = "sel"
)

// PartError is the failure of one part of a poll; the rest of the poll stands.
type PartError struct {
	Part Part      `json:"part"`
	Kind ErrorKind `json:"kind"`
	// Resource is what was being read (a URI or record), where known.
	Resource string `json:"resource,omitempty"`
	Message  string `json:"message"`
}

// PollReport says how a poll went.
type PollReport struct {
	Started  time.Time     `json:"started"`
	Duration time.Duration `json:"duration_ns"`
	// Requests counts requests (Redfish) or round trips (IPMI) made; Bytes
	// the response bytes read.
	Requests int   `json:"requests"`
	Bytes    int64 `json:"bytes"`
	// NextPages counts the later pages of collections read
	// (Members@odata.nextLink followed); their requests are in Requests.
	NextPages int `json:"next_pages,omitempty"`
	// Read lists the parts read this poll; Cached those carried over from an
	// earlier poll because their cadence had not come round.
	Read   []Part      `json:"read"`
	Cached []Part      `json:"cached,omitempty"`
	Errors []PartError `json:"errors,omitempty"`
	// Quirks are the BMC's deviations from its protocol's schema that the
	// poll coped with, each once: the rest of the resource was read.
	Quirks []Quirk `json:"quirks,omitempty"`
}

// Quirk is one deviation from the schema a poll coped with: a property of
// another shape than the schema says (an array for one object, a string
// for a number), read as what it should be or left out, the rest of the
// resource read.
type Quirk struct {
	Part Part `json:"part"`
	// Resource is the resource it was seen in; Property the property's
	// path within it (Links.ContainedBy, PowerSupplies.PowerCapacityWatts).
	Resource string `json:"resource"`
	Property string `json:"property,omitempty"`
	// Seen is what was there (`array of 1 object`, `string "5500"`);
	// Action what was done with it (`read the first object`, `read as
	// 5500`, `left out`).
	Seen   string `json:"seen"`
	Action string `json:"action"`
}

// AddQuirk records a quirk once per poll.
func (r *PollReport) AddQuirk(q Quirk) {
	if !slices.Contains(r.Quirks, q) {
		r.Quirks = append(r.Quirks, q)
	}
}

// OK reports whether the poll had no part errors.
func (r *PollReport) OK() bool { return len(r.Errors) == 0 }

// MarkRead records that a part was read this poll (once).
func (r *PollReport) MarkRead(part Part) {
	if !slices.Contains(r.Read, part) {
		r.Read = append(r.Read, part)
	}
}

// AddError records a part's failure and returns it as recorded.
func (r *PollReport) AddError(part Part, err error) PartError {
	pe := PartErrorFrom(part, err)
	r.Errors = append(r.Errors, pe)
	return pe
}

// RequestTrace records one request a collector made, for `probe -v`.
type RequestTrace struct {
	Method   string        `json:"method"`
	URL      string        `json:"url"`
	Status   int           `json:"status,omitempty"`
	Duration time.Duration `json:"duration_ns"`
	Bytes    int64         `json:"bytes"`
	Err      string        `json:"error,omitempty"`
}
