package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/rackpulse/rackpulse/alert"
	"github.com/rackpulse/rackpulse/alert/amtest"
	"github.com/rackpulse/rackpulse/internal/peertest"
)

// BenchmarkFleet polls a simulated fleet with the real binary, as an
// operator would run it: `rackpulse sim` with FLEET_BMCS Redfish BMCs
// answering each request after FLEET_LATENCY, and `rackpulse serve` polling
// every 30 s. After one interval of warm-up it measures FLEET_WINDOW and
// reports polls per second, requests per poll, CPU seconds per 1,000 polls
// and average cores of the poller, its peak RSS (VmHWM, since it started)
// and its RSS in the window (the largest and the median of samples every
// 2 s), and the share of BMCs that were polled successfully in every
// interval of the window.
//
// With FLEET_ALERTS=on (the default) the alert rules run as in production:
// serve sends to a real Alertmanager (tools/bin/alertmanager; the
// benchmark fails without one), and one BMC in a hundred has an
// uncorrectable DIMM error from the start of the window, so that alerts
// fire and are resent every cycle. FLEET_ALERTS=off switches every rule off
// (the alert settings' disabled list), for the cost of alerting by
// difference.
//
// serve runs at the shipped defaults; FLEET_GOGC sets its GOGC (in place
// of the --gc-percent default), FLEET_GOMEMLIMIT its GOMEMLIMIT
// (the Go runtime's soft memory limit), FLEET_WORKERS and FLEET_KEEP set
// --workers and --keep-connections. FLEET_HOG=N runs N busy processes
// beside it during the window (a CPU-heavy job sharing the machine), and
// FLEET_PROFILE=FILE saves a 60 s CPU profile of serve taken in the
// window, one of the simulator in FILE.sim, and serve's live heap at the
// window's end in FILE.heap. The simulator's own CPU is reported apart (sim-cores), and the
// requests per BMC per interval come from rackpulse_bmc_requests_total.
//
// FLEET_WARMUP (default none) waits that much longer before the window:
// with 5m, every BMC's first slow read (memory, drives, logs, read in full
// with nothing yet known of them) falls before the window, which then
// holds the steady state.
//
// Run it with `make bench-fleet` (RACKPULSE_FLEET_BENCH=1); it is skipped
// otherwise, since it takes minutes.
func BenchmarkFleet(b *testing.B) {
	if os.Getenv("RACKPULSE_FLEET_BENCH") == "" {
		b.Skip("fleet benchmark: set RACKPULSE_FLEET_BENCH=1 (make bench-fleet)")
	}
	bmcs := envInt(b, "FLEET_BMCS", 2000)
	window := envDuration(b, "FLEET_WINDOW", 5*time.Minute)
	latency := envString("FLEET_LATENCY", "50ms-200ms")
	mix := envString("FLEET_MIX", "modern=50,legacy=50")
	interval := envDuration(b, "FLEET_INTERVAL", 30*time.Second)
	alerts := envString("FLEET_ALERTS", "on")
	warmup := envDuration(b, "FLEET_WARMUP", 0)

	dir := b.TempDir()
	bin := filepath.Join(dir, "rackpulse")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	ctx, cancel := context.WithCancel(b.Context())
	defer cancel()

	// The simulator picks free ports for its BMCs and admin API, and says
	// where in its "simulator ready" log line.
	simDir := filepath.Join(dir, "sim")
	profile := envString("FLEET_PROFILE", "") // a file for a 60 s CPU profile of serve in the window
	simArgs := []string{"sim", "--count", strconv.Itoa(bmcs), "--mix", mix,
		"--latency", latency, "--base-port", "0", "--ipmi-base-port", "0", "--admin", "127.0.0.1:0", "--out", simDir,
		"--log-level", "info", "--log-format", "json"}
	if profile != "" {
		simArgs = append(simArgs, "--pprof")
	}
	sim := exec.CommandContext(ctx, bin, simArgs...)
	sim.Env = append(os.Environ(), "RACKPULSE_SIM_PASSWORD=bench-password")
	simLog, err := sim.StderrPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := sim.Start(); err != nil {
		b.Fatal(err)
	}
	defer stopProcess(sim)
	ready := simReadyLine(b, simLog, 2*time.Minute)
	raw, err := os.ReadFile(ready.Inventory)
	if err != nil {
		b.Fatal(err)
	}
	inv := filepath.Join(dir, "inventory.yaml")
	polled := strings.ReplaceAll(string(raw), "poll_interval: 30s", "poll_interval: "+interval.String())
	if err := os.WriteFile(inv, []byte(polled), 0o600); err != nil {
		b.Fatal(err)
	}

	// The shipped defaults, unless FLEET_WORKERS sets the workers.
	args := []string{"serve", "--inventory", inv, "--state-dir", filepath.Join(dir, "state"), "--log-level", "warn"}
	if w := envString("FLEET_WORKERS", ""); w != "" {
		args = append(args, "--workers", w)
	}
	if k := envString("FLEET_KEEP", ""); k != "" {
		args = append(args, "--keep-connections", k)
	}
	if profile != "" {
		args = append(args, "--pprof")
	}
	switch alerts {
	case "on":
		am := amtest.Start(b)
		args = append(args, "--alertmanager-url", am.URL())
	case "off":
		config := filepath.Join(dir, "alerts-off.yaml")
		if err := os.WriteFile(config, []byte("alerts:\n  disabled: ["+strings.Join(alert.Names(), ", ")+"]\n"), 0o600); err != nil {
			b.Fatal(err)
		}
		args = append(args, "--config", config)
	default:
		b.Fatalf("FLEET_ALERTS=%q: want on or off", alerts)
	}
	serveEnv := slices.Clone(sim.Env)
	if limit := envString("FLEET_GOMEMLIMIT", ""); limit != "" {
		serveEnv = append(serveEnv, "GOMEMLIMIT="+limit) // the Go runtime's soft memory limit, for serve only
	}
	if gogc := envString("FLEET_GOGC", ""); gogc != "" {
		serveEnv = append(serveEnv, "GOGC="+gogc) // in place of serve's --gc-percent default
	}
	serve, listen := startServeOnFreePort(b, ctx, bin, args, serveEnv)

	// Every BMC has had its first poll (a poll of each is counted).
	waitFor(b, 2*interval+2*time.Minute, func() bool { return len(scrapeFleet(b, listen).allPolls) >= bmcs })
	failing := 0
	if alerts == "on" {
		for i := 0; i < bmcs; i += 100 {
			name := fmt.Sprintf("rack-%02d-u%02d", i/20+1, i%20+1)
			resp, err := http.Post(ready.Admin+"/bmcs/"+name+"/faults", "application/json", strings.NewReader(`{"fault":"dimm-uncorrectable"}`))
			if err != nil {
				b.Fatalf("inject: %v", err)
			}
			resp.Body.Close()
			if resp.StatusCode == http.StatusCreated {
				failing++
			}
		}
	}
	if warmup > 0 {
		select {
		case <-time.After(warmup):
		case <-ctx.Done():
			b.Fatal(ctx.Err())
		}
	}
	// FLEET_HOG busy processes beside the poller, for the window: a
	// CPU-heavy job sharing the machine.
	for range envInt(b, "FLEET_HOG", 0) {
		hog := exec.CommandContext(ctx, "sh", "-c", "exec yes > /dev/null")
		if err := hog.Start(); err != nil {
			b.Fatal(err)
		}
		defer func() { _ = hog.Process.Kill(); _ = hog.Wait() }()
	}
	b.ResetTimer()
	rssInWindow := sampleRSS([]int{serve.Pid}, 2*time.Second)
	before := scrapeFleet(b, listen)
	cpuBefore := processCPUSeconds(b, serve.Pid)
	simCPUBefore := processCPUSeconds(b, sim.Process.Pid)
	profiled := make(chan error, 2)
	if profile != "" {
		go func() { profiled <- fetchProfile("http://"+listen+"/debug/pprof/profile?seconds=60", profile) }()
		go func() { profiled <- fetchProfile(ready.Admin+"/debug/pprof/profile?seconds=60", profile+".sim") }()
	} else {
		profiled <- nil
		profiled <- nil
	}
	time.Sleep(window)
	for range 2 {
		if err := <-profiled; err != nil {
			b.Errorf("CPU profile: %v", err)
		}
	}
	if profile != "" {
		// The live heap at the window's end, for memory per BMC.
		if err := fetchProfile("http://"+listen+"/debug/pprof/heap", profile+".heap"); err != nil {
			b.Errorf("heap profile: %v", err)
		}
	}
	after := scrapeFleet(b, listen)
	cpuAfter := processCPUSeconds(b, serve.Pid)
	simCPU := processCPUSeconds(b, sim.Process.Pid) - simCPUBefore
	b.StopTimer()
	peakRSS := processPeakRSS(b, serve.Pid)
	windowRSS := rssInWindow.stop()[0]

	polls := after.polls - before.polls
	cpu := cpuAfter - cpuBefore
	intervals := int(window / interval)
	onTime := 0
	// A BMC was polled within every interval when none of its polls in the
	// window failed or overran into the next slot, and it completed one per
	// interval (less one for the poll still running at the window's edge).
	for server, ok := range after.okPolls {
		okInWindow := ok - before.okPolls[server]
		allInWindow := after.allPolls[server] - before.allPolls[server]
		if okInWindow >= float64(intervals-1) && okInWindow == allInWindow && after.skipped[server] == before.skipped[server] {
			onTime++
		}
	}
	b.ReportMetric(polls/window.Seconds(), "polls/s")
	b.ReportMetric(after.requestsPerPollSince(before), "requests/poll")
	b.ReportMetric(cpu/polls*1000, "cpu-s/1000polls")
	b.ReportMetric(cpu/window.Seconds(), "cores")
	b.ReportMetric(float64(peakRSS)/(1<<20), "peak-MiB")
	if len(windowRSS) > 0 {
		b.ReportMetric(float64(slices.Max(windowRSS))/(1<<20), "window-max-MiB")
		b.ReportMetric(float64(median(windowRSS))/(1<<20), "window-median-MiB")
	}
	b.ReportMetric(100*float64(onTime)/float64(bmcs), "%on-time")
	b.ReportMetric(after.firing, "alerts-firing")
	b.ReportMetric(simCPU/window.Seconds(), "sim-cores")
	b.ReportMetric((after.sent-before.sent)/float64(bmcs)/float64(intervals), "requests/bmc/interval")
	alertCores := (after.alertCPU - before.alertCPU) / window.Seconds()
	b.ReportMetric(alertCores, "alert-cores")
	b.ReportMetric(after.heapInUse/(1<<20), "heap-inuse-MiB")
	b.ReportMetric(after.stackInUse/(1<<20), "stacks-MiB")
	b.ReportMetric(after.goroutines, "goroutines")
	fmt.Printf("fleet: %d BMCs (%s) every %v, window %v, alerts %s (%d BMCs failing, %.0f alerts firing): %.1f polls/s, %.1f requests/poll, %.2f CPU s/1000 polls, %.3f cores (alert rules %.5f cores, %.2f %%), peak RSS %.0f MiB, %d/%d BMCs polled in every interval\n",
		bmcs, mix, interval, window, alerts, failing, after.firing, polls/window.Seconds(), after.requestsPerPollSince(before), cpu/polls*1000, cpu/window.Seconds(),
		alertCores, 100*alertCores/(cpu/window.Seconds()), float64(peakRSS)/(1<<20), onTime, bmcs)
}

// fetchProfile saves the CPU profile at url into file.
func fetchProfile(url, file string) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// simReadyLine reads the simulator's JSON log until its "simulator ready"
// line, copies the rest to the benchmark's standard error, and returns it.
func simReadyLine(b *testing.B, log io.Reader, limit time.Duration) simReady {
	b.Helper()
	ready := make(chan simReady, 1)
	go func() {
		sc := bufio.NewScanner(log)
		for sc.Scan() {
			var line simReady
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "simulator ready" {
				ready <- line
				break
			}
			fmt.Fprintln(os.Stderr, sc.Text())
		}
		close(ready)
		_, _ = io.Copy(os.Stderr, log)
	}()
	select {
	case line, ok := <-ready:
		if !ok {
			b.Fatal("rackpulse sim exited before it was ready")
		}
		return line
	case <-time.After(limit):
		b.Fatalf("rackpulse sim not ready within %v", limit)
	}
	return simReady{}
}

// startServeOnFreePort starts `rackpulse serve args...` listening on a
// free loopback port and waits until it answers there; it tries another
// port when the one picked was taken before serve bound it. It returns the
// process, stopped when the benchmark ends, and its listen address.
func startServeOnFreePort(b *testing.B, ctx context.Context, bin string, args, env []string) (*os.Process, string) {
	b.Helper()
	for attempt := 1; ; attempt++ {
		port, err := peertest.FreePort()
		if err != nil {
			b.Fatal(err)
		}
		listen := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		serve := exec.CommandContext(ctx, bin, append(slices.Clone(args), "--listen", listen)...)
		serve.Env = env
		serve.Stderr = os.Stderr
		if err := serve.Start(); err != nil {
			b.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- serve.Wait() }()
		err = waitAnswering(listen, exited, 2*time.Minute)
		if err == nil {
			b.Cleanup(func() { stopStarted(serve.Process, exited) })
			return serve.Process, listen
		}
		stopStarted(serve.Process, exited)
		if !errors.Is(err, errExited) || attempt == 5 {
			b.Fatalf("serve on %s: %v", listen, err)
		}
		b.Logf("serve on %s: %v; trying another port", listen, err)
	}
}

var errExited = errors.New("exited")

// waitAnswering waits until addr answers HTTP, the process exits (an error
// wrapping errExited) or limit passes.
func waitAnswering(addr string, exited <-chan error, limit time.Duration) error {
	deadline := time.After(limit)
	for {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case err := <-exited:
			return fmt.Errorf("%w: %v", errExited, err)
		case <-deadline:
			return fmt.Errorf("not answering within %v", limit)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// stopStarted sends SIGINT to a process whose Wait is reported on exited,
// and waits for it (killing it after 30 s).
func stopStarted(p *os.Process, exited <-chan error) {
	_ = p.Signal(os.Interrupt)
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		_ = p.Kill()
		<-exited
	}
}

type fleetScrape struct {
	polls    float64            // all poll attempts
	okPolls  map[string]float64 // polls that read a snapshot, per server
	allPolls map[string]float64 // poll attempts, per server
	skipped  map[string]float64
	requests map[string]float64 // last poll's requests, per server
	sent     float64            // requests sent to all BMCs so far (rackpulse_bmc_requests_total)
	firing   float64            // alerts firing
	alertCPU float64            // seconds spent evaluating alert rules
	// The Go runtime's memory at the scrape: heap in use, goroutine
	// stacks, goroutines.
	heapInUse, stackInUse, goroutines float64
}

// requestsPerPollSince is the mean requests a poll made between two
// scrapes, from the cumulative counter: every poll's, failed ones
// included, unlike the last poll's gauge.
func (s fleetScrape) requestsPerPollSince(before fleetScrape) float64 {
	return (s.sent - before.sent) / math.Max(1, s.polls-before.polls)
}

func scrapeFleet(b *testing.B, listen string) fleetScrape {
	b.Helper()
	resp, err := http.Get("http://" + listen + "/metrics")
	if err != nil {
		b.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		b.Fatalf("parse metrics: %v", err)
	}
	s := fleetScrape{okPolls: map[string]float64{}, allPolls: map[string]float64{}, skipped: map[string]float64{}, requests: map[string]float64{}}
	for _, m := range families["rackpulse_bmc_polls_total"].GetMetric() {
		labels := labelMap(m.GetLabel())
		v := m.GetCounter().GetValue()
		s.polls += v
		s.allPolls[labels["server"]] += v
		if labels["result"] == "ok" || labels["result"] == "partial" {
			s.okPolls[labels["server"]] += v
		}
	}
	for _, m := range families["rackpulse_bmc_polls_skipped_total"].GetMetric() {
		s.skipped[labelMap(m.GetLabel())["server"]] = m.GetCounter().GetValue()
	}
	for _, m := range families["rackpulse_bmc_poll_requests"].GetMetric() {
		s.requests[labelMap(m.GetLabel())["server"]] = m.GetGauge().GetValue()
	}
	for _, m := range families["rackpulse_bmc_requests_total"].GetMetric() {
		s.sent += m.GetCounter().GetValue()
	}
	for _, m := range families["rackpulse_alerts_firing"].GetMetric() {
		s.firing += m.GetGauge().GetValue()
	}
	for _, m := range families["rackpulse_alert_evaluation_seconds_total"].GetMetric() {
		s.alertCPU += m.GetCounter().GetValue()
	}
	gauge := func(name string) float64 {
		for _, m := range families[name].GetMetric() {
			return m.GetGauge().GetValue()
		}
		return 0
	}
	s.heapInUse, s.stackInUse, s.goroutines = gauge("go_memstats_heap_inuse_bytes"), gauge("go_memstats_stack_inuse_bytes"), gauge("go_goroutines")
	return s
}

// processCPUSeconds is the user and system time a process has used.
func processCPUSeconds(b *testing.B, pid int) float64 { return procStatSeconds(b, pid, 11) }

// processChildrenCPUSeconds is the user and system time of the process's
// children that it has waited for (cutime and cstime).
func processChildrenCPUSeconds(b *testing.B, pid int) float64 { return procStatSeconds(b, pid, 13) }

// procStatSeconds adds the two clock-tick fields of /proc/PID/stat from
// field (counted after the command name: 11 utime, 13 cutime) in seconds.
func procStatSeconds(b *testing.B, pid, field int) float64 {
	b.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the command name (which may hold spaces) start after ')'.
	fields := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
	user, _ := strconv.ParseFloat(fields[field], 64)
	sys, _ := strconv.ParseFloat(fields[field+1], 64)
	return (user + sys) / 100 // USER_HZ
}

func processPeakRSS(b *testing.B, pid int) int64 {
	b.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	b.Fatal("no VmHWM in /proc status")
	return 0
}

func labelMap(pairs []*dto.LabelPair) map[string]string {
	m := make(map[string]string, len(pairs))
	for _, p := range pairs {
		m[p.GetName()] = p.GetValue()
	}
	return m
}

func envInt(b *testing.B, name string, def int) int {
	if s := os.Getenv(name); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			b.Fatalf("%s: %v", name, err)
		}
		return n
	}
	return def
}

func envDuration(b *testing.B, name string, def time.Duration) time.Duration {
	if s := os.Getenv(name); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			b.Fatalf("%s: %v", name, err)
		}
		return d
	}
	return def
}

func envString(name, def string) string {
	if s := os.Getenv(name); s != "" {
		return s
	}
	return def
}

// stopProcess sends SIGINT and waits, so the process logs out its sessions.
func stopProcess(cmd *exec.Cmd) {
	if cmd.Process == nil {
		return
	}
	_ = cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

func waitFor(tb testing.TB, limit time.Duration, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("condition not met within %v", limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
