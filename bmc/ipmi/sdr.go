package ipmi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"time"
	"unicode"

	"github.com/rackpulse/rackpulse/bmc"
)

// SDR record types this package reads; others are skipped.
const (
	sdrFullSensor       = 0x01
	sdrCompactSensor    = 0x02
	sdrEntityAssoc      = 0x08
	sdrFRUDeviceLocator = 0x11
	sdrHeaderLen        = 5
)

// Threshold access support (SDR sensor capabilities bits 3:2).
const (
	thresholdsNone     = 0
	thresholdsReadable = 1
	thresholdsSettable = 2
	thresholdsFixed    = 3
)

// sdrRecord is one full or compact sensor record, decoded.
type sdrRecord struct {
	RecordID       uint16
	Type           uint8
	OwnerID        uint8
	OwnerLUN       uint8
	Number         uint8
	EntityID       uint8
	EntityInstance uint8
	SensorType     uint8
	EventType      uint8 // event/reading type code; 0x01 threshold, 0x6f sensor-specific
	// ThresholdAccess is the SDR's threshold access support.
	ThresholdAccess uint8
	// ReadingMask is the discrete reading mask (discrete sensors) or the
	// readable threshold mask (threshold sensors, bits 0-5: LNC, LCR, LNR,
	// UNC, UCR, UNR).
	ReadingMask uint16
	// Units.
	AnalogFormat uint8 // 0 unsigned, 1 one's complement, 2 two's complement, 3 none
	Percentage   bool
	BaseUnit     uint8
	// RateUnit (per µs ... per day) and ModifierUnit (base/modifier or
	// base×modifier) make the unit a compound one (°C per second): not
	// the base unit.
	RateUnit     uint8
	ModifierUnit uint8
	Name         string

	// Full records only: conversion factors and the SDR's thresholds.
	Linearization uint8
	M, B          int
	RExp, BExp    int
	SDRThresholds [6]uint8 // LNC, LCR, LNR, UNC, UCR, UNR raw, as the mask bits

	// From the repository's other records (see nameDIMMs): DIMM is the
	// slot label of the memory device the sensor sits on, as its FRU
	// device locator names it; Modules are the slot labels of the memory
	// devices the sensor's entity contains (entity association records),
	// in order: a memory event's data 3 counts them from 0.
	DIMM    string
	Modules []string
}

// entityKey is an entity: its id and instance.
type entityKey struct{ id, instance uint8 }

// fruLocator is a FRU Device Locator record (type 11h): the name the BMC
// gives a FRU entity, for DIMMs the slot's silkscreen label.
type fruLocator struct {
	entity entityKey
	name   string
}

// entityAssoc is an Entity Association record (type 08h): a container and
// the entities it holds, in order, ranges expanded.
type entityAssoc struct {
	container entityKey
	contained []entityKey
}

// parseFRULocator decodes a FRU Device Locator record; ok is false for a
// record too short to hold its name.
func parseFRULocator(b []byte) (fruLocator, bool) {
	// Bytes 13-14 the FRU entity, 16 the ID string's type/length.
	if len(b) < 16 {
		return fruLocator{}, false
	}
	name, err := decodeIDString(b[15], b[16:])
	if err != nil || name == "" {
		return fruLocator{}, false
	}
	return fruLocator{entity: entityKey{b[12], b[13] & 0x7f}, name: name}, true
}

// parseEntityAssoc decodes an Entity Association record: up to four
// contained entities, or two ranges when flags bit 7 is set.
func parseEntityAssoc(b []byte) (entityAssoc, bool) {
	if len(b) < 16 {
		return entityAssoc{}, false
	}
	a := entityAssoc{container: entityKey{b[5], b[6] & 0x7f}}
	pairs := b[8:16]
	if b[7]&0x80 == 0 {
		for i := 0; i < 8; i += 2 {
			if pairs[i] != 0 {
				a.contained = append(a.contained, entityKey{pairs[i], pairs[i+1] & 0x7f})
			}
		}
		return a, true
	}
	for i := 0; i < 8; i += 4 {
		id, first, last := pairs[i], pairs[i+1]&0x7f, pairs[i+3]&0x7f
		if id == 0 || pairs[i+2] != id || last < first {
			continue
		}
		for inst := first; ; inst++ {
			a.contained = append(a.contained, entityKey{id, inst})
			if inst == last {
				break
			}
		}
	}
	return a, true
}

// isThreshold reports whether the sensor reports a reading with threshold
// states (event/reading type 01h) rather than discrete states.
func (r *sdrRecord) isThreshold() bool { return r.EventType == 0x01 }

// analog reports whether a reading can be converted to a value: a full
// record with an analog data format.
func (r *sdrRecord) analog() bool {
	return r.Type == sdrFullSensor && r.AnalogFormat != 3 && r.isThreshold()
}

// convert turns a raw reading into a value with the record's factors:
// y = L[(M*x + B*10^Bexp) * 10^Rexp]. It reports false when the result is
// not a number (a linearization outside its domain, or a non-analog
// sensor), so that NaN never reaches a Snapshot.
func (r *sdrRecord) convert(raw uint8) (float64, bool) {
	if !r.analog() {
		return 0, false
	}
	var x float64
	switch r.AnalogFormat {
	case 0:
		x = float64(raw)
	case 1:
		if raw&0x80 != 0 {
			x = -float64(^raw & 0x7f)
		} else {
			x = float64(raw)
		}
	case 2:
		x = float64(int8(raw))
	}
	y := (float64(r.M)*x + float64(r.B)*math.Pow10(r.BExp)) * math.Pow10(r.RExp)
	switch r.Linearization & 0x7f {
	case 0x00:
	case 0x01:
		y = math.Log(y)
	case 0x02:
		y = math.Log10(y)
	case 0x03:
		y = math.Log2(y)
	case 0x04:
		y = math.Exp(y)
	case 0x05:
		y = math.Pow(10, y)
	case 0x06:
		y = math.Exp2(y)
	case 0x07:
		y = 1 / y
	case 0x08:
		y = y * y
	case 0x09:
		y = y * y * y
	case 0x0a:
		y = math.Sqrt(y)
	case 0x0b:
		y = math.Cbrt(y)
	default:
		// 70h-7Fh: non-linear, the factors in the SDR are the ones the BMC
		// publishes for its whole range; used as they are.
	}
	if math.IsNaN(y) || math.IsInf(y, 0) {
		return 0, false
	}
	return y, true
}

// signExtend reads the low bits of v as a two's complement number.
func signExtend(v int, bits uint) int {
	shift := 64 - bits
	return int(int64(v)<<shift) >> shift
}

// parseSDR decodes one SDR record (header included). It returns
// (nil, nil) for record types it does not read, and an error for a sensor
// record that is too short or inconsistent.
func parseSDR(b []byte) (rec *sdrRecord, err error) {
	defer func() {
		if r := recover(); r != nil {
			rec, err = nil, fmt.Errorf("decoding SDR record: %v", r)
		}
	}()
	if len(b) < sdrHeaderLen {
		return nil, fmt.Errorf("SDR record of %d bytes is shorter than its header", len(b))
	}
	id := le16(b[0:2])
	typ := b[3]
	length := int(b[4])
	if typ != sdrFullSensor && typ != sdrCompactSensor {
		return nil, nil
	}
	if len(b) < sdrHeaderLen+length {
		return nil, fmt.Errorf("SDR record 0x%04x: header says %d bytes, got %d", id, length, len(b)-sdrHeaderLen)
	}
	b = b[:sdrHeaderLen+length]
	// Byte offsets below are the spec's 1-based byte numbers minus one.
	minLen := 48 // full: ID string type/length at byte 48
	if typ == sdrCompactSensor {
		minLen = 32
	}
	if len(b) < minLen {
		return nil, fmt.Errorf("SDR record 0x%04x (type 0x%02x) is %d bytes, want at least %d", id, typ, len(b), minLen)
	}
	rec = &sdrRecord{
		RecordID:        id,
		Type:            typ,
		OwnerID:         b[5],
		OwnerLUN:        b[6] & 0x03,
		Number:          b[7],
		EntityID:        b[8],
		EntityInstance:  b[9] & 0x7f,
		ThresholdAccess: (b[11] >> 2) & 0x03,
		SensorType:      b[12],
		EventType:       b[13] & 0x7f,
		AnalogFormat:    b[20] >> 6,
		RateUnit:        (b[20] >> 3) & 0x07,
		ModifierUnit:    (b[20] >> 1) & 0x03,
		Percentage:      b[20]&0x01 != 0,
		BaseUnit:        b[21],
	}
	if rec.isThreshold() {
		rec.ReadingMask = uint16(b[18]) & 0x3f // readable thresholds
	} else {
		rec.ReadingMask = le16(b[18:20]) & 0x7fff
	}
	nameAt := 47
	if typ == sdrCompactSensor {
		nameAt = 31
		rec.AnalogFormat = 3
	} else {
		rec.Linearization = b[23] & 0x7f
		rec.M = signExtend(int(b[24])|int(b[25]>>6)<<8, 10)
		rec.B = signExtend(int(b[26])|int(b[27]>>6)<<8, 10)
		rec.RExp = signExtend(int(b[29]>>4), 4)
		rec.BExp = signExtend(int(b[29]&0x0f), 4)
		// Thresholds: UNR, UCR, UNC, LNR, LCR, LNC at bytes 37..42.
		rec.SDRThresholds = [6]uint8{b[41], b[40], b[39], b[38], b[37], b[36]}
	}
	name, err := decodeIDString(b[nameAt], b[nameAt+1:])
	if err != nil {
		return nil, fmt.Errorf("SDR record 0x%04x: %w", id, err)
	}
	rec.Name = name
	if rec.Name == "" {
		rec.Name = fmt.Sprintf("Sensor 0x%02x", rec.Number)
	}
	return rec, nil
}

// decodeIDString decodes an SDR ID string from its type/length byte.
func decodeIDString(tl byte, rest []byte) (string, error) {
	n := int(tl & 0x1f)
	if n > len(rest) {
		return "", fmt.Errorf("ID string of %d bytes runs past the record (%d left)", n, len(rest))
	}
	raw := rest[:n]
	switch tl >> 6 {
	case 3: // 8-bit ASCII + Latin-1
		return cleanName(string(latin1(raw))), nil
	case 2: // 6-bit packed ASCII
		return cleanName(unpack6bit(raw)), nil
	case 1: // BCD plus
		const bcd = "0123456789 -.:,_"
		var sb strings.Builder
		for _, c := range raw {
			sb.WriteByte(bcd[c>>4])
			sb.WriteByte(bcd[c&0x0f])
		}
		return cleanName(sb.String()), nil
	default: // unicode: not used by BMCs in practice; keep printable bytes
		return cleanName(string(latin1(raw))), nil
	}
}

func latin1(b []byte) []rune {
	r := make([]rune, 0, len(b))
	for _, c := range b {
		r = append(r, rune(c))
	}
	return r
}

func unpack6bit(b []byte) string {
	var sb strings.Builder
	var acc, nbits uint
	for _, c := range b {
		acc |= uint(c) << nbits
		nbits += 8
		for nbits >= 6 {
			sb.WriteByte(byte(acc&0x3f) + 0x20)
			acc >>= 6
			nbits -= 6
		}
	}
	return sb.String()
}

func cleanName(s string) string {
	s = strings.TrimRight(s, "\x00")
	s = strings.Map(func(r rune) rune {
		if !unicode.IsPrint(r) {
			return -1
		}
		return r
	}, s)
	return strings.TrimSpace(s)
}

// sdrCache is the SDR repository as last read, with the repository's
// change timestamps.
type sdrCache struct {
	valid    bool
	addition uint32
	erase    uint32
	records  []*sdrRecord
	// bySensor finds a record by owner and sensor number (for SEL events).
	bySensor map[[2]uint8]*sdrRecord
	// dimms are the DIMM slots the BMC names (FRU device locators on
	// memory device entities), in the repository's order.
	dimms []fruLocator
	assoc []entityAssoc
}

// nameDIMMs gives each sensor record the slot labels of its DIMMs (DIMM,
// Modules) from the FRU device locators and entity associations read.
// A memory device without a locator is "DIMM<instance>", as a memory
// sensor's entity names it.
func (c *sdrCache) nameDIMMs() {
	names := map[entityKey]string{}
	for _, l := range c.dimms {
		names[l.entity] = l.name
	}
	name := func(e entityKey) string {
		if n, ok := names[e]; ok {
			return n
		}
		return fmt.Sprintf("DIMM%d", e.instance)
	}
	for _, rec := range c.records {
		e := entityKey{rec.EntityID, rec.EntityInstance}
		rec.DIMM, rec.Modules = names[e], nil
		for _, a := range c.assoc {
			if a.container != e {
				continue
			}
			for _, m := range a.contained {
				if m.id == entityMemoryDevice {
					rec.Modules = append(rec.Modules, name(m))
				}
			}
		}
	}
}

func (c *sdrCache) lookup(owner, number uint8) *sdrRecord {
	if c == nil || c.bySensor == nil {
		return nil
	}
	return c.bySensor[[2]uint8{owner, number}]
}

// sdrRepoInfo is the part of Get SDR Repository Info the cache keys on.
type sdrRepoInfo struct {
	count    uint16
	addition uint32
	erase    uint32
}

func parseSDRRepoInfo(b []byte) (sdrRepoInfo, error) {
	if len(b) < 13 {
		return sdrRepoInfo{}, fmt.Errorf("answer to Get SDR Repository Info of %d bytes, want 14", len(b))
	}
	return sdrRepoInfo{count: le16(b[1:3]), addition: le32(b[5:9]), erase: le32(b[9:13])}, nil
}

// refreshSDR reads Get SDR Repository Info and, when the repository
// changed since the cache was filled (or there is no cache), reads every
// record again, one by one. It reports whether the records were read.
func (c *Collector) refreshSDR(ctx context.Context) (bool, error) {
	b, err := c.sess.exchange(ctx, cmdGetSDRRepoInfo, nil)
	if err != nil {
		return false, fmt.Errorf("reading SDR repository info: %w", err)
	}
	info, err := parseSDRRepoInfo(b)
	if err != nil {
		return false, bmc.NewError(bmc.ErrKindMalformed, cmdGetSDRRepoInfo.Name, err)
	}
	if c.sdr.valid && c.sdr.addition == info.addition && c.sdr.erase == info.erase {
		return false, nil
	}
	fresh, err := readSDRRepository(ctx, c.log, c.getSDR)
	if err != nil {
		return false, err
	}
	fresh.addition, fresh.erase, fresh.valid = info.addition, info.erase, true
	c.sdr = fresh
	// New records: their thresholds are read again in this poll.
	c.thresholds.readAt = time.Time{}
	c.log.Debug("SDR repository read", "records", len(fresh.records))
	return true, nil
}

// sdrFetcher reads one SDR record: the next record's id and the bytes.
type sdrFetcher func(ctx context.Context, id uint16) (next uint16, data []byte, err error)

// readSDRRepository walks the repository record by record (go-ipmi's
// GetSDRs and GetSensors fail as a whole on one bad record). A record that
// does not decode is skipped with a warning naming its id; a failed read
// ends the walk.
func readSDRRepository(ctx context.Context, log *slog.Logger, fetch sdrFetcher) (*sdrCache, error) {
	cache := &sdrCache{bySensor: map[[2]uint8]*sdrRecord{}}
	seen := map[uint16]bool{}
	id := firstRecordID
	for id != lastRecordID {
		if seen[id] {
			log.Warn("SDR repository links back to a record already read; stopping", "record_id", fmt.Sprintf("0x%04x", id))
			break
		}
		seen[id] = true
		next, data, err := fetch(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("reading SDR record 0x%04x: %w", id, err)
		}
		rec, perr := parseSDR(data)
		switch {
		case perr != nil:
			log.Warn("skipping SDR record that does not decode", "record_id", fmt.Sprintf("0x%04x", id), "err", perr)
		case rec != nil:
			cache.records = append(cache.records, rec)
			cache.bySensor[[2]uint8{rec.OwnerID, rec.Number}] = rec
		case len(data) > 3 && data[3] == sdrFRUDeviceLocator:
			if l, ok := parseFRULocator(data); ok && l.entity.id == entityMemoryDevice {
				cache.dimms = append(cache.dimms, l)
			}
		case len(data) > 3 && data[3] == sdrEntityAssoc:
			if a, ok := parseEntityAssoc(data); ok {
				cache.assoc = append(cache.assoc, a)
			}
		}
		if next == id {
			break
		}
		id = next
	}
	cache.nameDIMMs()
	return cache, nil
}

// getSDR reads one record: whole when the BMC returns it in one answer,
// else in 16-byte pieces under a reservation.
func (c *Collector) getSDR(ctx context.Context, id uint16) (next uint16, data []byte, err error) {
	req := func(resv uint16, offset, n uint8) []byte {
		b := append(putLE16(resv), putLE16(id)...)
		return append(b, offset, n)
	}
	b, err := c.sess.exchange(ctx, cmdGetSDR, req(0, 0, 0xff))
	if err == nil {
		if len(b) < 2 {
			return 0, nil, bmc.NewError(bmc.ErrKindMalformed, cmdGetSDR.Name, errors.New("answer without next record id"))
		}
		return le16(b[0:2]), b[2:], nil
	}
	cc, ok := completionCode(err)
	if !ok || (cc != completionCannotReturn && cc != 0xff && cc != completionInvalidData) {
		return 0, nil, err
	}
	// Partial reads: header first, then the body in pieces.
	resv, err := c.reserveSDR(ctx)
	if err != nil {
		return 0, nil, err
	}
	b, err = c.sess.exchange(ctx, cmdGetSDR, req(resv, 0, sdrHeaderLen))
	if err != nil {
		return 0, nil, err
	}
	if len(b) < 2+sdrHeaderLen {
		return 0, nil, bmc.NewError(bmc.ErrKindMalformed, cmdGetSDR.Name, errors.New("short SDR header"))
	}
	next = le16(b[0:2])
	data = append([]byte(nil), b[2:2+sdrHeaderLen]...)
	total := sdrHeaderLen + int(data[4])
	for len(data) < total {
		n := min(16, total-len(data))
		b, err = c.sess.exchange(ctx, cmdGetSDR, req(resv, uint8(len(data)), uint8(n)))
		if cc, ok := completionCode(err); ok && cc == completionResCanceled {
			if resv, err = c.reserveSDR(ctx); err != nil {
				return 0, nil, err
			}
			continue
		}
		if err != nil {
			return 0, nil, err
		}
		if len(b) <= 2 {
			return 0, nil, bmc.NewError(bmc.ErrKindMalformed, cmdGetSDR.Name, errors.New("empty SDR piece"))
		}
		data = append(data, b[2:]...)
	}
	return next, data, nil
}

func (c *Collector) reserveSDR(ctx context.Context) (uint16, error) {
	b, err := c.sess.exchange(ctx, cmdReserveSDRRepo, nil)
	if err != nil {
		return 0, err
	}
	if len(b) < 2 {
		return 0, bmc.NewError(bmc.ErrKindMalformed, cmdReserveSDRRepo.Name, errors.New("short reservation id"))
	}
	return le16(b[0:2]), nil
}
