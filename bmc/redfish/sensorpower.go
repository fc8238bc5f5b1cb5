package redfish

import (
	"regexp"
	"strings"
	"unicode"

	"github.com/stmcginnis/gofish/schemas"

	"github.com/rackpulse/rackpulse/bmc"
)

// Power published as Sensors. Power shelves and newer BMCs publish a
// chassis's input power only as a Sensor of the chassis (ReadingType
// Power), and a rectifier's or supply's readings only as Sensors beside
// it (PhysicalContext PowerSupply or Rectifier, PhysicalSubContext Input
// or Output). Those are sources like the others: the chassis total as a
// PowerFromChassisSensor reading, the supplies' as their PSUs' readings
// (and so the PSU sums).

// powerSensor is a watt sensor of a chassis's Sensors collection, kept for
// finishPower.
type powerSensor struct {
	chassis, uri, id, name string
	context, subContext    string
	watts                  float64
}

// notePowerSensor keeps a Sensor that reads watts.
func (p *poll) notePowerSensor(chassis, uri string, s *wireSensor, sensor bmc.Sensor) {
	if sensor.Kind != bmc.KindPower || sensor.Unit != bmc.UnitWatt || sensor.Value == nil {
		return
	}
	p.powerSensors = append(p.powerSensors, powerSensor{
		chassis: chassis, uri: uri, id: firstNonEmpty(s.ID, lastSegment(uri)), name: s.Name,
		context: string(s.PhysicalContext), subContext: string(s.PhysicalSubContext), watts: *sensor.Value,
	})
}

// chassisPowerRank says whether a power sensor measures its chassis's
// input as a whole, and how directly (lower is better): PhysicalContext
// Chassis, then PowerSubsystem (the DMTF contexts of a chassis total); then
// an input voltage regulator whose Id names the chassis
// (QuirkChassisInputRegulator: an HPE Cray EX node publishes its input as
// ChassisVoltageRegulator0InputPower). An output, a CPU or memory
// aggregate is a part, never the total.
func chassisPowerRank(s powerSensor) (int, bool) {
	sub := strings.ToLower(s.subContext)
	if sub == "output" {
		return 0, false
	}
	switch strings.ToLower(s.context) {
	case "chassis":
		return 0, true
	case "powersubsystem":
		return 1, true
	case "voltageregulator":
		if sub == "input" && strings.HasPrefix(s.id, "Chassis") && strings.HasSuffix(s.id, "InputPower") {
			return 2, true
		}
	}
	return 0, false
}

// finishPower completes one chassis's power after its sensors were read:
// supplies without readings get them from their sensors, the chassis
// total published only as a sensor becomes a reading, then the PSU sums
// and the disagreement marks are made over everything.
func (p *poll) finishPower(ch chassisRef, firstPSU, firstReading int) {
	var mine []powerSensor
	for _, s := range p.powerSensors {
		if s.chassis == ch.ID {
			mine = append(mine, s)
		}
	}
	psus := p.snap.PSUs[firstPSU:]
	for i := range psus {
		psuReadingsFromSensors(&psus[i], mine)
	}
	best, bestRank := -1, 0
	for i, s := range mine {
		if rank, ok := chassisPowerRank(s); ok && (best < 0 || rank < bestRank) {
			best, bestRank = i, rank
		}
	}
	if best >= 0 {
		s := mine[best]
		p.snap.Power = append(p.snap.Power, bmc.PowerReading{Chassis: ch.ID, Source: bmc.PowerFromChassisSensor, Watts: s.watts, Resource: s.uri})
		p.noteProvenance(ch.ID, s.uri)
		if bestRank == 2 {
			p.c.log.Debug("chassis input power from its input regulator sensor", "quirk", QuirkChassisInputRegulator, "uri", s.uri)
		}
	}
	p.addPSUSums(ch, psus)
	markDisagreement(p.snap.Power[firstReading:])
}

// psuReadingsFromSensors gives a present supply that published no input
// or output reading the one of its sensor: a PowerSupply or Rectifier
// power sensor of the same chassis whose Id, less its InputPower or
// OutputPower suffix, names the supply (Rectifier1InputPower for
// "Rectifier 1", PowerSupply2OutputPower for bay 2's "Power Supply 2").
func psuReadingsFromSensors(psu *bmc.PSU, sensors []powerSensor) {
	if psu.State == string(schemas.AbsentState) {
		return
	}
	keys := []string{letterDigits(psu.Name)}
	if n := numberIn(psu.Bay); n != "" {
		keys = append(keys, "powersupply"+n, "psu"+n, "rectifier"+n)
	}
	for _, s := range sensors {
		ctx := strings.ToLower(s.context)
		if ctx != "powersupply" && ctx != "rectifier" {
			continue
		}
		base, dir := s.id, ""
		for _, suffix := range []string{"InputPower", "OutputPower"} {
			if b, ok := strings.CutSuffix(s.id, suffix); ok {
				base, dir = b, strings.TrimSuffix(suffix, "Power")
			}
		}
		if dir == "" || !strings.EqualFold(dir, s.subContext) || !containsKey(keys, letterDigits(base)) {
			continue
		}
		w := s.watts
		var why string
		switch dir {
		case "Input":
			if psu.InputWatts == nil {
				if psu.InputWatts, why = psuReadingCheck("input_watts", &w, psu.CapacityWatts); why != "" {
					psu.Suspect = append(psu.Suspect, why)
				}
			}
		case "Output":
			if psu.OutputWatts == nil {
				if psu.OutputWatts, why = psuReadingCheck("output_watts", &w, psu.CapacityWatts); why != "" {
					psu.Suspect = append(psu.Suspect, why)
				}
			}
		}
	}
}

func containsKey(keys []string, k string) bool {
	if k == "" {
		return false
	}
	for _, x := range keys {
		if x == k {
			return true
		}
	}
	return false
}

// letterDigits is a name's letters and digits, lower case: "Rectifier 1"
// and "Rectifier1" are both "rectifier1".
func letterDigits(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

var numberRe = regexp.MustCompile(`\d+`)

// numberIn is the first number in s, without leading zeros, or "".
func numberIn(s string) string {
	n := numberRe.FindString(s)
	if n == "" {
		return ""
	}
	if t := strings.TrimLeft(n, "0"); t != "" {
		return t
	}
	return "0"
}

// noteProvenance records where a chassis's power reading is measured (a
// Sensor's URI), for placeByProvenance.
func (p *poll) noteProvenance(chassis, source string) {
	if source == "" {
		return
	}
	if p.provenance == nil {
		p.provenance = map[string][]string{}
	}
	p.provenance[chassis] = append(p.provenance[chassis], source)
}

// placeByProvenance applies QuirkNestedByProvenance: a chassis that says
// nothing of what holds it, whose power is measured by a sensor of
// another chassis (a GPU's chassis whose PowerWatts comes from the tray's
// hot-swap controller sensor), is inside that chassis: its power is part
// of the other's, never added to it.
func (p *poll) placeByProvenance(refs []chassisRef) {
	for i := range p.snap.Chassis {
		c := &p.snap.Chassis[i]
		if c.ContainedBy != "" {
			continue
		}
		for _, src := range p.provenance[c.ID] {
			for _, ref := range refs {
				base := strings.TrimSuffix(ref.URI, "/") + "/"
				if ref.ID != c.ID && strings.HasPrefix(src, base) {
					c.ContainedBy = ref.ID
					p.c.log.Debug("chassis placed inside the chassis that measures its power",
						"quirk", QuirkNestedByProvenance, "chassis", c.ID, "inside", ref.ID, "source", src)
				}
			}
		}
	}
}
