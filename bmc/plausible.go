package bmc

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Plausibility bounds: what a reading can physically be in a datacentre,
// whatever the hardware. They are not alarm thresholds: a fan at 0 RPM, a
// rail at 0 V, a CPU at 110 °C are real readings (and faults) and pass. A
// value outside its bound, or NaN or ±Inf anywhere, is not a reading but a
// broken or hostile BMC's (a signed byte read as unsigned, a placeholder,
// a float overflow), and SetAsideImplausible sets it aside before anything
// downstream sums, stores or judges it. docs/snapshot.md lists the table.
const (
	// MinCelsius and MaxCelsius bound every temperature (sensors, CPU
	// temperature_c, thresholds). 200 °C is above anything silicon, a VRM
	// or a supply survives (thermal trips sit at 100-150 °C); IPMI's 255
	// placeholder falls outside. The floor is not the coldest inlet
	// (-40 °C) but the deepest thermal margin: BMCs publish margins as
	// temperatures (Intel's "P1 Therm Margin" reads -71 °C: 71 °C below
	// the throttle point), which reach about -165 °C for a part at
	// -40 °C under a 125 °C throttle point; -200 °C leaves room, and what
	// lies below it (absolute zero is -273.15 °C) is no reading.
	MinCelsius = -200.0
	MaxCelsius = 200.0
	// MaxRPM bounds fan speeds: the fastest server fans (40 mm, 1U) turn
	// under 30 000 RPM.
	MaxRPM = 50_000.0
	// MaxPercent bounds percentages: fan duty, humidity, a drive's life
	// left, a battery's health; none exceeds 100 % or falls below 0 %.
	MaxPercent = 100.0
	// MaxVolts bounds voltages either way: rails (±12 V, 3.3 V), line
	// input (100-277 V AC, 380 V DC, -48 V DC, 480 V three-phase).
	MaxVolts = 600.0
	// MaxAmps bounds currents either way: a rack-scale 54 V busbar draws
	// about 2 500 A; a battery may discharge (negative).
	MaxAmps = 5_000.0
	// MaxServerWatts bounds a server's power readings (power_readings,
	// power sensors): the largest enclosures one BMC measures (a blade
	// chassis, a rack-scale GPU system's shelves) draw well under 250 kW.
	MaxServerWatts = 250_000.0
	// MaxPSUWatts bounds a single supply's input, output and rating:
	// server supplies are rated up to about 5.5 kW, power shelves up to
	// about 33 kW.
	MaxPSUWatts = 50_000.0
	// MaxRackWatts bounds a rack's power: the densest racks built draw
	// a few hundred kW; 2 MW leaves room for the next generations.
	MaxRackWatts = 2_000_000.0
	// PSUOverRating is how far above its own rating a supply's reading
	// may be: input is output over efficiency (at least 80 %, 80 PLUS),
	// and over-current protection trips at 110-125 % of the rating.
	PSUOverRating = 1.25
	// MaxKWh bounds energy counters: 250 kW for 40 years is under 1e8 kWh.
	MaxKWh = 1e9
	// MaxHertz bounds frequencies: line frequency (50/60 Hz) up to CPU
	// clocks (under 10 GHz).
	MaxHertz = 1e10
	// MaxIntervalMin bounds a BMC's averaging window: a year.
	MaxIntervalMin = 366 * 24 * 60.0
)

// Bound is the plausible range of one kind of reading: Min ≤ v ≤ Max, in
// Unit. NaN and ±Inf are never within a bound.
type Bound struct {
	Min, Max float64
	Unit     string
}

// UnitBound returns the bound of a sensor reading in one of the model's
// units (and of its thresholds); ok is false for a unit with none beyond
// being a finite number.
func UnitBound(unit string) (b Bound, ok bool) {
	switch unit {
	case UnitCelsius:
		return Bound{MinCelsius, MaxCelsius, unit}, true
	case UnitRPM:
		return Bound{0, MaxRPM, unit}, true
	case UnitPercent:
		return Bound{0, MaxPercent, unit}, true
	case UnitVolt:
		return Bound{-MaxVolts, MaxVolts, unit}, true
	case UnitAmpere:
		return Bound{-MaxAmps, MaxAmps, unit}, true
	case UnitWatt:
		return ServerWattsBound(), true
	case UnitKWh:
		return Bound{0, MaxKWh, unit}, true
	case UnitHertz:
		return Bound{0, MaxHertz, unit}, true
	}
	return Bound{math.Inf(-1), math.Inf(1), unit}, false
}

// ServerWattsBound is the bound of a server's (or a chassis's) power.
func ServerWattsBound() Bound { return Bound{0, MaxServerWatts, UnitWatt} }

// PSUWattsBound is the bound of one supply's input, output and rating.
func PSUWattsBound() Bound { return Bound{0, MaxPSUWatts, UnitWatt} }

// Check says why v is not plausible within b ("+Inf W is not a number",
// "-300 Cel below the plausible minimum -60 Cel"), or "" when it is.
func (b Bound) Check(v float64) string {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return withUnit(v, b.Unit) + " is not a number"
	case v < b.Min:
		return withUnit(v, b.Unit) + " below the plausible minimum " + withUnit(b.Min, b.Unit)
	case v > b.Max:
		return withUnit(v, b.Unit) + " above the plausible maximum " + withUnit(b.Max, b.Unit)
	}
	return ""
}

// Finite reports whether v is a number: neither NaN nor ±Inf.
func Finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

func withUnit(v float64, unit string) string {
	s := strconv.FormatFloat(v, 'g', -1, 64)
	if math.IsInf(v, 1) {
		s = "+Inf"
	}
	if unit == "" {
		return s
	}
	return s + " " + unit
}

// SetAsideImplausible checks every reading of the Snapshot against its
// bound, in place, and returns how many it set aside. A value set aside
// becomes absent (nil; a size or core count 0, meaning unknown) and its
// reason is listed in the part's Suspect, as the collectors' own quirk
// guards list theirs; each is also recorded once as a quirk of the poll
// (Poll.Quirks), so that probe and /metrics show it:
//
//   - a sensor's value and thresholds (UnitBound); a sensor whose value is
//     set aside is not OK: its health becomes unknown unless the BMC said
//     Warning or Critical;
//   - a power reading's watts (ServerWattsBound): a finite one stays with
//     the reason in its Suspect and must never be used (power never
//     does); NaN or ±Inf, which JSON cannot carry, is left out of the
//     Snapshot, the quirk saying so; its capacity and averaging window;
//   - a PSU's rating, input and output (PSUWattsBound, and at most
//     PSUOverRating times a plausible rating), and input volts;
//   - a CPU's temperature and core count; DIMM and drive error counters
//     (never negative), sizes, a drive's life left (0-100 %).
//
// It only ever replaces a field of the Snapshot's own elements, never what
// a pointer points at, so values a collector shares with an earlier
// Snapshot are not changed under a reader; the DIMMs and drives, which
// may be a collector's kept list itself (shared with earlier Snapshots),
// are copied before one of them is changed. Checking a Snapshot again sets
// nothing more aside.
func SetAsideImplausible(s *Snapshot) int {
	c := plausibility{s: s}
	for i := range s.Sensors {
		c.sensor(&s.Sensors[i])
	}
	c.powerReadings()
	for i := range s.PSUs {
		c.psu(&s.PSUs[i])
	}
	for i := range s.CPUs {
		c.cpu(&s.CPUs[i])
	}
	s.DIMMs = checkShared(&c, s.DIMMs, c.dimm)
	s.Drives = checkShared(&c, s.Drives, c.drive)
	return c.n
}

// checkShared runs check on each element of a list that may be shared,
// and returns it as it was when nothing was set aside, else a copy with
// the elements changed.
func checkShared[T any](c *plausibility, list []T, check func(*T)) []T {
	copied := false
	for i := range list {
		x, before := list[i], c.n
		check(&x)
		if c.n == before {
			continue
		}
		if !copied {
			list, copied = slices.Clone(list), true
		}
		list[i] = x
	}
	return list
}

// plausibility is one run of SetAsideImplausible.
type plausibility struct {
	s *Snapshot
	n int
}

// note records one value set aside: the reason in the part's Suspect, the
// quirk in the poll report.
func (c *plausibility) note(part Part, resource, property, seen, why string, suspect *[]string) {
	c.n++
	if suspect != nil {
		*suspect = append(slices.Clip(*suspect), property+" "+why)
	}
	c.s.Poll.AddQuirk(Quirk{Part: part, Resource: resource, Property: property, Seen: seen, Action: "set aside: " + why})
}

// float checks one optional value against b; a value set aside becomes nil.
func (c *plausibility) float(v **float64, b Bound, part Part, resource, property string, suspect *[]string) bool {
	if *v == nil {
		return true
	}
	why := b.Check(**v)
	if why == "" {
		return true
	}
	c.note(part, resource, property, withUnit(**v, b.Unit), why, suspect)
	*v = nil
	return false
}

// count checks one optional counter: never negative.
func (c *plausibility) count(v **int64, part Part, resource, property string, suspect *[]string) {
	if *v == nil || **v >= 0 {
		return
	}
	seen := strconv.FormatInt(**v, 10)
	c.note(part, resource, property, seen, seen+" is negative: a count never is", suspect)
	*v = nil
}

// size checks a size or count where 0 means unknown: never negative.
func (c *plausibility) size(v *int64, part Part, resource, property string, suspect *[]string) {
	if *v >= 0 {
		return
	}
	seen := strconv.FormatInt(*v, 10)
	c.note(part, resource, property, seen, seen+" is negative", suspect)
	*v = 0
}

func (c *plausibility) sensorPart(sn *Sensor) Part {
	switch {
	case c.s.Protocol == ProtocolIPMI:
		return PartSDR
	case strings.Contains(sn.Source, "/Sensors"):
		return PartSensors
	case sn.Kind == KindTemperature || sn.Kind == KindFan || sn.Kind == KindHumidity:
		return PartThermal
	}
	return PartPower
}

func (c *plausibility) sensor(sn *Sensor) {
	b, bounded := UnitBound(sn.Unit)
	if !bounded && sn.Value == nil && sn.Thresholds == (Thresholds{}) {
		return
	}
	part := c.sensorPart(sn)
	resource := orName(sn.Source, "sensor "+sn.Name)
	if !c.float(&sn.Value, b, part, resource, "value", &sn.Suspect) && sn.Health == HealthOK {
		// A reading that is not one says nothing about the part's health.
		sn.Health = HealthUnknown
	}
	t := &sn.Thresholds
	c.float(&t.LowerCritical, b, part, resource, "thresholds.lower_critical", &sn.Suspect)
	c.float(&t.LowerWarning, b, part, resource, "thresholds.lower_warning", &sn.Suspect)
	c.float(&t.UpperWarning, b, part, resource, "thresholds.upper_warning", &sn.Suspect)
	c.float(&t.UpperCritical, b, part, resource, "thresholds.upper_critical", &sn.Suspect)
}

// powerReadings checks the power readings: watts that are not a number
// are left out, implausible ones marked suspect (never used).
func (c *plausibility) powerReadings() {
	bound := ServerWattsBound()
	dropped := 0
	for i := range c.s.Power {
		r := &c.s.Power[i]
		resource := orName(r.Resource, string(r.Source)+" of chassis "+r.Chassis)
		property := "watts (" + string(r.Source) + ")"
		if !Finite(r.Watts) {
			dropped++
			continue
		}
		if why := bound.Check(r.Watts); why != "" && !strings.Contains(r.Suspect, why) {
			c.n++
			r.Suspect = joinReasons(r.Suspect, why)
			c.s.Poll.AddQuirk(Quirk{Part: PartPower, Resource: resource, Property: property,
				Seen: withUnit(r.Watts, UnitWatt), Action: "set aside: " + why})
		}
		if r.CapacityWatts != nil && *r.CapacityWatts == 0 {
			r.CapacityWatts = nil // 0 is "unset" on many BMCs, not a rating
		}
		c.float(&r.CapacityWatts, bound, PartPower, resource, "capacity_watts", nil)
		c.float(&r.IntervalMin, Bound{0, MaxIntervalMin, "min"}, PartPower, resource, "interval_min", nil)
	}
	if dropped == 0 {
		return
	}
	// JSON cannot carry NaN or ±Inf: such a reading is left out, the
	// quirk saying so. The Snapshot gets a slice of its own.
	kept := make([]PowerReading, 0, len(c.s.Power)-dropped)
	for _, r := range c.s.Power {
		if Finite(r.Watts) {
			kept = append(kept, r)
			continue
		}
		c.n++
		c.s.Poll.AddQuirk(Quirk{Part: PartPower, Resource: orName(r.Resource, string(r.Source)+" of chassis "+r.Chassis),
			Property: "watts (" + string(r.Source) + ")", Seen: withUnit(r.Watts, UnitWatt), Action: "left out: not a number"})
	}
	c.s.Power = kept
}

func (c *plausibility) psu(p *PSU) {
	resource := orName(p.Source, "PSU bay "+p.Bay)
	bound := PSUWattsBound()
	if p.CapacityWatts != nil && *p.CapacityWatts == 0 {
		p.CapacityWatts = nil // 0 is "unset" on many BMCs, not a rating
	}
	c.float(&p.CapacityWatts, bound, PartPower, resource, "capacity_watts", &p.Suspect)
	for _, f := range []struct {
		v    **float64
		name string
	}{{&p.InputWatts, "input_watts"}, {&p.OutputWatts, "output_watts"}} {
		if !c.float(f.v, bound, PartPower, resource, f.name, &p.Suspect) || *f.v == nil || p.CapacityWatts == nil {
			continue
		}
		if limit := *p.CapacityWatts * PSUOverRating; **f.v > limit {
			why := fmt.Sprintf("%s above %g × the rating %s", withUnit(**f.v, UnitWatt), PSUOverRating, withUnit(*p.CapacityWatts, UnitWatt))
			c.note(PartPower, resource, f.name, withUnit(**f.v, UnitWatt), why, &p.Suspect)
			*f.v = nil
		}
	}
	volts, _ := UnitBound(UnitVolt)
	c.float(&p.InputVolts, volts, PartPower, resource, "input_volts", &p.Suspect)
}

func (c *plausibility) cpu(p *CPU) {
	resource := "processor " + p.Socket
	celsius, _ := UnitBound(UnitCelsius)
	c.float(&p.TemperatureC, celsius, PartCPU, resource, "temperature_c", &p.Suspect)
	if p.Cores < 0 {
		seen := strconv.Itoa(p.Cores)
		c.note(PartCPU, resource, "cores", seen, seen+" is negative", &p.Suspect)
		p.Cores = 0
	}
}

func (c *plausibility) dimm(d *DIMM) {
	resource := orName(d.Source, "DIMM "+d.Slot)
	c.count(&d.CorrectableErrors, PartMemory, resource, "correctable_errors", &d.Suspect)
	c.count(&d.UncorrectableErrors, PartMemory, resource, "uncorrectable_errors", &d.Suspect)
	c.size(&d.SizeMiB, PartMemory, resource, "size_mib", &d.Suspect)
}

func (c *plausibility) drive(d *Drive) {
	resource := orName(d.Source, "drive "+d.Bay)
	percent, _ := UnitBound(UnitPercent)
	c.float(&d.LifeLeftPercent, percent, PartStorage, resource, "life_left_percent", &d.Suspect)
	c.count(&d.CorrectableErrors, PartStorage, resource, "correctable_errors", &d.Suspect)
	c.count(&d.UncorrectableErrors, PartStorage, resource, "uncorrectable_errors", &d.Suspect)
	c.count(&d.MediaErrors, PartStorage, resource, "media_errors", &d.Suspect)
	c.size(&d.CapacityBytes, PartStorage, resource, "capacity_bytes", &d.Suspect)
}

func joinReasons(have, more string) string {
	if have == "" {
		return more
	}
	return have + "; " + more
}

func orName(s, name string) string {
	if s != "" {
		return s
	}
	return name
}
