package ipmi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"time"
)

// selCursor is where the collector is in a BMC's SEL: the last record
// read and the SEL's last-addition and erase timestamps when it was read.
type selCursor struct {
	// Valid is false until the SEL position is first recorded.
	Valid        bool      `json:"valid"`
	LastRecordID uint16    `json:"last_record_id"`
	Empty        bool      `json:"empty,omitempty"` // the SEL had no records
	Addition     uint32    `json:"last_addition"`
	Erase        uint32    `json:"last_erase"`
	Entries      uint16    `json:"entries"`
	Updated      time.Time `json:"updated"`
}

// selStore keeps a cursor in memory and, when dir is set, in a JSON file
// per server under dir, replaced atomically on every change.
type selStore struct {
	path string
}

var unsafeFileChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func newSELStore(dir, server string) selStore {
	if dir == "" {
		return selStore{}
	}
	name := unsafeFileChars.ReplaceAllString(server, "_")
	return selStore{path: filepath.Join(dir, "ipmi-sel-"+name+".json")}
}

// load returns the stored cursor; a missing file is no cursor.
func (s selStore) load() (selCursor, error) {
	if s.path == "" {
		return selCursor{}, nil
	}
	b, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return selCursor{}, nil
	}
	if err != nil {
		return selCursor{}, fmt.Errorf("reading SEL state %s: %w", s.path, err)
	}
	var c selCursor
	if err := json.Unmarshal(b, &c); err != nil {
		return selCursor{}, fmt.Errorf("decoding SEL state %s: %w", s.path, err)
	}
	return c, nil
}

// save writes the cursor to a temporary file and renames it into place.
func (s selStore) save(c selCursor) error {
	if s.path == "" {
		return nil
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding SEL state: %w", err)
	}
	dir := filepath.Dir(s.path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("creating state dir %s: %w", dir, err)
	}
	tmp, err := os.CreateTemp(dir, ".ipmi-sel-*.tmp")
	if err != nil {
		return fmt.Errorf("writing SEL state: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("writing SEL state %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("syncing SEL state %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("closing SEL state %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), s.path); err != nil {
		return fmt.Errorf("replacing SEL state %s: %w", s.path, err)
	}
	return nil
}
