package redfish

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stmcginnis/gofish"

	"github.com/rackpulse/rackpulse/bmc"
)

// rootURI is the Redfish service root.
const rootURI = "/redfish/v1/"

// Collector polls one BMC over Redfish. It keeps one session, one HTTP
// client, the service's $expand behaviour, the slow and static parts read
// last, and the position in each log between polls. A Collector is used by
// one goroutine at a time (see bmc.Collector).
type Collector struct {
	ep      bmc.Endpoint
	log     *slog.Logger
	baseURL string
	// now is the wall clock; tests replace it.
	now func() time.Time

	httpClient *http.Client
	meter      *requestMeter
	// conns tracks the open connections; idle is the poller's budget of
	// BMCs keeping one between polls, and keepsConn whether this one holds
	// a place in it.
	conns     *connTracker
	idle      *bmc.IdleConnBudget
	keepsConn bool
	// listed remembers the members of the collections read every poll.
	listed memberLists
	// tags keeps the members read conditionally (eachTaggedMember).
	tags taggedValues
	// nextPages counts the later collection pages read in this poll.
	nextPages atomic.Int64
	api       *gofish.APIClient
	session   *session
	busy      *busyGuard
	expand    *expandSupport

	root       *serviceRoot
	rootReadAt time.Time

	// Parts read on the slow cadence, carried over between reads.
	memory     partCache[[]bmc.DIMM]
	storage    partCache[[]bmc.Drive]
	logsReadAt time.Time
	// logEntries lists the log Entries collections found under the systems'
	// and managers' LogServices, looked for again on the static cadence or
	// when one of them fails.
	logEntries partCache[[]string]
	logs       *logCursor
	// recentLogs is how many of a log's newest entries a first read reports.
	recentLogs int

	// Parts read on the static cadence.
	processors partCache[[]processorFacts]

	// health is what the fast cadence read of every system's and chassis's
	// status last time; a change reads the slow parts and the processors
	// in that poll (see healthwatch.go).
	health healthWatch

	// dimmMetrics holds, for each DIMM of memory.value in its order, its
	// MemoryMetrics URI ("" where it publishes none); dimmsReadAt is when
	// the DIMM resources themselves were last read in full (see
	// dimmResourcesDue).
	dimmMetrics []string
	dimmsReadAt time.Time

	// sensorsSeen is how many sensors the last poll read.
	sensorsSeen int

	// spread: the slow and static parts are read at this BMC's phases
	// within their cadences (CollectorOptions.SpreadReads), counted from
	// the first poll.
	spread                 bool
	slowPhase, staticPhase time.Duration
	firstPoll              time.Time

	// quirks collects the schema deviations this poll coped with.
	quirks *quirkLog

	// origins maps the resources parts were read from to the part, for
	// log entries' OriginOfCondition. Guarded by originsMu: members are
	// read concurrently.
	originsMu sync.Mutex
	origins   uriTable[partRef]
}

// cadenceDue reports whether a part read every `every` (last read at
// last; read false: never) is due at now. Without spreading, a part is
// due once its cadence has passed since its last read, and at the first
// poll. Spread, the time axis is cut into slots of one cadence starting
// at the BMC's phase, and a part is due at the first poll of every slot
// after the one it was last read in (never read: after the slot of the
// collector's first poll).
func (c *Collector) cadenceDue(now, last time.Time, read bool, every, phase time.Duration) bool {
	if !c.spread || every <= 0 {
		return !read || now.Sub(last) >= every
	}
	slot := func(t time.Time) int64 { return (t.UnixNano() - int64(phase)) / int64(every) }
	if !read {
		return slot(now) > slot(c.firstPoll)
	}
	return slot(now) > slot(last)
}

// partCache holds a part's last successful read.
type partCache[T any] struct {
	value  T
	readAt time.Time
	ok     bool
}

// due reports whether the part must be read again at now, on the
// collector's cadence (cadenceDue).
func (p *partCache[T]) due(c *Collector, now time.Time, every, phase time.Duration) bool {
	return c.cadenceDue(now, p.readAt, p.ok, every, phase)
}

func (p *partCache[T]) store(v T, at time.Time) {
	p.value, p.readAt, p.ok = v, at, true
}

var (
	_ bmc.Collector      = (*Collector)(nil)
	_ bmc.RequestCounter = (*Collector)(nil)
)

// RequestsTotal is how many requests the collector has sent.
func (c *Collector) RequestsTotal() int64 { return c.meter.total.Load() }

// New builds a collector for one endpoint. It checks the address and TLS
// settings but does no network I/O: the session is created on the first
// Poll.
func New(ep bmc.Endpoint, opts bmc.CollectorOptions) (*Collector, error) {
	ep = ep.WithDefaults()
	base, err := baseURL(ep.Address)
	if err != nil {
		return nil, fmt.Errorf("redfish endpoint for %s: %w", ep.Server, err)
	}
	tc, err := newTLSConfig(ep.TLS, opts.CertPools)
	if err != nil {
		return nil, fmt.Errorf("redfish endpoint for %s: %w", ep.Server, err)
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("collector", "redfish")
	c := &Collector{
		ep:         ep,
		log:        logger,
		baseURL:    base,
		now:        time.Now,
		meter:      &requestMeter{maxBytes: ep.MaxResponseBytes, trace: opts.Trace},
		expand:     &expandSupport{},
		logs:       newLogCursor(),
		quirks:     &quirkLog{},
		recentLogs: opts.RecentLogs,
	}
	c.logs.store = newLogStore(opts.StateDir, ep.Server)
	if opts.SpreadReads {
		c.spread = true
		c.slowPhase = bmc.StartOffset(ep.Server+"/slow", ep.Cadence.Slow)
		c.staticPhase = bmc.StartOffset(ep.Server+"/static", ep.Cadence.Static)
	}
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("redfish endpoint for %s: %w", ep.Server, err)
	}
	origin := originOf(u)
	c.conns = newConnTracker(&net.Dialer{Timeout: ep.RequestTimeout, KeepAlive: 30 * time.Second})
	c.idle = opts.IdleConns
	c.httpClient = newHTTPClient(ep, tc, c.meter, origin, c.conns)
	clock := func() time.Time { return c.now() }
	c.session = &session{
		log:        logger,
		server:     ep.Server,
		origin:     origin,
		username:   ep.Username,
		password:   ep.Password,
		store:      newSessionStore(opts.StateDir, ep.Server),
		now:        clock,
		minBackoff: ep.Cadence.Readings,
		maxBackoff: max(ep.Cadence.Static, ep.Cadence.Readings),
	}
	c.busy = &busyGuard{now: clock, min: ep.Cadence.Readings, max: max(ep.Cadence.Slow, ep.Cadence.Readings)}
	c.meter.observe = c.observeResponse
	return c, nil
}

// baseURL turns host[:port] or a URL into https://host:port.
func baseURL(address string) (string, error) {
	address = strings.TrimSpace(address)
	if address == "" {
		return "", errors.New("empty address")
	}
	if strings.Contains(address, "://") {
		u, err := url.Parse(address)
		if err != nil {
			return "", fmt.Errorf("address %q: %w", address, err)
		}
		if u.Scheme != "https" && u.Scheme != "http" {
			return "", fmt.Errorf("address %q: scheme must be https", address)
		}
		if u.Host == "" {
			return "", fmt.Errorf("address %q has no host", address)
		}
		host := u.Host
		if u.Port() == "" && u.Scheme == "https" {
			host = net.JoinHostPort(u.Hostname(), "443")
		}
		return u.Scheme + "://" + host, nil
	}
	if _, _, err := net.SplitHostPort(address); err == nil {
		return "https://" + address, nil
	}
	return "https://" + net.JoinHostPort(strings.Trim(address, "[]"), "443"), nil
}

// Poll reads the BMC once. Power, thermal and sensors are read every poll;
// memory, drives and logs when the slow cadence has come round; processors
// and the service root when the static one has. A change in a system's or
// chassis's health since the previous poll reads memory, drives, logs and
// processors in this poll whatever their cadence (not while the BMC is in
// a busy backoff: then at the first poll after it). While a busy answer's
// Retry-After runs, Poll sends nothing and returns a busy error.
func (c *Collector) Poll(ctx context.Context) (*bmc.Snapshot, error) {
	started := c.now()
	if c.firstPoll.IsZero() {
		c.firstPoll = started
	}
	ctx, cancel := context.WithTimeout(ctx, c.ep.PollTimeout)
	defer cancel()
	c.meter.reset()
	// After the poll, one connection is kept for the next while the
	// poller's idle budget has room; the others are closed: a BMC has few
	// connection slots, and a poller of thousands of BMCs would otherwise
	// hold every poll's connections all interval.
	defer c.settleConns()
	// Inside the wait a busy answer's Retry-After asked for, nothing is sent.
	if err := c.busy.hold(); err != nil {
		c.log.Debug("poll not started", "kind", bmc.KindOf(err), "err", err)
		return nil, err
	}
	busyBackoff := c.busy.startPoll()
	defer c.busy.endPoll()
	c.session.startPoll()
	c.quirks.take() // a poll that failed early leaves its own behind
	c.nextPages.Store(0)

	if err := c.connect(ctx, started); err != nil {
		c.log.Debug("poll failed", "kind", bmc.KindOf(err), "err", err)
		return nil, err
	}
	if err := c.session.open(ctx); err != nil {
		c.log.Debug("poll failed", "kind", bmc.KindOf(err), "err", err)
		return nil, err
	}

	p := &poll{c: c, snap: bmc.NewSnapshot(c.ep.Server, c.ep.Rack, bmc.ProtocolRedfish, started)}
	// The sensor list made at the size the last poll's was: one
	// allocation, not append's doublings, and no copy when the snapshot
	// is cut to length to be kept.
	p.snap.Sensors = make([]bmc.Sensor, 0, c.sensorsSeen)

	systems := p.readSystems(ctx)
	chassis := p.readChassis(ctx)
	c.watchHealth(p, busyBackoff)
	for _, ch := range chassis {
		firstPSU, firstReading := len(p.snap.PSUs), len(p.snap.Power)
		p.readPower(ctx, ch)
		p.readThermal(ctx, ch)
		p.finishPower(ch, firstPSU, firstReading)
	}
	p.finishSensors()
	p.placeByProvenance(chassis)

	// The slow and static parts wait while the BMC is busy. Those found
	// through the systems are not read in a poll that could not list the
	// systems: that would take the parts for gone.
	mayRead := !busyBackoff
	systemsListed := c.root.Systems.ID == "" || slices.Contains(p.snap.Poll.Read, bmc.PartSystems)
	staticDue := mayRead && systemsListed && (c.processors.due(c, started, c.ep.Cadence.Static, c.staticPhase) || c.health.due(bmc.PartCPU))
	p.readProcessors(ctx, systems, chassis, staticDue, mayRead && systemsListed)

	if mayRead && systemsListed && (c.memory.due(c, started, c.ep.Cadence.Slow, c.slowPhase) || c.health.due(bmc.PartMemory)) {
		p.readMemory(ctx, systems)
	} else {
		p.carry(bmc.PartMemory, c.memory.ok)
		p.snap.DIMMs = withKept(p.snap.DIMMs, c.memory.value)
	}
	if mayRead && systemsListed && (c.storage.due(c, started, c.ep.Cadence.Slow, c.slowPhase) || c.health.due(bmc.PartStorage)) {
		p.readStorage(ctx, systems, chassis)
	} else {
		p.carry(bmc.PartStorage, c.storage.ok)
		p.snap.Drives = withKept(p.snap.Drives, c.storage.value)
	}
	logsDue := c.cadenceDue(started, c.logsReadAt, !c.logsReadAt.IsZero(), c.ep.Cadence.Slow, c.slowPhase)
	if mayRead && (logsDue || c.health.due(bmc.PartLogs)) {
		p.readLogs(ctx, systems)
	} else {
		p.carry(bmc.PartLogs, !c.logsReadAt.IsZero())
	}
	c.health.done(p.completed)
	p.snap.DIMMs = c.logs.dimmCounts(p.snap.DIMMs)

	requests, bytes := c.meter.reset()
	p.snap.Poll.Requests, p.snap.Poll.Bytes = requests, bytes
	p.snap.Poll.NextPages = int(c.nextPages.Swap(0))
	for _, q := range c.quirks.take() {
		p.snap.Poll.AddQuirk(q)
	}
	p.snap.Poll.Duration = c.now().Sub(started)
	if p.reads == 0 {
		err := p.firstErr
		if err == nil {
			err = &bmc.Error{Kind: bmc.ErrKindOther, Resource: rootURI, Err: errors.New("nothing could be read")}
		}
		c.log.Debug("poll failed", "kind", bmc.KindOf(err), "requests", requests, "err", err)
		return nil, err
	}
	c.sensorsSeen = len(p.snap.Sensors)
	c.log.Debug("poll done", "requests", requests, "bytes", bytes,
		"duration", p.snap.Poll.Duration, "part_errors", len(p.snap.Poll.Errors), "quirks", len(p.snap.Poll.Quirks))
	return p.snap, nil
}

// watchHealth compares the statuses this poll read with the previous
// poll's and says, in the poll's log, why slow parts are read early.
func (c *Collector) watchHealth(p *poll, busyBackoff bool) {
	changes := c.health.observe(p.health, c.spread)
	parts := c.health.parts()
	switch {
	case len(parts) == 0:
	case busyBackoff && len(changes) > 0:
		c.log.Debug("health changed; the slow parts wait for the busy backoff",
			"changed", c.health.reason, "parts", parts)
	case busyBackoff:
	default:
		c.log.Debug("reading slow parts early after a health change",
			"changed", c.health.reason, "parts", parts)
	}
}

// connect creates the gofish client on first use and reads the service root
// on the static cadence.
func (c *Collector) connect(ctx context.Context, now time.Time) error {
	if c.api == nil {
		api, err := gofish.ConnectContext(ctx, gofish.ClientConfig{
			Endpoint:              c.baseURL,
			HTTPClient:            c.httpClient,
			MaxConcurrentRequests: int64(c.ep.MaxInFlight),
			ReuseConnections:      true,
			NoModifyTransport:     true,
		})
		if err != nil {
			return classify(rootURI, err)
		}
		// The collector reads the service root itself (below): gofish's
		// copy of it is not used, and WithContext would copy it again for
		// every request (3.7 KiB a BMC kept, and one more per request).
		api.Service = nil
		c.api = api
	}
	if c.root != nil && now.Sub(c.rootReadAt) < c.ep.Cadence.Static {
		return nil
	}
	var root serviceRoot
	if err := c.getInto(ctx, bmc.PartService, rootURI, &root); err != nil {
		return err
	}
	c.root, c.rootReadAt = &root, now
	c.expand.configure(root.ProtocolFeaturesSupported.ExpandQuery)
	c.session.configure(c.api, root.sessionsURI())
	return nil
}

// settleConns ends a poll's connections: one kept for the next poll when
// the collector holds (or can take) a place in the idle budget, else none.
func (c *Collector) settleConns() {
	if !c.keepsConn {
		c.keepsConn = c.idle.TryTake()
	}
	if c.keepsConn && c.conns.keepOne() {
		return
	}
	c.httpClient.CloseIdleConnections()
	c.conns.closeAll()
}

// Close deletes the session (and forgets it in the state directory),
// drops idle connections and gives back its place in the idle budget. It
// is safe after a failed Poll and more than once.
func (c *Collector) Close(ctx context.Context) error {
	err := c.session.close(ctx)
	c.httpClient.CloseIdleConnections()
	c.conns.closeAll()
	if c.keepsConn {
		c.keepsConn = false
		c.idle.Give()
	}
	return err
}

// serviceRoot is the part of the ServiceRoot the collector uses.
type serviceRoot struct {
	Systems                   odataID
	Chassis                   odataID
	Managers                  odataID
	SessionService            odataID
	Links                     struct{ Sessions odataID }
	ProtocolFeaturesSupported struct {
		ExpandQuery expandQuery
	}
}

// sessionsURI is where sessions are created, or empty when the service
// publishes no sessions link (Basic auth then).
func (r *serviceRoot) sessionsURI() string {
	if r.Links.Sessions.ID != "" {
		return r.Links.Sessions.ID
	}
	if r.SessionService.ID != "" {
		return strings.TrimSuffix(r.SessionService.ID, "/") + "/Sessions"
	}
	return ""
}

// poll is one Poll's working state.
type poll struct {
	c        *Collector
	snap     *bmc.Snapshot
	reads    int
	firstErr error
	// related holds the RelatedItem links of this poll's sensors, by index
	// in snap.Sensors, where the BMC publishes them.
	related map[int][]string
	// health holds the statuses of the systems and chassis read this poll,
	// by healthWatch key.
	health map[string]healthPair
	// completed lists the slow and static parts read in full this poll.
	completed []bmc.Part
	// powerSensors are this poll's watt sensors, for finishPower;
	// provenance the sensors each chassis's power readings come from.
	powerSensors []powerSensor
	provenance   map[string][]string
}

// decode decodes a part's resource, recording its quirks (quirkLog.decode).
func (p *poll) decode(part bmc.Part, uri string, body []byte, v any) error {
	return p.c.quirks.decode(part, uri, body, v)
}

// relate records the RelatedItem links of the sensor just appended.
func (p *poll) relate(items []odataID) {
	if len(items) == 0 {
		return
	}
	if p.related == nil {
		p.related = map[int][]string{}
	}
	uris := make([]string, 0, len(items))
	for _, it := range items {
		if it.ID != "" {
			uris = append(uris, it.ID)
		}
	}
	p.related[len(p.snap.Sensors)-1] = uris
}

// read records that a part was read.
func (p *poll) read(part bmc.Part) {
	p.reads++
	p.snap.Poll.MarkRead(part)
}

// fail records a part error; the rest of the poll stands.
func (p *poll) fail(part bmc.Part, err error) {
	if p.firstErr == nil {
		p.firstErr = err
	}
	pe := p.snap.Poll.AddError(part, err)
	p.c.log.Debug("part failed", "part", part, "kind", pe.Kind, "resource", pe.Resource, "err", err)
}

// withKept adds a part's list the collector keeps (DIMMs, drives) to the
// snapshot's: as it is when the snapshot has none, one copy for the
// collector and its snapshots (cut to its length, so an append copies
// it); whoever changes one of its elements changes a copy
// (bmc.SetAsideImplausible, dimmCounts).
func withKept[T any](have, kept []T) []T {
	if len(have) == 0 && kept != nil {
		return slices.Clip(kept)
	}
	return append(have, kept...)
}

// carry lists a part as carried over from an earlier poll.
func (p *poll) carry(part bmc.Part, haveValues bool) {
	if haveValues {
		p.snap.Poll.Cached = append(p.snap.Poll.Cached, part)
	}
}
