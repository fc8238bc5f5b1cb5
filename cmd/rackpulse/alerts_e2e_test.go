package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/rackpulse/rackpulse/alert"
	"github.com/rackpulse/rackpulse/alert/amtest"
	"github.com/rackpulse/rackpulse/bmc/sim"
	"github.com/rackpulse/rackpulse/internal/peertest"
	"github.com/rackpulse/rackpulse/inventory"
	"github.com/rackpulse/rackpulse/storage"
	"github.com/rackpulse/rackpulse/storage/influxtest"
)

// servingPoller is a runServe running for a test.
type servingPoller struct {
	base   string
	cancel context.CancelFunc
	done   chan error
}

// startServing runs serve with cfg (listening on a free port) until the
// test ends or stop is called.
func startServing(t *testing.T, cfg serveConfig) *servingPoller {
	t.Helper()
	cfg.listen = "127.0.0.1:0"
	if cfg.workers == 0 {
		cfg.workers = 16
	}
	if cfg.reloadCheck == 0 {
		cfg.reloadCheck = time.Hour
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &servingPoller{cancel: cancel, done: make(chan error, 1)}
	ready := make(chan string, 1)
	go func() { s.done <- runServe(ctx, cfg, slog.New(slog.DiscardHandler), ready) }()
	select {
	case addr := <-ready:
		s.base = "http://" + addr
	case err := <-s.done:
		cancel()
		t.Fatalf("serve stopped at start: %v", err)
	}
	t.Cleanup(func() { s.stop(t) })
	return s
}

func (s *servingPoller) stop(t *testing.T) {
	t.Helper()
	if s.cancel == nil {
		return
	}
	s.cancel()
	s.cancel = nil
	if err := <-s.done; err != nil {
		t.Errorf("serve: %v", err)
	}
}

// alerts reads serve's /api/alerts.
func (s *servingPoller) alerts(t *testing.T, query string) []alert.Alert {
	t.Helper()
	var out []alert.Alert
	if err := json.Unmarshal([]byte(getBody(t, s.base+"/api/alerts"+query)), &out); err != nil {
		t.Fatalf("/api/alerts%s: %v", query, err)
	}
	return out
}

// metric sums the samples of a counter or gauge on serve's /metrics whose
// labels include want.
func (s *servingPoller) metric(t *testing.T, name string, want map[string]string) float64 {
	t.Helper()
	resp, err := http.Get(s.base + "/metrics")
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse metrics: %v", err)
	}
	var sum float64
next:
	for _, m := range families[name].GetMetric() {
		labels := labelMap(m.GetLabel())
		for k, v := range want {
			if labels[k] != v {
				continue next
			}
		}
		sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
	}
	return sum
}

// expectation is an alert a fault must raise: its name, severity and
// the labels it must carry beyond the location.
type expectation struct {
	bmc      *sim.SimBMC
	fault    sim.FaultSpec
	name     string
	severity string
	labels   map[string]string
}

// pickBMCs hands out the fleet's BMCs of a protocol (and profile), each
// once, skipping the racks kept for other uses.
type pickBMCs struct {
	t     *testing.T
	fleet *sim.Fleet
	used  map[string]bool
	skip  map[string]bool
}

func (p *pickBMCs) next(protocol, profile string) *sim.SimBMC {
	p.t.Helper()
	for _, b := range p.fleet.BMCs() {
		info := b.Info()
		if p.used[b.Name()] || p.skip[info.Rack] || info.Protocol != protocol || (profile != "" && info.Profile != profile) {
			continue
		}
		p.used[b.Name()] = true
		return b
	}
	p.t.Fatalf("no %s %s BMC left in the fleet", protocol, profile)
	return nil
}

// TestAlertsEndToEnd: every rule fires from a simulated fault, on Redfish
// and IPMI BMCs, and shows up in a real Alertmanager with its labels; each
// resolves once its fault is cleared.
func TestAlertsEndToEnd(t *testing.T) {
	am := amtest.Start(t)
	mix, err := sim.ParseMix("modern=40,legacy=30,ipmi=30")
	if err != nil {
		t.Fatal(err)
	}
	fleet, invPath := startSimFleet(t, sim.FleetOptions{Count: 24, Mix: mix})
	bmcs := fleet.BMCs()
	overloadRack := bmcs[len(bmcs)-1].Info().Rack
	pick := &pickBMCs{t: t, fleet: fleet, used: map[string]bool{}, skip: map[string]bool{overloadRack: true}}
	step := time.Second
	spec := func(f sim.Fault, target string) sim.FaultSpec {
		return sim.FaultSpec{Fault: f, Target: target, Every: step}
	}
	var want []expectation
	add := func(b *sim.SimBMC, fs sim.FaultSpec, name, severity string, labels map[string]string) {
		want = append(want, expectation{bmc: b, fault: fs, name: name, severity: severity, labels: labels})
	}
	// Redfish, both profiles.
	add(pick.next("redfish", "modern"), spec(sim.FaultDIMMUncorrectable, "DIMM3"), "DIMMFailing", "critical", map[string]string{"slot": "PROC 1 DIMM 3"})
	add(pick.next("redfish", "legacy"), sim.FaultSpec{Fault: sim.FaultDIMMECC, Target: "DIMM.Socket.A2", Every: step, Count: 6}, "DIMMFailing", "", map[string]string{"slot": "A2"})
	add(pick.next("redfish", "modern"), spec(sim.FaultCPUHot, "CPU2"), "CPUHot", "critical", map[string]string{"cpu": "CPU2"})
	b := pick.next("redfish", "legacy")
	add(b, spec(sim.FaultPSUInputLoss, "PS2"), "PSUFailed", "critical", map[string]string{"psu": ""})
	add(b, sim.FaultSpec{}, "PSURedundancyLost", "warning", nil)
	add(pick.next("redfish", "modern"), spec(sim.FaultFanFail, ""), "FanFailed", "warning", nil)
	add(pick.next("redfish", "legacy"), spec(sim.FaultDriveFail, ""), "DriveFailing", "critical", nil)
	add(pick.next("redfish", "modern"), spec(sim.FaultDrivePredictedFailure, ""), "DriveFailing", "warning", nil)
	add(pick.next("redfish", "legacy"), spec(sim.FaultInletHot, ""), "InletHot", "critical", nil)
	add(pick.next("redfish", "modern"), spec(sim.FaultTimeout, ""), "BMCUnreachable", "warning", nil)
	// IPMI: the SEL names the DIMM.
	add(pick.next("ipmi", ""), sim.FaultSpec{Fault: sim.FaultDIMMECC, Target: "DIMM B5", Every: step}, "DIMMFailing", "", map[string]string{"slot": ""})
	add(pick.next("ipmi", ""), spec(sim.FaultCPUHot, ""), "CPUHot", "critical", map[string]string{"cpu": "CPU1"})
	add(pick.next("ipmi", ""), spec(sim.FaultPSUFail, ""), "PSUFailed", "critical", map[string]string{"psu": "1"})
	add(pick.next("ipmi", ""), spec(sim.FaultFanFail, ""), "FanFailed", "warning", nil)
	add(pick.next("ipmi", ""), spec(sim.FaultDrivePredictedFailure, ""), "DriveFailing", "warning", nil)
	add(pick.next("ipmi", ""), spec(sim.FaultTimeout, ""), "BMCUnreachable", "warning", nil)
	// A rack whose servers all draw their overload power.
	var overloaded []*sim.SimBMC
	for _, b := range bmcs {
		if b.Info().Rack == overloadRack {
			overloaded = append(overloaded, b)
		}
	}
	want = append(want,
		expectation{name: "RackOverBudget", severity: "critical", labels: map[string]string{"rack": overloadRack}},
		expectation{name: "FeedFailoverUnsafe", severity: "warning", labels: map[string]string{"rack": overloadRack}})

	settings := alert.DefaultSettings()
	// IPMI DIMM alerts come from the SEL alone and hold for
	// dimm_event_hold: short here, so that they resolve within the test.
	settings.DIMMEventHold = 20 * time.Second
	serve := startServing(t, serveConfig{inventoryPath: invPath, stateDir: t.TempDir(),
		alerts: alertConfig{settings: settings, alertmanagers: []string{am.URL()}, externalURL: "http://rackpulse.test"}})
	// Every BMC polled once, healthy: nothing fires.
	waitFor(t, 60*time.Second, func() bool {
		return serve.metric(t, "rackpulse_bmc_polls_total", map[string]string{"result": "ok"}) >= float64(len(bmcs))
	})
	if got := serve.alerts(t, ""); len(got) != 0 {
		t.Fatalf("a healthy fleet has alerts: %+v", got)
	}

	for _, w := range want {
		if w.bmc != nil && w.fault.Fault != "" {
			if err := w.bmc.Inject(w.fault); err != nil {
				t.Fatalf("inject %s into %s: %v", w.fault.Fault, w.bmc.Name(), err)
			}
		}
	}
	for _, b := range overloaded {
		if err := b.Inject(sim.FaultSpec{Fault: sim.FaultOverload}); err != nil {
			t.Fatalf("overload %s: %v", b.Name(), err)
		}
	}

	ctx := t.Context()
	matches := func(w expectation, a amtest.Alert) bool {
		if a.Labels["alertname"] != w.name || (w.bmc != nil && a.Labels["server"] != w.bmc.Name()) {
			return false
		}
		for k, v := range w.labels {
			if v != "" && a.Labels[k] != v {
				return false
			}
		}
		return w.severity == "" || a.Labels["severity"] == w.severity
	}
	missing := func(as []amtest.Alert) []string {
		var out []string
		for _, w := range want {
			found := false
			for _, a := range as {
				found = found || matches(w, a)
			}
			if !found {
				who := w.labels["rack"]
				if w.bmc != nil {
					who = w.bmc.Name()
				}
				out = append(out, w.name+" "+w.severity+" on "+who)
			}
		}
		return out
	}
	got, err := am.WaitAlerts(ctx, func(as []amtest.Alert) bool { return len(missing(as)) == 0 })
	if err != nil {
		t.Fatalf("alerts not in Alertmanager: %v\nmissing: %v\nthere: %s\nrackpulse: %+v", err, missing(got), amtest.Describe(got), serve.alerts(t, ""))
	}

	// Every alert carries the location a technician needs.
	for _, a := range got {
		for _, k := range []string{"alertname", "severity", "site", "room", "row", "rack"} {
			if a.Labels[k] == "" {
				t.Errorf("%s lacks label %s: %v", a.Labels["alertname"], k, a.Labels)
			}
		}
		rackLevel := a.Labels["alertname"] == "RackOverBudget" || a.Labels["alertname"] == "FeedFailoverUnsafe"
		if !rackLevel && (a.Labels["server"] == "" || a.Labels["position"] == "") {
			t.Errorf("%s lacks server or position: %v", a.Labels["alertname"], a.Labels)
		}
		comp := map[string]string{"DIMMFailing": "slot", "CPUHot": "cpu", "PSUFailed": "psu", "FanFailed": "fan",
			"DriveFailing": "drive", "InletHot": "sensor", "FeedFailoverUnsafe": "feed"}[a.Labels["alertname"]]
		if comp != "" && a.Labels[comp] == "" {
			t.Errorf("%s lacks its %s label: %v", a.Labels["alertname"], comp, a.Labels)
		}
		if a.Annotations["summary"] == "" || a.Annotations["description"] == "" || !strings.HasPrefix(a.GeneratorURL, "http://rackpulse.test/api/") {
			t.Errorf("%s: summary %q, description %q, generatorURL %q", a.Labels["alertname"], a.Annotations["summary"], a.Annotations["description"], a.GeneratorURL)
		}
	}
	for _, a := range got {
		if a.Labels["alertname"] == "DIMMFailing" && a.Labels["server"] == want[0].bmc.Name() {
			pos := strconv.Itoa(want[0].bmc.Info().Position)
			if s := a.Annotations["summary"]; !strings.HasPrefix(s, "Replace DIMM PROC 1 DIMM 3 in "+want[0].bmc.Name()+" (rack "+a.Labels["rack"]+", U"+pos+")") {
				t.Errorf("DIMM summary %q", s)
			}
			if !strings.Contains(a.Annotations["description"], "Serial number") {
				t.Errorf("DIMM description %q lacks the serial number", a.Annotations["description"])
			}
		}
	}

	// Cleared faults (a DIMM or drive cleared was replaced) resolve.
	for _, w := range want {
		if w.bmc != nil && w.fault.Fault != "" {
			w.bmc.Clear(w.fault.Fault)
		}
	}
	for _, b := range overloaded {
		b.Clear(sim.FaultOverload)
	}
	left, err := am.WaitAlerts(ctx, func(as []amtest.Alert) bool { return len(as) == 0 })
	if err != nil {
		t.Fatalf("alerts still active in Alertmanager after their faults were cleared: %v\n%s", err, amtest.Describe(left))
	}
	if firing := serve.alerts(t, "?state=firing"); len(firing) != 0 {
		t.Errorf("rackpulse still has firing alerts: %+v", firing)
	}
}

// TestQuietFleetRaisesNothing: 200 healthy BMCs whose values move (some
// running warm, near their thresholds) are polled 20 times each without a
// single alert, pending ones included.
func TestQuietFleetRaisesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("polls 200 BMCs 20 times")
	}
	am := amtest.Start(t)
	mix, err := sim.ParseMix("modern=40,legacy=30,ipmi=30")
	if err != nil {
		t.Fatal(err)
	}
	fleet, invPath := startSimFleetEvery(t, sim.FleetOptions{Count: 200, Mix: mix}, "3s")
	warm := 0
	for _, b := range fleet.BMCs() {
		if b.Warm() {
			warm++
		}
	}
	if warm == 0 {
		t.Fatal("no warm BMC in the fleet: nothing near a threshold")
	}
	// The readings' rules are under test, not how fast a shared machine
	// polls 200 BMCs every 3 s: a poll late by a few intervals is not
	// the BMC's fault here.
	settings := alert.DefaultSettings()
	settings.UnreachableIntervals = 20
	serve := startServing(t, serveConfig{inventoryPath: invPath, stateDir: t.TempDir(), workers: 64,
		alerts: alertConfig{settings: settings, alertmanagers: []string{am.URL()}}})
	polled := func() bool {
		for _, b := range fleet.BMCs() {
			if serve.metric(t, "rackpulse_bmc_polls_total", map[string]string{"server": b.Name(), "result": "ok"}) < 20 {
				return false
			}
		}
		return true
	}
	waitFor(t, 15*time.Minute, func() bool {
		if a := serve.alerts(t, ""); len(a) != 0 {
			t.Fatalf("a quiet fleet raised %d alerts, first %s on %s: %s", len(a), a[0].Name, a[0].Labels["server"], a[0].Annotations.Summary)
		}
		return polled()
	})
	if n := serve.metric(t, "rackpulse_alert_changes_total", nil); n != 0 {
		t.Errorf("%v alert changes on a quiet fleet", n)
	}
	if got, err := am.Alerts(t.Context()); err != nil || len(got) != 0 {
		t.Errorf("Alertmanager holds %s (err %v); want nothing", amtest.Describe(got), err)
	}
}

// TestCPUOscillationNotifiesBoundedly: a CPU temperature swinging across
// its caution threshold many times gives one notification when it swings
// within the dead band, and at most a firing and a resolve per period when
// it swings wider.
func TestCPUOscillationNotifiesBoundedly(t *testing.T) {
	am := amtest.Start(t, amtest.WithWebhook())
	fleet, invPath := startSimFleet(t, sim.FleetOptions{Count: 2, Mix: modernOnly(t)})
	narrow, wide := fleet.BMCs()[0], fleet.BMCs()[1]
	serve := startServing(t, serveConfig{inventoryPath: invPath, stateDir: t.TempDir(),
		alerts: alertConfig{settings: alert.DefaultSettings(), alertmanagers: []string{am.URL()}}})
	waitFor(t, 60*time.Second, func() bool {
		return serve.metric(t, "rackpulse_bmc_polls_total", map[string]string{"result": "ok"}) >= 2
	})

	// Each half period lasts 3 polls (1 s each): long enough to meet the
	// 2-poll for-duration on the hot side.
	if err := narrow.Inject(sim.FaultSpec{Fault: sim.FaultCPUOscillate, Every: 3 * time.Second, Swing: 2}); err != nil {
		t.Fatal(err)
	}
	if err := wide.Inject(sim.FaultSpec{Fault: sim.FaultCPUOscillate, Every: 3 * time.Second, Swing: 5}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	const periods = 6 // 12 threshold crossings each
	// Run the swings for at least the periods, and until the wide one has
	// fired and resolved (on a slow machine it takes longer to meet the
	// for-duration): the bound below is per period elapsed, whatever it was.
	waitFor(t, 10*time.Minute, func() bool {
		resolved := serve.metric(t, "rackpulse_alert_changes_total", map[string]string{"alertname": "CPUHot", "state": "resolved"})
		return time.Since(start) >= periods*6*time.Second && resolved >= 1
	})
	elapsed := time.Since(start)
	narrow.Clear(sim.FaultCPUOscillate)
	wide.Clear(sim.FaultCPUOscillate)

	// Alertmanager notifies a group (a rack) with every alert in it; an
	// alert that fires again is a new one, with a new start: count the
	// starts of each server's CPUHot, and its resolves.
	count := func(server, state string) int {
		seen := map[string]bool{}
		for _, note := range am.Webhook().Notifications() {
			for _, a := range note.Alerts {
				if a.Labels["alertname"] == "CPUHot" && a.Labels["server"] == server && a.Status == state {
					seen[a.StartsAt.String()] = true
				}
			}
		}
		return len(seen)
	}
	// The narrow swing stays within the 3 °C dead band: it fires once and
	// stays up until the fault ends.
	if _, err := am.Webhook().Wait(t.Context(), func([]amtest.Notification) bool { return count(narrow.Name(), "firing") >= 1 }); err != nil {
		t.Fatalf("the narrow swing never notified: %v", err)
	}
	if n := count(narrow.Name(), "firing"); n != 1 {
		t.Errorf("narrow swing: %d firing notifications over %d crossings, want 1\n%s", n, 2*periods, amtest.DescribeNotifications(am.Webhook().Notifications()))
	}
	// The wide swing crosses the whole band every half period: at most one
	// firing and one resolve per period, as rackpulse counts them.
	maxPeriods := int(elapsed/(6*time.Second)) + 1
	fired := serve.metric(t, "rackpulse_alert_changes_total", map[string]string{"alertname": "CPUHot", "state": "firing"})
	resolved := serve.metric(t, "rackpulse_alert_changes_total", map[string]string{"alertname": "CPUHot", "state": "resolved"})
	if fired < 2 || int(fired) > maxPeriods+1 || int(resolved) > maxPeriods {
		t.Errorf("wide and narrow swings over %v: %v firings, %v resolves; want the narrow one's 1 plus at most one each per period (%d periods)", elapsed, fired, resolved, maxPeriods)
	}
	if n := count(wide.Name(), "firing"); n == 0 || n > maxPeriods {
		t.Errorf("wide swing: %d firing notifications, want 1 to %d", n, maxPeriods)
	}
}

// TestAlertsSurviveARestart: a restarted poller neither fires again what
// was firing nor forgets it.
func TestAlertsSurviveARestart(t *testing.T) {
	am := amtest.Start(t)
	fleet, invPath := startSimFleet(t, sim.FleetOptions{Count: 3, Mix: modernOnly(t)})
	b := fleet.BMCs()[1]
	stateDir := t.TempDir()
	cfg := serveConfig{inventoryPath: invPath, stateDir: stateDir,
		alerts: alertConfig{settings: alert.DefaultSettings(), alertmanagers: []string{am.URL()}}}
	first := startServing(t, cfg)
	if err := b.Inject(sim.FaultSpec{Fault: sim.FaultDIMMUncorrectable, Target: "DIMM2"}); err != nil {
		t.Fatal(err)
	}
	byServer := fmt.Sprintf("server=%q", b.Name())
	before, err := am.WaitAlerts(t.Context(), func(as []amtest.Alert) bool { return len(as) == 1 }, byServer)
	if err != nil {
		t.Fatalf("DIMMFailing not in Alertmanager: %v", err)
	}
	first.stop(t)

	second := startServing(t, cfg)
	sameStart := func(a, b time.Time) bool { return a.Sub(b).Abs() < time.Millisecond } // Alertmanager keeps milliseconds
	if got := second.alerts(t, "?state=firing"); len(got) != 1 || got[0].Labels["server"] != b.Name() || !sameStart(got[0].StartsAt, before[0].StartsAt) {
		t.Fatalf("after the restart rackpulse lists %+v; want the DIMM alert, started when it first fired (%v)", got, before[0].StartsAt)
	}
	polls := func() float64 {
		return second.metric(t, "rackpulse_bmc_polls_total", map[string]string{"server": b.Name(), "result": "ok"})
	}
	waitFor(t, 60*time.Second, func() bool { return polls() >= 3 })
	if n := second.metric(t, "rackpulse_alert_changes_total", nil); n != 0 {
		t.Errorf("the restarted poller recorded %v alert changes; want none: the alert was already firing", n)
	}
	after, err := am.Alerts(t.Context(), byServer)
	if err != nil || len(after) != 1 || !sameStart(after[0].StartsAt, before[0].StartsAt) {
		t.Errorf("Alertmanager after the restart: %s (err %v); want the same alert, same start", amtest.Describe(after), err)
	}
}

func modernOnly(t *testing.T) []sim.ProfileShare {
	t.Helper()
	mix, err := sim.ParseMix("modern=100")
	if err != nil {
		t.Fatal(err)
	}
	return mix
}

// TestSiteRollupRaisesRackAlerts: the site role evaluates the rack rules
// from the rack pollers' stored totals and feeds and sends to
// Alertmanager.
func TestSiteRollupRaisesRackAlerts(t *testing.T) {
	d := influxtest.Start(t)
	am := amtest.Start(t)
	db := d.CreateDB(t)
	_, invPath := startSimFleet(t, sim.FleetOptions{Count: 6, Mix: modernOnly(t)})
	inv, problems, err := inventory.Load(invPath)
	if err != nil {
		t.Fatalf("%v\n%s", err, problems.Errors())
	}
	store := storage.Config{URL: d.URL(), Bucket: db, SpoolDir: t.TempDir(), FlushInterval: 100 * time.Millisecond}

	// Rack pollers stored rack-01 at 130 % of its budget, rack-02 at 40 %.
	w, err := storage.NewWriter(store)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, rack := range inv.Racks() {
		watts := 0.4 * rack.PowerBudgetWatts
		if rack.Name == "rack-01" {
			watts = 1.3 * rack.PowerBudgetWatts
		}
		budget := rack.PowerBudgetWatts
		w.Write(storage.RollupPoint{Level: storage.LevelRack, Site: inv.Site, Room: rack.Room, Row: rack.Row, Rack: rack.Name, Time: now,
			Watts: &watts, BudgetWatts: &budget, ServersTotal: 3, ServersReporting: 3}.Point())
		// Either feed alone carries the budget: rack-01 would overload
		// the survivor of a feed's failure.
		for _, feed := range []string{"A", "B"} {
			capacity, headroom := budget, budget-watts
			w.Write(storage.FeedPoint{Site: inv.Site, Room: rack.Room, Row: rack.Row, Rack: rack.Name, Feed: feed, Time: now,
				Watts: watts / 2, CapacityWatts: &capacity, FailoverLoadWatts: watts, FailoverHeadroomWatts: &headroom, FailoverOverloaded: headroom < 0}.Point())
		}
	}
	if err := w.Close(t.Context()); err != nil {
		t.Fatalf("storing rack totals: %v", err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	port, err := peertest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	dashboard := fmt.Sprintf("127.0.0.1:%d", port)
	site := siteRollupConfig{inventoryPath: invPath, interval: time.Second, freshness: time.Minute, lookback: time.Hour, storage: store,
		stateDir: t.TempDir(), alerts: alertConfig{settings: alert.DefaultSettings(), alertmanagers: []string{am.URL()}}, listen: dashboard}
	go func() { done <- runSiteRollup(ctx, site, slog.New(slog.DiscardHandler)) }()
	got, err := am.WaitAlerts(t.Context(), func(as []amtest.Alert) bool { return len(as) >= 3 })
	// The site role's dashboard shows the racks from their stored totals.
	page := getBody(t, "http://"+dashboard+"/")
	rackPage := getBody(t, "http://"+dashboard+"/racks/rack-01")
	cancel()
	if rerr := <-done; rerr != nil {
		t.Errorf("site rollup: %v", rerr)
	}
	if err != nil {
		t.Fatalf("alerts in Alertmanager: %v\n%s", err, amtest.Describe(got))
	}
	budget := amtest.Find(got, map[string]string{"alertname": "RackOverBudget", "rack": "rack-01", "severity": "critical"})
	if len(budget) != 1 || budget[0].Labels["server"] != "" || !strings.Contains(budget[0].Annotations["summary"], "130 % of its") {
		t.Errorf("Alertmanager holds %s; want one critical RackOverBudget for rack-01 at 130 %%", amtest.Describe(got))
	}
	for _, feed := range []string{"A", "B"} {
		if fo := amtest.Find(got, map[string]string{"alertname": "FeedFailoverUnsafe", "rack": "rack-01", "feed": feed}); len(fo) != 1 {
			t.Errorf("no FeedFailoverUnsafe for rack-01 feed %s in %s", feed, amtest.Describe(got))
		}
	}
	if len(got) != 3 {
		t.Errorf("Alertmanager holds %d alerts, want rack-01's 3 only: %s", len(got), amtest.Describe(got))
	}
	for _, want := range []string{`data-rack="rack-01"`, `data-rack="rack-02"`, "130 % of budget", "site rollup"} {
		if !strings.Contains(page, want) {
			t.Errorf("the site role's site page lacks %q", want)
		}
	}
	for _, want := range []string{"If feed A fails", "overloaded", "slot elsewhere"} {
		if !strings.Contains(rackPage, want) {
			t.Errorf("the site role's rack page lacks %q", want)
		}
	}
}

// TestEventsAndAlertsAreStored: a BMC's new log entries and the alerts'
// state changes reach a real InfluxDB as event and alert points.
func TestEventsAndAlertsAreStored(t *testing.T) {
	d := influxtest.Start(t)
	db := d.CreateDB(t)
	fleet, invPath := startSimFleet(t, sim.FleetOptions{Count: 2, Mix: modernOnly(t)})
	b := fleet.BMCs()[0]
	serve := startServing(t, serveConfig{inventoryPath: invPath, stateDir: t.TempDir(),
		storage: storage.Config{URL: d.URL(), Bucket: db, SpoolDir: t.TempDir(), FlushInterval: 200 * time.Millisecond}})
	waitFor(t, 60*time.Second, func() bool {
		return serve.metric(t, "rackpulse_bmc_polls_total", map[string]string{"server": b.Name(), "result": "ok"}) >= 1
	})
	if err := b.Inject(sim.FaultSpec{Fault: sim.FaultDIMMUncorrectable, Target: "DIMM4"}); err != nil {
		t.Fatal(err)
	}
	series := func(q string) [][]any {
		r := d.Query(t, db, q)
		if len(r.Results) == 0 || len(r.Results[0].Series) == 0 {
			return nil
		}
		return r.Results[0].Series[0].Values
	}
	waitFor(t, 60*time.Second, func() bool {
		return len(series(fmt.Sprintf(`SELECT "state", "summary" FROM "alert" WHERE "server" = '%s' AND "alertname" = 'DIMMFailing'`, b.Name()))) > 0
	})
	alerts := series(fmt.Sprintf(`SELECT "state", "summary", "subject", "severity" FROM "alert" WHERE "server" = '%s'`, b.Name()))
	if row := alerts[0]; row[1] != "firing" || !strings.HasPrefix(fmt.Sprint(row[2]), "Replace DIMM PROC 1 DIMM 4") || row[3] != "PROC 1 DIMM 4" || row[4] != "critical" {
		t.Errorf("alert point %v; want firing, its summary, slot PROC 1 DIMM 4, critical", row)
	}
	waitFor(t, 60*time.Second, func() bool {
		return len(series(fmt.Sprintf(`SELECT "message" FROM "event" WHERE "server" = '%s' AND "component" = 'DIMM'`, b.Name()))) > 0
	})
	events := series(fmt.Sprintf(`SELECT "message", "subject", "severity" FROM "event" WHERE "server" = '%s' AND "component" = 'DIMM'`, b.Name()))
	last := events[len(events)-1]
	if !strings.Contains(fmt.Sprint(last[1]), "PROC 1 DIMM 4") || last[2] != "PROC 1 DIMM 4" || last[3] != "Critical" {
		t.Errorf("event point %v; want the multi-bit error naming PROC 1 DIMM 4, Critical", last)
	}
}
