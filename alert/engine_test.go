package alert

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rackpulse/rackpulse/bmc"
	"github.com/rackpulse/rackpulse/fleet"
	"github.com/rackpulse/rackpulse/power"
	"github.com/rackpulse/rackpulse/rollup"
)

func TestHealthyServerRaisesNothing(t *testing.T) {
	h := newHarness(t, Options{})
	for range 20 {
		h.poll("r12-u03", healthy("r12-u03", h.now), nil)
	}
	if got := h.changes(); len(got) != 0 {
		t.Errorf("a healthy server raised %v", got)
	}
}

func TestDIMMUncorrectableFiresAtOnceWithWhatATechnicianNeeds(t *testing.T) {
	h := newHarness(t, Options{})
	s := healthy("r12-u03", h.now)
	dimm(s, "A1").UncorrectableErrors = ptr[int64](1)
	h.poll("r12-u03", s, nil)
	if got := h.changes(); !slices.Equal(got, []string{"DIMMFailing critical firing A1"}) {
		t.Fatalf("changes = %v, want DIMMFailing critical on A1 at the first poll", got)
	}
	a := h.alert("DIMMFailing")
	want := map[string]string{"alertname": "DIMMFailing", "severity": "critical", "site": "dc1", "room": "hall-1", "row": "row-a",
		"rack": "r12", "server": "r12-u03", "position": "3", "slot": "A1"}
	if fmt.Sprint(a.Labels) != fmt.Sprint(want) {
		t.Errorf("labels = %v\nwant     %v", a.Labels, want)
	}
	if s := a.Annotations.Summary; s != "Replace DIMM A1 in r12-u03 (rack r12, U3): 1 uncorrectable error" {
		t.Errorf("summary = %q", s)
	}
	for _, part := range []string{"SN-A1", "M393A2K43DB3"} {
		if !strings.Contains(a.Annotations.Description, part) {
			t.Errorf("description %q lacks %s", a.Annotations.Description, part)
		}
	}
	if a.GeneratorURL != "http://rackpulse.example:9290/api/servers?server=r12-u03" {
		t.Errorf("generatorURL = %q", a.GeneratorURL)
	}
}

func TestDIMMCorrectableRateCountsDeltasAndResets(t *testing.T) {
	h := newHarness(t, Options{})
	counts := []int64{500, 503, 506, 509, 2, 3}
	var fired int
	for i, c := range counts {
		s := healthy("r12-u03", h.now)
		dimm(s, "B2").CorrectableErrors = ptr(c)
		h.poll("r12-u03", s, nil)
		got := h.changes()
		if len(got) > 0 {
			fired = i
			if !slices.Equal(got, []string{"DIMMFailing warning firing B2"}) {
				t.Fatalf("poll %d: changes %v", i, got)
			}
		}
	}
	// 500 is a baseline (not dated); 3+3+3 = 9 are new; the reset to 2
	// counts 2 new: 11 in 24 h at the fifth poll.
	if fired != 4 {
		t.Errorf("DIMMFailing fired at poll %d, want 4 (the reset counted)", fired)
	}
	if a := h.alert("DIMMFailing"); !strings.Contains(a.Annotations.Summary, "12 correctable errors in 24 h") || *a.Value != 12 || *a.Threshold != 10 {
		t.Errorf("summary %q, value %v: want the errors in 24 h", a.Annotations.Summary, *a.Value)
	}

	// Still firing within 24 h of the errors, with no new ones.
	h.now = h.now.Add(20 * time.Hour)
	s := healthy("r12-u03", h.now)
	dimm(s, "B2").CorrectableErrors = ptr[int64](3)
	h.poll("r12-u03", s, nil)
	if got := h.changes(); len(got) != 0 {
		t.Errorf("within the window: changes %v", got)
	}
	// Past the window the rate is 0: a reading that shows recovery.
	h.now = h.now.Add(5 * time.Hour)
	s = healthy("r12-u03", h.now)
	dimm(s, "B2").CorrectableErrors = ptr[int64](3)
	h.poll("r12-u03", s, nil)
	if got := h.changes(); !slices.Equal(got, []string{"DIMMFailing warning resolved B2"}) {
		t.Errorf("past the window: changes %v, want the resolve", got)
	}
}

// A count the collector keeps from 0 (the SEL's, a BMC log's) is all new
// at its first reading; a BMC's own counter's first value is history.
func TestDIMMCountsFromZeroAreNew(t *testing.T) {
	for _, fromZero := range []bool{true, false} {
		t.Run(fmt.Sprint("from zero ", fromZero), func(t *testing.T) {
			h := newHarness(t, Options{})
			s := healthy("r12-u03", h.now)
			d := dimm(s, "B2")
			d.CorrectableErrors, d.CountsFromZero = ptr[int64](11), fromZero
			h.poll("r12-u03", s, nil)
			got := h.changes()
			if fromZero && !slices.Equal(got, []string{"DIMMFailing warning firing B2"}) {
				t.Errorf("changes %v; 11 errors counted from 0 are 11 new ones", got)
			}
			if !fromZero && len(got) != 0 {
				t.Errorf("changes %v; a counter's first value is a baseline", got)
			}
		})
	}
}

func TestDIMMReplacedResolves(t *testing.T) {
	h := newHarness(t, Options{})
	s := healthy("r12-u03", h.now)
	dimm(s, "A2").Health = bmc.HealthWarning
	s.Logs = []bmc.LogEntry{{ID: "9", Message: "Correctable memory error logging limit reached for DIMM A2.", Component: "DIMM", Subject: "A2", Severity: bmc.HealthWarning}}
	h.poll("r12-u03", s, nil)
	if got := h.changes(); !slices.Equal(got, []string{"DIMMFailing warning firing A2"}) {
		t.Fatalf("changes %v", got)
	}
	// The same DIMM back to OK health: the logged event still holds.
	h.poll("r12-u03", healthy("r12-u03", h.now), nil)
	if got := h.changes(); len(got) != 0 {
		t.Errorf("event within its hold: changes %v", got)
	}
	// A new DIMM in the slot (another serial) ends it.
	s = healthy("r12-u03", h.now)
	dimm(s, "A2").Serial = "SN-NEW"
	h.poll("r12-u03", s, nil)
	if got := h.changes(); !slices.Equal(got, []string{"DIMMFailing warning resolved A2"}) {
		t.Errorf("after the replacement: changes %v", got)
	}
}

func TestDIMMEventsFromTheSEL(t *testing.T) {
	h := newHarness(t, Options{})
	ipmi := func(logs ...bmc.LogEntry) *bmc.Snapshot {
		s := healthy("r12-u05", h.now)
		s.Protocol, s.DIMMs = bmc.ProtocolIPMI, []bmc.DIMM{}
		s.Poll.Read = []bmc.Part{bmc.PartSDR, bmc.PartSEL}
		s.Logs = logs
		return s
	}
	h.poll("r12-u05", ipmi(bmc.LogEntry{ID: "0x0001", Time: h.now, Message: "CPU1 Memory: Correctable ECC asserted", Component: "DIMM", Subject: "DIMM A3", Severity: bmc.HealthWarning}), nil)
	if got := h.changes(); len(got) != 0 {
		t.Errorf("one correctable ECC event raised %v; only the logging limit does", got)
	}
	h.poll("r12-u05", ipmi(bmc.LogEntry{ID: "0x0002", Time: h.now, Message: "CPU1 Memory: Correctable ECC logging limit reached asserted", Component: "DIMM", Subject: "DIMM A3", Severity: bmc.HealthWarning, Source: "SEL"}), nil)
	h.poll("r12-u05", ipmi(bmc.LogEntry{ID: "0x0003", Time: h.now, Message: "CPU1 Memory: Uncorrectable ECC asserted", Component: "DIMM", Subject: "DIMM A3", Severity: bmc.HealthCritical, Source: "SEL"}), nil)
	got := h.changes()
	want := []string{"DIMMFailing warning firing DIMM A3", "DIMMFailing warning resolved DIMM A3", "DIMMFailing critical firing DIMM A3"}
	if !slices.Equal(got, want) {
		t.Fatalf("changes %v\nwant %v", got, want)
	}
	if d := h.alert("DIMMFailing").Annotations.Description; !strings.Contains(d, "0x0003") || !strings.Contains(d, "Uncorrectable ECC") {
		t.Errorf("description %q does not name the SEL entry", d)
	}
	// No reading can clear an event: it holds for dimm_event_hold (24 h).
	h.now = h.now.Add(23 * time.Hour)
	h.poll("r12-u05", ipmi(), nil)
	if got := h.changes(); len(got) != 0 {
		t.Errorf("within the hold: changes %v", got)
	}
	h.now = h.now.Add(time.Hour)
	h.poll("r12-u05", ipmi(), nil)
	if got := h.changes(); !slices.Equal(got, []string{"DIMMFailing critical resolved DIMM A3"}) {
		t.Errorf("after the hold: changes %v", got)
	}
}

func TestCPUHotNeedsTwoPollsAndHasADeadBand(t *testing.T) {
	h := newHarness(t, Options{})
	poll := func(celsius float64) []string {
		s := healthy("r12-u03", h.now)
		sensor(s, "CPU1 Temp").Value = ptr(celsius)
		h.poll("r12-u03", s, nil)
		return h.changes()
	}
	if got := poll(86); len(got) != 0 {
		t.Fatalf("one poll over the caution threshold raised %v", got)
	}
	if got := poll(84); len(got) != 0 {
		t.Fatalf("back below: %v", got)
	}
	poll(86)
	if got := poll(87); !slices.Equal(got, []string{"CPUHot warning firing CPU1"}) {
		t.Fatalf("two polls over: %v", got)
	}
	a := h.alert("CPUHot")
	if a.Labels["cpu"] != "CPU1" || !strings.Contains(a.Annotations.Summary, "87 °C, at or above the BMC's caution threshold 85 °C") {
		t.Errorf("labels %v, summary %q", a.Labels, a.Annotations.Summary)
	}
	// Within the 3 °C dead band it stays firing.
	for _, c := range []float64{84, 83, 82.5, 86, 82} {
		if got := poll(c); len(got) != 0 {
			t.Errorf("at %v °C (dead band): changes %v", c, got)
		}
	}
	// At the critical threshold: the warning ends, the critical starts.
	if got := poll(95); !slices.Equal(got, []string{"CPUHot warning resolved CPU1", "CPUHot critical firing CPU1"}) {
		t.Errorf("at 95 °C: %v", got)
	}
	if got := poll(93); len(got) != 0 {
		t.Errorf("at 93 °C (critical dead band): %v", got)
	}
	if got := poll(91); !slices.Equal(got, []string{"CPUHot critical resolved CPU1", "CPUHot warning firing CPU1"}) {
		t.Errorf("at 91 °C: %v", got)
	}
	if got := poll(81.9); !slices.Equal(got, []string{"CPUHot warning resolved CPU1"}) {
		t.Errorf("below the dead band: %v", got)
	}
}

func TestCPUOscillationIsBounded(t *testing.T) {
	h := newHarness(t, Options{})
	var fires, resolves int
	// 200 polls swinging 2 °C either side of the caution threshold, two
	// polls each way: a threshold crossing every other poll.
	for i := range 200 {
		s := healthy("r12-u03", h.now)
		c := 83.0
		if i/2%2 == 0 {
			c = 87
		}
		sensor(s, "CPU1 Temp").Value = ptr(c)
		h.poll("r12-u03", s, nil)
	}
	for _, c := range h.changes() {
		switch {
		case strings.Contains(c, "firing"):
			fires++
		case strings.Contains(c, "resolved"):
			resolves++
		}
	}
	if fires != 1 || resolves != 0 {
		t.Errorf("100 crossings within the dead band gave %d fires, %d resolves; want 1 and 0", fires, resolves)
	}
}

func TestThresholdsWhereTheBMCHasNone(t *testing.T) {
	h := newHarness(t, Options{})
	s := healthy("r12-u03", h.now)
	cpu := sensor(s, "CPU2 Temp")
	cpu.Thresholds = bmc.Thresholds{}
	cpu.Value = ptr(91.0)
	h.poll("r12-u03", s, nil)
	h.poll("r12-u03", s, nil)
	if a := h.alert("CPUHot"); a.Labels["cpu"] != "CPU2" || *a.Threshold != 90 || !strings.Contains(a.Annotations.Summary, "the default caution threshold 90") {
		t.Errorf("CPU2 at 91 °C without BMC thresholds: %v %q", a.Labels, a.Annotations.Summary)
	}
	// r13 lowers the default to 70 °C and r13-u01 fires after one poll.
	s = healthy("r13-u01", h.now)
	sensor(s, "CPU1 Temp").Thresholds = bmc.Thresholds{}
	sensor(s, "CPU1 Temp").Value = ptr(71.0)
	sensor(s, "Inlet Temp").Value = ptr(45.0) // InletHot is off in r13
	h.poll("r13-u01", s, nil)
	if got := h.firing(); !slices.Contains(got, "CPUHot warning CPU1") || slices.ContainsFunc(got, func(s string) bool { return strings.HasPrefix(s, "InletHot") }) {
		t.Errorf("r13-u01 firing %v; want CPUHot on CPU1 (70 °C, 1 poll) and no InletHot (disabled)", got)
	}
}

func TestMissingIsNotOK(t *testing.T) {
	h := newHarness(t, Options{})
	s := healthy("r12-u03", h.now)
	sensor(s, "Fan2").Value = ptr(0.0)
	s.PSUs[1].Health, s.PSUs[1].InputWatts = bmc.HealthCritical, ptr(0.0)
	h.poll("r12-u03", s, nil)
	if got := h.firing(); !slices.Contains(got, "FanFailed warning Fan2") || !slices.Contains(got, "PSUFailed critical 2") {
		t.Fatalf("firing %v", got)
	}
	h.changes()

	// A failed poll, a poll whose sensors part failed, a poll without the
	// PSUs: nothing resolves.
	h.poll("r12-u03", nil, errTimeout)
	s = healthy("r12-u03", h.now)
	s.Sensors = slices.DeleteFunc(s.Sensors, func(x bmc.Sensor) bool { return x.Kind == bmc.KindFan })
	s.PSUs = nil
	s.Poll.Errors = []bmc.PartError{{Part: bmc.PartSensors, Kind: bmc.ErrKindTimeout, Message: "timeout"}, {Part: bmc.PartPower, Kind: bmc.ErrKindHTTP, Message: "500"}}
	h.poll("r12-u03", s, nil)
	s = healthy("r12-u03", h.now)
	sensor(s, "Fan2").Value = nil
	s.PSUs[1].Health, s.PSUs[1].InputWatts = bmc.HealthCritical, ptr(0.0)
	h.poll("r12-u03", s, nil)
	if got := h.changes(); len(got) != 0 {
		t.Errorf("missing data resolved %v", got)
	}
	// Readings that show recovery resolve.
	h.poll("r12-u03", healthy("r12-u03", h.now), nil)
	got := h.changes()
	slices.Sort(got)
	if want := []string{"FanFailed warning resolved Fan2", "PSUFailed critical resolved 2", "PSURedundancyLost warning resolved"}; !slices.Equal(got, want) {
		t.Errorf("recovery: %v, want %v", got, want)
	}
}

func TestPSUFanDriveInletFindings(t *testing.T) {
	h := newHarness(t, Options{})
	s := healthy("r12-u03", h.now)
	s.PSUs[0].LineInputStatus, s.PSUs[0].InputWatts = "LossOfInput", ptr(0.0)
	s.PSUs[1].FailurePredicted = true
	sensor(s, "Fan1").Health = bmc.HealthCritical
	s.Drives[0].FailurePredicted, s.Drives[0].LifeLeftPercent = true, ptr(3.0)
	s.Drives[1].Health = bmc.HealthCritical
	sensor(s, "Inlet Temp").Value = ptr(39.0)
	h.poll("r12-u03", s, nil)
	h.poll("r12-u03", s, nil)
	got := h.firing()
	slices.Sort(got)
	want := []string{"DriveFailing critical 1", "DriveFailing warning 0", "FanFailed warning Fan1", "InletHot warning Inlet Temp",
		"PSUFailed critical 1", "PSUFailed critical 2", "PSURedundancyLost warning"}
	if !slices.Equal(got, want) {
		t.Errorf("firing %v\nwant   %v", got, want)
	}
	for _, a := range h.e.Alerts() {
		if a.Name == "PSUFailed" && a.Labels["psu"] == "1" && !strings.HasPrefix(a.Annotations.Summary, "Restore input to PSU 1 in r12-u03 (rack r12, U3): input lost (LossOfInput)") {
			t.Errorf("PSU 1 summary %q", a.Annotations.Summary)
		}
	}
}

func TestOneSupplyIsNotALostRedundancy(t *testing.T) {
	h := newHarness(t, Options{})
	s := healthy("r12-u03", h.now)
	s.PSUs = s.PSUs[:1]
	h.poll("r12-u03", s, nil)
	if got := h.changes(); len(got) != 0 {
		t.Errorf("a single-supply server raised %v", got)
	}
}

func TestBMCUnreachable(t *testing.T) {
	h := newHarness(t, Options{})
	s := healthy("r12-u03", h.now)
	sensor(s, "Fan1").Value = ptr(0.0)
	h.poll("r12-u03", s, nil) // FanFailed fires
	h.changes()
	auth := &bmc.Error{Kind: bmc.ErrKindAuth, Err: fmt.Errorf("401 Unauthorized")}
	h.poll("r12-u03", nil, auth)
	h.poll("r12-u03", nil, auth)
	if got := h.changes(); len(got) != 0 {
		t.Fatalf("two failed intervals: %v", got)
	}
	// The scheduler backs off: the third interval passes without a poll;
	// the rollup cycle notices.
	h.e.ObserveCycle(&fleet.Cycle{Time: h.now, Inventory: h.inv, Result: &rollup.Result{}})
	if got := h.changes(); !slices.Equal(got[:1], []string{"BMCUnreachable warning firing"}) {
		t.Fatalf("after 3 intervals: %v", got)
	}
	a := h.alert("BMCUnreachable")
	if !strings.Contains(a.Annotations.Description, "refused the credentials") || a.Labels["server"] != "r12-u03" {
		t.Errorf("BMCUnreachable %v %q: want the wrong password named", a.Labels, a.Annotations.Description)
	}
	if !slices.Contains(h.firing(), "FanFailed warning Fan1") {
		t.Error("FanFailed was resolved while the BMC was unreachable; it must be held")
	}
	h.poll("r12-u03", healthy("r12-u03", h.now), nil)
	got := h.changes()
	slices.Sort(got)
	if want := []string{"BMCUnreachable warning resolved", "FanFailed warning resolved Fan1"}; !slices.Equal(got, want) {
		t.Errorf("good poll: %v, want %v", got, want)
	}
}

func TestBMCUnreachableAfterARestartCountsFromTheRestart(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, Options{StateDir: dir})
	h.poll("r12-u03", healthy("r12-u03", h.now), nil)
	h.e.ObserveCycle(&fleet.Cycle{Time: h.now, Inventory: h.inv, Result: &rollup.Result{}})
	if err := h.e.Close(); err != nil {
		t.Fatal(err)
	}
	// An hour later the poller starts again; the BMC does not answer.
	h2 := &harness{t: t, inv: h.inv, notes: &notes{}, changed: &changeLog{}, now: h.now.Add(time.Hour)}
	h2.e = New(Options{StateDir: dir, Points: h2.changed})
	h2.e.SetInventory(h2.inv, nil, interval)
	for range 3 {
		h2.poll("r12-u03", nil, errTimeout)
	}
	if got := h2.changes(); len(got) != 0 {
		t.Errorf("after the restart, 3 failed polls (2 intervals watched) raised %v", got)
	}
	h2.poll("r12-u03", nil, errTimeout)
	if got := h2.changes(); !slices.Equal(got, []string{"BMCUnreachable warning firing"}) {
		t.Errorf("3 intervals after the restart: %v", got)
	}
	if d := h2.alert("BMCUnreachable").Annotations.Description; !strings.Contains(d, "no good poll for 1m30s, the last at") {
		t.Errorf("description %q", d)
	}
}

func rackCycle(h *harness, watts float64, reporting int, failover ...power.Failover) {
	res := &rollup.Result{Time: h.now, Racks: []rollup.Node{{Name: "r12", Room: "hall-1", Row: "row-a",
		Totals: rollup.Totals{Watts: watts, BudgetWatts: 1000, Servers: 2, Reporting: reporting}}}}
	feeds := []fleet.RackPower{{Rack: "r12", Feeds: power.FeedLoad{Servers: reporting, Failover: failover}}}
	h.e.ObserveCycle(&fleet.Cycle{Time: h.now, Inventory: h.inv, Result: res, Racks: feeds})
	h.now = h.now.Add(interval)
}

func TestRackOverBudget(t *testing.T) {
	h := newHarness(t, Options{})
	var got []string
	for _, w := range []float64{810, 790, 820, 830} {
		rackCycle(h, w, 2)
		got = append(got, h.changes()...)
	}
	if !slices.Equal(got, []string{"RackOverBudget warning firing"}) {
		t.Fatalf("changes %v; want one warning after two cycles at 80 %%", got)
	}
	a := h.alert("RackOverBudget")
	if _, has := a.Labels["server"]; has || a.Labels["rack"] != "r12" || a.Labels["row"] != "row-a" {
		t.Errorf("labels %v: a rack alert has the rack's location and no server", a.Labels)
	}
	if a.Annotations.Summary != "Rack r12 is over its power budget: 830 W, 83 % of its 1.0 kW budget" {
		t.Errorf("summary %q", a.Annotations.Summary)
	}
	// No server reporting: unknown, held; 78.5 % is inside the dead band.
	rackCycle(h, 0, 0)
	rackCycle(h, 785, 2)
	if got := h.changes(); len(got) != 0 {
		t.Errorf("held and dead band: %v", got)
	}
	rackCycle(h, 1010, 2)
	rackCycle(h, 700, 2)
	if got := h.changes(); !slices.Equal(got, []string{"RackOverBudget warning resolved", "RackOverBudget critical firing", "RackOverBudget critical resolved"}) {
		t.Errorf("changes %v", got)
	}
}

func TestFeedFailoverUnsafe(t *testing.T) {
	h := newHarness(t, Options{})
	unsafe := power.Failover{Failed: "A", Survivor: "B", LoadWatts: 1100, CapacityWatts: 1000, HeadroomWatts: -100, HeadroomPct: -10, Overloaded: true}
	safe := power.Failover{Failed: "B", Survivor: "A", LoadWatts: 500, CapacityWatts: 1000, HeadroomWatts: 500, HeadroomPct: 50}
	rackCycle(h, 500, 2, unsafe, safe)
	rackCycle(h, 500, 2, unsafe, safe)
	if got := h.changes(); !slices.Equal(got, []string{"FeedFailoverUnsafe warning firing A"}) {
		t.Fatalf("changes %v", got)
	}
	if s := h.alert("FeedFailoverUnsafe").Annotations.Summary; s != "Rack r12 is not failover-safe: if feed A fails, feed B must carry 1.1 kW of its 1.0 kW capacity" {
		t.Errorf("summary %q", s)
	}
	nearly := power.Failover{Failed: "A", Survivor: "B", LoadWatts: 990, CapacityWatts: 1000, HeadroomWatts: 10, HeadroomPct: 1}
	rackCycle(h, 500, 2, nearly, safe)
	if got := h.changes(); len(got) != 0 {
		t.Errorf("1 %% headroom is within the dead band: %v", got)
	}
	rackCycle(h, 500, 2, safe)
	if got := h.changes(); !slices.Equal(got, []string{"FeedFailoverUnsafe warning resolved A"}) {
		t.Errorf("changes %v", got)
	}
}

func TestRestartKeepsFiringAlertsWithoutFiringAgain(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, Options{StateDir: dir})
	s := healthy("r12-u03", h.now)
	dimm(s, "A1").UncorrectableErrors = ptr[int64](2)
	sensor(s, "CPU1 Temp").Value = ptr(88.0) // pending: one poll only
	h.poll("r12-u03", s, nil)
	cpu2 := healthy("r12-u05", h.now)
	dimm(cpu2, "B1").CorrectableErrors = ptr[int64](40)
	h.poll("r12-u05", cpu2, nil) // a baseline
	dimm(cpu2, "B1").CorrectableErrors = ptr[int64](45)
	h.poll("r12-u05", cpu2, nil) // 5 in the window
	h.e.ObserveCycle(&fleet.Cycle{Time: h.now, Inventory: h.inv, Result: &rollup.Result{}})
	before := h.e.Alerts()
	if err := h.e.Close(); err != nil {
		t.Fatal(err)
	}

	// A new engine on the same state directory.
	h2 := &harness{t: t, inv: h.inv, notes: &notes{}, changed: &changeLog{}, now: h.now}
	h2.e = New(Options{StateDir: dir, Notifiers: []Notifier{h2.notes}, Points: h2.changed, ExternalURL: "http://rackpulse.example:9290"})
	h2.e.SetInventory(h2.inv, nil, interval)
	if got := h2.firing(); !slices.Equal(got, []string{"DIMMFailing critical A1"}) {
		t.Fatalf("after restart firing %v, want the DIMM alert (the pending CPU one is not kept)", got)
	}
	if after := h2.alert("DIMMFailing"); !after.StartsAt.Equal(before[0].StartsAt) || fmt.Sprint(after.Labels) != fmt.Sprint(before[0].Labels) {
		t.Errorf("restored alert %+v differs from %+v", after, before[0])
	}
	s = healthy("r12-u03", h2.now)
	dimm(s, "A1").UncorrectableErrors = ptr[int64](2)
	sensor(s, "CPU1 Temp").Value = ptr(88.0)
	h2.poll("r12-u03", s, nil)
	// The DIMM counter history survived: 6 more make 11 in 24 h on B1;
	// B2 read 0 before and 12 now: 12 new errors.
	dimm(cpu2, "B1").CorrectableErrors = ptr[int64](51)
	dimm(cpu2, "B2").CorrectableErrors = ptr[int64](12)
	h2.poll("r12-u05", cpu2, nil)
	got := h2.changes()
	slices.Sort(got)
	if want := []string{"DIMMFailing warning firing B1", "DIMMFailing warning firing B2"}; !slices.Equal(got, want) {
		t.Errorf("first polls after restart: %v; want no re-fire of A1, no CPUHot (its for-duration starts again), B1 and B2 from the kept counters", got)
	}
}

func TestServerLeavingTheInventoryResolves(t *testing.T) {
	h := newHarness(t, Options{})
	s := healthy("r12-u05", h.now)
	s.Drives[0].Health = bmc.HealthCritical
	h.poll("r12-u05", s, nil)
	h.changes()
	h.e.SetInventory(h.inv, fleet.NewScope([]string{"r13"}), interval)
	if got := h.changes(); !slices.Equal(got, []string{"DriveFailing critical resolved 0"}) {
		t.Errorf("changes %v", got)
	}
}

func TestCycleResendsFiringAlerts(t *testing.T) {
	h := newHarness(t, Options{})
	s := healthy("r12-u03", h.now)
	s.Drives[1].Health = bmc.HealthCritical
	h.poll("r12-u03", s, nil)
	h.changes()
	for range 3 {
		h.e.ObserveCycle(&fleet.Cycle{Time: h.now, Inventory: h.inv, Result: &rollup.Result{}})
	}
	want := []string{"DriveFailing critical firing 1", "DriveFailing critical firing 1", "DriveFailing critical firing 1", "DriveFailing critical firing 1"}
	if got := h.notified(); !slices.Equal(got, want) {
		t.Errorf("notifiers got %v; want the change, then the firing alert again once per cycle", got)
	}
	h.poll("r12-u03", healthy("r12-u03", h.now), nil)
	h.notified()
	h.e.ObserveCycle(&fleet.Cycle{Time: h.now, Inventory: h.inv, Result: &rollup.Result{}})
	h.now = h.now.Add(20 * time.Minute)
	h.e.ObserveCycle(&fleet.Cycle{Time: h.now, Inventory: h.inv, Result: &rollup.Result{}})
	if got := h.notified(); !slices.Equal(got, []string{"DriveFailing critical resolved 1"}) {
		t.Errorf("after the resolve cycles sent %v; want the resolve again within 15 min, then no more", got)
	}
}

func TestStateFileIsPrivateAndADamagedOneIsSetAside(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, Options{StateDir: dir})
	s := healthy("r12-u03", h.now)
	s.Drives[0].Health = bmc.HealthCritical
	h.poll("r12-u03", s, nil)
	h.e.ObserveCycle(&fleet.Cycle{Time: h.now, Inventory: h.inv, Result: &rollup.Result{}})
	fi, err := os.Stat(filepath.Join(dir, "alerts.json"))
	if err != nil {
		t.Fatalf("state not saved after a cycle with a change: %v", err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("state file mode %v, want 0600", fi.Mode().Perm())
	}

	if err := os.WriteFile(filepath.Join(dir, "alerts.json"), []byte(`{"version":1,"servers":{`), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	e := New(Options{StateDir: dir, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	e.SetInventory(h.inv, nil, interval)
	if n := len(e.Alerts()); n != 0 {
		t.Errorf("%d alerts from a damaged state file", n)
	}
	if !strings.Contains(logs.String(), "alert state unreadable") {
		t.Errorf("a damaged state file was not logged: %s", logs.String())
	}
}
