package redfish

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"unicode"

	"github.com/stmcginnis/gofish/schemas"

	"github.com/rackpulse/rackpulse/bmc"
)

// logCursor remembers, per log (its Entries collection), the entries already
// seen. The first read of a log only records its position: entries that were
// there before the collector started are history, not news, and replaying
// them on every restart would raise old alerts again.
type logCursor struct {
	seen map[string]map[string]struct{}
}

func newLogCursor() *logCursor {
	return &logCursor{seen: map[string]map[string]struct{}{}}
}

// advance records the entries now in a log and returns which are new. keys
// are in the collection's order.
func (l *logCursor) advance(entriesURI string, keys []string) (isNew []bool) {
	prev, known := l.seen[entriesURI]
	now := make(map[string]struct{}, len(keys))
	isNew = make([]bool, len(keys))
	for i, k := range keys {
		now[k] = struct{}{}
		if known {
			_, had := prev[k]
			isNew[i] = !had
		}
	}
	l.seen[entriesURI] = now
	return isNew
}

// known reports whether a log's entries were read before.
func (l *logCursor) known(entriesURI string) bool {
	_, ok := l.seen[entriesURI]
	return ok
}

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
// entries new since the previous read. It runs on the slow cadence. Only the
// first page of a log's Entries is read.
func (p *poll) readLogs(ctx context.Context, systems []systemRef) {
	var services []string
	for _, sys := range systems {
		if sys.links.LogServices.ID != "" {
			services = append(services, sys.links.LogServices.ID)
		}
	}
	// The list of logs is known only when the systems and managers that
	// hold them were read: a poll that could read neither read no log.
	listed := p.c.root.Systems.ID == "" || slices.Contains(p.snap.Poll.Read, bmc.PartSystems)
	if mgrs := p.c.root.Managers.ID; mgrs != "" {
		listed = p.eachMember(ctx, bmc.PartLogs, mgrs, func(uri string, raw []byte) error {
			var links navLinks
			if err := decode(uri, raw, &links); err != nil {
				return err
			}
			if links.LogServices.ID != "" {
				services = append(services, links.LogServices.ID)
			}
			return nil
		}) && listed
	}
	anyRead := false
	for _, svc := range services {
		p.eachMember(ctx, bmc.PartLogs, svc, func(uri string, raw []byte) error {
			var links navLinks
			if err := decode(uri, raw, &links); err != nil {
				return err
			}
			if links.Entries.ID == "" {
				return nil
			}
			if p.readLogEntries(ctx, links.Entries.ID) {
				anyRead = true
			}
			return nil
		})
	}
	if anyRead || (len(services) == 0 && listed) {
		p.c.logsReadAt = p.snap.Time
		p.read(bmc.PartLogs)
	}
}

// readLogEntries reads one log's entries and appends the new ones.
func (p *poll) readLogEntries(ctx context.Context, entriesURI string) bool {
	type decoded struct {
		key   string
		entry bmc.LogEntry
	}
	var entries []decoded
	ok := p.eachMember(ctx, bmc.PartLogs, entriesURI, func(uri string, raw []byte) error {
		var le schemas.LogEntry
		var links struct {
			Links struct{ OriginOfCondition odataID }
		}
		if err := decode(uri, raw, &le); err != nil {
			return err
		}
		_ = json.Unmarshal(raw, &links) // optional; the entry stands without it
		id := firstNonEmpty(le.ID, lastSegment(firstNonEmpty(le.ODataID, uri)))
		entry := logEntryFromRedfish(id, firstNonEmpty(le.ODataID, uri), &le)
		p.identifySubject(&entry, links.Links.OriginOfCondition.ID)
		entries = append(entries, decoded{key: firstNonEmpty(le.ODataID, uri, id), entry: entry})
		return nil
	})
	if !ok {
		return false
	}
	keys := make([]string, len(entries))
	for i, e := range entries {
		keys[i] = e.key
	}
	firstRead := !p.c.logs.known(entriesURI)
	for i, fresh := range p.c.logs.advance(entriesURI, keys) {
		if fresh {
			p.snap.Logs = append(p.snap.Logs, entries[i].entry)
		}
	}
	if firstRead && p.c.recentLogs > 0 {
		p.snap.Logs = append(p.snap.Logs, newestEntries(entries, p.c.recentLogs, func(d decoded) bmc.LogEntry { return d.entry })...)
	}
	return true
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
	c.originsMu.Lock()
	defer c.originsMu.Unlock()
	if c.origins == nil {
		c.origins = map[string]subjectRef{}
	}
	c.origins[strings.TrimSuffix(uri, "/")] = subjectRef{component: component, subject: subject}
}

// identifySubject fills a log entry's Subject (and its Component where the
// text gave none) from Links.OriginOfCondition when it points at a part that
// was read, else from the part named in the message: a DIMM slot, a PSU's
// name, a fan, a drive's bay or name, a CPU's socket or name. Names shared
// by several parts identify none of them.
func (p *poll) identifySubject(e *bmc.LogEntry, origin string) {
	if origin != "" {
		p.c.originsMu.Lock()
		ref, ok := p.c.origins[strings.TrimSuffix(origin, "/")]
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
