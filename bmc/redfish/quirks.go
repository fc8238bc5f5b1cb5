package redfish

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stmcginnis/gofish/schemas"

	"github.com/rackpulse/rackpulse/bmc"
)

// Quirk names a vendor or library oddity the collector works around. Every
// quirk is listed, with what is done about it, in docs/redfish.md, and has a
// test on a payload shaped like the real one under testdata/.
type Quirk string

// Named quirks.
const (
	// QuirkNullReading: a reading published as null. It stays absent (nil),
	// never 0.
	QuirkNullReading Quirk = "null-reading"
	// QuirkAbsentZeroReading: a sensor whose Status.State is "Absent" (or
	// "UnavailableOffline") reporting 0. The reading is dropped.
	QuirkAbsentZeroReading Quirk = "absent-sensor-zero"
	// QuirkAbsentPlaceholders: an absent sensor carrying placeholder
	// thresholds (0 for each). Its thresholds are dropped with its
	// reading; the sensor keeps its state (Absent).
	QuirkAbsentPlaceholders Quirk = "absent-sensor-placeholders"
	// QuirkContextFromName: temperature sensors published without a
	// PhysicalContext (Intel server boards). The context is taken from
	// the name: "P1 Temperature" is a CPU's, "BB Inlet Temp" an intake's,
	// "Exit Air Temp" an exhaust's; margins get none.
	QuirkContextFromName Quirk = "context-from-name"
	// QuirkPSUReadingAtCapacity: a PSU input or output "reading" equal to or
	// above the supply's own rated capacity (the rating, or garbage, in the
	// reading field). Listed in PSU.Suspect and not used as the reading.
	QuirkPSUReadingAtCapacity Quirk = "psu-reading-at-capacity"
	// QuirkPSUPlaceholder: PSUs named "nil" (or with no name, no model and no
	// readings) for empty bays. Kept as a bay with State "Absent", no readings.
	QuirkPSUPlaceholder Quirk = "psu-placeholder"
	// QuirkMissingMember: a collection lists a member the service answers
	// with 404. The member is skipped and reported as a not_found part error.
	QuirkMissingMember Quirk = "missing-member"
	// QuirkPowerTotalsDisagree: PowerControl, EnvironmentMetrics and the PSU
	// sums publish different chassis totals. Every source is reported in
	// Snapshot.Power with its provenance; the ones off the median by more
	// than powerDisagreeTolerance are marked Suspect.
	QuirkPowerTotalsDisagree Quirk = "power-totals-disagree"
	// QuirkZeroDate: log entries dated 0000-00-00T00:00:00Z (BMC clock never
	// set). Kept, with a zero time.
	QuirkZeroDate Quirk = "zero-date"
	// QuirkDriveWithoutID: drives published without an Id. The bay falls
	// back to the location label, then the last segment of @odata.id.
	QuirkDriveWithoutID Quirk = "drive-without-id"
	// QuirkExpandIgnored: $expand advertised in ProtocolFeaturesSupported
	// but collections come back as bare links. Members are fetched one by
	// one, and $expand is no longer sent to that BMC.
	QuirkExpandIgnored Quirk = "expand-ignored"
	// QuirkExpandRefused: $expand advertised, and the collection read
	// with it answered 400, 404 or 501. Members are read one by one, and
	// $expand is no longer sent to that BMC.
	QuirkExpandRefused Quirk = "expand-refused"
	// QuirkExpandOneLevel: $expand advertised with MaxLevels 1 only (or no
	// $levels support). The collector only ever asks for one level, and
	// omits $levels where the service does not support it.
	QuirkExpandOneLevel Quirk = "expand-one-level"
	// QuirkLegacyPowerWithoutPowerControl: a legacy Power resource (an HPE
	// Cray EX enclosure's) has no PowerControl key, on which gofish v0.26.0's
	// Power type fails ("unexpected end of JSON input"). The collector's own
	// shape of the resource (wirePower) reads it as having no PowerControl,
	// and the log says so.
	QuirkLegacyPowerWithoutPowerControl Quirk = "gofish-power-without-powercontrol"
	// QuirkChassisInputRegulator: a chassis (an HPE Cray EX node) publishes
	// its input power only as the input of its voltage regulator, a Sensor
	// whose Id names the chassis (ChassisVoltageRegulator0InputPower). It
	// is read as the chassis's total (PowerFromChassisSensor).
	QuirkChassisInputRegulator Quirk = "chassis-input-regulator"
	// QuirkNestedByProvenance: a chassis with no ContainedBy whose power
	// reading comes from a sensor of another chassis (a GPU's chassis and
	// its tray's hot-swap controller sensors). It is placed inside that
	// chassis, so that its power is counted once.
	QuirkNestedByProvenance Quirk = "nested-by-provenance"
	// QuirkDIMMErrorsOnlyLogged: a BMC that names a DIMM in its
	// correctable-ECC log entries while the DIMM resource publishes no
	// counts (and stays OK; some Supermicro firmware). The new entries
	// naming the DIMM are counted, kept with the log positions, and are
	// the DIMM's counts.
	QuirkDIMMErrorsOnlyLogged Quirk = "dimm-errors-only-logged"
	// QuirkHPEBayNumber: HPE iLO's supplies are numbered from MemberId 0,
	// while the chassis prints bays from 1, in Oem.Hpe.BayNumber. The bay
	// is the printed one, so that feed wiring and PSUFailed labels match
	// the chassis.
	QuirkHPEBayNumber Quirk = "hpe-bay-number"
	// QuirkUndecodableMember: a member gofish cannot decode (the
	// public-tower drive's ActivePersonalities.Identifier). It costs only
	// itself: a malformed part error, the other members stand.
	QuirkUndecodableMember Quirk = "undecodable-member"
)

// powerDisagreeTolerance is how far (relative) a chassis power total may sit
// from the median of all sources before it is marked suspect.
const powerDisagreeTolerance = 0.15

// placeholderPSUName is the name some BMCs give an empty PSU bay.
const placeholderPSUName = "nil"

// isAbsentState reports whether a Status.State says there is nothing to read.
func isAbsentState(state schemas.State) bool {
	switch state {
	case schemas.AbsentState, schemas.UnavailableOfflineState:
		return true
	}
	return false
}

// sensorReading applies QuirkNullReading and QuirkAbsentZeroReading: a
// reading is kept only when it was published and the sensor is present.
func sensorReading(state schemas.State, v *float64) *float64 {
	if v == nil {
		return nil // null or missing: absent, not 0
	}
	if isAbsentState(state) {
		return nil
	}
	return v
}

// finishSensors applies QuirkAbsentPlaceholders and
// QuirkContextFromName to the poll's sensors: an absent (or disabled)
// sensor has no reading and no thresholds, whatever the BMC put in them (0
// for all, often), and keeps its state; a temperature sensor published
// without a PhysicalContext gets the one its name says.
func (p *poll) finishSensors() {
	for i := range p.snap.Sensors {
		s := &p.snap.Sensors[i]
		if isAbsentState(schemas.State(s.State)) || s.State == string(schemas.DisabledState) {
			s.Value, s.Thresholds = nil, bmc.Thresholds{}
		}
		if s.Context == "" && s.Kind == bmc.KindTemperature {
			s.Context = contextFromName(s.Name)
		}
	}
}

// Names that say where a temperature sensor sits, for BMCs that publish
// no PhysicalContext (Intel server boards: "P1 Temperature", "BB Inlet
// Temp", "Exit Air Temp"). A margin ("P1 Therm Margin") is not a
// temperature of the part and gets none.
var (
	cpuTempNameRe     = regexp.MustCompile(`(?i)^(?:cpu|proc(?:essor)?|p)\s*#?\s*\d+\s+(?:temp|temperature|pkg|package)\b`)
	intakeTempNameRe  = regexp.MustCompile(`(?i)\b(?:inlet|intake|ambient|front panel)\b`)
	exhaustTempNameRe = regexp.MustCompile(`(?i)\b(?:exit air|outlet|exhaust)\b`)
	marginNameRe      = regexp.MustCompile(`(?i)\b(?:margin|mgn|mrgn)\b`)
)

// contextFromName is the PhysicalContext a temperature sensor's name
// says, or "".
func contextFromName(name string) string {
	switch {
	case marginNameRe.MatchString(name):
		return ""
	case cpuTempNameRe.MatchString(name):
		return bmc.ContextCPU
	case intakeTempNameRe.MatchString(name):
		return bmc.ContextIntake
	case exhaustTempNameRe.MatchString(name):
		return bmc.ContextExhaust
	}
	return ""
}

// hpeBayNumber applies QuirkHPEBayNumber: HPE iLO numbers its supplies
// from MemberId 0 while the chassis prints bays from 1, and says which in
// Oem.Hpe.BayNumber (Oem.Hp on older iLO). "" when the supply says
// nothing of it.
func hpeBayNumber(oem json.RawMessage) string {
	if len(oem) == 0 {
		return ""
	}
	var o struct {
		Hpe, Hp struct{ BayNumber *int }
	}
	if json.Unmarshal(oem, &o) != nil {
		return ""
	}
	for _, n := range []*int{o.Hpe.BayNumber, o.Hp.BayNumber} {
		if n != nil && *n > 0 {
			return strconv.Itoa(*n)
		}
	}
	return ""
}

// psuReadingCheck applies QuirkPSUReadingAtCapacity: a reading at or above the
// supply's capacity is returned as nil with the reason.
func psuReadingCheck(field string, reading, capacity *float64) (*float64, string) {
	if reading == nil || capacity == nil || *capacity <= 0 {
		return reading, ""
	}
	if *reading >= *capacity {
		return nil, fmt.Sprintf("%s %g >= capacity %g", field, *reading, *capacity)
	}
	return reading, ""
}

// isPlaceholderPSU applies QuirkPSUPlaceholder.
func isPlaceholderPSU(name, model, serial string, readings ...*float64) bool {
	if strings.EqualFold(strings.TrimSpace(name), placeholderPSUName) {
		return true
	}
	if name != "" || model != "" || serial != "" {
		return false
	}
	for _, r := range readings {
		if r != nil {
			return false
		}
	}
	return true
}

// parseLogTime applies QuirkZeroDate: an unset BMC clock's
// "0000-00-00T00:00:00Z", or anything else that is not a time, is the zero
// time; the entry is kept.
func parseLogTime(s string) time.Time {
	s = strings.TrimSpace(s)
	if s == "" || strings.HasPrefix(s, "0000-") {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}
	}
	return t
}

// decodeLegacyPower decodes a legacy Power resource into its wire shape.
// It reports QuirkLegacyPowerWithoutPowerControl (the key absent or null,
// on which gofish's Power type fails) for the log; the resource decodes as
// any other. Its numbers take tolerant decoding's treatment: a finite
// number in a string is read as the number, anything else that is not a
// number is left out (where gofish would read "N/A" as 0 W).
func decodeLegacyPower(log *quirkLog, uri string, body []byte) (*wirePower, bool, error) {
	var p wirePower
	if err := log.decode(bmc.PartPower, uri, body, &p); err != nil {
		return nil, false, err
	}
	return &p, p.PowerControl == nil, nil
}

// expandRefused reports whether a collection read with $expand was
// refused as a request the service does not support (QuirkExpandRefused).
func expandRefused(err error) bool {
	var be *bmc.Error
	if !errors.As(err, &be) {
		return false
	}
	switch be.Status {
	case http.StatusBadRequest, http.StatusNotFound, http.StatusNotImplemented:
		return true
	}
	return false
}

// expandQuery is ProtocolFeaturesSupported.ExpandQuery.
type expandQuery struct {
	ExpandAll bool
	Levels    bool
	Links     bool
	NoLinks   bool
	MaxLevels int
}

// expandSupport is what the collector knows of one BMC's $expand: what the
// root advertises, and whether the BMC was seen to ignore it
// (QuirkExpandIgnored, remembered for the collector's lifetime).
type expandSupport struct {
	mu sync.Mutex
	// kind is the advertised expansion (".", "*" or "~"), empty for none;
	// maxLevels how deep it may go when $levels is supported, else 0.
	kind      string
	maxLevels int
	ignored   bool
	ignoredAt string
}

// configure reads the advertised support. Collections are read one level
// deep; a few reads ask for more where the service allows it
// (QuirkExpandOneLevel: many advertise MaxLevels 1 only).
func (e *expandSupport) configure(q expandQuery) {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case q.NoLinks:
		e.kind = "."
	case q.ExpandAll:
		e.kind = "*"
	case q.Links:
		e.kind = "~"
	default:
		e.kind = ""
	}
	e.maxLevels = 0
	if q.Levels && q.MaxLevels >= 1 {
		e.maxLevels = q.MaxLevels
	}
}

// query is the query string to add to a collection read, one level deep.
func (e *expandSupport) query() string { return e.queryLevels(1) }

// queryLevels is the query string for an expansion up to levels deep,
// capped at what the service advertises.
func (e *expandSupport) queryLevels(levels int) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case e.ignored || e.kind == "":
		return ""
	case e.maxLevels == 0:
		return "?$expand=" + e.kind
	}
	return fmt.Sprintf("?$expand=%s($levels=%d)", e.kind, min(levels, e.maxLevels))
}

func (e *expandSupport) markIgnored(uri string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.ignored {
		e.ignored, e.ignoredAt = true, uri
	}
}

// honoured reports whether $expand is in use.
func (e *expandSupport) honoured() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.kind != "" && !e.ignored
}
