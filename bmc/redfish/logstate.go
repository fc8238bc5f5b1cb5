package redfish

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/rackpulse/rackpulse/bmc"
)

// logStateVersion is the layout of the log state file.
const logStateVersion = 1

// logPosition is where the collector is in one log (one Entries
// collection): enough to tell, after a restart, which entries were already
// reported without keeping every id.
type logPosition struct {
	// Newest is the latest Created time among the dated entries read.
	Newest time.Time `json:"newest,omitzero"`
	// AtNewest are the keys of the entries created at Newest: an entry
	// added in that same second later is told apart by its key.
	AtNewest []string `json:"at_newest,omitempty"`
	// Undated are the keys of the entries without a usable Created time
	// (QuirkZeroDate), which can only be told apart by key.
	Undated []string `json:"undated,omitempty"`
	// Count is how many entries the log listed (within the read bound).
	Count int `json:"count"`

	// seen holds the key of every entry of the last read made by this
	// process; nil when the position was loaded from the state file.
	seen map[string]struct{}
}

// logRead is what one read of a log found: each entry's key and Created
// time (zero when undated), in the collection's order.
type logRead struct {
	keys    []string
	created []time.Time
	// complete is false when the read stopped at the page or entry bound
	// or some entries could not be read: then a shorter log does not mean
	// a cleared one.
	complete bool
}

// logCursor remembers, per log, the entries already seen. The first read of
// a log only records its position: entries that were there before the
// collector started are history, not news, and replaying them on every
// restart would raise old alerts again. With a state directory the
// positions survive restarts, so that entries written while the poller was
// down are reported and older ones are not.
type logCursor struct {
	logs   map[string]*logPosition
	store  logStore
	loaded bool
	// dimmErrors counts, per DIMM slot, the memory errors new log entries
	// named (countDIMMError), kept with the positions.
	dimmErrors map[string]*dimmLogCount
	// saved is the encoding of the positions and counts last written.
	saved []byte
}

// dimmLogCount is how many correctable and uncorrectable memory errors the
// logs named for one DIMM since the positions were first recorded.
type dimmLogCount struct {
	Correctable   int64 `json:"correctable"`
	Uncorrectable int64 `json:"uncorrectable"`
}

func newLogCursor() *logCursor {
	return &logCursor{logs: map[string]*logPosition{}, dimmErrors: map[string]*dimmLogCount{}}
}

// countDIMMError applies QuirkDIMMErrorsOnlyLogged: a new log entry
// naming a DIMM's correctable or uncorrectable error adds one to that
// DIMM's count. A "logging limit reached" or a return to normal is not an
// error of its own.
func (l *logCursor) countDIMMError(e bmc.LogEntry) {
	if e.Component != "DIMM" || e.Subject == "" || e.Severity == bmc.HealthOK {
		return
	}
	m := strings.ToLower(e.Message + " " + e.MessageID)
	if strings.Contains(m, "limit") || strings.Contains(m, "threshold") {
		return
	}
	c := l.dimmErrors[e.Subject]
	if c == nil {
		c = &dimmLogCount{}
		l.dimmErrors[e.Subject] = c
	}
	switch {
	case strings.Contains(m, "uncorrectable") || strings.Contains(m, "multi-bit") || strings.Contains(m, "multibit"):
		c.Uncorrectable++
	case strings.Contains(m, "correctable") || strings.Contains(m, "single-bit") || strings.Contains(m, "ecc"):
		c.Correctable++
	}
}

// dimmCounts gives the DIMMs whose resources publish no error counts
// those the logs named (QuirkDIMMErrorsOnlyLogged). The list may be the
// collector's kept one, which the counts must not change: it returns a
// copy when it gives any.
func (l *logCursor) dimmCounts(dimms []bmc.DIMM) []bmc.DIMM {
	copied := false
	for i := range dimms {
		d := &dimms[i]
		c := l.dimmErrors[d.Slot]
		if c == nil || d.CorrectableErrors != nil || d.UncorrectableErrors != nil {
			continue
		}
		if !copied {
			dimms, copied = slices.Clone(dimms), true
			d = &dimms[i]
		}
		ce, ue := c.Correctable, c.Uncorrectable
		d.CorrectableErrors, d.UncorrectableErrors, d.CountsFromZero = &ce, &ue, true
	}
	return dimms
}

// known reports whether a log's entries were read before (by this process
// or, per the state file, by an earlier one).
func (l *logCursor) known(entriesURI string) bool {
	_, ok := l.logs[entriesURI]
	return ok
}

// advanceRead records a read of a log and returns which of its entries are
// new, and whether the log was found cleared. An entry is new when:
//
//   - the log was cleared since the last read (the entries remembered as
//     the newest are gone and the log is shorter): every entry is;
//   - this process read the log before: its key was not in that read;
//   - the position came from the state file: it was created after Newest,
//     or at Newest under another key; an undated one, its key is not among
//     the undated keys remembered.
//
// Nothing is new on the first read of a log.
func (l *logCursor) advanceRead(entriesURI string, r logRead) (isNew []bool, cleared bool) {
	next := &logPosition{Count: len(r.keys), seen: make(map[string]struct{}, len(r.keys))}
	for i, k := range r.keys {
		next.seen[k] = struct{}{}
		if t := r.created[i]; t.IsZero() {
			next.Undated = append(next.Undated, k)
		} else if t.After(next.Newest) {
			next.Newest = t
		}
	}
	for i, k := range r.keys {
		if t := r.created[i]; !t.IsZero() && t.Equal(next.Newest) {
			next.AtNewest = append(next.AtNewest, k)
		}
	}
	next.AtNewest = sortedUnique(next.AtNewest)
	next.Undated = sortedUnique(next.Undated)

	isNew = make([]bool, len(r.keys))
	prev, known := l.logs[entriesURI]
	l.logs[entriesURI] = next
	if !known {
		return isNew, false
	}
	cleared = r.complete && len(r.keys) < prev.Count && prev.markersGone(next.seen)
	for i, k := range r.keys {
		switch t := r.created[i]; {
		case cleared:
			isNew[i] = true
		case prev.seen != nil:
			_, had := prev.seen[k]
			isNew[i] = !had
		case t.IsZero():
			_, had := slices.BinarySearch(prev.Undated, k)
			isNew[i] = !had
		default:
			_, had := slices.BinarySearch(prev.AtNewest, k)
			c := t.Compare(prev.Newest)
			isNew[i] = c > 0 || c == 0 && !had
		}
	}
	return isNew, cleared
}

// markersGone reports whether the entries a position remembers by key (the
// newest ones, or the undated ones of a log without dates) are all absent
// from a read. A position that remembers none has none gone.
func (p *logPosition) markersGone(now map[string]struct{}) bool {
	markers := p.AtNewest
	if len(markers) == 0 {
		markers = p.Undated
	}
	if len(markers) == 0 {
		return false
	}
	for _, k := range markers {
		if _, ok := now[k]; ok {
			return false
		}
	}
	return true
}

func sortedUnique(s []string) []string {
	slices.Sort(s)
	return slices.Compact(s)
}

// load reads the state file once per collector. An unreadable or corrupt
// file is logged and treated as no state: the logs' positions are then
// recorded afresh.
func (l *logCursor) load(log *slog.Logger, server string) {
	if l.loaded {
		return
	}
	l.loaded = true
	st, err := l.store.load()
	if err != nil {
		log.Warn("Redfish log state not usable; log positions will be recorded afresh", "file", l.store.path, "err", err)
		return
	}
	for uri, pos := range st.Logs {
		if _, ok := l.logs[uri]; ok || pos == nil {
			continue
		}
		pos.AtNewest = sortedUnique(pos.AtNewest)
		pos.Undated = sortedUnique(pos.Undated)
		l.logs[uri] = pos
	}
	for slot, c := range st.DIMMErrors {
		if _, ok := l.dimmErrors[slot]; !ok && c != nil {
			l.dimmErrors[slot] = c
		}
	}
	l.saved, _ = json.Marshal(logState{Logs: l.logs, DIMMErrors: l.dimmErrors})
}

// save writes the positions when they changed since the last write. A
// failure is logged: the positions stay in memory.
func (l *logCursor) save(log *slog.Logger, server string, now time.Time) {
	if l.store.path == "" {
		return
	}
	b, err := json.Marshal(logState{Logs: l.logs, DIMMErrors: l.dimmErrors})
	if err != nil || bytes.Equal(b, l.saved) {
		return
	}
	st := logState{Version: logStateVersion, Server: server, Updated: now.UTC(), Logs: l.logs, DIMMErrors: l.dimmErrors}
	if err := l.store.save(st); err != nil {
		log.Warn("Redfish log state not saved", "file", l.store.path, "err", err)
		return
	}
	l.saved = b
}

// logState is the content of a log state file.
type logState struct {
	Version int                     `json:"version"`
	Server  string                  `json:"server"`
	Updated time.Time               `json:"updated"`
	Logs    map[string]*logPosition `json:"logs"`
	// DIMMErrors are the memory errors the logs named, per DIMM slot.
	DIMMErrors map[string]*dimmLogCount `json:"dimm_errors,omitempty"`
}

// logStore keeps the log positions, when dir is set, in a JSON file per
// server under dir, replaced atomically on every change.
type logStore struct {
	path string
}

var unsafeFileChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func newLogStore(dir, server string) logStore {
	if dir == "" {
		return logStore{}
	}
	return logStore{path: filepath.Join(dir, "redfish-logs-"+safeFileName(server)+".json")}
}

// load returns the stored state; a missing file (or no file: state in
// memory) is no state.
func (s logStore) load() (logState, error) {
	if s.path == "" {
		return logState{}, nil
	}
	b, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return logState{}, nil
	}
	if err != nil {
		return logState{}, fmt.Errorf("reading Redfish log state %s: %w", s.path, err)
	}
	var st logState
	if err := json.Unmarshal(b, &st); err != nil {
		return logState{}, fmt.Errorf("decoding Redfish log state %s: %w", s.path, err)
	}
	if st.Version != logStateVersion {
		return logState{}, fmt.Errorf("unknown layout version %d in Redfish log state %s (want %d)", st.Version, s.path, logStateVersion)
	}
	return st, nil
}

// save writes the state to a temporary file and renames it into place
// (bmc.WriteStateFile).
func (s logStore) save(st logState) error {
	if s.path == "" {
		return nil
	}
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding Redfish log state: %w", err)
	}
	return bmc.WriteStateFile(s.path, append(b, '\n'))
}
