package redfish

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rackpulse/rackpulse/bmc"
	"github.com/rackpulse/rackpulse/bmc/sim"
)

func TestOneSessionAcrossPollsAndNoneAfterClose(t *testing.T) {
	b, ep := simBMC(t, loadMockup(t, "public-rackmount1"), sim.RedfishOptions{MaxSessions: 2})
	c, clock := newCollector(t, ep, bmcOpts(t))
	for range 3 {
		mustPoll(t, c)
		if n := b.ActiveSessions(); n != 1 {
			t.Fatalf("%d active sessions, want 1", n)
		}
		clock.advance(ep.Cadence.Readings)
	}
	if n := c.session.loginCount(); n != 1 {
		t.Errorf("%d logins over 3 polls, want 1", n)
	}
	if err := c.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if n := b.ActiveSessions(); n != 0 {
		t.Errorf("%d sessions after Close, want 0", n)
	}
	if err := c.Close(context.Background()); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestSessionRecreatedAfterLoss(t *testing.T) {
	b, ep := simBMC(t, loadMockup(t, "public-rackmount1"), sim.RedfishOptions{})
	c, clock := newCollector(t, ep, bmcOpts(t))
	mustPoll(t, c)
	b.SetFault(sim.FaultSessionLoss)
	clock.advance(ep.Cadence.Readings)
	snap := mustPoll(t, c)
	if len(snap.Poll.Errors) != 0 {
		t.Errorf("poll after session loss has errors: %+v", snap.Poll.Errors)
	}
	if len(snap.Sensors) == 0 || len(snap.PSUs) == 0 {
		t.Errorf("poll after session loss read %d sensors, %d PSUs", len(snap.Sensors), len(snap.PSUs))
	}
	if n := c.session.loginCount(); n != 2 {
		t.Errorf("%d logins, want 2", n)
	}
	if n := b.ActiveSessions(); n != 1 {
		t.Errorf("%d active sessions, want 1", n)
	}
}

func TestSessionLimitBacksOff(t *testing.T) {
	tree := loadMockup(t, "public-rackmount1")
	b, ep := simBMC(t, tree, sim.RedfishOptions{MaxSessions: 1})
	// Someone else holds the only session.
	other, _ := newCollector(t, ep, bmcOpts(t))
	mustPoll(t, other)

	c, clock := newCollector(t, ep, bmcOpts(t))
	_, err := c.Poll(context.Background())
	if bmc.KindOf(err) != bmc.ErrKindSessionLimit {
		t.Fatalf("Poll error = %v (kind %s), want session_limit", err, bmc.KindOf(err))
	}
	if strings.Contains(err.Error(), testPassword) {
		t.Errorf("error leaks the password: %v", err)
	}
	// Within the backoff (the readings interval) no login is attempted.
	for range 3 {
		clock.advance(ep.Cadence.Readings / 4)
		if _, err := c.Poll(context.Background()); bmc.KindOf(err) != bmc.ErrKindSessionLimit {
			t.Fatalf("Poll during backoff: %v", err)
		}
	}
	if n := c.session.loginCount(); n != 1 {
		t.Fatalf("%d logins during backoff, want 1", n)
	}
	// After it one attempt, refused again: the backoff doubles.
	clock.advance(ep.Cadence.Readings)
	_, _ = c.Poll(context.Background())
	if n := c.session.loginCount(); n != 2 {
		t.Fatalf("%d logins after backoff, want 2", n)
	}
	clock.advance(ep.Cadence.Readings + time.Second)
	_, _ = c.Poll(context.Background())
	if n := c.session.loginCount(); n != 2 {
		t.Errorf("%d logins before the doubled backoff ran out, want 2", n)
	}
	// The slot frees up: the next attempt after the backoff succeeds.
	if err := other.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	clock.advance(2 * ep.Cadence.Readings)
	mustPoll(t, c)
	if n := b.ActiveSessions(); n != 1 {
		t.Errorf("%d active sessions, want 1", n)
	}
}

func TestWrongPasswordIsAuthError(t *testing.T) {
	_, ep := simBMC(t, loadMockup(t, "public-rackmount1"), sim.RedfishOptions{})
	ep.Password = "wrong-password"
	c, _ := newCollector(t, ep, bmcOpts(t))
	_, err := c.Poll(context.Background())
	if bmc.KindOf(err) != bmc.ErrKindAuth {
		t.Fatalf("Poll error = %v, want auth", err)
	}
	if strings.Contains(err.Error(), "wrong-password") {
		t.Errorf("error leaks the password: %v", err)
	}
}

func TestBasicAuthWithoutSessionService(t *testing.T) {
	b, ep := simBMC(t, loadMockup(t, "public-rackmount1"), sim.RedfishOptions{NoSessions: true})
	c, _ := newCollector(t, ep, bmcOpts(t))
	snap := mustPoll(t, c)
	if len(snap.Sensors) == 0 || len(snap.Poll.Errors) != 0 {
		t.Errorf("basic-auth poll: %d sensors, errors %+v", len(snap.Sensors), snap.Poll.Errors)
	}
	if n := b.ActiveSessions(); n != 0 {
		t.Errorf("%d sessions on a service without sessions", n)
	}
}

func TestTimeoutIsReported(t *testing.T) {
	b, ep := simBMC(t, loadMockup(t, "public-rackmount1"), sim.RedfishOptions{})
	ep.RequestTimeout = 300 * time.Millisecond
	ep.PollTimeout = 2 * time.Second
	c, _ := newCollector(t, ep, bmcOpts(t))
	b.SetFault(sim.FaultTimeout)
	_, err := c.Poll(context.Background())
	if bmc.KindOf(err) != bmc.ErrKindTimeout {
		t.Fatalf("Poll error = %v (kind %s), want timeout", err, bmc.KindOf(err))
	}
}

// failingPaths answers 500 for requests whose path contains one of the
// given fragments and passes everything else to the simulator.
func failingPaths(next http.Handler, status int, fragments ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, f := range fragments {
			if strings.Contains(r.URL.Path, f) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(status)
				_, _ = w.Write([]byte(`{"error":{"code":"Base.1.15.InternalError","message":"The request failed due to an internal service error."}}`))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func TestServerErrorCostsOnlyItsPart(t *testing.T) {
	b := sim.NewRedfishBMC(loadMockup(t, "public-rackmount1"), sim.RedfishOptions{Username: testUser, Password: testPassword})
	_, ep := tlsServer(t, failingPaths(b, http.StatusInternalServerError, "/Chassis/1U/Sensors"))
	c, _ := newCollector(t, ep, bmcOpts(t))
	snap := mustPoll(t, c)
	errs := partErrors(snap, bmc.PartSensors)
	if len(errs) != 1 || errs[0].Kind != bmc.ErrKindServer || !strings.Contains(errs[0].Resource, "/Chassis/1U/Sensors") {
		t.Fatalf("sensors part errors = %+v, want one server_error", errs)
	}
	if len(snap.PSUs) != 2 || len(snap.DIMMs) != 4 || len(snap.Systems) != 1 || findPower(snap, "1U", bmc.PowerFromPowerControl) == nil {
		t.Errorf("other parts must stand: %d PSUs, %d DIMMs, %d systems, power %+v", len(snap.PSUs), len(snap.DIMMs), len(snap.Systems), snap.Power)
	}
}

func TestServerErrorEverywhereFailsThePoll(t *testing.T) {
	b, ep := simBMC(t, loadMockup(t, "public-rackmount1"), sim.RedfishOptions{})
	c, clock := newCollector(t, ep, bmcOpts(t))
	mustPoll(t, c)
	b.SetFault(sim.FaultServerError)
	clock.advance(ep.Cadence.Readings)
	_, err := c.Poll(context.Background())
	if k := bmc.KindOf(err); k != bmc.ErrKindServer {
		t.Fatalf("Poll error = %v (kind %s), want server_error", err, k)
	}
}

func TestBusyStopsThePoll(t *testing.T) {
	b, ep := simBMC(t, loadMockup(t, "public-rackmount1"), sim.RedfishOptions{})
	c, clock := newCollector(t, ep, bmcOpts(t))
	mustPoll(t, c)
	b.SetFault(sim.FaultBusy)
	clock.advance(ep.Cadence.Readings)
	before := b.Requests()
	_, err := c.Poll(context.Background())
	if k := bmc.KindOf(err); k != bmc.ErrKindBusy {
		t.Fatalf("Poll error = %v (kind %s), want busy", err, k)
	}
	// The first 503 stops the poll; the rest is not requested.
	if n := b.Requests() - before; n > 2 {
		t.Errorf("%d requests sent to a busy BMC in one poll, want at most 2", n)
	}
}

func TestMalformedJSONCostsOnlyReadings(t *testing.T) {
	b, ep := simBMC(t, loadMockup(t, "public-rackmount1"), sim.RedfishOptions{})
	c, _ := newCollector(t, ep, bmcOpts(t))
	b.SetFault(sim.FaultMalformedJSON)
	snap := mustPoll(t, c)
	if len(snap.Poll.Errors) == 0 {
		t.Fatal("no part errors under malformed JSON")
	}
	for _, e := range snap.Poll.Errors {
		if e.Kind != bmc.ErrKindMalformed {
			t.Errorf("part error %+v, want kind malformed", e)
		}
	}
	if len(snap.Systems) != 1 || len(snap.Chassis) != 1 || len(snap.DIMMs) != 4 {
		t.Errorf("inventory must stand: %d systems, %d chassis, %d DIMMs", len(snap.Systems), len(snap.Chassis), len(snap.DIMMs))
	}
}

func TestExpandHonouredAndIgnoredGiveTheSameSnapshot(t *testing.T) {
	honour, epH := simBMC(t, loadMockup(t, "public-rackmount1"), sim.RedfishOptions{Expand: sim.ExpandHonor})
	ignore, epI := simBMC(t, loadMockup(t, "public-rackmount1"), sim.RedfishOptions{Expand: sim.ExpandIgnore})
	ch, _ := newCollector(t, epH, bmcOpts(t))
	ci, _ := newCollector(t, epI, bmcOpts(t))
	sh, si := mustPoll(t, ch), mustPoll(t, ci)
	if !ch.expand.honoured() || ci.expand.honoured() {
		t.Errorf("expand in use: honouring BMC %v, ignoring BMC %v", ch.expand.honoured(), ci.expand.honoured())
	}
	if sh.Poll.Requests >= si.Poll.Requests {
		t.Errorf("$expand honoured took %d requests, ignored %d: want fewer when honoured", sh.Poll.Requests, si.Poll.Requests)
	}
	if honour.Requests() >= ignore.Requests() {
		t.Errorf("server side: %d vs %d requests", honour.Requests(), ignore.Requests())
	}
	for _, s := range []*bmc.Snapshot{sh, si} {
		s.Time, s.Poll = time.Time{}, bmc.PollReport{}
	}
	if !equalJSON(t, sh, si) {
		t.Error("snapshots differ between $expand honoured and ignored")
	}
}

func TestTraceAndCounters(t *testing.T) {
	_, ep := simBMC(t, loadMockup(t, "public-rackmount1"), sim.RedfishOptions{})
	var traced atomic.Int64
	var bytes atomic.Int64
	opts := bmcOpts(t)
	opts.Trace = func(tr bmc.RequestTrace) {
		traced.Add(1)
		bytes.Add(tr.Bytes)
		if !strings.HasPrefix(tr.URL, "/redfish/v1") || tr.Method == "" {
			t.Errorf("trace %+v", tr)
		}
	}
	c, clock := newCollector(t, ep, opts)
	mustPoll(t, c) // first poll also creates the client and session
	clock.advance(ep.Cadence.Readings)
	traced.Store(0)
	bytes.Store(0)
	snap := mustPoll(t, c)
	if int64(snap.Poll.Requests) != traced.Load() || snap.Poll.Bytes != bytes.Load() || snap.Poll.Bytes == 0 {
		t.Errorf("poll counted %d requests/%d bytes, trace saw %d/%d", snap.Poll.Requests, snap.Poll.Bytes, traced.Load(), bytes.Load())
	}
	if snap.Poll.Requests > 8 {
		t.Errorf("a readings-only poll of public-rackmount1 took %d requests, want at most 8", snap.Poll.Requests)
	}
	// The second poll reads only the readings; slow and static parts are cached.
	for _, p := range []bmc.Part{bmc.PartMemory, bmc.PartStorage, bmc.PartCPU, bmc.PartLogs} {
		if !hasPart(snap.Poll.Cached, p) {
			t.Errorf("part %s not listed as cached: %v", p, snap.Poll.Cached)
		}
	}
	if len(snap.DIMMs) != 4 || len(snap.CPUs) != 2 {
		t.Errorf("cached parts not carried over: %d DIMMs, %d CPUs", len(snap.DIMMs), len(snap.CPUs))
	}
}

func TestSlowPartsReadAgainAfterSlowInterval(t *testing.T) {
	_, ep := simBMC(t, loadMockup(t, "public-rackmount1"), sim.RedfishOptions{})
	c, clock := newCollector(t, ep, bmcOpts(t))
	mustPoll(t, c)
	clock.advance(ep.Cadence.Slow)
	snap := mustPoll(t, c)
	if !hasPart(snap.Poll.Read, bmc.PartMemory) || hasPart(snap.Poll.Cached, bmc.PartMemory) {
		t.Errorf("memory not re-read after the slow interval: read %v cached %v", snap.Poll.Read, snap.Poll.Cached)
	}
}

func TestTLSUnverifiedCertificateRefused(t *testing.T) {
	_, ep := simBMC(t, loadMockup(t, "public-rackmount1"), sim.RedfishOptions{})
	ep.TLS = bmc.TLSConfig{} // system roots only: the test CA is unknown
	c, _ := newCollector(t, ep, bmcOpts(t))
	_, err := c.Poll(context.Background())
	if bmc.KindOf(err) != bmc.ErrKindTLS {
		t.Fatalf("Poll error = %v (kind %s), want tls", err, bmc.KindOf(err))
	}
}

func TestTLSFingerprintPin(t *testing.T) {
	b := sim.NewRedfishBMC(loadMockup(t, "public-rackmount1"), sim.RedfishOptions{Username: testUser, Password: testPassword})
	srv, ep := tlsServer(t, b)
	sum := sha256.Sum256(srv.Certificate().Raw)
	hexSum := hex.EncodeToString(sum[:])

	ep.TLS = bmc.TLSConfig{Fingerprint: strings.ToUpper(hexSum[:2]) + ":" + hexSum[2:]}
	c, _ := newCollector(t, ep, bmcOpts(t))
	mustPoll(t, c)

	wrong := sha256.Sum256([]byte("another certificate"))
	ep.TLS = bmc.TLSConfig{Fingerprint: hex.EncodeToString(wrong[:])}
	c2, _ := newCollector(t, ep, bmcOpts(t))
	if _, err := c2.Poll(context.Background()); bmc.KindOf(err) != bmc.ErrKindTLS {
		t.Fatalf("Poll with a wrong pin: %v (kind %s), want tls", err, bmc.KindOf(err))
	}
}

func TestResponseSizeLimit(t *testing.T) {
	_, ep := simBMC(t, loadMockup(t, "public-rackmount1"), sim.RedfishOptions{})
	ep.MaxResponseBytes = 4096 // the service root fits, the expanded Sensors collection does not
	c, _ := newCollector(t, ep, bmcOpts(t))
	snap := mustPoll(t, c)
	errs := partErrors(snap, bmc.PartSensors)
	if len(errs) != 1 || errs[0].Kind != bmc.ErrKindTooLarge {
		t.Fatalf("sensors part errors = %+v, want too_large", errs)
	}
}

// A BMC that advertises $expand and refuses it (400, 404 or 501) is read
// member by member, with the same snapshot and no part error, and is not
// asked to expand again.
func TestExpandRefusedFallsBackToMembers(t *testing.T) {
	_, epH := simBMC(t, loadMockup(t, "public-rackmount1"), sim.RedfishOptions{Expand: sim.ExpandHonor})
	ch, _ := newCollector(t, epH, bmcOpts(t))
	want := mustPoll(t, ch)
	want.Time, want.Poll = time.Time{}, bmc.PollReport{}
	for _, status := range []int{400, 404, 501} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			refuse, ep := simBMC(t, loadMockup(t, "public-rackmount1"), sim.RedfishOptions{Expand: sim.ExpandRefuse, ExpandRefusal: status})
			var expanded atomic.Int64
			opts := bmcOpts(t)
			opts.Trace = func(tr bmc.RequestTrace) {
				if strings.Contains(tr.URL, "$expand") {
					expanded.Add(1)
				}
			}
			c, clock := newCollector(t, ep, opts)
			snap := mustPoll(t, c)
			if len(snap.Poll.Errors) != 0 || c.expand.honoured() {
				t.Fatalf("errors %+v, $expand still in use %v", snap.Poll.Errors, c.expand.honoured())
			}
			if expanded.Load() != 1 {
				t.Errorf("%d requests with $expand; want the one refused", expanded.Load())
			}
			got := *snap
			got.Time, got.Poll = time.Time{}, bmc.PollReport{}
			if !equalJSON(t, &got, want) {
				t.Error("the snapshot read member by member differs from the expanded one")
			}
			before := refuse.Requests()
			clock.advance(ep.Cadence.Slow)
			if snap := mustPoll(t, c); len(snap.Poll.Errors) != 0 || expanded.Load() != 1 || refuse.Requests() == before {
				t.Errorf("second poll: errors %+v, %d $expand requests in all", snap.Poll.Errors, expanded.Load())
			}
		})
	}
}
