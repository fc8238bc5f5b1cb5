package ipmi

import (
	"context"
	"time"
)

// sensorKey names a sensor on the BMC: its owner, LUN and number, which
// stay the same when the SDR repository is read again.
type sensorKey struct {
	owner, lun, number uint8
}

func keyOf(rec *sdrRecord) sensorKey {
	return sensorKey{owner: rec.OwnerID, lun: rec.OwnerLUN, number: rec.Number}
}

// thresholdSet holds raw thresholds and which are present (mask bits 0-5:
// LNC, LCR, LNR, UNC, UCR, UNR).
type thresholdSet struct {
	mask uint8
	raw  [6]uint8
	// fromSDR: the values are the SDR's, not an answer to Get Sensor
	// Thresholds.
	fromSDR bool
}

// thresholdCache holds each threshold sensor's thresholds between reads.
// Thresholds can be changed at run time (Set Sensor Thresholds) and many
// BMCs publish none in the SDR, so what the BMC enforces is asked with Get
// Sensor Thresholds on the static cadence; the SDR's values stand in where
// the BMC does not answer it.
type thresholdCache struct {
	sets map[sensorKey]thresholdSet
	// readAt is when every sensor's thresholds were last read; zero when a
	// read is due (none yet, new SDR records, an unfinished read).
	readAt time.Time
}

// sdrThresholds are the thresholds the record itself carries, those its
// readable mask names.
func sdrThresholds(rec *sdrRecord) thresholdSet {
	return thresholdSet{mask: uint8(rec.ReadingMask) & 0x3f, raw: rec.SDRThresholds, fromSDR: true}
}

// hasThresholds reports whether a sensor has thresholds to read: an analog
// threshold sensor whose SDR gives threshold access.
func hasThresholds(rec *sdrRecord) bool {
	return rec.analog() && rec.ThresholdAccess != thresholdsNone
}

// thresholdsDue reports whether the thresholds are read in this poll: none
// read yet, the SDR records read again, the static cadence come round, or
// a session opened in this poll (a restarted BMC may have forgotten
// thresholds set at run time).
func (c *Collector) thresholdsDue() bool {
	t := &c.thresholds
	return t.readAt.IsZero() || c.sess.openedThisPoll || c.sess.reconnected ||
		c.now().Sub(t.readAt) >= c.ep.Cadence.Static
}

// refreshThresholds reads the thresholds of every threshold sensor when
// they are due. A sensor whose SDR says its thresholds are readable (or
// settable) is asked with Get Sensor Thresholds; when the BMC answers that
// with a completion code (the command or the sensor not supported), or the
// SDR says the thresholds are fixed, the SDR's own values stand. A read cut
// short by a lost answer keeps what was read before for the sensors not
// reached, and is tried again in the next poll.
func (c *Collector) refreshThresholds(ctx context.Context) {
	if !c.thresholdsDue() {
		return
	}
	t := &c.thresholds
	fresh := make(map[sensorKey]thresholdSet, len(c.sdr.records))
	complete := true
	for _, rec := range c.sdr.records {
		if !hasThresholds(rec) {
			continue
		}
		key := keyOf(rec)
		if !complete {
			if old, ok := t.sets[key]; ok {
				fresh[key] = old
			} else {
				fresh[key] = sdrThresholds(rec)
			}
			continue
		}
		set, err := c.readSensorThresholds(ctx, rec)
		if err != nil {
			c.log.Debug("thresholds not read; keeping those read before", "sensor", rec.Name, "err", err)
			complete = false
			if old, ok := t.sets[key]; ok {
				set = old
			}
		}
		fresh[key] = set
	}
	t.sets = fresh
	if !complete {
		t.readAt = time.Time{}
		return
	}
	t.readAt = c.now()
	fromSDR := 0
	for _, set := range fresh {
		if set.fromSDR {
			fromSDR++
		}
	}
	c.log.Debug("thresholds read", "sensors", len(fresh), "from_sdr", fromSDR)
}

// readSensorThresholds returns one sensor's thresholds: the BMC's answer
// to Get Sensor Thresholds, else the SDR's. The error is a failure that is
// not an answer (a timeout): the SDR's values come with it.
func (c *Collector) readSensorThresholds(ctx context.Context, rec *sdrRecord) (thresholdSet, error) {
	if rec.ThresholdAccess != thresholdsReadable && rec.ThresholdAccess != thresholdsSettable {
		return sdrThresholds(rec), nil // fixed: not readable, the SDR's
	}
	b, err := c.sess.exchangeTo(ctx, cmdGetSensorThresholds, []byte{rec.Number}, rec.OwnerID, rec.OwnerLUN)
	if err != nil {
		if _, answered := completionCode(err); answered {
			c.log.Debug("BMC does not give this sensor's thresholds; using the SDR's", "sensor", rec.Name, "err", err)
			return sdrThresholds(rec), nil
		}
		return sdrThresholds(rec), err
	}
	if len(b) < 7 {
		c.log.Debug("short answer to Get Sensor Thresholds; using the SDR's", "sensor", rec.Name, "bytes", len(b))
		return sdrThresholds(rec), nil
	}
	var set thresholdSet
	set.mask = b[0] & 0x3f
	copy(set.raw[:], b[1:7])
	return set, nil
}

// thresholdsOf returns a sensor's cached thresholds.
func (c *Collector) thresholdsOf(rec *sdrRecord) (thresholdSet, bool) {
	set, ok := c.thresholds.sets[keyOf(rec)]
	return set, ok
}
