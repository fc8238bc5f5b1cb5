package fleet

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rackpulse/rackpulse/bmc"
)

// syncBuffer is a log destination safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A poll's absurd readings are set aside before anything sees them: the
// sinks, the stored Snapshot, the rollup and the rack power never carry
// them, the other servers still sum, and the change is logged once.
func TestObserveSetsAsideImplausibleReadings(t *testing.T) {
	var logs syncBuffer
	f := New(loadInventory(t), NewScope(nil), 30*time.Second, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	rec := &recorder{}
	f.AddSink(rec)

	absurd := func() *bmc.Snapshot {
		s := snapshot("r12-u02", t0, 8e307)
		s.Power = append(s.Power, bmc.PowerReading{Chassis: "1", Source: bmc.PowerFromPSUInput, Watts: math.Inf(1)})
		s.PSUs[0].InputWatts, s.PSUs[1].InputWatts = ptr(8e307), ptr(8e307)
		s.Sensors = []bmc.Sensor{{Kind: bmc.KindTemperature, Name: "CPU1 Temp", Context: bmc.ContextCPU, Unit: bmc.UnitCelsius, Value: ptr(-300), Health: bmc.HealthOK}}
		return s
	}
	f.Observe(endpoint("r12-u01"), t0, snapshot("r12-u01", t0, 400), nil)
	f.Observe(endpoint("r12-u02"), t0, absurd(), nil)
	f.Observe(endpoint("r12-u02"), t0.Add(30*time.Second), absurd(), nil)
	f.Rollup(t0.Add(31 * time.Second))

	snap, ok := f.Snapshot("r12-u02")
	if !ok {
		t.Fatal("no snapshot of r12-u02")
	}
	if cpu := snap.Sensors[0]; cpu.Value != nil || cpu.Health != bmc.HealthUnknown || len(cpu.Suspect) != 1 {
		t.Errorf("CPU1 Temp = %+v; want its -300 °C set aside, health unknown, the reason kept", cpu)
	}
	if snap.PSUs[0].InputWatts != nil || len(snap.PSUs[0].Suspect) == 0 || len(snap.Power) != 1 || snap.Power[0].Suspect == "" {
		t.Errorf("PSUs %+v, power readings %+v; want the 8e307 W inputs set aside, the +Inf reading left out, the 8e307 W one suspect", snap.PSUs, snap.Power)
	}
	if len(snap.Poll.Quirks) != 5 {
		t.Errorf("quirks %+v; want 5 (sensor, two PSU inputs, two power readings)", snap.Poll.Quirks)
	}
	if _, err := json.Marshal(snap); err != nil {
		t.Errorf("the stored Snapshot does not encode: %v", err)
	}
	rec.mu.Lock()
	sunk := rec.polls[len(rec.polls)-1]
	rec.mu.Unlock()
	if sunk.Snapshot.Sensors[0].Value != nil || sunk.State.Power.Known {
		t.Errorf("the sinks got value %v, power known %t; want the checked Snapshot and no power", sunk.Snapshot.Sensors[0].Value, sunk.State.Power.Known)
	}

	var rollup struct {
		Racks []struct {
			Name      string
			Watts     float64
			Reporting int `json:"reporting"`
			NoReading int `json:"no_reading"`
		}
	}
	if err := json.Unmarshal(rollupJSON(t, f), &rollup); err != nil {
		t.Fatalf("/api/rollup body: %v\n%s", err, rollupJSON(t, f))
	}
	if r := rollup.Racks[0]; r.Name != "r12" || r.Watts != 400 || r.Reporting != 1 || r.NoReading != 1 {
		t.Errorf("rack %+v; want r12 at the healthy server's 400 W, the absurd one live without a reading", r)
	}
	if !strings.Contains(string(powerJSON(t, f)), `"server":"r12-u02"`) || !strings.Contains(string(powerJSON(t, f)), "no usable power reading") {
		t.Errorf("/api/power body names no server set aside: %s", powerJSON(t, f))
	}
	if n := strings.Count(logs.String(), "set aside as implausible"); n != 1 || !strings.Contains(logs.String(), "server=r12-u02") {
		t.Errorf("logged %d times; want once for the two polls of r12-u02:\n%s", n, logs.String())
	}

	f.Observe(endpoint("r12-u02"), t0.Add(time.Minute), snapshot("r12-u02", t0.Add(time.Minute), 300), nil)
	if !strings.Contains(logs.String(), "plausible again") {
		t.Errorf("no log when r12-u02's readings came back:\n%s", logs.String())
	}
}
