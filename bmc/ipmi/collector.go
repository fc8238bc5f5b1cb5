package ipmi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/rackpulse/rackpulse/bmc"
)

// Collector polls one BMC over IPMI. It keeps one session, the SDR cache,
// the sensors' thresholds, what it learned about DCMI, and the SEL cursor
// between polls. A Collector is used by one goroutine at a time (see
// bmc.Collector).
type Collector struct {
	ep   bmc.Endpoint
	log  *slog.Logger
	sess *session
	// now is the wall clock; tests replace it.
	now func() time.Time

	sdr  *sdrCache
	dcmi dcmiSupport
	// thresholds are read on the static cadence (and with new SDR records).
	thresholds thresholdCache

	// identity is the system UUID and serial, read on the static cadence.
	identity identity

	selStore  selStore
	selCursor selCursor
	selLoaded bool
	// recentLogs is how many of the newest SEL records a first read with no
	// stored cursor reports (probe); zero records the position only.
	recentLogs int
}

var (
	_ bmc.Collector      = (*Collector)(nil)
	_ bmc.RequestCounter = (*Collector)(nil)
)

// RequestsTotal is how many datagrams the collector has sent (retries
// and session setup included).
func (c *Collector) RequestsTotal() int64 { return c.sess.meter.sentTotal() }

// New builds a collector for one endpoint. It checks the address and the
// privilege but does no network I/O: the session opens on the first Poll.
func New(ep bmc.Endpoint, opts bmc.CollectorOptions) (*Collector, error) {
	ep = ep.WithDefaults()
	host, port, err := splitAddress(ep.Address)
	if err != nil {
		return nil, fmt.Errorf("ipmi endpoint for %s: %w", ep.Server, err)
	}
	priv, err := parsePrivilege(ep.Privilege)
	if err != nil {
		return nil, fmt.Errorf("ipmi endpoint for %s: %w", ep.Server, err)
	}
	if ep.CipherSuite < 0 || ep.CipherSuite > 255 {
		return nil, fmt.Errorf("ipmi endpoint for %s: cipher suite %d out of range", ep.Server, ep.CipherSuite)
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("collector", "ipmi")
	return &Collector{
		ep:         ep,
		log:        logger,
		sess:       newSession(ep, host, port, priv, logger, opts.Trace),
		now:        time.Now,
		sdr:        &sdrCache{},
		selStore:   newSELStore(opts.StateDir, ep.Server),
		recentLogs: opts.RecentLogs,
	}, nil
}

// Close logs out of the session. It is safe after a failed Poll and more
// than once.
func (c *Collector) Close(ctx context.Context) error {
	return c.sess.close(ctx)
}

// poll is one Poll's working state.
type poll struct {
	c        *Collector
	snap     *bmc.Snapshot
	reads    int
	firstErr error
}

func (p *poll) read(part bmc.Part) {
	p.reads++
	p.snap.Poll.MarkRead(part)
}

func (p *poll) fail(part bmc.Part, err error) {
	if p.firstErr == nil {
		p.firstErr = err
	}
	pe := p.snap.Poll.AddError(part, err)
	p.c.log.Debug("part failed", "part", part, "kind", pe.Kind, "resource", pe.Resource, "err", err)
}

// run runs one part of the poll, turning a panic (go-ipmi has panicked on
// odd answers) into a part error so the other parts still run.
func (p *poll) run(part bmc.Part, fn func() error) (ok bool) {
	defer func() {
		if r := recover(); r != nil {
			p.c.log.Error("part panicked", "part", part, "panic", r, "stack", string(debug.Stack()))
			p.fail(part, bmc.NewError(bmc.ErrKindPanic, string(part), fmt.Errorf("%s panicked: %v", part, r)))
			// The session's state is unknown after a panic inside it.
			p.c.sess.abandon()
			ok = false
		}
	}()
	if err := fn(); err != nil {
		p.fail(part, err)
		return false
	}
	p.read(part)
	return true
}

// Poll reads the BMC once: the SDR repository info (and the records when
// it changed), every sensor, DCMI power where supported, the chassis
// status (with the system GUID and FRU serial on the static cadence), and
// the SEL info, with the records added since the last poll
// when the SEL's last addition (or erase) changed. The SEL is checked on
// every poll, not on the slow cadence, so that the event naming a failing
// part arrives in the poll in which its sensor changes.
func (c *Collector) Poll(ctx context.Context) (*bmc.Snapshot, error) {
	started := c.now()
	ctx, cancel := context.WithTimeout(ctx, c.ep.PollTimeout)
	defer cancel()
	c.sess.startPoll()

	p := &poll{c: c, snap: bmc.NewSnapshot(c.ep.Server, c.ep.Rack, bmc.ProtocolIPMI, started)}

	var sessErr error
	p.run(bmc.PartSession, func() error {
		sessErr = c.sess.open(ctx)
		return sessErr
	})
	if sessErr != nil || p.firstErr != nil {
		err := sessErr
		if err == nil {
			err = p.firstErr
		}
		c.log.Debug("poll failed", "kind", bmc.KindOf(err), "err", err)
		return nil, err
	}

	p.run(bmc.PartSDR, func() error {
		_, err := c.refreshSDR(ctx)
		return err
	})
	var readings []sensorReading
	sensorsRead := p.run(bmc.PartSensors, func() error {
		if !c.sdr.valid {
			return bmc.NewError(bmc.ErrKindOther, "sensors", errNoSDR)
		}
		c.refreshThresholds(ctx)
		sensors, rs, err := c.readSensors(ctx)
		if err != nil {
			return err
		}
		p.snap.Sensors, readings = sensors, rs
		inventory(p.snap, readings)
		slotDIMMs(p.snap, c.sdr.dimms, readings)
		return nil
	})
	p.run(bmc.PartPower, func() error {
		r, err := c.readDCMIPower(ctx)
		if r != nil {
			p.snap.Power = append(p.snap.Power, *r)
		}
		p.snap.Power = append(p.snap.Power, sensorPower(p.snap, readings)...)
		return err
	})
	p.run(bmc.PartSystems, func() error {
		state, err := c.readPowerState(ctx)
		if err != nil {
			return err
		}
		uuid, serial := c.refreshIdentity(ctx, p)
		p.snap.Systems = append(p.snap.Systems, bmc.System{
			ID: systemID, Name: c.ep.Server, PowerState: state, UUID: uuid, Serial: serial,
			Health: worstSensorHealth(p.snap.Sensors), HealthRollup: worstSensorHealth(p.snap.Sensors),
		})
		return nil
	})
	p.run(bmc.PartSEL, func() error {
		if err := c.loadSELCursor(); err != nil {
			return err
		}
		logs, err := c.readSEL(ctx)
		p.snap.Logs = append(p.snap.Logs, logs...)
		return err
	})
	// The DIMMs: the memory sensors' (with the sensors), and the errors
	// the SEL records read so far count for each (held across polls and
	// restarts with the SEL position). The memory part is read when the
	// sensors were: the list of DIMMs is then complete.
	if c.selLoaded {
		c.selCursor.renameModules(c.sdr)
		applySELCounts(p.snap, c.selCursor)
	}
	if sensorsRead {
		p.snap.Poll.MarkRead(bmc.PartMemory)
	}

	requests, bytes := c.sess.meter.reset()
	p.snap.Poll.Requests, p.snap.Poll.Bytes = requests, bytes
	p.snap.Poll.Duration = c.now().Sub(started)
	if p.reads <= 1 { // the session alone is not a reading
		err := p.firstErr
		if err == nil {
			err = bmc.NewError(bmc.ErrKindOther, "poll", errors.New("nothing could be read"))
		}
		c.log.Debug("poll failed", "kind", bmc.KindOf(err), "requests", requests, "err", err)
		return nil, err
	}
	c.log.Debug("poll done", "requests", requests, "bytes", bytes,
		"duration", p.snap.Poll.Duration, "part_errors", len(p.snap.Poll.Errors))
	return p.snap, nil
}

// loadSELCursor reads the stored cursor once per collector.
func (c *Collector) loadSELCursor() error {
	if c.selLoaded {
		return nil
	}
	cur, err := c.selStore.load()
	if err != nil {
		// A damaged state file is reported once; the position is recorded
		// again rather than replaying the whole SEL.
		c.log.Warn("SEL state unreadable; recording the position again", "err", err)
		cur = selCursor{}
	}
	c.selCursor, c.selLoaded = cur, true
	return nil
}
