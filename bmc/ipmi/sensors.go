package ipmi

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/rackpulse/rackpulse/bmc"
)

// Base unit codes (IPMI 2.0 table 43-15) with a model unit.
const (
	unitDegC  = 1
	unitDegF  = 2
	unitDegK  = 3
	unitVolts = 4
	unitAmps  = 5
	unitWatts = 6
	unitRPM   = 18
	unitHz    = 19
)

// reading is one Get Sensor Reading answer, decoded.
type reading struct {
	raw         uint8
	scanning    bool
	unavailable bool
	// threshold status bits (0 LNC, 1 LCR, 2 LNR, 3 UNC, 4 UCR, 5 UNR) or
	// discrete states 0-14.
	states    uint16
	hasStates bool
}

func parseReading(b []byte) (reading, error) {
	if len(b) < 2 {
		return reading{}, fmt.Errorf("answer to Get Sensor Reading of %d bytes, want at least 2", len(b))
	}
	r := reading{raw: b[0], scanning: b[1]&0x40 != 0, unavailable: b[1]&0x20 != 0}
	if len(b) >= 3 {
		r.states = uint16(b[2])
		r.hasStates = true
	}
	if len(b) >= 4 {
		r.states |= uint16(b[3]&0x7f) << 8
	}
	return r, nil
}

// absent reports whether the BMC gave no usable reading.
func (r reading) absent() bool { return !r.scanning || r.unavailable }

// compoundUnit reports whether a record's unit is a rate or a product or
// quotient of two units (°C per second, W per hour): not a model unit.
func compoundUnit(rec *sdrRecord) bool { return rec.RateUnit != 0 || rec.ModifierUnit != 0 }

// sensorKind maps a record to the model's kind and unit. A sensor whose
// unit is compound (a rate of temperature change) is not the quantity its
// base unit names and is kept as "other", without a unit.
func sensorKind(rec *sdrRecord) (bmc.SensorKind, string) {
	if rec.analog() {
		if compoundUnit(rec) {
			return bmc.KindOther, ""
		}
		if rec.Percentage {
			return kindForType(rec.SensorType), bmc.UnitPercent
		}
		switch rec.BaseUnit {
		case unitDegC, unitDegF, unitDegK:
			return bmc.KindTemperature, bmc.UnitCelsius
		case unitVolts:
			return bmc.KindVoltage, bmc.UnitVolt
		case unitAmps:
			return bmc.KindCurrent, bmc.UnitAmpere
		case unitWatts:
			return bmc.KindPower, bmc.UnitWatt
		case unitRPM:
			return bmc.KindFan, bmc.UnitRPM
		case unitHz:
			return bmc.KindFrequency, bmc.UnitHertz
		}
		return kindForType(rec.SensorType), ""
	}
	return kindForType(rec.SensorType), ""
}

func kindForType(t uint8) bmc.SensorKind {
	switch t {
	case sensorTemperature:
		return bmc.KindTemperature
	case sensorVoltage:
		return bmc.KindVoltage
	case sensorCurrent:
		return bmc.KindCurrent
	case sensorFan:
		return bmc.KindFan
	}
	return bmc.KindOther
}

// toUnit converts a value in the record's base unit to the model's unit:
// temperatures in degrees Fahrenheit and kelvins to degrees Celsius.
func toUnit(rec *sdrRecord, v float64) float64 {
	if compoundUnit(rec) || rec.Percentage {
		return v
	}
	switch rec.BaseUnit {
	case unitDegF:
		return (v - 32) * 5 / 9
	case unitDegK:
		return v - 273.15
	}
	return v
}

// sensorValue converts raw through the record, guarding against NaN and
// infinities: a value that is not a number is no value.
func sensorValue(rec *sdrRecord, raw uint8) *float64 {
	v, ok := rec.convert(raw)
	if !ok {
		return nil
	}
	v = toUnit(rec, v)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	v = roundTo(v, 6)
	return &v
}

// roundTo rounds to n decimals, removing float noise such as
// 12.059999999999999 from 201 x 0.06.
func roundTo(v float64, n int) float64 {
	p := math.Pow10(n)
	return math.Round(v*p) / p
}

// thresholds converts a record's thresholds to the model's four: warning
// is the non-critical threshold, critical the critical one, else the
// non-recoverable one.
func thresholds(rec *sdrRecord, set thresholdSet) bmc.Thresholds {
	val := func(i int) *float64 {
		if set.mask&(1<<i) == 0 {
			return nil
		}
		return sensorValue(rec, set.raw[i])
	}
	t := bmc.Thresholds{LowerWarning: val(0), LowerCritical: val(1), UpperWarning: val(3), UpperCritical: val(4)}
	if t.LowerCritical == nil {
		t.LowerCritical = val(2)
	}
	if t.UpperCritical == nil {
		t.UpperCritical = val(5)
	}
	return t
}

// thresholdHealth maps the threshold status bits of a reading.
func thresholdHealth(status uint16) bmc.Health {
	switch {
	case status&0b110110 != 0: // LCR, LNR, UCR, UNR
		return bmc.HealthCritical
	case status&0b001001 != 0: // LNC, UNC
		return bmc.HealthWarning
	}
	return bmc.HealthOK
}

// discreteStates names the asserted states of a discrete reading and the
// worst health among them.
func discreteStates(rec *sdrRecord, states uint16) ([]string, bmc.Health) {
	names := []string{}
	health := bmc.HealthOK
	for off := uint8(0); off < 15; off++ {
		if states&(1<<off) == 0 {
			continue
		}
		st := lookupState(rec.SensorType, rec.EventType, off)
		names = append(names, st.name)
		health = health.Worse(st.health)
	}
	return names, health
}

// readSensors reads every cached sensor. A sensor the BMC says is not
// there (completion code) is absent; a failed exchange ends the part.
func (c *Collector) readSensors(ctx context.Context) ([]bmc.Sensor, []sensorReading, error) {
	out := make([]bmc.Sensor, 0, len(c.sdr.records))
	rs := make([]sensorReading, 0, len(c.sdr.records))
	for _, rec := range c.sdr.records {
		if err := ctx.Err(); err != nil {
			return out, rs, classify("sensors", err)
		}
		s := bmc.Sensor{
			Name:    rec.Name,
			Context: sensorContext(rec),
			Chassis: entityName(rec.EntityID, rec.EntityInstance),
			Source:  fmt.Sprintf("sensor 0x%02x (SDR 0x%04x)", rec.Number, rec.RecordID),
		}
		s.Kind, s.Unit = sensorKind(rec)
		if set, ok := c.thresholdsOf(rec); ok {
			s.Thresholds = thresholds(rec, set)
		}
		b, err := c.sess.exchangeTo(ctx, cmdGetSensorReading, []byte{rec.Number}, rec.OwnerID, rec.OwnerLUN)
		var rd reading
		if err == nil {
			rd, err = parseReading(b)
			if err != nil {
				c.log.Debug("sensor reading does not decode", "sensor", rec.Name, "err", err)
			}
		} else if _, answered := completionCode(err); answered {
			c.log.Debug("sensor has no reading", "sensor", rec.Name, "err", err)
		} else {
			return out, rs, fmt.Errorf("reading sensor %s: %w", rec.Name, err)
		}
		if err == nil && !rd.absent() {
			s.Value, s.States, s.Health = interpret(rec, rd)
		}
		out = append(out, s)
		rs = append(rs, sensorReading{rec: rec, sensor: len(out) - 1, reading: rd, ok: err == nil && !rd.absent()})
	}
	return out, rs, nil
}

// interpret reads a present reading as its record says: an analog sensor's
// value, with the health its threshold bits give only when the value
// converts (bits beside a value that cannot be read are not trusted); a
// threshold sensor's health; a discrete sensor's states.
func interpret(rec *sdrRecord, rd reading) (value *float64, states []string, health bmc.Health) {
	switch {
	case rec.analog():
		if value = sensorValue(rec, rd.raw); value != nil {
			health = thresholdHealth(rd.states)
		}
		return value, nil, health
	case rec.isThreshold():
		return nil, nil, thresholdHealth(rd.states)
	}
	states, health = discreteStates(rec, rd.states)
	return nil, states, health
}

// sensorReading ties a snapshot sensor to its record and raw reading, for
// building CPUs, DIMMs, PSUs and drives.
type sensorReading struct {
	rec     *sdrRecord
	sensor  int
	reading reading
	ok      bool
}

// sensorContext is the entity's context, refined by the name where the
// entity says nothing (inlet and exhaust sensors on a system board).
func sensorContext(rec *sdrRecord) string {
	ctx := entityContext(rec.EntityID)
	name := strings.ToLower(rec.Name)
	switch {
	case strings.Contains(name, "inlet") || strings.Contains(name, "ambient"):
		if rec.SensorType == sensorTemperature {
			return bmc.ContextIntake
		}
	case strings.Contains(name, "exhaust") || strings.Contains(name, "outlet"):
		if rec.SensorType == sensorTemperature {
			return bmc.ContextExhaust
		}
	}
	return ctx
}
