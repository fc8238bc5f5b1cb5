package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rackpulse/rackpulse/bmc/sim"
)

// simReady is the "simulator ready" log line of `rackpulse sim
// --log-format json`.
type simReady struct {
	Msg       string `json:"msg"`
	Admin     string `json:"admin"`
	Inventory string `json:"inventory"`
}

// startSimCommand runs `rackpulse sim args...` in the test's process until
// the test ends, and returns its "simulator ready" log line.
func startSimCommand(t *testing.T, args ...string) simReady {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logR, logW := io.Pipe()
	root := newRootCmd()
	root.SetArgs(append([]string{"sim", "--log-format", "json", "--log-level", "info"}, args...))
	root.SetOut(io.Discard)
	root.SetErr(logW)
	done := make(chan error, 1)
	go func() {
		err := root.ExecuteContext(ctx)
		_ = logW.CloseWithError(errors.Join(err, io.EOF))
		done <- err
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("rackpulse sim: %v", err)
		}
	})
	ready := make(chan simReady, 1)
	go func() {
		sc := bufio.NewScanner(logR)
		for sc.Scan() {
			var line simReady
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "simulator ready" {
				ready <- line
			}
		}
		close(ready)
		_, _ = io.Copy(io.Discard, logR)
	}()
	select {
	case line, ok := <-ready:
		if !ok {
			t.Fatal("rackpulse sim stopped before it was ready")
		}
		return line
	case <-time.After(2 * time.Minute): // a liveness bound only
		t.Fatal("rackpulse sim not ready within 2 minutes")
	}
	return simReady{}
}

// `rackpulse sim --base-port 0 --ipmi-base-port 0 --admin 127.0.0.1:0`
// picks free ports for every BMC and the admin API, and says where: in the
// ready log line and the inventory.
func TestSimPicksFreePorts(t *testing.T) {
	t.Setenv(sim.PasswordEnv, "sim-free-ports")
	out := t.TempDir()
	ready := startSimCommand(t, "--count", "4", "--mix", "modern=1,ipmi=1", "--base-port", "0", "--ipmi-base-port", "0",
		"--admin", "127.0.0.1:0", "--out", out)
	if ready.Inventory != filepath.Join(out, "inventory.yaml") {
		t.Errorf("inventory %q, want it in %s", ready.Inventory, out)
	}
	resp, err := http.Get(ready.Admin + "/bmcs")
	if err != nil {
		t.Fatalf("admin API at %q: %v", ready.Admin, err)
	}
	defer resp.Body.Close()
	var bmcs []sim.BMCInfo
	if err := json.NewDecoder(resp.Body).Decode(&bmcs); err != nil {
		t.Fatal(err)
	}
	inv, err := os.ReadFile(ready.Inventory)
	if err != nil {
		t.Fatal(err)
	}
	protocols := map[string]int{}
	for _, b := range bmcs {
		protocols[b.Protocol]++
		if b.Port == 0 || b.Port == sim.DefaultBasePort || b.Port == sim.DefaultIPMIBasePort {
			t.Errorf("%s on port %d, want a picked one", b.Name, b.Port)
		}
		if !strings.Contains(string(inv), strconv.Itoa(b.Port)) {
			t.Errorf("%s's port %d is not in the inventory", b.Name, b.Port)
		}
		if b.Protocol == "redfish" {
			conn, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(b.Port)), time.Minute)
			if err != nil {
				t.Errorf("%s does not listen on its port: %v", b.Name, err)
				continue
			}
			conn.Close()
		}
	}
	if len(bmcs) != 4 || protocols["redfish"] == 0 || protocols["ipmi"] == 0 {
		t.Fatalf("BMCs %+v, want 4, Redfish and IPMI", bmcs)
	}
}

func TestSimRefusesNegativePorts(t *testing.T) {
	for _, args := range [][]string{{"--base-port", "-1"}, {"--ipmi-base-port", "-5"}, {"--base-port", "65000", "--count", "600"}} {
		root := newRootCmd()
		root.SetArgs(append([]string{"sim", "--out", t.TempDir()}, args...))
		root.SetOut(io.Discard)
		root.SetErr(io.Discard)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		err := root.ExecuteContext(ctx)
		cancel()
		if err == nil || !strings.Contains(err.Error(), "port") {
			t.Errorf("sim %v: %v, want a port error", args, err)
		}
	}
}

// `rackpulse sim --pprof` serves Go profiles beside the admin API, which
// still answers; without the flag there are none.
func TestSimPprofOnTheAdminAPI(t *testing.T) {
	t.Setenv(sim.PasswordEnv, "sim-pprof")
	for _, on := range []bool{true, false} {
		args := []string{"--count", "1", "--base-port", "0", "--ipmi-base-port", "0", "--admin", "127.0.0.1:0", "--out", t.TempDir()}
		if on {
			args = append(args, "--pprof")
		}
		ready := startSimCommand(t, args...)
		status := func(path string) int {
			t.Helper()
			resp, err := http.Get(ready.Admin + path)
			if err != nil {
				t.Fatalf("GET %s: %v", path, err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		want := http.StatusNotFound
		if on {
			want = http.StatusOK
		}
		if got := status("/debug/pprof/heap"); got != want {
			t.Errorf("--pprof %v: /debug/pprof/heap answered %d, want %d", on, got, want)
		}
		if got := status("/bmcs"); got != http.StatusOK {
			t.Errorf("--pprof %v: /bmcs answered %d", on, got)
		}
	}
}
