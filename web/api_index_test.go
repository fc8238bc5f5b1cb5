package web

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rackpulse/rackpulse/alert"
	"github.com/rackpulse/rackpulse/bmc"
	"github.com/rackpulse/rackpulse/fleet"
	"github.com/rackpulse/rackpulse/inventory"
	"github.com/rackpulse/rackpulse/rollup"
)

// twoRooms is a site of two rooms that both have a row-a: hall-1 (row-a:
// r01 with s01a and s01b, r02 with s02a; row-b: r03 with s03a) and hall-2
// (row-a: r04 with s04a).
const twoRooms = `site: dc1
credentials:
  default: {username: monitor, password_env: WEB_TEST_PASSWORD}
defaults:
  bmc: {credentials: default}
rooms:
  - name: hall-1
    rows:
      - name: row-a
        racks:
          - name: r01
            power_budget_watts: 1000
            servers:
              - {name: s01a, position: 1, bmc: {address: 10.0.1.1}}
              - {name: s01b, position: 2, bmc: {address: 10.0.1.2}}
          - name: r02
            servers:
              - {name: s02a, position: 1, bmc: {address: 10.0.2.1}}
      - name: row-b
        racks:
          - name: r03
            servers:
              - {name: s03a, position: 1, bmc: {address: 10.0.3.1}}
  - name: hall-2
    rows:
      - name: row-a
        racks:
          - name: r04
            servers:
              - {name: s04a, position: 1, bmc: {address: 10.0.4.1}}
`

// twoRoomsWatts is each server's power: every part's sum is different.
var twoRoomsWatts = map[string]float64{"s01a": 100, "s01b": 200, "s02a": 400, "s03a": 800, "s04a": 1600}

// twoRoomsFleet polls the racks of scope (nil: all) of twoRooms, every
// server once at t0, and rolls up when rolled.
func twoRoomsFleet(t *testing.T, scope []string, rolled bool) *fleet.Fleet {
	t.Helper()
	t.Setenv("WEB_TEST_PASSWORD", "web-test-password")
	path := filepath.Join(t.TempDir(), "inventory.yaml")
	writeTestFile(t, path, twoRooms)
	inv, problems, err := inventory.Load(path)
	if err != nil {
		t.Fatalf("%v\n%s", err, problems.Errors())
	}
	live := fleet.New(inv, fleet.NewScope(scope), 30*time.Second, fleet.Options{})
	for _, rack := range inv.Racks() {
		if !fleet.NewScope(scope).Has(rack.Name) {
			continue
		}
		for _, s := range rack.Servers {
			live.Observe(bmc.Endpoint{Server: s.Name}, t0, testSnapshot(s.Name, t0, twoRoomsWatts[s.Name]), nil)
		}
	}
	if rolled {
		live.Rollup(t0)
	}
	return live
}

// serveAll registers everything a poller serves on one mux: the API, the
// pages, the agent receiver, and /healthz and /metrics as the command
// does.
func serveAll(t *testing.T, live *fleet.Fleet) (*http.ServeMux, *API) {
	t.Helper()
	engine := alert.New(alert.Options{})
	live.AddSink(engine)
	mux := http.NewServeMux()
	a := NewAPI(live, engine, nil)
	a.Register(mux)
	ui, err := NewUI(UIOptions{Live: live, Alerts: engine})
	if err != nil {
		t.Fatal(err)
	}
	ui.Register(mux)
	NewAgentReceiver(live, nil, nil).Register(mux)
	Handle(mux, "GET /healthz", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) }))
	Handle(mux, "GET /metrics", http.NotFoundHandler())
	return mux, a
}

func indexOf(t *testing.T, h http.Handler, path string) []string {
	t.Helper()
	code, body := get(t, h, path)
	var ix apiIndex
	if err := json.Unmarshal([]byte(body), &ix); code != 200 || err != nil {
		t.Fatalf("%s: %d %v %s", path, code, err, body)
	}
	var out []string
	for _, rt := range ix.Endpoints {
		if rt.Answers == "" || rt.Params == nil {
			t.Errorf("%s %s: no answers or params null", rt.Method, rt.Path)
		}
		out = append(out, rt.Method+" "+rt.Path)
	}
	return out
}

func TestAPIIndexListsEveryRegisteredRoute(t *testing.T) {
	mux, _ := serveAll(t, twoRoomsFleet(t, nil, true))
	want := []string{
		"GET /api", "GET /api/", "GET /api/servers", "GET /api/rollup", "GET /api/power", "GET /api/events", "GET /api/agent",
		"GET /api/alerts", "GET /api/history", "POST /api/agents/{server}/report", "GET /api/*",
		"GET /", "GET /racks/{rack}", "GET /servers/{server}", "GET /alerts", "GET /static/", "GET /healthz", "GET /metrics",
	}
	for _, path := range []string{"/api", "/api/"} {
		if got := indexOf(t, mux, path); !slices.Equal(got, want) {
			t.Errorf("%s lists\n%q\nwant\n%q", path, got, want)
		}
	}
	// Every route of the table is registered by someone: none is stale.
	if n := len(routeTable()); n != len(want) {
		t.Errorf("the route table has %d routes, %d registered", n, len(want))
	}
	// Every route listed is the one the mux picks for its path.
	for _, rt := range registered(mux) {
		if p := patternOf(mux, rt.Method, probePath(rt.Path)); p != rt.pattern() {
			t.Errorf("%s: the mux picks %q", rt.pattern(), p)
		}
	}

	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/api", nil)
	req.Header.Set("Accept", "text/plain")
	mux.ServeHTTP(rec, req)
	text := rec.Body.String()
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Accept: text/plain got %s", ct)
	}
	if lines := strings.Split(strings.TrimSpace(text), "\n"); len(lines) != len(want) {
		t.Errorf("text index has %d lines, want %d:\n%s", len(lines), len(want), text)
	}
	columns := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		f := regexp.MustCompile(`\s{2,}`).Split(line, 4)
		columns[f[0]+" "+f[1]] = f
	}
	for _, want := range [][]string{
		{"GET", "/api/servers", "?[server=] [rack=] [row=] [room=]", "the latest poll of every polled server in brief (server, rack, time, health, requests, errors), by name"},
		{"GET", "/api/events", "?server=", "the server's recent BMC log entries, newest first"},
		{"POST", "/api/agents/{server}/report", "-", "takes a server's agent report (JSON body, Authorization: Bearer the server's agent token); 4xx with the reason when refused"},
	} {
		if got := columns[want[0]+" "+want[1]]; !slices.Equal(got, want) {
			t.Errorf("text index line %q, want %q:\n%s", got, want, text)
		}
	}
}

func TestAPIIndexOfTheSiteRole(t *testing.T) {
	// The site role: alerts and the pages over its state, no fleet.
	mux := http.NewServeMux()
	engine := alert.New(alert.Options{})
	NewAPI(nil, engine, nil).Register(mux)
	ui, err := NewUI(UIOptions{Live: fleet.NewSiteState(30 * time.Second), Alerts: engine, Role: "site rollup"})
	if err != nil {
		t.Fatal(err)
	}
	ui.Register(mux)
	want := []string{"GET /api", "GET /api/", "GET /api/alerts", "GET /api/history", "GET /api/*", "GET /", "GET /racks/{rack}", "GET /servers/{server}", "GET /alerts", "GET /static/"}
	if got := indexOf(t, mux, "/api"); !slices.Equal(got, want) {
		t.Errorf("the site role's index lists\n%q\nwant\n%q", got, want)
	}
	for path, want := range map[string]string{
		"/api/servers":            "no endpoint /api/servers: GET /api lists them",
		"/api/alerts?severity=x":  `GET /api/alerts takes no parameter "severity"; it takes state=, server=, rack=`,
		"/api/history?rack=r&r=1": `GET /api/history takes no parameter "r"; it takes rack=, server=, range=`,
	} {
		if code, body := get(t, mux, path); code/100 != 4 || !strings.Contains(body, want) {
			t.Errorf("%s: %d %q, want %q", path, code, body, want)
		}
	}
}

func TestHandleRefusesARouteOutsideTheTable(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "GET /api/secret is not in the route table") {
			t.Errorf("recovered %v", r)
		}
	}()
	Handle(http.NewServeMux(), "GET /api/secret", http.NotFoundHandler())
}

func TestAPIUnknownPathsAndMethods(t *testing.T) {
	mux, _ := serveAll(t, twoRoomsFleet(t, nil, true))
	if code, body := get(t, mux, "/api/server"); code != http.StatusNotFound || body != "no endpoint /api/server: GET /api lists them\n" {
		t.Errorf("/api/server: %d %q", code, body)
	}
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/agents/s01a/report", nil))
	if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "POST" {
		t.Errorf("GET of the agent report path: %d Allow %q %s", rec.Code, rec.Header().Get("Allow"), rec.Body)
	}
}

func serverNames(t *testing.T, body string) []string {
	t.Helper()
	var sums []fleet.ServerSummary
	if err := json.Unmarshal([]byte(body), &sums); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	var out []string
	for _, s := range sums {
		out = append(out, s.Server)
	}
	return out
}

func TestServersFilteredByRackRowRoom(t *testing.T) {
	mux, _ := serveAll(t, twoRoomsFleet(t, nil, true))
	for path, want := range map[string][]string{
		"/api/servers":                                {"s01a", "s01b", "s02a", "s03a", "s04a"},
		"/api/servers?rack=r01":                       {"s01a", "s01b"},
		"/api/servers?row=row-b":                      {"s03a"},
		"/api/servers?row=row-a&room=hall-1":          {"s01a", "s01b", "s02a"},
		"/api/servers?row=row-a&room=hall-2":          {"s04a"},
		"/api/servers?room=hall-1":                    {"s01a", "s01b", "s02a", "s03a"},
		"/api/servers?room=hall-1&rack=r03":           {"s03a"},
		"/api/servers?rack=r02&row=row-a&room=hall-1": {"s02a"},
	} {
		code, body := get(t, mux, path)
		if got := serverNames(t, body); code != 200 || !slices.Equal(got, want) {
			t.Errorf("%s: %d %q, want %q", path, code, got, want)
		}
	}
}

// partAnswer decodes a part's /api/rollup (rollup.Status does not
// decode: servers are read by name).
type partAnswer struct {
	partRollup
	Servers []struct{ Name string } `json:"servers"`
}

func names(nodes []rollup.Node) []string {
	out := []string{}
	for _, n := range nodes {
		out = append(out, n.Name)
	}
	return out
}

func TestRollupFilteredByRackRowRoom(t *testing.T) {
	mux, _ := serveAll(t, twoRoomsFleet(t, nil, true))
	var whole struct {
		Site  rollup.Node   `json:"site"`
		Racks []rollup.Node `json:"racks"`
	}
	if code, body := get(t, mux, "/api/rollup"); code != 200 || json.Unmarshal([]byte(body), &whole) != nil || whole.Site.Watts != 3100 || len(whole.Racks) != 4 {
		t.Fatalf("/api/rollup: %d %s", code, body)
	}
	for _, c := range []struct {
		path                      string
		rooms, rows, racks, servs []string
		totals                    string
		watts, budget             float64
		servers                   int
	}{
		{"/api/rollup?rack=r01", nil, nil, []string{"r01"}, []string{"s01a", "s01b"}, "r01", 300, 1000, 2},
		{"/api/rollup?row=row-b", nil, []string{"row-b"}, []string{"r03"}, []string{"s03a"}, "row-b", 800, 0, 1},
		{"/api/rollup?row=row-a&room=hall-1", nil, []string{"row-a"}, []string{"r01", "r02"}, []string{"s01a", "s01b", "s02a"}, "row-a", 700, 1000, 3},
		{"/api/rollup?row=row-a&room=hall-2", nil, []string{"row-a"}, []string{"r04"}, []string{"s04a"}, "row-a", 1600, 0, 1},
		{"/api/rollup?room=hall-1", []string{"hall-1"}, []string{"row-a", "row-b"}, []string{"r01", "r02", "r03"}, []string{"s01a", "s01b", "s02a", "s03a"}, "hall-1", 1500, 1000, 4},
	} {
		code, body := get(t, mux, c.path)
		var got partAnswer
		if err := json.Unmarshal([]byte(body), &got); code != 200 || err != nil {
			t.Errorf("%s: %d %v %s", c.path, code, err, body)
			continue
		}
		var servs []string
		for _, s := range got.Servers {
			servs = append(servs, s.Name)
		}
		if !slices.Equal(names(got.Rooms), append([]string{}, c.rooms...)) || !slices.Equal(names(got.Rows), append([]string{}, c.rows...)) ||
			!slices.Equal(names(got.Racks), c.racks) || !slices.Equal(servs, c.servs) {
			t.Errorf("%s: rooms %q rows %q racks %q servers %q", c.path, names(got.Rooms), names(got.Rows), names(got.Racks), servs)
		}
		if tt := got.Totals; tt == nil || tt.Name != c.totals || tt.Watts != c.watts || tt.BudgetWatts != c.budget || tt.Servers != c.servers || tt.Reporting != c.servers {
			t.Errorf("%s: totals %+v, want %s %g W of %g budget, %d servers reporting", c.path, tt, c.totals, c.watts, c.budget, c.servers)
		}
		if !got.Time.Equal(t0) || got.Note != "" {
			t.Errorf("%s: time %v note %q", c.path, got.Time, got.Note)
		}
	}
	// The part's totals are the whole rollup's node for it.
	var r01 partAnswer
	_, body := get(t, mux, "/api/rollup?rack=r01")
	_ = json.Unmarshal([]byte(body), &r01)
	if whole.Racks[0].Name != "r01" || r01.Totals == nil || r01.Totals.Watts != whole.Racks[0].Watts || r01.Totals.UtilizationPct != whole.Racks[0].UtilizationPct || r01.Totals.UtilizationPct != 30 {
		t.Errorf("r01's totals %+v differ from the whole rollup's %+v", r01.Totals, whole.Racks[0])
	}
}

func TestPowerFilteredByRackRowRoom(t *testing.T) {
	mux, _ := serveAll(t, twoRoomsFleet(t, nil, true))
	for path, want := range map[string][]string{
		"/api/power":                       {"r01", "r02", "r03", "r04"},
		"/api/power?rack=r03":              {"r03"},
		"/api/power?row=row-a&room=hall-1": {"r01", "r02"},
		"/api/power?room=hall-2":           {"r04"},
		"/api/power?room=hall-1":           {"r01", "r02", "r03"},
	} {
		code, body := get(t, mux, path)
		var racks []fleet.RackPower
		if err := json.Unmarshal([]byte(body), &racks); code != 200 || err != nil {
			t.Errorf("%s: %d %v %s", path, code, err, body)
			continue
		}
		var got []string
		for _, rp := range racks {
			got = append(got, rp.Rack)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: racks %q, want %q", path, got, want)
		}
	}
}

func TestAPIUnknownRackRowRoom(t *testing.T) {
	mux, _ := serveAll(t, twoRoomsFleet(t, nil, true))
	for _, c := range []struct {
		path string
		code int
		body string
	}{
		{"/api/servers?rack=r1", 404, `no rack "r1" (did you mean "r01"?)`},
		{"/api/rollup?rack=zz", 404, `no rack "zz" (known racks: r01, r02, r03, r04)`},
		{"/api/power?row=row-c", 404, `no row "row-c" (known rows: row-a, row-b)`},
		{"/api/rollup?room=hall-3", 404, `no room "hall-3" (known rooms: hall-1, hall-2)`},
		{"/api/rollup?room=hal-2", 404, `no room "hal-2" (did you mean "hall-2"?)`},
		{"/api/servers?row=row-a", 400, `rooms hall-1, hall-2 each have a row "row-a": add room=`},
		{"/api/power?rack=r04&room=hall-1", 404, "no rack is in rack r04 and room hall-1"},
	} {
		if code, body := get(t, mux, c.path); code != c.code || body != c.body+"\n" {
			t.Errorf("%s: %d %q, want %d %q", c.path, code, body, c.code, c.body)
		}
	}

	// A poller of r01 and r03 knows r04 from the inventory, polled by
	// another poller; it publishes racks only, so a room has no totals.
	scoped, _ := serveAll(t, twoRoomsFleet(t, []string{"r01", "r03"}, true))
	if code, body := get(t, scoped, "/api/rollup?rack=r04"); code != 404 || body != "rack \"r04\" is not polled here: this poller polls racks r01, r03\n" {
		t.Errorf("another poller's rack: %d %q", code, body)
	}
	code, body := get(t, scoped, "/api/rollup?room=hall-1")
	var got partAnswer
	if err := json.Unmarshal([]byte(body), &got); code != 200 || err != nil || got.Totals != nil || !strings.Contains(got.Note, "no node for room hall-1") ||
		!slices.Equal(names(got.Racks), []string{"r01", "r03"}) {
		t.Errorf("a scoped poller's room: %d %s", code, body)
	}
}

func TestAPIRejectsUnknownParameters(t *testing.T) {
	mux, _ := serveAll(t, twoRoomsFleet(t, nil, true))
	for _, c := range []struct{ path, body string }{
		{"/api?verbose=1", `GET /api takes no parameter "verbose"; it takes none (GET /api lists every endpoint)`},
		{"/api/servers?rak=r01", `GET /api/servers takes no parameter "rak"; it takes server=, rack=, row=, room= (GET /api lists every endpoint)`},
		{"/api/rollup?server=s01a", `GET /api/rollup takes no parameter "server"; it takes rack=, row=, room= (GET /api lists every endpoint)`},
		{"/api/power?site=dc1", `GET /api/power takes no parameter "site"; it takes rack=, row=, room= (GET /api lists every endpoint)`},
		{"/api/events?server=s01a&since=1h", `GET /api/events takes no parameter "since"; it takes server= (GET /api lists every endpoint)`},
		{"/api/agent?host=s01a", `GET /api/agent takes no parameter "host"; it takes server= (GET /api lists every endpoint)`},
		{"/api/alerts?severity=critical", `GET /api/alerts takes no parameter "severity"; it takes state=, server=, rack= (GET /api lists every endpoint)`},
		{"/api/history?span=1h", `GET /api/history takes no parameter "span"; it takes rack=, server=, range= (GET /api lists every endpoint)`},
		{"/api/servers?rack=r01&rack=r02", "give rack once"},
		{"/api/servers?server=s01a&rack=r01", "server= names one server: give it alone"},
	} {
		if code, body := get(t, mux, c.path); code != http.StatusBadRequest || body != c.body+"\n" {
			t.Errorf("%s: %d %q, want 400 %q", c.path, code, body, c.body)
		}
	}
	// Pages are not the API: a link with tracking parameters still opens.
	if code, _ := get(t, mux, "/racks/r01?utm_source=mail"); code != 200 {
		t.Errorf("a page with an unknown parameter: %d", code)
	}
}

func TestRollupNotYetSaysWhenTheFirstIsDue(t *testing.T) {
	mux, a := serveAll(t, twoRoomsFleet(t, nil, false))
	a.started = t0
	for _, c := range []struct {
		after      time.Duration
		body       string
		retryAfter string
	}{
		{5 * time.Second, "no rollup yet: the first is due in about 25 s, after every BMC's first poll (interval 30s)", "25"},
		{29500 * time.Millisecond, "no rollup yet: the first is due in about 1 s, after every BMC's first poll (interval 30s)", "1"},
		{40 * time.Second, "no rollup yet: the first was due about 10 s ago, after every BMC's first poll (interval 30s); if this lasts, the log says why", "1"},
	} {
		a.now = func() time.Time { return t0.Add(c.after) }
		for _, path := range []string{"/api/rollup", "/api/power", "/api/rollup?rack=r01", "/api/power?room=hall-2"} {
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
			if rec.Code != http.StatusServiceUnavailable || rec.Body.String() != c.body+"\n" || rec.Header().Get("Retry-After") != c.retryAfter {
				t.Errorf("%s %s after start: %d Retry-After %q %q, want %q", path, c.after, rec.Code, rec.Header().Get("Retry-After"), rec.Body, c.body)
			}
		}
	}
	// An unknown rack is answered before the first rollup too: the
	// inventory is known from the start.
	if code, _ := get(t, mux, "/api/rollup?rack=r99"); code != http.StatusNotFound {
		t.Errorf("unknown rack before the first rollup: %d, want 404", code)
	}
	if got := about(3 * time.Minute); got != "3 min" {
		t.Errorf("about(3m) = %q", got)
	}
}
