package redfish

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rackpulse/rackpulse/bmc"
	"github.com/rackpulse/rackpulse/bmc/sim"
)

// crash drops a collector as kill -9 would: no logout, connections gone.
func crash(c *Collector) { c.httpClient.CloseIdleConnections() }

func readSavedSession(t *testing.T, dir, server string) *savedSession {
	t.Helper()
	st, err := newSessionStore(dir, server).load()
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// After a crash, the next collector takes up the session the BMC still
// holds: no second login, no session left behind.
func TestSessionTakenUpAfterRestart(t *testing.T) {
	h := newHostileBMC(t, nil, nil)
	dir := t.TempDir()
	opts := bmcOpts(t)
	opts.StateDir = dir

	first, _ := newCollector(t, h.ep, opts)
	mustPoll(t, first)
	crash(first)
	file := filepath.Join(dir, "redfish-session-srv-hostile.json")
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatalf("no session state file: %v", err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("session state file mode %v, want 0600", fi.Mode().Perm())
	}
	saved := readSavedSession(t, dir, h.ep.Server)
	if saved == nil || saved.Token == "" || !strings.HasPrefix(saved.URI, sessionsURI+"/") || saved.Origin != "https://"+h.ep.Address {
		t.Fatalf("saved session %+v", saved)
	}

	var mu sync.Mutex
	var traced []bmc.RequestTrace
	opts.Trace = func(tr bmc.RequestTrace) {
		mu.Lock()
		traced = append(traced, tr)
		mu.Unlock()
	}
	second, _ := newCollector(t, h.ep, opts)
	snap := mustPoll(t, second)
	if !snap.Poll.OK() {
		t.Errorf("poll with the saved session: %+v", snap.Poll.Errors)
	}
	if n := second.session.loginCount(); n != 0 {
		t.Errorf("%d logins after a restart with a valid saved session, want 0", n)
	}
	if logins, _ := h.sessionCounts(); logins != 1 || h.sim.ActiveSessions() != 1 {
		t.Errorf("%d logins in all, %d sessions open, want 1 and 1", logins, h.sim.ActiveSessions())
	}
	mu.Lock()
	checked := hasTrace(traced, http.MethodGet, saved.URI, http.StatusOK)
	mu.Unlock() // Close traces its DELETE
	if !checked {
		t.Errorf("the saved session was not checked with a GET")
	}
	if err := second.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if h.sim.ActiveSessions() != 0 {
		t.Errorf("%d sessions after Close", h.sim.ActiveSessions())
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Errorf("session state file still there after Close: %v", err)
	}
}

// A saved session the BMC no longer holds (401) is forgotten, and a new one
// saved in its place.
func TestSavedSessionGoneLogsInAnew(t *testing.T) {
	h := newHostileBMC(t, nil, nil)
	opts := bmcOpts(t)
	opts.StateDir = t.TempDir()
	first, _ := newCollector(t, h.ep, opts)
	mustPoll(t, first)
	crash(first)
	old := readSavedSession(t, opts.StateDir, h.ep.Server)
	h.sim.SetFault(sim.FaultSessionLoss)

	second, _ := newCollector(t, h.ep, opts)
	mustPoll(t, second)
	if n := second.session.loginCount(); n != 1 {
		t.Errorf("%d logins, want 1", n)
	}
	if n := h.sim.ActiveSessions(); n != 1 {
		t.Errorf("%d sessions open, want 1", n)
	}
	if now := readSavedSession(t, opts.StateDir, h.ep.Server); now == nil || now.Token == old.Token {
		t.Errorf("saved session %+v, want the new one", now)
	}
}

// A saved session the BMC answers other than 200 or 401/404 for (here 500)
// is deleted before logging in anew: the BMC keeps one session, not two.
func TestSavedSessionUnusableIsDeleted(t *testing.T) {
	var refuse atomic.Bool
	h := newHostileBMC(t, nil, func(h *hostileBMC, w http.ResponseWriter, r *http.Request) bool {
		if !refuse.Load() || r.Method != http.MethodGet || !strings.HasPrefix(r.URL.Path, sessionsURI+"/") {
			return false
		}
		writeRaw(w, http.StatusInternalServerError, `{"error":{"code":"Base.1.15.InternalError","message":"oops"}}`)
		return true
	})
	opts := bmcOpts(t)
	opts.StateDir = t.TempDir()
	first, _ := newCollector(t, h.ep, opts)
	mustPoll(t, first)
	crash(first)
	refuse.Store(true)

	second, _ := newCollector(t, h.ep, opts)
	mustPoll(t, second)
	if logins, deletes := h.sessionCounts(); logins != 2 || deletes != 1 {
		t.Errorf("%d logins, %d deletions, want 2 and 1", logins, deletes)
	}
	if n := h.sim.ActiveSessions(); n != 1 {
		t.Errorf("%d sessions open, want 1", n)
	}
}

// Whether a saved session is valid is unknown while the BMC does not
// answer: the session stays saved, and is taken up once it does.
func TestSavedSessionKeptWhileBMCSilent(t *testing.T) {
	h := newHostileBMC(t, nil, nil)
	ep := h.ep
	ep.RequestTimeout, ep.PollTimeout = 300*time.Millisecond, 2*time.Second
	opts := bmcOpts(t)
	opts.StateDir = t.TempDir()
	first, _ := newCollector(t, ep, opts)
	mustPoll(t, first)
	crash(first)

	second, _ := newCollector(t, ep, opts)
	h.sim.SetFault(sim.FaultTimeout)
	if _, err := second.Poll(context.Background()); bmc.KindOf(err) != bmc.ErrKindTimeout {
		t.Fatalf("poll of a silent BMC: %v, want timeout", err)
	}
	if readSavedSession(t, opts.StateDir, h.ep.Server) == nil {
		t.Fatal("saved session forgotten while the BMC did not answer")
	}
	h.sim.ClearFault(sim.FaultTimeout)
	mustPoll(t, second)
	if n := second.session.loginCount(); n != 0 {
		t.Errorf("%d logins, want the saved session taken up", n)
	}
}

// A saved session of another BMC address (the inventory moved the server)
// is never sent anywhere: not to the new address, not to the old.
func TestSavedSessionOfAnotherAddressNotSent(t *testing.T) {
	h := newHostileBMC(t, nil, nil)
	opts := bmcOpts(t)
	opts.StateDir = t.TempDir()
	const foreign = "token-of-the-old-bmc"
	b, _ := json.Marshal(savedSession{Version: sessionStateVersion, Server: h.ep.Server, Origin: "https://10.0.0.99:443",
		Username: testUser, URI: sessionsURI + "/7", Token: foreign})
	store := newSessionStore(opts.StateDir, h.ep.Server)
	if err := os.WriteFile(store.path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	c, _ := newCollector(t, h.ep, opts)
	mustPoll(t, c)
	for _, r := range h.requests() {
		if r.token == foreign {
			t.Errorf("the other BMC's token was sent: %v", r)
		}
	}
	if saved := readSavedSession(t, opts.StateDir, h.ep.Server); saved == nil || saved.Token == foreign || saved.Origin != "https://"+h.ep.Address {
		t.Errorf("saved session %+v, want this BMC's new one", saved)
	}
}

// A state file that cannot be read is logged and replaced.
func TestCorruptSessionStateIgnored(t *testing.T) {
	h := newHostileBMC(t, nil, nil)
	opts := bmcOpts(t)
	opts.StateDir = t.TempDir()
	store := newSessionStore(opts.StateDir, h.ep.Server)
	if err := os.WriteFile(store.path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, _ := newCollector(t, h.ep, opts)
	mustPoll(t, c)
	if readSavedSession(t, opts.StateDir, h.ep.Server) == nil {
		t.Error("no session saved after a corrupt state file")
	}
}

func hasTrace(traces []bmc.RequestTrace, method, url string, status int) bool {
	for _, tr := range traces {
		if tr.Method == method && tr.URL == url && tr.Status == status {
			return true
		}
	}
	return false
}
