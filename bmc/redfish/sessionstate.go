package redfish

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/rackpulse/rackpulse/bmc"
)

// sessionStateVersion is the layout of the session state file.
const sessionStateVersion = 1

// savedSession is the content of a session state file: the one session a
// collector holds at its BMC, for a collector started after a crash to take
// up or delete.
type savedSession struct {
	Version int    `json:"version"`
	Server  string `json:"server"`
	// Origin is the BMC's (scheme://host:port) and Username the account:
	// the session is used again only by a collector of the same two.
	Origin   string    `json:"origin"`
	Username string    `json:"username"`
	URI      string    `json:"uri"`
	Token    string    `json:"token"`
	Created  time.Time `json:"created"`
}

// sessionStore keeps the session, when dir is set, in
// <dir>/redfish-session-<server>.json: mode 0600 (the token is a
// credential), replaced atomically, removed when the session is deleted.
type sessionStore struct {
	path string
}

func newSessionStore(dir, server string) sessionStore {
	if dir == "" {
		return sessionStore{}
	}
	return sessionStore{path: filepath.Join(dir, "redfish-session-"+safeFileName(server)+".json")}
}

// load returns the saved session, or nil when there is none.
func (s sessionStore) load() (*savedSession, error) {
	if s.path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading Redfish session state %s: %w", s.path, err)
	}
	var st savedSession
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("decoding Redfish session state %s: %w", s.path, err)
	}
	if st.Version != sessionStateVersion {
		return nil, fmt.Errorf("unknown layout version %d in Redfish session state %s (want %d)", st.Version, s.path, sessionStateVersion)
	}
	return &st, nil
}

// save writes the session. A failure is logged: the session stays in use,
// and is left on the BMC to time out should the poller crash.
func (s sessionStore) save(log *slog.Logger, st savedSession) {
	if s.path == "" {
		return
	}
	st.Version = sessionStateVersion
	b, err := json.MarshalIndent(st, "", "  ")
	if err == nil {
		err = bmc.WriteStateFile(s.path, append(b, '\n'))
	}
	if err != nil {
		log.Warn("Redfish session state not saved", "file", s.path, "err", err)
	}
}

// remove forgets the saved session.
func (s sessionStore) remove(log *slog.Logger) {
	if s.path == "" {
		return
	}
	if err := os.Remove(s.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		log.Warn("Redfish session state not removed", "file", s.path, "err", err)
	}
}

// safeFileName turns a server name into a file name part: unsafe
// characters become _.
func safeFileName(server string) string {
	return unsafeFileChars.ReplaceAllString(server, "_")
}
