package redfish

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rackpulse/rackpulse/bmc"
)

// Bounds of one read of a collection, across its pages
// (Members@odata.nextLink) and with its members fetched one by one: a
// collection longer than this is read in part (the pages the BMC lists
// first), so that an endless or huge collection can neither stall a poll
// nor fill the poller's memory.
const (
	maxCollectionPages   = 20
	maxCollectionMembers = 2000
	// minCollectionBytes is the least byte budget of a read; the budget is
	// four times the endpoint's max_response_bytes where that is more.
	minCollectionBytes = 32 << 20
)

// collectionBytes is the byte budget of one read of a collection: its
// pages and the members fetched one by one together.
func (c *Collector) collectionBytes() int64 {
	return max(4*c.ep.MaxResponseBytes, minCollectionBytes)
}

// member is one decoded collection member or the failure to get it.
type member struct {
	URI  string
	Raw  json.RawMessage
	Err  error
	Gone bool // 404: listed in the collection but not served
	// Tag is the ETag of a member fetched on its own; NotModified says
	// the BMC answered 304 to the tag kept for it (taggedValues), and
	// Raw is empty.
	Tag         string
	NotModified bool
	// unread: not fetched, the read's byte budget being spent.
	unread bool
}

// collectionRead is one read of a collection across its pages.
type collectionRead struct {
	uri     string
	members []member
	// links are the indexes of the members listed as bare links, to be
	// fetched one by one.
	links []int
	// linksOnly: the first page listed bare links only.
	linksOnly bool
	pages     int
	bytes     int64
	// cut says why the read stopped short of the collection's end: a bound
	// (too_large) or a next page link leading back to a page already read
	// (malformed). What was read is kept.
	cut *bmc.Error
}

// readCollection reads a collection's pages, following
// Members@odata.nextLink (a link like any other: a path on the BMC,
// servicePath) up to maxCollectionPages pages, maxCollectionMembers members
// and the byte budget, and stopping at a link to a page already read. A
// page that cannot be read fails the whole read. Members are not fetched
// (fetchMembers does).
func (c *Collector) readCollection(ctx context.Context, part bmc.Part, uri, query string) (*collectionRead, error) {
	r := &collectionRead{uri: uri}
	budget := c.collectionBytes()
	seen := map[string]bool{}
	for next := uri + query; next != ""; {
		if r.pages == maxCollectionPages || len(r.members) >= maxCollectionMembers || r.bytes >= budget {
			r.cut = r.tooLarge(budget)
			break
		}
		path, err := servicePath(next)
		if err != nil && r.pages > 0 {
			r.cut = &bmc.Error{Kind: bmc.ErrKindMalformed, Resource: uri,
				Err: fmt.Errorf("Members@odata.nextLink: %w; %s", err, r.progress())}
			break
		}
		if seen[path] {
			r.cut = &bmc.Error{Kind: bmc.ErrKindMalformed, Resource: uri,
				Err: fmt.Errorf("Members@odata.nextLink %q leads back to a page already read; %s", path, r.progress())}
			break
		}
		seen[path] = true
		body, err := c.get(ctx, next)
		if err != nil {
			return nil, err
		}
		var col collection
		if err := c.quirks.decode(part, next, body, &col); err != nil {
			return nil, err
		}
		r.pages++
		if r.pages > 1 {
			c.nextPages.Add(1)
		}
		r.bytes += int64(len(body))
		pageLinks := 0
		for _, raw := range col.Members {
			id, onlyLink := linkOnly(raw)
			if onlyLink {
				r.links = append(r.links, len(r.members))
				pageLinks++
			}
			r.members = append(r.members, member{URI: id, Raw: raw})
		}
		if r.pages == 1 && pageLinks > 0 && pageLinks == len(col.Members) {
			r.linksOnly = true
		}
		next = strings.TrimSpace(col.NextLink)
	}
	if len(r.members) > maxCollectionMembers {
		r.members = r.members[:maxCollectionMembers]
		r.links = slices.DeleteFunc(r.links, func(i int) bool { return i >= maxCollectionMembers })
		r.cut = r.tooLarge(budget)
	}
	if r.cut != nil {
		c.log.Debug("collection read in part", "uri", uri, "pages", r.pages, "members", len(r.members),
			"kind", r.cut.Kind, "err", r.cut.Err)
	}
	return r, nil
}

func (r *collectionRead) progress() string {
	return fmt.Sprintf("%d pages and %d members read, the rest not read", r.pages, len(r.members))
}

func (r *collectionRead) tooLarge(budget int64) *bmc.Error {
	return &bmc.Error{Kind: bmc.ErrKindTooLarge, Resource: r.uri,
		Err: fmt.Errorf("collection longer than one read takes (at most %d pages, %d members, %d bytes); %s",
			maxCollectionPages, maxCollectionMembers, budget, r.progress())}
}

// fetchMembers fetches the members a read listed as bare links, within
// what is left of the read's byte budget: members past it are dropped
// and the read is marked cut.
func (c *Collector) fetchMembers(ctx context.Context, r *collectionRead) {
	var left atomic.Int64
	left.Store(c.collectionBytes() - r.bytes)
	c.fetchInto(ctx, r.members, r.links, &left)
	n := len(r.members)
	r.members = slices.DeleteFunc(r.members, func(m member) bool { return m.unread })
	if len(r.members) < n && r.cut == nil {
		r.cut = r.tooLarge(c.collectionBytes())
		c.log.Debug("collection read in part", "uri", r.uri, "members", len(r.members), "not_fetched", n-len(r.members))
	}
	r.links = nil
}

// membersExpanded reads a collection and returns every member's body,
// expanded in one request where the service honours $expand (with the
// members' own subordinate resources up to levels deep where it allows),
// else fetched one by one (at most MaxInFlight at a time, bounded by the
// gofish client), across the collection's pages within the bounds above.
// A member that fails costs only itself. A read cut short returns the
// members read with the cut (a *bmc.Error) for the caller to report.
func (c *Collector) membersExpanded(ctx context.Context, part bmc.Part, uri string, levels int) ([]member, error) {
	query := c.expand.queryLevels(levels)
	if query == "" {
		if uris, ok := c.listed.fresh(uri, c.now(), c.ep.Cadence.Static); ok {
			members, err := c.fetchAll(ctx, uri, uris)
			if failed, first := failedMembers(members); failed > 0 {
				c.listed.forget(uri) // a member gone or failing: list again next poll
				if failed == len(members) && err == nil {
					// Not one answered: the collection is not read, as
					// when its listing fails.
					return nil, first
				}
			}
			return members, err
		}
	}
	r, err := c.readCollection(ctx, part, uri, query)
	if err != nil && query != "" && expandRefused(err) {
		// The service advertised $expand and refuses it (QuirkExpandRefused):
		// read members one by one, on this BMC from now on.
		c.expand.markIgnored(uri)
		c.log.Debug("service advertised $expand but refused it", "quirk", QuirkExpandRefused, "uri", uri, "err", err)
		query = ""
		r, err = c.readCollection(ctx, part, uri, query)
	}
	if err != nil {
		return nil, err
	}
	c.noteExpandIgnored(r, query)
	bareLinks := r.cut == nil && len(r.links) == len(r.members)
	c.fetchMembers(ctx, r)
	if bareLinks && c.expand.queryLevels(levels) == "" {
		c.listed.store(part, uri, r.members, c.now())
	}
	if r.members == nil {
		r.members = []member{}
	}
	if r.cut != nil {
		return r.members, r.cut
	}
	return r.members, nil
}

// failedMembers counts the members that failed, and returns the first
// one's error.
func failedMembers(members []member) (failed int, first error) {
	for _, m := range members {
		if m.Err != nil {
			if failed == 0 {
				first = m.Err
			}
			failed++
		}
	}
	return failed, first
}

// noteExpandIgnored: every member of the first page a bare link while
// $expand was asked for means the service ignores $expand, and it is not
// asked again. Only some: those members could not be expanded (missing on
// the service); they are fetched and will fail on their own.
func (c *Collector) noteExpandIgnored(r *collectionRead, query string) {
	if r.linksOnly && query != "" {
		c.expand.markIgnored(r.uri)
		c.log.Debug("service advertised $expand but returned links only", "quirk", QuirkExpandIgnored, "uri", r.uri)
	}
}

// fetchAll reads a list of resources (links in one resource, such as a
// Storage's Drives), at most MaxInFlight at a time and within the bounds of
// a collection read. A list cut short returns what was read with the cut.
func (c *Collector) fetchAll(ctx context.Context, uri string, uris []string) ([]member, error) {
	r := &collectionRead{uri: uri, members: make([]member, min(len(uris), maxCollectionMembers))}
	for i := range r.members {
		r.members[i].URI = uris[i]
		r.links = append(r.links, i)
	}
	if len(uris) > maxCollectionMembers {
		r.cut = r.tooLarge(c.collectionBytes())
	}
	c.fetchMembers(ctx, r)
	if r.cut != nil {
		return r.members, r.cut
	}
	return r.members, nil
}

// fetchInto fills out[i] for every i in which, concurrently up to
// MaxInFlight. left is the byte budget: once it is spent, the members not
// yet requested are marked unread and not requested.
func (c *Collector) fetchInto(ctx context.Context, out []member, which []int, left *atomic.Int64) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, c.ep.MaxInFlight)
	for _, i := range which {
		if out[i].URI == "" {
			out[i].Err = &bmc.Error{Kind: bmc.ErrKindMalformed, Err: fmt.Errorf("collection member %d has no @odata.id", i)}
			continue
		}
		sem <- struct{}{}
		if left.Load() <= 0 {
			<-sem
			out[i].unread = true
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			body, tag, err := c.getTagged(ctx, out[i].URI, c.tags.tagOf(out[i].URI, c.now()))
			left.Add(-int64(len(body)))
			if errors.Is(err, errNotModified) {
				out[i].NotModified, err = true, nil
			}
			out[i].Raw, out[i].Tag, out[i].Err = body, tag, err
			if bmc.KindOf(err) == bmc.ErrKindNotFound {
				out[i].Gone = true
			}
		}()
	}
	wg.Wait()
}

// memberLists remembers what a BMC's collections hold: where the service
// lists bare links, the Systems and Chassis and each system's DIMMs (its
// Memory collection); on any service, the drives a system's Storage
// controllers link (readStorageDrives). The reads in between fetch the
// members they know without listing again (one request fewer per
// collection, and on Storage the collection and its controllers), and
// list again on the static cadence, with the models, serials and slots (a
// blade, DIMM or drive added shows within it), or as soon as a member
// fails.
type memberLists struct {
	mu    sync.Mutex
	lists map[string]memberList
}

type memberList struct {
	uris   []string
	listed time.Time
}

// remembersMembers says whether a part's collection is remembered.
func remembersMembers(part bmc.Part) bool {
	return part == bmc.PartSystems || part == bmc.PartChassis || part == bmc.PartMemory
}

// fresh returns the members remembered under uri if they were listed
// within every of now.
func (l *memberLists) fresh(uri string, now time.Time, every time.Duration) ([]string, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ml, ok := l.lists[uri]
	if !ok || now.Sub(ml.listed) >= every || now.Before(ml.listed) {
		return nil, false
	}
	return ml.uris, true
}

// store remembers the members of a collection listed now.
func (l *memberLists) store(part bmc.Part, uri string, members []member, now time.Time) {
	if !remembersMembers(part) || len(members) == 0 {
		return
	}
	uris := make([]string, 0, len(members))
	for _, m := range members {
		if m.URI == "" || m.Err != nil {
			return // list again next poll
		}
		uris = append(uris, m.URI)
	}
	l.storeURIs(uri, uris, now)
}

// storeURIs remembers a list of links read now under key.
func (l *memberLists) storeURIs(key string, uris []string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lists == nil {
		l.lists = map[string]memberList{}
	}
	uris = slices.Clip(uris)
	for i := range uris {
		share(&uris[i]) // the same paths on every BMC of a model
	}
	l.lists[key] = memberList{uris: uris, listed: now}
}

// forget drops a remembered list.
func (l *memberLists) forget(uri string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.lists, uri)
}
