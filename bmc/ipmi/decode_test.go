package ipmi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rackpulse/rackpulse/bmc"
)

// fullRecord builds a full sensor record (type 01h) as a BMC stores it.
func fullRecord(id uint16, number, entity, sensorType, unit uint8, m int, rexp int, name string) []byte {
	body := make([]byte, 43) // bytes 6..48 of the record
	body[0] = 0x20           // owner
	body[2] = number
	body[3] = entity
	body[4] = 1                // instance
	body[6] = 1 << 2           // thresholds readable
	body[7] = sensorType       // byte 13
	body[8] = 0x01             // threshold event/reading type
	body[13] = 0x38            // readable: UNC, UCR, UNR
	body[16] = unit            // base unit
	body[19] = uint8(m & 0xff) // M
	body[20] = uint8((m >> 8) & 0x03 << 6)
	body[24] = uint8(rexp&0x0f) << 4
	body[31], body[32], body[33] = 95, 90, 85 // UNR, UCR, UNC
	body[42] = 0xc0 | uint8(len(name))
	body = append(body, name...)
	hdr := append(putLE16(id), 0x51, sdrFullSensor, uint8(len(body)))
	return append(hdr, body...)
}

// compactRecord builds a compact sensor record (type 02h).
func compactRecord(id uint16, number, entity, sensorType uint8, name string) []byte {
	body := make([]byte, 27)
	body[0] = 0x20
	body[2] = number
	body[3] = entity
	body[4] = 1
	body[7] = sensorType
	body[8] = eventSensorSpecific
	body[26] = 0xc0 | uint8(len(name))
	body = append(body, name...)
	hdr := append(putLE16(id), 0x51, sdrCompactSensor, uint8(len(body)))
	return append(hdr, body...)
}

func TestParseSDRFullAndCompact(t *testing.T) {
	rec, err := parseSDR(fullRecord(7, 6, 0x07, sensorVoltage, unitVolts, 6, -2, "P12V"))
	if err != nil || rec == nil {
		t.Fatalf("parseSDR: %v, %v", rec, err)
	}
	if rec.Name != "P12V" || rec.Number != 6 || rec.M != 6 || rec.RExp != -2 || rec.ThresholdAccess != thresholdsReadable {
		t.Errorf("decoded %+v", rec)
	}
	if v := sensorValue(rec, 201); v == nil || *v != 12.06 {
		t.Errorf("201 x 6 x 10^-2 = %v, want 12.06", v)
	}
	th := thresholds(rec, thresholdSet{mask: uint8(rec.ReadingMask), raw: rec.SDRThresholds})
	if th.UpperWarning == nil || *th.UpperWarning != 5.1 || th.UpperCritical == nil || *th.UpperCritical != 5.4 || th.LowerWarning != nil {
		t.Errorf("thresholds from the SDR: %+v", th)
	}

	rec, err = parseSDR(compactRecord(12, 0x0c, entityMemoryDevice, sensorMemory, "DIMM A1"))
	if err != nil || rec == nil {
		t.Fatalf("parseSDR compact: %v, %v", rec, err)
	}
	if rec.analog() || rec.Name != "DIMM A1" || rec.SensorType != sensorMemory {
		t.Errorf("decoded %+v", rec)
	}
	states, health := discreteStates(rec, 1<<0|1<<6)
	if !reflect.DeepEqual(states, []string{"Correctable ECC", "Presence Detected"}) || health != bmc.HealthWarning {
		t.Errorf("states %v health %v", states, health)
	}

	// Records that are not sensors are skipped without error.
	if rec, err := parseSDR([]byte{1, 0, 0x51, 0x12, 0}); rec != nil || err != nil {
		t.Errorf("MC locator: %v, %v", rec, err)
	}
}

func TestSDRWalkSkipsMalformedRecord(t *testing.T) {
	good1 := fullRecord(1, 1, 0x03, sensorTemperature, unitDegC, 1, 0, "CPU1 Temp")
	bad := fullRecord(2, 2, 0x03, sensorTemperature, unitDegC, 1, 0, "CPU2 Temp")
	bad[4] = 60 // says 60 bytes follow; only 52 do
	truncatedName := fullRecord(3, 3, 0x07, sensorTemperature, unitDegC, 1, 0, "Board Temp")
	truncatedName = truncatedName[:len(truncatedName)-4]
	truncatedName[4] -= 4 // length consistent, ID string runs past the end
	good2 := compactRecord(4, 4, 0x0a, sensorPowerSupply, "PSU1 Status")
	repo := map[uint16][]byte{0: good1, 1: bad, 2: truncatedName, 3: good2}
	next := map[uint16]uint16{0: 1, 1: 2, 2: 3, 3: 0xffff}
	fetch := func(_ context.Context, id uint16) (uint16, []byte, error) {
		return next[id], repo[id], nil
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	cache, err := readSDRRepository(context.Background(), log, fetch)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range cache.records {
		names = append(names, r.Name)
	}
	if !reflect.DeepEqual(names, []string{"CPU1 Temp", "PSU1 Status"}) {
		t.Errorf("records read: %v, want the two good ones", names)
	}
	for _, id := range []string{"record_id=0x0001", "record_id=0x0002"} {
		if !strings.Contains(logs.String(), id) {
			t.Errorf("no warning naming %s in:\n%s", id, logs.String())
		}
	}

	// A read that fails ends the walk with an error naming the record.
	failing := func(_ context.Context, id uint16) (uint16, []byte, error) {
		if id == 1 {
			return 0, nil, errors.New("no answer")
		}
		return next[id], repo[id], nil
	}
	if _, err := readSDRRepository(context.Background(), log, failing); err == nil || !strings.Contains(err.Error(), "0x0001") {
		t.Errorf("failed read: %v", err)
	}
}

func TestNoNaNReachesASensor(t *testing.T) {
	rec, _ := parseSDR(fullRecord(1, 1, 0x07, sensorTemperature, unitDegC, 1, 0, "T"))
	cases := []struct {
		name   string
		mutate func(r *sdrRecord)
		raw    uint8
	}{
		{"ln of zero", func(r *sdrRecord) { r.Linearization = 0x01 }, 0},
		{"sqrt of negative", func(r *sdrRecord) { r.Linearization = 0x0a; r.AnalogFormat = 2 }, 0xf0},
		{"1/x of zero", func(r *sdrRecord) { r.Linearization = 0x07 }, 0},
		{"no analog reading", func(r *sdrRecord) { r.AnalogFormat = 3 }, 10},
		{"discrete sensor", func(r *sdrRecord) { r.EventType = eventSensorSpecific }, 10},
	}
	for _, tc := range cases {
		r := *rec
		tc.mutate(&r)
		if v := sensorValue(&r, tc.raw); v != nil {
			t.Errorf("%s: value %v, want none", tc.name, *v)
		}
	}
	// Signed formats.
	r := *rec
	r.AnalogFormat = 2
	if v := sensorValue(&r, 0xfb); v == nil || *v != -5 {
		t.Errorf("two's complement 0xfb = %v, want -5", v)
	}
	r.AnalogFormat = 1
	if v := sensorValue(&r, 0xfa); v == nil || *v != -5 {
		t.Errorf("one's complement 0xfa = %v, want -5", v)
	}
}

func TestReadingAbsentWhenNotScanningOrUnavailable(t *testing.T) {
	for _, tc := range []struct {
		b      []byte
		absent bool
	}{
		{[]byte{55, 0xc0, 0x00}, false},
		{[]byte{0, 0x80, 0x00}, true}, // scanning disabled
		{[]byte{0, 0xe0, 0x00}, true}, // reading unavailable
	} {
		r, err := parseReading(tc.b)
		if err != nil || r.absent() != tc.absent {
			t.Errorf("% x: absent=%v err=%v, want %v", tc.b, r.absent(), err, tc.absent)
		}
	}
	if h := thresholdHealth(1 << 4); h != bmc.HealthCritical {
		t.Errorf("above UCR: %v", h)
	}
	if h := thresholdHealth(1 << 3); h != bmc.HealthWarning {
		t.Errorf("above UNC: %v", h)
	}
}

// selBytes builds a standard SEL record.
func selBytes(id uint16, ts uint32, sensorType, sensorNum, dirType uint8, data ...uint8) []byte {
	b := append(putLE16(id), 0x02)
	b = append(b, byte(ts), byte(ts>>8), byte(ts>>16), byte(ts>>24))
	b = append(b, 0x20, 0x00, 0x04, sensorType, sensorNum, dirType)
	return append(b, data...)
}

func TestDecodeSELEvents(t *testing.T) {
	dimm, _ := parseSDR(compactRecord(12, 0x0c, entityMemoryDevice, sensorMemory, "DIMM A1 Status"))
	cpuStatus, _ := parseSDR(compactRecord(11, 0x0b, entityProcessor, sensorProcessor, "CPU1 Status"))
	cpuStatus.EntityInstance = 2
	psu, _ := parseSDR(compactRecord(14, 0x0e, entityPowerSupply, sensorPowerSupply, "PSU2 Status"))
	psu.EntityInstance = 2
	cpuTemp, _ := parseSDR(fullRecord(1, 1, entityProcessor, sensorTemperature, unitDegC, 1, 0, "CPU1 Temp"))
	const ts = 0x6553f100 // 2023-11-14
	at := time.Unix(ts, 0).UTC()

	cases := []struct {
		name string
		rec  []byte
		sdr  *sdrRecord
		want bmc.LogEntry
	}{
		{"correctable ECC on a DIMM sensor", selBytes(1, ts, 0x0c, 0x0c, 0x6f, 0x00, 0xff, 0xff), dimm,
			bmc.LogEntry{ID: "0x0001", Time: at, Severity: bmc.HealthWarning, MessageID: "IPMI.0C.6F.00",
				Message: "DIMM A1 Status: Correctable ECC asserted", Component: "DIMM", Subject: "DIMM A1", Source: "SEL"}},
		{"uncorrectable ECC, module in event data 3", selBytes(2, ts, 0x0c, 0x05, 0x6f, 0x31, 0xff, 0x03), nil,
			bmc.LogEntry{ID: "0x0002", Time: at, Severity: bmc.HealthCritical, MessageID: "IPMI.0C.6F.01",
				Message: "Memory #0x05: Uncorrectable ECC asserted", Component: "DIMM", Subject: "DIMM 3", Source: "SEL"}},
		{"memory device disabled, pre-init time", selBytes(3, 0x2482, 0x0c, 0x05, 0x6f, 0x04, 0xff, 0xff), nil,
			bmc.LogEntry{ID: "0x0003", Severity: bmc.HealthCritical, MessageID: "IPMI.0C.6F.04",
				Message: "Memory #0x05: Memory Device Disabled asserted", Component: "DIMM", Subject: "Memory #0x05", Source: "SEL"}},
		{"correctable ECC logging limit", selBytes(4, ts, 0x0c, 0x0c, 0x6f, 0x05, 0xff, 0xff), dimm,
			bmc.LogEntry{ID: "0x0004", Time: at, Severity: bmc.HealthWarning, MessageID: "IPMI.0C.6F.05",
				Message: "DIMM A1 Status: Correctable ECC logging limit reached asserted", Component: "DIMM", Subject: "DIMM A1", Source: "SEL"}},
		{"processor thermal trip", selBytes(5, ts, 0x07, 0x0b, 0x6f, 0x01, 0xff, 0xff), cpuStatus,
			bmc.LogEntry{ID: "0x0005", Time: at, Severity: bmc.HealthCritical, MessageID: "IPMI.07.6F.01",
				Message: "CPU1 Status: Thermal Trip asserted", Component: "CPU", Subject: "CPU2", Source: "SEL"}},
		{"processor throttled", selBytes(6, ts, 0x07, 0x0b, 0x6f, 0x0a, 0xff, 0xff), cpuStatus,
			bmc.LogEntry{ID: "0x0006", Time: at, Severity: bmc.HealthWarning, MessageID: "IPMI.07.6F.0A",
				Message: "CPU1 Status: Throttled asserted", Component: "CPU", Subject: "CPU2", Source: "SEL"}},
		{"PSU failure", selBytes(7, ts, 0x08, 0x0e, 0x6f, 0x01, 0xff, 0xff), psu,
			bmc.LogEntry{ID: "0x0007", Time: at, Severity: bmc.HealthCritical, MessageID: "IPMI.08.6F.01",
				Message: "PSU2 Status: Failure detected asserted", Component: "PSU", Subject: "2", Source: "SEL"}},
		{"PSU AC lost", selBytes(8, ts, 0x08, 0x0e, 0x6f, 0x03, 0xff, 0xff), psu,
			bmc.LogEntry{ID: "0x0008", Time: at, Severity: bmc.HealthCritical, MessageID: "IPMI.08.6F.03",
				Message: "PSU2 Status: Power Supply AC lost asserted", Component: "PSU", Subject: "2", Source: "SEL"}},
		{"PSU AC lost deasserted", selBytes(9, ts, 0x08, 0x0e, 0xef, 0x03, 0xff, 0xff), psu,
			bmc.LogEntry{ID: "0x0009", Time: at, Severity: bmc.HealthOK, MessageID: "IPMI.08.6F.03",
				Message: "PSU2 Status: Power Supply AC lost deasserted", Component: "PSU", Subject: "2", Source: "SEL"}},
		{"CPU temperature upper critical", selBytes(10, ts, 0x01, 0x01, 0x01, 0x59, 92, 90), cpuTemp,
			bmc.LogEntry{ID: "0x000a", Time: at, Severity: bmc.HealthCritical, MessageID: "IPMI.01.01.09",
				Message: "CPU1 Temp: Upper Critical going high asserted", Component: "CPU", Subject: "CPU1", Source: "SEL"}},
		{"other event kept, generic", selBytes(11, ts, 0x12, 0x30, 0x6f, 0x05, 0xff, 0xff), nil,
			bmc.LogEntry{ID: "0x000b", Time: at, MessageID: "IPMI.12.6F.05",
				Message: "Sensor type 0x12 #0x30: State 5 asserted", Source: "SEL"}},
		{"OEM record", append(append(putLE16(12), 0xe0), make([]byte, 13)...), nil,
			bmc.LogEntry{ID: "0x000c", MessageID: "IPMI.OEM.E0", Message: "OEM SEL record type 0xe0", Source: "SEL"}},
	}
	for _, tc := range cases {
		r, err := parseSELRecord(tc.rec)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := decodeEvent(r, tc.sdr); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.name, got, tc.want)
		}
	}
	if _, err := parseSELRecord(make([]byte, 10)); err == nil {
		t.Error("short SEL record decoded")
	}
}

func TestDCMIPowerReading(t *testing.T) {
	b := []byte{0xdc, 0x2c, 0x01, 0x10, 0x01, 0x40, 0x01, 0x30, 0x01, 0, 0, 0, 0, 0x60, 0xea, 0x00, 0x00, 0x40}
	p, err := parseDCMIPower(b)
	if err != nil {
		t.Fatal(err)
	}
	r, ok := p.reading()
	if !ok || r.Source != bmc.PowerFromDCMI || r.Watts != 300 || r.IntervalMin == nil || *r.IntervalMin != 1 {
		t.Errorf("reading %+v (interval %v)", r, r.IntervalMin)
	}
	b[17] = 0 // measurement not active
	p, _ = parseDCMIPower(b)
	if _, ok := p.reading(); ok {
		t.Error("inactive power measurement gave a reading")
	}
	b[0] = 0x00
	if _, err := parseDCMIPower(b); err == nil {
		t.Error("wrong group extension accepted")
	}
}

func TestSplitAddress(t *testing.T) {
	for in, want := range map[string]string{
		"10.0.0.5": "10.0.0.5:623", "10.0.0.5:6230": "10.0.0.5:6230", "[fe80::1]:624": "fe80::1:624",
		"bmc.example": "bmc.example:623", "fe80::1": "fe80::1:623",
	} {
		h, p, err := splitAddress(in)
		if got := fmt.Sprintf("%s:%d", h, p); err != nil || got != want {
			t.Errorf("%s: %s, %v; want %s", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "https://x/y", "h:0", "h:x"} {
		if _, _, err := splitAddress(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
