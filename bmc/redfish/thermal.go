package redfish

import (
	"context"

	"github.com/stmcginnis/gofish/schemas"

	"github.com/rackpulse/rackpulse/bmc"
)

// readThermal reads one chassis's sensors from the newest schema it
// publishes, and only from that one, so that no sensor is emitted twice:
// the Sensors collection (every reading, with thresholds); else
// ThermalSubsystem (ThermalMetrics temperatures and Fans); else the legacy
// Thermal resource.
func (p *poll) readThermal(ctx context.Context, ch chassisRef) {
	switch l := ch.links; {
	case l.Sensors.ID != "":
		p.readSensors(ctx, ch)
	case l.ThermalSubsystem.ID != "":
		p.readThermalSubsystem(ctx, ch)
	case l.Thermal.ID != "":
		p.readLegacyThermal(ctx, ch)
	}
}

// readSensors reads the chassis Sensors collection.
func (p *poll) readSensors(ctx context.Context, ch chassisRef) {
	ok := p.eachMember(ctx, bmc.PartSensors, ch.links.Sensors.ID, func(uri string, raw []byte) error {
		var s wireSensor
		if err := p.decode(bmc.PartSensors, uri, raw, &s); err != nil {
			return err
		}
		sensor := sensorFromRedfish(ch.ID, firstNonEmpty(s.ODataID, uri), &s)
		p.snap.Sensors = append(p.snap.Sensors, sensor)
		p.notePowerSensor(ch.ID, sensor.Source, &s, sensor)
		p.relate(s.RelatedItem)
		if sensor.Kind == bmc.KindFan {
			p.c.remember(sensor.Source, "Fan", sensor.Name)
		}
		return nil
	})
	if ok {
		p.read(bmc.PartSensors)
	}
}

// sensorFromRedfish maps one Sensor resource.
func sensorFromRedfish(chassis, uri string, s *wireSensor) bmc.Sensor {
	name := firstNonEmpty(s.Name, s.ID, lastSegment(uri))
	kind, unit, factor := sensorKind(string(s.ReadingType), s.ReadingUnits, name, s.PhysicalContext)
	value := s.Reading
	if kind == bmc.KindFan && unit == bmc.UnitRPM && value == nil {
		value = s.SpeedRPM
	}
	return bmc.Sensor{
		Kind:       kind,
		Name:       name,
		Context:    string(s.PhysicalContext),
		Chassis:    chassis,
		Value:      scaled(sensorReading(s.Status.State, value), factor),
		Unit:       unit,
		Thresholds: thresholdsOf(s.Thresholds, factor),
		Health:     healthOf(s.Status.Health),
		State:      string(s.Status.State),
		Source:     uri,
	}
}

// readThermalSubsystem reads ThermalMetrics temperatures and the Fans
// collection. Readings are excerpts: they carry no thresholds.
func (p *poll) readThermalSubsystem(ctx context.Context, ch chassisRef) {
	var sub wireThermalSubsystem
	if err := p.c.getInto(ctx, bmc.PartThermal, ch.links.ThermalSubsystem.ID, &sub); err != nil {
		p.fail(bmc.PartThermal, err)
		return
	}
	read := true
	if uri := sub.ThermalMetrics.ID; uri != "" {
		var tm wireThermalMetrics
		if err := p.c.getInto(ctx, bmc.PartThermal, uri, &tm); err != nil {
			p.fail(bmc.PartThermal, err)
			read = false
		} else {
			for _, t := range tm.TemperatureReadingsCelsius {
				p.snap.Sensors = append(p.snap.Sensors, bmc.Sensor{
					Kind:    bmc.KindTemperature,
					Name:    firstNonEmpty(t.DeviceName, lastSegment(t.DataSourceURI)),
					Context: string(t.PhysicalContext),
					Chassis: ch.ID,
					Value:   t.Reading,
					Unit:    bmc.UnitCelsius,
					Source:  firstNonEmpty(t.DataSourceURI, uri),
				})
			}
		}
	}
	if uri := sub.Fans.ID; uri != "" {
		p.eachMember(ctx, bmc.PartThermal, uri, func(uri string, raw []byte) error {
			var f wireFan
			if err := p.decode(bmc.PartThermal, uri, raw, &f); err != nil {
				return err
			}
			s := bmc.Sensor{
				Kind:    bmc.KindFan,
				Name:    firstNonEmpty(f.Name, f.ID, lastSegment(uri)),
				Context: firstNonEmpty(string(f.PhysicalContext), bmc.ContextFan),
				Chassis: ch.ID,
				Unit:    bmc.UnitPercent,
				Value:   sensorReading(f.Status.State, f.SpeedPercent.Reading),
				Health:  healthOf(f.Status.Health),
				State:   string(f.Status.State),
				Source:  firstNonEmpty(f.SpeedPercent.DataSourceURI, f.ODataID, uri),
			}
			if s.Value == nil && f.SpeedPercent.SpeedRPM != nil {
				s.Unit, s.Value = bmc.UnitRPM, sensorReading(f.Status.State, f.SpeedPercent.SpeedRPM)
			}
			p.snap.Sensors = append(p.snap.Sensors, s)
			return nil
		})
	}
	if read {
		p.read(bmc.PartThermal)
	}
}

// readLegacyThermal reads the deprecated Thermal resource.
func (p *poll) readLegacyThermal(ctx context.Context, ch chassisRef) {
	uri := ch.links.Thermal.ID
	var th wireThermal
	body, err := p.c.get(ctx, uri)
	if err == nil {
		err = p.decode(bmc.PartThermal, uri, body, &th)
	}
	if err != nil {
		p.fail(bmc.PartThermal, err)
		return
	}
	for _, t := range th.Temperatures {
		p.snap.Sensors = append(p.snap.Sensors, bmc.Sensor{
			Kind:       bmc.KindTemperature,
			Name:       firstNonEmpty(t.Name, t.MemberID),
			Context:    string(t.PhysicalContext),
			Chassis:    ch.ID,
			Value:      sensorReading(t.Status.State, t.ReadingCelsius),
			Unit:       bmc.UnitCelsius,
			Thresholds: legacyThresholds(t.LowerThresholdNonCritical, t.LowerThresholdCritical, t.UpperThresholdNonCritical, t.UpperThresholdCritical),
			Health:     healthOf(t.Status.Health),
			State:      string(t.Status.State),
			Source:     firstNonEmpty(t.ODataID, uri),
		})
		p.relate(t.RelatedItem)
	}
	for _, f := range th.Fans {
		unit := bmc.UnitRPM
		if f.ReadingUnits == schemas.PercentReadingUnits {
			unit = bmc.UnitPercent
		}
		p.snap.Sensors = append(p.snap.Sensors, bmc.Sensor{
			Kind:       bmc.KindFan,
			Name:       firstNonEmpty(f.Name, f.FanName, f.MemberID),
			Context:    firstNonEmpty(string(f.PhysicalContext), bmc.ContextFan),
			Chassis:    ch.ID,
			Value:      sensorReading(f.Status.State, f.Reading),
			Unit:       unit,
			Thresholds: legacyThresholds(f.LowerThresholdNonCritical, f.LowerThresholdCritical, f.UpperThresholdNonCritical, f.UpperThresholdCritical),
			Health:     healthOf(f.Status.Health),
			State:      string(f.Status.State),
			Source:     firstNonEmpty(f.ODataID, uri),
		})
	}
	p.read(bmc.PartThermal)
}
