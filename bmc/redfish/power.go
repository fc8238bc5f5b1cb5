package redfish

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/stmcginnis/gofish/schemas"

	"github.com/rackpulse/rackpulse/bmc"
)

// readPower reads one chassis's power: PSUs from PowerSubsystem where the
// chassis has one (else from the legacy Power resource), PowerControl from
// the legacy Power resource and EnvironmentMetrics PowerWatts. Every total
// is reported with its provenance; the PSU sums are made by finishPower,
// once the chassis's sensors are read too.
func (p *poll) readPower(ctx context.Context, ch chassisRef) {
	l := ch.links
	if l.Power.ID == "" && l.PowerSubsystem.ID == "" && l.EnvironmentMetrics.ID == "" {
		return
	}
	read := false
	if l.Power.ID != "" && p.readLegacyPower(ctx, ch) {
		read = true
	}
	if l.PowerSubsystem.ID != "" && p.readPowerSubsystem(ctx, ch) {
		read = true
	}
	if l.EnvironmentMetrics.ID != "" && p.readEnvironmentPower(ctx, ch) {
		read = true
	}
	if read {
		p.read(bmc.PartPower)
	}
}

// readLegacyPower reads the deprecated Power resource: PowerControl always,
// PowerSupplies when there is no PowerSubsystem, Voltages when there is no
// Sensors collection.
func (p *poll) readLegacyPower(ctx context.Context, ch chassisRef) bool {
	uri := ch.links.Power.ID
	body, err := p.c.get(ctx, uri)
	if err != nil {
		p.fail(bmc.PartPower, err)
		return false
	}
	pw, patched, err := decodeLegacyPower(p.c.quirks, uri, body)
	if err != nil {
		p.fail(bmc.PartPower, err)
		return false
	}
	if patched {
		p.c.log.Debug("legacy Power without PowerControl", "quirk", QuirkLegacyPowerWithoutPowerControl, "uri", uri)
	}
	for i, pc := range pw.PowerControl {
		watts := sensorReading(pc.Status.State, pc.PowerConsumedWatts)
		if watts == nil {
			continue
		}
		r := bmc.PowerReading{
			Chassis:       ch.ID,
			Source:        bmc.PowerFromPowerControl,
			Watts:         *watts,
			CapacityWatts: positive(pc.PowerCapacityWatts),
			Resource:      firstNonEmpty(pc.ODataID, fmt.Sprintf("%s#/PowerControl/%d", uri, i)),
			IntervalMin:   pc.PowerMetrics.IntervalInMin,
		}
		p.snap.Power = append(p.snap.Power, r)
	}
	if ch.links.PowerSubsystem.ID == "" {
		bays := map[string]string{}
		for _, ps := range pw.PowerSupplies {
			psu := legacyPSU(ch.ID, ps)
			psu.Source = firstNonEmpty(ps.ODataID, ch.URI)
			p.snap.PSUs = append(p.snap.PSUs, psu)
			p.c.remember(ps.ODataID, "PSU", psu.Bay)
			bays[ps.ODataID] = psu.Bay
		}
		for _, g := range pw.Redundancy {
			p.addRedundancyGroup(ch.ID, g.Name, g.Mode, g.MinNumNeeded, g.MaxNumSupported, g.RedundancySet, g.Status, bays)
			p.snap.RedundancyGroups[len(p.snap.RedundancyGroups)-1].Enabled = g.RedundancyEnabled
		}
	}
	if ch.links.Sensors.ID == "" {
		for _, v := range pw.Voltages {
			p.snap.Sensors = append(p.snap.Sensors, bmc.Sensor{
				Kind:    bmc.KindVoltage,
				Name:    v.Name,
				Context: string(v.PhysicalContext),
				Chassis: ch.ID,
				Value:   sensorReading(v.Status.State, v.ReadingVolts),
				Unit:    bmc.UnitVolt,
				Thresholds: legacyThresholds(v.LowerThresholdNonCritical, v.LowerThresholdCritical,
					v.UpperThresholdNonCritical, v.UpperThresholdCritical),
				Health: healthOf(v.Status.Health),
				State:  string(v.Status.State),
				Source: firstNonEmpty(v.ODataID, uri),
			})
		}
	}
	return true
}

// legacyPSU maps a PowerSupplies entry of the legacy Power resource.
func legacyPSU(chassis string, ps legacyPowerSupply) bmc.PSU {
	psu := bmc.PSU{
		Chassis:       chassis,
		Bay:           firstNonEmpty(hpeBayNumber(ps.OEM), bayOf(ps.Location, ps.Name, ps.MemberID, ps.ID)),
		Name:          ps.Name,
		Model:         ps.Model,
		Serial:        ps.SerialNumber,
		CapacityWatts: positive(ps.PowerCapacityWatts),
		InputVolts:    sensorReading(ps.Status.State, ps.LineInputVoltage),
		Health:        healthOf(ps.Status.Health),
		State:         string(ps.Status.State),
	}
	input := sensorReading(ps.Status.State, ps.PowerInputWatts)
	output := sensorReading(ps.Status.State, firstPtr(ps.PowerOutputWatts, ps.LastPowerOutputWatts))
	psu.FailurePredicted = predictsFailure(ps.Status)
	applyPSUReadings(&psu, input, output)
	return psu
}

// readPowerSubsystem reads PowerSubsystem, its PowerSupplies and each
// supply's PowerSupplyMetrics.
func (p *poll) readPowerSubsystem(ctx context.Context, ch chassisRef) bool {
	var sub wirePowerSubsystem
	if err := p.c.getInto(ctx, bmc.PartPower, ch.links.PowerSubsystem.ID, &sub); err != nil {
		p.fail(bmc.PartPower, err)
		return false
	}
	if sub.PowerSupplies.ID == "" {
		return true
	}
	bays := map[string]string{}
	// Two levels: each supply with its Metrics inline, where the service
	// expands that deep; else the metrics are read from their own link.
	ok := p.eachMemberExpanded(ctx, bmc.PartPower, sub.PowerSupplies.ID, 2, func(uri string, raw []byte) error {
		var unit wirePowerSupply
		if err := p.decode(bmc.PartPower, uri, raw, &unit); err != nil {
			return err
		}
		psu := bmc.PSU{
			Chassis:          ch.ID,
			Bay:              bayOf(unit.Location, unit.Name, "", firstNonEmpty(unit.ID, lastSegment(uri))),
			Name:             unit.Name,
			Model:            unit.Model,
			Serial:           unit.SerialNumber,
			CapacityWatts:    positive(unit.PowerCapacityWatts),
			Health:           healthOf(unit.Status.Health),
			State:            string(unit.Status.State),
			FailurePredicted: predictsFailure(unit.Status),
			LineInputStatus:  string(unit.LineInputStatus),
			Source:           firstNonEmpty(unit.ODataID, uri),
		}
		var input, output *float64
		var metricsErr error
		if m := unit.Metrics; m.ODataID != "" && !isAbsentState(unit.Status.State) {
			if !m.inline() {
				metricsErr = p.c.getInto(ctx, bmc.PartPower, m.ODataID, &m)
			}
			if metricsErr == nil {
				input = sensorReading(m.Status.State, m.InputPowerWatts.Reading)
				output = sensorReading(m.Status.State, m.OutputPowerWatts.Reading)
				psu.InputVolts = sensorReading(m.Status.State, m.InputVoltage.Reading)
			}
		}
		applyPSUReadings(&psu, input, output)
		p.snap.PSUs = append(p.snap.PSUs, psu)
		p.c.remember(firstNonEmpty(unit.ODataID, uri), "PSU", psu.Bay)
		bays[firstNonEmpty(unit.ODataID, uri)] = psu.Bay
		return metricsErr
	})
	for _, g := range sub.PowerSupplyRedundancy {
		p.addRedundancyGroup(ch.ID, g.GroupName, g.RedundancyType, g.MinNeededInGroup, g.MaxSupportedInGroup, g.RedundancyGroup, g.Status, bays)
	}
	return ok
}

// applyPSUReadings sets a PSU's readings through the PSU quirks: a
// placeholder bay gets none, and a reading at or above the capacity is set
// aside as suspect.
func applyPSUReadings(psu *bmc.PSU, input, output *float64) {
	if isPlaceholderPSU(psu.Name, psu.Model, psu.Serial, input, output, psu.CapacityWatts) {
		if psu.State == "" || psu.State == string(schemas.EnabledState) {
			psu.State = string(schemas.AbsentState)
		}
		psu.InputVolts = nil
		return
	}
	var why string
	if psu.InputWatts, why = psuReadingCheck("input_watts", input, psu.CapacityWatts); why != "" {
		psu.Suspect = append(psu.Suspect, why)
	}
	if psu.OutputWatts, why = psuReadingCheck("output_watts", output, psu.CapacityWatts); why != "" {
		psu.Suspect = append(psu.Suspect, why)
	}
}

// predictsFailure reads a predicted failure from a Status's Conditions (the
// PowerSupply schema has no FailurePredicted property).
func predictsFailure(st schemas.Status) bool {
	for _, c := range st.Conditions {
		id := strings.ToLower(c.MessageID)
		if strings.Contains(id, "predictivefailure") || strings.Contains(id, "failurepredicted") {
			return true
		}
	}
	return false
}

// readEnvironmentPower reads the chassis EnvironmentMetrics PowerWatts.
func (p *poll) readEnvironmentPower(ctx context.Context, ch chassisRef) bool {
	uri := ch.links.EnvironmentMetrics.ID
	var env wireEnvironmentMetrics
	if err := p.c.getInto(ctx, bmc.PartPower, uri, &env); err != nil {
		p.fail(bmc.PartPower, err)
		return false
	}
	if env.PowerWatts.Reading != nil {
		p.snap.Power = append(p.snap.Power, bmc.PowerReading{
			Chassis:  ch.ID,
			Source:   bmc.PowerFromEnvironmentMetrics,
			Watts:    *env.PowerWatts.Reading,
			Resource: uri,
		})
		p.noteProvenance(ch.ID, env.PowerWatts.DataSourceURI)
	}
	return true
}

// addPSUSums adds the sum of the PSUs' input and of their output readings.
// A sum over only some of the present supplies is marked suspect.
func (p *poll) addPSUSums(ch chassisRef, psus []bmc.PSU) {
	for _, src := range []bmc.PowerSource{bmc.PowerFromPSUInput, bmc.PowerFromPSUOutput} {
		var sum float64
		var have, present int
		for _, psu := range psus {
			if psu.State == string(schemas.AbsentState) {
				continue
			}
			present++
			v := psu.InputWatts
			if src == bmc.PowerFromPSUOutput {
				v = psu.OutputWatts
			}
			if v != nil {
				sum += *v
				have++
			}
		}
		if have == 0 {
			continue
		}
		r := bmc.PowerReading{Chassis: ch.ID, Source: src, Watts: sum, Resource: firstNonEmpty(ch.links.PowerSubsystem.ID, ch.links.Power.ID)}
		if have < present {
			r.Suspect = fmt.Sprintf("sum over %d of %d present PSUs", have, present)
		}
		p.snap.Power = append(p.snap.Power, r)
	}
}

// markDisagreement applies QuirkPowerTotalsDisagree to one chassis's power
// readings: input-side totals further than powerDisagreeTolerance from their
// median are marked suspect, and so is a PSU output sum above it (output
// cannot exceed input). All readings stay; the power package chooses.
func markDisagreement(readings []bmc.PowerReading) {
	var inputs []float64
	for _, r := range readings {
		if r.Source != bmc.PowerFromPSUOutput && r.Suspect == "" {
			inputs = append(inputs, r.Watts)
		}
	}
	if len(inputs) < 2 {
		return
	}
	slices.Sort(inputs)
	median := inputs[len(inputs)/2]
	if len(inputs)%2 == 0 {
		median = (inputs[len(inputs)/2-1] + inputs[len(inputs)/2]) / 2
	}
	if median <= 0 {
		return
	}
	for i := range readings {
		r := &readings[i]
		if r.Suspect != "" {
			continue
		}
		off := (r.Watts - median) / median
		switch {
		case r.Source == bmc.PowerFromPSUOutput && off > powerDisagreeTolerance:
			r.Suspect = fmt.Sprintf("PSU output %g W above the input median %g W", r.Watts, median)
		case r.Source != bmc.PowerFromPSUOutput && math.Abs(off) > powerDisagreeTolerance:
			r.Suspect = fmt.Sprintf("%g W is %.0f%% off the median %g W of %d sources", r.Watts, off*100, median, len(inputs))
		}
	}
}

// positive drops a zero or negative capacity (unset on many BMCs).
func positive(v *float64) *float64 {
	if v == nil || *v <= 0 {
		return nil
	}
	return v
}

// firstPtr returns the first non-nil pointer.
func firstPtr(vs ...*float64) *float64 {
	for _, v := range vs {
		if v != nil {
			return v
		}
	}
	return nil
}

// addRedundancyGroup records a PSU redundancy group the BMC publishes,
// naming its members by the bays of the supplies read (bays: URI → bay).
func (p *poll) addRedundancyGroup(chassis, name, mode string, minNeeded, maxSupported *int, members []odataID, st schemas.Status, bays map[string]string) {
	g := bmc.RedundancyGroup{Chassis: chassis, Name: name, Mode: mode, Health: healthOf(st.Health), State: string(st.State), Bays: []string{}}
	if minNeeded != nil {
		g.MinNeeded = *minNeeded
	}
	if maxSupported != nil {
		g.MaxSupported = *maxSupported
	}
	for _, m := range members {
		if bay, ok := bays[m.ID]; ok {
			g.Bays = append(g.Bays, bay)
		}
	}
	p.snap.RedundancyGroups = append(p.snap.RedundancyGroups, g)
}
