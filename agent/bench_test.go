//go:build unix

package agent

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The cost of one collection on a host with 24 disks:
//
//	go test -run '^$' -bench 'SMARTRead24|DecodeSmartctl|VitalsRead24' -benchmem ./agent/
//
// Besides time and allocations per collection, each reports the CPU time
// this process spent per collection (cpu-ms/op: user + system, from
// getrusage) and, for SMART, the CPU time its children spent
// (child-cpu-ms/op: here the stand-in smartctl script, bash and a fixture
// file, not a real smartctl), and the process's peak resident set
// (maxrss-MiB, the whole test binary's).

// rusage is this process's and its children's CPU time and peak RSS.
type rusage struct{ self, children time.Duration }

func readRusage(b *testing.B) rusage {
	var self, children syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &self); err != nil {
		b.Fatal(err)
	}
	if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &children); err != nil {
		b.Fatal(err)
	}
	cpu := func(r syscall.Rusage) time.Duration {
		return time.Duration(r.Utime.Nano() + r.Stime.Nano())
	}
	return rusage{self: cpu(self), children: cpu(children)}
}

func reportRusage(b *testing.B, before rusage, children bool) {
	after := readRusage(b)
	n := float64(b.N)
	b.ReportMetric(float64(after.self-before.self)/float64(time.Millisecond)/n, "cpu-ms/op")
	if children {
		b.ReportMetric(float64(after.children-before.children)/float64(time.Millisecond)/n, "child-cpu-ms/op")
	}
	var self syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &self); err == nil {
		b.ReportMetric(float64(self.Maxrss)/1024, "maxrss-MiB") // Linux: KiB
	}
}

// bench24Devices are 24 disks cycled over the stand-in's fixtures that
// read as drives (ATA, SSD, NVMe, SAS, MegaRAID, one in standby).
func bench24Devices() []SMARTDevice {
	fixtures := []SMARTDevice{
		{Name: "/dev/sda"}, {Name: "/dev/sdb"}, {Name: "/dev/sdc"}, {Name: "/dev/sdd"},
		{Name: "/dev/sde"}, {Name: "/dev/sdf"}, {Name: "/dev/sdg", Type: "usbjmicron"},
		{Name: "/dev/sdi"}, {Name: "/dev/nvme0"}, {Name: "/dev/nvme1"}, {Name: "/dev/nvme2"},
		{Name: "/dev/nvme3"}, {Name: "/dev/bus/0", Type: "megaraid,0"}, {Name: "/dev/bus/0", Type: "megaraid,1"},
	}
	devs := make([]SMARTDevice, 24)
	for i := range devs {
		devs[i] = fixtures[i%len(fixtures)]
	}
	return devs
}

// BenchmarkSMARTRead24 reads 24 disks through the stand-in smartctl: the
// real exec path, four at a time.
func BenchmarkSMARTRead24(b *testing.B) {
	s := &SMART{Binary: smartStandIn(b)}
	devs := bench24Devices()
	ctx := context.Background()
	b.ReportAllocs()
	before := readRusage(b)
	b.ResetTimer()
	for b.Loop() {
		drives, problems := s.Read(ctx, devs)
		if len(drives) != 24 || len(problems) != 0 {
			b.Fatalf("%d drives, problems %+v", len(drives), problems)
		}
	}
	b.StopTimer()
	reportRusage(b, before, true)
}

// BenchmarkDecodeSmartctl decodes the 24 disks' outputs without running
// anything: the Go side of a SMART collection.
func BenchmarkDecodeSmartctl(b *testing.B) {
	type output struct {
		out    []byte
		status int
	}
	// The stand-in's table: device and -d type to fixture.
	table, err := os.ReadFile("testdata/smartctl/devices.tsv")
	if err != nil {
		b.Fatal(err)
	}
	byDev := map[SMARTDevice]string{}
	for _, line := range strings.Split(string(table), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 3 || strings.HasPrefix(line, "#") {
			continue
		}
		dev := SMARTDevice{Name: "/dev/" + f[0]}
		if f[1] != "-" {
			dev.Type = f[1]
		}
		byDev[dev] = f[2]
	}
	var outs []output
	for _, d := range bench24Devices() {
		out, err := os.ReadFile(filepath.Join("testdata/smartctl", byDev[d]))
		if err != nil {
			b.Fatal(err)
		}
		var o struct {
			Smartctl struct {
				ExitStatus int `json:"exit_status"`
			} `json:"smartctl"`
		}
		if err := json.Unmarshal(out, &o); err != nil {
			b.Fatal(err)
		}
		outs = append(outs, output{out, o.Smartctl.ExitStatus})
	}
	b.ReportAllocs()
	before := readRusage(b)
	b.ResetTimer()
	for b.Loop() {
		for _, o := range outs {
			if _, err := DecodeSmartctl(o.out, o.status); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	reportRusage(b, before, false)
}

// BenchmarkVitalsRead24 reads the vitals of a host with 24 data disks
// (each with a partition), two NVMe drives, md, loop devices and six
// NICs: /proc/stat with 32 CPUs, loadavg, meminfo, diskstats with 54
// lines, net/dev and 29 rotational files, and the rates.
func BenchmarkVitalsRead24(b *testing.B) {
	root, err := filepath.Abs("testdata/proc-24disk")
	if err != nil {
		b.Fatal(err)
	}
	v := &VitalsReader{Root: root}
	now := time.Now()
	v.Read(now)
	b.ReportAllocs()
	before := readRusage(b)
	b.ResetTimer()
	for b.Loop() {
		now = now.Add(15 * time.Second)
		got, problems := v.Read(now)
		if len(problems) != 0 || len(got.Disks) != 27 {
			b.Fatalf("%d disks, problems %+v", len(got.Disks), problems)
		}
	}
	b.StopTimer()
	reportRusage(b, before, false)
}
