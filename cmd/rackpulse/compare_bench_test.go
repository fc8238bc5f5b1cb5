package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	lp "github.com/influxdata/line-protocol"

	"github.com/rackpulse/rackpulse/bmc"
	"github.com/rackpulse/rackpulse/bmc/sim"
)

// BenchmarkCompareTelegraf polls the same simulated fleet with rackpulse
// and with Telegraf, side by side in one window, and compares what each
// costs and what each reads.
//
// Each tool gets its own `rackpulse sim`, started with identical options
// (COMPARE_BMCS BMCs of COMPARE_MIX, answering after COMPARE_LATENCY), so
// that the simulator's per-BMC request counters (GET {admin}/bmcs) count
// one tool's requests each. rackpulse runs `serve` with its shipped
// defaults and no InfluxDB; Telegraf (tools/bin/telegraf, or
// $RACKPULSE_TELEGRAF; .ci/telegraf install builds it) runs one
// [[inputs.redfish]] per Redfish BMC and one [[inputs.ipmi_sensor]] per
// IPMI BMC, every 30 s, writing line protocol to a file. With
// COMPARE_IPMI > 0 a second comparison runs the same way on that many
// IPMI BMCs.
//
// COMPARE_WARMUP (default none) waits that much longer before the window:
// with 5m, every BMC's first slow read (memory, drives, logs, read in full
// with nothing yet known of them) falls before the window, which then
// holds the steady state.
//
// For each tool it measures over COMPARE_WINDOW (default 5m):
//
//   - CPU: user+system time of the process and of its reaped children
//     (Telegraf's ipmitool runs), in cores over the window;
//   - RSS: peak (VmHWM) and the median of VmRSS sampled every 2 s;
//   - requests per BMC per cycle: the simulator's counters (HTTP requests,
//     or IPMI datagrams) before and after the window;
//   - values per BMC per poll: numeric readings read. Telegraf: the numeric
//     fields of its redfish_* and ipmi_sensor lines timestamped in the
//     window (ipmi_sensor's 0/1 "status" field left out), over its
//     BMC-polls (BMC and interval with at least one line). rackpulse: the
//     numeric readings of the last Snapshot (/api/servers?server=) of every
//     BMC (up to 1,000), as snapshotValues counts them; "like for like" counts
//     only sensors, PSUs and power readings, what Telegraf's inputs read;
//   - CPU per value: core-seconds per 1,000 values read in the window;
//   - on-time share: rackpulse, as BenchmarkFleet: BMCs whose polls in the
//     window all succeeded, one per interval; Telegraf: BMCs with lines in
//     every interval of the window. The window starts half an interval
//     after one of Telegraf's aligned ticks, so that each of its intervals
//     holds exactly one tick;
//   - failures: rackpulse's failed polls in the window; Telegraf's errors
//     ("E!" lines) logged in the window, the first of each plugin printed.
//
// It prints a Markdown table with the ratio rackpulse/Telegraf of each
// figure, and reports the key ones as metrics. Run it with
// `make bench-compare` (RACKPULSE_COMPARE_BENCH=1); it is skipped
// otherwise, since it takes minutes.
func BenchmarkCompareTelegraf(b *testing.B) {
	if os.Getenv("RACKPULSE_COMPARE_BENCH") == "" {
		b.Skip("comparison with Telegraf: set RACKPULSE_COMPARE_BENCH=1 (make bench-compare)")
	}
	opts := compareOptions{
		bmcs:     envInt(b, "COMPARE_BMCS", 500),
		mix:      envString("COMPARE_MIX", "legacy=100"),
		window:   envDuration(b, "COMPARE_WINDOW", 5*time.Minute),
		warmup:   envDuration(b, "COMPARE_WARMUP", 0),
		latency:  envString("COMPARE_LATENCY", "50ms-200ms"),
		interval: 30 * time.Second,
	}
	ipmiBMCs := envInt(b, "COMPARE_IPMI", 0)
	if opts.window < 2*opts.interval {
		b.Fatalf("COMPARE_WINDOW=%v: want at least two intervals (%v)", opts.window, 2*opts.interval)
	}
	opts.telegraf = telegrafBinary(b)
	opts.telegrafVersion = "Telegraf " + telegrafVersion(opts.telegraf)
	dir := b.TempDir()
	opts.rackpulse = filepath.Join(dir, "rackpulse")
	if out, err := exec.Command("go", "build", "-o", opts.rackpulse, ".").CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}

	b.ResetTimer()
	if opts.bmcs > 0 {
		c := runComparison(b, filepath.Join(dir, "fleet"), opts)
		c.print(os.Stdout)
		c.report(b, "")
	}
	if ipmiBMCs > 0 {
		ipmi := opts
		ipmi.bmcs, ipmi.mix = ipmiBMCs, "ipmi=100"
		c := runComparison(b, filepath.Join(dir, "ipmi"), ipmi)
		c.print(os.Stdout)
		c.report(b, "ipmi-")
	}
}

type compareOptions struct {
	bmcs            int
	mix             string
	window          time.Duration
	warmup          time.Duration // more time before the window, after every BMC was polled once
	latency         string
	interval        time.Duration
	rackpulse       string // the binary built for the run
	telegraf        string
	telegrafVersion string
}

// toolResult is what one tool did in the window.
type toolResult struct {
	cores            float64 // CPU over the window, process and reaped children
	peakRSS          int64   // VmHWM, bytes
	medianRSS        int64   // median of the VmRSS samples, bytes
	requestsPerCycle float64 // per BMC per interval, the simulator's count
	valuesPerPoll    float64
	likeValues       float64 // sensors, PSUs and power readings per poll
	polls            float64 // polls that read data in the window
	valuesInWindow   float64
	onTime           int               // BMCs with data in every interval
	failed           int               // rackpulse: failed polls; Telegraf: errors logged
	firstErrors      map[string]string // Telegraf: per source ("[inputs.redfish]"), its first error in the window
}

func (r toolResult) cpuPerKValue(window time.Duration) float64 {
	return r.cores * window.Seconds() / math.Max(1, r.valuesInWindow) * 1000
}

type comparison struct {
	opts                compareOptions
	start               time.Time
	rackpulse, telegraf toolResult
	sampled             int // rackpulse Snapshots counted
}

// runComparison starts two simulators, rackpulse on one and Telegraf on the
// other, lets both poll every BMC once, and measures both over the window.
func runComparison(b *testing.B, dir string, opts compareOptions) comparison {
	b.Helper()
	ctx, cancel := context.WithCancel(b.Context())
	defer cancel()
	const password = "bench-password"
	env := append(os.Environ(), sim.PasswordEnv+"="+password)
	rpSim := startCompareSim(b, ctx, opts, filepath.Join(dir, "sim-rackpulse"), env)
	tgSim := startCompareSim(b, ctx, opts, filepath.Join(dir, "sim-telegraf"), env)

	serve, listen := startServeOnFreePort(b, ctx, opts.rackpulse, []string{"serve", "--inventory", rpSim.ready.Inventory,
		"--state-dir", filepath.Join(dir, "state"), "--log-level", "warn"}, env)

	tgDir := filepath.Join(dir, "telegraf")
	if err := os.MkdirAll(tgDir, 0o700); err != nil {
		b.Fatal(err)
	}
	outFile := filepath.Join(tgDir, "telegraf.out")
	config := filepath.Join(tgDir, "telegraf.conf")
	if err := os.WriteFile(config, []byte(telegrafConfig(b, tgDir, tgSim, sim.DefaultUsername, password, outFile)), 0o600); err != nil {
		b.Fatal(err)
	}
	telegraf := exec.CommandContext(ctx, opts.telegraf, "--config", config)
	telegraf.Env = env
	tgLog, err := os.Create(filepath.Join(tgDir, "telegraf.log"))
	if err != nil {
		b.Fatal(err)
	}
	defer tgLog.Close()
	telegraf.Stdout, telegraf.Stderr = tgLog, tgLog
	if err := telegraf.Start(); err != nil {
		b.Fatalf("telegraf: %v", err)
	}
	defer stopProcess(telegraf)

	// Warm-up: every BMC polled once by each tool (Telegraf's failures are
	// a result, not a reason to stop).
	waitFor(b, 2*opts.interval+2*time.Minute, func() bool { return len(scrapeFleet(b, listen).allPolls) >= opts.bmcs })
	if !within(2*opts.interval+time.Minute, func() bool {
		return len(readTelegrafOutput(b, outFile, time.Time{}, opts.interval, 0).polls) >= opts.bmcs
	}) {
		b.Logf("telegraf: not every BMC has lines after %v; measuring anyway (log: %s)", 2*opts.interval+time.Minute, tgLog.Name())
	}

	// Telegraf's ticks fall on multiples of the interval: start half an
	// interval after one, so each interval of the window holds one tick.
	start := time.Now().Add(opts.warmup).Truncate(opts.interval).Add(opts.interval / 2)
	for start.Before(time.Now().Add(opts.warmup + time.Second)) {
		start = start.Add(opts.interval)
	}
	time.Sleep(time.Until(start))
	end := start.Add(opts.window)

	rpReqBefore, tgReqBefore := simRequests(b, rpSim.ready.Admin), simRequests(b, tgSim.ready.Admin)
	rpBefore := scrapeFleet(b, listen)
	rpCPUBefore := processCPUSeconds(b, serve.Pid) + processChildrenCPUSeconds(b, serve.Pid)
	tgCPUBefore := processCPUSeconds(b, telegraf.Process.Pid) + processChildrenCPUSeconds(b, telegraf.Process.Pid)
	rss := sampleRSS([]int{serve.Pid, telegraf.Process.Pid}, 2*time.Second)
	time.Sleep(time.Until(end))
	rpAfter := scrapeFleet(b, listen)
	rpCPU := processCPUSeconds(b, serve.Pid) + processChildrenCPUSeconds(b, serve.Pid) - rpCPUBefore
	tgCPU := processCPUSeconds(b, telegraf.Process.Pid) + processChildrenCPUSeconds(b, telegraf.Process.Pid) - tgCPUBefore
	rpReqAfter, tgReqAfter := simRequests(b, rpSim.ready.Admin), simRequests(b, tgSim.ready.Admin)
	samples := rss.stop()
	rpPeak, tgPeak := processPeakRSS(b, serve.Pid), processPeakRSS(b, telegraf.Process.Pid)

	intervals := int(opts.window / opts.interval)
	cycles := float64(opts.bmcs * intervals)
	c := comparison{opts: opts, start: start}

	// rackpulse: polls and on-time as BenchmarkFleet counts them; values
	// from a sample of its Snapshots.
	rp := &c.rackpulse
	rp.cores = rpCPU / opts.window.Seconds()
	rp.peakRSS, rp.medianRSS = rpPeak, median(samples[0])
	rp.requestsPerCycle = (rpReqAfter - rpReqBefore) / cycles
	for server, ok := range rpAfter.okPolls {
		okInWindow := ok - rpBefore.okPolls[server]
		allInWindow := rpAfter.allPolls[server] - rpBefore.allPolls[server]
		rp.polls += okInWindow
		rp.failed += int(allInWindow - okInWindow)
		if okInWindow >= float64(intervals-1) && okInWindow == allInWindow && rpAfter.skipped[server] == rpBefore.skipped[server] {
			rp.onTime++
		}
	}
	var all, like, n float64
	for _, name := range sampleNames(rpSim.bmcs, 1000) {
		snap, ok := fetchSnapshot(b, listen, name)
		if !ok {
			continue
		}
		a, l := snapshotValues(snap)
		all, like, n = all+float64(a), like+float64(l), n+1
	}
	c.sampled = int(n)
	rp.valuesPerPoll, rp.likeValues = all/math.Max(1, n), like/math.Max(1, n)
	rp.valuesInWindow = rp.valuesPerPoll * rp.polls

	// Telegraf: everything from its output file, once it holds the lines
	// of the first tick after the window.
	if !within(opts.interval+2*time.Minute, func() bool {
		return !readTelegrafOutput(b, outFile, start, opts.interval, intervals).last.Before(end)
	}) {
		b.Fatalf("telegraf: no lines after the window within %v (log: %s)", opts.interval+2*time.Minute, tgLog.Name())
	}
	out := readTelegrafOutput(b, outFile, start, opts.interval, intervals)
	tg := &c.telegraf
	tg.cores = tgCPU / opts.window.Seconds()
	tg.peakRSS, tg.medianRSS = tgPeak, median(samples[1])
	tg.requestsPerCycle = (tgReqAfter - tgReqBefore) / cycles
	for _, buckets := range out.polls {
		tg.polls += float64(len(buckets))
		if len(buckets) == intervals {
			tg.onTime++
		}
	}
	tg.valuesInWindow = float64(out.values)
	tg.valuesPerPoll = tg.valuesInWindow / math.Max(1, tg.polls)
	tg.likeValues = tg.valuesPerPoll // every value Telegraf reads is a sensor, PSU or power reading
	tg.failed, tg.firstErrors = telegrafErrors(b, tgLog.Name(), start, end)
	return c
}

// telegrafErrors counts the errors ("E!" lines) Telegraf logged between
// start and end, and returns the first of each source (the bracketed
// plugin or "[agent]" that logged it).
func telegrafErrors(b *testing.B, file string, start, end time.Time) (int, map[string]string) {
	b.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		b.Fatal(err)
	}
	n, first := 0, map[string]string{}
	for line := range strings.Lines(string(raw)) {
		stamp, rest, ok := strings.Cut(line, " ")
		t, err := time.Parse(time.RFC3339, stamp)
		msg, isError := strings.CutPrefix(strings.TrimSpace(rest), "E! ")
		if !ok || err != nil || t.Before(start.Truncate(time.Second)) || !t.Before(end) || !isError {
			continue
		}
		n++
		source, _, _ := strings.Cut(msg, " ")
		if _, seen := first[source]; !seen {
			first[source] = msg
		}
	}
	return n, first
}

// within checks cond every second until it holds (true) or limit passes
// (false): reading Telegraf's output takes a while at a few thousand BMCs.
func within(limit time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(time.Second)
	}
	return true
}

type compareSim struct {
	ready simReady
	out   string // the simulator's --out: ca.pem and inventory.yaml
	bmcs  []sim.BMCInfo
}

func startCompareSim(b *testing.B, ctx context.Context, opts compareOptions, out string, env []string) compareSim {
	b.Helper()
	cmd := exec.CommandContext(ctx, opts.rackpulse, "sim", "--count", strconv.Itoa(opts.bmcs), "--mix", opts.mix,
		"--latency", opts.latency, "--base-port", "0", "--ipmi-base-port", "0", "--admin", "127.0.0.1:0", "--out", out,
		"--log-level", "info", "--log-format", "json")
	cmd.Env = env
	log, err := cmd.StderrPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { stopProcess(cmd) })
	s := compareSim{ready: simReadyLine(b, log, 2*time.Minute), out: out}
	s.bmcs = simBMCs(b, s.ready.Admin)
	return s
}

func simBMCs(b *testing.B, admin string) []sim.BMCInfo {
	b.Helper()
	resp, err := http.Get(admin + "/bmcs")
	if err != nil {
		b.Fatalf("simulator admin API: %v", err)
	}
	defer resp.Body.Close()
	var bmcs []sim.BMCInfo
	if err := json.NewDecoder(resp.Body).Decode(&bmcs); err != nil {
		b.Fatalf("simulator admin API: %v", err)
	}
	return bmcs
}

// simRequests is the number of requests (IPMI: datagrams) the simulator's
// BMCs have served, summed.
func simRequests(b *testing.B, admin string) float64 {
	b.Helper()
	var n int64
	for _, bmc := range simBMCs(b, admin) {
		n += bmc.Requests
	}
	return float64(n)
}

// systemIDs is the ComputerSystem id each profile serves, for Telegraf's
// computer_system_id.
var systemIDs = map[string]string{sim.ProfileLegacy: "System.Embedded.1", sim.ProfileModern: "1"}

// telegrafConfig is Telegraf's configuration for the simulator's fleet:
// agent defaults but the interval, one input per BMC tagged with its name,
// its own metrics, and line protocol to outFile.
func telegrafConfig(b *testing.B, dir string, s compareSim, user, password, outFile string) string {
	b.Helper()
	var c strings.Builder
	fmt.Fprintf(&c, "[agent]\n  interval = \"30s\"\n\n")
	fmt.Fprintf(&c, "[[outputs.file]]\n  files = [%q]\n  data_format = \"influx\"\n\n", outFile)
	fmt.Fprintf(&c, "[[inputs.internal]]\n\n")
	ipmitool := ""
	for _, bmc := range s.bmcs {
		switch bmc.Protocol {
		case "redfish":
			id, ok := systemIDs[bmc.Profile]
			if !ok {
				b.Fatalf("BMC %s: no ComputerSystem id known for profile %q", bmc.Name, bmc.Profile)
			}
			fmt.Fprintf(&c, "[[inputs.redfish]]\n  address = %q\n  username = %q\n  password = %q\n  computer_system_id = %q\n  tls_ca = %q\n",
				bmc.Address, user, password, id, filepath.Join(s.out, "ca.pem"))
		case "ipmi":
			if ipmitool == "" {
				ipmitool = ipmitoolWrapper(b, dir)
			}
			fmt.Fprintf(&c, "[[inputs.ipmi_sensor]]\n  path = %q\n  servers = [%q]\n  sensors = [\"sdr\", \"dcmi_power_reading\"]\n",
				ipmitool, fmt.Sprintf("%s:%s@lanplus(%s)", user, password, bmc.Address))
		default:
			b.Fatalf("BMC %s: protocol %q", bmc.Name, bmc.Protocol)
		}
		fmt.Fprintf(&c, "  [inputs.%s.tags]\n    bmc = %q\n\n", map[string]string{"redfish": "redfish", "ipmi": "ipmi_sensor"}[bmc.Protocol], bmc.Name)
	}
	return c.String()
}

// ipmitoolWrapper writes a script that runs ipmitool with Telegraf's
// "-H host:port" split into -H and -p: ipmi_sensor passes the address
// in its servers entry through as it is, and the simulated BMCs share
// 127.0.0.1 on different ports.
func ipmitoolWrapper(b *testing.B, dir string) string {
	b.Helper()
	ipmitool, err := exec.LookPath("ipmitool")
	if err != nil {
		b.Fatalf("IPMI comparison: ipmitool not found: %v", err)
	}
	script := filepath.Join(dir, "ipmitool")
	body := `#!/bin/bash
args=()
while [ $# -gt 0 ]; do
  if [ "$1" = -H ] && [[ $2 == *:* ]]; then
    args+=(-H "${2%:*}" -p "${2##*:}")
    shift 2
    continue
  fi
  args+=("$1")
  shift
done
exec ` + ipmitool + ` "${args[@]}"
`
	if err := os.WriteFile(script, []byte(body), 0o700); err != nil {
		b.Fatal(err)
	}
	return script
}

// telegrafOutput is what Telegraf wrote for the BMCs.
type telegrafOutput struct {
	polls  map[string]map[int]bool // per BMC, the intervals of the window with lines
	values int                     // numeric fields in the window
	last   time.Time               // latest BMC line
}

// readTelegrafOutput reads Telegraf's line protocol file and counts, for
// the BMC lines (redfish_* and ipmi_sensor) timestamped within intervals
// intervals from start, the numeric fields and the intervals each BMC has
// lines in. With intervals 0 every line counts, in interval 0.
func readTelegrafOutput(b *testing.B, file string, start time.Time, interval time.Duration, intervals int) telegrafOutput {
	b.Helper()
	out := telegrafOutput{polls: map[string]map[int]bool{}}
	f, err := os.Open(file)
	if errors.Is(err, os.ErrNotExist) {
		return out
	}
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	p := lp.NewStreamParser(bufio.NewReaderSize(f, 1<<20))
	for {
		m, err := p.Next()
		if errors.Is(err, lp.EOF) {
			break
		}
		var perr *lp.ParseError
		if errors.As(err, &perr) {
			continue // a line being written as we read
		}
		if err != nil {
			b.Fatalf("%s: %v", file, err)
		}
		ipmi := m.Name() == "ipmi_sensor"
		if !ipmi && !strings.HasPrefix(m.Name(), "redfish_") {
			continue
		}
		name := ""
		for _, t := range m.TagList() {
			if t.Key == "bmc" {
				name = t.Value
			}
		}
		if m.Time().After(out.last) {
			out.last = m.Time()
		}
		slot := 0
		if intervals > 0 {
			if m.Time().Before(start) {
				continue
			}
			if slot = int(m.Time().Sub(start) / interval); slot >= intervals {
				continue
			}
		}
		if out.polls[name] == nil {
			out.polls[name] = map[int]bool{}
		}
		out.polls[name][slot] = true
		for _, field := range m.FieldList() {
			if ipmi && field.Key == "status" {
				continue // 1 when the sensor reads ok: not a reading
			}
			switch field.Value.(type) {
			case float64, int64, uint64:
				out.values++
			}
		}
	}
	return out
}

// snapshotValues counts the numeric readings of a Snapshot: per sensor its
// value and each threshold; per PSU input, output and capacity watts and
// input volts; per power reading the BMC reports (not the sums over the
// PSUs that rackpulse adds) its watts, interval and capacity; per DIMM its
// size and error counts; per CPU its cores and temperature; per drive its
// capacity, life left and error counts. Each is counted when present, not
// when absent. DIMMs, CPUs and drives count only in a poll that read them
// (Poll.Read: the slow and static parts, every 5 min or less often), not
// when the Snapshot carries them over from an earlier poll; counting every
// BMC's last Snapshot averages both kinds of poll. like is the part
// Telegraf's inputs also read: sensors, PSUs and power readings. Identity
// (serials, models), health and state, logs and redundancy groups are not
// counted.
func snapshotValues(s bmc.Snapshot) (all, like int) {
	count := func(ps ...any) int {
		n := 0
		for _, p := range ps {
			switch v := p.(type) {
			case *float64:
				if v != nil {
					n++
				}
			case *int64:
				if v != nil {
					n++
				}
			case int:
				if v > 0 {
					n++
				}
			case int64:
				if v > 0 {
					n++
				}
			default:
				n++ // a value always present
			}
		}
		return n
	}
	for _, x := range s.Sensors {
		t := x.Thresholds
		like += count(x.Value, t.LowerCritical, t.LowerWarning, t.UpperWarning, t.UpperCritical)
	}
	for _, x := range s.PSUs {
		like += count(x.InputWatts, x.OutputWatts, x.CapacityWatts, x.InputVolts)
	}
	for _, x := range s.Power {
		if x.Source == bmc.PowerFromPSUInput || x.Source == bmc.PowerFromPSUOutput {
			continue // summed from the PSUs by rackpulse, not read
		}
		like += count(x.Watts, x.IntervalMin, x.CapacityWatts)
	}
	all = like
	read := func(p bmc.Part) bool { return slices.Contains(s.Poll.Read, p) }
	if read(bmc.PartMemory) {
		for _, x := range s.DIMMs {
			all += count(x.SizeMiB, x.CorrectableErrors, x.UncorrectableErrors)
		}
	}
	if read(bmc.PartCPU) {
		for _, x := range s.CPUs {
			all += count(x.Cores, x.TemperatureC)
		}
	}
	if read(bmc.PartStorage) {
		for _, x := range s.Drives {
			all += count(x.CapacityBytes, x.LifeLeftPercent, x.CorrectableErrors, x.UncorrectableErrors, x.MediaErrors)
		}
	}
	return all, like
}

func fetchSnapshot(b *testing.B, listen, server string) (bmc.Snapshot, bool) {
	b.Helper()
	resp, err := http.Get("http://" + listen + "/api/servers?server=" + server)
	if err != nil {
		b.Fatalf("snapshot of %s: %v", server, err)
	}
	defer resp.Body.Close()
	var s bmc.Snapshot
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		b.Logf("snapshot of %s: %s: %s", server, resp.Status, strings.TrimSpace(string(body)))
		return s, false
	}
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		b.Fatalf("snapshot of %s: %v", server, err)
	}
	return s, true
}

// sampleNames picks up to n BMC names spread evenly over the fleet.
func sampleNames(bmcs []sim.BMCInfo, n int) []string {
	step := max(1, len(bmcs)/n)
	var names []string
	for i := 0; i < len(bmcs) && len(names) < n; i += step {
		names = append(names, bmcs[i].Name)
	}
	return names
}

// rssSampler reads the VmRSS of processes every period until stopped.
type rssSampler struct {
	done    chan struct{}
	wg      sync.WaitGroup
	samples [][]int64
}

func sampleRSS(pids []int, period time.Duration) *rssSampler {
	s := &rssSampler{done: make(chan struct{}), samples: make([][]int64, len(pids))}
	s.wg.Go(func() {
		tick := time.NewTicker(period)
		defer tick.Stop()
		for {
			for i, pid := range pids {
				if rss, err := processRSS(pid); err == nil {
					s.samples[i] = append(s.samples[i], rss)
				}
			}
			select {
			case <-s.done:
				return
			case <-tick.C:
			}
		}
	})
	return s
}

// stop ends the sampling and returns the samples, per process, in bytes.
func (s *rssSampler) stop() [][]int64 {
	close(s.done)
	s.wg.Wait()
	return s.samples
}

func processRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("pid %d: no VmRSS in /proc status", pid)
}

func median(xs []int64) int64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(xs))
	return s[len(s)/2]
}

// telegrafBinary is $RACKPULSE_TELEGRAF, else tools/bin/telegraf.
func telegrafBinary(b *testing.B) string {
	b.Helper()
	path := os.Getenv("RACKPULSE_TELEGRAF")
	if path == "" {
		path = filepath.Join("..", "..", "tools", "bin", "telegraf")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := os.Stat(abs); err != nil {
		b.Fatalf("telegraf: %v (make bench-compare installs it: bash .ci/telegraf install)", err)
	}
	return abs
}

// telegrafVersion is the module version the binary was built from (go
// install leaves Telegraf's own --version at "unknown"), or "unknown".
func telegrafVersion(bin string) string {
	out, err := exec.Command("go", "version", "-m", bin).Output()
	if err != nil {
		return "unknown"
	}
	for line := range strings.Lines(string(out)) {
		if f := strings.Fields(line); len(f) >= 3 && f[0] == "mod" && f[1] == "github.com/influxdata/telegraf" {
			return f[2]
		}
	}
	return "unknown"
}

// print writes the comparison as a Markdown table.
func (c comparison) print(w io.Writer) {
	o, rp, tg := c.opts, c.rackpulse, c.telegraf
	fmt.Fprintf(w, "\n%d simulated BMCs (%s, %s per request), every %v, window %v from %s; %s; rackpulse values from %d Snapshots\n\n",
		o.bmcs, o.mix, o.latency, o.interval, o.window, c.start.UTC().Format(time.RFC3339), o.telegrafVersion, c.sampled)
	fmt.Fprintln(w, "| | rackpulse | Telegraf | rackpulse/Telegraf |")
	fmt.Fprintln(w, "|---|---:|---:|---:|")
	row := func(name, format string, r, t float64) {
		ratio := "–"
		if t != 0 {
			ratio = fmt.Sprintf("%.2f", r/t)
		}
		fmt.Fprintf(w, "| %s | "+format+" | "+format+" | %s |\n", name, r, t, ratio)
	}
	mib := func(n int64) float64 { return float64(n) / (1 << 20) }
	row("CPU, cores (average)", "%.3f", rp.cores, tg.cores)
	row("RSS peak, MiB", "%.0f", mib(rp.peakRSS), mib(tg.peakRSS))
	row("RSS median, MiB", "%.0f", mib(rp.medianRSS), mib(tg.medianRSS))
	row("requests per BMC per cycle", "%.1f", rp.requestsPerCycle, tg.requestsPerCycle)
	row("values per BMC per poll", "%.1f", rp.valuesPerPoll, tg.valuesPerPoll)
	row("like for like: sensors, PSUs, power", "%.1f", rp.likeValues, tg.likeValues)
	row("CPU core-seconds per 1,000 values", "%.3f", rp.cpuPerKValue(o.window), tg.cpuPerKValue(o.window))
	row("BMC-polls with data in the window", "%.0f", rp.polls, tg.polls)
	row("on time, % of BMCs", "%.1f", 100*float64(rp.onTime)/float64(o.bmcs), 100*float64(tg.onTime)/float64(o.bmcs))
	row("failed polls (Telegraf: errors logged)", "%.0f", float64(rp.failed), float64(tg.failed))
	fmt.Fprintln(w)
	for _, source := range slices.Sorted(maps.Keys(tg.firstErrors)) {
		fmt.Fprintf(w, "Telegraf's first error from %s in the window: %s\n", source, tg.firstErrors[source])
	}
	if len(tg.firstErrors) > 0 {
		fmt.Fprintln(w)
	}
}

// report reports the key figures as benchmark metrics, their units
// prefixed with prefix.
func (c comparison) report(b *testing.B, prefix string) {
	rp, tg, w := c.rackpulse, c.telegraf, c.opts.window
	for _, m := range []struct {
		unit string
		r, t float64
	}{
		{"cores", rp.cores, tg.cores},
		{"peak-MiB", float64(rp.peakRSS) / (1 << 20), float64(tg.peakRSS) / (1 << 20)},
		{"requests/BMC/cycle", rp.requestsPerCycle, tg.requestsPerCycle},
		{"values/poll", rp.valuesPerPoll, tg.valuesPerPoll},
		{"cpu-s/1000values", rp.cpuPerKValue(w), tg.cpuPerKValue(w)},
		{"%on-time", 100 * float64(rp.onTime) / float64(c.opts.bmcs), 100 * float64(tg.onTime) / float64(c.opts.bmcs)},
	} {
		b.ReportMetric(m.r, prefix+"rackpulse-"+m.unit)
		b.ReportMetric(m.t, prefix+"telegraf-"+m.unit)
	}
}
