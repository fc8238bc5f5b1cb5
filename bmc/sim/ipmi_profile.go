package sim

import (
	"fmt"
	"math"
)

// ProfileIPMI is a server whose BMC speaks IPMI 2.0 over RMCP+ (UDP) only.
const ProfileIPMI = "ipmi"

// IPMI sensor types (IPMI 2.0 table 42-3) and event/reading type codes
// (table 42-1) the simulated BMC uses.
const (
	ipmiSensorTemperature   = 0x01
	ipmiSensorVoltage       = 0x02
	ipmiSensorCurrent       = 0x03
	ipmiSensorFan           = 0x04
	ipmiSensorProcessor     = 0x07
	ipmiSensorPowerSupply   = 0x08
	ipmiSensorMemory        = 0x0C
	ipmiSensorDriveSlot     = 0x0D
	ipmiReadingThreshold    = 0x01
	ipmiReadingSensorSpecif = 0x6F
)

// IPMI sensor unit type codes (table 43-15).
const (
	ipmiUnitCelsius = 1
	ipmiUnitVolts   = 4
	ipmiUnitWatts   = 6
	ipmiUnitRPM     = 18
)

// Entity IDs (table 43-13).
const (
	ipmiEntityProcessor    = 0x03
	ipmiEntityDiskBay      = 0x04
	ipmiEntitySystemBoard  = 0x07
	ipmiEntityPowerSupply  = 0x0A
	ipmiEntityMemoryModule = 0x08
	ipmiEntityFan          = 0x1D
	ipmiEntityMemory       = 0x20
	ipmiEntityAirInlet     = 0x37
)

// Threshold indexes, in the order Get Sensor Thresholds returns them and
// the bit order of the readable threshold mask.
const (
	thrLNC = iota
	thrLCR
	thrLNR
	thrUNC
	thrUCR
	thrUNR
)

// Sensor-specific offsets (table 42-3) the faults assert.
const (
	offProcessorThermalTrip = 1
	offProcessorPresence    = 7
	offPSUPresence          = 0
	offPSUFailure           = 1
	offPSUACLost            = 3
	offMemCorrectable       = 0
	offMemUncorrectable     = 1
	offMemLogLimit          = 5
	offMemPresence          = 6
	offDrivePresence        = 0
	offDriveFault           = 1
	offDrivePredictive      = 2
)

// Threshold event offsets (table 42-2).
const (
	offLowerCritGoingLow = 0x02
	offLowerNRGoingLow   = 0x04
	offUpperNCGoingHigh  = 0x07
	offUpperCritGoingHi  = 0x09
	offUpperNRGoingHigh  = 0x0B
)

// ipmiSensor is one sensor of the IPMI profile: its SDR fields and how its
// reading follows the machine. Shared, read-only, by every IPMI BMC.
type ipmiSensor struct {
	number      uint8
	name        string
	sensorType  uint8
	readingType uint8
	entityID    uint8
	entityInst  uint8
	// Analog sensors: unit and linearization y = (M*x + B*10^bExp) * 10^rExp.
	unit       uint8
	m, b       int
	bExp, rExp int
	// thresholds in engineering units; thrMask says which are set.
	thresholds [6]float64
	thrMask    uint8
	nominal    float64
	// value reads an analog sensor: ok false means the reading is
	// unavailable (a failed supply).
	value func(m *machine, r *readings) (v float64, ok bool)
	// Discrete sensors: the offsets they can assert and what they assert now.
	states      uint16
	stateOf     func(r *readings) uint16
	partIndexes []int // the parts a discrete sensor covers (DIMM group)
}

func (s *ipmiSensor) analog() bool { return s.readingType == ipmiReadingThreshold }

// raw converts an engineering value to the sensor's raw byte.
func (s *ipmiSensor) raw(v float64) uint8 {
	x := (v/math.Pow10(s.rExp) - float64(s.b)*math.Pow10(s.bExp)) / float64(s.m)
	return uint8(math.Max(0, math.Min(255, math.Round(x))))
}

// ipmiProfile is the IPMI server kind: a machine profile (the layout the
// physics runs on) and its sensors with their SDR records, built once per
// fleet.
type ipmiProfile struct {
	*profile
	sensors  []*ipmiSensor
	byNumber map[uint8]*ipmiSensor
	// byPart is the sensor that reports a part, by kind and part index: a
	// CPU's temperature, a DIMM's memory sensor (shared by its group), a
	// PSU's status, a fan, a drive slot.
	byPart    map[partKind][]*ipmiSensor
	cpuStatus []*ipmiSensor // the processor sensors, by CPU
	total     *ipmiSensor   // the server's input power
	inlet     *ipmiSensor   // the intake temperature
	sdrs      [][]byte      // SDR records, record ID i+1
}

// DIMM groups: one memory sensor per CPU's slots.
const ipmiDIMMsPerCPU = 8

func newIPMIProfile() *ipmiProfile {
	p := &profile{
		name:         ProfileIPMI,
		model:        "Contoso RS220 Gen3 (IPMI)",
		manufacturer: "Contoso",
		serialPrefix: "CZJ",
		layout: layout{
			cpus:             []part{{"CPU1", "CPU1"}, {"CPU2", "CPU2"}},
			psus:             []part{{"PSU1", "PSU1"}, {"PSU2", "PSU2"}},
			fans:             []part{{"Fan1", "Fan1"}, {"Fan2", "Fan2"}, {"Fan3", "Fan3"}, {"Fan4", "Fan4"}, {"Fan5", "Fan5"}, {"Fan6", "Fan6"}},
			drives:           []part{{"Drive0", "Drive 0"}, {"Drive1", "Drive 1"}},
			psuCapacityWatts: 1100,
			idleWatts:        200,
			peakWatts:        620,
			inletCautionC:    38,
			inletCriticalC:   42,
			dimmSerialPrefix: "80AD",
		},
	}
	// The DIMMs by their silkscreen label, as the board prints it and the
	// BMC names it in its SDR (FRU device locators) and the host's SMBIOS
	// in its locators: DIMM_A1..DIMM_A8 beside CPU1, DIMM_B1..DIMM_B8
	// beside CPU2.
	for cpu := 1; cpu <= 2; cpu++ {
		bank := string(rune('A' + cpu - 1))
		for slot := 1; slot <= ipmiDIMMsPerCPU; slot++ {
			label := fmt.Sprintf("DIMM_%s%d", bank, slot)
			p.layout.dimms = append(p.layout.dimms, part{label, label})
		}
	}
	ip := &ipmiProfile{profile: p, byNumber: map[uint8]*ipmiSensor{}, byPart: map[partKind][]*ipmiSensor{}}
	l := &p.layout
	add := func(s *ipmiSensor) *ipmiSensor {
		ip.sensors = append(ip.sensors, s)
		ip.byNumber[s.number] = s
		return s
	}
	temp := func(num uint8, name string, entity, inst uint8, unc, ucr, unr, nominal float64, v func(m *machine, r *readings) (float64, bool)) *ipmiSensor {
		return add(&ipmiSensor{
			number: num, name: name, sensorType: ipmiSensorTemperature, readingType: ipmiReadingThreshold,
			entityID: entity, entityInst: inst, unit: ipmiUnitCelsius, m: 1,
			thresholds: [6]float64{thrUNC: unc, thrUCR: ucr, thrUNR: unr}, thrMask: 1<<thrUNC | 1<<thrUCR | 1<<thrUNR,
			nominal: nominal, value: v,
		})
	}
	for i := range l.cpus {
		s := temp(uint8(0x01+i), fmt.Sprintf("CPU%d Temp", i+1), ipmiEntityProcessor, uint8(i+1), cpuCautionCelsius, cpuCriticalC, cpuNonRecoverableC, 55,
			func(_ *machine, r *readings) (float64, bool) { return r.cpus[i].celsius, true })
		ip.byPart[partCPU] = append(ip.byPart[partCPU], s)
	}
	ip.inlet = temp(0x03, "Inlet Temp", ipmiEntityAirInlet, 1, l.inletCautionC, l.inletCriticalC, 47, 22,
		func(_ *machine, r *readings) (float64, bool) { return r.inletC, true })
	temp(0x04, "Exhaust Temp", ipmiEntitySystemBoard, 1, 70, 75, 80, 40,
		func(_ *machine, r *readings) (float64, bool) { return r.exhaustC, true })
	for i := range l.cpus {
		temp(uint8(0x05+i), fmt.Sprintf("CPU%d DIMM Temp", i+1), ipmiEntityMemoryModule, uint8(i+1), 85, 90, 95, 35,
			func(_ *machine, r *readings) (float64, bool) {
				return math.Round(r.inletC + 8 + 14*r.load + 1.5*float64(i)), true
			})
	}
	for i := range l.fans {
		s := add(&ipmiSensor{
			number: uint8(0x10 + i), name: l.fans[i].label, sensorType: ipmiSensorFan, readingType: ipmiReadingThreshold,
			entityID: ipmiEntityFan, entityInst: uint8(i + 1), unit: ipmiUnitRPM, m: 100,
			thresholds: [6]float64{thrLNC: 1000, thrLCR: 600, thrLNR: 300}, thrMask: 1<<thrLNC | 1<<thrLCR | 1<<thrLNR,
			nominal: 6000,
			value:   func(_ *machine, r *readings) (float64, bool) { return r.fans[i].rpm, true },
		})
		ip.byPart[partFan] = append(ip.byPart[partFan], s)
	}
	volt := func(num uint8, name string, nominal float64, m, rExp int, channel uint64) {
		step := float64(m) * math.Pow10(rExp)
		add(&ipmiSensor{
			number: num, name: name, sensorType: ipmiSensorVoltage, readingType: ipmiReadingThreshold,
			entityID: ipmiEntitySystemBoard, entityInst: 1, unit: ipmiUnitVolts, m: m, rExp: rExp,
			thresholds: [6]float64{thrLCR: nominal * 0.9, thrLNC: nominal * 0.95, thrUNC: nominal * 1.05, thrUCR: nominal * 1.1},
			thrMask:    1<<thrLNC | 1<<thrLCR | 1<<thrUNC | 1<<thrUCR,
			nominal:    nominal,
			value: func(mc *machine, r *readings) (float64, bool) {
				return nominal + step*math.Round(1.4*mc.noise(r.now, channel)), true
			},
		})
	}
	// 200 raw counts at the nominal voltage: 0.06 V, 0.025 V and 0.0165 V.
	volt(0x20, "12V", 12, 6, -2, 60)
	volt(0x21, "5V", 5, 25, -3, 61)
	volt(0x22, "3.3V", 3.3, 165, -4, 62)
	for i := range l.psus {
		add(&ipmiSensor{
			number: uint8(0x30 + i), name: fmt.Sprintf("PSU%d Input Power", i+1), sensorType: ipmiSensorCurrent, readingType: ipmiReadingThreshold,
			entityID: ipmiEntityPowerSupply, entityInst: uint8(i + 1), unit: ipmiUnitWatts, m: 5,
			thresholds: [6]float64{thrUNC: 1000, thrUCR: 1100}, thrMask: 1<<thrUNC | 1<<thrUCR,
			nominal: 250,
			// A failed supply does not answer for its input; one that lost
			// its input reads 0 W.
			value: func(_ *machine, r *readings) (float64, bool) {
				return r.psus[i].inputWatts, !r.psus[i].failed
			},
		})
	}
	ip.total = add(&ipmiSensor{
		number: 0x32, name: "Total Power", sensorType: ipmiSensorCurrent, readingType: ipmiReadingThreshold,
		entityID: ipmiEntitySystemBoard, entityInst: 1, unit: ipmiUnitWatts, m: 5,
		thresholds: [6]float64{thrUNC: 1000, thrUCR: 1100}, thrMask: 1<<thrUNC | 1<<thrUCR,
		nominal: 450,
		value:   func(_ *machine, r *readings) (float64, bool) { return r.inputWatts, true },
	})
	for i := range l.psus {
		s := add(&ipmiSensor{
			number: uint8(0x40 + i), name: fmt.Sprintf("PSU%d Status", i+1), sensorType: ipmiSensorPowerSupply, readingType: ipmiReadingSensorSpecif,
			entityID: ipmiEntityPowerSupply, entityInst: uint8(i + 1),
			states: 1<<offPSUPresence | 1<<offPSUFailure | 1<<offPSUACLost,
			stateOf: func(r *readings) uint16 {
				st := uint16(1 << offPSUPresence)
				if r.psus[i].failed {
					st |= 1 << offPSUFailure
				}
				if r.psus[i].inputLost {
					st |= 1 << offPSUACLost
				}
				return st
			},
		})
		ip.byPart[partPSU] = append(ip.byPart[partPSU], s)
	}
	for cpu := range l.cpus {
		first := cpu * ipmiDIMMsPerCPU
		group := make([]int, 0, ipmiDIMMsPerCPU)
		for d := first; d < first+ipmiDIMMsPerCPU && d < len(l.dimms); d++ {
			group = append(group, d)
		}
		s := add(&ipmiSensor{
			number: uint8(0x50 + cpu), name: fmt.Sprintf("CPU%d Memory", cpu+1), sensorType: ipmiSensorMemory, readingType: ipmiReadingSensorSpecif,
			entityID: ipmiEntityMemoryModule, entityInst: uint8(cpu + 1), partIndexes: group,
			states: 1<<offMemCorrectable | 1<<offMemUncorrectable | 1<<offMemLogLimit | 1<<offMemPresence,
			stateOf: func(r *readings) uint16 {
				st := uint16(1 << offMemPresence)
				for _, d := range group {
					dr := r.dimms[d]
					if dr.correctable > 0 {
						st |= 1 << offMemCorrectable
					}
					if dr.correctable > eccWarnCount {
						st |= 1 << offMemLogLimit
					}
					if dr.uncorrectable > 0 {
						st |= 1 << offMemUncorrectable
					}
				}
				return st
			},
		})
		for range group {
			ip.byPart[partDIMM] = append(ip.byPart[partDIMM], s)
		}
	}
	for i := range l.cpus {
		ip.cpuStatus = append(ip.cpuStatus, add(&ipmiSensor{
			number: uint8(0x60 + i), name: fmt.Sprintf("CPU%d Status", i+1), sensorType: ipmiSensorProcessor, readingType: ipmiReadingSensorSpecif,
			entityID: ipmiEntityProcessor, entityInst: uint8(i + 1),
			states: 1<<offProcessorThermalTrip | 1<<offProcessorPresence,
			stateOf: func(r *readings) uint16 {
				st := uint16(1 << offProcessorPresence)
				if r.cpus[i].celsius >= cpuCriticalC {
					st |= 1 << offProcessorThermalTrip
				}
				return st
			},
		}))
	}
	for i := range l.drives {
		s := add(&ipmiSensor{
			number: uint8(0x70 + i), name: fmt.Sprintf("Drive%d Status", i), sensorType: ipmiSensorDriveSlot, readingType: ipmiReadingSensorSpecif,
			entityID: ipmiEntityDiskBay, entityInst: uint8(i + 1),
			states: 1<<offDrivePresence | 1<<offDriveFault | 1<<offDrivePredictive,
			stateOf: func(r *readings) uint16 {
				st := uint16(1 << offDrivePresence)
				if r.drives[i].failed {
					st |= 1 << offDriveFault
				}
				if r.drives[i].predicted {
					st |= 1 << offDrivePredictive
				}
				return st
			},
		})
		ip.byPart[partDrive] = append(ip.byPart[partDrive], s)
	}
	for i, s := range ip.sensors {
		ip.sdrs = append(ip.sdrs, s.fullSensorRecord(uint16(i+1)))
	}
	// Each DIMM slot: a FRU device locator naming it (memory device entity
	// 20h, instance 1..16 in slot order), and each CPU's group of slots an
	// entity association from its memory module (08h, the entity of the
	// group's memory and temperature sensors) to the group's DIMMs, in the
	// order a memory event's data 3 counts them.
	for i, d := range l.dimms {
		ip.sdrs = append(ip.sdrs, fruLocatorRecord(uint16(len(ip.sdrs)+1), uint8(i+1), ipmiEntityMemory, uint8(i+1), d.label))
	}
	for cpu := range l.cpus {
		first := cpu*ipmiDIMMsPerCPU + 1
		last := min(first+ipmiDIMMsPerCPU-1, len(l.dimms))
		ip.sdrs = append(ip.sdrs, entityRangeRecord(uint16(len(ip.sdrs)+1),
			ipmiEntityMemoryModule, uint8(cpu+1), ipmiEntityMemory, uint8(first), uint8(last)))
	}
	return ip
}

// fruLocatorRecord encodes a FRU Device Locator record (type 11h, IPMI 2.0
// table 43-7) for a logical FRU device of the BMC: the device ID string is
// the part's label.
func fruLocatorRecord(id uint16, fruID, entity, instance uint8, name string) []byte {
	if len(name) > 16 {
		name = name[:16]
	}
	rec := []byte{
		byte(id), byte(id >> 8), 0x51, 0x11, 0,
		0x20,                   // device access address: the BMC
		fruID,                  // FRU device ID
		0x80,                   // logical FRU device, LUN 0, private bus 0
		0x00,                   // channel 0
		0x00,                   // reserved
		0x10,                   // device type: FRU inventory device behind a management controller
		0x00,                   // device type modifier
		entity,                 // FRU entity ID
		instance,               // FRU entity instance
		0x00,                   // OEM
		0xC0 | byte(len(name)), // 8-bit ASCII
	}
	rec = append(rec, name...)
	rec[4] = byte(len(rec) - 5)
	return rec
}

// entityRangeRecord encodes an Entity Association record (type 08h, IPMI
// 2.0 table 43-4) whose container holds a range of entities of one kind.
func entityRangeRecord(id uint16, container, containerInst, contained, first, last uint8) []byte {
	rec := []byte{
		byte(id), byte(id >> 8), 0x51, 0x08, 11,
		container, containerInst,
		0x80, // contained entities given as a range, no linked records
		contained, first, contained, last,
		0, 0, 0, 0, // no second range
	}
	return rec
}

// cpuNonRecoverableC is the CPU temperature's upper non-recoverable
// threshold.
const cpuNonRecoverableC = 100

// fullSensorRecord encodes the sensor as an SDR Full Sensor Record (type
// 01h, IPMI 2.0 table 43-1).
func (s *ipmiSensor) fullSensorRecord(id uint16) []byte {
	name := s.name
	if len(name) > 16 {
		name = name[:16]
	}
	rec := make([]byte, 48, 48+len(name))
	rec[0], rec[1] = byte(id), byte(id>>8)
	rec[2] = 0x51 // SDR version
	rec[3] = 0x01 // full sensor record
	// rec[4]: length, set below
	rec[5] = 0x20 // owner: the BMC
	rec[6] = 0x00 // LUN 0, channel 0
	rec[7] = s.number
	rec[8] = s.entityID
	rec[9] = s.entityInst // physical entity
	if s.analog() {
		rec[10] = 0x7F // init scanning, events, thresholds, hysteresis, type; events and scanning on
		rec[11] = 0x54 // auto re-arm, hysteresis readable, thresholds readable, per-threshold event control
	} else {
		rec[10] = 0x67 // init scanning, events, type; events and scanning on
		rec[11] = 0x40 // auto re-arm, no thresholds
	}
	rec[12] = s.sensorType
	rec[13] = s.readingType
	if s.analog() {
		var assert, deassert uint16
		lower, upper := uint16(0), uint16(0)
		for _, t := range []struct {
			idx       int
			eventBits uint16
			cmpBit    uint16
			upperSide bool
		}{
			{thrLNC, 1 << 0, 1 << 12, false}, {thrLCR, 1 << 2, 1 << 13, false}, {thrLNR, 1 << 4, 1 << 14, false},
			{thrUNC, 1 << 7, 1 << 12, true}, {thrUCR, 1 << 9, 1 << 13, true}, {thrUNR, 1 << 11, 1 << 14, true},
		} {
			if s.thrMask&(1<<t.idx) == 0 {
				continue
			}
			assert |= t.eventBits
			deassert |= t.eventBits
			if t.upperSide {
				upper |= t.cmpBit
			} else {
				lower |= t.cmpBit
			}
		}
		assert |= lower
		deassert |= upper
		rec[14], rec[15] = byte(assert), byte(assert>>8)
		rec[16], rec[17] = byte(deassert), byte(deassert>>8)
		// Settable and readable threshold masks: the same thresholds.
		rec[18] = s.thrMask
		rec[19] = s.thrMask
		rec[20] = 0x00 // unsigned analog data, no rate, no modifier
		rec[21] = s.unit
		rec[22] = 0x00
		rec[23] = 0x00 // linear
		m := uint16(s.m) & 0x3FF
		rec[24] = byte(m)
		rec[25] = byte(m>>8) << 6 // tolerance 0
		b := uint16(s.b) & 0x3FF
		rec[26] = byte(b)
		rec[27] = byte(b>>8) << 6 // accuracy 0
		rec[28] = 0x00            // accuracy exp 0, direction unspecified
		rec[29] = byte(s.rExp&0x0F)<<4 | byte(s.bExp&0x0F)
		rec[30] = 0x01 // nominal reading given
		rec[31] = s.raw(s.nominal)
		rec[32] = 0xFF // normal max
		rec[33] = 0x00 // normal min
		rec[34] = 0xFF // sensor max
		rec[35] = 0x00 // sensor min
		rec[36] = s.thresholdRaw(thrUNR)
		rec[37] = s.thresholdRaw(thrUCR)
		rec[38] = s.thresholdRaw(thrUNC)
		rec[39] = s.thresholdRaw(thrLNR)
		rec[40] = s.thresholdRaw(thrLCR)
		rec[41] = s.thresholdRaw(thrLNC)
		rec[42] = 1 // positive-going hysteresis: one count
		rec[43] = 1 // negative-going hysteresis
	} else {
		rec[14], rec[15] = byte(s.states), byte(s.states>>8)
		rec[16], rec[17] = byte(s.states), byte(s.states>>8)
		rec[18], rec[19] = byte(s.states), byte(s.states>>8)
		rec[20] = 0xC0 // no analog reading
		rec[21] = 0x00
	}
	// rec[44], rec[45] reserved, rec[46] OEM.
	rec[47] = 0xC0 | byte(len(name)) // 8-bit ASCII
	rec = append(rec, name...)
	rec[4] = byte(len(rec) - 5)
	return rec
}

func (s *ipmiSensor) thresholdRaw(idx int) uint8 {
	if s.thrMask&(1<<idx) == 0 {
		return 0
	}
	return s.raw(s.thresholds[idx])
}

// reading is one sensor's Get Sensor Reading answer (IPMI 2.0 section
// 35.14): the raw reading, the flags byte and the threshold comparison
// status or asserted states.
func (s *ipmiSensor) reading(m *machine, r *readings) []byte {
	const (
		eventsOn    = 0x80
		scanningOn  = 0x40
		unavailable = 0x20
	)
	if !s.analog() {
		st := s.stateOf(r)
		return []byte{0x00, eventsOn | scanningOn, byte(st), 0x80 | byte(st>>8)&0x7F}
	}
	v, ok := s.value(m, r)
	if !ok {
		return []byte{0x00, eventsOn | scanningOn | unavailable, 0x00}
	}
	raw := s.raw(v)
	return []byte{raw, eventsOn | scanningOn, s.thresholdStatus(raw)}
}

// thresholdStatus sets the comparison bits for the thresholds a raw reading
// is at or beyond.
func (s *ipmiSensor) thresholdStatus(raw uint8) uint8 {
	var st uint8
	for idx := thrLNC; idx <= thrUNR; idx++ {
		if s.thrMask&(1<<idx) == 0 {
			continue
		}
		t := s.thresholdRaw(idx)
		if (idx <= thrLNR && raw <= t) || (idx >= thrUNC && raw >= t) {
			st |= 1 << idx
		}
	}
	return st
}
