package ipmi

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/rackpulse/rackpulse/bmc"
)

// Entity ids the inventory is built from.
const (
	entityProcessor     = 0x03
	entityProcessorDCMI = 0x41
	entityMemoryModule  = 0x08
	entityMemoryDevice  = 0x20
	entityPowerSupply   = 0x0a
)

// inventory builds CPUs, DIMMs, PSUs, PSU redundancy groups and drives
// from this poll's sensors: processor status and CPU temperature sensors
// by processor instance, memory sensors that name a DIMM, power supply
// status and watt sensors by supply instance, PSU redundancy sensors (over
// every supply's bay), and drive slot sensors.
func inventory(snap *bmc.Snapshot, rs []sensorReading) {
	cpus := map[uint8]*bmc.CPU{}
	psus := map[uint8]*bmc.PSU{}
	var redundancy []sensorReading
	for _, r := range rs {
		rec, s := r.rec, &snap.Sensors[r.sensor]
		switch {
		case isPSURedundancy(rec):
			// About the supplies as a group, not one of them.
			redundancy = append(redundancy, r)
		case isProcessorEntity(rec.EntityID) && (rec.SensorType == sensorProcessor || s.Kind == bmc.KindTemperature):
			cpu := cpus[rec.EntityInstance]
			if cpu == nil {
				cpu = &bmc.CPU{Socket: fmt.Sprintf("CPU%d", rec.EntityInstance), State: "Enabled"}
				cpus[rec.EntityInstance] = cpu
			}
			if rec.SensorType == sensorProcessor {
				applyProcessorStates(cpu, rec, r)
			} else if s.Value != nil {
				if cpu.TemperatureC == nil || *s.Value > *cpu.TemperatureC {
					v := *s.Value
					cpu.TemperatureC = &v
				}
			}
			cpu.Health = cpu.Health.Worse(s.Health)
		case rec.SensorType == sensorMemory && namesDIMM(rec):
			snap.DIMMs = append(snap.DIMMs, dimmFrom(rec, r, s))
		case rec.EntityID == entityPowerSupply || (rec.SensorType == sensorPowerSupply && !r.rec.analog()):
			psu := psus[rec.EntityInstance]
			if psu == nil {
				bay := strconv.Itoa(int(rec.EntityInstance))
				psu = &bmc.PSU{Bay: bay, Name: "PSU" + bay, Source: "SDR " + rec.Name}
				psus[rec.EntityInstance] = psu
			}
			applyPSUSensor(psu, rec, r, s)
		case rec.SensorType == sensorDriveSlot && !rec.analog():
			snap.Drives = append(snap.Drives, driveFrom(rec, r, s))
		}
	}
	for _, inst := range sortedKeys(cpus) {
		snap.CPUs = append(snap.CPUs, *cpus[inst])
	}
	bays := []string{}
	for _, inst := range sortedKeys(psus) {
		snap.PSUs = append(snap.PSUs, *psus[inst])
		bays = append(bays, psus[inst].Bay)
	}
	for _, r := range redundancy {
		if g, ok := redundancyGroup(r.rec, r, bays); ok {
			snap.RedundancyGroups = append(snap.RedundancyGroups, g)
		}
	}
}

func isProcessorEntity(id uint8) bool { return id == entityProcessor || id == entityProcessorDCMI }

func sortedKeys[V any](m map[uint8]V) []uint8 {
	keys := make([]uint8, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// supports reports whether a discrete record's reading mask includes an
// offset (a BMC that publishes no mask is taken to support every offset).
func supports(rec *sdrRecord, offset uint8) bool {
	return rec.ReadingMask == 0 || rec.ReadingMask&(1<<offset) != 0
}

func asserted(r sensorReading, offset uint8) bool {
	return r.ok && r.reading.states&(1<<offset) != 0
}

func applyProcessorStates(cpu *bmc.CPU, rec *sdrRecord, r sensorReading) {
	if !r.ok || rec.EventType != eventSensorSpecific {
		return
	}
	switch {
	case supports(rec, 7) && !asserted(r, 7):
		cpu.State = "Absent"
	case asserted(r, 8):
		cpu.State = "Disabled"
	}
}

// namesDIMM reports whether a memory sensor is about one module: it sits
// on a memory device entity or its name says DIMM, and its entity holds
// no DIMMs (a sensor over a memory module's DIMMs is a bank sensor).
func namesDIMM(rec *sdrRecord) bool {
	return len(rec.Modules) == 0 &&
		(rec.EntityID == entityMemoryDevice || strings.Contains(strings.ToUpper(rec.Name), "DIMM"))
}

// partSuffix is what a sensor's name adds to the part it watches
// ("DIMM A1 Status" → "DIMM A1", "Drive0 Status" → "Drive0").
var partSuffix = regexp.MustCompile(`(?i)[ _]*(status|ecc|state|health)$`)

// dimmSlot is the slot label of a memory sensor's DIMM: the name the FRU
// device locator of its memory device entity gives ("DIMM_A1"), else the
// sensor's name ("DIMM A1 Status" → "DIMM A1"), else its entity instance.
func dimmSlot(rec *sdrRecord) string {
	if rec.DIMM != "" {
		return rec.DIMM
	}
	if strings.Contains(strings.ToUpper(rec.Name), "DIMM") {
		return strings.TrimSpace(partSuffix.ReplaceAllString(rec.Name, ""))
	}
	return fmt.Sprintf("DIMM%d", rec.EntityInstance)
}

// dimmSource is the Source of a DIMM read from a memory sensor.
func dimmSource(sensor string) string { return "SDR " + sensor }

// dimmFromSEL is the Source of a DIMM only the SEL names.
const dimmFromSEL = "SEL"

// dimmLocatorSource is the Source of a DIMM slot the SDR's FRU device
// locator names.
func dimmLocatorSource(name string) string { return "SDR FRU " + name }

// slotDIMMs lists the DIMM slots the BMC names in its FRU device locators,
// in the order it publishes them, each once: the row a memory sensor made
// for the slot, else a row of its own. Such a row has the health of the
// bank sensors over its slot when they are all OK; otherwise none (a
// sensor over several slots does not say which one failed: the SEL
// does). DIMMs no locator names follow.
func slotDIMMs(snap *bmc.Snapshot, slots []fruLocator, rs []sensorReading) {
	if len(slots) == 0 {
		return
	}
	bankOK := map[string]bool{} // every memory sensor over the slot is OK
	for _, r := range rs {
		if r.rec.SensorType != sensorMemory {
			continue
		}
		ok := snap.Sensors[r.sensor].Health == bmc.HealthOK
		for _, m := range r.rec.Modules {
			was, seen := bankOK[m]
			bankOK[m] = ok && (was || !seen)
		}
	}
	out := make([]bmc.DIMM, 0, len(slots)+len(snap.DIMMs))
	for _, l := range slots {
		if slices.ContainsFunc(out, func(d bmc.DIMM) bool { return d.Slot == l.name }) {
			continue
		}
		if i := slices.IndexFunc(snap.DIMMs, func(d bmc.DIMM) bool { return d.Slot == l.name }); i >= 0 {
			out = append(out, snap.DIMMs[i])
			continue
		}
		d := bmc.DIMM{Slot: l.name, Source: dimmLocatorSource(l.name)}
		if bankOK[l.name] {
			d.Health = bmc.HealthOK
		}
		out = append(out, d)
	}
	for _, d := range snap.DIMMs {
		if !slices.ContainsFunc(out, func(o bmc.DIMM) bool { return o.Slot == d.Slot }) {
			out = append(out, d)
		}
	}
	snap.DIMMs = out
}

func dimmFrom(rec *sdrRecord, r sensorReading, s *bmc.Sensor) bmc.DIMM {
	d := bmc.DIMM{Slot: dimmSlot(rec), Health: s.Health, State: "Enabled", Source: dimmSource(rec.Name)}
	if rec.EventType == eventSensorSpecific && r.ok {
		switch {
		case supports(rec, 6) && !asserted(r, 6):
			d.State, d.Health = "Absent", bmc.HealthUnknown
		case asserted(r, 4):
			d.State = "Disabled"
		}
	}
	return d
}

// applySELCounts gives the snapshot's DIMMs the memory errors counted from
// the SEL records read (cur.DIMMErrors): each DIMM the events name gets
// its correctable and uncorrectable counts, and is added when no memory
// sensor lists it (a module of a bank sensor, a DIMM the SDR has no sensor
// for); a DIMM with no error logged counts 0. A bank sensor (one whose
// events name modules in event data 3) is no DIMM and is not listed: its
// modules are. Nothing is counted before the SEL position is recorded.
func applySELCounts(snap *bmc.Snapshot, cur selCursor) {
	if !cur.Valid {
		return
	}
	snap.DIMMs = slices.DeleteFunc(snap.DIMMs, func(d bmc.DIMM) bool {
		return slices.ContainsFunc(cur.BankSensors, func(bank string) bool { return d.Source == dimmSource(bank) })
	})
	for i := range snap.DIMMs {
		snap.DIMMs[i].CorrectableErrors, snap.DIMMs[i].UncorrectableErrors = ptr(int64(0)), ptr(int64(0))
		snap.DIMMs[i].CountsFromZero = true
	}
	slots := slices.Sorted(maps.Keys(cur.DIMMErrors))
	for _, slot := range slots {
		n := cur.DIMMErrors[slot]
		i := slices.IndexFunc(snap.DIMMs, func(d bmc.DIMM) bool { return d.Slot == slot })
		if i < 0 {
			snap.DIMMs = append(snap.DIMMs, bmc.DIMM{Slot: slot, Source: dimmFromSEL})
			i = len(snap.DIMMs) - 1
		}
		snap.DIMMs[i].CorrectableErrors, snap.DIMMs[i].UncorrectableErrors = ptr(n.Correctable), ptr(n.Uncorrectable)
		snap.DIMMs[i].CountsFromZero = true
	}
}

func ptr[T any](v T) *T { return &v }

func applyPSUSensor(psu *bmc.PSU, rec *sdrRecord, r sensorReading, s *bmc.Sensor) {
	switch {
	case rec.SensorType == sensorPowerSupply && rec.EventType == eventSensorSpecific:
		if !r.ok {
			return
		}
		psu.Health = psu.Health.Worse(s.Health)
		present := !supports(rec, 0) || asserted(r, 0)
		switch {
		case !present:
			psu.State, psu.Health = "Absent", bmc.HealthUnknown
			return
		case psu.State == "":
			psu.State = "Enabled"
		}
		psu.FailurePredicted = psu.FailurePredicted || asserted(r, 2)
		switch {
		case asserted(r, 3) || asserted(r, 4):
			psu.LineInputStatus = "LossOfInput"
		case asserted(r, 5):
			psu.LineInputStatus = "OutOfRange"
		default:
			psu.LineInputStatus = "Normal"
		}
	case s.Unit == bmc.UnitWatt:
		if s.Value == nil {
			return
		}
		v := *s.Value
		if strings.Contains(strings.ToLower(rec.Name), "out") {
			psu.OutputWatts = &v
		} else {
			psu.InputWatts = &v
		}
		psu.Health = psu.Health.Worse(s.Health)
	case s.Unit == bmc.UnitVolt:
		n := strings.ToLower(rec.Name)
		if s.Value != nil && (strings.Contains(n, "in") || strings.Contains(n, "ac")) {
			v := *s.Value
			psu.InputVolts = &v
		}
		psu.Health = psu.Health.Worse(s.Health)
	default:
		psu.Health = psu.Health.Worse(s.Health)
	}
}

func driveFrom(rec *sdrRecord, r sensorReading, s *bmc.Sensor) bmc.Drive {
	d := bmc.Drive{Bay: strings.TrimSpace(partSuffix.ReplaceAllString(rec.Name, "")), Name: rec.Name, Health: s.Health, State: "Enabled", Source: "SDR " + rec.Name}
	if rec.EventType == eventSensorSpecific && r.ok {
		if supports(rec, 0) && !asserted(r, 0) {
			d.State, d.Health = "Absent", bmc.HealthUnknown
		}
		d.FailurePredicted = asserted(r, 2)
	}
	return d
}

// sensorPower returns the power readings the sensors give: each watt
// sensor that is not on a power supply (the whole server's input), and
// the sum of the supplies' input watts.
func sensorPower(snap *bmc.Snapshot, rs []sensorReading) []bmc.PowerReading {
	var out []bmc.PowerReading
	var psuSum float64
	var psuNames []string
	for _, r := range rs {
		s := snap.Sensors[r.sensor]
		if s.Unit != bmc.UnitWatt || s.Value == nil {
			continue
		}
		if r.rec.EntityID == entityPowerSupply {
			if !strings.Contains(strings.ToLower(s.Name), "out") {
				psuSum += *s.Value
				psuNames = append(psuNames, s.Name)
			}
			continue
		}
		out = append(out, bmc.PowerReading{Source: bmc.PowerFromSensor, Watts: *s.Value, Resource: "sensor " + s.Name})
	}
	if len(psuNames) > 0 {
		out = append(out, bmc.PowerReading{Source: bmc.PowerFromPSUInput, Watts: roundTo(psuSum, 6),
			Resource: "sensors " + strings.Join(psuNames, ", ")})
	}
	return out
}
