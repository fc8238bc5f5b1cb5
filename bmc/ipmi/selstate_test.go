package ipmi

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

func TestSELStateRoundTrip(t *testing.T) {
	dir := t.TempDir()
	store := newSELStore(dir, "r12/u07 db-01")
	if got, err := store.load(); err != nil || got.Valid {
		t.Fatalf("missing file: %+v, %v; want no cursor", got, err)
	}
	want := selCursor{Valid: true, LastRecordID: 0x1a2, Addition: 0x6553f100, Erase: 0x6553e000,
		Updated: time.Date(2026, 11, 26, 4, 0, 0, 0, time.UTC), Partial: true,
		DIMMErrors:  map[string]dimmErrors{"DIMM A1": {Correctable: 3, Uncorrectable: 1}, "CPU2 Memory DIMM 4": {Correctable: 12}},
		BankSensors: []string{"CPU2 Memory"}}
	if err := store.save(want); err != nil {
		t.Fatal(err)
	}
	if got, err := store.load(); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip: %+v, %v; want %+v", got, err, want)
	}
	// One file per server, with a safe name, and no temporary file left.
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "ipmi-sel-r12_u07_db-01.json" {
		t.Errorf("state dir holds %v", entries)
	}
	want.LastRecordID++
	if err := store.save(want); err != nil {
		t.Fatal(err)
	}
	if got, _ := store.load(); !reflect.DeepEqual(got, want) {
		t.Errorf("after overwrite: %+v", got)
	}
	if err := os.WriteFile(filepath.Join(dir, "ipmi-sel-r12_u07_db-01.json"), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := store.load(); err == nil {
		t.Error("corrupt state file loaded without error")
	}
	// In memory: nothing written.
	mem := newSELStore("", "x")
	if err := mem.save(want); err != nil {
		t.Fatal(err)
	}
	if got, _ := mem.load(); got.Valid {
		t.Error("in-memory store read a file")
	}
}
