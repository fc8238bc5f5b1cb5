package sim_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rackpulse/rackpulse/bmc"
	"github.com/rackpulse/rackpulse/bmc/ipmi"
	"github.com/rackpulse/rackpulse/bmc/redfish"
	"github.com/rackpulse/rackpulse/bmc/sim"
)

// lockedBuffer is a log destination polls write to concurrently.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestCollectorLogLinesCarryServerOnce runs the scheduler over a Redfish
// (modern and legacy) and an IPMI BMC of the simulator with a JSON logger
// at debug level: the scheduler gives each collector a logger that already
// carries the server, and no line (the scheduler's, a collector's, a
// session's) names it twice.
func TestCollectorLogLinesCarryServerOnce(t *testing.T) {
	const user, password = "rp-logs", "rp-logs-s3cret"
	f, err := sim.StartOnFreePorts(context.Background(), sim.FleetOptions{
		Count:    3,
		Mix:      []sim.ProfileShare{{Profile: sim.ProfileModern, Weight: 1}, {Profile: sim.ProfileLegacy, Weight: 1}, {Profile: sim.ProfileIPMI, Weight: 1}},
		OutDir:   t.TempDir(),
		Username: user,
		Password: password,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })

	var eps []bmc.Endpoint
	protocols := map[string]int{}
	for _, b := range f.BMCs() {
		ep := bmc.Endpoint{
			Server: b.Name(), Rack: "sim", Address: b.URL(), Username: user, Password: bmc.Secret(password),
			TLS:            bmc.TLSConfig{CAFile: f.CAFile()},
			Cadence:        bmc.Cadence{Readings: 200 * time.Millisecond, Slow: time.Millisecond},
			RequestTimeout: 5 * time.Second, PollTimeout: 20 * time.Second,
		}
		if b.Protocol() == "ipmi" {
			ep.Protocol, ep.CipherSuite, ep.Privilege = bmc.ProtocolIPMI, 3, "ADMINISTRATOR"
		}
		protocols[b.Protocol()]++
		eps = append(eps, ep)
	}
	if protocols["redfish"] != 2 || protocols["ipmi"] != 1 {
		t.Fatalf("fleet protocols %v, want 2 redfish and 1 ipmi", protocols)
	}

	logs := &lockedBuffer{}
	const wantPolls = 3
	var mu sync.Mutex
	polls := map[string]int{}
	failures := map[string]error{}
	enough := make(chan struct{})
	var once sync.Once
	s := bmc.NewScheduler(bmc.SchedulerConfig{
		NewCollector: func(ep bmc.Endpoint, opts bmc.CollectorOptions) (bmc.Collector, error) {
			if ep.Protocol == bmc.ProtocolIPMI {
				return ipmi.New(ep, opts)
			}
			return redfish.New(ep, opts)
		},
		OnPoll: func(ep bmc.Endpoint, _ time.Time, _ *bmc.Snapshot, err error) {
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failures[ep.Server] = err
				return
			}
			polls[ep.Server]++
			for _, e := range eps {
				if polls[e.Server] < wantPolls {
					return
				}
			}
			once.Do(func() { close(enough) })
		},
		Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	s.Update(eps)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	select {
	case <-enough:
	case <-time.After(60 * time.Second):
		mu.Lock()
		t.Errorf("after 60 s: polls %v, failures %v", polls, failures)
		mu.Unlock()
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("scheduler: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the scheduler did not stop within 60 s")
	}

	// Every line: valid JSON, and "server" once (a JSON object with a
	// duplicate key still decodes, so the key is counted in the text).
	collectors := map[string]int{}
	sc := bufio.NewScanner(strings.NewReader(logs.String()))
	sc.Buffer(make([]byte, 0, 64*1024), 4<<20)
	lines := 0
	for sc.Scan() {
		line := sc.Text()
		lines++
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("log line is not JSON (%v): %s", err, line)
			continue
		}
		if n := strings.Count(line, `"server":`); n != 1 {
			t.Errorf("log line names the server %d times: %s", n, line)
		}
		if c, ok := rec["collector"].(string); ok {
			collectors[c]++
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if collectors["redfish"] == 0 || collectors["ipmi"] == 0 {
		t.Errorf("%d lines, by collector %v: want lines from both collectors", lines, collectors)
	}
}
