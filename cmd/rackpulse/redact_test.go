package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rackpulse/rackpulse/alert"
	"github.com/rackpulse/rackpulse/bmc/sim"
	"github.com/rackpulse/rackpulse/storage"
)

func TestRedactURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"http://admin:s3cret@influx:8086", "http://admin:xxxxx@influx:8086"},
		{"http://tok3n@influx:8086/api", "http://xxxxx@influx:8086/api"},
		{"https://influx:8086", "https://influx:8086"},
		{"http://admin:p%40ss@influx:8086", "http://admin:xxxxx@influx:8086"},
	} {
		if got := redactURL(tc.in); got != tc.want {
			t.Errorf("redactURL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := withoutUserinfo("http://admin:s3cret@rackpulse:9090/servers"); got != "http://rackpulse:9090/servers" {
		t.Errorf("withoutUserinfo = %q", got)
	}
}

// An error quoting a URL that url.Parse refused (so that Redact cannot
// read it) still has its secret masked, escaped or not; errors.Is still
// sees what it wraps.
func TestRedactErr(t *testing.T) {
	raw := "http://admin:p%40ss word@influx:bad"
	base := errors.New(`parse "http://admin:p%40ss word@influx:bad": invalid port; also p@ss word`)
	err := redactErr(base, raw)
	if strings.Contains(err.Error(), "p%40ss word") || strings.Contains(err.Error(), "p@ss word") {
		t.Fatalf("secret left in %q", err)
	}
	if !strings.Contains(err.Error(), "admin:xxxxx@influx") {
		t.Errorf("masked error %q does not keep the rest of the URL", err)
	}
	if !errors.Is(err, base) {
		t.Error("errors.Is no longer sees the wrapped error")
	}
	if plain := errors.New("nothing secret"); redactErr(plain, raw) != plain {
		t.Error("an error without a secret was rewrapped")
	}
}

// syncBuffer is a log sink safe for the goroutines of serve.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// serve with credentials in the InfluxDB, Alertmanager and external URLs
// logs each URL with its secret masked, from start to stop, and a start
// that fails on such a URL says so without the secret.
func TestServeLogsNoURLSecrets(t *testing.T) {
	const secret = "Sup3r-s3cret"
	_, invPath := startSimFleet(t, sim.FleetOptions{Count: 1, Mix: modernOnly(t)})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	influx := "http://rackpulse:" + secret + "@" + ln.Addr().String()
	ln.Close() // nothing listens: the writer retries and logs

	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(t.Context())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	cfg := serveConfig{inventoryPath: invPath, listen: "127.0.0.1:0", workers: 2, reloadCheck: time.Hour, stateDir: t.TempDir(),
		storage: storage.Config{URL: influx, SpoolDir: t.TempDir(), FlushInterval: 100 * time.Millisecond, WriteTimeout: 5 * time.Second},
		alerts: alertConfig{settings: alert.DefaultSettings(), alertmanagers: []string{"http://am:" + secret + "@127.0.0.1:1"},
			externalURL: "http://ops:" + secret + "@rackpulse.example:9090"}}
	go func() { done <- runServe(ctx, cfg, log, ready) }()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("serve: %v", err)
	}
	waitFor(t, 2*time.Minute, func() bool {
		return strings.Contains(logs.String(), "InfluxDB") && strings.Contains(logs.String(), "write")
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
	out := logs.String()
	if strings.Contains(out, secret) {
		t.Fatalf("a secret reached the log:\n%s", out)
	}
	if !strings.Contains(out, "rackpulse:xxxxx@") {
		t.Errorf("the InfluxDB URL is not logged masked:\n%s", out)
	}

	// A URL the storage client refuses: the error names it, masked.
	cfg.storage.URL = "http://rackpulse:" + secret + "@influx:notaport"
	cfg.alerts = alertConfig{settings: alert.DefaultSettings()}
	err = runServe(t.Context(), cfg, log, nil)
	if err == nil {
		t.Fatal("serve started with an InfluxDB URL whose port is not a number")
	}
	if strings.Contains(err.Error(), secret) {
		t.Fatalf("the start error carries the secret: %v", err)
	}
}
