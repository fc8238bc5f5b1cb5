package redfish

import (
	"encoding/json"

	"github.com/stmcginnis/gofish/schemas"
)

// The wire shapes of the resources read on every poll (ComputerSystem,
// Chassis, Sensor, the legacy Thermal and Power, PowerSubsystem and its
// supplies, EnvironmentMetrics, ThermalSubsystem) and of Memory and
// MemoryMetrics, read on the slow cadence. They carry only the
// properties the collector uses, so that a poll decodes each body once,
// straight into plain fields. gofish's schema types for them hold every
// property of the schema and decode through their own UnmarshalJSON,
// which re-scans each nested object (a Thermal's every Temperature, a
// Power's every supply), and keep the raw bytes for writes the collector
// never makes: most of a poll's CPU went there. Numbers are float64
// throughout, which takes a legacy float32 or integer property as the
// decimal the BMC wrote. Leaf types without decoders of their own
// (schemas.Status, the enumerations) are gofish's; a Location is its
// PartLocation only (gofish's Location holds a whole postal address).
// Tolerant decoding (decodeTolerant) applies to these as to any type.

// wireSystem is a ComputerSystem member.
type wireSystem struct {
	navLinks
	Name             string
	Model            string
	Manufacturer     string
	SerialNumber     string
	UUID             string
	PowerState       schemas.PowerState
	Status           schemas.Status
	MemorySummary    struct{ Status schemas.Status }
	ProcessorSummary struct{ Status schemas.Status }
}

// wireChassis is a Chassis member.
type wireChassis struct {
	navLinks
	Name         string
	ChassisType  schemas.ChassisType
	Model        string
	SerialNumber string
	PowerState   schemas.PowerState
	Status       schemas.Status
}

// wireSensor is a member of a chassis's Sensors collection.
type wireSensor struct {
	ID                 string `json:"Id"`
	ODataID            string `json:"@odata.id"`
	Name               string
	ReadingType        string
	ReadingUnits       string
	PhysicalContext    schemas.PhysicalContext
	PhysicalSubContext schemas.PhysicalSubContext
	Reading            *float64
	SpeedRPM           *float64
	Status             schemas.Status
	Thresholds         wireThresholds
	RelatedItem        []odataID
}

// wireThresholds are a Sensor's thresholds, as readings.
type wireThresholds struct {
	LowerCritical, LowerCaution, UpperCaution, UpperCritical struct{ Reading *float64 }
}

// wireThermal is the deprecated Thermal resource.
type wireThermal struct {
	Temperatures []legacyTemperature
	Fans         []legacyFan
}

type legacyTemperature struct {
	ODataID                   string `json:"@odata.id"`
	MemberID                  string `json:"MemberId"`
	Name                      string
	PhysicalContext           schemas.PhysicalContext
	ReadingCelsius            *float64
	LowerThresholdNonCritical *float64
	LowerThresholdCritical    *float64
	UpperThresholdNonCritical *float64
	UpperThresholdCritical    *float64
	Status                    schemas.Status
	RelatedItem               []odataID
}

type legacyFan struct {
	ODataID string `json:"@odata.id"`
	// MemberID and FanName name fans on older firmware that leaves Name
	// out.
	MemberID                  string `json:"MemberId"`
	Name                      string
	FanName                   string
	PhysicalContext           schemas.PhysicalContext
	Reading                   *float64
	ReadingUnits              schemas.ReadingUnits
	LowerThresholdNonCritical *float64
	LowerThresholdCritical    *float64
	UpperThresholdNonCritical *float64
	UpperThresholdCritical    *float64
	Status                    schemas.Status
}

// wirePower is the deprecated Power resource. A body without
// PowerControl (QuirkLegacyPowerWithoutPowerControl) decodes as any other.
type wirePower struct {
	PowerControl  []legacyPowerControl
	PowerSupplies []legacyPowerSupply
	Voltages      []legacyVoltage
	Redundancy    []legacyRedundancy
}

type legacyPowerControl struct {
	ODataID            string `json:"@odata.id"`
	PowerConsumedWatts *float64
	PowerCapacityWatts *float64
	PowerMetrics       struct{ IntervalInMin *float64 }
	Status             schemas.Status
}

type legacyPowerSupply struct {
	ID                   string `json:"Id"`
	ODataID              string `json:"@odata.id"`
	MemberID             string `json:"MemberId"`
	Name                 string
	Model                string
	SerialNumber         string
	PowerCapacityWatts   *float64
	LineInputVoltage     *float64
	PowerInputWatts      *float64
	PowerOutputWatts     *float64
	LastPowerOutputWatts *float64
	Location             wireLocation
	Status               schemas.Status
	OEM                  json.RawMessage `json:"Oem"`
}

type legacyVoltage struct {
	ODataID                   string `json:"@odata.id"`
	Name                      string
	PhysicalContext           schemas.PhysicalContext
	ReadingVolts              *float64
	LowerThresholdNonCritical *float64
	LowerThresholdCritical    *float64
	UpperThresholdNonCritical *float64
	UpperThresholdCritical    *float64
	Status                    schemas.Status
}

type legacyRedundancy struct {
	Name              string
	Mode              string
	MinNumNeeded      *int
	MaxNumSupported   *int
	RedundancySet     []odataID
	RedundancyEnabled *bool
	Status            schemas.Status
}

// wirePowerSubsystem is a chassis's PowerSubsystem.
type wirePowerSubsystem struct {
	PowerSupplies         odataID
	PowerSupplyRedundancy []struct {
		GroupName           string
		RedundancyType      string
		MinNeededInGroup    *int
		MaxSupportedInGroup *int
		RedundancyGroup     []odataID
		Status              schemas.Status
	}
}

// wirePowerSupply is a PowerSupply member (schema PowerSupply v1.x, gofish's
// PowerSupplyUnit), with its Metrics as a link or expanded inline.
type wirePowerSupply struct {
	ID                 string `json:"Id"`
	ODataID            string `json:"@odata.id"`
	Name               string
	Model              string
	SerialNumber       string
	PowerCapacityWatts *float64
	LineInputStatus    schemas.LineStatus
	Location           wireLocation
	Status             schemas.Status
	Metrics            wirePowerSupplyMetrics
}

// wirePowerSupplyMetrics is a PowerSupplyMetrics resource, or the link to
// one.
type wirePowerSupplyMetrics struct {
	ODataID          string `json:"@odata.id"`
	ODataType        string `json:"@odata.type"`
	ID               string `json:"Id"`
	InputPowerWatts  struct{ Reading *float64 }
	OutputPowerWatts struct{ Reading *float64 }
	InputVoltage     struct{ Reading *float64 }
	Status           schemas.Status
}

// inline reports whether the metrics were expanded in place: anything
// besides the link.
func (m *wirePowerSupplyMetrics) inline() bool {
	return m.ODataType != "" || m.ID != "" || m.Status.State != "" || m.Status.Health != "" ||
		m.InputPowerWatts.Reading != nil || m.OutputPowerWatts.Reading != nil || m.InputVoltage.Reading != nil
}

// wireEnvironmentMetrics is a chassis's EnvironmentMetrics.
type wireEnvironmentMetrics struct {
	PowerWatts struct {
		Reading       *float64
		DataSourceURI string `json:"DataSourceUri"`
	}
}

// wireThermalSubsystem is a chassis's ThermalSubsystem.
type wireThermalSubsystem struct {
	ThermalMetrics odataID
	Fans           odataID
}

// wireThermalMetrics is a ThermalSubsystem's ThermalMetrics.
type wireThermalMetrics struct {
	TemperatureReadingsCelsius []struct {
		DataSourceURI   string `json:"DataSourceUri"`
		DeviceName      string
		PhysicalContext schemas.PhysicalContext
		Reading         *float64
	}
}

// wireFan is a member of a ThermalSubsystem's Fans.
type wireFan struct {
	ID              string `json:"Id"`
	ODataID         string `json:"@odata.id"`
	Name            string
	PhysicalContext schemas.PhysicalContext
	SpeedPercent    struct {
		DataSourceURI string `json:"DataSourceUri"`
		Reading       *float64
		SpeedRPM      *float64
	}
	Status schemas.Status
}

// wireMemory is a Memory member (a DIMM).
type wireMemory struct {
	ID      string `json:"Id"`
	ODataID string `json:"@odata.id"`
	Name    string
	// DeviceLocator is deprecated in the schema; firmware still publishes
	// it, often as the only slot label.
	DeviceLocator string
	Location      wireLocation
	Manufacturer  string
	PartNumber    string
	SerialNumber  string
	CapacityMiB   *int
	Status        schemas.Status
	Metrics       odataID
}

// wireMemoryMetrics is a DIMM's MemoryMetrics: its ECC counters.
type wireMemoryMetrics struct {
	LifeTime, CurrentPeriod struct {
		CorrectableECCErrorCount   *int64
		UncorrectableECCErrorCount *int64
	}
}

// wireLocation is a part's Location: where on the board it sits.
type wireLocation struct {
	PartLocation struct {
		ServiceLabel         string
		LocationOrdinalValue *int
	}
}
