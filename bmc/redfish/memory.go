package redfish

import (
	"cmp"
	"context"

	"github.com/rackpulse/rackpulse/bmc"
)

// readMemory reads every system's DIMMs and, where published, their
// MemoryMetrics error counters. It runs on the slow cadence; when it fails
// entirely, the last DIMMs read are carried over.
func (p *poll) readMemory(ctx context.Context, systems []systemRef) {
	var dimms []bmc.DIMM
	anyRead, anyFailed := false, false
	for _, sys := range systems {
		if sys.links.Memory.ID == "" {
			continue
		}
		ok := eachTaggedMember(ctx, p, bmc.PartMemory, sys.links.Memory.ID, func(uri string, m *wireMemory) error {
			dimm := dimmFromRedfish(sys.ID, m)
			dimm.Source = firstNonEmpty(m.ODataID, uri)
			p.c.remember(firstNonEmpty(m.ODataID, uri), "DIMM", dimm.Slot)
			var metricsErr error
			if m.Metrics.ID != "" && !isAbsentState(m.Status.State) {
				var mm wireMemoryMetrics
				if err := getTaggedInto(ctx, p, bmc.PartMemory, m.Metrics.ID, &mm); err != nil {
					metricsErr = err
				} else {
					dimm.CorrectableErrors, dimm.UncorrectableErrors = eccCounts(&mm)
				}
			}
			dimms = append(dimms, dimm)
			return metricsErr
		})
		anyRead = anyRead || ok
		// A member that fails is reported each time the part is read; only
		// a collection that cannot be read makes the part due again next poll.
		anyFailed = anyFailed || !ok
	}
	if !anyRead && anyFailed && p.c.memory.ok {
		p.carry(bmc.PartMemory, true)
		p.snap.DIMMs = withKept(p.snap.DIMMs, p.c.memory.value)
		return
	}
	if dimms == nil {
		dimms = []bmc.DIMM{}
	}
	dimms = bmc.CompactDIMMs(dimms) // kept until the next slow read
	p.snap.DIMMs = withKept(p.snap.DIMMs, dimms)
	if anyRead {
		p.read(bmc.PartMemory)
	}
	if !anyFailed {
		p.c.memory.store(dimms, p.snap.Time)
		p.complete(bmc.PartMemory)
	} else if anyRead {
		// Keep what was read for the next polls, but try again next poll.
		p.c.memory.value = dimms
	}
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
