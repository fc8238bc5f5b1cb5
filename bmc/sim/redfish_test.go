package sim

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

const (
	testUser = "admin"
	testPass = "s3cret"
)

// testTree is a small service: root advertising full $expand, a chassis
// collection with one chassis and its Power resource.
func testTree(t *testing.T) *Tree {
	t.Helper()
	tree := NewTree()
	set := func(uri string, obj map[string]any) {
		obj["@odata.id"] = uri
		if err := tree.Set(uri, obj); err != nil {
			t.Fatal(err)
		}
	}
	set("/redfish/v1", map[string]any{
		"Id": "RootService",
		"ProtocolFeaturesSupported": map[string]any{"ExpandQuery": map[string]any{
			"ExpandAll": true, "Levels": true, "MaxLevels": 2, "Links": true, "NoLinks": true,
		}},
		"Chassis": odataID("/redfish/v1/Chassis"),
	})
	set("/redfish/v1/Chassis", map[string]any{
		"Members":             []any{odataID("/redfish/v1/Chassis/1U")},
		"Members@odata.count": 1,
	})
	set("/redfish/v1/Chassis/1U", map[string]any{
		"Id":    "1U",
		"Power": odataID("/redfish/v1/Chassis/1U/Power"),
		"Links": map[string]any{"ComputerSystems": []any{odataID("/redfish/v1/Systems/1")}},
	})
	set("/redfish/v1/Chassis/1U/Power", map[string]any{"Id": "Power", "PowerControl": []any{map[string]any{"PowerConsumedWatts": 250}}})
	set("/redfish/v1/Systems/1", map[string]any{"Id": "1"})
	return tree
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var obj map[string]any
	if err := json.Unmarshal(r.body, &obj); err != nil {
		t.Fatalf("body is not JSON: %v\n%s", err, r.body)
	}
	return obj
}

func (r response) messageID(t *testing.T) string {
	t.Helper()
	obj := r.json(t)
	e, _ := obj["error"].(map[string]any)
	info, _ := e["@Message.ExtendedInfo"].([]any)
	if len(info) == 0 {
		t.Fatalf("no @Message.ExtendedInfo in error body %s", r.body)
	}
	id, _ := info[0].(map[string]any)["MessageId"].(string)
	return id
}

// do runs one request straight through the handler.
func do(b http.Handler, method, target string, body string, hdr map[string]string) response {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, rd)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	b.ServeHTTP(rec, req)
	return response{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

func login(t *testing.T, b http.Handler, user, pass string) response {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"UserName": user, "Password": pass})
	return do(b, http.MethodPost, sessionsPath, string(body), nil)
}

func mustLogin(t *testing.T, b http.Handler) (token, location string) {
	t.Helper()
	r := login(t, b, testUser, testPass)
	if r.status != http.StatusCreated {
		t.Fatalf("login: status %d, body %s", r.status, r.body)
	}
	token, location = r.header.Get("X-Auth-Token"), r.header.Get("Location")
	if token == "" || location == "" {
		t.Fatalf("login: X-Auth-Token %q, Location %q", token, location)
	}
	return token, location
}

func tok(token string) map[string]string { return map[string]string{"X-Auth-Token": token} }

func basic(user, pass string) map[string]string {
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.SetBasicAuth(user, pass)
	return map[string]string{"Authorization": req.Header.Get("Authorization")}
}

func TestRedfishBMCAuth(t *testing.T) {
	tests := []struct {
		name       string
		opts       RedfishOptions
		method     string
		target     string
		hdr        func(token string) map[string]string
		wantStatus int
		wantMsg    string
	}{
		{name: "redfish version doc unauthenticated", target: "/redfish", wantStatus: 200},
		{name: "root unauthenticated", target: "/redfish/v1", wantStatus: 200},
		{name: "root with trailing slash", target: "/redfish/v1/", wantStatus: 200},
		{name: "chassis without credentials", target: "/redfish/v1/Chassis", wantStatus: 401, wantMsg: "NoValidSession"},
		{name: "chassis with token", target: "/redfish/v1/Chassis", hdr: tok, wantStatus: 200},
		{name: "chassis with trailing slash", target: "/redfish/v1/Chassis/", hdr: tok, wantStatus: 200},
		{name: "bad token", target: "/redfish/v1/Chassis", hdr: func(string) map[string]string { return tok("nope") }, wantStatus: 401},
		{name: "basic refused by default", target: "/redfish/v1/Chassis", hdr: func(string) map[string]string { return basic(testUser, testPass) }, wantStatus: 401},
		{name: "basic allowed", opts: RedfishOptions{AllowBasicAuth: true}, target: "/redfish/v1/Chassis", hdr: func(string) map[string]string { return basic(testUser, testPass) }, wantStatus: 200},
		{name: "basic wrong password", opts: RedfishOptions{AllowBasicAuth: true}, target: "/redfish/v1/Chassis", hdr: func(string) map[string]string { return basic(testUser, "x") }, wantStatus: 401},
		{name: "unknown path", target: "/redfish/v1/Nope", hdr: tok, wantStatus: 404, wantMsg: "ResourceMissingAtURI"},
		{name: "unknown path needs auth first", target: "/redfish/v1/Nope", wantStatus: 401},
		{name: "patch not allowed", method: http.MethodPatch, target: "/redfish/v1/Chassis/1U", hdr: tok, wantStatus: 405},
		{name: "session service made up", target: "/redfish/v1/SessionService", hdr: tok, wantStatus: 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.opts
			opts.Username, opts.Password = testUser, testPass
			b := NewRedfishBMC(testTree(t), opts)
			token, _ := mustLogin(t, b)
			var hdr map[string]string
			if tc.hdr != nil {
				hdr = tc.hdr(token)
			}
			method := tc.method
			if method == "" {
				method = http.MethodGet
			}
			r := do(b, method, tc.target, "", hdr)
			if r.status != tc.wantStatus {
				t.Fatalf("status %d, want %d; body %s", r.status, tc.wantStatus, r.body)
			}
			if tc.wantMsg != "" {
				if id := r.messageID(t); !strings.HasSuffix(id, "."+tc.wantMsg) {
					t.Errorf("MessageId %q, want *.%s", id, tc.wantMsg)
				}
			}
			if r.status == 200 {
				r.json(t)
				if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
					t.Errorf("Content-Type %q", ct)
				}
			}
		})
	}
}

func TestRedfishBMCSessions(t *testing.T) {
	b := NewRedfishBMC(testTree(t), RedfishOptions{Username: testUser, Password: testPass, MaxSessions: 2})

	if r := login(t, b, testUser, "wrong"); r.status != http.StatusUnauthorized {
		t.Fatalf("wrong password: status %d", r.status)
	}
	if r := do(b, http.MethodPost, sessionsPath, `{"UserName":`, nil); r.status != http.StatusBadRequest {
		t.Fatalf("malformed login: status %d", r.status)
	}
	if r := do(b, http.MethodPost, sessionsPath, `{"UserName":"admin"}`, nil); r.status != http.StatusBadRequest {
		t.Fatalf("login without password: status %d", r.status)
	}
	if n := b.ActiveSessions(); n != 0 {
		t.Fatalf("ActiveSessions after failed logins = %d", n)
	}

	tok1, loc1 := mustLogin(t, b)
	r := login(t, b, testUser, testPass)
	if r.status != http.StatusCreated {
		t.Fatalf("second login: %d", r.status)
	}
	session := r.json(t)
	if session["UserName"] != testUser || session["@odata.id"] != r.header.Get("Location") {
		t.Errorf("session resource %v does not match Location %q", session, r.header.Get("Location"))
	}
	if n := b.ActiveSessions(); n != 2 {
		t.Fatalf("ActiveSessions = %d, want 2", n)
	}

	full := login(t, b, testUser, testPass)
	if full.status != http.StatusServiceUnavailable {
		t.Fatalf("login past the limit: status %d, want 503", full.status)
	}
	if id := full.messageID(t); !strings.HasPrefix(id, "Base.1.") || !strings.HasSuffix(id, ".SessionLimitExceeded") {
		t.Errorf("MessageId %q, want Base.1.x.SessionLimitExceeded", id)
	}

	coll := do(b, http.MethodGet, sessionsPath, "", tok(tok1)).json(t)
	members, _ := coll["Members"].([]any)
	if len(members) != 2 || coll["Members@odata.count"] != float64(2) {
		t.Fatalf("sessions collection %v, want 2 members", coll)
	}
	if got := members[0].(map[string]any)["@odata.id"]; got != loc1 {
		t.Errorf("first member %v, want %s", got, loc1)
	}
	if r := do(b, http.MethodGet, loc1, "", tok(tok1)); r.status != 200 || r.json(t)["Id"] == "" {
		t.Errorf("GET own session: %d %s", r.status, r.body)
	}

	if r := do(b, http.MethodDelete, loc1, "", tok(tok1)); r.status != http.StatusNoContent {
		t.Fatalf("DELETE session: status %d", r.status)
	}
	if r := do(b, http.MethodGet, "/redfish/v1/Chassis", "", tok(tok1)); r.status != http.StatusUnauthorized {
		t.Errorf("token after logout: status %d, want 401", r.status)
	}
	if n := b.ActiveSessions(); n != 1 {
		t.Errorf("ActiveSessions after logout = %d, want 1", n)
	}
	mustLogin(t, b) // the slot is free again
}

func TestRedfishBMCSessionTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := NewRedfishBMC(testTree(t), RedfishOptions{Username: testUser, Password: testPass, SessionTimeout: 10 * time.Minute})
		token, _ := mustLogin(t, b)
		time.Sleep(9 * time.Minute)
		if r := do(b, http.MethodGet, "/redfish/v1/Chassis", "", tok(token)); r.status != 200 {
			t.Fatalf("token used within timeout: %d", r.status)
		}
		time.Sleep(9 * time.Minute) // idle timeout restarts on use
		if r := do(b, http.MethodGet, "/redfish/v1/Chassis", "", tok(token)); r.status != 200 {
			t.Fatalf("token used within timeout of last use: %d", r.status)
		}
		time.Sleep(11 * time.Minute)
		if r := do(b, http.MethodGet, "/redfish/v1/Chassis", "", tok(token)); r.status != http.StatusUnauthorized {
			t.Fatalf("expired token: %d, want 401", r.status)
		}
		if n := b.ActiveSessions(); n != 0 {
			t.Errorf("ActiveSessions after expiry = %d", n)
		}
	})
}

func TestRedfishBMCNoSessions(t *testing.T) {
	b := NewRedfishBMC(testTree(t), RedfishOptions{Username: testUser, Password: testPass, NoSessions: true})
	root := do(b, http.MethodGet, "/redfish/v1", "", nil).json(t)
	if _, ok := root["SessionService"]; ok {
		t.Errorf("root advertises SessionService with NoSessions: %v", root)
	}
	if r := login(t, b, testUser, testPass); r.status == http.StatusCreated {
		t.Fatalf("session created with NoSessions")
	}
	if r := do(b, http.MethodGet, "/redfish/v1/Chassis", "", basic(testUser, testPass)); r.status != 200 {
		t.Fatalf("Basic auth with NoSessions: %d", r.status)
	}
	r := do(b, http.MethodGet, "/redfish/v1/Chassis", "", nil)
	if r.status != 401 || !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Basic") {
		t.Errorf("no credentials: status %d, WWW-Authenticate %q", r.status, r.header.Get("WWW-Authenticate"))
	}
}

func TestRedfishBMCExpand(t *testing.T) {
	member := func(t *testing.T, obj map[string]any) map[string]any {
		t.Helper()
		ms, _ := obj["Members"].([]any)
		if len(ms) != 1 {
			t.Fatalf("Members %v", obj["Members"])
		}
		return ms[0].(map[string]any)
	}
	tests := []struct {
		name  string
		mode  ExpandMode
		query string
		check func(t *testing.T, chassisColl map[string]any)
	}{
		{name: "no query", query: "", check: func(t *testing.T, c map[string]any) {
			if m := member(t, c); len(m) != 1 {
				t.Errorf("member expanded without $expand: %v", m)
			}
		}},
		{name: "dot one level", query: ".", check: func(t *testing.T, c map[string]any) {
			m := member(t, c)
			if m["Id"] != "1U" {
				t.Fatalf("member not expanded: %v", m)
			}
			if p := m["Power"].(map[string]any); len(p) != 1 {
				t.Errorf("second level expanded at $levels=1: %v", p)
			}
		}},
		{name: "dot two levels skips Links", query: ".($levels=2)", check: func(t *testing.T, c map[string]any) {
			m := member(t, c)
			if p := m["Power"].(map[string]any); p["Id"] != "Power" {
				t.Errorf("Power not expanded at $levels=2: %v", p)
			}
			sys := m["Links"].(map[string]any)["ComputerSystems"].([]any)[0].(map[string]any)
			if len(sys) != 1 {
				t.Errorf("Links expanded by '.': %v", sys)
			}
		}},
		{name: "star two levels follows Links", query: "*($levels=2)", check: func(t *testing.T, c map[string]any) {
			sys := member(t, c)["Links"].(map[string]any)["ComputerSystems"].([]any)[0].(map[string]any)
			if sys["Id"] != "1" {
				t.Errorf("Links not expanded by '*': %v", sys)
			}
		}},
		{name: "levels clamped to MaxLevels", query: "*($levels=9)", check: func(t *testing.T, c map[string]any) {
			if p := member(t, c)["Power"].(map[string]any); p["Id"] != "Power" {
				t.Errorf("Power not expanded: %v", p)
			}
		}},
		{name: "tilde leaves Members", query: "~", check: func(t *testing.T, c map[string]any) {
			if m := member(t, c); len(m) != 1 {
				t.Errorf("'~' expanded a Member: %v", m)
			}
		}},
		{name: "ignored", mode: ExpandIgnore, query: ".", check: func(t *testing.T, c map[string]any) {
			if m := member(t, c); len(m) != 1 {
				t.Errorf("ExpandIgnore expanded: %v", m)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := NewRedfishBMC(testTree(t), RedfishOptions{Username: testUser, Password: testPass, Expand: tc.mode})
			token, _ := mustLogin(t, b)
			target := "/redfish/v1/Chassis"
			if tc.query != "" {
				target += "?$expand=" + tc.query
			}
			r := do(b, http.MethodGet, target, "", tok(token))
			if r.status != 200 {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			tc.check(t, r.json(t))
		})
	}

	b := NewRedfishBMC(testTree(t), RedfishOptions{Username: testUser, Password: testPass})
	token, _ := mustLogin(t, b)
	if r := do(b, http.MethodGet, "/redfish/v1/Chassis?$expand=x", "", tok(token)); r.status != http.StatusBadRequest {
		t.Errorf("bad $expand: status %d, want 400", r.status)
	}
}

func TestRedfishBMCFaults(t *testing.T) {
	newBMC := func(t *testing.T) (*RedfishBMC, string) {
		b := NewRedfishBMC(testTree(t), RedfishOptions{Username: testUser, Password: testPass})
		token, _ := mustLogin(t, b)
		return b, token
	}
	t.Run("http-500 and http-503", func(t *testing.T) {
		b, token := newBMC(t)
		b.SetFault(FaultServerError)
		if r := do(b, http.MethodGet, "/redfish/v1/Chassis", "", tok(token)); r.status != 500 {
			t.Errorf("http-500: %d", r.status)
		}
		b.ClearFault(FaultServerError)
		b.SetFault(FaultBusy)
		r := do(b, http.MethodGet, "/redfish/v1", "", nil)
		if r.status != 503 || r.header.Get("Retry-After") == "" {
			t.Errorf("http-503: %d, Retry-After %q", r.status, r.header.Get("Retry-After"))
		}
		if got := b.Faults(); len(got) != 1 || got[0] != FaultBusy {
			t.Errorf("Faults() = %v", got)
		}
		b.ClearFault(FaultBusy)
		if r := do(b, http.MethodGet, "/redfish/v1/Chassis", "", tok(token)); r.status != 200 {
			t.Errorf("after ClearFault: %d", r.status)
		}
	})
	t.Run("session-loss", func(t *testing.T) {
		b, token := newBMC(t)
		b.SetFault(FaultSessionLoss)
		if n := b.ActiveSessions(); n != 0 {
			t.Errorf("ActiveSessions = %d", n)
		}
		if r := do(b, http.MethodGet, "/redfish/v1/Chassis", "", tok(token)); r.status != 401 {
			t.Errorf("old token: %d, want 401", r.status)
		}
		token, _ = mustLogin(t, b)
		if r := do(b, http.MethodGet, "/redfish/v1/Chassis", "", tok(token)); r.status != 200 {
			t.Errorf("new token: %d, session loss must happen once", r.status)
		}
	})
	t.Run("malformed-json only on readings", func(t *testing.T) {
		b, token := newBMC(t)
		b.SetFault(FaultMalformedJSON)
		if r := do(b, http.MethodGet, "/redfish/v1/Chassis/1U/Power", "", tok(token)); r.status != 200 || json.Valid(r.body) {
			t.Errorf("Power under malformed-json: status %d, valid JSON %s", r.status, r.body)
		}
		if r := do(b, http.MethodGet, "/redfish/v1/Chassis/1U", "", tok(token)); !json.Valid(r.body) {
			t.Errorf("Chassis broken under malformed-json: %s", r.body)
		}
	})
	t.Run("timeout hangs until the client gives up", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b, token := newBMC(t)
			b.SetFault(FaultTimeout)
			ctx, cancel := context.WithCancel(t.Context())
			req := httptest.NewRequestWithContext(ctx, http.MethodGet, "/redfish/v1/Chassis", nil)
			req.Header.Set("X-Auth-Token", token)
			done := make(chan struct{})
			go func() {
				b.ServeHTTP(httptest.NewRecorder(), req)
				close(done)
			}()
			synctest.Wait()
			select {
			case <-done:
				t.Fatal("request answered under the timeout fault")
			default:
			}
			cancel()
			<-done
		})
	})
	t.Run("truncated-json", func(t *testing.T) {
		b, token := newBMC(t)
		srv := httptest.NewServer(b)
		defer srv.Close()
		b.SetFault(FaultTruncatedJSON)
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/redfish/v1/Chassis/1U", nil)
		req.Header.Set("X-Auth-Token", token)
		resp, err := srv.Client().Do(req)
		if err != nil {
			return // cut before the headers arrived: also a truncation
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err == nil && json.Valid(body) {
			t.Errorf("truncated-json served a whole body: %s", body)
		}
	})
}

func TestRedfishBMCRequestsAndLatency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := NewRedfishBMC(testTree(t), RedfishOptions{
			Username: testUser, Password: testPass,
			Latency: func() time.Duration { return 150 * time.Millisecond },
		})
		start := time.Now()
		for range 3 {
			do(b, http.MethodGet, "/redfish/v1", "", nil)
		}
		if got := b.Requests(); got != 3 {
			t.Errorf("Requests() = %d, want 3", got)
		}
		if elapsed := time.Since(start); elapsed != 450*time.Millisecond {
			t.Errorf("three requests took %v of fake time, want 450ms", elapsed)
		}
	})
}

// fixturesDir finds ../shared/fixtures/redfish relative to the repository
// root, skipping the test when it is absent unless integration tests are
// required.
func fixturesDir(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("repository root (go.mod) not found")
		}
		dir = parent
	}
	fixtures := filepath.Join(dir, "..", "shared", "fixtures", "redfish")
	if _, err := os.Stat(fixtures); err != nil {
		if os.Getenv("RACKPULSE_REQUIRE_INTEGRATION") == "1" {
			t.Fatalf("Redfish mockups required but absent: %v", err)
		}
		t.Skipf("Redfish mockups not found at %s (set RACKPULSE_REQUIRE_INTEGRATION=1 to fail instead)", fixtures)
	}
	return fixtures
}

func TestLoadMockupAll(t *testing.T) {
	fixtures := fixturesDir(t)
	entries, err := os.ReadDir(fixtures)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		t.Run(e.Name(), func(t *testing.T) {
			tree, err := LoadMockup(filepath.Join(fixtures, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			root, ok := tree.Get("/redfish/v1/")
			if !ok || root["@odata.id"] == nil {
				t.Fatalf("service root missing or without @odata.id: %v", root)
			}
			for _, p := range tree.Paths() {
				if p != "/" && strings.HasSuffix(p, "/") {
					t.Errorf("path %q keeps a trailing slash", p)
				}
			}
		})
	}
	if _, err := LoadMockup(filepath.Join(fixtures, "no-such-mockup")); err == nil || !strings.Contains(err.Error(), "no-such-mockup") {
		t.Errorf("missing mockup: error %v should name the directory", err)
	}
}

func TestRedfishBMCRackmountMockup(t *testing.T) {
	tree, err := LoadMockup(filepath.Join(fixturesDir(t), "public-rackmount1"))
	if err != nil {
		t.Fatal(err)
	}
	b := NewRedfishBMC(tree, RedfishOptions{Username: testUser, Password: testPass})
	token, _ := mustLogin(t, b)

	ps := do(b, http.MethodGet, "/redfish/v1/Chassis/1U/PowerSubsystem", "", tok(token))
	if ps.status != 200 {
		t.Fatalf("PowerSubsystem: %d", ps.status)
	}
	if got := ps.json(t)["@odata.id"]; got != "/redfish/v1/Chassis/1U/PowerSubsystem" {
		t.Errorf("PowerSubsystem @odata.id %v", got)
	}

	// The mockup's sample sessions are not live: only ours is listed.
	coll := do(b, http.MethodGet, sessionsPath, "", tok(token)).json(t)
	if n := coll["Members@odata.count"]; n != float64(1) {
		t.Errorf("sessions collection count %v, want 1", n)
	}

	psus := do(b, http.MethodGet, "/redfish/v1/Chassis/1U/PowerSubsystem/PowerSupplies?$expand=.($levels=1)", "", tok(token)).json(t)
	members, _ := psus["Members"].([]any)
	if len(members) == 0 {
		t.Fatal("no power supplies in mockup")
	}
	for _, m := range members {
		if _, ok := m.(map[string]any)["Id"]; !ok {
			t.Errorf("power supply member not expanded: %v", m)
		}
	}

	// Numbers are served as the mockup wrote them.
	raw := do(b, http.MethodGet, "/redfish/v1/Chassis/1U/PowerSubsystem/PowerSupplies/Bay1", "", tok(token))
	if !strings.Contains(string(raw.body), `"PowerCapacityWatts":400`) {
		t.Errorf("Bay1 PowerCapacityWatts not served as written: %s", raw.body)
	}
}

// A resource carries an entity tag of its body; If-None-Match with it (or
// "*", or the tag marked weak) gets 304 Not Modified and no body, and once
// the resource changes the old tag gets the new body and its new tag.
func TestRedfishBMCEntityTags(t *testing.T) {
	tree := testTree(t)
	b := NewRedfishBMC(tree, RedfishOptions{Username: testUser, Password: testPass})
	token, _ := mustLogin(t, b)
	const power = "/redfish/v1/Chassis/1U/Power"
	first := do(b, http.MethodGet, power, "", tok(token))
	tag := first.header.Get("ETag")
	if first.status != http.StatusOK || len(tag) < 3 || tag[0] != '"' || tag[len(tag)-1] != '"' {
		t.Fatalf("GET: status %d, ETag %q", first.status, tag)
	}
	if again := do(b, http.MethodGet, power, "", tok(token)); again.header.Get("ETag") != tag {
		t.Errorf("the same body got ETag %q, then %q", tag, again.header.Get("ETag"))
	}
	for _, inm := range []string{tag, "W/" + tag, `"other", ` + tag, "*"} {
		r := do(b, http.MethodGet, power, "", map[string]string{"X-Auth-Token": token, "If-None-Match": inm})
		if r.status != http.StatusNotModified || len(r.body) != 0 || r.header.Get("ETag") != tag {
			t.Errorf("If-None-Match %s: status %d, %d bytes, ETag %q; want 304, none, %s", inm, r.status, len(r.body), r.header.Get("ETag"), tag)
		}
	}
	if r := do(b, http.MethodGet, power, "", map[string]string{"X-Auth-Token": token, "If-None-Match": `"other"`}); r.status != http.StatusOK || len(r.body) == 0 {
		t.Errorf("If-None-Match with another tag: status %d, %d bytes", r.status, len(r.body))
	}
	if err := tree.Set(power, map[string]any{"@odata.id": power, "Id": "Power", "PowerControl": []any{map[string]any{"PowerConsumedWatts": 260}}}); err != nil {
		t.Fatal(err)
	}
	changed := do(b, http.MethodGet, power, "", map[string]string{"X-Auth-Token": token, "If-None-Match": tag})
	if changed.status != http.StatusOK || changed.header.Get("ETag") == tag || changed.header.Get("ETag") == "" {
		t.Fatalf("after a change, If-None-Match with the old tag: status %d, ETag %q (old %q)", changed.status, changed.header.Get("ETag"), tag)
	}
	if w := changed.json(t)["PowerControl"].([]any)[0].(map[string]any)["PowerConsumedWatts"]; w != 260.0 {
		t.Errorf("changed body says %v W", w)
	}
}
