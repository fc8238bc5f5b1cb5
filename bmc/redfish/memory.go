package redfish

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/rackpulse/rackpulse/bmc"
)

// readMemory reads every system's DIMMs and, where published, their
// MemoryMetrics error counters. It runs on the slow cadence; when it fails
// entirely, the last DIMMs read are carried over. Between the reads of the
// DIMM resources themselves (dimmResourcesDue) it reads only the counters
// of the DIMMs last read (readMemoryCounters).
func (p *poll) readMemory(ctx context.Context, systems []systemRef) {
	if !p.dimmResourcesDue(systems) {
		p.readMemoryCounters(ctx)
		return
	}
	var dimms []bmc.DIMM
	var metrics []string
	anyRead, anyFailed := false, false
	for _, sys := range systems {
		if sys.links.Memory.ID == "" {
			continue
		}
		ok := eachTaggedMember(ctx, p, bmc.PartMemory, sys.links.Memory.ID, func(uri string, m *wireMemory) error {
			dimm := dimmFromRedfish(sys.ID, m)
			dimm.Source = firstNonEmpty(m.ODataID, uri)
			p.c.remember(firstNonEmpty(m.ODataID, uri), "DIMM", dimm.Slot)
			var metricsURI string
			var metricsErr error
			if m.Metrics.ID != "" && !isAbsentState(m.Status.State) {
				metricsURI = m.Metrics.ID
				var mm wireMemoryMetrics
				if err := getTaggedInto(ctx, p, bmc.PartMemory, metricsURI, &mm); err != nil {
					metricsErr = err
				} else {
					dimm.CorrectableErrors, dimm.UncorrectableErrors = eccCounts(&mm)
				}
			}
			share(&metricsURI)
			dimms, metrics = append(dimms, dimm), append(metrics, metricsURI)
			return metricsErr
		})
		anyRead = anyRead || ok
		// A member that fails is reported each time the part is read; only
		// a collection that cannot be read makes the part due again next poll.
		anyFailed = anyFailed || !ok
	}
	if p.finishMemory(dimms, metrics, anyRead, anyFailed) {
		p.c.dimmsReadAt = p.snap.Time
	} else {
		// The DIMMs of a collection that could not be read are not known:
		// the next read (next poll) lists them again.
		p.c.dimmsReadAt = time.Time{}
	}
}

// finishMemory puts the DIMMs a memory read gave in the snapshot and keeps
// them, with their MemoryMetrics URIs, for the polls until the next read;
// it reports whether the read was complete. A read that read nothing
// carries the last DIMMs over; one that failed in part keeps what it read
// and leaves memory due at the next poll.
func (p *poll) finishMemory(dimms []bmc.DIMM, metrics []string, anyRead, anyFailed bool) bool {
	if !anyRead && anyFailed && p.c.memory.ok {
		p.carry(bmc.PartMemory, true)
		p.snap.DIMMs = withKept(p.snap.DIMMs, p.c.memory.value)
		return false
	}
	if dimms == nil {
		dimms = []bmc.DIMM{}
	}
	dimms = bmc.CompactDIMMs(dimms) // kept until the next slow read
	p.snap.DIMMs = withKept(p.snap.DIMMs, dimms)
	if anyRead {
		p.read(bmc.PartMemory)
	}
	p.c.dimmMetrics = metrics
	if !anyFailed {
		p.c.memory.store(dimms, p.snap.Time)
		p.complete(bmc.PartMemory)
		return true
	}
	if anyRead {
		// Keep what was read for the next polls, but try again next poll.
		p.c.memory.value = dimms
	}
	return false
}

// dimmResourcesDue reports whether a memory read reads the DIMM resources
// themselves, not only their MemoryMetrics. Besides its status, a DIMM
// resource holds what does not change (slot, size, part and serial
// numbers), and a change of its status shows first in its system's
// MemorySummary, read every poll (the health watch then reads memory at
// once, in full). So the resources are read on the static cadence, at a
// change of a system's health, when the last read was not complete, and
// at every memory read of a BMC whose systems publish no MemorySummary
// status or whose DIMMs publish no MemoryMetrics; their counters on the
// slow cadence.
func (p *poll) dimmResourcesDue(systems []systemRef) bool {
	c := p.c
	if !c.memory.ok || c.dimmsReadAt.IsZero() || c.health.due(bmc.PartMemory) || len(c.dimmMetrics) != len(c.memory.value) ||
		c.cadenceDue(p.snap.Time, c.dimmsReadAt, true, c.ep.Cadence.Static, c.staticPhase) ||
		!slices.ContainsFunc(c.dimmMetrics, func(uri string) bool { return uri != "" }) {
		return true
	}
	for _, sys := range systems {
		if sys.links.Memory.ID == "" {
			continue
		}
		if h := p.health["system "+sys.ID+" MemorySummary"]; h.health == bmc.HealthUnknown && h.rollup == bmc.HealthUnknown {
			return true
		}
	}
	return false
}

// readMemoryCounters reads the MemoryMetrics of the DIMMs last read, for
// their error counters, and keeps everything else the DIMM resources said.
// A counter that cannot be read is reported and its DIMM left without
// counts (when none can be read, the DIMMs last read are carried over),
// and the next memory read reads the DIMM resources again: a DIMM taken
// out answers no more.
func (p *poll) readMemoryCounters(ctx context.Context) {
	dimms := slices.Clone(p.c.memory.value)
	anyRead, anyFailed := false, false
	for i, uri := range p.c.dimmMetrics {
		if uri == "" {
			continue
		}
		var mm wireMemoryMetrics
		if err := getTaggedInto(ctx, p, bmc.PartMemory, uri, &mm); err != nil {
			p.fail(bmc.PartMemory, err)
			dimms[i].CorrectableErrors, dimms[i].UncorrectableErrors = nil, nil
			anyFailed = true
			continue
		}
		anyRead = true
		dimms[i].CorrectableErrors, dimms[i].UncorrectableErrors = eccCounts(&mm)
	}
	if anyFailed {
		p.c.dimmsReadAt = time.Time{}
	}
	p.finishMemory(dimms, p.c.dimmMetrics, anyRead, !anyRead && anyFailed)
}

// dimmFromRedfish maps one Memory resource. The slot is the label printed on
// the board: DeviceLocator, else the location's ServiceLabel.
func dimmFromRedfish(system string, m *wireMemory) bmc.DIMM {
	d := bmc.DIMM{
		System:       system,
		Slot:         firstNonEmpty(m.DeviceLocator, m.Location.PartLocation.ServiceLabel, m.Name, m.ID),
		Manufacturer: m.Manufacturer,
		PartNumber:   m.PartNumber,
		Serial:       m.SerialNumber,
		Health:       healthOf(m.Status.Health),
		State:        string(m.Status.State),
	}
	if m.CapacityMiB != nil {
		d.SizeMiB = int64(*m.CapacityMiB)
	}
	return d
}

// eccCounts returns the ECC error counters: lifetime totals where
// published, else the current period's.
func eccCounts(mm *wireMemoryMetrics) (correctable, uncorrectable *int64) {
	correctable = cmp.Or(mm.LifeTime.CorrectableECCErrorCount, mm.CurrentPeriod.CorrectableECCErrorCount)
	uncorrectable = cmp.Or(mm.LifeTime.UncorrectableECCErrorCount, mm.CurrentPeriod.UncorrectableECCErrorCount)
	return correctable, uncorrectable
}
