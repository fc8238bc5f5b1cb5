package web

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rackpulse/rackpulse/alert"
	"github.com/rackpulse/rackpulse/bmc"
	"github.com/rackpulse/rackpulse/fleet"
	"github.com/rackpulse/rackpulse/inventory"
)

var t0 = time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)

func ptr[T any](v T) *T { return &v }

// api serves a fleet of the test inventory with an alert engine, after a
// poll of r12-u01 with an uncorrectable DIMM error and a log entry.
func api(t *testing.T) http.Handler {
	t.Helper()
	t.Setenv("WEB_TEST_PASSWORD", "web-test-password")
	inv, problems, err := inventory.Load("testdata/inventory.yaml")
	if err != nil {
		t.Fatalf("%v\n%s", err, problems.Errors())
	}
	live := fleet.New(inv, nil, 30*time.Second, fleet.Options{})
	engine := alert.New(alert.Options{})
	live.AddSink(engine)
	snap := bmc.NewSnapshot("r12-u01", "r12", bmc.ProtocolRedfish, t0)
	snap.DIMMs = []bmc.DIMM{{Slot: "A1", State: "Enabled", UncorrectableErrors: ptr[int64](1)}}
	snap.Logs = []bmc.LogEntry{{ID: "1", Message: "Multi-bit memory errors detected on A1.", Component: "DIMM", Subject: "A1", Severity: bmc.HealthCritical}}
	snap.Poll.Read = []bmc.Part{bmc.PartMemory, bmc.PartLogs}
	live.Observe(bmc.Endpoint{Server: "r12-u01"}, t0, snap, nil)
	live.Observe(bmc.Endpoint{Server: "r13-u01"}, t0, bmc.NewSnapshot("r13-u01", "r13", bmc.ProtocolRedfish, t0), nil)
	mux := http.NewServeMux()
	NewAPI(live, engine, nil).Register(mux)
	return mux
}

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec.Code, rec.Body.String()
}

func TestAlertsAPI(t *testing.T) {
	h := api(t)
	code, body := get(t, h, "/api/alerts")
	var all []alert.Alert
	if err := json.Unmarshal([]byte(body), &all); code != 200 || err != nil {
		t.Fatalf("/api/alerts: %d %v %s", code, err, body)
	}
	if len(all) != 1 || all[0].Name != "DIMMFailing" || all[0].Labels["slot"] != "A1" || all[0].State != alert.StateFiring {
		t.Errorf("/api/alerts = %s", body)
	}
	for path, want := range map[string]int{
		"/api/alerts?state=firing":   1,
		"/api/alerts?state=resolved": 0,
		"/api/alerts?server=r12-u01": 1,
		"/api/alerts?server=r13-u01": 0,
		"/api/alerts?rack=r12":       1,
		"/api/alerts?rack=r13":       0,
	} {
		var got []alert.Alert
		code, body := get(t, h, path)
		if err := json.Unmarshal([]byte(body), &got); code != 200 || err != nil || len(got) != want {
			t.Errorf("%s: %d %s; want %d alerts", path, code, body, want)
		}
	}
	if code, body := get(t, h, "/api/alerts?state=bogus"); code != http.StatusBadRequest || !strings.Contains(body, "pending, firing or resolved") {
		t.Errorf("bad state: %d %s", code, body)
	}
}

func TestEventsAPI(t *testing.T) {
	h := api(t)
	code, body := get(t, h, "/api/events?server=r12-u01")
	var es []bmc.LogEntry
	if err := json.Unmarshal([]byte(body), &es); code != 200 || err != nil || len(es) != 1 || es[0].Subject != "A1" {
		t.Errorf("/api/events?server=r12-u01: %d %s", code, body)
	}
	if code, body := get(t, h, "/api/events?server=r13-u01"); code != 200 || strings.TrimSpace(body) != "[]" {
		t.Errorf("a server without events: %d %q, want []", code, body)
	}
	if code, _ := get(t, h, "/api/events"); code != http.StatusBadRequest {
		t.Errorf("/api/events without a server: %d, want 400", code)
	}
}

func TestRollupBeforeTheFirstCycle(t *testing.T) {
	h := api(t)
	if code, _ := get(t, h, "/api/rollup"); code != http.StatusServiceUnavailable {
		t.Errorf("/api/rollup before the first cycle: %d, want 503", code)
	}
	if code, body := get(t, h, "/api/servers?server=r12-u01"); code != 200 || !strings.Contains(body, `"slot":"A1"`) {
		t.Errorf("/api/servers?server=r12-u01: %d %s", code, body)
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeTestFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
