package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rackpulse/rackpulse/agent"
)

// BenchmarkAgentHost runs the real `rackpulse agent` binary on a fixture
// host with 24 data disks and two NVMe drives (the Supermicro X11DPi tree:
// SMBIOS, EDAC, hwmon; the 24-disk /proc and /sys/block), reading SMART
// through the stand-in smartctl, and sending every report to a receiver.
//
// The cadences are compressed 30-fold (a report every second, SMART every
// 10 s, the inventory every 2 min, as 30 s, 5 min and 1 h are to each
// other), so a window of AGENT_BENCH_WINDOW (default 2 min) holds an hour
// of production work; CPU time over the window divided by 30 is the share
// of one core the agent takes at the default cadences. Reported: that
// share for the agent itself (agent-core-%) and with the smartctl runs it
// waited for (with-smartctl-core-%: here bash and a fixture file, not a
// real smartctl on real disks), and the agent's peak resident set.
//
// Run it with `make bench-agent` (RACKPULSE_AGENT_BENCH=1); it is skipped
// otherwise, since it takes minutes.
func BenchmarkAgentHost(b *testing.B) {
	if os.Getenv("RACKPULSE_AGENT_BENCH") == "" {
		b.Skip("agent benchmark: set RACKPULSE_AGENT_BENCH=1 (make bench-agent)")
	}
	window := envDuration(b, "AGENT_BENCH_WINDOW", 2*time.Minute)
	const compression = 30

	dir := b.TempDir()
	bin := filepath.Join(dir, "rackpulse")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	root := benchAgentHost(b, filepath.Join(dir, "host"))
	smartctl := benchSmartctl(b, filepath.Join(dir, "smartctl"), root)

	var reports, drives atomic.Int64
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var rep agent.Report
		if err := json.NewDecoder(io.LimitReader(r.Body, 4<<20)).Decode(&rep); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		reports.Add(1)
		drives.Store(int64(len(rep.Drives)))
		w.WriteHeader(http.StatusAccepted)
	}))
	defer receiver.Close()
	token := filepath.Join(dir, "agent.token")
	if err := os.WriteFile(token, []byte("bench-token\n"), 0o600); err != nil {
		b.Fatal(err)
	}

	cmd := exec.CommandContext(b.Context(), bin, "agent", "--root", root, "--smartctl", smartctl,
		"--poller", receiver.URL, "--server", "bench-host", "--token-file", token,
		"--interval", "1s", "--smart-every", "10s", "--inventory-every", "2m", "--log-level", "warn")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer stopProcess(cmd)
	waitFor(b, time.Minute, func() bool { return reports.Load() >= 1 })
	if n := drives.Load(); n != 26 {
		b.Fatalf("the agent reported %d drives, want the host's 26", n)
	}

	b.ResetTimer()
	self0, children0 := processCPUWithChildren(b, cmd.Process.Pid)
	reports0 := reports.Load()
	time.Sleep(window)
	self1, children1 := processCPUWithChildren(b, cmd.Process.Pid)
	sent := reports.Load() - reports0
	b.StopTimer()
	peak := processPeakRSS(b, cmd.Process.Pid)

	share := func(cpu float64) float64 { return cpu / window.Seconds() / compression * 100 }
	b.ReportMetric(share(self1-self0), "agent-core-%")
	b.ReportMetric(share(self1-self0+children1-children0), "with-smartctl-core-%")
	b.ReportMetric(float64(peak)/(1<<20), "peak-RSS-MiB")
	b.ReportMetric(float64(sent), "reports")
	b.Logf("window %v (%v at production cadences): %d reports; agent CPU %.2f s, smartctl runs %.2f s; peak RSS %.1f MiB",
		window, window*compression, sent, self1-self0, children1-children0, float64(peak)/(1<<20))
}

// benchAgentHost assembles the fixture host under dir: the X11DPi's /sys
// (SMBIOS tables, EDAC, hwmon) with the 24-disk host's /proc and
// /sys/block, and a /dev node for each disk.
func benchAgentHost(b *testing.B, dir string) string {
	b.Helper()
	for _, src := range []string{"../../agent/testdata/supermicro-x11dpi", "../../agent/testdata/proc-24disk"} {
		if err := os.CopyFS(dir, os.DirFS(src)); err != nil {
			b.Fatal(err)
		}
	}
	blocks, err := os.ReadDir(filepath.Join(dir, "sys/block"))
	if err != nil {
		b.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "dev"), 0o755); err != nil {
		b.Fatal(err)
	}
	for _, e := range blocks {
		name := e.Name()
		if strings.HasPrefix(name, "nvme") {
			name = strings.TrimSuffix(name, "n1")
		}
		if err := os.WriteFile(filepath.Join(dir, "dev", name), nil, 0o600); err != nil {
			b.Fatal(err)
		}
	}
	return dir
}

// benchSmartctl copies the stand-in smartctl to dir with a device table
// giving each of the host's disks a fixture (cycling through the healthy
// and failing ATA, SAS and NVMe outputs, one disk in standby).
func benchSmartctl(b *testing.B, dir, host string) string {
	b.Helper()
	if err := os.CopyFS(dir, os.DirFS("../../agent/testdata/smartctl")); err != nil {
		b.Fatal(err)
	}
	sata := []string{"ata-hdd-ok_WUH721818ALE6L4.json", "ata-hdd-errlog-exit64_HUS724020ALE640.json", "ata-ssd-ok_INTEL_SSDSC2KB480G7.json",
		"ata-ssd-ok_SAMSUNG_MZ7LH1T9HMLT.json", "ata-ssd-exit4_KINGSTON_SA400M8120G.json", "scsi-sas-ok_SEAGATE_ST373453LC.json", "standby-exit2_rackpulse.json"}
	nvme := []string{"nvme-ok_Samsung_970_EVO_Plus.json", "nvme-FAILED-exit8_SAMSUNG_MZWLL3T2HAJQ.json"}
	devs, err := os.ReadDir(filepath.Join(host, "dev"))
	if err != nil {
		b.Fatal(err)
	}
	var table strings.Builder
	table.WriteString("# The benchmark host's disks (written by BenchmarkAgentHost).\n")
	for i, d := range devs {
		name, fixtures, typ := d.Name(), sata, "sat"
		if strings.HasPrefix(name, "nvme") {
			fixtures, typ = nvme, "nvme"
		}
		fixture := fixtures[i%len(fixtures)]
		// Read as the scan names it (-d sat, -d nvme) or as /sys/block
		// adds it (no -d).
		fmt.Fprintf(&table, "%s\t-\t%s\n%s\t%s\t%s\n", name, fixture, name, typ, fixture)
	}
	if err := os.WriteFile(filepath.Join(dir, "devices.tsv"), []byte(table.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	return filepath.Join(dir, "smartctl")
}

// processCPUWithChildren is a process's CPU seconds (user + system) and
// its waited-for children's, from /proc.
func processCPUWithChildren(b *testing.B, pid int) (self, children float64) {
	b.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	fields := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
	ticks := func(i int) float64 {
		v, _ := strconv.ParseFloat(fields[i], 64)
		return v / 100 // USER_HZ
	}
	return ticks(11) + ticks(12), ticks(13) + ticks(14)
}
