package redfish

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/stmcginnis/gofish/schemas"

	"github.com/rackpulse/rackpulse/bmc"
)

// newestEntries returns up to n of the newest entries (by time where dated,
// else the order the BMC lists them in), oldest first.
func newestEntries[T any](items []T, n int, entry func(T) bmc.LogEntry) []bmc.LogEntry {
	out := make([]bmc.LogEntry, len(items))
	for i, it := range items {
		out[i] = entry(it)
	}
	slices.SortStableFunc(out, func(a, b bmc.LogEntry) int { return a.Time.Compare(b.Time) })
	return out[max(0, len(out)-n):]
}

// readLogs reads the LogServices of every system and manager and emits the
// entries new since the previous read. It runs on the slow cadence. The
// positions are kept in the state file when there is one.
func (p *poll) readLogs(ctx context.Context, systems []systemRef) {
	p.c.logs.load(p.c.log, p.c.ep.Server)
	defer p.c.logs.save(p.c.log, p.c.ep.Server, p.snap.Time)
	// The logs are all looked at only when the systems and managers that
	// hold them were read: a poll that could not read the systems leaves
	// an early read due (listed false), even with the logs known.
	entries := p.c.logEntries.value
	listed := p.c.root.Systems.ID == "" || slices.Contains(p.snap.Poll.Read, bmc.PartSystems)
	if !p.c.logEntries.ok || p.c.logEntries.due(p.c, p.snap.Time, p.c.ep.Cadence.Static, 0) {
		failed := len(p.snap.Poll.Errors)
		found, complete := p.findLogs(ctx, systems)
		entries, listed = found, listed && complete
		if listed && len(p.snap.Poll.Errors) == failed {
			// Every log found, none failing: known until the static cadence.
			p.c.logEntries.store(entries, p.snap.Time)
		} else {
			p.c.logEntries.ok = false
		}
	}
	anyRead := false
	for _, uri := range entries {
		if p.readLogEntries(ctx, uri) {
			anyRead = true
		} else {
			p.c.logEntries.ok = false // look for the logs again next time
		}
	}
	if anyRead || (len(entries) == 0 && listed) {
		p.c.logsReadAt = p.snap.Time
		p.read(bmc.PartLogs)
		if listed {
			// Every log was looked for: an early read is done.
			p.complete(bmc.PartLogs)
		}
	}
}

// findLogs looks for the Entries collections of the systems' and the
// managers' LogServices. complete says the managers and every service
// were read.
func (p *poll) findLogs(ctx context.Context, systems []systemRef) (entries []string, complete bool) {
	var services []string
	for _, sys := range systems {
		if sys.links.LogServices.ID != "" {
			services = append(services, sys.links.LogServices.ID)
		}
	}
	complete = true
	if mgrs := p.c.root.Managers.ID; mgrs != "" {
		complete = p.eachMember(ctx, bmc.PartLogs, mgrs, func(uri string, raw []byte) error {
			var links navLinks
			if err := p.decode(bmc.PartLogs, uri, raw, &links); err != nil {
				return err
			}
			if links.LogServices.ID != "" {
				services = append(services, links.LogServices.ID)
			}
			return nil
		})
	}
	for _, svc := range services {
		complete = p.eachMember(ctx, bmc.PartLogs, svc, func(uri string, raw []byte) error {
			var links navLinks
			if err := p.decode(bmc.PartLogs, uri, raw, &links); err != nil {
				return err
			}
			if links.Entries.ID != "" {
				entries = append(entries, links.Entries.ID)
			}
			return nil
		}) && complete
	}
	return entries, complete
}

// readLogEntries reads one log's entries and appends the new ones. Entries
// are told apart by key and Created time, not by position: BMCs list them
// oldest-first or newest-first.
func (p *poll) readLogEntries(ctx context.Context, entriesURI string) bool {
	type decoded struct {
		key   string
		entry bmc.LogEntry
	}
	members, cut, err := p.c.logMembers(ctx, entriesURI)
	if err != nil {
		p.fail(bmc.PartLogs, err)
		return false
	}
	// A log longer than one read takes is read in part, and that is not a
	// failure: logs grow long. A next page link leading back is one.
	complete := cut == nil
	switch {
	case cut == nil:
	case cut.Kind == bmc.ErrKindTooLarge:
		p.c.log.Debug("log longer than one read takes; the rest is not read this time", "uri", entriesURI,
			"max_pages", maxCollectionPages, "max_entries", maxCollectionMembers, "err", cut.Err)
	default:
		p.fail(bmc.PartLogs, cut)
	}
	var entries []decoded
	for _, m := range members {
		if m.Err != nil {
			if m.Gone {
				p.c.log.Debug("collection member not served", "quirk", QuirkMissingMember, "uri", m.URI)
			}
			p.fail(bmc.PartLogs, m.Err)
			complete = false
			continue
		}
		var le schemas.LogEntry
		var links struct {
			Links struct{ OriginOfCondition odataID }
		}
		if err := p.decode(bmc.PartLogs, m.URI, m.Raw, &le); err != nil {
			p.c.log.Debug("member failed to decode", "quirk", QuirkUndecodableMember, "uri", m.URI, "err", err)
			p.fail(bmc.PartLogs, err)
			complete = false
			continue
		}
		_ = json.Unmarshal(m.Raw, &links) // optional; the entry stands without it
		id := firstNonEmpty(le.ID, lastSegment(firstNonEmpty(le.ODataID, m.URI)))
		entry := logEntryFromRedfish(id, firstNonEmpty(le.ODataID, m.URI), &le)
		p.identifySubject(&entry, links.Links.OriginOfCondition.ID)
		entries = append(entries, decoded{key: firstNonEmpty(le.ODataID, m.URI, id), entry: entry})
	}
	read := logRead{keys: make([]string, len(entries)), created: make([]time.Time, len(entries)), complete: complete}
	for i, e := range entries {
		read.keys[i], read.created[i] = e.key, e.entry.Time
	}
	firstRead := !p.c.logs.known(entriesURI)
	isNew, cleared := p.c.logs.advanceRead(entriesURI, read)
	if cleared {
		p.c.log.Info("log was cleared since the last read; reporting every entry in it", "log", entriesURI)
	}
	// A first read that spreading put after the collector's first poll
	// (CollectorOptions.SpreadReads): what the BMC logged since that poll
	// is news, as it would have been had the log been read then. Created
	// times have whole seconds: an entry of the first poll's second counts.
	sinceFirstPoll := firstRead && p.c.spread && p.snap.Time.After(p.c.firstPoll)
	firstSecond := p.c.firstPoll.Truncate(time.Second)
	for i, fresh := range isNew {
		if fresh || sinceFirstPoll && !entries[i].entry.Time.Before(firstSecond) {
			p.snap.Logs = append(p.snap.Logs, entries[i].entry)
			p.c.logs.countDIMMError(entries[i].entry)
		}
	}
	if firstRead && p.c.recentLogs > 0 {
		p.snap.Logs = append(p.snap.Logs, newestEntries(entries, p.c.recentLogs, func(d decoded) bmc.LogEntry { return d.entry })...)
	}
	return true
}

// logMembers reads a log's Entries collection across its pages, within
// the bounds of a collection read (readCollection), and returns every
// entry's body (expanded where the service honours $expand, else fetched
// one by one). cut, when the read stopped short, says why: what was read
// is kept. A page that cannot be read fails the whole read, so that the
// log's position stays where it was.
func (c *Collector) logMembers(ctx context.Context, entriesURI string) (out []member, cut *bmc.Error, err error) {
	query := c.expand.query()
	r, err := c.readCollection(ctx, bmc.PartLogs, entriesURI, query)
	if err != nil {
		return nil, nil, err
	}
	c.noteExpandIgnored(r, query)
	c.fetchMembers(ctx, r)
	return r.members, r.cut, nil
}

// logEntryFromRedfish maps one LogEntry. Created dates of an unset BMC clock
// (QuirkZeroDate) become the zero time; the entry is kept.
func logEntryFromRedfish(id, uri string, le *schemas.LogEntry) bmc.LogEntry {
	e := bmc.LogEntry{
		ID:        id,
		Time:      parseLogTime(le.Created),
		Severity:  healthOf(schemas.Health(le.Severity)),
		MessageID: le.MessageID,
		Message:   firstNonEmpty(le.Message, le.Name),
		Source:    uri,
	}
	e.Component = componentOf(string(le.SensorType), le.MessageID, le.Message)
	return e
}

// componentOf guesses what a log entry is about from its sensor type,
// message id and text.
func componentOf(sensorType, messageID, message string) string {
	text := strings.ToLower(sensorType + " " + messageID + " " + message)
	switch {
	case strings.Contains(text, "memory") || strings.Contains(text, "dimm") || strings.Contains(text, "ecc"):
		return "DIMM"
	case strings.Contains(text, "power supply") || strings.Contains(text, "powersupply") || strings.Contains(text, "psu"):
		return "PSU"
	case strings.Contains(text, "fan"):
		return "Fan"
	case strings.Contains(text, "processor") || strings.Contains(text, "cpu"):
		return "CPU"
	case strings.Contains(text, "drive") || strings.Contains(text, "disk"):
		return "Drive"
	case strings.Contains(text, "temperature"):
		return "Temperature"
	}
	return ""
}

// subjectRef is a part a log entry can be about: its component, the
// Snapshot's name for it (DIMM slot, PSU bay, fan sensor name, drive bay,
// CPU socket) and the names a log message may call it by.
type subjectRef struct {
	component, subject string
	names              []string
}

// remember records the resource a part was read from, so that a log
// entry whose Links.OriginOfCondition points at it names that part.
func (c *Collector) remember(uri, component, subject string) {
	if uri == "" || subject == "" {
		return
	}
	// The URIs and names repeat on every BMC of a model: one copy of each.
	key := strings.TrimSuffix(uri, "/")
	share(&key)
	share(&subject)
	c.originsMu.Lock()
	defer c.originsMu.Unlock()
	c.origins.put(key, partRef{component: component, subject: subject}, 0)
}

// partRef is the part a resource was read for: its component and the
// Snapshot's name for it.
type partRef struct{ component, subject string }

// identifySubject fills a log entry's Subject (and its Component where the
// text gave none) from Links.OriginOfCondition when it points at a part that
// was read, else from the part named in the message: a DIMM slot, a PSU's
// name, a fan, a drive's bay or name, a CPU's socket or name. Names shared
// by several parts identify none of them.
func (p *poll) identifySubject(e *bmc.LogEntry, origin string) {
	if origin != "" {
		p.c.originsMu.Lock()
		ref, ok := p.c.origins.get(strings.TrimSuffix(origin, "/"))
		p.c.originsMu.Unlock()
		if ok {
			e.Component, e.Subject = ref.component, ref.subject
			return
		}
	}
	specific := e.Component != "" && e.Component != "Temperature"
	best, bestLen := (*subjectRef)(nil), 0
	refs := p.subjectRefs()
	count := map[string]int{}
	for _, r := range refs {
		seen := map[string]bool{}
		for _, n := range r.names {
			key := r.component + "\x00" + strings.ToLower(n)
			if !seen[key] {
				seen[key] = true
				count[key]++
			}
		}
	}
	for i := range refs {
		r := &refs[i]
		if specific && r.component != e.Component {
			continue
		}
		for _, n := range r.names {
			if len(n) <= bestLen || !usableName(n) || count[r.component+"\x00"+strings.ToLower(n)] > 1 {
				continue
			}
			if containsWord(e.Message, n) {
				best, bestLen = r, len(n)
			}
		}
	}
	if best != nil {
		e.Component, e.Subject = best.component, best.subject
	}
}

// subjectRefs lists the parts of this poll's Snapshot a log entry may name.
func (p *poll) subjectRefs() []subjectRef {
	var refs []subjectRef
	for _, d := range p.snap.DIMMs {
		refs = append(refs, subjectRef{"DIMM", d.Slot, []string{d.Slot}})
	}
	for _, ps := range p.snap.PSUs {
		refs = append(refs, subjectRef{"PSU", ps.Bay, []string{ps.Name}})
	}
	for _, s := range p.snap.Sensors {
		if s.Kind != bmc.KindFan {
			continue
		}
		names := []string{s.Name}
		for _, suffix := range []string{" Speed", " RPM", " Tach", " Percent"} {
			if t, ok := strings.CutSuffix(s.Name, suffix); ok {
				names = append(names, t)
			}
		}
		refs = append(refs, subjectRef{"Fan", s.Name, names})
	}
	for _, d := range p.snap.Drives {
		refs = append(refs, subjectRef{"Drive", d.Bay, []string{d.Bay, d.Name}})
	}
	for _, f := range p.c.processors.value {
		refs = append(refs, subjectRef{"CPU", f.cpu.Socket, append([]string{f.cpu.Socket}, f.names...)})
	}
	return refs
}

// usableName reports whether a name can identify a part in free text: at
// least two characters with a letter and a digit ("A1", "PSU 1"), so that
// neither a bare number nor a generic word ("Processor") is taken for one.
func usableName(n string) bool {
	letter, digit := false, false
	for _, r := range n {
		switch {
		case r >= '0' && r <= '9':
			digit = true
		case unicode.IsLetter(r):
			letter = true
		}
	}
	return len(n) >= 2 && letter && digit
}

// containsWord reports whether name occurs in text (case-insensitively)
// between non-alphanumeric characters: "A1" in "DIMM.Socket.A1." but not in
// "A10".
func containsWord(text, name string) bool {
	t, n := strings.ToLower(text), strings.ToLower(name)
	for from := 0; ; {
		i := strings.Index(t[from:], n)
		if i < 0 {
			return false
		}
		i += from
		end := i + len(n)
		if (i == 0 || !isAlnum(t[i-1])) && (end == len(t) || !isAlnum(t[end])) {
			return true
		}
		from = i + 1
	}
}

func isAlnum(b byte) bool {
	return b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= 0x80
}
