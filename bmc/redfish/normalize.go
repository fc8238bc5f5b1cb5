package redfish

import (
	"strconv"
	"strings"

	"github.com/stmcginnis/gofish/schemas"

	"github.com/rackpulse/rackpulse/bmc"
)

// healthOf maps a Redfish Health to the model's.
func healthOf(h schemas.Health) bmc.Health {
	switch strings.ToLower(string(h)) {
	case "ok":
		return bmc.HealthOK
	case "warning":
		return bmc.HealthWarning
	case "critical":
		return bmc.HealthCritical
	}
	return bmc.HealthUnknown
}

// i64 widens an optional counter.
func i64(v *int) *int64 {
	if v == nil {
		return nil
	}
	n := int64(*v)
	return &n
}

// scaled multiplies an optional reading.
func scaled(v *float64, factor float64) *float64 {
	if v == nil || factor == 1 {
		return v
	}
	f := *v * factor
	return &f
}

// sensorKind decides what a Redfish Sensor measures and the factor that
// brings its reading into the model's unit, from ReadingType, ReadingUnits
// and, for fans published as percent, the name.
func sensorKind(readingType, units, name string, context schemas.PhysicalContext) (bmc.SensorKind, string, float64) {
	u := strings.TrimSpace(units)
	switch strings.ToLower(readingType) {
	case "temperature":
		return bmc.KindTemperature, bmc.UnitCelsius, 1
	case "rotational":
		return bmc.KindFan, bmc.UnitRPM, 1
	case "power":
		if strings.EqualFold(u, "kW") {
			return bmc.KindPower, bmc.UnitWatt, 1000
		}
		return bmc.KindPower, bmc.UnitWatt, 1
	case "energykwh":
		return bmc.KindEnergy, bmc.UnitKWh, 1
	case "energyjoules":
		return bmc.KindEnergy, bmc.UnitKWh, 1.0 / 3.6e6
	case "voltage":
		return bmc.KindVoltage, bmc.UnitVolt, 1
	case "current":
		return bmc.KindCurrent, bmc.UnitAmpere, 1
	case "frequency":
		return bmc.KindFrequency, bmc.UnitHertz, 1
	case "humidity":
		return bmc.KindHumidity, bmc.UnitPercent, 1
	case "percent":
		if isFanName(name) || context == schemas.FanPhysicalContext {
			return bmc.KindFan, bmc.UnitPercent, 1
		}
		return bmc.KindOther, bmc.UnitPercent, 1
	}
	switch u {
	case "Cel", "C", "cel", "°C":
		return bmc.KindTemperature, bmc.UnitCelsius, 1
	case "RPM", "{rev}/min":
		return bmc.KindFan, bmc.UnitRPM, 1
	case "W":
		return bmc.KindPower, bmc.UnitWatt, 1
	case "kW":
		return bmc.KindPower, bmc.UnitWatt, 1000
	case "kW.h", "kWh":
		return bmc.KindEnergy, bmc.UnitKWh, 1
	case "V":
		return bmc.KindVoltage, bmc.UnitVolt, 1
	case "A":
		return bmc.KindCurrent, bmc.UnitAmpere, 1
	case "Hz":
		return bmc.KindFrequency, bmc.UnitHertz, 1
	case "%":
		if isFanName(name) || context == schemas.FanPhysicalContext {
			return bmc.KindFan, bmc.UnitPercent, 1
		}
		return bmc.KindOther, bmc.UnitPercent, 1
	}
	return bmc.KindOther, u, 1
}

func isFanName(name string) bool {
	return strings.Contains(strings.ToLower(name), "fan")
}

// thresholdsOf maps the new-schema Thresholds: UpperCaution is the model's
// UpperWarning, LowerCaution its LowerWarning.
func thresholdsOf(t wireThresholds, factor float64) bmc.Thresholds {
	return bmc.Thresholds{
		LowerCritical: scaled(t.LowerCritical.Reading, factor),
		LowerWarning:  scaled(t.LowerCaution.Reading, factor),
		UpperWarning:  scaled(t.UpperCaution.Reading, factor),
		UpperCritical: scaled(t.UpperCritical.Reading, factor),
	}
}

// legacyThresholds maps the Thermal/Power schema's NonCritical (warning) and
// Critical thresholds.
func legacyThresholds(lowerNC, lowerC, upperNC, upperC *float64) bmc.Thresholds {
	return bmc.Thresholds{LowerWarning: lowerNC, LowerCritical: lowerC, UpperWarning: upperNC, UpperCritical: upperC}
}

// bayOf finds the bay number a board prints for a part: from the
// ServiceLabel ("PSU 1"), else a number ending the name ("Power Supply Bay 2"),
// the Id ("Bay1") or the MemberId.
func bayOf(loc wireLocation, name, memberID, id string) string {
	for _, s := range []string{loc.PartLocation.ServiceLabel, name, id, memberID} {
		if n := trailingNumber(s); n != "" {
			return n
		}
	}
	if loc.PartLocation.LocationOrdinalValue != nil {
		return strconv.Itoa(*loc.PartLocation.LocationOrdinalValue + 1)
	}
	if memberID != "" {
		return memberID
	}
	return id
}

// trailingNumber returns the number at the end of s ("Bay1" → "1",
// "PSU 02" → "2"), or "" when s does not end in digits.
func trailingNumber(s string) string {
	s = strings.TrimSpace(s)
	start := len(s)
	for start > 0 && s[start-1] >= '0' && s[start-1] <= '9' {
		start--
	}
	n, err := strconv.Atoi(s[start:])
	if err != nil {
		return ""
	}
	return strconv.Itoa(n)
}

// lastSegment is the last path element of a URI ("/redfish/v1/Chassis/1U" → "1U").
func lastSegment(uri string) string {
	uri = strings.TrimSuffix(uri, "/")
	if i := strings.LastIndex(uri, "/"); i >= 0 {
		return uri[i+1:]
	}
	return uri
}

// firstNonEmpty returns the first non-empty string.
func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// normalizeUUID returns a ComputerSystem UUID in the model's form: lower
// case, 8-4-4-4-12. Braces, a "urn:uuid:" prefix and surrounding blanks are
// dropped and 32 hex digits without dashes are accepted; anything else is
// not a UUID and gives "". So does the all-zero UUID (the DMTF mockups'
// and some firmware's placeholder) and the all-F one (SMBIOS: not set).
// The text is Redfish's already: no byte is reordered.
func normalizeUUID(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	s = strings.TrimPrefix(s, "urn:uuid:")
	s = strings.TrimSuffix(strings.TrimPrefix(s, "{"), "}")
	var hex []byte
	switch len(s) {
	case 36:
		for i := 0; i < len(s); i++ {
			if i == 8 || i == 13 || i == 18 || i == 23 {
				if s[i] != '-' {
					return ""
				}
				continue
			}
			hex = append(hex, s[i])
		}
	case 32:
		hex = []byte(s)
	default:
		return ""
	}
	zero, ones := true, true
	for _, c := range hex {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return ""
		}
		zero, ones = zero && c == '0', ones && c == 'f'
	}
	if zero || ones {
		return ""
	}
	h := string(hex)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
