package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/rackpulse/rackpulse/alert/amtest"
)

func testAlert(server string, state State, at time.Time) Alert {
	a := Alert{Name: "DIMMFailing", Severity: SeverityCritical, State: state, ActiveAt: at, StartsAt: at,
		Labels:      map[string]string{"alertname": "DIMMFailing", "severity": "critical", "site": "dc1", "rack": "r12", "server": server, "slot": "A1"},
		Annotations: Annotations{Summary: "Replace DIMM A1 in " + server, Description: "1 uncorrectable error."}, GeneratorURL: "http://rackpulse.example/api/servers?server=" + server}
	if state == StateResolved {
		a.EndsAt = at.Add(time.Minute)
	}
	return a
}

func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestAlertmanagerDeliversToTheRealOne sends a firing alert, then its
// resolve, to a real Alertmanager and reads them back from its API.
func TestAlertmanagerDeliversToTheRealOne(t *testing.T) {
	srv := amtest.Start(t)
	am, err := NewAlertmanager(AlertmanagerOptions{URLs: []string{srv.URL()}, ResendEvery: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { am.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	start := time.Now().Add(-time.Minute).Truncate(time.Second)
	am.Notify([]Alert{testAlert("r12-u03", StateFiring, start)})
	got, err := srv.WaitAlerts(ctx, func(as []amtest.Alert) bool { return len(as) == 1 }, `server="r12-u03"`)
	if err != nil {
		t.Fatalf("firing alert not in Alertmanager: %v", err)
	}
	a := got[0]
	if a.Status.State != "active" || a.Labels["slot"] != "A1" || a.Labels["severity"] != "critical" ||
		a.Annotations["summary"] != "Replace DIMM A1 in r12-u03" || !a.StartsAt.Equal(start) || a.GeneratorURL == "" {
		t.Errorf("Alertmanager holds %+v", a)
	}
	if ahead := time.Until(a.EndsAt); ahead < time.Minute || ahead > 3*time.Minute {
		t.Errorf("endsAt %v ahead; want about 4 resend intervals (2 min)", ahead)
	}

	am.Notify([]Alert{testAlert("r12-u03", StateResolved, start)})
	if _, err := srv.WaitAlerts(ctx, func(as []amtest.Alert) bool { return len(as) == 0 }, `server="r12-u03"`); err != nil {
		t.Fatalf("resolved alert still active in Alertmanager: %v", err)
	}
}

// TestAlertmanagerOneDownDoesNotStopTheOther: of an HA pair, one refuses
// connections; the other gets every alert, and the first gets them once it
// is back.
func TestAlertmanagerOneDownDoesNotStopTheOther(t *testing.T) {
	var mu sync.Mutex
	received := map[string]int{}
	up := false
	handler := func(name string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			defer mu.Unlock()
			if name == "b" && !up {
				http.Error(w, "starting", http.StatusServiceUnavailable)
				return
			}
			var batch []amAlert
			if err := json.NewDecoder(r.Body).Decode(&batch); err != nil || r.URL.Path != "/api/v2/alerts" {
				http.Error(w, "bad request", http.StatusBadRequest)
				return
			}
			received[name] += len(batch)
		}
	}
	a, b := httptest.NewServer(handler("a")), httptest.NewServer(handler("b"))
	defer a.Close()
	defer b.Close()
	am, err := NewAlertmanager(AlertmanagerOptions{URLs: []string{a.URL, b.URL}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { am.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	am.Notify([]Alert{testAlert("r12-u03", StateFiring, time.Now()), testAlert("r12-u05", StateFiring, time.Now())})
	count := func(name string) int { mu.Lock(); defer mu.Unlock(); return received[name] }
	waitFor(t, 30*time.Second, "alerts at a", func() bool { return count("a") == 2 })
	if count("b") != 0 {
		t.Fatalf("b accepted alerts while answering 503")
	}
	mu.Lock()
	up = true
	mu.Unlock()
	waitFor(t, 30*time.Second, "alerts at b after its outage", func() bool { return count("b") == 2 })
}

func TestAlertmanagerQueueIsBounded(t *testing.T) {
	reg := prometheus.NewRegistry()
	am, err := NewAlertmanager(AlertmanagerOptions{URLs: []string{"http://127.0.0.1:1"}, MaxQueued: 3, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	var batch []Alert
	for _, s := range []string{"a", "b", "c", "d", "e"} {
		batch = append(batch, testAlert(s, StateFiring, time.Now()))
	}
	am.Notify(batch)
	am.Notify(batch[:2]) // newer versions of queued alerts take their place
	tgt := am.targets[0]
	if n := len(tgt.pending); n != 3 {
		t.Errorf("%d alerts queued, want the bound 3", n)
	}
	if d := testutil.ToFloat64(tgt.dropped); d != 2 {
		t.Errorf("dropped counter %v, want 2", d)
	}
}

func TestBackoffHonoursRetryAfterWithinBounds(t *testing.T) {
	if d := nextBackoff(0, &errRetryAfter{err: errors.New("503"), after: 20 * time.Second}); d != 20*time.Second {
		t.Errorf("Retry-After 20s gave %v", d)
	}
	if d := nextBackoff(0, &errRetryAfter{err: errors.New("503"), after: time.Hour}); d != maxRetry {
		t.Errorf("Retry-After 1h gave %v, want the bound %v", d, maxRetry)
	}
	d := time.Duration(0)
	for range 20 {
		d = nextBackoff(d, errors.New("refused"))
		if d < minRetry*8/10 || d > maxRetry {
			t.Fatalf("backoff %v outside [%v, %v]", d, minRetry, maxRetry)
		}
	}
}

func TestAlertmanagerCredentialsStayOutOfLogs(t *testing.T) {
	var logs bytes.Buffer
	am, err := NewAlertmanager(AlertmanagerOptions{URLs: []string{"http://alerts:s3cret-pass@127.0.0.1:1"}, Timeout: time.Second,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	am.Notify([]Alert{testAlert("r12-u03", StateFiring, time.Now())})
	if err := am.targets[0].sendAll(t.Context()); err == nil {
		t.Fatal("sending to a closed port succeeded")
	} else if strings.Contains(err.Error(), "s3cret-pass") {
		t.Errorf("error names the password: %v", err)
	}
	am.targets[0].log.Warn("probe")
	if strings.Contains(logs.String(), "s3cret-pass") {
		t.Errorf("log names the password: %s", logs.String())
	}
	if _, err := NewAlertmanager(AlertmanagerOptions{URLs: []string{"ftp://x:pw@host"}}); err == nil || strings.Contains(err.Error(), "pw@") {
		t.Errorf("bad URL error %v: want an error without the password", err)
	}
}
