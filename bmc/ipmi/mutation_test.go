package ipmi

import (
	"fmt"
	"testing"

	"github.com/rackpulse/rackpulse/bmc"
)

// mutFullRecord builds a full sensor record (type 01h) with the given
// conversion factors and SDR thresholds, byte for byte as the IPMI 2.0
// spec (table 43-1) lays it out.
func mutFullRecord(m, b, rexp, bexp int, unr, ucr, unc, lnr, lcr, lnc uint8) []byte {
	rec := make([]byte, 48)
	rec[0], rec[1] = 0x09, 0x00 // record id
	rec[2] = 0x51               // SDR version
	rec[3] = sdrFullSensor
	rec[5] = 0x20 // owner
	rec[7] = 0x30 // sensor number
	rec[8] = 0x07 // entity: system board
	rec[9] = 1
	rec[11] = 1 << 2 // thresholds readable
	rec[12] = sensorVoltage
	rec[13] = 0x01 // threshold event/reading type
	rec[18] = 0x3f // all six thresholds readable
	rec[21] = unitVolts
	// M: byte 25 (index 24) its low 8 bits, byte 26 bits 7:6 its top 2.
	rec[24] = uint8(m & 0xff)
	rec[25] = uint8((m>>8)&0x03) << 6
	// B: byte 27 its low 8 bits, byte 28 bits 7:6 its top 2.
	rec[26] = uint8(b & 0xff)
	rec[27] = uint8((b>>8)&0x03) << 6
	// Byte 30: R exponent in bits 7:4, B exponent in bits 3:0.
	rec[29] = uint8(rexp&0x0f)<<4 | uint8(bexp&0x0f)
	// Bytes 37..42: UNR, UCR, UNC, LNR, LCR, LNC.
	rec[36], rec[37], rec[38], rec[39], rec[40], rec[41] = unr, ucr, unc, lnr, lcr, lnc
	name := "VBAT"
	rec[47] = 0xc0 | uint8(len(name))
	rec = append(rec, name...)
	rec[4] = uint8(len(rec) - 5)
	return rec
}

// Negative M and B (10-bit two's complement) and a negative B exponent
// (4-bit two's complement) decode as such: y = (M·x + B·10^Bexp)·10^Rexp.
func TestParseSDRSignedFactors(t *testing.T) {
	rec, err := parseSDR(mutFullRecord(-2, -30, 0, -1, 0, 0, 0, 0, 0, 0))
	if err != nil || rec == nil {
		t.Fatalf("parseSDR: %v, %v", rec, err)
	}
	if rec.M != -2 || rec.B != -30 || rec.BExp != -1 || rec.RExp != 0 {
		t.Fatalf("M %d B %d Bexp %d Rexp %d, want -2 -30 -1 0", rec.M, rec.B, rec.BExp, rec.RExp)
	}
	// (−2·10 + −30·10⁻¹)·10⁰ = −23
	if v := sensorValue(rec, 10); v == nil || *v != -23 {
		t.Errorf("raw 10 reads %v, want -23", v)
	}
	// The largest positive factors: M 511, B 511, Bexp 7, Rexp −8:
	// (511·2 + 511·10⁷)·10⁻⁸ = 51.10001022
	rec, err = parseSDR(mutFullRecord(511, 511, -8, 7, 0, 0, 0, 0, 0, 0))
	if err != nil || rec == nil {
		t.Fatalf("parseSDR: %v, %v", rec, err)
	}
	if rec.M != 511 || rec.B != 511 || rec.BExp != 7 || rec.RExp != -8 {
		t.Fatalf("M %d B %d Bexp %d Rexp %d, want 511 511 7 -8", rec.M, rec.B, rec.BExp, rec.RExp)
	}
	if v := sensorValue(rec, 2); v == nil || *v != 51.10001 {
		t.Errorf("raw 2 reads %v, want 51.10001", v)
	}
}

// The SDR's thresholds land in mask-bit order (LNC, LCR, LNR, UNC, UCR,
// UNR) from their record order (UNR first, LNC last).
func TestParseSDRThresholdOrder(t *testing.T) {
	rec, err := parseSDR(mutFullRecord(1, 0, 0, 0, 96, 95, 94, 13, 12, 11))
	if err != nil || rec == nil {
		t.Fatalf("parseSDR: %v, %v", rec, err)
	}
	if want := [6]uint8{11, 12, 13, 94, 95, 96}; rec.SDRThresholds != want {
		t.Errorf("SDR thresholds %v, want %v", rec.SDRThresholds, want)
	}
	th := thresholds(rec, sdrThresholds(rec))
	if th.LowerWarning == nil || *th.LowerWarning != 11 || th.LowerCritical == nil || *th.LowerCritical != 12 ||
		th.UpperWarning == nil || *th.UpperWarning != 94 || th.UpperCritical == nil || *th.UpperCritical != 95 {
		t.Errorf("thresholds %s, want LW 11, LC 12, UW 94, UC 95", fmtThresholdsMut(th))
	}
}

func fmtThresholdsMut(t bmc.Thresholds) string {
	f := func(p *float64) string {
		if p == nil {
			return "-"
		}
		return fmt.Sprintf("%g", *p)
	}
	return "LW " + f(t.LowerWarning) + " LC " + f(t.LowerCritical) + " UW " + f(t.UpperWarning) + " UC " + f(t.UpperCritical)
}

// Each linearization of the spec (table 43-1, byte 24) applied to
// y = x (M 1, B 0, exponents 0).
func TestConvertLinearizations(t *testing.T) {
	for _, tc := range []struct {
		name string
		lin  uint8
		raw  uint8
		want float64
	}{
		{"linear", 0x00, 42, 42},
		{"ln", 0x01, 100, 4.60517}, // ln 100 = 4.605170186
		{"log10", 0x02, 100, 2},
		{"log2", 0x03, 64, 6},
		{"e", 0x04, 2, 7.389056}, // e² = 7.389056099
		{"exp10", 0x05, 2, 100},
		{"exp2", 0x06, 5, 32},
		{"1/x", 0x07, 4, 0.25},
		{"sqr", 0x08, 3, 9},
		{"cube", 0x09, 3, 27},
		{"sqrt", 0x0a, 49, 7},
		{"cube root", 0x0b, 27, 3},
		{"non-linear 71h: factors as published", 0x71, 42, 42},
		{"non-linear 7Fh", 0x7f, 9, 9},
	} {
		rec := &sdrRecord{Type: sdrFullSensor, EventType: 0x01, BaseUnit: unitVolts, M: 1, Linearization: tc.lin}
		if v := sensorValue(rec, tc.raw); v == nil || *v != tc.want {
			got := "nil"
			if v != nil {
				got = fmt.Sprintf("%g", *v)
			}
			t.Errorf("%s: raw %d reads %s, want %s", tc.name, tc.raw, got, fmt.Sprintf("%g", tc.want))
		}
	}
}

// A percentage is kept as read, whatever base unit the record names.
func TestPercentageIsNotConvertedByItsBaseUnit(t *testing.T) {
	rec := &sdrRecord{Type: sdrFullSensor, EventType: 0x01, SensorType: sensorTemperature, BaseUnit: unitDegF, Percentage: true, M: 1}
	if v := sensorValue(rec, 50); v == nil || *v != 50 {
		t.Errorf("50%% reads %v, want 50", v)
	}
	if _, unit := sensorKind(rec); unit != bmc.UnitPercent {
		t.Errorf("unit %q, want %q", unit, bmc.UnitPercent)
	}
}

// Threshold status bits: LNC and UNC are warnings; LCR, LNR, UCR and UNR
// critical (IPMI 2.0 table 35-15, Get Sensor Reading byte 3).
func TestThresholdHealthEachBit(t *testing.T) {
	want := []bmc.Health{bmc.HealthWarning, bmc.HealthCritical, bmc.HealthCritical, bmc.HealthWarning, bmc.HealthCritical, bmc.HealthCritical}
	for bit, w := range want {
		if got := thresholdHealth(1 << bit); got != w {
			t.Errorf("status bit %d: %s, want %s", bit, got, w)
		}
	}
	if got := thresholdHealth(0); got != bmc.HealthOK {
		t.Errorf("no bit: %s, want OK", got)
	}
	if got := thresholdHealth(1<<0 | 1<<5); got != bmc.HealthCritical {
		t.Errorf("LNC and UNR: %s, want Critical", got)
	}
}

// Byte 4 of a Get Sensor Reading answer holds discrete states 8-14; its
// bit 7 is reserved and not a state.
func TestParseReadingIgnoresTheReservedStateBit(t *testing.T) {
	r, err := parseReading([]byte{0x10, 0xc0, 0x01, 0xff})
	if err != nil {
		t.Fatal(err)
	}
	if r.raw != 0x10 || !r.scanning || r.unavailable || r.states != 0x7f01 {
		t.Errorf("reading %+v, want raw 0x10, scanning, states 0x7f01", r)
	}
}

// A reading is read as its record says: an analog value with its
// threshold health; an analog reading that does not convert (ln of 0 here)
// has neither a value nor a health, whatever its threshold bits say; a
// threshold sensor without analog data has the bits' health only.
func TestInterpretTrustsThresholdBitsOnlyBesideAValue(t *testing.T) {
	upperCritical := reading{raw: 0, states: 1 << 4, hasStates: true}
	linear := &sdrRecord{Type: sdrFullSensor, EventType: 0x01, BaseUnit: unitVolts, M: 1}
	if v, _, h := interpret(linear, reading{raw: 12, states: 1 << 4}); v == nil || *v != 12 || h != bmc.HealthCritical {
		t.Errorf("analog 12 with UCR: value %v, health %q; want 12 and Critical", v, h)
	}
	logOfZero := &sdrRecord{Type: sdrFullSensor, EventType: 0x01, BaseUnit: unitVolts, M: 1, Linearization: 0x01}
	if v, _, h := interpret(logOfZero, upperCritical); v != nil || h != "" {
		t.Errorf("analog reading that does not convert, UCR set: value %v, health %q; want none and none", v, h)
	}
	noAnalog := &sdrRecord{Type: sdrFullSensor, EventType: 0x01, BaseUnit: unitVolts, AnalogFormat: 3}
	if v, _, h := interpret(noAnalog, upperCritical); v != nil || h != bmc.HealthCritical {
		t.Errorf("threshold sensor without analog data, UCR set: value %v, health %q; want none and Critical", v, h)
	}
}
