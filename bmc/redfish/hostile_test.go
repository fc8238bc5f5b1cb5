package redfish

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rackpulse/rackpulse/bmc"
	"github.com/rackpulse/rackpulse/bmc/sim"
)

// The hostile-BMC suite: a BMC on loopback that misbehaves in one way per
// case, in front of a well-behaved simulated BMC, and two other servers
// (HTTPS on another port, plain HTTP) that the hostile BMC redirects to.
// Every case checks that the poll returns, that the failure is named (its
// kind and resource), that nothing reaches the other servers, that every
// session the BMC handed out was deleted, and that memory stays bounded.

const (
	legacyChassis = "/redfish/v1/Chassis/System.Embedded.1"
	legacyPower   = legacyChassis + "/Power"
	legacyThermal = legacyChassis + "/Thermal"
	legacySystems = "/redfish/v1/Systems"
	sessionsURI   = "/redfish/v1/SessionService/Sessions"
	// hostileCap is the response size limit of the suite's endpoints.
	hostileCap = 1 << 20
	// allocBound is the most a case may allocate in all (the collector,
	// the simulator and the hostile servers together): far below the
	// 200 MB a BMC offers in one answer.
	allocBound = 32 << 20
)

// seenRequest is one request a server got, with what it carried.
type seenRequest struct {
	method, uri   string
	token, basic  string
	body          string
	authorization bool
}

func (r seenRequest) String() string {
	return fmt.Sprintf("%s %s token=%q basic=%v body=%q", r.method, r.uri, r.token, r.authorization, r.body)
}

// recorder keeps the requests a server got.
type recorder struct {
	mu   sync.Mutex
	reqs []seenRequest
}

func (rec *recorder) record(r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	r.Body = io.NopCloser(bytes.NewReader(body))
	s := seenRequest{method: r.Method, uri: r.URL.RequestURI(), token: r.Header.Get("X-Auth-Token"), body: string(body)}
	if a := r.Header.Get("Authorization"); a != "" {
		s.authorization, s.basic = true, a
	}
	rec.mu.Lock()
	rec.reqs = append(rec.reqs, s)
	rec.mu.Unlock()
}

func (rec *recorder) requests() []seenRequest {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]seenRequest(nil), rec.reqs...)
}

// elsewhere is a server that is not the BMC: whatever reaches it has left
// the BMC. It answers as a BMC would, so that a collector that followed a
// redirect to it would take its answers (a login, 9999 W) for the BMC's.
type elsewhere struct {
	recorder
	srv *httptest.Server
}

func (e *elsewhere) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e.record(r)
	w.Header().Set("Content-Type", "application/json")
	if r.Method == http.MethodPost {
		w.Header().Set("X-Auth-Token", "token-from-elsewhere")
		w.Header().Set("Location", sessionsURI+"/elsewhere")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"Id":"elsewhere"}`))
		return
	}
	_, _ = fmt.Fprintf(w, `{"@odata.id":%q,"Id":"Power","PowerControl":[{"PowerConsumedWatts":9999}]}`, r.URL.Path)
}

// hostileBMC is the BMC of one case: the simulator's legacy profile (legacy
// Power and Thermal, Basic auth accepted) behind misbehave, which answers
// the requests the case is about itself. It records every request and
// counts the logins it granted (201) and the session deletions asked for.
type hostileBMC struct {
	recorder
	t   *testing.T
	sim *sim.RedfishBMC
	srv *httptest.Server
	ep  bmc.Endpoint
	// misbehave answers a request itself and returns true, or leaves it to
	// the simulator.
	misbehave func(h *hostileBMC, w http.ResponseWriter, r *http.Request) bool

	mu      sync.Mutex
	logins  int
	deletes int
	tokens  []string
}

// newHostileBMC starts a hostile BMC over TLS (with cert, when given, else
// httptest's own) and returns it with an endpoint trusting it.
func newHostileBMC(t *testing.T, cert *tls.Certificate, misbehave func(*hostileBMC, http.ResponseWriter, *http.Request) bool) *hostileBMC {
	t.Helper()
	f, err := sim.NewFleet(sim.FleetOptions{Count: 1, Mix: []sim.ProfileShare{{Profile: sim.ProfileLegacy, Weight: 1}}, Username: testUser, Password: testPassword})
	if err != nil {
		t.Fatal(err)
	}
	h := &hostileBMC{t: t, sim: f.BMCs()[0].Handler(), misbehave: misbehave}
	h.srv = httptest.NewUnstartedServer(h)
	if cert != nil {
		h.srv.TLS = &tls.Config{Certificates: []tls.Certificate{*cert}}
	}
	h.srv.StartTLS()
	t.Cleanup(h.srv.Close)
	caDER := h.srv.Certificate().Raw // the case's certificate, when given
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	h.ep = bmc.Endpoint{
		Server:           "srv-hostile",
		Rack:             "r1",
		Address:          h.srv.Listener.Addr().String(),
		Username:         testUser,
		Password:         bmc.Secret(testPassword),
		TLS:              bmc.TLSConfig{CAFile: caFile},
		RequestTimeout:   2 * time.Second,
		PollTimeout:      5 * time.Second,
		MaxResponseBytes: hostileCap,
		Cadence:          bmc.Cadence{Readings: 30 * time.Second, Slow: 5 * time.Minute, Static: time.Hour},
	}
	return h
}

func (h *hostileBMC) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.record(r)
	if h.misbehave != nil && h.misbehave(h, w, r) {
		return
	}
	switch {
	case r.Method == http.MethodPost && r.URL.Path == sessionsURI:
		h.login(w, r, false)
	case r.Method == http.MethodDelete && strings.HasPrefix(r.URL.Path, sessionsURI+"/"):
		h.mu.Lock()
		h.deletes++
		h.mu.Unlock()
		h.sim.ServeHTTP(w, r)
	default:
		h.sim.ServeHTTP(w, r)
	}
}

// login passes a login to the simulator and counts it; withoutToken drops
// the X-Auth-Token from a granted one (the session stays open on the
// simulator).
func (h *hostileBMC) login(w http.ResponseWriter, r *http.Request, withoutToken bool) {
	rec := httptest.NewRecorder()
	h.sim.ServeHTTP(rec, r)
	if rec.Code == http.StatusCreated {
		h.mu.Lock()
		h.logins++
		h.tokens = append(h.tokens, rec.Header().Get("X-Auth-Token"))
		h.mu.Unlock()
	}
	for k, v := range rec.Header() {
		if withoutToken && k == "X-Auth-Token" {
			continue
		}
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

// edited answers r with the simulator's answer, its JSON body edited.
func (h *hostileBMC) edited(w http.ResponseWriter, r *http.Request, edit func(obj map[string]any)) {
	rec := httptest.NewRecorder()
	h.sim.ServeHTTP(rec, r)
	var obj map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &obj); err != nil {
		h.t.Errorf("simulator answer to %s: %v", r.URL, err)
	}
	edit(obj)
	b, _ := json.Marshal(obj)
	writeRaw(w, http.StatusOK, string(b))
}

// replaced answers r with the simulator's answer, the first match of the
// regular expression old in its text replaced by new (for what JSON cannot
// carry), and returns what was replaced.
func (h *hostileBMC) replaced(w http.ResponseWriter, r *http.Request, old, new string) string {
	rec := httptest.NewRecorder()
	h.sim.ServeHTTP(rec, r)
	re := regexp.MustCompile(old)
	loc := re.FindStringIndex(rec.Body.String())
	if loc == nil {
		h.t.Errorf("simulator answer to %s has no %s", r.URL, old)
		writeRaw(w, rec.Code, rec.Body.String())
		return ""
	}
	body := rec.Body.String()
	writeRaw(w, http.StatusOK, body[:loc[0]]+new+body[loc[1]:])
	return body[loc[0]:loc[1]]
}

// consumedWatts matches the legacy PowerControl reading.
const consumedWatts = `"PowerConsumedWatts":[-+0-9.eE]+`

func writeRaw(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

func (h *hostileBMC) sessionCounts() (logins, deletes int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.logins, h.deletes
}

// hostileCase is one misbehaviour and what the collector must say of it.
type hostileCase struct {
	name string
	// cert, when set, is the certificate the BMC presents.
	cert *tls.Certificate
	// misbehave is the BMC's misbehaviour; the other servers are there to
	// be redirected to.
	misbehave func(h *hostileBMC, other, plain *elsewhere, w http.ResponseWriter, r *http.Request) bool
	endpoint  func(ep *bmc.Endpoint)
	polls     int
	// kind and resource name the failure every poll must report (as its
	// error or a part error), when set.
	kind     bmc.ErrorKind
	resource string
	// check looks at what the polls returned.
	check func(t *testing.T, h *hostileBMC, snaps []*bmc.Snapshot, errs []error)
}

func TestHostileBMC(t *testing.T) {
	wrongHost := wrongHostCert(t)
	cases := []hostileCase{
		{
			name: "invalid JSON",
			misbehave: func(h *hostileBMC, _, _ *elsewhere, w http.ResponseWriter, r *http.Request) bool {
				if r.URL.Path != legacyPower {
					return false
				}
				writeRaw(w, http.StatusOK, `{"PowerControl": [{"PowerConsumedWatts": 233.8,`)
				return true
			},
			kind: bmc.ErrKindMalformed, resource: legacyPower,
			check: wantReadings,
		},
		{
			name: "200 MB body",
			misbehave: func(h *hostileBMC, _, _ *elsewhere, w http.ResponseWriter, r *http.Request) bool {
				if r.URL.Path != legacyThermal {
					return false
				}
				w.Header().Set("Content-Type", "application/json")
				_, _ = io.WriteString(w, `{"Temperatures":[`)
				chunk := bytes.Repeat([]byte(`{"Name":"x","ReadingCelsius":20},`), 1000)
				for sent := 0; sent < 200<<20; sent += len(chunk) {
					if _, err := w.Write(chunk); err != nil {
						return true
					}
				}
				_, _ = io.WriteString(w, `{}]}`)
				return true
			},
			kind: bmc.ErrKindTooLarge, resource: legacyThermal,
			check: wantReadings,
		},
		{
			name: "1 byte a second",
			misbehave: func(h *hostileBMC, _, _ *elsewhere, w http.ResponseWriter, r *http.Request) bool {
				if r.URL.Path != legacyPower {
					return false
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusOK)
				for _, b := range []byte(`{"PowerControl":[{"PowerConsumedWatts":1}]}`) {
					_, _ = w.Write([]byte{b})
					w.(http.Flusher).Flush()
					select {
					case <-time.After(time.Second):
					case <-r.Context().Done():
						return true
					}
				}
				return true
			},
			endpoint: func(ep *bmc.Endpoint) { ep.RequestTimeout, ep.PollTimeout = time.Second, 3*time.Second },
			kind:     bmc.ErrKindTimeout, resource: legacyPower,
			check: wantReadings,
		},
		{
			name: "redirect loop",
			misbehave: func(h *hostileBMC, _, _ *elsewhere, w http.ResponseWriter, r *http.Request) bool {
				if r.URL.Path != legacyPower {
					return false
				}
				http.Redirect(w, r, legacyPower, http.StatusFound)
				return true
			},
			kind: bmc.ErrKindRedirect, resource: legacyPower,
			check: func(t *testing.T, h *hostileBMC, snaps []*bmc.Snapshot, errs []error) {
				wantReadings(t, h, snaps, errs)
				if n := countRequests(h.requests(), http.MethodGet, legacyPower); n != 1+maxRedirects {
					t.Errorf("%d requests for a resource redirecting to itself, want %d (the request and %d redirects)", n, 1+maxRedirects, maxRedirects)
				}
			},
		},
		{
			name: "Power redirected to another port",
			misbehave: func(h *hostileBMC, other, _ *elsewhere, w http.ResponseWriter, r *http.Request) bool {
				if r.URL.Path != legacyPower {
					return false
				}
				http.Redirect(w, r, other.srv.URL+r.URL.RequestURI(), http.StatusFound)
				return true
			},
			kind: bmc.ErrKindRedirect, resource: legacyPower,
			check: func(t *testing.T, h *hostileBMC, snaps []*bmc.Snapshot, errs []error) {
				wantReadings(t, h, snaps, errs)
				for _, p := range snaps[0].Power {
					if p.Watts == 9999 {
						t.Errorf("the other server's answer was taken for the BMC's: %+v", p)
					}
				}
			},
		},
		{
			name: "Power redirected to http",
			misbehave: func(h *hostileBMC, _, plain *elsewhere, w http.ResponseWriter, r *http.Request) bool {
				if r.URL.Path != legacyPower {
					return false
				}
				http.Redirect(w, r, plain.srv.URL+r.URL.RequestURI(), http.StatusTemporaryRedirect)
				return true
			},
			kind: bmc.ErrKindRedirect, resource: legacyPower,
			check: wantReadings,
		},
		{
			name: "login redirected to another port",
			misbehave: func(h *hostileBMC, other, _ *elsewhere, w http.ResponseWriter, r *http.Request) bool {
				if r.Method != http.MethodPost {
					return false
				}
				http.Redirect(w, r, other.srv.URL+sessionsURI, http.StatusTemporaryRedirect)
				return true
			},
			kind: bmc.ErrKindRedirect, resource: sessionsURI,
		},
		{
			name: "login redirected to http",
			misbehave: func(h *hostileBMC, _, plain *elsewhere, w http.ResponseWriter, r *http.Request) bool {
				if r.Method != http.MethodPost {
					return false
				}
				http.Redirect(w, r, plain.srv.URL+sessionsURI, http.StatusPermanentRedirect)
				return true
			},
			kind: bmc.ErrKindRedirect, resource: sessionsURI,
		},
		{
			name: "member link to another host",
			misbehave: func(h *hostileBMC, other, _ *elsewhere, w http.ResponseWriter, r *http.Request) bool {
				if r.URL.Path != "/redfish/v1/Chassis" {
					return false
				}
				// Appended to the BMC's address, "@host:port/..." would make
				// the BMC's address the user info of a URL to host:port.
				h.edited(w, r, func(obj map[string]any) {
					obj["Members"] = []any{map[string]any{"@odata.id": "@" + other.srv.Listener.Addr().String() + legacyChassis}}
				})
				return true
			},
			kind: bmc.ErrKindMalformed, resource: "@127.0.0.1",
		},
		{
			name: "member link naming another host in full",
			misbehave: func(h *hostileBMC, other, _ *elsewhere, w http.ResponseWriter, r *http.Request) bool {
				if r.URL.Path != "/redfish/v1/Chassis" {
					return false
				}
				// A full URL is read at the BMC, by its path.
				h.edited(w, r, func(obj map[string]any) {
					obj["Members"] = []any{map[string]any{"@odata.id": other.srv.URL + legacyChassis}}
				})
				return true
			},
			check: func(t *testing.T, h *hostileBMC, snaps []*bmc.Snapshot, errs []error) {
				wantReadings(t, h, snaps, errs)
				if len(snaps[0].Chassis) != 1 || len(snaps[0].Poll.Errors) != 0 {
					t.Errorf("chassis %+v, errors %+v: want the chassis read from the BMC", snaps[0].Chassis, snaps[0].Poll.Errors)
				}
			},
		},
		{
			name: "endless nextLink",
			misbehave: func(h *hostileBMC, _, _ *elsewhere, w http.ResponseWriter, r *http.Request) bool {
				if r.URL.Path != legacySystems {
					return false
				}
				page := 1
				_, _ = fmt.Sscan(r.URL.Query().Get("page"), &page)
				h.edited(w, r, func(obj map[string]any) {
					if page > 1 {
						obj["Members"] = []any{}
					}
					obj["Members@odata.nextLink"] = fmt.Sprintf("%s?page=%d", legacySystems, page+1)
				})
				return true
			},
			kind: bmc.ErrKindTooLarge, resource: legacySystems,
			check: func(t *testing.T, h *hostileBMC, snaps []*bmc.Snapshot, errs []error) {
				wantReadings(t, h, snaps, errs)
				if len(snaps[0].Systems) != 1 {
					t.Errorf("%d systems, want the one of the first page", len(snaps[0].Systems))
				}
				if n := countRequests(h.requests(), http.MethodGet, legacySystems); n > maxCollectionPages*len(snaps) {
					t.Errorf("%d pages of the Systems collection requested in %d polls, want at most %d a poll", n, len(snaps), maxCollectionPages)
				}
				if got := snaps[0].Poll.NextPages; got != maxCollectionPages-1 {
					t.Errorf("poll report counts %d next pages, want the %d after the first", got, maxCollectionPages-1)
				}
			},
		},
		{
			name: "nextLink loop",
			misbehave: func(h *hostileBMC, _, _ *elsewhere, w http.ResponseWriter, r *http.Request) bool {
				if r.URL.Path != legacySystems {
					return false
				}
				h.edited(w, r, func(obj map[string]any) { obj["Members@odata.nextLink"] = legacySystems + "?page=2" })
				return true
			},
			kind: bmc.ErrKindMalformed, resource: legacySystems,
			check: func(t *testing.T, h *hostileBMC, snaps []*bmc.Snapshot, errs []error) {
				wantReadings(t, h, snaps, errs)
				if n := countRequests(h.requests(), http.MethodGet, legacySystems); n != 2*len(snaps) {
					t.Errorf("%d pages of the Systems collection requested in %d polls, want 2 a poll", n, len(snaps))
				}
			},
		},
		{
			name: "session created without a token",
			misbehave: func(h *hostileBMC, _, _ *elsewhere, w http.ResponseWriter, r *http.Request) bool {
				if r.Method != http.MethodPost || r.URL.Path != sessionsURI {
					return false
				}
				h.login(w, r, true)
				return true
			},
			polls: 3,
			kind:  bmc.ErrKindAuth, resource: sessionsURI,
			check: func(t *testing.T, h *hostileBMC, _ []*bmc.Snapshot, _ []error) {
				if logins, _ := h.sessionCounts(); logins != 3 {
					t.Errorf("%d logins in 3 polls, want 3", logins)
				}
				// Deleted before Close: the collector holds no session.
				if n := h.sim.ActiveSessions(); n != 0 {
					t.Errorf("%d sessions open on the BMC after the polls, want 0", n)
				}
			},
		},
		{
			name: "401 on login",
			misbehave: func(h *hostileBMC, _, _ *elsewhere, w http.ResponseWriter, r *http.Request) bool {
				if r.Method != http.MethodPost {
					return false
				}
				writeRaw(w, http.StatusUnauthorized, `{"error":{"code":"Base.1.15.GeneralError","message":"Invalid credentials."}}`)
				return true
			},
			polls: 2,
			kind:  bmc.ErrKindAuth, resource: sessionsURI,
		},
		{
			name: "401 on every request",
			misbehave: func(h *hostileBMC, _, _ *elsewhere, w http.ResponseWriter, r *http.Request) bool {
				if r.Method != http.MethodGet || r.URL.Path == "/redfish/v1/" || r.URL.Path == "/redfish/v1" {
					return false
				}
				writeRaw(w, http.StatusUnauthorized, `{"error":{"code":"Base.1.15.NoValidSession","message":"There is no valid session established with the implementation."}}`)
				return true
			},
			polls: 3,
			kind:  bmc.ErrKindAuth, resource: legacySystems,
			check: func(t *testing.T, h *hostileBMC, _ []*bmc.Snapshot, _ []error) {
				// One login, and one renewal a poll: not one per request.
				if logins, _ := h.sessionCounts(); logins > 1+3 {
					t.Errorf("%d logins in 3 polls of a BMC refusing every request, want at most 4", logins)
				}
			},
		},
		{
			name: "503 with Retry-After",
			misbehave: func(h *hostileBMC, _, _ *elsewhere, w http.ResponseWriter, r *http.Request) bool {
				if r.URL.Path != legacySystems {
					return false
				}
				w.Header().Set("Retry-After", "120")
				writeRaw(w, http.StatusServiceUnavailable, `{"error":{"code":"Base.1.15.ServiceTemporarilyUnavailable","message":"Busy."}}`)
				return true
			},
			polls: 3, // 30 s apart: the second and third fall inside the 120 s asked for
			kind:  bmc.ErrKindBusy, resource: legacySystems,
			check: func(t *testing.T, h *hostileBMC, _ []*bmc.Snapshot, _ []error) {
				if n := countRequests(h.requests(), http.MethodGet, legacySystems); n != 1 {
					t.Errorf("%d requests for Systems in 60 s after a Retry-After of 120 s, want 1", n)
				}
			},
		},
		{
			name: "certificate for another host",
			cert: wrongHost,
			kind: bmc.ErrKindTLS, resource: rootURI,
			check: func(t *testing.T, h *hostileBMC, _ []*bmc.Snapshot, _ []error) {
				if reqs := h.requests(); len(reqs) != 0 {
					t.Errorf("requests reached a BMC whose certificate names another host: %v", reqs)
				}
			},
		},
		{
			name: "numbers as strings",
			misbehave: func(h *hostileBMC, _, _ *elsewhere, w http.ResponseWriter, r *http.Request) bool {
				if r.URL.Path != legacyPower {
					return false
				}
				h.replaced(w, r, consumedWatts, `"PowerConsumedWatts":"1234.5"`)
				return true
			},
			check: func(t *testing.T, h *hostileBMC, snaps []*bmc.Snapshot, errs []error) {
				wantReadings(t, h, snaps, errs)
				if !hasQuirk(snaps[0], legacyPower, "PowerConsumedWatts") {
					t.Errorf("no quirk names the number published as a string: %+v", snaps[0].Poll.Quirks)
				}
				if p := findPower(snaps[0], "System.Embedded.1", bmc.PowerFromPowerControl); p == nil || p.Watts != 1234.5 {
					t.Errorf("PowerControl reading %+v, want 1234.5 W", p)
				}
			},
		},
		{
			name: "NaN literal",
			misbehave: func(h *hostileBMC, _, _ *elsewhere, w http.ResponseWriter, r *http.Request) bool {
				if r.URL.Path != legacyPower {
					return false
				}
				h.replaced(w, r, consumedWatts, `"PowerConsumedWatts":NaN`)
				return true
			},
			kind: bmc.ErrKindMalformed, resource: legacyPower,
			check: wantReadings,
		},
		{
			name: "NaN as a string",
			misbehave: func(h *hostileBMC, _, _ *elsewhere, w http.ResponseWriter, r *http.Request) bool {
				if r.URL.Path != legacyPower {
					return false
				}
				h.replaced(w, r, consumedWatts, `"PowerConsumedWatts":"NaN"`)
				return true
			},
			check: func(t *testing.T, h *hostileBMC, snaps []*bmc.Snapshot, errs []error) {
				wantReadings(t, h, snaps, errs)
				if !hasQuirk(snaps[0], legacyPower, "PowerConsumedWatts") {
					t.Errorf("no quirk names the NaN left out: %+v", snaps[0].Poll.Quirks)
				}
			},
		},
		{
			name: "1e308 and negative readings",
			misbehave: func(h *hostileBMC, _, _ *elsewhere, w http.ResponseWriter, r *http.Request) bool {
				switch r.URL.Path {
				case legacyPower:
					h.replaced(w, r, consumedWatts, `"PowerConsumedWatts":-500`)
				case legacyThermal:
					h.edited(w, r, func(obj map[string]any) {
						temps := obj["Temperatures"].([]any)
						temps[0].(map[string]any)["ReadingCelsius"] = 1e308
					})
				default:
					return false
				}
				return true
			},
			check: func(t *testing.T, h *hostileBMC, snaps []*bmc.Snapshot, errs []error) {
				// Plausibility is package bmc's business: here the collector
				// only has to survive and name where each value came from.
				wantReadings(t, h, snaps, errs)
				p := findPower(snaps[0], "System.Embedded.1", bmc.PowerFromPowerControl)
				if p == nil || p.Resource == "" || p.Watts != -500 {
					t.Errorf("the PowerControl reading is not named: %+v", snaps[0].Power)
				}
				named := false
				for _, s := range snaps[0].Sensors {
					if s.Value != nil && *s.Value == 1e308 && s.Name != "" && s.Source != "" {
						named = true
					}
				}
				if !named {
					t.Errorf("no named sensor carries the 1e308 reading: %+v", snaps[0].Sensors)
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { runHostileCase(t, tc) })
	}
}

// runHostileCase polls the case's BMC, closes the collector, and makes the
// checks every case shares.
func runHostileCase(t *testing.T, tc hostileCase) {
	other := &elsewhere{}
	other.srv = httptest.NewTLSServer(other)
	t.Cleanup(other.srv.Close)
	plain := &elsewhere{}
	plain.srv = httptest.NewServer(plain)
	t.Cleanup(plain.srv.Close)

	var misbehave func(*hostileBMC, http.ResponseWriter, *http.Request) bool
	if tc.misbehave != nil {
		misbehave = func(h *hostileBMC, w http.ResponseWriter, r *http.Request) bool {
			return tc.misbehave(h, other, plain, w, r)
		}
	}
	h := newHostileBMC(t, tc.cert, misbehave)
	ep := h.ep
	if tc.endpoint != nil {
		tc.endpoint(&ep)
	}
	var tracesMu sync.Mutex
	var traces []bmc.RequestTrace
	opts := bmcOpts(t)
	opts.StateDir = t.TempDir()
	opts.Trace = func(tr bmc.RequestTrace) {
		tracesMu.Lock()
		traces = append(traces, tr)
		tracesMu.Unlock()
	}
	c, clock := newCollector(t, ep, opts)

	polls := max(tc.polls, 1)
	var snaps []*bmc.Snapshot
	var errs []error
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range polls {
		start := time.Now()
		snap, err := c.Poll(context.Background())
		// A liveness bound far above the poll timeout (a poll that ends
		// only when the BMC lets go), not a measure of speed.
		if took := time.Since(start); took > ep.PollTimeout+time.Minute {
			t.Errorf("poll %d took %s, a minute past the poll timeout %s", i+1, took, ep.PollTimeout)
		}
		snaps, errs = append(snaps, snap), append(errs, err)
		if tc.kind != "" && !failureNamed(err, snap, tc.kind, tc.resource) {
			t.Errorf("poll %d: no %s failure naming %s; error %v, part errors %+v", i+1, tc.kind, tc.resource, err, partErrorsOf(snap))
		}
		clock.advance(ep.Cadence.Readings)
	}
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > allocBound {
		t.Errorf("the polls allocated %d MiB, want at most %d MiB", n>>20, allocBound>>20)
	}
	if tc.check != nil {
		tc.check(t, h, snaps, errs)
	}
	if err := c.Close(context.Background()); err != nil {
		t.Logf("Close: %v", err)
	}

	// Nothing reached any other origin: no credential, no token, no body.
	for _, e := range []*elsewhere{other, plain} {
		if reqs := e.requests(); len(reqs) != 0 {
			t.Errorf("requests reached %s, which is not the BMC: %v", e.srv.URL, reqs)
		}
	}
	// No session is left open: every login granted was deleted.
	logins, deletes := h.sessionCounts()
	if deletes < logins {
		t.Errorf("%d logins granted, %d session deletions asked for", logins, deletes)
	}
	if n := h.sim.ActiveSessions(); n != 0 {
		t.Errorf("%d sessions left open on the BMC after Close", n)
	}
	if entries, _ := os.ReadDir(opts.StateDir); hasSessionFile(entries) {
		t.Errorf("a session state file is left after Close: %v", entries)
	}
	// No response body was read past the size limit.
	tracesMu.Lock()
	for _, tr := range traces {
		if tr.Bytes > ep.MaxResponseBytes {
			t.Errorf("read %d bytes of %s, past the limit %d", tr.Bytes, tr.URL, ep.MaxResponseBytes)
		}
	}
	tracesMu.Unlock()
	// Neither the password nor a token is in an error.
	h.mu.Lock()
	secrets := append([]string{testPassword}, h.tokens...)
	h.mu.Unlock()
	for i, err := range errs {
		texts := []string{}
		if err != nil {
			texts = append(texts, err.Error())
		}
		for _, pe := range partErrorsOf(snaps[i]) {
			texts = append(texts, pe.Message)
		}
		for _, text := range texts {
			for _, s := range secrets {
				if s != "" && strings.Contains(text, s) {
					t.Errorf("an error of poll %d shows a credential: %s", i+1, text)
				}
			}
		}
	}
}

// wantReadings: every poll read a Snapshot with readings in it, the
// misbehaving resource costing only its part.
func wantReadings(t *testing.T, _ *hostileBMC, snaps []*bmc.Snapshot, errs []error) {
	t.Helper()
	for i, snap := range snaps {
		if errs[i] != nil || snap == nil {
			t.Fatalf("poll %d: %v, want a Snapshot", i+1, errs[i])
		}
		if len(snap.Systems) == 0 || len(snap.DIMMs) == 0 {
			t.Errorf("poll %d read %d systems, %d DIMMs: the other parts must stand", i+1, len(snap.Systems), len(snap.DIMMs))
		}
	}
}

// failureNamed reports whether a poll reported a failure of kind naming
// resource: as its error, or as one of its part errors.
func failureNamed(err error, snap *bmc.Snapshot, kind bmc.ErrorKind, resource string) bool {
	var be *bmc.Error
	if errors.As(err, &be) && be.Kind == kind && strings.Contains(be.Resource, resource) {
		return true
	}
	for _, pe := range partErrorsOf(snap) {
		if pe.Kind == kind && strings.Contains(pe.Resource, resource) {
			return true
		}
	}
	return false
}

func partErrorsOf(snap *bmc.Snapshot) []bmc.PartError {
	if snap == nil {
		return nil
	}
	return snap.Poll.Errors
}

func hasQuirk(snap *bmc.Snapshot, resource, property string) bool {
	for _, q := range snap.Poll.Quirks {
		if strings.Contains(q.Resource, resource) && strings.Contains(q.Property, property) {
			return true
		}
	}
	return false
}

func countRequests(reqs []seenRequest, method, path string) int {
	n := 0
	for _, r := range reqs {
		if r.method == method && strings.SplitN(r.uri, "?", 2)[0] == path {
			n++
		}
	}
	return n
}

func hasSessionFile(entries []os.DirEntry) bool {
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "redfish-session-") {
			return true
		}
	}
	return false
}

// wrongHostCert is a self-signed certificate for bmc.wrong.example only:
// trusted (it is its own CA file) but not for 127.0.0.1.
func wrongHostCert(t *testing.T) *tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "bmc.wrong.example"},
		DNSNames:              []string{"bmc.wrong.example"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// A hostile BMC and a well-behaved one polled at once: the well-behaved
// one reads in full while the hostile one is still stuck in its Power
// answer (held open until the test lets it go, whatever the machine's
// speed), and the hostile one's failures are named once it ends.
func TestHostileBMCBesideAWellBehavedOne(t *testing.T) {
	release := make(chan struct{})
	stuck := make(chan struct{}, 1)
	h := newHostileBMC(t, nil, func(h *hostileBMC, w http.ResponseWriter, r *http.Request) bool {
		switch {
		case r.URL.Path == legacySystems:
			page := 1
			_, _ = fmt.Sscan(r.URL.Query().Get("page"), &page)
			h.edited(w, r, func(obj map[string]any) {
				obj["Members@odata.nextLink"] = fmt.Sprintf("%s?page=%d", legacySystems, page+1)
			})
		case r.URL.Path == legacyPower:
			// A byte, then nothing until released: then the body ends,
			// not JSON.
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte(" "))
			w.(http.Flusher).Flush()
			select {
			case stuck <- struct{}{}:
			default:
			}
			select {
			case <-release:
			case <-r.Context().Done():
			}
		default:
			return false
		}
		return true
	})
	hep := h.ep
	// Limits far beyond the test: the hostile poll ends when released.
	hep.RequestTimeout, hep.PollTimeout = 2*time.Minute, 4*time.Minute
	hostile, _ := newCollector(t, hep, bmcOpts(t))

	f, err := sim.NewFleet(sim.FleetOptions{Count: 1, Username: testUser, Password: testPassword})
	if err != nil {
		t.Fatal(err)
	}
	good := f.BMCs()[0].Handler()
	_, gep := tlsServer(t, good)
	gep.Server = "srv-good"
	well, _ := newCollector(t, gep, bmcOpts(t))
	alone := mustPoll(t, well)

	var hostileErr error
	var hostileSnap *bmc.Snapshot
	hostileDone := make(chan struct{})
	go func() {
		defer close(hostileDone)
		hostileSnap, hostileErr = hostile.Poll(context.Background())
	}()
	<-stuck // the hostile poll is inside its Power answer
	goodSnap, err := well.Poll(context.Background())
	if err != nil {
		t.Errorf("well-behaved BMC: %v", err)
	}
	select {
	case <-hostileDone:
		t.Fatal("the hostile poll ended before it was released: the test proves nothing")
	default:
	}
	if goodSnap == nil || !goodSnap.Poll.OK() || len(goodSnap.Sensors) != len(alone.Sensors) || len(goodSnap.PSUs) != len(alone.PSUs) {
		t.Fatalf("well-behaved BMC beside a hostile one: %+v", goodSnap)
	}
	close(release)
	<-hostileDone
	if hostileErr != nil || !failureNamed(nil, hostileSnap, bmc.ErrKindMalformed, legacyPower) || !failureNamed(nil, hostileSnap, bmc.ErrKindTooLarge, legacySystems) {
		t.Errorf("hostile BMC: error %v, part errors %+v; want the broken Power and the endless collection named", hostileErr, partErrorsOf(hostileSnap))
	}
	for _, c := range []*Collector{hostile, well} {
		if err := c.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
	}
	if h.sim.ActiveSessions() != 0 || good.ActiveSessions() != 0 {
		t.Errorf("sessions left: hostile %d, well-behaved %d", h.sim.ActiveSessions(), good.ActiveSessions())
	}
}
