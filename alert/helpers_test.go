package alert

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/influxdata/influxdb-client-go/v2/api/write"

	"github.com/rackpulse/rackpulse/bmc"
	"github.com/rackpulse/rackpulse/fleet"
	"github.com/rackpulse/rackpulse/inventory"
	"github.com/rackpulse/rackpulse/rollup"
)

var t0 = time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)

const interval = 30 * time.Second

func ptr[T any](v T) *T { return &v }

func loadInventory(t testing.TB) *inventory.Inventory {
	t.Helper()
	t.Setenv("ALERT_TEST_PASSWORD", "alert-test-password")
	inv, problems, err := inventory.Load("testdata/inventory.yaml")
	if err != nil {
		t.Fatalf("inventory: %v\n%s", err, problems.Errors())
	}
	return inv
}

// notes is a Notifier that keeps every batch.
type notes struct {
	mu      sync.Mutex
	batches [][]Alert
}

func (n *notes) Notify(as []Alert) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.batches = append(n.batches, as)
}

// changes lists the notified state changes as "name/severity/state/subject".
func (n *notes) all() []Alert {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []Alert
	for _, b := range n.batches {
		out = append(out, b...)
	}
	return out
}

func (n *notes) reset() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.batches = nil
}

// changeLog is the PointWriter of alert points: one per state change.
type changeLog struct {
	mu  sync.Mutex
	got []string
}

func (c *changeLog) Write(points ...*write.Point) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range points {
		tags := map[string]string{}
		for _, t := range p.TagList() {
			tags[t.Key] = t.Value
		}
		var state string
		for _, f := range p.FieldList() {
			if f.Key == "state" {
				state = f.Value.(string)
			}
		}
		c.got = append(c.got, strings.TrimSpace(fmt.Sprintf("%s %s %s %s", tags["alertname"], tags["severity"], state, tags["subject"])))
	}
}

// harness drives an engine with polls and cycles of a test inventory.
type harness struct {
	t       testing.TB
	inv     *inventory.Inventory
	e       *Engine
	notes   *notes
	changed *changeLog
	now     time.Time
}

func newHarness(t testing.TB, opts Options) *harness {
	t.Helper()
	h := &harness{t: t, inv: loadInventory(t), notes: &notes{}, changed: &changeLog{}, now: t0}
	opts.Notifiers = append(opts.Notifiers, h.notes)
	opts.Points = h.changed
	if opts.ExternalURL == "" {
		opts.ExternalURL = "http://rackpulse.example:9290"
	}
	h.e = New(opts)
	h.e.SetInventory(h.inv, nil, interval)
	return h
}

func (h *harness) server(name string) *inventory.Server {
	s, ok := h.inv.Server(name)
	if !ok {
		h.t.Fatalf("no server %s", name)
	}
	return s
}

// poll hands the engine one poll of a server at the harness's clock,
// then advances the clock one interval.
func (h *harness) poll(name string, snap *bmc.Snapshot, err error) {
	h.t.Helper()
	var st rollup.ServerState
	st.Server = name
	st.Observe(h.now, snap, err)
	h.e.ObservePoll(&fleet.Poll{Site: h.inv.Site, Server: h.server(name), At: h.now, Interval: interval, Snapshot: snap, Err: err, State: st})
	h.now = h.now.Add(interval)
}

// changes lists the state changes since the last call, each as
// "alertname severity state subject".
func (h *harness) changes() []string {
	h.changed.mu.Lock()
	defer h.changed.mu.Unlock()
	out := h.changed.got
	h.changed.got = nil
	return out
}

// notified lists what the notifiers were handed since the last call, in
// the same form.
func (h *harness) notified() []string {
	var out []string
	for _, a := range h.notes.all() {
		comp := componentLabel(a)
		out = append(out, strings.TrimSpace(fmt.Sprintf("%s %s %s %s", a.Name, a.Severity, a.State, a.Labels[comp])))
	}
	h.notes.reset()
	return out
}

// firing lists the firing alerts as "alertname severity subject".
func (h *harness) firing() []string {
	var out []string
	for _, a := range h.e.Alerts() {
		if a.State == StateFiring {
			out = append(out, strings.TrimSpace(fmt.Sprintf("%s %s %s", a.Name, a.Severity, a.Labels[componentLabel(a)])))
		}
	}
	return out
}

func (h *harness) alert(name string) Alert {
	h.t.Helper()
	for _, a := range h.e.Alerts() {
		if a.Name == name && a.State == StateFiring {
			return a
		}
	}
	h.t.Fatalf("no firing %s; alerts: %v", name, h.firing())
	return Alert{}
}

// healthy is a server in good health: two CPUs with the BMC's thresholds,
// an inlet, two fans, two PSUs, four DIMMs with counters, two drives.
func healthy(name string, at time.Time) *bmc.Snapshot {
	s := bmc.NewSnapshot(name, "", bmc.ProtocolRedfish, at)
	s.Systems = []bmc.System{{ID: "1", PowerState: "On", Health: bmc.HealthOK}}
	s.Chassis = []bmc.Chassis{{ID: "1", PowerState: "On", Health: bmc.HealthOK}}
	s.Power = []bmc.PowerReading{{Chassis: "1", Source: bmc.PowerFromPowerControl, Watts: 300}}
	temp := func(name, ctx string, v, warn, crit float64) bmc.Sensor {
		return bmc.Sensor{Kind: bmc.KindTemperature, Name: name, Context: ctx, Value: ptr(v), Unit: bmc.UnitCelsius, Health: bmc.HealthOK,
			Thresholds: bmc.Thresholds{UpperWarning: ptr(warn), UpperCritical: ptr(crit)}, Source: "/redfish/v1/Chassis/1/Sensors/" + strings.ReplaceAll(name, " ", "")}
	}
	fan := func(name string, rpm float64) bmc.Sensor {
		return bmc.Sensor{Kind: bmc.KindFan, Name: name, Context: bmc.ContextFan, Value: ptr(rpm), Unit: bmc.UnitRPM, Health: bmc.HealthOK,
			Thresholds: bmc.Thresholds{LowerCritical: ptr(600.0), LowerWarning: ptr(1000.0)}, Source: "/redfish/v1/Chassis/1/Sensors/" + name}
	}
	s.Sensors = []bmc.Sensor{
		temp("CPU1 Temp", bmc.ContextCPU, 60, 85, 95),
		temp("CPU2 Temp", bmc.ContextCPU, 62, 85, 95),
		temp("Inlet Temp", bmc.ContextIntake, 22, 38, 42),
		fan("Fan1", 7000), fan("Fan2", 7100),
	}
	s.CPUs = []bmc.CPU{{Socket: "CPU 1", Health: bmc.HealthOK, TemperatureC: ptr(60.0)}, {Socket: "CPU 2", Health: bmc.HealthOK, TemperatureC: ptr(62.0)}}
	s.PSUs = []bmc.PSU{
		{Chassis: "1", Bay: "1", State: "Enabled", Health: bmc.HealthOK, CapacityWatts: ptr(800.0), InputWatts: ptr(150.0), LineInputStatus: "Normal", Serial: "PSU-SN-1", Model: "PWS-801"},
		{Chassis: "1", Bay: "2", State: "Enabled", Health: bmc.HealthOK, CapacityWatts: ptr(800.0), InputWatts: ptr(150.0), LineInputStatus: "Normal", Serial: "PSU-SN-2", Model: "PWS-801"},
	}
	for _, slot := range []string{"A1", "A2", "B1", "B2"} {
		s.DIMMs = append(s.DIMMs, bmc.DIMM{Slot: slot, State: "Enabled", Health: bmc.HealthOK, Serial: "SN-" + slot, PartNumber: "M393A2K43DB3",
			CorrectableErrors: ptr[int64](0), UncorrectableErrors: ptr[int64](0)})
	}
	s.Drives = []bmc.Drive{{Bay: "0", State: "Enabled", Health: bmc.HealthOK, Serial: "D0"}, {Bay: "1", State: "Enabled", Health: bmc.HealthOK, Serial: "D1"}}
	s.Poll.Read = []bmc.Part{bmc.PartSystems, bmc.PartChassis, bmc.PartPower, bmc.PartSensors, bmc.PartMemory, bmc.PartCPU, bmc.PartStorage, bmc.PartLogs}
	return s
}

func sensor(s *bmc.Snapshot, name string) *bmc.Sensor {
	for i := range s.Sensors {
		if s.Sensors[i].Name == name {
			return &s.Sensors[i]
		}
	}
	panic("no sensor " + name)
}

func dimm(s *bmc.Snapshot, slot string) *bmc.DIMM {
	for i := range s.DIMMs {
		if s.DIMMs[i].Slot == slot {
			return &s.DIMMs[i]
		}
	}
	panic("no DIMM " + slot)
}

var errTimeout = &bmc.Error{Kind: bmc.ErrKindTimeout, Err: errors.New("no answer within 10s")}
