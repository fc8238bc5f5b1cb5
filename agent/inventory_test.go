package agent

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/jaypipes/ghw/pkg/snapshot"
	ghwtestdata "github.com/jaypipes/ghw/testdata"
)

// unpackSnapshot unpacks one of the Linux host snapshots ghw ships in its
// module into a new directory.
func unpackSnapshot(t *testing.T, name string) string {
	t.Helper()
	dir, err := ghwtestdata.SnapshotsDirectory()
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	if err := snapshot.UnpackInto(filepath.Join(dir, name+".tar.gz"), root); err != nil {
		t.Fatalf("unpacking %s: %v", name, err)
	}
	return root
}

// sysfsInt reads an integer file of an unpacked snapshot.
func sysfsInt(t *testing.T, root, rel string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(sysfsString(root, rel), 10, 64)
	if err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	return n
}

// TestReadInventoryGhwSnapshots reads real hosts ghw captured (its
// testdata/snapshots) through ghw's chroot, and checks what ReadInventory
// makes of them against the snapshots' own files.
func TestReadInventoryGhwSnapshots(t *testing.T) {
	// pci.ids as ghw's tests use it, so that names do not depend on this
	// machine's copy.
	t.Setenv("PCIDB_PATH", ghwtestdata.PCIDBChroot())
	type disk struct{ name, typ, controller string }
	tests := []struct {
		snapshot string
		cpus     []CPU
		memKiB   int64 // /proc/meminfo MemTotal
		disks    []disk
		nics     []string
		gpus     []string // address class
		pciCount int
	}{
		{
			snapshot: "linux-amd64-8581cf3a529e5d8b97ea876eade2f60d", // two Xeon L5640, a RAID volume, an optical drive
			cpus: []CPU{
				{Socket: 0, Model: "Intel(R) Xeon(R) CPU L5640 @ 2.27GHz", Cores: 6, Threads: 12},
				{Socket: 1, Model: "Intel(R) Xeon(R) CPU L5640 @ 2.27GHz", Cores: 6, Threads: 12},
			},
			memKiB:   65921280,
			disks:    []disk{{"sda", "HDD", "SCSI"}, {"sr0", "ODD", "SCSI"}},
			pciCount: 82,
		},
		{
			snapshot: "linux-amd64-61797caf7c0b6bca1725ad7975ed4773", // Ryzen 5 1600, two SSDs and an HDD, four NICs, a Radeon
			cpus:     []CPU{{Socket: 0, Model: "AMD Ryzen 5 1600 Six-Core Processor", Cores: 6, Threads: 12}},
			memKiB:   32777916,
			disks:    []disk{{"sda", "SSD", "SCSI"}, {"sdb", "HDD", "SCSI"}, {"sdc", "SSD", "SCSI"}},
			nics:     []string{"enp3s0", "enp6s0f0", "enp6s0f1", "enp8s0"},
			gpus:     []string{"0000:0a:00.0 VGA compatible controller [0300]"},
			pciCount: 43,
		},
		{
			snapshot: "linux-amd64-415ee03b8c4d1c4f07ae2e9d8b3d3d6d", // Core i7-1270P laptop, one NVMe drive
			cpus:     []CPU{{Socket: 0, Model: "12th Gen Intel(R) Core(TM) i7-1270P", Cores: 12, Threads: 16}},
			memKiB:   32542668,
			disks:    []disk{{"nvme0n1", "NVMe", "NVMe"}},
			gpus:     []string{"0000:00:02.0 VGA compatible controller [0300]"},
			pciCount: 23,
		},
		{
			snapshot: "linux-amd64-accel-nvidia", // a VM with a Tesla P100 passed through
			cpus:     []CPU{{Socket: 0, Model: "Intel(R) Xeon(R) CPU E5-2695 v4 @ 2.10GHz", Cores: 8, Threads: 8}},
			memKiB:   30601816,
			disks:    []disk{{"sda", "HDD", "SCSI"}},
			gpus:     []string{"0000:04:00.0 VGA compatible controller [0300]", "0000:06:00.0 3D controller [0302]"},
			pciCount: 29,
		},
	}
	for _, tt := range tests {
		t.Run(tt.snapshot, func(t *testing.T) {
			root := unpackSnapshot(t, tt.snapshot)
			inv, id, problems := ReadInventory(root)
			if inv == nil {
				t.Fatalf("no inventory; problems %+v", problems)
			}
			if len(inv.CPUs) != len(tt.cpus) {
				t.Fatalf("CPUs %+v, want %+v", inv.CPUs, tt.cpus)
			}
			for i := range tt.cpus {
				if inv.CPUs[i] != tt.cpus[i] {
					t.Errorf("CPU %d: %+v, want %+v", i, inv.CPUs[i], tt.cpus[i])
				}
			}
			if inv.MemoryBytes != tt.memKiB*1024 {
				t.Errorf("memory %d, want %d", inv.MemoryBytes, tt.memKiB*1024)
			}
			if len(inv.Disks) != len(tt.disks) {
				t.Fatalf("disks %+v, want %+v", inv.Disks, tt.disks)
			}
			for i, w := range tt.disks {
				d := inv.Disks[i]
				size := sysfsInt(t, root, "/sys/block/"+w.name+"/size") * 512
				if d.Name != w.name || d.Type != w.typ || d.Controller != w.controller || d.SizeBytes != size {
					t.Errorf("disk %d: %+v, want %+v of %d bytes", i, d, w, size)
				}
			}
			var nics []string
			for _, n := range inv.NICs {
				nics = append(nics, n.Name)
			}
			if strings.Join(nics, " ") != strings.Join(tt.nics, " ") {
				t.Errorf("NICs %v, want %v", nics, tt.nics)
			}
			var gpus []string
			for _, g := range inv.GPUs {
				gpus = append(gpus, g.Address+" "+g.Class)
			}
			if strings.Join(gpus, ",") != strings.Join(tt.gpus, ",") {
				t.Errorf("GPUs %v, want %v", gpus, tt.gpus)
			}
			if len(inv.PCI) != tt.pciCount {
				t.Errorf("%d PCI devices, want %d", len(inv.PCI), tt.pciCount)
			}
			for _, d := range inv.PCI {
				vendor := strings.TrimPrefix(sysfsString(root, "/sys/bus/pci/devices/"+d.Address+"/vendor"), "0x")
				if bracketID(d.Vendor) != vendor {
					t.Errorf("PCI %s vendor %q, sysfs says %s", d.Address, d.Vendor, vendor)
				}
			}
			// The snapshots carry no DMI: identity and slots are Problems.
			if id != (Identity{}) {
				t.Errorf("identity %+v", id)
			}
			parts := map[string]bool{}
			for _, p := range problems {
				parts[p.Part] = true
				if strings.Contains(p.Message, root) {
					t.Errorf("problem names the chroot: %+v", p)
				}
			}
			if !parts[PartIdentity] || !parts[PartSMBIOS] {
				t.Errorf("problems %+v", problems)
			}
		})
	}
}

// TestReadInventoryFixtureHost reads a fixture server: firmware identity,
// BIOS, board, chassis and slots, and Problems (not panics) for the
// /proc and /sys parts the fixture lacks.
func TestReadInventoryFixtureHost(t *testing.T) {
	inv, id, problems := ReadInventory(filepath.Join("testdata", "supermicro-x11dpi"))
	if inv == nil {
		t.Fatalf("no inventory: %+v", problems)
	}
	if id.SystemSerial != "S292395X0B13547" || id.BoardSerial != "ZM19AS012345" {
		t.Errorf("identity %+v", id)
	}
	if inv.BIOS != (BIOS{Vendor: "American Megatrends Inc.", Version: "3.4", Date: "11/04/2020"}) ||
		inv.Baseboard != (Baseboard{Vendor: "Supermicro", Product: "X11DPi-N", Serial: "ZM19AS012345"}) ||
		inv.Chassis != (Chassis{Type: "Rack mount chassis", Vendor: "Supermicro", Serial: "C8290KI12A30123"}) {
		t.Errorf("firmware %+v %+v %+v", inv.BIOS, inv.Baseboard, inv.Chassis)
	}
	if len(inv.DIMMSlots) != 24 || inv.DIMMSlots[2].Locator != "P1-DIMMB1" || inv.DIMMSlots[2].SizeMiB != 32768 {
		t.Errorf("slots %d: %+v", len(inv.DIMMSlots), inv.DIMMSlots[:3])
	}
	if len(inv.CPUs) != 0 || inv.ReadAt.IsZero() {
		t.Errorf("CPUs %+v read at %v", inv.CPUs, inv.ReadAt)
	}
	for _, p := range problems {
		if p.Part == "" || p.Message == "" {
			t.Errorf("problem without part or message: %+v", p)
		}
	}
}

// TestReadInventoryDegrades: missing, empty and odd trees give Problems,
// never a panic.
func TestReadInventoryDegrades(t *testing.T) {
	inv, _, problems := ReadInventory(filepath.Join(t.TempDir(), "nowhere"))
	if inv != nil || len(problems) != 1 || !strings.Contains(problems[0].Message, "not present") {
		t.Errorf("missing root: %+v %+v", inv, problems)
	}

	inv, id, problems := ReadInventory(t.TempDir())
	if inv == nil || id != (Identity{}) || len(problems) < 3 {
		t.Errorf("empty root: %+v %+v %+v", inv, id, problems)
	}

	// Files where directories should be, and garbage in the files.
	odd := writeSysTree(t, map[string]string{
		"proc/cpuinfo":                 "processor : x\n\x00\x01",
		"proc/meminfo":                 "MemTotal: many kB\n",
		"sys/block":                    "not a directory",
		"sys/class/net":                "not a directory",
		"sys/bus/pci/devices/0000:zz/": "",
		dmiIDDir + "/product_uuid":     "\n",
		"sys/firmware/dmi/tables/DMI":  "\x11\x05\x00",
	})
	inv, _, problems = ReadInventory(odd)
	if inv == nil || len(problems) == 0 {
		t.Errorf("odd root: %+v %+v", inv, problems)
	}
}

func copyFixtureTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(path)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		default:
			in, err := os.Open(path)
			if err != nil {
				return err
			}
			defer in.Close()
			out, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY, 0o644)
			if err != nil {
				return err
			}
			defer out.Close()
			_, err = io.Copy(out, in)
			return err
		}
	})
	if err != nil {
		t.Fatal(err)
	}
}

// rootOnlyFiles are the files the kernel makes readable by root alone.
var rootOnlyFiles = []string{
	dmiIDDir + "/product_uuid", dmiIDDir + "/product_serial", dmiIDDir + "/board_serial", dmiIDDir + "/chassis_serial",
	smbiosEntryPointPath, smbiosTablePath,
}

// TestReadAsNonRoot reads a fixture whose root-only files are mode 0400,
// as an unprivileged user (re-running this test binary as nobody when the
// tests run as root): identity serials, UUID and slots are Problems
// saying the agent needs root, and the rest is read.
func TestReadAsNonRoot(t *testing.T) {
	if os.Getenv("RACKPULSE_NONROOT_FIXTURE") != "" {
		return // the child's own run of this test
	}
	dir := t.TempDir()
	root := filepath.Join(dir, "host")
	copyFixtureTree(t, filepath.Join("testdata", "supermicro-x11dpi"), root)
	for _, f := range rootOnlyFiles {
		if err := os.Chmod(filepath.Join(root, f), 0o400); err != nil {
			t.Fatal(err)
		}
	}
	if os.Geteuid() != 0 {
		checkNonRoot(t, root)
		return
	}
	// As root: the files stay readable to us, so run the check as nobody.
	bin := filepath.Join(dir, "agent.test")
	copyFixtureTree(t, os.Args[0], bin)
	for _, p := range []string{filepath.Dir(dir), dir, bin} {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(bin, "-test.run=^TestNonRootChild$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), "RACKPULSE_NONROOT_FIXTURE="+root)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Skipf("cannot run as nobody here: %v", err)
	}
	if err != nil || !strings.Contains(string(out), "--- PASS: TestNonRootChild") {
		t.Errorf("as nobody: %v\n%s", err, out)
	}
}

// TestNonRootChild is TestReadAsNonRoot's check, run as nobody.
func TestNonRootChild(t *testing.T) {
	root := os.Getenv("RACKPULSE_NONROOT_FIXTURE")
	if root == "" {
		t.Skip("run by TestReadAsNonRoot")
	}
	if os.Geteuid() == 0 {
		t.Fatal("running as root")
	}
	checkNonRoot(t, root)
}

func checkNonRoot(t *testing.T, root string) {
	t.Helper()
	inv, id, problems := ReadInventory(root)
	if inv == nil {
		t.Fatalf("no inventory: %+v", problems)
	}
	if id != (Identity{Vendor: "Supermicro", Product: "SYS-6029P-TR"}) {
		t.Errorf("identity %+v", id)
	}
	if inv.DIMMSlots != nil || inv.BIOS.Version != "3.4" {
		t.Errorf("slots %v BIOS %+v", inv.DIMMSlots, inv.BIOS)
	}
	denied := map[string]bool{}
	for _, p := range problems {
		if strings.Contains(p.Message, "permission denied (readable by root only") {
			denied[p.Path] = true
		}
	}
	for _, f := range []string{dmiIDDir + "/product_uuid", dmiIDDir + "/product_serial", dmiIDDir + "/board_serial", dmiIDDir + "/chassis_serial", smbiosTablePath} {
		if !denied[f] {
			t.Errorf("no permission Problem for %s; problems %+v", f, problems)
		}
	}
	// EDAC and hwmon are world-readable.
	if dimms, _ := ReadEDAC(root, nil); len(dimms) != 12 {
		t.Errorf("%d DIMMs", len(dimms))
	}
	if sensors, _ := ReadHwmon(root); len(sensors) != 45 {
		t.Errorf("%d sensors", len(sensors))
	}
}

// TestReadInventoryQuiet: ghw's warnings become Problems and never reach
// stderr.
func TestReadInventoryQuiet(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := os.Stderr
	os.Stderr = w
	_, _, problems := ReadInventory(t.TempDir())
	os.Stderr = stderr
	w.Close()
	out, _ := io.ReadAll(r)
	if len(out) != 0 {
		t.Errorf("stderr: %s", out)
	}
	ghwSaid := false
	for _, p := range problems {
		if strings.HasPrefix(p.Message, "ghw: ") {
			ghwSaid = true
		}
	}
	if !ghwSaid {
		t.Errorf("no ghw warning among the problems: %+v", problems)
	}
}

func TestGPUsOf(t *testing.T) {
	devs := []PCIDevice{
		{Address: "0000:03:00.0", Vendor: "ASPEED Technology, Inc. [1a03]", Product: "ASPEED Graphics Family [2000]", Class: "VGA compatible controller [0300]"},
		{Address: "0000:03:00.1", Vendor: "Matrox Electronics Systems Ltd. [102b]", Product: "Integrated Matrox G200eW3 Graphics Controller [0536]", Class: "VGA compatible controller [0300]"},
		{Address: "0000:17:00.0", Vendor: "NVIDIA Corporation [10de]", Product: "GA100 [A100 PCIe 80GB] [20b5]", Class: "3D controller [0302]"},
		{Address: "0000:31:00.0", Vendor: "Intel Corporation [8086]", Product: "[0b25]", Class: "Processing accelerators [1200]"},
		{Address: "0000:4b:00.0", Vendor: "Mellanox Technologies [15b3]", Product: "MT28908 Family [ConnectX-6] [101b]", Class: "Infiniband controller [0207]"},
		{Address: "0000:65:00.0", Vendor: "[10de]", Product: "[2330]", Class: "[0302]"},
	}
	var got []string
	for _, d := range gpusOf(devs) {
		got = append(got, d.Address)
	}
	if strings.Join(got, " ") != "0000:17:00.0 0000:31:00.0 0000:65:00.0" {
		t.Errorf("GPUs %v", got)
	}
}
