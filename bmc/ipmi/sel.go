package ipmi

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rackpulse/rackpulse/bmc"
)

// preInitLimit: SEL timestamps below it count seconds since the BMC
// started (its clock was not set), not since 1970 (IPMI 2.0 §37.1).
const preInitLimit = 0x20000000

// selInfo is the part of Get SEL Info the cursor uses.
type selInfo struct {
	entries  uint16
	addition uint32
	erase    uint32
}

func parseSELInfo(b []byte) (selInfo, error) {
	if len(b) < 13 {
		return selInfo{}, fmt.Errorf("answer to Get SEL Info of %d bytes, want 14", len(b))
	}
	return selInfo{entries: le16(b[1:3]), addition: le32(b[5:9]), erase: le32(b[9:13])}, nil
}

// selRecord is one SEL record, decoded.
type selRecord struct {
	ID         uint16
	Type       uint8
	Timestamp  uint32
	Generator  uint16
	SensorType uint8
	SensorNum  uint8
	Deassert   bool
	EventType  uint8
	Data       [3]uint8
}

func parseSELRecord(b []byte) (selRecord, error) {
	if len(b) < 16 {
		return selRecord{}, fmt.Errorf("SEL record of %d bytes, want 16", len(b))
	}
	r := selRecord{ID: le16(b[0:2]), Type: b[2]}
	if r.Type < 0xe0 {
		r.Timestamp = le32(b[3:7])
	}
	if r.Type == 0x02 {
		r.Generator = le16(b[7:9])
		r.SensorType = b[10]
		r.SensorNum = b[11]
		r.Deassert = b[12]&0x80 != 0
		r.EventType = b[12] & 0x7f
		copy(r.Data[:], b[13:16])
	}
	return r, nil
}

// selTime converts a SEL timestamp; pre-init and unspecified ones are the
// zero time.
func selTime(ts uint32) time.Time {
	if ts < preInitLimit || ts == 0xffffffff {
		return time.Time{}
	}
	return time.Unix(int64(ts), 0).UTC()
}

// decodeEvent turns a SEL record into a log entry. rec is the SDR of the
// sensor that logged it, when known.
func decodeEvent(r selRecord, rec *sdrRecord) bmc.LogEntry {
	e := bmc.LogEntry{ID: fmt.Sprintf("0x%04x", r.ID), Time: selTime(r.Timestamp), Source: "SEL"}
	if r.Type != 0x02 {
		e.MessageID = fmt.Sprintf("IPMI.OEM.%02X", r.Type)
		e.Message = fmt.Sprintf("OEM SEL record type 0x%02x", r.Type)
		return e
	}
	offset := r.Data[0] & 0x0f
	st := lookupState(r.SensorType, r.EventType, offset)
	sensor := fmt.Sprintf("%s #0x%02x", sensorTypeName(r.SensorType), r.SensorNum)
	if rec != nil {
		sensor = rec.Name
	}
	dir := "asserted"
	if r.Deassert {
		dir = "deasserted"
	}
	e.MessageID = fmt.Sprintf("IPMI.%02X.%02X.%02X", r.SensorType, r.EventType, offset)
	e.Message = fmt.Sprintf("%s: %s %s", sensor, st.name, dir)
	e.Severity = st.health
	if r.Deassert && st.health != bmc.HealthUnknown {
		e.Severity = bmc.HealthOK
	}

	switch r.SensorType {
	case sensorMemory:
		e.Component = "DIMM"
		e.Subject, _ = eventDIMM(r, rec)
	case sensorProcessor:
		e.Component = "CPU"
		e.Subject = eventCPU(rec, sensor)
	case sensorPowerSupply:
		e.Component = "PSU"
		e.Subject = eventPSU(rec, sensor)
	case sensorFan:
		e.Component, e.Subject = "Fan", sensor
	case sensorDriveSlot:
		// The drive's bay, as the Snapshot's Drives name it.
		e.Component, e.Subject = "Drive", strings.TrimSpace(partSuffix.ReplaceAllString(sensor, ""))
	case sensorTemperature:
		if rec != nil && isProcessorEntity(rec.EntityID) {
			e.Component, e.Subject = "CPU", fmt.Sprintf("CPU%d", rec.EntityInstance)
		}
	}
	return e
}

// dimmNaming says how a memory event names its DIMM.
type dimmNaming int

const (
	dimmUnnamed     dimmNaming = iota // no DIMM: the sensor, or its number
	dimmBySensor                      // the sensor is named for its DIMM ("DIMM A1")
	dimmByEventData                   // event data 3: the module of a bank sensor
	dimmByEntity                      // the sensor sits on a memory device entity
)

// eventDIMM names the DIMM of a memory event: a sensor on a memory device
// the SDR names, or whose name names its module ("DIMM A1 Status"), gives
// that slot; otherwise event data 3 carries the module number, relative
// to the sensor's entity, when event data 1 says so (bits 5:4 = 11b): the
// slot of the n-th memory device the entity holds (its entity association
// records, named by their FRU device locators), else "<sensor> DIMM n";
// otherwise a sensor on a memory device entity names it by instance. The
// module number comes before the entity: a sensor covering a bank of
// modules sits on one memory device entity on some BMCs, and only the
// event says which module failed.
func eventDIMM(r selRecord, rec *sdrRecord) (string, dimmNaming) {
	if rec != nil && (rec.DIMM != "" || strings.Contains(strings.ToUpper(rec.Name), "DIMM")) && len(rec.Modules) == 0 {
		return dimmSlot(rec), dimmBySensor
	}
	if r.Data[0]&0x30 == 0x30 && r.Data[2] != 0xff {
		switch n := int(r.Data[2]); {
		case rec != nil && n < len(rec.Modules):
			return rec.Modules[n], dimmByEventData
		case rec != nil:
			return fmt.Sprintf("%s DIMM %d", rec.Name, n), dimmByEventData
		}
		return fmt.Sprintf("DIMM %d", r.Data[2]), dimmByEventData
	}
	if rec != nil && namesDIMM(rec) {
		return dimmSlot(rec), dimmByEntity
	}
	if rec != nil {
		return rec.Name, dimmUnnamed
	}
	return fmt.Sprintf("Memory #0x%02x", r.SensorNum), dimmUnnamed
}

func eventCPU(rec *sdrRecord, sensor string) string {
	if rec != nil && isProcessorEntity(rec.EntityID) {
		return fmt.Sprintf("CPU%d", rec.EntityInstance)
	}
	return sensor
}

func eventPSU(rec *sdrRecord, sensor string) string {
	if rec != nil && rec.EntityID == entityPowerSupply {
		return fmt.Sprintf("%d", rec.EntityInstance)
	}
	return sensor
}

func sensorTypeName(t uint8) string {
	switch t {
	case sensorTemperature:
		return "Temperature"
	case sensorVoltage:
		return "Voltage"
	case sensorCurrent:
		return "Current"
	case sensorFan:
		return "Fan"
	case 0x05:
		return "Physical Security"
	case sensorProcessor:
		return "Processor"
	case sensorPowerSupply:
		return "Power Supply"
	case sensorPowerUnit:
		return "Power Unit"
	case sensorMemory:
		return "Memory"
	case sensorDriveSlot:
		return "Drive Slot"
	}
	return fmt.Sprintf("Sensor type 0x%02x", t)
}

// selPlan is what one SEL read does, decided from the cursor and Get SEL
// Info.
type selPlan int

const (
	// selRecordEnd: the first read ever: record where the SEL ends and
	// report nothing (an old SEL is not news).
	selRecordEnd selPlan = iota
	// selUnchanged: nothing was added since the last read.
	selUnchanged
	// selFromStart: read every record (the SEL was cleared or empty, or a
	// person asked for the recent log on a first read).
	selFromStart
	// selResume: read on after the last record read.
	selResume
)

// planSELRead decides a read. A cursor left by a read cut short (Partial)
// is read on from whatever Get SEL Info says: its counters were not
// brought up to date, and the records after its last one are still to
// come.
func planSELRead(cur selCursor, info selInfo, recentLogs int) selPlan {
	switch {
	case !cur.Valid && recentLogs > 0:
		return selFromStart
	case !cur.Valid:
		return selRecordEnd
	case cur.Erase != info.erase:
		return selFromStart
	case !cur.Partial && cur.Addition == info.addition && cur.Entries == info.entries:
		// Nothing added. (The count as well: the timestamp has a one-second
		// resolution, and a record added in the second of the last read
		// leaves it unchanged.)
		return selUnchanged
	case cur.Empty:
		return selFromStart
	}
	return selResume
}

// selRead is one read's progress: the cursor it leaves, built up record by
// record, with the per-DIMM error counts of the records read.
type selRead struct {
	next selCursor
	// advanced: a record past the starting position was read.
	advanced bool
}

// startSELRead begins a read from cur. A cleared SEL (its erase timestamp
// changed) starts the position and the DIMM error counts afresh; the
// counted DIMMs stay, at zero.
func startSELRead(cur selCursor, info selInfo, now time.Time) *selRead {
	next := cur.clone()
	next.Valid, next.Updated = true, now
	if cur.Valid && cur.Erase != info.erase {
		next.Erase = info.erase
		next.LastRecordID, next.Empty, next.Partial = 0, true, false
		for slot := range next.DIMMErrors {
			next.DIMMErrors[slot] = dimmErrors{}
		}
	}
	if !cur.Valid {
		next.Erase = info.erase
	}
	return &selRead{next: next}
}

// take records one record read: the position moves past it and a memory
// error it logs is counted for its DIMM.
func (r *selRead) take(rec selRecord, sdr *sdrRecord) {
	r.next.LastRecordID, r.next.Empty = rec.ID, false
	r.advanced = true
	r.next.count(rec, sdr)
}

// complete is the cursor after a read that reached the SEL's end: the
// SEL's counters as Get SEL Info gave them.
func (r *selRead) complete(info selInfo) selCursor {
	n := r.next
	n.Addition, n.Entries, n.Erase, n.Partial = info.addition, info.entries, info.erase, false
	return n
}

// interrupted is the cursor after a read cut short: at the last record
// actually read, the SEL's counters left as they were, and marked partial
// so that the next read goes on from there whatever Get SEL Info says.
func (r *selRead) interrupted() selCursor {
	n := r.next
	n.Partial = true
	return n
}

// readSEL reads the records added since the cursor. On the first read with
// no stored cursor it only records the position: an old SEL is not news.
// A changed erase timestamp means the SEL was cleared: every record in it
// is new. A read cut short keeps the records it read and leaves the cursor
// at the last of them. The SEL is never cleared or modified here.
func (c *Collector) readSEL(ctx context.Context) ([]bmc.LogEntry, error) {
	b, err := c.sess.exchange(ctx, cmdGetSELInfo, nil)
	if err != nil {
		return nil, fmt.Errorf("reading SEL info: %w", err)
	}
	info, err := parseSELInfo(b)
	if err != nil {
		return nil, bmc.NewError(bmc.ErrKindMalformed, cmdGetSELInfo.Name, err)
	}
	cur := c.selCursor
	now := c.now().UTC()

	start := firstRecordID
	var after uint16 // only records with an id past this, when resuming by scan
	resumeByScan := false
	switch plan := planSELRead(cur, info, c.recentLogs); plan {
	case selUnchanged:
		return []bmc.LogEntry{}, nil
	case selRecordEnd:
		last, empty, err := c.lastSELRecord(ctx, info)
		if err != nil {
			return nil, err
		}
		next := startSELRead(cur, info, now).complete(info)
		next.LastRecordID, next.Empty = last, empty
		c.log.Info("SEL position recorded; older records are not reported",
			"entries", info.entries, "last_record_id", last)
		return []bmc.LogEntry{}, c.storeCursor(next)
	case selFromStart:
		if cur.Valid && cur.Erase != info.erase {
			c.log.Info("SEL was cleared since the last read; reading it from the start")
		}
	case selResume:
		// Resume after the last record read: its entry names the next one.
		b, err := c.getSELEntry(ctx, cur.LastRecordID)
		switch {
		case err == nil:
			start = le16(b[0:2])
		case answeredNo(err):
			// The last record is gone (deleted or overwritten): scan from
			// the start for records with a higher id.
			start, after, resumeByScan = firstRecordID, cur.LastRecordID, true
		default:
			return nil, fmt.Errorf("reading SEL record 0x%04x: %w", cur.LastRecordID, err)
		}
	}

	read := startSELRead(cur, info, now)
	entries := []bmc.LogEntry{}
	if info.entries == 0 {
		read.next.Empty = true
		return entries, c.storeCursor(read.complete(info))
	}
	seen := map[uint16]bool{}
	for id := start; id != lastRecordID; {
		if seen[id] {
			break
		}
		seen[id] = true
		b, err := c.getSELEntry(ctx, id)
		if err != nil {
			if answeredNo(err) && len(seen) == 1 && start != firstRecordID {
				break // nothing after the last record
			}
			// Keep what was read: the cursor stays at the last record
			// actually read, and the next read goes on from there.
			next := read.interrupted()
			c.log.Info("SEL read cut short; the next poll reads on from the last record read",
				"last_record_id", fmt.Sprintf("0x%04x", next.LastRecordID), "records_read", len(entries), "err", err)
			if serr := c.storeCursor(next); serr != nil {
				c.log.Warn("SEL state not saved", "err", serr)
			}
			return c.recent(cur, entries), fmt.Errorf("reading SEL record 0x%04x: %w", id, err)
		}
		nextID := le16(b[0:2])
		r, perr := parseSELRecord(b[2:])
		if perr != nil {
			c.log.Warn("skipping SEL record that does not decode", "record_id", fmt.Sprintf("0x%04x", id), "err", perr)
		} else if !resumeByScan || r.ID > after {
			sdr := c.sdr.lookup(uint8(r.Generator&0xff), r.SensorNum)
			entries = append(entries, decodeEvent(r, sdr))
			read.take(r, sdr)
		}
		if nextID == id {
			break
		}
		id = nextID
	}
	return c.recent(cur, entries), c.storeCursor(read.complete(info))
}

// recent keeps, on a first read for a person (probe), the newest records.
func (c *Collector) recent(cur selCursor, entries []bmc.LogEntry) []bmc.LogEntry {
	if cur.Valid {
		return entries
	}
	return entries[max(0, len(entries)-c.recentLogs):]
}

// lastSELRecord returns the id of the SEL's last record.
func (c *Collector) lastSELRecord(ctx context.Context, info selInfo) (uint16, bool, error) {
	if info.entries == 0 {
		return 0, true, nil
	}
	b, err := c.getSELEntry(ctx, lastRecordID)
	if err != nil {
		if answeredNo(err) {
			return 0, true, nil
		}
		return 0, false, fmt.Errorf("reading the last SEL record: %w", err)
	}
	r, err := parseSELRecord(b[2:])
	if err != nil {
		return 0, false, bmc.NewError(bmc.ErrKindMalformed, cmdGetSELEntry.Name, err)
	}
	return r.ID, false, nil
}

// getSELEntry reads one whole record (no reservation: reads only).
func (c *Collector) getSELEntry(ctx context.Context, id uint16) ([]byte, error) {
	req := append(putLE16(0), putLE16(id)...)
	req = append(req, 0x00, 0xff)
	b, err := c.sess.exchange(ctx, cmdGetSELEntry, req)
	if err != nil {
		return nil, err
	}
	if len(b) < 2+16 {
		return nil, bmc.NewError(bmc.ErrKindMalformed, cmdGetSELEntry.Name, fmt.Errorf("SEL entry answer of %d bytes, want 18", len(b)))
	}
	return b, nil
}

// storeCursor keeps the cursor in memory and in the state file.
func (c *Collector) storeCursor(next selCursor) error {
	c.selCursor = next
	if err := c.selStore.save(next); err != nil {
		return bmc.NewError(bmc.ErrKindOther, "SEL state file", err)
	}
	return nil
}

// errNoSDR is returned by parts that need the SDR when there is none.
var errNoSDR = errors.New("no SDR repository read yet")
