package redfish

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/rackpulse/rackpulse/bmc"
)

// Conditional reads. A BMC that tags its answers (ETag) answers a GET
// carrying the tag of the body the collector last read (If-None-Match)
// with 304 Not Modified and no body while the resource is unchanged. The
// members read that way (eachTaggedMember, getTaggedInto: the systems and
// chassis a legacy service lists as links, read every poll; the DIMMs and
// their MemoryMetrics, read on the slow cadence) keep what was decoded
// from the tagged body, with the deviations decoding found, so that an
// unchanged member costs a bodiless answer: neither its bytes nor a
// decode. What is kept is the decoded value, a few hundred bytes a
// member, not the body.

// maxTaggedMembers bounds the members one collector keeps by tag.
const maxTaggedMembers = 256

// taggedValues keeps, per member URI, the tag of the body last read and
// what was decoded from it.
type taggedValues struct {
	mu    sync.Mutex
	byURI uriTable[taggedValue]
}

type taggedValue struct {
	tag   string
	value any
	devs  []deviation
	// readAt is when the body was last read (Unix nanoseconds), until
	// when its tag may be sent (readAt + maxAge): a BMC whose tags do not
	// change with the resource (firmware that tags a schema version, not
	// the body) shows a change at the latest one maxAge later.
	readAt, until int64
}

// tagOf returns the tag to send for uri at now, if a value is kept for it
// and not due for an unconditional read.
func (t *taggedValues) tagOf(uri string, now time.Time) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	v, ok := t.byURI.get(uri)
	if n := now.UnixNano(); !ok || n >= v.until || n < v.readAt {
		return ""
	}
	return v.tag
}

// maxTagAge is how long a kept value of part stands on the BMC's word
// (304s) alone: a slow cadence for what is read every poll (systems,
// chassis), a static one for what is read on the slow cadence.
func (c *Collector) maxTagAge(part bmc.Part) time.Duration {
	if part == bmc.PartSystems || part == bmc.PartChassis {
		return c.ep.Cadence.Slow
	}
	return c.ep.Cadence.Static
}

func (t *taggedValues) get(uri string) (taggedValue, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.byURI.get(uri)
}

// keep remembers the value decoded from the body tagged tag, read at
// readAt, for at most maxAge.
func (t *taggedValues) keep(uri, tag string, value any, devs []deviation, readAt time.Time, maxAge time.Duration) {
	if s, ok := value.(stringSharer); ok {
		s.shareStrings()
	}
	share(&uri) // the same path on every BMC of a model
	v := taggedValue{tag: tag, value: value, devs: devs, readAt: readAt.UnixNano(), until: readAt.Add(maxAge).UnixNano()}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.byURI.put(uri, v, maxTaggedMembers)
}

func (t *taggedValues) forget(uri string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.byURI.delete(uri)
}

// errUntagged: a 304 to a request that named no tag.
var errUntagged = errors.New("304 Not Modified to a request without If-None-Match")

// errNothingKept: a 304 for a resource whose kept value is gone (or of
// another shape): the collector only sends tags it keeps a value for.
var errNothingKept = errors.New("304 Not Modified, and no value kept for the tag sent")

// eachTaggedMember is eachMember for members decoded into T, read
// conditionally (readTagged).
func eachTaggedMember[T any](ctx context.Context, p *poll, part bmc.Part, uri string, fn func(uri string, v *T) error) bool {
	return p.eachMemberRead(ctx, part, uri, 1, func(m member) error {
		var v T
		if err := readTagged(p, part, m.URI, m.Raw, m.Tag, m.NotModified, &v); err != nil {
			return err
		}
		return fn(m.URI, &v)
	})
}

// getTaggedInto reads one resource into v conditionally (readTagged).
func getTaggedInto[T any](ctx context.Context, p *poll, part bmc.Part, uri string, v *T) error {
	body, tag, err := p.c.getTagged(ctx, uri, p.c.tags.tagOf(uri, p.c.now()))
	notModified := errors.Is(err, errNotModified)
	if err != nil && !notModified {
		return err
	}
	return readTagged(p, part, uri, body, tag, notModified, v)
}

// readTagged turns one answer into v: after a 304, the value kept from the
// tagged body, with that decode's deviations recorded again for this
// poll's report; else the body decoded, and kept under its tag (an
// untagged body forgets what was kept).
func readTagged[T any](p *poll, part bmc.Part, uri string, body []byte, tag string, notModified bool, v *T) error {
	if notModified {
		kept, ok := p.c.tags.get(uri)
		cached, isT := kept.value.(*T)
		if !ok || !isT {
			p.c.tags.forget(uri)
			return &bmc.Error{Kind: bmc.ErrKindMalformed, Resource: uri, Err: errNothingKept}
		}
		p.c.quirks.record(part, uri, kept.devs)
		*v = *cached
		return nil
	}
	devs, err := p.c.quirks.decodeDeviations(part, uri, body, v)
	if err != nil || tag == "" {
		p.c.tags.forget(uri)
		return err
	}
	keep := *v
	p.c.tags.keep(uri, tag, &keep, devs, p.c.now(), p.c.maxTagAge(part))
	return nil
}

// stringSharer is a kept value that can make its strings the process's
// shared copies (unique.Make): the links and names of one model's BMCs
// are the same strings on every one of them, and a fleet keeps a value per
// member of each.
type stringSharer interface{ shareStrings() }

// share makes *s the shared copy (bmc.Intern).
func share(s *string) { *s = bmc.Intern(*s) }

func shareLinks(links []odataID) {
	for i := range links {
		share(&links[i].ID)
	}
}

func (n *navLinks) shareStrings() {
	share(&n.ID)
	share(&n.ODataID)
	for _, l := range []*odataID{&n.Processors, &n.Memory, &n.Storage, &n.SimpleStorage, &n.LogServices, &n.Power,
		&n.PowerSubsystem, &n.Thermal, &n.ThermalSubsystem, &n.EnvironmentMetrics, &n.Sensors, &n.PowerSupplies,
		&n.ThermalMetrics, &n.Fans, &n.Metrics, &n.Entries, &n.Links.ContainedBy} {
		share(&l.ID)
	}
	shareLinks(n.Links.Drives)
	shareLinks(n.Links.Chassis)
	shareLinks(n.Links.Contains)
	shareLinks(n.Links.ComputerSystems)
}

func (s *wireSystem) shareStrings() {
	s.navLinks.shareStrings()
	share(&s.Name)
	share(&s.Model)
	share(&s.Manufacturer)
}

func (c *wireChassis) shareStrings() {
	c.navLinks.shareStrings()
	share(&c.Name)
	share(&c.Model)
}

func (m *wireMemory) shareStrings() {
	for _, s := range []*string{&m.ID, &m.ODataID, &m.Name, &m.DeviceLocator, &m.Location.PartLocation.ServiceLabel,
		&m.Manufacturer, &m.PartNumber, &m.Metrics.ID} {
		share(s)
	}
}
