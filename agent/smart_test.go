package agent

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// smartStandIn is the stand-in smartctl that prints the fixtures.
func smartStandIn(t testing.TB) string {
	t.Helper()
	p, err := filepath.Abs("testdata/smartctl/smartctl")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash is needed for the stand-in smartctl")
	}
	return p
}

func smartI64(v int64) *int64     { return &v }
func smartF64(v float64) *float64 { return &v }
func smartBool(v bool) *bool      { return &v }

// smartBits is what SmartctlExitBits says for these bits set.
func smartBits(bits ...int) []string {
	var status int
	for _, b := range bits {
		status |= 1 << b
	}
	return SmartctlExitBits(status)
}

// TestSMARTReadFixtures reads every fixture through the stand-in smartctl
// (the real exec path) and checks each Drive's fields against the values
// in its JSON.
func TestSMARTReadFixtures(t *testing.T) {
	s := &SMART{Binary: smartStandIn(t), Timeout: 10 * time.Second}
	tests := []struct {
		dev         SMARTDevice
		fixture     string
		want        *Drive
		wantProblem string
	}{
		{
			dev: SMARTDevice{Name: "/dev/sda"}, fixture: "ata-hdd-ok_WUH721818ALE6L4.json",
			want: &Drive{Device: "/dev/sda", DeviceType: "sat", Protocol: "ATA",
				Model: "WDC  WUH721818ALE6L4", Serial: "REDACTED", WWN: "0x5000cca0499602d2",
				Passed: smartBool(true), TemperatureC: smartF64(35), PowerOnHours: smartI64(3533),
				ReallocatedSectors: smartI64(0), PendingSectors: smartI64(0), OfflineUncorrectable: smartI64(0),
				ErrorLogCount: smartI64(0)},
		},
		{
			dev: SMARTDevice{Name: "/dev/sdb"}, fixture: "ata-hdd-errlog-exit64_HUS724020ALE640.json",
			want: &Drive{Device: "/dev/sdb", DeviceType: "sat", Protocol: "ATA",
				Model: "HGST HUS724020ALE640", Serial: "REDACTED", WWN: "0x5000cca0499602d2",
				Passed: smartBool(true), TemperatureC: smartF64(26), PowerOnHours: smartI64(83425),
				ReallocatedSectors: smartI64(0), PendingSectors: smartI64(0), OfflineUncorrectable: smartI64(0),
				ErrorLogCount: smartI64(12),
				ExitStatus:    64, ExitBits: smartBits(6)},
		},
		{
			dev: SMARTDevice{Name: "/dev/sdc"}, fixture: "ata-ssd-ok_INTEL_SSDSC2KB480G7.json",
			want: &Drive{Device: "/dev/sdc", DeviceType: "sat", Protocol: "ATA",
				Model: "INTEL SSDSC2KB480G7", Serial: "REDACTED", WWN: "0x55cd2e40499602d2",
				Passed: smartBool(true), TemperatureC: smartF64(29), PowerOnHours: smartI64(23289),
				// 197 is Pending_Sector_Count on Intel; 198 absent.
				ReallocatedSectors: smartI64(0), PendingSectors: smartI64(0),
				ErrorLogCount: smartI64(0)},
		},
		{
			dev: SMARTDevice{Name: "/dev/sdd"}, fixture: "ata-ssd-ok_SAMSUNG_MZ7LH1T9HMLT.json",
			want: &Drive{Device: "/dev/sdd", DeviceType: "sat", Protocol: "ATA",
				Model: "SAMSUNG MZ7LH1T9HMLT-00005", Serial: "REDACTED", WWN: "0x50025380499602d2",
				Passed: smartBool(true), TemperatureC: smartF64(24), PowerOnHours: smartI64(4717),
				ReallocatedSectors: smartI64(0), PendingSectors: smartI64(0),
				ErrorLogCount: smartI64(0)},
		},
		{
			// Exit bit 2 (a SMART command failed): what was read is kept.
			dev: SMARTDevice{Name: "/dev/sde"}, fixture: "ata-ssd-exit4_KINGSTON_SA400M8120G.json",
			want: &Drive{Device: "/dev/sde", DeviceType: "sat", Protocol: "ATA",
				Model: "KINGSTON SA400M8120G", Serial: "REDACTED", WWN: "0x50026b70499602d2",
				Passed: smartBool(true), TemperatureC: smartF64(38), PowerOnHours: smartI64(4994),
				ExitStatus: 4, ExitBits: smartBits(2)},
		},
		{
			dev: SMARTDevice{Name: "/dev/sdf"}, fixture: "scsi-sas-ok_SEAGATE_ST373453LC.json",
			want: &Drive{Device: "/dev/sdf", DeviceType: "scsi", Protocol: "SCSI",
				Model: "SEAGATE ST373453LC", Serial: "REDACTED",
				Passed: smartBool(true), TemperatureC: smartF64(33), PowerOnHours: smartI64(102880),
				GrownDefects: smartI64(260)},
		},
		{
			// Failing: exit 216 = bits 3, 4, 6, 7.
			dev: SMARTDevice{Name: "/dev/sdg", Type: "usbjmicron"}, fixture: "ata-FAILED-usbjmicron-exit216_scrutiny-smart-fail2.json",
			want: &Drive{Device: "/dev/sdg", DeviceType: "usbjmicron", Protocol: "ATA",
				Model: "Hitachi HDS721050DLE630", Serial: "MSK423Y20S3HBC", WWN: "0x5000cca37fca81a8",
				Passed: smartBool(false), TemperatureC: smartF64(25), PowerOnHours: smartI64(65592),
				ReallocatedSectors: smartI64(1975), PendingSectors: smartI64(8), OfflineUncorrectable: smartI64(0),
				ErrorLogCount: smartI64(56),
				ExitStatus:    216, ExitBits: smartBits(3, 4, 6, 7)},
		},
		{
			dev: SMARTDevice{Name: "/dev/sdh"}, fixture: "open-failed-exit2_scrutiny-smart-fail.json",
			wantProblem: `smartctl exit status 2 (bit 1: device open failed, or device in a low-power mode): Smartctl open device: /dev/sda failed: \\.\PhysicalDrive0: Open failed, Error=5`,
		},
		{
			dev: SMARTDevice{Name: "/dev/sdi"}, fixture: "standby-exit2_rackpulse.json",
			want: &Drive{Device: "/dev/sdi", DeviceType: "sat", Protocol: "ATA", Standby: true,
				ExitStatus: 2, ExitBits: []string{"device in low-power mode (STANDBY): not woken, not read"}},
		},
		{
			dev: SMARTDevice{Name: "/dev/sdj"}, fixture: "malformed-truncated_rackpulse.json",
			wantProblem: "unexpected end of JSON input",
		},
		{
			dev: SMARTDevice{Name: "/dev/vda"}, fixture: "unknown-type-exit1_rackpulse.json",
			wantProblem: "smartctl exit status 1 (bit 0: command line did not parse): /dev/vda: Unable to detect device type",
		},
		{
			dev: SMARTDevice{Name: "/dev/nvme0"}, fixture: "nvme-ok_Samsung_970_EVO_Plus.json",
			want: &Drive{Device: "/dev/nvme0", DeviceType: "nvme", Protocol: "NVMe",
				Model: "Samsung SSD 970 EVO Plus 250GB", Serial: "REDACTED",
				Passed: smartBool(true), TemperatureC: smartF64(35), PowerOnHours: smartI64(3149),
				CriticalWarning: smartI64(0), MediaErrors: smartI64(0), AvailableSpare: smartI64(100),
				AvailableSpareThreshold: smartI64(10), PercentageUsed: smartI64(0)},
		},
		{
			dev: SMARTDevice{Name: "/dev/nvme1"}, fixture: "nvme-ok_Micron_7450.json",
			want: &Drive{Device: "/dev/nvme1", DeviceType: "nvme", Protocol: "NVMe",
				Model: "Micron_7450_MTFDKCB3T8TFR", Serial: "REDACTED",
				Passed: smartBool(true), TemperatureC: smartF64(27), PowerOnHours: smartI64(150),
				CriticalWarning: smartI64(0), MediaErrors: smartI64(0), AvailableSpare: smartI64(100),
				AvailableSpareThreshold: smartI64(10), PercentageUsed: smartI64(0)},
		},
		{
			// Failing NVMe: critical warning 16 (volatile memory backup failed), exit bit 3.
			dev: SMARTDevice{Name: "/dev/nvme2"}, fixture: "nvme-FAILED-exit8_SAMSUNG_MZWLL3T2HAJQ.json",
			want: &Drive{Device: "/dev/nvme2", DeviceType: "nvme", Protocol: "NVMe",
				Model: "SAMSUNG MZWLL3T2HAJQ-00005", Serial: "REDACTED",
				Passed: smartBool(false), TemperatureC: smartF64(40), PowerOnHours: smartI64(18376),
				CriticalWarning: smartI64(16), MediaErrors: smartI64(0), AvailableSpare: smartI64(100),
				AvailableSpareThreshold: smartI64(10), PercentageUsed: smartI64(0),
				ExitStatus: 8, ExitBits: smartBits(3)},
		},
		{
			// Media errors on a drive that still passes.
			dev: SMARTDevice{Name: "/dev/nvme3"}, fixture: "nvme-failed_scrutiny-smart-nvme-failed.json",
			want: &Drive{Device: "/dev/nvme3", DeviceType: "nvme", Protocol: "NVMe",
				Model: "Samsung SSD 970 EVO 500GB", Serial: "S466NX0M776250H",
				Passed: smartBool(true), TemperatureC: smartF64(35), PowerOnHours: smartI64(12798),
				CriticalWarning: smartI64(0), MediaErrors: smartI64(7), AvailableSpare: smartI64(99),
				AvailableSpareThreshold: smartI64(10), PercentageUsed: smartI64(3)},
		},
		{
			dev: SMARTDevice{Name: "/dev/bus/0", Type: "megaraid,0"}, fixture: "ata-megaraid0_scrutiny-smart-megaraid0.json",
			want: &Drive{Device: "/dev/bus/0", DeviceType: "megaraid,0", Protocol: "ATA",
				Model: "WD4000FYYX", Serial: "XXXXXXXXXXXX", WWN: "0x50014ee26101eee7",
				Passed: smartBool(true), TemperatureC: smartF64(36), PowerOnHours: smartI64(37787),
				ReallocatedSectors: smartI64(0), PendingSectors: smartI64(0), OfflineUncorrectable: smartI64(0),
				ErrorLogCount: smartI64(0),
				ExitStatus:    4, ExitBits: smartBits(2)},
		},
	}

	// Every fixture but the scans is read.
	used := map[string]bool{}
	for _, tc := range tests {
		used[tc.fixture] = true
	}
	files, _ := filepath.Glob("testdata/smartctl/*.json")
	for _, f := range files {
		if b := filepath.Base(f); !used[b] && !strings.HasPrefix(b, "scan-") {
			t.Errorf("fixture %s is not read by any case", b)
		}
	}

	for _, tc := range tests {
		t.Run(tc.fixture, func(t *testing.T) {
			before := time.Now()
			drives, problems := s.Read(context.Background(), []SMARTDevice{tc.dev})
			if tc.wantProblem != "" {
				if len(drives) != 0 {
					t.Errorf("drives = %+v, want none", drives)
				}
				if len(problems) != 1 || !strings.Contains(problems[0].Message, tc.wantProblem) ||
					problems[0].Path != tc.dev.String() || problems[0].Part != PartSMART {
					t.Fatalf("problems = %+v, want one for %s containing %q", problems, tc.dev, tc.wantProblem)
				}
				return
			}
			if len(problems) != 0 {
				t.Fatalf("problems = %+v", problems)
			}
			if len(drives) != 1 {
				t.Fatalf("drives = %+v, want one", drives)
			}
			got := drives[0]
			if got.ReadAt.Before(before) || got.ReadAt.After(time.Now()) {
				t.Errorf("ReadAt = %v, want the time of the read", got.ReadAt)
			}
			got.ReadAt = time.Time{}
			if !reflect.DeepEqual(&got, tc.want) {
				t.Errorf("drive:\n got %s\nwant %s", smartDump(&got), smartDump(tc.want))
			}
		})
	}

	t.Run("all at once, in order", func(t *testing.T) {
		var devs []SMARTDevice
		for _, tc := range tests {
			devs = append(devs, tc.dev)
		}
		drives, problems := s.Read(context.Background(), devs)
		var wantDevs []string
		wantProblems := 0
		for _, tc := range tests {
			if tc.want != nil {
				wantDevs = append(wantDevs, tc.want.Device)
			} else {
				wantProblems++
			}
		}
		var gotDevs []string
		for _, d := range drives {
			gotDevs = append(gotDevs, d.Device)
		}
		if !slices.Equal(gotDevs, wantDevs) || len(problems) != wantProblems {
			t.Errorf("drives %v and %d problems, want %v and %d", gotDevs, len(problems), wantDevs, wantProblems)
		}
	})
}

// smartDump prints a Drive's set fields with their pointers followed.
func smartDump(d *Drive) string {
	v := reflect.ValueOf(d).Elem()
	var b strings.Builder
	for i := 0; i < v.NumField(); i++ {
		f := v.Field(i)
		if f.Kind() == reflect.Pointer {
			if f.IsNil() {
				continue
			}
			f = f.Elem()
		}
		if !f.IsZero() {
			fmt.Fprintf(&b, "%s=%v ", v.Type().Field(i).Name, f.Interface())
		}
	}
	return b.String()
}

func TestSmartctlExitBits(t *testing.T) {
	tests := []struct {
		status int
		want   []string
	}{
		{0, nil},
		{1, []string{"bit 0: command line did not parse"}},
		{2, []string{"bit 1: device open failed, or device in a low-power mode"}},
		{4, []string{"bit 2: a SMART or other command to the disk failed, or a SMART data structure checksum error"}},
		{8, []string{"bit 3: SMART status: disk failing"}},
		{64, []string{"bit 6: device error log has errors"}},
		{216, []string{
			"bit 3: SMART status: disk failing",
			"bit 4: prefail attributes at or below their threshold",
			"bit 6: device error log has errors",
			"bit 7: self-test log has errors",
		}},
		{32 | 128, []string{
			"bit 5: usage or prefail attributes at or below their threshold in the past",
			"bit 7: self-test log has errors",
		}},
		{-1, []string{"no exit status (-1)"}},
		{256, []string{"status 256 beyond smartctl's eight bits"}},
	}
	for _, tc := range tests {
		if got := SmartctlExitBits(tc.status); !slices.Equal(got, tc.want) {
			t.Errorf("SmartctlExitBits(%d) = %q, want %q", tc.status, got, tc.want)
		}
	}
}

// TestDecodeSmartctlCommandTimeout: attribute 188's raw value packs
// several 16-bit counters; the count is the low 16 bits.
func TestDecodeSmartctlCommandTimeout(t *testing.T) {
	// Seagate's raw value "5 3 2": 5 timeouts, 3 over 5 s, 2 over 7.5 s.
	const raw = 2<<32 | 3<<16 | 5
	out := []byte(`{"smartctl":{"version":[7,3],"exit_status":0},
		"device":{"name":"/dev/sda","type":"sat","protocol":"ATA"},
		"ata_smart_attributes":{"table":[
			{"id":188,"name":"Command_Timeout","raw":{"value":8590131205,"string":"5 3 2"}},
			{"id":5,"name":"Reallocated_Sector_Ct","raw":{"value":16,"string":"16"}}]},
		"ata_smart_error_log":{"extended":{"count":3}}}`)
	d, err := DecodeSmartctl(out, 0)
	if err != nil {
		t.Fatal(err)
	}
	if raw != 8590131205 {
		t.Fatal("raw value in the test is wrong")
	}
	if d.CommandTimeouts == nil || *d.CommandTimeouts != 5 {
		t.Errorf("CommandTimeouts = %v, want 5", d.CommandTimeouts)
	}
	if d.ReallocatedSectors == nil || *d.ReallocatedSectors != 16 {
		t.Errorf("ReallocatedSectors = %v, want 16", d.ReallocatedSectors)
	}
	if d.ErrorLogCount == nil || *d.ErrorLogCount != 3 {
		t.Errorf("ErrorLogCount = %v, want 3 (from the extended log)", d.ErrorLogCount)
	}
	if d.PendingSectors != nil || d.Passed != nil || d.TemperatureC != nil {
		t.Errorf("absent readings must stay nil: %+v", d)
	}
}

func TestDecodeSmartctlNotSmartctl(t *testing.T) {
	for _, out := range []string{"", "null", `{"devices":[]}`, "smartctl: command not found"} {
		if d, err := DecodeSmartctl([]byte(out), 0); err == nil {
			t.Errorf("DecodeSmartctl(%q) = %+v, want an error", out, d)
		}
	}
}

// TestSMARTMissingBinary: one Problem naming the binary, however many
// devices.
func TestSMARTMissingBinary(t *testing.T) {
	devs := []SMARTDevice{{Name: "/dev/sda"}, {Name: "/dev/sdb"}, {Name: "/dev/nvme0"}}
	for _, bin := range []string{"/nonexistent/sbin/smartctl", "smartctl-not-installed-here"} {
		s := &SMART{Binary: bin}
		drives, problems := s.Read(context.Background(), devs)
		if len(drives) != 0 || len(problems) != 1 || problems[0].Path != bin ||
			!strings.Contains(problems[0].Message, bin) || problems[0].Part != PartSMART {
			t.Errorf("Read with %s: drives %+v, problems %+v; want one Problem naming it", bin, drives, problems)
		}
		found, problems := s.Scan(context.Background())
		if len(found) != 0 || len(problems) != 1 || problems[0].Path != bin {
			t.Errorf("Scan with %s: devices %+v, problems %+v; want one Problem naming it", bin, found, problems)
		}
	}
}

// TestSMARTParallelBound: never more than Parallel runs at once.
func TestSMARTParallelBound(t *testing.T) {
	for _, tc := range []struct{ parallel, want int }{{3, 3}, {1, 1}, {0, DefaultSMARTParallel}} {
		var cur, peak atomic.Int32
		var mu sync.Mutex
		seen := map[string]bool{}
		s := &SMART{Parallel: tc.parallel, Run: func(ctx context.Context, name string, args ...string) ([]byte, int, error) {
			n := cur.Add(1)
			defer cur.Add(-1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			mu.Lock()
			seen[args[len(args)-1]] = true
			mu.Unlock()
			time.Sleep(20 * time.Millisecond)
			return []byte(`{"smartctl":{"exit_status":0},"device":{"protocol":"ATA"},"smart_status":{"passed":true}}`), 0, nil
		}}
		var devs []SMARTDevice
		for i := range 16 {
			devs = append(devs, SMARTDevice{Name: "/dev/sd" + string(rune('a'+i))})
		}
		drives, problems := s.Read(context.Background(), devs)
		if len(drives) != 16 || len(problems) != 0 || len(seen) != 16 {
			t.Fatalf("parallel %d: %d drives, problems %+v, %d devices run", tc.parallel, len(drives), problems, len(seen))
		}
		if got := int(peak.Load()); got != tc.want {
			t.Errorf("parallel %d: at most %d runs at once, want %d", tc.parallel, got, tc.want)
		}
	}
}

// TestSMARTTimeout: a smartctl that hangs is killed after Timeout and
// reported; the others are still read.
func TestSMARTTimeout(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "smartctl")
	script := "#!/usr/bin/env bash\n" +
		`case "${@: -1}" in */hang) exec sleep 30 ;; esac` + "\n" +
		`exec ` + smartStandIn(t) + ` "$@"` + "\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	s := &SMART{Binary: bin, Timeout: 300 * time.Millisecond}
	start := time.Now()
	drives, problems := s.Read(context.Background(), []SMARTDevice{{Name: "/dev/hang"}, {Name: "/dev/sda"}})
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("Read took %s", took)
	}
	if len(drives) != 1 || drives[0].Device != "/dev/sda" {
		t.Errorf("drives = %+v, want /dev/sda", drives)
	}
	if len(problems) != 1 || problems[0].Path != "/dev/hang" || !strings.Contains(problems[0].Message, "timed out after 300ms") {
		t.Errorf("problems = %+v, want /dev/hang timed out", problems)
	}
}

// TestSMARTCanceled: devices not started when the context ends are
// reported, not dropped.
func TestSMARTCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	s := &SMART{Parallel: 1, Run: func(ctx context.Context, name string, args ...string) ([]byte, int, error) {
		cancel()
		<-ctx.Done()
		return nil, -1, ctx.Err()
	}}
	drives, problems := s.Read(ctx, []SMARTDevice{{Name: "/dev/sda"}, {Name: "/dev/sdb"}, {Name: "/dev/sdc"}})
	if len(drives) != 0 || len(problems) != 3 {
		t.Fatalf("drives %+v, problems %+v; want 3 problems", drives, problems)
	}
	for _, p := range problems {
		if !strings.Contains(p.Message, context.Canceled.Error()) {
			t.Errorf("problem %+v, want context canceled", p)
		}
	}
}

// TestSMARTArgs: the command line, under a root, with and without -d.
func TestSMARTArgs(t *testing.T) {
	standIn := smartStandIn(t)
	root, err := filepath.Abs("testdata/smartctl/root")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var calls [][]string
	s := &SMART{Binary: standIn, Root: root, Run: func(ctx context.Context, name string, args ...string) ([]byte, int, error) {
		mu.Lock()
		calls = append(calls, append([]string{name}, args...))
		mu.Unlock()
		return ExecRun(ctx, name, args...)
	}}
	drives, problems := s.Read(context.Background(), []SMARTDevice{{Name: "/dev/sda"}, {Name: "/dev/bus/0", Type: "megaraid,0"}})
	if len(problems) != 0 || len(drives) != 2 {
		t.Fatalf("drives %+v, problems %+v", drives, problems)
	}
	if drives[0].Device != "/dev/sda" || drives[1].Device != "/dev/bus/0" || drives[1].Model != "WD4000FYYX" {
		t.Errorf("drives named %q, %q (%q); want the host's names", drives[0].Device, drives[1].Device, drives[1].Model)
	}
	slices.SortFunc(calls, func(a, b []string) int { return strings.Compare(strings.Join(a, " "), strings.Join(b, " ")) })
	want := [][]string{
		{standIn, "--json=c", "--all", "-n", "standby", "-d", "megaraid,0", root + "/dev/bus/0"},
		{standIn, "--json=c", "--all", "-n", "standby", root + "/dev/sda"},
	}
	if !reflect.DeepEqual(calls, want) {
		t.Errorf("calls:\n got %q\nwant %q", calls, want)
	}
}

func TestSMARTScan(t *testing.T) {
	standIn := smartStandIn(t)
	root, err := filepath.Abs("testdata/smartctl/root")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name         string
		scan         string
		root         string
		want         []SMARTDevice
		wantProblems []string
	}{
		{
			name: "telegraf", scan: "scan-all_telegraf.json",
			want: []SMARTDevice{{"/dev/sda", "sat"}, {"/dev/nvme0", "nvme"}, {"/dev/nvme1", "nvme"}},
		},
		{
			name: "megaraid", scan: "scan-megaraid_scrutiny-smartctl_scan_megaraid.json",
			want: []SMARTDevice{{"/dev/bus/0", "megaraid,0"}, {"/dev/bus/0", "megaraid,1"}},
		},
		{
			// Under a root, the host's disks in its /sys/block are added:
			// sdb (sda and the NVMe controllers the scan named; sdc has
			// no node; vda, loop0, dm-0 are not for smartctl).
			name: "root", scan: "scan-all_telegraf.json", root: root,
			want:         []SMARTDevice{{"/dev/sda", "sat"}, {"/dev/nvme0", "nvme"}, {"/dev/nvme1", "nvme"}, {"/dev/sdb", ""}},
			wantProblems: []string{"disk sdc has no device node"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("SMARTCTL_SCAN", tc.scan)
			s := &SMART{Binary: standIn, Root: tc.root}
			got, problems := s.Scan(context.Background())
			if !slices.Equal(got, tc.want) {
				t.Errorf("devices = %v, want %v", got, tc.want)
			}
			var msgs []string
			for _, p := range problems {
				msgs = append(msgs, p.Message)
			}
			if len(msgs) != len(tc.wantProblems) {
				t.Fatalf("problems = %q, want %q", msgs, tc.wantProblems)
			}
			for i, w := range tc.wantProblems {
				if !strings.Contains(msgs[i], w) {
					t.Errorf("problem %q, want %q", msgs[i], w)
				}
			}
		})
	}

	// Scan, then read what it found: both MegaRAID disks behind /dev/bus/0.
	t.Setenv("SMARTCTL_SCAN", "scan-megaraid_scrutiny-smartctl_scan_megaraid.json")
	s := &SMART{Binary: standIn}
	devs, problems := s.Scan(context.Background())
	drives, more := s.Read(context.Background(), devs)
	problems = append(problems, more...)
	if len(problems) != 0 || len(drives) != 2 {
		t.Fatalf("drives %+v, problems %+v", drives, problems)
	}
	if drives[0].Model != "WD4000FYYX" || drives[1].Model != "WDC  WUH721818ALE6L4" ||
		drives[0].Device != "/dev/bus/0" || drives[0].DeviceType != "megaraid,0" || drives[1].DeviceType != "megaraid,1" {
		t.Errorf("drives = %+v", drives)
	}
}

// TestSmartctlIntegration runs the real smartctl on this machine's disks.
// Where it finds none it can read (a VM, a container without devices), it
// says so and skips.
func TestSmartctlIntegration(t *testing.T) {
	bin, err := exec.LookPath("smartctl")
	if err != nil {
		if os.Getenv("RACKPULSE_REQUIRE_INTEGRATION") == "1" {
			t.Fatalf("smartctl not installed (required by RACKPULSE_REQUIRE_INTEGRATION=1; Debian package smartmontools)")
		}
		t.Skipf("smartctl not installed (Debian package smartmontools); set RACKPULSE_REQUIRE_INTEGRATION=1 to fail instead")
	}
	ctx := context.Background()
	s := &SMART{Binary: bin, Timeout: time.Minute}

	// Whatever smartctl says about this machine's block devices must
	// decode: a Drive, or a Problem from its exit status, never output
	// that is not understood.
	var all []SMARTDevice
	if entries, err := os.ReadDir("/sys/block"); err == nil {
		for _, e := range entries {
			all = append(all, SMARTDevice{Name: "/dev/" + e.Name()})
		}
	}
	_, problems := s.Read(ctx, all)
	for _, p := range problems {
		if strings.Contains(p.Message, "decoding") || strings.Contains(p.Message, "running") {
			t.Errorf("real smartctl on %s: %s", p.Path, p.Message)
		}
	}

	devs, problems := s.Scan(ctx)
	for _, p := range problems {
		t.Logf("scan: %s: %s", p.Path, p.Message)
	}
	if len(devs) == 0 {
		t.Skipf("smartctl --scan-open found no device on this machine (block devices: %v): nothing to read", all)
	}
	drives, problems := s.Read(ctx, devs)
	for _, p := range problems {
		t.Logf("%s: %s", p.Path, p.Message)
		if strings.Contains(p.Message, "decoding") {
			t.Errorf("real smartctl on %s: %s", p.Path, p.Message)
		}
	}
	if len(drives) == 0 {
		t.Skipf("smartctl found %v but could read none of them (see the log)", devs)
	}
	for _, d := range drives {
		t.Logf("%s", smartDump(&d))
		if !d.Standby && d.Model == "" && d.Serial == "" {
			t.Errorf("%s: neither model nor serial read", d.Device)
		}
	}
}
