package redfish

import (
	"context"
	"strings"

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
	if mgrs := p.c.root.Managers.ID; mgrs != "" {
		p.eachMember(ctx, bmc.PartLogs, mgrs, func(uri string, raw []byte) error {
			var links navLinks
			if err := decode(uri, raw, &links); err != nil {
				return err
			}
			if links.LogServices.ID != "" {
				services = append(services, links.LogServices.ID)
			}
			return nil
		})
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
	if anyRead || len(services) == 0 {
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
		if err := decode(uri, raw, &le); err != nil {
			return err
		}
		id := firstNonEmpty(le.ID, lastSegment(firstNonEmpty(le.ODataID, uri)))
		entry := logEntryFromRedfish(id, firstNonEmpty(le.ODataID, uri), &le)
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
	for i, fresh := range p.c.logs.advance(entriesURI, keys) {
		if fresh {
			p.snap.Logs = append(p.snap.Logs, entries[i].entry)
		}
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
