package sim

import (
	"math"
	"slices"
	"sync"
	"time"
)

// selEntry is one System Event Log record (type 02h, IPMI 2.0 table 32-1),
// kept in the fields it is made of.
type selEntry struct {
	at         time.Time
	sensorType uint8
	sensor     uint8
	deassert   bool
	eventType  uint8 // event/reading type code
	data       [3]uint8
}

// pack encodes the record as its 16 bytes on the wire.
func (e selEntry) pack(id uint16) []byte {
	ts := uint32(e.at.Unix())
	dir := e.eventType & 0x7F
	if e.deassert {
		dir |= 0x80
	}
	return []byte{
		byte(id), byte(id >> 8),
		0x02, // system event record
		byte(ts), byte(ts >> 8), byte(ts >> 16), byte(ts >> 24),
		0x20, 0x00, // generator: the BMC, channel 0, LUN 0
		0x04, // event message format: IPMI 2.0
		e.sensorType, e.sensor, dir,
		e.data[0], e.data[1], e.data[2],
	}
}

// selFaultProgress is what the SEL has logged of one active data fault.
type selFaultProgress struct {
	since  time.Time
	target int
	logged []selEntry // assertions logged, to deassert when the fault ends
}

// selLog is an IPMI BMC's System Event Log. Data faults append records:
// what a fault has done up to now is logged when the log is next read or a
// fault changes, each record dated when the machine crossed the line.
type selLog struct {
	mu        sync.Mutex
	entries   []selEntry
	firstID   uint16 // record ID of entries[0]; IDs run on after a clear
	lastAdd   time.Time
	lastErase time.Time
	progress  map[Fault]*selFaultProgress
}

// selMaxEntries bounds the log; a full log stops logging, as the spec's
// non-rollover SEL does.
const selMaxEntries = 1024

func newSELLog(start time.Time) *selLog {
	return &selLog{firstID: 1, lastErase: start}
}

func (l *selLog) add(e selEntry) {
	if len(l.entries) >= selMaxEntries {
		return
	}
	l.entries = append(l.entries, e)
	if e.at.After(l.lastAdd) {
		l.lastAdd = e.at
	}
}

// syncSEL logs what the machine's data faults have done up to now: the
// stages each active fault has reached, and the deassertions of faults that
// ended. It is called before the log is read and around every fault change.
func (b *IPMIBMC) syncSEL() {
	now := b.machine.now()
	faults := b.machine.faultSnapshot()
	l := b.sel
	l.mu.Lock()
	defer l.mu.Unlock()
	// Everything due since the last sync is logged in time order, after
	// what is already logged (which is all older).
	var due []selEntry
	defer func() {
		slices.SortStableFunc(due, func(x, y selEntry) int { return x.at.Compare(y.at) })
		for _, e := range due {
			l.add(e)
		}
	}()
	for _, f := range DataFaults() {
		pr, ok := l.progress[f]
		if !ok {
			continue
		}
		if af, ok := faults[f]; ok && af.since.Equal(pr.since) {
			continue
		}
		// Ended (or replaced by a new injection): deassert what was asserted.
		for _, e := range pr.logged {
			if f == FaultDIMMECC {
				break // memory errors stay logged as they happened
			}
			e.at, e.deassert = now, true
			due = append(due, e)
		}
		delete(l.progress, f)
	}
	for _, f := range DataFaults() {
		af, ok := faults[f]
		if !ok {
			continue
		}
		if l.progress == nil {
			l.progress = make(map[Fault]*selFaultProgress)
		}
		pr, ok := l.progress[f]
		if !ok {
			pr = &selFaultProgress{since: af.since, target: af.target}
			l.progress[f] = pr
		}
		stages := b.faultStages(f, af)
		for _, e := range stages[len(pr.logged):] {
			if e.at.After(now) {
				break
			}
			due = append(due, e)
			pr.logged = append(pr.logged, e)
		}
	}
}

// faultStages lists, in order, the records a data fault produces over its
// life, each dated when the machine reaches that stage.
func (b *IPMIBMC) faultStages(f Fault, af activeFault) []selEntry {
	p := b.profile
	every := af.spec.Every
	if every <= 0 {
		every = DefaultFaultStep
	}
	atStep := func(step int) time.Time { return af.since.Add(time.Duration(step-1) * every) }
	specific := func(s *ipmiSensor, at time.Time, offset uint8, data2, data3 uint8, d1flags uint8) selEntry {
		return selEntry{at: at, sensorType: s.sensorType, sensor: s.number, eventType: ipmiReadingSensorSpecif,
			data: [3]uint8{d1flags | offset, data2, data3}}
	}
	threshold := func(s *ipmiSensor, at time.Time, offset uint8, reading float64, thr int) selEntry {
		// Event data 1: trigger reading in byte 2, trigger threshold in byte 3.
		return selEntry{at: at, sensorType: s.sensorType, sensor: s.number, eventType: ipmiReadingThreshold,
			data: [3]uint8{0x50 | offset, s.raw(reading), s.thresholdRaw(thr)}}
	}
	switch f {
	case FaultDIMMECC:
		s := p.byPart[FaultDIMMECC][af.target]
		slot := uint8(af.target - s.partIndexes[0])
		// Event data 3 (a sensor-specific extension, flagged 11b in data 1
		// bits 5:4) names the DIMM within the sensor's group.
		const d1 = 0x30
		warnStep := eccWarnCount/eccPerStep + 1
		critStep := eccCriticalCount/eccPerStep + 1
		return []selEntry{
			specific(s, atStep(1), offMemCorrectable, 0xFF, slot, d1),
			specific(s, atStep(warnStep), offMemLogLimit, 0xFF, slot, d1),
			specific(s, atStep(critStep), offMemUncorrectable, 0xFF, slot, d1),
		}
	case FaultCPUHot:
		// The hot CPU climbs cpuHotPerStep a step from at least 70 °C.
		s := p.byPart[FaultCPUHot][af.target]
		stepFor := func(celsius float64) int {
			return max(1, int(math.Ceil((celsius-70)/cpuHotPerStep)))
		}
		tempAt := func(step int) float64 { return 70 + cpuHotPerStep*float64(step) }
		unc, ucr, unr := stepFor(cpuCautionCelsius), stepFor(cpuCriticalC), stepFor(cpuNonRecoverableC)
		proc := p.byNumber[0x60+uint8(af.target)]
		return []selEntry{
			threshold(s, atStep(unc), offUpperNCGoingHigh, tempAt(unc), thrUNC),
			threshold(s, atStep(ucr), offUpperCritGoingHi, tempAt(ucr), thrUCR),
			specific(proc, atStep(ucr), offProcessorThermalTrip, 0xFF, 0xFF, 0),
			threshold(s, atStep(unr), offUpperNRGoingHigh, tempAt(unr), thrUNR),
		}
	case FaultPSUFail:
		s := p.byPart[FaultPSUFail][af.target]
		return []selEntry{
			specific(s, atStep(1), offPSUFailure, 0xFF, 0xFF, 0),
			specific(s, atStep(1), offPSUACLost, 0xFF, 0xFF, 0),
		}
	case FaultFanFail:
		s := p.byPart[FaultFanFail][af.target]
		return []selEntry{
			threshold(s, atStep(1), offLowerCritGoingLow, 0, thrLCR),
			threshold(s, atStep(1), offLowerNRGoingLow, 0, thrLNR),
		}
	case FaultDrivePredictedFailure:
		s := p.byPart[FaultDrivePredictedFailure][af.target]
		return []selEntry{specific(s, atStep(1), offDrivePredictive, 0xFF, 0xFF, 0)}
	}
	return nil
}

// faultSnapshot copies the machine's active data faults.
func (m *machine) faultSnapshot() map[Fault]activeFault {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[Fault]activeFault, len(m.faults))
	for k, v := range m.faults {
		out[k] = v
	}
	return out
}
