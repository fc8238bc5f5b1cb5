package bmc

import (
	"encoding/json"
	"testing"
	"time"
	"unsafe"
)

// A compacted snapshot reads the same, holds no spare capacity, and two
// BMCs' equal strings share one copy.
func TestCompactKeepsTheSnapshotAndSharesStrings(t *testing.T) {
	at := time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC)
	build := func(server string) *Snapshot {
		s := NewSnapshot(server, "r1", ProtocolRedfish, at)
		for i := range 5 {
			v := float64(40 + i)
			s.Sensors = append(s.Sensors, Sensor{Kind: KindTemperature, Name: string([]byte("CPU1 Temp")), Unit: UnitCelsius, Value: &v,
				Source: string([]byte("/redfish/v1/Chassis/1/Thermal#/Temperatures/0")), State: string([]byte("Enabled"))})
		}
		s.DIMMs = append(s.DIMMs, DIMM{Slot: string([]byte("DIMM_A1")), Serial: server + "-serial"})
		return s
	}
	a, b := build("a"), build("b")
	before, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	if cap(a.Sensors) == len(a.Sensors) {
		t.Fatalf("test setup: %d sensors in a slice of %d", len(a.Sensors), cap(a.Sensors))
	}
	a.Compact()
	b.Compact()
	after, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	if string(before) != string(after) {
		t.Errorf("compacting changed the snapshot:\n%s\n%s", before, after)
	}
	if cap(a.Sensors) != len(a.Sensors) {
		t.Errorf("sensors: %d in a slice of %d after compacting", len(a.Sensors), cap(a.Sensors))
	}
	same := func(x, y string) bool { return unsafe.StringData(x) == unsafe.StringData(y) }
	if !same(a.Sensors[0].Source, b.Sensors[3].Source) || !same(a.Sensors[1].Name, b.Sensors[2].Name) || !same(a.DIMMs[0].Slot, b.DIMMs[0].Slot) {
		t.Error("equal strings of two snapshots are separate copies after compacting")
	}
	empty := NewSnapshot("c", "r1", ProtocolRedfish, at)
	empty.Compact()
	if empty.Sensors == nil || empty.DIMMs == nil {
		t.Error("compacting turned empty lists into nil (null in JSON)")
	}
}
