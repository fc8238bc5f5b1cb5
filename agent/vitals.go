package agent

import (
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/procfs"
	"github.com/prometheus/procfs/blockdevice"
)

// VitalsReader reads the host's load with prometheus/procfs: CPU use
// (/proc/stat), load averages (/proc/loadavg), memory (/proc/meminfo), per
// disk I/O from /proc/diskstats with /sys/block/<disk>/queue/rotational,
// and per NIC error and drop counters (/proc/net/dev). It keeps the
// previous sample and returns rates since it. The zero value reads the
// host's /proc and /sys; it is safe for concurrent use.
type VitalsReader struct {
	// Root is the directory /proc and /sys are under ("" or / on the
	// host, /host in a container).
	Root string
	// IncludeDM lists device-mapper devices (dm-0, ...) as disks too.
	// They are left out by default: their I/O is their disks' I/O.
	IncludeDM bool

	mu   sync.Mutex
	prev *vitalsSample
}

// vitalsSample is what rates are computed from.
type vitalsSample struct {
	at    time.Time
	cpu   *procfs.CPUStat
	disks map[string]blockdevice.IOStats
}

// Read reads the vitals at now. The first call (and a call whose now is
// not after the previous one's) returns counters and gauges only: rates
// zero and Interval 0. Later calls return the rates over the time since
// the previous call:
//
//   - CPUUsedPct: the share of CPU time not idle and not waiting for I/O
//     (user, nice, system, irq, softirq, steal over their sum with idle and
//     iowait; guest time is already in user).
//   - per disk (whole disks: no partitions, loop, ram or zram devices, no
//     dm- unless IncludeDM): read and write IOPS; AvgLatencyMs, the time
//     the completed reads and writes took over how many completed
//     (Δ(read+write ticks)/Δ(reads+writes)); AvgQueue, Δweighted ticks/Δt;
//     UtilizationPct, Δio ticks/Δt (capped at 100: the kernel's accounting
//     can run a little past the interval). A disk that is new, or whose
//     counters went back (replaced under the same name), has no rates
//     this time.
//
// Load averages, memory and the NIC counters (cumulative; lo left out)
// are as read. A file that cannot be read is a Problem and its part of
// Vitals is left empty; nil Vitals when /proc cannot be opened at all.
func (v *VitalsReader) Read(now time.Time) (*Vitals, []Problem) {
	v.mu.Lock()
	defer v.mu.Unlock()

	root := v.Root
	if root == "" {
		root = "/"
	}
	procDir := filepath.Join(root, "proc")
	sysDir := filepath.Join(root, "sys")
	problem := func(path string, format string, args ...any) Problem {
		return Problem{Part: PartVitals, Path: path, Message: fmt.Sprintf(format, args...)}
	}
	var problems []Problem

	pfs, err := procfs.NewFS(procDir)
	if err != nil {
		return nil, []Problem{problem(procDir, "opening /proc: %v", err)}
	}

	cur := &vitalsSample{at: now, disks: map[string]blockdevice.IOStats{}}
	prev := v.prev
	var dt time.Duration
	if prev != nil && now.After(prev.at) {
		dt = now.Sub(prev.at)
	} else {
		prev = nil
	}
	out := &Vitals{Interval: dt, Disks: []DiskIO{}, NICs: []NICStats{}}

	if stat, err := pfs.Stat(); err != nil {
		problems = append(problems, problem(filepath.Join(procDir, "stat"), "reading CPU time: %v", err))
	} else {
		cur.cpu = &stat.CPUTotal
		if prev != nil && prev.cpu != nil {
			out.CPUUsedPct = cpuUsedPct(*prev.cpu, stat.CPUTotal)
		}
	}

	if load, err := pfs.LoadAvg(); err != nil {
		problems = append(problems, problem(filepath.Join(procDir, "loadavg"), "reading load averages: %v", err))
	} else {
		out.Load1, out.Load5, out.Load15 = load.Load1, load.Load5, load.Load15
	}

	if mem, err := pfs.Meminfo(); err != nil {
		problems = append(problems, problem(filepath.Join(procDir, "meminfo"), "reading memory: %v", err))
	} else {
		if mem.MemTotalBytes != nil {
			out.MemTotal = int64(*mem.MemTotalBytes)
		}
		if mem.MemAvailableBytes != nil {
			out.MemAvail = int64(*mem.MemAvailableBytes)
		}
	}

	disks, p := v.readDisks(procDir, sysDir, prev, cur, dt)
	out.Disks = append(out.Disks, disks...)
	problems = append(problems, p...)

	if nd, err := pfs.NetDev(); err != nil {
		problems = append(problems, problem(filepath.Join(procDir, "net", "dev"), "reading NIC counters: %v", err))
	} else {
		for name, l := range nd {
			if name == "lo" {
				continue
			}
			out.NICs = append(out.NICs, NICStats{Name: name,
				RxErrors: int64(l.RxErrors), TxErrors: int64(l.TxErrors),
				RxDropped: int64(l.RxDropped), TxDropped: int64(l.TxDropped)})
		}
		sort.Slice(out.NICs, func(i, j int) bool { return out.NICs[i].Name < out.NICs[j].Name })
	}

	v.prev = cur
	return out, problems
}

// cpuUsedPct is the share of CPU time between two samples that was not
// idle or iowait.
func cpuUsedPct(a, b procfs.CPUStat) float64 {
	total := func(c procfs.CPUStat) float64 {
		return c.User + c.Nice + c.System + c.Idle + c.Iowait + c.IRQ + c.SoftIRQ + c.Steal
	}
	dTotal := total(b) - total(a)
	dIdle := (b.Idle + b.Iowait) - (a.Idle + a.Iowait)
	if dTotal <= 0 || dIdle < 0 || dIdle > dTotal {
		return 0
	}
	return 100 * (dTotal - dIdle) / dTotal
}

// vitalsPartition matches partition names, for when /sys/block cannot be
// read to tell whole disks from partitions.
var vitalsPartition = regexp.MustCompile(`^((sd|hd|vd|xvd)[a-z]+[0-9]+|(nvme[0-9]+n[0-9]+|mmcblk[0-9]+|nbd[0-9]+|md[0-9]+)p[0-9]+)$`)

// isDisk reports whether a diskstats device is listed: whole (in
// /sys/block, when known) and not a loop, ram or (unless asked)
// device-mapper device.
func (v *VitalsReader) isDisk(name string, whole map[string]bool) bool {
	switch {
	case strings.HasPrefix(name, "loop"), strings.HasPrefix(name, "ram"), strings.HasPrefix(name, "zram"):
		return false
	case strings.HasPrefix(name, "dm-") && !v.IncludeDM:
		return false
	case whole != nil:
		return whole[name]
	}
	return !vitalsPartition.MatchString(name)
}

// readDisks reads /proc/diskstats and each disk's rotational flag, records
// the counters in cur and returns each disk's rates since prev.
func (v *VitalsReader) readDisks(procDir, sysDir string, prev, cur *vitalsSample, dt time.Duration) ([]DiskIO, []Problem) {
	var problems []Problem
	bfs, err := blockdevice.NewFS(procDir, sysDir)
	haveSys := err == nil
	if !haveSys {
		problems = append(problems, Problem{Part: PartVitals, Path: sysDir,
			Message: fmt.Sprintf("opening /sys (partitions told by name, rotational unknown): %v", err)})
		// blockdevice wants both mount points; /proc alone serves
		// diskstats.
		if bfs, err = blockdevice.NewFS(procDir, procDir); err != nil {
			return nil, append(problems, Problem{Part: PartVitals, Path: procDir,
				Message: fmt.Sprintf("opening /proc for disk statistics: %v", err)})
		}
	}
	stats, err := bfs.ProcDiskstats()
	if err != nil {
		return nil, append(problems, Problem{Part: PartVitals, Path: filepath.Join(procDir, "diskstats"),
			Message: fmt.Sprintf("reading disk statistics: %v", err)})
	}
	var whole map[string]bool
	if haveSys {
		names, err := bfs.SysBlockDevices()
		if err != nil {
			problems = append(problems, Problem{Part: PartVitals, Path: filepath.Join(sysDir, "block"),
				Message: fmt.Sprintf("listing disks (partitions told by name, rotational unknown): %v", err)})
		} else {
			whole = make(map[string]bool, len(names))
			for _, n := range names {
				whole[n] = true
			}
		}
	}

	var disks []DiskIO
	ms := float64(dt) / float64(time.Millisecond)
	for _, s := range stats {
		name := s.DeviceName
		if !v.isDisk(name, whole) {
			continue
		}
		d := DiskIO{Device: name}
		if whole != nil {
			rot, err := bfs.SysBlockDeviceRotational(name)
			if err != nil {
				problems = append(problems, Problem{Part: PartVitals,
					Path:    filepath.Join(sysDir, "block", name, "queue", "rotational"),
					Message: fmt.Sprintf("reading whether %s is rotational: %v", name, err)})
			}
			d.Rotational = rot == 1
		}
		cur.disks[name] = s.IOStats
		if prev != nil && ms > 0 {
			if p, ok := prev.disks[name]; ok && !ioStatsWentBack(p, s.IOStats) {
				ios := (s.ReadIOs - p.ReadIOs) + (s.WriteIOs - p.WriteIOs)
				ticks := (s.ReadTicks - p.ReadTicks) + (s.WriteTicks - p.WriteTicks)
				d.ReadIOPS = float64(s.ReadIOs-p.ReadIOs) / dt.Seconds()
				d.WriteIOPS = float64(s.WriteIOs-p.WriteIOs) / dt.Seconds()
				if ios > 0 {
					d.AvgLatencyMs = float64(ticks) / float64(ios)
				}
				d.AvgQueue = float64(s.WeightedIOTicks-p.WeightedIOTicks) / ms
				d.UtilizationPct = min(100, 100*float64(s.IOsTotalTicks-p.IOsTotalTicks)/ms)
			}
		}
		disks = append(disks, d)
	}
	return disks, problems
}

// ioStatsWentBack reports whether a counter rates are taken from is
// smaller than before (the device was replaced, or the counter wrapped).
func ioStatsWentBack(a, b blockdevice.IOStats) bool {
	return b.ReadIOs < a.ReadIOs || b.WriteIOs < a.WriteIOs ||
		b.ReadTicks < a.ReadTicks || b.WriteTicks < a.WriteTicks ||
		b.IOsTotalTicks < a.IOsTotalTicks || b.WeightedIOTicks < a.WeightedIOTicks
}
