package web

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rackpulse/rackpulse/bmc"
	"github.com/rackpulse/rackpulse/fleet"
	"github.com/rackpulse/rackpulse/inventory"
)

func TestAgentReceiver(t *testing.T) {
	t.Setenv("WEB_TEST_PASSWORD", "web-test-password")
	inv, problems, err := inventory.Load("testdata/inventory.yaml")
	if err != nil {
		t.Fatalf("%v\n%s", err, problems.Errors())
	}
	live := fleet.New(inv, fleet.NewScope([]string{"r12"}), 30*time.Second, fleet.Options{})
	var logs bytes.Buffer
	recv := NewAgentReceiver(live, nil, slog.New(slog.NewTextHandler(&logs, nil)))
	recv.maxBytes = 2048
	recv.SetTokens(map[string]bmc.Secret{"r12-u01": "token-u01", "r13-u01": "token-r13"})
	mux := http.NewServeMux()
	recv.Register(mux)
	NewAPI(live, nil, nil).Register(mux)
	post := func(server, token, body string) (int, string) {
		req := httptest.NewRequest(http.MethodPost, "/api/agents/"+server+"/report", strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	good := `{"version":1,"server":"r12-u01","hostname":"r12-u01.example","identity":{"system_serial":"SN1"},"dimms":[],"sensors":[],"drives":[]}`
	for _, tc := range []struct {
		name, server, token, body string
		status                    int
		reason                    string
	}{
		{"accepted", "r12-u01", "token-u01", good, 200, `"accepted":true`},
		{"bad token", "r12-u01", "guess", good, 401, "bad or missing agent token"},
		{"no token", "r12-u01", "", good, 401, "bad or missing agent token"},
		{"no token configured", "r12-u02", "x", good, 401, "no agent token is configured for server r12-u02"},
		{"not polled here", "r13-u01", "token-r13", good, 404, "not polled by this poller"},
		{"unknown server", "r99-u01", "x", good, 404, "not polled by this poller"},
		{"malformed", "r12-u01", "token-u01", `{"version":1,`, 400, "not valid JSON"},
		{"another version", "r12-u01", "token-u01", `{"version":7}`, 400, "report version 7"},
		{"another server's report", "r12-u01", "token-u01", `{"version":1,"server":"r12-u02"}`, 400, "names server r12-u02"},
		{"too large", "r12-u01", "token-u01", `{"version":1,"hostname":"` + strings.Repeat("x", 4000) + `"}`, 413, "larger than 2048 bytes"},
	} {
		code, body := post(tc.server, tc.token, tc.body)
		if code != tc.status || !strings.Contains(body, tc.reason) {
			t.Errorf("%s: %d %q, want %d with %q", tc.name, code, body, tc.status, tc.reason)
		}
	}
	if ar, ok := live.Agent("r12-u01"); !ok || ar.Report.Identity.SystemSerial != "SN1" || ar.Report.Hostname != "r12-u01.example" {
		t.Errorf("the accepted report is not in the fleet: %+v", ar)
	}
	if code, body := get(t, mux, "/api/agent?server=r12-u01"); code != 200 || !strings.Contains(body, `"system_serial":"SN1"`) || !strings.Contains(body, `"identity":"unknown"`) {
		t.Errorf("/api/agent: %d %s", code, body)
	}
	// A rejection repeated is logged once; the token never is.
	post("r12-u01", "guess", good)
	if n := strings.Count(logs.String(), "bad or missing agent token"); n != 1 {
		t.Errorf("the bad-token rejection was logged %d times, want once", n)
	}
	if strings.Contains(logs.String(), "guess") || strings.Contains(logs.String(), "token-u01") {
		t.Errorf("a token reached the log: %s", logs.String())
	}
}
