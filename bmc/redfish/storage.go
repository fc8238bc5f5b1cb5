package redfish

import (
	"context"

	"github.com/stmcginnis/gofish/schemas"

	"github.com/rackpulse/rackpulse/bmc"
)

// readStorage reads every system's drives from its Storage controllers
// (with DriveMetrics where published), or from SimpleStorage where a system
// has no Storage. It runs on the slow cadence. A drive that cannot be read or
// decoded costs only itself.
func (p *poll) readStorage(ctx context.Context, systems []systemRef, _ []chassisRef) {
	var drives []bmc.Drive
	anyRead, anyFailed := false, false
	seen := map[string]bool{}
	for _, sys := range systems {
		var ok bool
		switch {
		case sys.links.Storage.ID != "":
			var found []bmc.Drive
			found, ok = p.readStorageDrives(ctx, sys, seen)
			drives = append(drives, found...)
		case sys.links.SimpleStorage.ID != "":
			ok = p.eachMember(ctx, bmc.PartStorage, sys.links.SimpleStorage.ID, func(uri string, raw []byte) error {
				var ss schemas.SimpleStorage
				if err := p.decode(bmc.PartStorage, uri, raw, &ss); err != nil {
					return err
				}
				for _, dev := range ss.Devices {
					if dev.Status.State == schemas.AbsentState {
						continue
					}
					d := bmc.Drive{
						System: sys.ID,
						Bay:    dev.Name,
						Name:   dev.Name,
						Model:  dev.Model,
						Health: healthOf(dev.Status.Health),
						State:  string(dev.Status.State),
					}
					if dev.CapacityBytes != nil {
						d.CapacityBytes = int64(*dev.CapacityBytes)
					}
					drives = append(drives, d)
				}
				return nil
			})
		default:
			continue
		}
		anyRead = anyRead || ok
		// A member that fails is reported each time the part is read; only
		// a collection that cannot be read makes the part due again next poll.
		anyFailed = anyFailed || !ok
	}
	if !anyRead && anyFailed && p.c.storage.ok {
		p.carry(bmc.PartStorage, true)
		p.snap.Drives = withKept(p.snap.Drives, p.c.storage.value)
		return
	}
	if drives == nil {
		drives = []bmc.Drive{}
	}
	drives = bmc.CompactDrives(drives) // kept until the next slow read
	p.snap.Drives = withKept(p.snap.Drives, drives)
	if anyRead {
		p.read(bmc.PartStorage)
	}
	if !anyFailed {
		p.c.storage.store(drives, p.snap.Time)
		p.complete(bmc.PartStorage)
	} else if anyRead {
		p.c.storage.value = drives
	}
}

// readStorageDrives reads a system's drives by the links its Storage
// controllers publish. Which drives a system has is remembered
// (memberLists) on any service, since the controllers link their drives
// even where $expand brings the controllers inline, and listed again on
// the static cadence, or at the next read after a controller or drive
// failed: the reads in between fetch the drives only, without the Storage
// collection and its controllers. ok is false when the Storage collection
// could not be read, or not one remembered drive answered.
func (p *poll) readStorageDrives(ctx context.Context, sys systemRef, seen map[string]bool) (drives []bmc.Drive, ok bool) {
	key := sys.links.Storage.ID + "#Drives"
	failedBefore := len(p.snap.Poll.Errors)
	uris, known := p.c.listed.fresh(key, p.c.now(), p.c.ep.Cadence.Static)
	if known {
		for _, d := range uris {
			seen[d] = true
		}
		ok = true
	} else {
		ok = p.eachMember(ctx, bmc.PartStorage, sys.links.Storage.ID, func(uri string, raw []byte) error {
			var links navLinks
			if err := p.decode(bmc.PartStorage, uri, raw, &links); err != nil {
				return err
			}
			for _, d := range links.drivesLinks() {
				if !seen[d] {
					seen[d] = true
					uris = append(uris, d)
				}
			}
			return nil
		})
		if !ok {
			return nil, false
		}
	}
	members, err := p.c.fetchAll(ctx, sys.links.Storage.ID, uris)
	if failed, first := failedMembers(members); known && err == nil && failed > 0 && failed == len(members) {
		// Not one remembered drive answered: the drives are not read, as
		// when the Storage collection cannot be listed.
		p.c.listed.forget(key)
		p.fail(bmc.PartStorage, first)
		return nil, false
	}
	if err != nil {
		p.fail(bmc.PartStorage, err)
	}
	for _, m := range members {
		if m.Err != nil {
			p.fail(bmc.PartStorage, m.Err)
			continue
		}
		d, err := p.driveFromRedfish(ctx, sys.ID, m.URI, m.Raw)
		if err != nil {
			p.c.log.Debug("drive failed", "quirk", QuirkUndecodableMember, "uri", m.URI, "err", err)
			p.fail(bmc.PartStorage, err)
			continue
		}
		drives = append(drives, d)
	}
	switch {
	case len(p.snap.Poll.Errors) > failedBefore:
		p.c.listed.forget(key) // a controller or drive failing: list again at the next read
	case !known:
		p.c.listed.storeURIs(key, uris, p.c.now())
	}
	return drives, true
}

// driveFromRedfish maps one Drive resource and its DriveMetrics. The bay is
// the physical slot label where published; a drive without an Id
// (QuirkDriveWithoutID) falls back to the last segment of its URI.
func (p *poll) driveFromRedfish(ctx context.Context, system, uri string, raw []byte) (bmc.Drive, error) {
	var dr schemas.Drive
	var links navLinks
	if err := p.decode(bmc.PartStorage, uri, raw, &dr); err != nil {
		return bmc.Drive{}, err
	}
	if err := p.decode(bmc.PartStorage, uri, raw, &links); err != nil {
		return bmc.Drive{}, err
	}
	id := dr.ID
	if id == "" {
		id = lastSegment(firstNonEmpty(dr.ODataID, uri))
		p.c.log.Debug("drive without Id", "quirk", QuirkDriveWithoutID, "uri", uri)
	}
	label := dr.PhysicalLocation.PartLocation.ServiceLabel
	if label == "" {
		//lint:ignore SA1019 older firmware has only the plural Location
		for _, loc := range dr.Location {
			if label = loc.PartLocation.ServiceLabel; label != "" {
				break
			}
		}
	}
	d := bmc.Drive{
		System:           system,
		Bay:              firstNonEmpty(label, id),
		Name:             firstNonEmpty(dr.Name, id),
		Model:            dr.Model,
		Serial:           dr.SerialNumber,
		Media:            string(dr.MediaType),
		Protocol:         string(dr.Protocol),
		Health:           healthOf(dr.Status.Health),
		State:            string(dr.Status.State),
		FailurePredicted: dr.FailurePredicted,
		LifeLeftPercent:  dr.PredictedMediaLifeLeftPercent,
		Source:           firstNonEmpty(dr.ODataID, uri),
	}
	if dr.CapacityBytes != nil {
		d.CapacityBytes = int64(*dr.CapacityBytes)
	}
	p.c.remember(firstNonEmpty(dr.ODataID, uri), "Drive", d.Bay)
	if links.Metrics.ID != "" && !isAbsentState(dr.Status.State) {
		var m schemas.DriveMetrics
		if err := p.c.getInto(ctx, bmc.PartStorage, links.Metrics.ID, &m); err != nil {
			p.fail(bmc.PartStorage, err)
		} else {
			d.CorrectableErrors = sumCounts(m.CorrectableIOReadErrorCount, m.CorrectableIOWriteErrorCount)
			d.UncorrectableErrors = sumCounts(m.UncorrectableIOReadErrorCount, m.UncorrectableIOWriteErrorCount)
			d.MediaErrors = i64(m.BadBlockCount)
		}
	}
	return d, nil
}

// sumCounts adds optional counters; nil when none is published.
func sumCounts(vs ...*int) *int64 {
	var sum int64
	have := false
	for _, v := range vs {
		if v != nil {
			sum += int64(*v)
			have = true
		}
	}
	if !have {
		return nil
	}
	return &sum
}
