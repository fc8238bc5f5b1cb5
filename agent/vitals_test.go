package agent

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// vitalsRoot is a root whose proc and sys point at a fixture snapshot;
// use switches them to another, as the host's files change between
// reads.
type vitalsRoot struct {
	t   *testing.T
	dir string
}

func newVitalsRoot(t *testing.T, snapshot string) *vitalsRoot {
	r := &vitalsRoot{t: t, dir: t.TempDir()}
	r.use(snapshot)
	return r
}

func (r *vitalsRoot) use(snapshot string) {
	r.t.Helper()
	src, err := filepath.Abs(filepath.Join("testdata", snapshot))
	if err != nil {
		r.t.Fatal(err)
	}
	for _, d := range []string{"proc", "sys"} {
		link := filepath.Join(r.dir, d)
		os.Remove(link)
		if _, err := os.Stat(filepath.Join(src, d)); err != nil {
			continue
		}
		if err := os.Symlink(filepath.Join(src, d), link); err != nil {
			r.t.Fatal(err)
		}
	}
}

// vitalsNear compares rates computed in floating point.
func vitalsNear(got, want float64) bool {
	return math.Abs(got-want) <= 1e-9*math.Max(1, math.Abs(want))
}

func vitalsCheckDisks(t *testing.T, got, want []DiskIO) {
	t.Helper()
	if len(got) != len(want) {
		var names []string
		for _, d := range got {
			names = append(names, d.Device)
		}
		t.Fatalf("disks %v, want %d", names, len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Device != w.Device || g.Rotational != w.Rotational ||
			!vitalsNear(g.ReadIOPS, w.ReadIOPS) || !vitalsNear(g.WriteIOPS, w.WriteIOPS) ||
			!vitalsNear(g.AvgLatencyMs, w.AvgLatencyMs) || !vitalsNear(g.AvgQueue, w.AvgQueue) ||
			!vitalsNear(g.UtilizationPct, w.UtilizationPct) {
			t.Errorf("disk %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
}

const vitalsKB = 1024

// The server fixture's NICs at t0 and t1 (lo left out).
var (
	serverNICs0 = []NICStats{
		{Name: "bond0", RxErrors: 17, TxErrors: 0, RxDropped: 99235, TxDropped: 3},
		{Name: "eno1", RxDropped: 1203},
		{Name: "eno2"},
		{Name: "ens1f0np0", RxDropped: 48213},
		{Name: "ens1f1np1", RxErrors: 17, RxDropped: 51022, TxDropped: 3},
	}
	serverNICs1 = []NICStats{
		{Name: "bond0", RxErrors: 19, TxErrors: 0, RxDropped: 99250, TxDropped: 3},
		{Name: "eno1", RxDropped: 1203},
		{Name: "eno2"},
		{Name: "ens1f0np0", RxDropped: 48220},
		{Name: "ens1f1np1", RxErrors: 19, RxDropped: 51030, TxDropped: 3},
	}
)

// TestVitalsServer reads the server fixture's two snapshots, 15 s apart,
// and checks every rate against the deltas between them
// (testdata/proc-server/make-fixtures.py).
func TestVitalsServer(t *testing.T) {
	root := newVitalsRoot(t, "proc-server/t0")
	v := &VitalsReader{Root: root.dir}
	t0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

	// First read: counters and gauges, no rates.
	got, problems := v.Read(t0)
	if len(problems) != 0 {
		t.Fatalf("problems: %+v", problems)
	}
	if got.Interval != 0 || got.CPUUsedPct != 0 {
		t.Errorf("first read: interval %v, CPU %v%%; want no rates", got.Interval, got.CPUUsedPct)
	}
	if got.Load1 != 4.11 || got.Load5 != 3.87 || got.Load15 != 3.62 {
		t.Errorf("load %v %v %v", got.Load1, got.Load5, got.Load15)
	}
	if got.MemTotal != 263842172*vitalsKB || got.MemAvail != 201234816*vitalsKB {
		t.Errorf("memory %d of %d", got.MemAvail, got.MemTotal)
	}
	vitalsCheckDisks(t, got.Disks, []DiskIO{
		{Device: "nvme0n1"}, {Device: "nvme1n1"},
		{Device: "sda", Rotational: true}, {Device: "sdb", Rotational: true},
		{Device: "sdc", Rotational: true}, {Device: "sdd", Rotational: true},
		{Device: "sde", Rotational: true}, {Device: "sdf", Rotational: true},
		{Device: "sdg", Rotational: true}, {Device: "sdh", Rotational: true},
		{Device: "md127"},
	})
	if !vitalsEqualNICs(got.NICs, serverNICs0) {
		t.Errorf("NICs:\n got %+v\nwant %+v", got.NICs, serverNICs0)
	}

	// 15 s later.
	root.use("proc-server/t1")
	got, problems = v.Read(t0.Add(15 * time.Second))
	if len(problems) != 0 {
		t.Fatalf("problems: %+v", problems)
	}
	if got.Interval != 15*time.Second {
		t.Errorf("interval %v, want 15s", got.Interval)
	}
	// 15 s on 32 threads: 48000 ticks, of which idle 29871 and iowait 2207.
	if want := 100 * float64(48000-29871-2207) / 48000; !vitalsNear(got.CPUUsedPct, want) {
		t.Errorf("CPU used %v%%, want %v%%", got.CPUUsedPct, want)
	}
	if got.Load1 != 3.95 || got.Load5 != 3.85 || got.Load15 != 3.62 {
		t.Errorf("load %v %v %v", got.Load1, got.Load5, got.Load15)
	}
	if got.MemTotal != 263842172*vitalsKB || got.MemAvail != 201187444*vitalsKB {
		t.Errorf("memory %d of %d", got.MemAvail, got.MemTotal)
	}
	// Each disk's Δreads, Δwrites over 15 s; Δ(read+write ticks) over
	// Δ(reads+writes); Δweighted ticks and Δio ticks over 15000 ms.
	vitalsCheckDisks(t, got.Disks, []DiskIO{
		// 45000 r, 30000 w, 4500+6000 ms, weighted 10710, io 5250.
		{Device: "nvme0n1", ReadIOPS: 3000, WriteIOPS: 2000, AvgLatencyMs: 0.14, AvgQueue: 0.714, UtilizationPct: 35},
		// 44850 r, 30150 w, 4485+6030 ms, weighted 10800, io 5310.
		{Device: "nvme1n1", ReadIOPS: 2990, WriteIOPS: 2010, AvgLatencyMs: 0.1402, AvgQueue: 0.72, UtilizationPct: 35.4},
		// 1500 r, 3000 w, 13500+27000 ms, weighted 40800, io 10500.
		{Device: "sda", Rotational: true, ReadIOPS: 100, WriteIOPS: 200, AvgLatencyMs: 9, AvgQueue: 2.72, UtilizationPct: 70},
		// 1203 r, 2851 w, 14436+19957 ms, weighted 35102, io 9873.
		{Device: "sdb", Rotational: true, ReadIOPS: 80.2, WriteIOPS: 2851.0 / 15, AvgLatencyMs: 34393.0 / 4054,
			AvgQueue: 35102.0 / 15000, UtilizationPct: 65.82},
		// 1650 r, 3150 w, 16500+31500 ms, weighted 48320, io 11400.
		{Device: "sdc", Rotational: true, ReadIOPS: 110, WriteIOPS: 210, AvgLatencyMs: 10, AvgQueue: 48320.0 / 15000, UtilizationPct: 76},
		// 900 r, 2100 w, 7200+16800 ms, weighted 24000, io 6750.
		{Device: "sdd", Rotational: true, ReadIOPS: 60, WriteIOPS: 140, AvgLatencyMs: 8, AvgQueue: 1.6, UtilizationPct: 45},
		// 1350 r, 2700 w, 12150+24300 ms, weighted 36450, io 9450.
		{Device: "sde", Rotational: true, ReadIOPS: 90, WriteIOPS: 180, AvgLatencyMs: 9, AvgQueue: 2.43, UtilizationPct: 63},
		// 1425 r, 2925 w, 12825+26325 ms, weighted 39150, io 10200.
		{Device: "sdf", Rotational: true, ReadIOPS: 95, WriteIOPS: 195, AvgLatencyMs: 9, AvgQueue: 2.61, UtilizationPct: 68},
		// Rebuilding: 4410 r, 90 w, 151200+3150 ms, weighted 154533, io
		// 15012 (past the interval: capped).
		{Device: "sdg", Rotational: true, ReadIOPS: 294, WriteIOPS: 6, AvgLatencyMs: 34.3, AvgQueue: 10.3022, UtilizationPct: 100},
		// Idle.
		{Device: "sdh", Rotational: true},
		// Inserted since t0: no rates yet.
		{Device: "sdi", Rotational: true},
		// md: 600 r, 5100 w, no time accounted.
		{Device: "md127", ReadIOPS: 40, WriteIOPS: 340},
	})
	if !vitalsEqualNICs(got.NICs, serverNICs1) {
		t.Errorf("NICs:\n got %+v\nwant %+v", got.NICs, serverNICs1)
	}

	// The same time again: no interval, no rates.
	got, _ = v.Read(t0.Add(15 * time.Second))
	if got.Interval != 0 || got.CPUUsedPct != 0 || got.Disks[2].ReadIOPS != 0 {
		t.Errorf("no time passed: interval %v, CPU %v, sda %+v", got.Interval, got.CPUUsedPct, got.Disks[2])
	}
}

func vitalsEqualNICs(a, b []NICStats) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestVitalsCountersBack: counters that went back (a disk replaced under
// its name, a snapshot from before) give no rates, never negative ones.
func TestVitalsCountersBack(t *testing.T) {
	root := newVitalsRoot(t, "proc-server/t1")
	v := &VitalsReader{Root: root.dir}
	t0 := time.Now()
	v.Read(t0)
	root.use("proc-server/t0")
	got, problems := v.Read(t0.Add(15 * time.Second))
	if len(problems) != 0 {
		t.Fatalf("problems: %+v", problems)
	}
	if got.CPUUsedPct != 0 {
		t.Errorf("CPU %v%%, want 0", got.CPUUsedPct)
	}
	for _, d := range got.Disks {
		if d.ReadIOPS != 0 || d.WriteIOPS != 0 || d.AvgLatencyMs != 0 || d.AvgQueue != 0 || d.UtilizationPct != 0 {
			t.Errorf("disk %+v: want no rates", d)
		}
	}
}

func TestVitalsIncludeDM(t *testing.T) {
	root := newVitalsRoot(t, "proc-server/t0")
	v := &VitalsReader{Root: root.dir, IncludeDM: true}
	t0 := time.Now()
	v.Read(t0)
	root.use("proc-server/t1")
	got, _ := v.Read(t0.Add(15 * time.Second))
	var dm []DiskIO
	for _, d := range got.Disks {
		if strings.HasPrefix(d.Device, "dm-") {
			dm = append(dm, d)
		}
	}
	want := []DiskIO{
		// 1500 r, 3000 w, 13500+27000 ms, weighted 40500, io 10500.
		{Device: "dm-0", Rotational: true, ReadIOPS: 100, WriteIOPS: 200, AvgLatencyMs: 9, AvgQueue: 2.7, UtilizationPct: 70},
	}
	for i := 1; i < 8; i++ {
		want = append(want, DiskIO{Device: "dm-" + string(rune('0'+i)), Rotational: true})
	}
	vitalsCheckDisks(t, dm, want)
}

// TestVitalsMissing: what cannot be read is a Problem naming the file;
// the rest is read.
func TestVitalsMissing(t *testing.T) {
	t.Run("no root", func(t *testing.T) {
		v := &VitalsReader{Root: filepath.Join(t.TempDir(), "nothing")}
		got, problems := v.Read(time.Now())
		if got != nil || len(problems) != 1 || !strings.Contains(problems[0].Message, "opening /proc") {
			t.Errorf("got %+v, problems %+v", got, problems)
		}
	})
	t.Run("only /proc/stat", func(t *testing.T) {
		dir := t.TempDir()
		os.MkdirAll(filepath.Join(dir, "proc"), 0o755)
		stat, _ := os.ReadFile("testdata/proc-server/t0/proc/stat")
		os.WriteFile(filepath.Join(dir, "proc", "stat"), stat, 0o644)
		v := &VitalsReader{Root: dir}
		got, problems := v.Read(time.Now())
		if got == nil {
			t.Fatalf("nil vitals, problems %+v", problems)
		}
		var paths []string
		for _, p := range problems {
			if p.Part != PartVitals {
				t.Errorf("problem part %q", p.Part)
			}
			paths = append(paths, strings.TrimPrefix(p.Path, dir))
		}
		want := []string{"/proc/loadavg", "/proc/meminfo", "/sys", "/proc/diskstats", "/proc/net/dev"}
		if strings.Join(paths, " ") != strings.Join(want, " ") {
			t.Errorf("problems at %v, want %v (%+v)", paths, want, problems)
		}
	})
	t.Run("no /sys", func(t *testing.T) {
		// Partitions are told by name; rotational is unknown.
		dir := t.TempDir()
		src, _ := filepath.Abs("testdata/proc-server/t0/proc")
		os.Symlink(src, filepath.Join(dir, "proc"))
		v := &VitalsReader{Root: dir}
		got, problems := v.Read(time.Now())
		if len(problems) != 1 || problems[0].Path != filepath.Join(dir, "sys") {
			t.Errorf("problems %+v, want one for /sys", problems)
		}
		vitalsCheckDisks(t, got.Disks, []DiskIO{
			{Device: "nvme0n1"}, {Device: "nvme1n1"},
			{Device: "sda"}, {Device: "sdb"}, {Device: "sdc"}, {Device: "sdd"},
			{Device: "sde"}, {Device: "sdf"}, {Device: "sdg"}, {Device: "sdh"},
			{Device: "md127"},
		})
	})
}

// TestVitalsHost reads this machine's own /proc and /sys twice.
func TestVitalsHost(t *testing.T) {
	if _, err := os.Stat("/proc/stat"); err != nil {
		t.Skip("no /proc here")
	}
	v := &VitalsReader{}
	t0 := time.Now()
	if _, problems := v.Read(t0); len(problems) != 0 {
		t.Fatalf("problems: %+v", problems)
	}
	time.Sleep(100 * time.Millisecond)
	got, problems := v.Read(time.Now())
	if len(problems) != 0 {
		t.Fatalf("problems: %+v", problems)
	}
	if got.Interval <= 0 || got.MemTotal <= 0 || got.MemAvail <= 0 || got.CPUUsedPct < 0 || got.CPUUsedPct > 100 {
		t.Errorf("vitals %+v", got)
	}
	for _, d := range got.Disks {
		if strings.HasPrefix(d.Device, "loop") || d.UtilizationPct < 0 || d.UtilizationPct > 100 {
			t.Errorf("disk %+v", d)
		}
	}
	for _, n := range got.NICs {
		if n.Name == "lo" {
			t.Error("lo listed")
		}
	}
}
