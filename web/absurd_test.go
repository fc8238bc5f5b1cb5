package web

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rackpulse/rackpulse/alert"
	"github.com/rackpulse/rackpulse/bmc"
	"github.com/rackpulse/rackpulse/fleet"
	"github.com/rackpulse/rackpulse/inventory"
)

// nanAlerts lists one alert whose value is not a number: an answer that
// cannot be encoded.
type nanAlerts struct{}

func (nanAlerts) Alerts() []alert.Alert {
	return []alert.Alert{{Name: "CPUHot", Value: ptr(math.NaN()), Labels: map[string]string{"server": "r12-u01"}}}
}

// A handler whose answer cannot be encoded answers 500 with the reason,
// logged; never an empty or truncated 200.
func TestAnswerThatCannotBeEncodedIs500WithTheReason(t *testing.T) {
	var logs bytes.Buffer
	mux := http.NewServeMux()
	NewAPI(nil, nanAlerts{}, slog.New(slog.NewTextHandler(&logs, nil))).Register(mux)
	code, body := get(t, mux, "/api/alerts")
	if code != http.StatusInternalServerError || !strings.Contains(body, "encoding the answer") || !strings.Contains(body, "unsupported value: NaN") {
		t.Errorf("/api/alerts with a NaN value: %d %q; want 500 naming the unsupported value", code, body)
	}
	if !strings.Contains(logs.String(), "cannot be encoded") || !strings.Contains(logs.String(), "NaN") {
		t.Errorf("the encoding error was not logged:\n%s", logs.String())
	}

	rec := httptest.NewRecorder()
	(&API{log: slog.New(slog.DiscardHandler)}).writeJSON(rec, map[string]float64{"watts": math.Inf(1)})
	if rec.Code != http.StatusInternalServerError || !strings.Contains(rec.Body.String(), "unsupported value: +Inf") || strings.Contains(rec.Header().Get("Content-Type"), "json") {
		t.Errorf("writeJSON(+Inf): %d %q (%s); want a 500 with the reason, not JSON", rec.Code, rec.Body.String(), rec.Header().Get("Content-Type"))
	}
}

// Absurd readings a BMC publishes never reach /api/servers?server=: the
// Snapshot answered is whole, with the readings set aside and why.
func TestServerAnswerWithAbsurdReadingsIsWhole(t *testing.T) {
	t.Setenv("WEB_TEST_PASSWORD", "web-test-password")
	inv, problems, err := inventory.Load("testdata/inventory.yaml")
	if err != nil {
		t.Fatalf("%v\n%s", err, problems.Errors())
	}
	live := fleet.New(inv, nil, 30*time.Second, fleet.Options{})
	snap := bmc.NewSnapshot("r12-u01", "r12", bmc.ProtocolRedfish, t0)
	snap.Power = []bmc.PowerReading{{Chassis: "1", Source: bmc.PowerFromPSUInput, Watts: math.Inf(1)}, {Chassis: "1", Source: bmc.PowerFromPowerControl, Watts: 1e308}}
	snap.Sensors = []bmc.Sensor{{Kind: bmc.KindTemperature, Name: "CPU1 Temp", Unit: bmc.UnitCelsius, Value: ptr(math.NaN()), Health: bmc.HealthOK}}
	live.Observe(bmc.Endpoint{Server: "r12-u01"}, t0, snap, nil)
	live.Rollup(t0.Add(time.Second))
	mux := http.NewServeMux()
	NewAPI(live, nil, nil).Register(mux)

	for _, path := range []string{"/api/servers?server=r12-u01", "/api/servers", "/api/rollup", "/api/power"} {
		code, body := get(t, mux, path)
		if code != http.StatusOK || !json.Valid([]byte(body)) {
			t.Errorf("%s: %d %q; want 200 with JSON", path, code, body)
		}
	}
	_, body := get(t, mux, "/api/servers?server=r12-u01")
	var got bmc.Snapshot
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Power) != 1 || !strings.Contains(got.Power[0].Suspect, "above the plausible maximum") || got.Sensors[0].Value != nil || len(got.Sensors[0].Suspect) == 0 {
		t.Errorf("snapshot power %+v, sensors %+v; want the +Inf reading left out, the 1e308 one and the NaN set aside with reasons", got.Power, got.Sensors)
	}
}

// An agent report's host readings go through the same bounds: what is
// outside is set aside and listed in the report's problems; the rest is
// accepted.
func TestAgentReportAbsurdReadingsSetAside(t *testing.T) {
	t.Setenv("WEB_TEST_PASSWORD", "web-test-password")
	inv, problems, err := inventory.Load("testdata/inventory.yaml")
	if err != nil {
		t.Fatalf("%v\n%s", err, problems.Errors())
	}
	live := fleet.New(inv, fleet.NewScope([]string{"r12"}), 30*time.Second, fleet.Options{})
	var logs bytes.Buffer
	recv := NewAgentReceiver(live, nil, slog.New(slog.NewTextHandler(&logs, nil)))
	recv.SetTokens(map[string]bmc.Secret{"r12-u01": "token-u01"})
	mux := http.NewServeMux()
	recv.Register(mux)
	NewAPI(live, nil, nil).Register(mux)

	report := `{"version":1,"server":"r12-u01","hostname":"h","identity":{},"dimms":[{"slot":"A1","correctable_errors":-3}],
	  "sensors":[
	    {"chip":"coretemp","name":"Package id 0","kind":"temperature","value":-300,"unit":"Cel","path":"/sys/class/hwmon/hwmon1/temp1_input"},
	    {"chip":"coretemp","name":"Core 0","kind":"temperature","value":55,"unit":"Cel","crit":1e308},
	    {"chip":"nct6775","name":"fan1","kind":"fan","value":1200,"unit":"RPM"}],
	  "drives":[{"device":"/dev/sda","temperature_c":500,"media_errors":2}]}`
	for range 2 {
		req := httptest.NewRequest(http.MethodPost, "/api/agents/r12-u01/report", strings.NewReader(report))
		req.Header.Set("Authorization", "Bearer token-u01")
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("report: %d %s; want it accepted", rec.Code, rec.Body.String())
		}
	}
	ar, ok := live.Agent("r12-u01")
	if !ok {
		t.Fatal("no report in the fleet")
	}
	rep := ar.Report
	if len(rep.Sensors) != 2 || rep.Sensors[0].Name != "Core 0" || rep.Sensors[0].Crit != nil || rep.Sensors[1].Value != 1200 {
		t.Errorf("sensors %+v; want the -300 °C one left out, Core 0's 1e308 crit dropped, the fan kept", rep.Sensors)
	}
	if d := rep.Drives[0]; d.TemperatureC != nil || d.MediaErrors == nil || *d.MediaErrors != 2 {
		t.Errorf("drive %+v; want its 500 °C set aside, its media errors kept", d)
	}
	if rep.DIMMs[0].CorrectableErrors != nil {
		t.Errorf("DIMM %+v; want its negative count set aside", rep.DIMMs[0])
	}
	var reasons []string
	for _, p := range rep.Problems {
		reasons = append(reasons, p.Part+": "+p.Path+": "+p.Message)
	}
	all := strings.Join(reasons, "\n")
	for _, want := range []string{
		"hwmon: /sys/class/hwmon/hwmon1/temp1_input: sensor coretemp Package id 0 value -300 Cel below the plausible minimum -200 Cel: set aside as implausible",
		"sensor coretemp Core 0 crit 1e+308 Cel above the plausible maximum 200 Cel",
		"smart: /dev/sda: drive temperature_c 500 Cel above the plausible maximum 200 Cel",
		"edac: A1: DIMM correctable_errors -3 is negative",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("problems:\n%s\nwant %q", all, want)
		}
	}
	if len(rep.Problems) != 4 {
		t.Errorf("%d problems; want 4", len(rep.Problems))
	}
	if n := strings.Count(logs.String(), "agent report readings set aside"); n != 1 {
		t.Errorf("logged %d times for two reports; want once:\n%s", n, logs.String())
	}
}
