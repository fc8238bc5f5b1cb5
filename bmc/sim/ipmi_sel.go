package sim

import (
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
	fault    activeFault
	logged   int        // records of the fault's sequence logged so far
	asserted []selEntry // assertions logged and not deasserted since, to deassert when the fault ends
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
	var r *readings // the readings now, read once if a deassertion needs them
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
		if af, ok := faults[f]; ok && af.since.Equal(pr.fault.since) {
			continue
		}
		// Ended (or replaced by a new injection): deassert what is still
		// asserted, a threshold event with the reading now. Memory errors
		// stay logged as they happened.
		if f.part() != partDIMM {
			for _, e := range pr.asserted {
				e.at, e.deassert = now, true
				if e.eventType == ipmiReadingThreshold {
					if r == nil {
						r = b.machine.read()
					}
					s := b.profile.byNumber[e.sensor]
					if v, ok := s.value(b.machine, r); ok {
						e.data[1] = s.raw(v)
					}
				}
				due = append(due, e)
			}
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
			pr = &selFaultProgress{fault: af}
			l.progress[f] = pr
		}
		if f == FaultCPUOscillate {
			due = b.oscillateRecords(pr, now, selMaxEntries-len(l.entries)-len(due), due)
			continue
		}
		stages := b.faultStages(f, af)
		for pr.logged < len(stages) && !stages[pr.logged].at.After(now) {
			e := stages[pr.logged]
			due = append(due, e)
			pr.asserted = append(pr.asserted, e)
			pr.logged++
		}
	}
}

// oscillateRecords appends to due the threshold events of an oscillating
// CPU since the last sync: upper non-critical going high asserted on each
// step above the caution threshold, deasserted on each step below. Past
// room (a full SEL logs nothing more) it only keeps track of where the
// sensor is, so that a long-unread log costs no more than a full one.
func (b *IPMIBMC) oscillateRecords(pr *selFaultProgress, now time.Time, room int, due []selEntry) []selEntry {
	n := pr.fault.steps(now)
	for i := pr.logged; i < n; i++ {
		if room <= 0 {
			i = max(i, n-1) // only the last step decides what stays asserted
		}
		e := b.oscillateRecord(pr.fault, i+1)
		if room > 0 {
			due = append(due, e)
			room--
		}
		if e.deassert {
			pr.asserted = nil
		} else {
			pr.asserted = []selEntry{e}
		}
	}
	pr.logged = max(pr.logged, n)
	return due
}

// oscillateRecord is the threshold event of an oscillating CPU at a step:
// the crossing up (asserted) on odd steps, down (deasserted) on even ones,
// with the reading and the threshold in event data 2 and 3.
func (b *IPMIBMC) oscillateRecord(af activeFault, step int) selEntry {
	s := b.profile.byPart[partCPU][af.target]
	return selEntry{
		at: af.atStep(step), sensorType: s.sensorType, sensor: s.number, eventType: ipmiReadingThreshold,
		deassert: step%2 == 0,
		data:     [3]uint8{0x50 | offUpperNCGoingHigh, s.raw(oscillateCelsius(af, step)), s.thresholdRaw(thrUNC)},
	}
}

// faultStages lists, in order, the records a data fault (other than
// cpu-oscillate) produces over its life, each dated when the machine
// reaches that stage.
func (b *IPMIBMC) faultStages(f Fault, af activeFault) []selEntry {
	p := b.profile
	specific := func(s *ipmiSensor, at time.Time, offset uint8, data2, data3 uint8, d1flags uint8) selEntry {
		return selEntry{at: at, sensorType: s.sensorType, sensor: s.number, eventType: ipmiReadingSensorSpecif,
			data: [3]uint8{d1flags | offset, data2, data3}}
	}
	threshold := func(s *ipmiSensor, at time.Time, offset uint8, reading float64, thr int) selEntry {
		// Event data 1: trigger reading in byte 2, trigger threshold in byte 3.
		return selEntry{at: at, sensorType: s.sensorType, sensor: s.number, eventType: ipmiReadingThreshold,
			data: [3]uint8{0x50 | offset, s.raw(reading), s.thresholdRaw(thr)}}
	}
	// A DIMM's record names it in event data 3 (a sensor-specific
	// extension, flagged 11b in data 1 bits 5:4): its slot within the
	// sensor's group.
	const dimmFlags = 0x30
	dimm := func(offset uint8, at time.Time) selEntry {
		s := p.byPart[partDIMM][af.target]
		slot := uint8(af.target - s.partIndexes[0])
		return specific(s, at, offset, 0xFF, slot, dimmFlags)
	}
	switch f {
	case FaultDIMMECC:
		return []selEntry{
			dimm(offMemCorrectable, af.atStep(1)),
			dimm(offMemLogLimit, af.atStep(eccWarnStep(af.spec))),
			dimm(offMemUncorrectable, af.atStep(eccCriticalStep(af.spec))),
		}
	case FaultDIMMUncorrectable:
		return []selEntry{dimm(offMemUncorrectable, af.atStep(1))}
	case FaultCPUHot:
		// The hot CPU climbs cpuHotPerStep a step from its temperature (at
		// least 70 °C) past all three upper thresholds; the processor
		// sensor trips at the critical one.
		var out []selEntry
		for _, e := range b.climb(af, p.byPart[partCPU][af.target], func(r *readings) float64 { return r.cpus[af.target].celsius }, thrUNC, thrUCR, thrUNR) {
			out = append(out, e)
			if e.data[0]&0x0F == offUpperCritGoingHi {
				out = append(out, specific(p.cpuStatus[af.target], e.at, offProcessorThermalTrip, 0xFF, 0xFF, 0))
			}
		}
		return out
	case FaultInletHot:
		// The intake climbs past its upper non-critical and critical
		// thresholds, and stops short of non-recoverable.
		return b.climb(af, p.inlet, func(r *readings) float64 { return r.inletC }, thrUNC, thrUCR)
	case FaultPSUFail:
		return []selEntry{specific(p.byPart[partPSU][af.target], af.atStep(1), offPSUFailure, 0xFF, 0xFF, 0)}
	case FaultPSUInputLoss:
		return []selEntry{specific(p.byPart[partPSU][af.target], af.atStep(1), offPSUACLost, 0xFF, 0xFF, 0)}
	case FaultFanFail:
		s := p.byPart[partFan][af.target]
		return []selEntry{
			threshold(s, af.atStep(1), offLowerCritGoingLow, 0, thrLCR),
			threshold(s, af.atStep(1), offLowerNRGoingLow, 0, thrLNR),
		}
	case FaultDriveFail:
		return []selEntry{specific(p.byPart[partDrive][af.target], af.atStep(1), offDriveFault, 0xFF, 0xFF, 0)}
	case FaultDrivePredictedFailure:
		return []selEntry{specific(p.byPart[partDrive][af.target], af.atStep(1), offDrivePredictive, 0xFF, 0xFF, 0)}
	case FaultOverload:
		// The server's input power crosses its upper non-critical
		// threshold when the overload starts.
		s := p.total
		reading := b.machine.readAt(af.atStep(1)).inputWatts
		if s.raw(reading) < s.thresholdRaw(thrUNC) {
			return nil
		}
		return []selEntry{threshold(s, af.atStep(1), offUpperNCGoingHigh, reading, thrUNC)}
	}
	return nil
}

// climb lists the upper threshold events (going high) of a reading a
// fault drives up step by step: each dated at the first step whose reading
// is at or past the threshold, with that reading and the threshold in event
// data 2 and 3. Thresholds it never reaches (within 64 steps) give none.
func (b *IPMIBMC) climb(af activeFault, s *ipmiSensor, value func(*readings) float64, thresholds ...int) []selEntry {
	offsets := map[int]uint8{thrUNC: offUpperNCGoingHigh, thrUCR: offUpperCritGoingHi, thrUNR: offUpperNRGoingHigh}
	var out []selEntry
	next := 0
	for step := 1; next < len(thresholds) && step <= 64; step++ {
		at := af.atStep(step)
		reading := value(b.machine.readAt(at))
		for next < len(thresholds) && s.raw(reading) >= s.thresholdRaw(thresholds[next]) {
			thr := thresholds[next]
			out = append(out, selEntry{at: at, sensorType: s.sensorType, sensor: s.number, eventType: ipmiReadingThreshold,
				data: [3]uint8{0x50 | offsets[thr], s.raw(reading), s.thresholdRaw(thr)}})
			next++
		}
	}
	return out
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
