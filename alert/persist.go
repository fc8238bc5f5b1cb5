package alert

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// stateFile is the engine's state under StateDir.
const stateFile = "alerts.json"

// stateVersion is the state file's format.
const stateVersion = 1

// savedState is what survives a restart: the firing alerts (so that a
// restart neither fires them again nor forgets them), each DIMM's error
// counter history, the event conditions still holding, and the alerts
// resolved recently. Pending alerts are not kept: after a restart a
// condition must hold for its for-duration again.
type savedState struct {
	Version  int                    `json:"version"`
	Saved    time.Time              `json:"saved"`
	Servers  map[string]savedServer `json:"servers,omitempty"`
	Racks    map[string]savedRack   `json:"racks,omitempty"`
	Resolved []Alert                `json:"resolved,omitempty"`
}

type savedServer struct {
	LastGood time.Time    `json:"last_good,omitzero"`
	Alerts   []savedAlert `json:"alerts,omitempty"`
	// DIMMs are the counter tracks with something to keep; ZeroSlots the
	// slots whose counter read 0 (most of them), kept by name only.
	DIMMs     []dimmTrack      `json:"dimms,omitempty"`
	ZeroSlots []string         `json:"zero_slots,omitempty"`
	Events    []eventCondition `json:"events,omitempty"`
}

type savedRack struct {
	Alerts []savedAlert `json:"alerts,omitempty"`
}

type savedAlert struct {
	Subject     string `json:"subject,omitempty"`
	FromReading bool   `json:"from_reading,omitempty"`
	What        string `json:"what,omitempty"`
	Source      string `json:"source,omitempty"`
	Serial      string `json:"serial,omitempty"`
	Part        string `json:"part,omitempty"`
	Alert       Alert  `json:"alert"`
}

func saveAlerts(as []*active) []savedAlert {
	var out []savedAlert
	for _, a := range as {
		if a.alert.State != StateFiring {
			continue
		}
		out = append(out, savedAlert{Subject: a.subject, FromReading: a.fromReading,
			What: a.last.what, Source: a.last.source, Serial: a.last.serial, Part: a.last.part, Alert: a.alert})
	}
	return out
}

func (e *Engine) restoreAlerts(saved []savedAlert) []*active {
	var out []*active
	for _, s := range saved {
		r, ok := ruleNamed(s.Alert.Name)
		if !ok || s.Alert.State != StateFiring {
			continue
		}
		a := &active{key: key{rule: r, subject: s.Subject, from: s.Alert.Labels["source"]}, alert: s.Alert, fromReading: s.FromReading, hits: 1,
			last: finding{key: key{rule: r, subject: s.Subject}, sev: s.Alert.Severity, what: s.What, source: s.Source, serial: s.Serial, part: s.Part}}
		out = append(out, a)
		e.metrics.firing.WithLabelValues(s.Alert.Name, s.Alert.Severity.String()).Inc()
	}
	return out
}

// encodeState encodes the state to save, and counts it saved.
func (e *Engine) encodeState() ([]byte, error) {
	st := savedState{Version: stateVersion, Saved: time.Now().UTC(), Servers: map[string]savedServer{}, Racks: map[string]savedRack{}}
	for name, s := range e.servers {
		ss := savedServer{LastGood: s.lastGood, Alerts: saveAlerts(s.alerts), Events: s.events}
		for _, d := range s.dimms {
			switch {
			case len(d.Increments) > 0 || !d.Replaced.IsZero() || (d.Known && d.Last != 0):
				ss.DIMMs = append(ss.DIMMs, d)
			case d.Known:
				ss.ZeroSlots = append(ss.ZeroSlots, d.Slot)
			}
		}
		if len(ss.Alerts) > 0 || len(ss.DIMMs) > 0 || len(ss.ZeroSlots) > 0 || len(ss.Events) > 0 {
			st.Servers[name] = ss
		}
	}
	for name, r := range e.racks {
		if as := saveAlerts(r.alerts); len(as) > 0 {
			st.Racks[name] = savedRack{Alerts: as}
		}
	}
	st.Resolved = e.resolved
	b, err := json.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("alert state: %w", err)
	}
	e.dirty = false
	return b, nil
}

// stateToSave encodes the state when it changed since it was last saved
// and there is a state directory; nil otherwise. Called with e.mu held;
// the file is written by writeState, without it.
func (e *Engine) stateToSave() []byte {
	if !e.dirty || e.opts.StateDir == "" {
		return nil
	}
	b, err := e.encodeState()
	if err != nil {
		e.log.Error("alert state not encoded", "err", err)
		return nil
	}
	return b
}

// writeState writes encoded state to the state file (atomically, mode
// 0600). A failure is logged and the state marked for the next cycle.
func (e *Engine) writeState(b []byte) error {
	if b == nil {
		return nil
	}
	e.saveMu.Lock()
	defer e.saveMu.Unlock()
	err := writeFileAtomic(filepath.Join(e.opts.StateDir, stateFile), b)
	if err != nil {
		e.log.Error("alert state not saved; it is kept in memory and saved again next cycle", "err", err)
		e.mu.Lock()
		e.dirty = true
		e.mu.Unlock()
	}
	return err
}

// restore reads the state file, if any. A damaged one is logged and set
// aside: alerts then start afresh rather than not at all.
func (e *Engine) restore() {
	if e.opts.StateDir == "" {
		return
	}
	path := filepath.Join(e.opts.StateDir, stateFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	var st savedState
	if err == nil {
		err = json.Unmarshal(b, &st)
	}
	if err == nil && st.Version != stateVersion {
		err = fmt.Errorf("version %d, want %d", st.Version, stateVersion)
	}
	if err != nil {
		e.log.Warn("alert state unreadable; starting without it", "file", path, "err", err)
		return
	}
	for name, ss := range st.Servers {
		dimms := ss.DIMMs
		for _, slot := range ss.ZeroSlots {
			dimms = append(dimms, dimmTrack{Slot: slot, Known: true})
		}
		e.servers[name] = &serverState{name: name, lastGood: ss.LastGood, alerts: e.restoreAlerts(ss.Alerts), dimms: dimms, events: ss.Events}
	}
	for name, sr := range st.Racks {
		e.racks[name] = &rackState{name: name, alerts: e.restoreAlerts(sr.Alerts)}
	}
	e.resolved = st.Resolved
	e.log.Info("alert state restored", "file", path, "saved", st.Saved, "servers", len(st.Servers), "racks", len(st.Racks))
}

func writeFileAtomic(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
