package web

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rackpulse/rackpulse/agent"
	"github.com/rackpulse/rackpulse/alert"
	"github.com/rackpulse/rackpulse/bmc"
	"github.com/rackpulse/rackpulse/fleet"
	"github.com/rackpulse/rackpulse/inventory"
)

// dashboard serves the UI over a fleet of the test inventory after two
// polls and a rollup: r12-u01 with an uncorrectable DIMM error, r12-u02
// healthy, r13-u01 unreachable.
func dashboard(t *testing.T) (http.Handler, *fleet.Fleet) {
	t.Helper()
	t.Setenv("WEB_TEST_PASSWORD", "web-test-password")
	inv, problems, err := inventory.Load("testdata/inventory.yaml")
	if err != nil {
		t.Fatalf("%v\n%s", err, problems.Errors())
	}
	live := fleet.New(inv, nil, 30*time.Second, fleet.Options{})
	engine := alert.New(alert.Options{})
	live.AddSink(engine)
	now := time.Now()
	for i, watts := range []float64{310, 320} {
		at := now.Add(time.Duration(i-1) * 30 * time.Second)
		snap := testSnapshot("r12-u01", at, watts)
		snap.DIMMs[0].UncorrectableErrors = ptr[int64](1)
		live.Observe(bmc.Endpoint{Server: "r12-u01"}, at, snap, nil)
		live.Observe(bmc.Endpoint{Server: "r12-u02"}, at, testSnapshot("r12-u02", at, 450), nil)
		live.Observe(bmc.Endpoint{Server: "r13-u01"}, at, nil, &bmc.Error{Kind: bmc.ErrKindTimeout, Err: errTest})
		live.Rollup(at)
	}
	ui, err := NewUI(UIOptions{Live: live, Alerts: engine, InventoryPath: "/etc/rackpulse/inventory.d"})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	ui.Register(mux)
	NewAPI(live, engine, nil).Register(mux)
	return mux, live
}

type testErr string

func (e testErr) Error() string { return string(e) }

const errTest = testErr("no answer")

func testSnapshot(server string, at time.Time, watts float64) *bmc.Snapshot {
	s := bmc.NewSnapshot(server, "", bmc.ProtocolRedfish, at)
	s.Systems = []bmc.System{{ID: "1", PowerState: "On", Health: bmc.HealthOK}}
	s.Chassis = []bmc.Chassis{{ID: "1", PowerState: "On"}}
	s.Power = []bmc.PowerReading{{Chassis: "1", Source: bmc.PowerFromPowerControl, Watts: watts}}
	s.PSUs = []bmc.PSU{{Chassis: "1", Bay: "1", State: "Enabled", Health: bmc.HealthOK}, {Chassis: "1", Bay: "2", State: "Enabled", Health: bmc.HealthOK}}
	s.Sensors = []bmc.Sensor{
		{Kind: bmc.KindTemperature, Name: "CPU1 Temp", Context: bmc.ContextCPU, Value: ptr(61.5), Unit: bmc.UnitCelsius, Thresholds: bmc.Thresholds{UpperWarning: ptr(85.0), UpperCritical: ptr(95.0)}},
		{Kind: bmc.KindTemperature, Name: "Inlet Temp", Context: bmc.ContextIntake, Value: ptr(22.0), Unit: bmc.UnitCelsius},
	}
	s.DIMMs = []bmc.DIMM{{Slot: "A1", State: "Enabled", Health: bmc.HealthOK, Serial: "SN-A1", CorrectableErrors: ptr[int64](3), UncorrectableErrors: ptr[int64](0)}}
	s.Poll.Read = []bmc.Part{bmc.PartPower, bmc.PartSensors, bmc.PartMemory}
	return s
}

func TestSitePageShowsEveryRack(t *testing.T) {
	h, _ := dashboard(t)
	code, body := get(t, h, "/")
	if code != 200 {
		t.Fatalf("/: %d %s", code, body)
	}
	for _, want := range []string{`data-rack="r12"`, `data-rack="r13"`, "770 W / 2.00 kW", "38 % of budget", "2 / 2 reporting", "0 / 1 reporting", "hall-1", "row-a"} {
		if !strings.Contains(body, want) {
			t.Errorf("site page lacks %q", want)
		}
	}
	// r12 has a firing critical alert: a badge on its tile.
	if i := strings.Index(body, `data-rack="r12"`); i < 0 || !strings.Contains(body[i:i+400], `badge critical`) {
		t.Error("r12's tile has no critical alert badge")
	}
}

func TestRackPageElevationAndTable(t *testing.T) {
	h, _ := dashboard(t)
	code, body := get(t, h, "/racks/r12")
	if code != 200 {
		t.Fatalf("/racks/r12: %d %s", code, body)
	}
	// The test inventory's r12 is 42 U high: U1 is grid row 42, U2 row 41.
	for _, want := range []string{
		`data-server="r12-u01" data-u="1" data-height="1" style="grid-row: 42 / span 1"`,
		`data-server="r12-u02" data-u="2" data-height="1" style="grid-row: 41 / span 1"`,
		"Feed A", "If feed A fails", `data-chart="rack=r12"`, "61.5", "3 CE, <strong>1 UE</strong>",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("rack page lacks %q", want)
		}
	}
	if code, _ := get(t, h, "/racks/nope"); code != http.StatusNotFound {
		t.Errorf("/racks/nope: %d, want 404", code)
	}
}

func TestServerPage(t *testing.T) {
	h, _ := dashboard(t)
	code, body := get(t, h, "/servers/r12-u01")
	if code != 200 {
		t.Fatalf("/servers/r12-u01: %d %s", code, body)
	}
	for _, want := range []string{"rackpulse probe --inventory /etc/rackpulse/inventory.d r12-u01", "DIMMFailing", "SN-A1", "CPU1 Temp", "UW 85 · UC 95 °C", `data-chart="server=r12-u01"`} {
		if !strings.Contains(body, want) {
			t.Errorf("server page lacks %q", want)
		}
	}
	if !strings.Contains(body, "Recent polls") || strings.Count(body, "<td>ok</td>") != 2 {
		t.Errorf("server page does not list r12-u01's two good polls")
	}
	code, body = get(t, h, "/servers/r13-u01")
	if code != 200 || strings.Count(body, "<td>failed</td>") != 2 || !strings.Contains(body, "no answer") {
		t.Errorf("an unreachable server's page: %d; want its two failed polls with the error", code)
	}
}

func TestAlertsPage(t *testing.T) {
	h, _ := dashboard(t)
	code, body := get(t, h, "/alerts")
	if code != 200 || !strings.Contains(body, `data-rack="r12"`) || !strings.Contains(body, "Replace DIMM A1 in r12-u01") || !strings.Contains(body, `href="/servers/r12-u01"`) {
		t.Errorf("/alerts: %d\n%s", code, body)
	}
}

func TestFragmentIsTheLivePartOnly(t *testing.T) {
	h, _ := dashboard(t)
	_, body := get(t, h, "/racks/r12?fragment=1")
	if strings.Contains(body, "<html") || strings.Contains(body, "<header") || !strings.Contains(body, `data-server="r12-u01"`) {
		t.Errorf("fragment is not the live part alone:\n%.300s", body)
	}
}

func TestHistoryAPI(t *testing.T) {
	h, _ := dashboard(t)
	code, body := get(t, h, "/api/history?rack=r12&range=1h")
	var got historyAnswer
	if err := json.Unmarshal([]byte(body), &got); code != 200 || err != nil {
		t.Fatalf("history: %d %v %s", code, err, body)
	}
	if got.Source != "memory" || len(got.Series) != 3 || got.Series[0].Name != "r12" || len(got.Series[0].T) != 2 || *got.Series[0].W[1] != 770 {
		t.Errorf("rack history %s", body)
	}
	_, body = get(t, h, "/api/history?server=r12-u01&range=24h")
	if err := json.Unmarshal([]byte(body), &got); err != nil || got.Note == "" || len(got.Series) != 1 || len(got.Series[0].W) != 2 {
		t.Errorf("24h server history without InfluxDB: %s; want the hour in memory, with a note", body)
	}
	// r13 had no power reading: nulls, not zeros.
	_, body = get(t, h, "/api/history?rack=r13")
	if !strings.Contains(body, `"w":[null,null]`) {
		t.Errorf("r13 history %s; want nulls where nothing was measured", body)
	}
	if code, _ := get(t, h, "/api/history?range=1y"); code != http.StatusBadRequest {
		t.Errorf("range=1y: %d, want 400", code)
	}
}

func TestPagesBeforeTheFirstRollup(t *testing.T) {
	t.Setenv("WEB_TEST_PASSWORD", "web-test-password")
	inv, _, err := inventory.Load("testdata/inventory.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ui, err := NewUI(UIOptions{Live: fleet.New(inv, nil, 30*time.Second, fleet.Options{})})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	ui.Register(mux)
	for _, path := range []string{"/", "/racks/r12", "/servers/r12-u01", "/alerts"} {
		if code, body := get(t, mux, path); code != 200 || (path != "/alerts" && !strings.Contains(body, "Waiting for the first rollup")) {
			t.Errorf("%s before the first rollup: %d %.200s", path, code, body)
		}
	}
}

// Names from the inventory are escaped: a rack or server name is text,
// never markup.
func TestNamesAreEscaped(t *testing.T) {
	dir := t.TempDir()
	raw := strings.NewReplacer("r12-u01", "r12<i>x", "name: r12\n", "name: r12\"onmouseover=\n").Replace(mustRead(t, "testdata/inventory.yaml"))
	writeTestFile(t, dir+"/inv.yaml", raw)
	t.Setenv("WEB_TEST_PASSWORD", "web-test-password")
	inv, problems, err := inventory.Load(dir + "/inv.yaml")
	if err != nil {
		t.Fatalf("%v\n%s", err, problems.Errors())
	}
	live := fleet.New(inv, nil, 30*time.Second, fleet.Options{})
	live.Observe(bmc.Endpoint{Server: "r12<i>x"}, time.Now(), testSnapshot("r12<i>x", time.Now(), 100), nil)
	live.Rollup(time.Now())
	ui, err := NewUI(UIOptions{Live: live})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	ui.Register(mux)
	for _, path := range []string{"/", "/racks/r12%22onmouseover=", "/servers/r12%3Ci%3Ex"} {
		code, body := get(t, mux, path)
		if code != 200 || strings.Contains(body, "<i>x") || strings.Contains(body, `r12"onmouseover=`) {
			t.Errorf("%s: %d: an inventory name reached the page unescaped", path, code)
		}
	}
}

func TestServerPageShowsTheHostsView(t *testing.T) {
	h, live := dashboard(t)
	ce := int64(42)
	if _, err := live.ObserveAgent("r12-u01", &agent.Report{Version: agent.ReportVersion, Hostname: "r12-u01.dc1",
		DIMMs:    []agent.DIMM{{Slot: "CPU1_DIMM_A1", Label: "CPU_SrcID#0_MC#0_Chan#0_DIMM#0", CorrectableErrors: &ce}},
		Problems: []agent.Problem{{Part: agent.PartSMART, Message: "smartctl not found"}}}, time.Now()); err != nil {
		t.Fatal(err)
	}
	_, body := get(t, h, "/servers/r12-u01")
	for _, want := range []string{"own view", "r12-u01.dc1", `data-agent-slot="CPU1_DIMM_A1"`, "<td>42</td>", "smartctl not found", "not compared"} {
		if !strings.Contains(body, want) {
			t.Errorf("server page lacks %q", want)
		}
	}
	if _, body := get(t, h, "/servers/r12-u02"); strings.Contains(body, "own view") {
		t.Error("a server without an agent shows an agent section")
	}
}
