package agent

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jaypipes/ghw"
	"github.com/jaypipes/ghw/pkg/block"
	"github.com/jaypipes/ghw/pkg/cpu"
	"github.com/jaypipes/ghw/pkg/memory"
	"github.com/jaypipes/ghw/pkg/net"
	"github.com/jaypipes/ghw/pkg/pci"
	"github.com/jaypipes/pcidb"
)

// ReadInventory reads the host's hardware under root ("" or "/" on the
// host, /host in a container with the host's / mounted there, a fixture
// tree in tests) with github.com/jaypipes/ghw in its chroot: the firmware's
// identity, BIOS, baseboard and chassis (/sys/class/dmi/id), CPUs
// (/proc/cpuinfo, /sys/devices/system/cpu), memory (/proc/meminfo), block
// devices (/sys/block, /run/udev/data), NICs (/sys/class/net), PCI devices
// (/sys/bus/pci/devices, named from pci.ids) and GPUs and accelerators
// among them, and the DIMM slots from the SMBIOS tables (ReadDIMMSlots).
//
// ghw's own warnings never reach stderr: they, and whatever could not be
// read (most often the root-only DMI serials and SMBIOS tables when the
// agent is not root), are Problems. The Inventory is nil only when root
// itself cannot be read.
func ReadInventory(root string) (*Inventory, Identity, []Problem) {
	root = rootOrSlash(root)
	if _, err := os.Stat(root); err != nil {
		return nil, Identity{}, []Problem{problemFrom(PartInventory, root, "reading the root directory", err)}
	}
	var problems []Problem
	warnings := &ghwWarnings{}
	db, dbProblem := loadPCIDB(root)
	if dbProblem != nil {
		problems = append(problems, *dbProblem)
	}
	ctx := ghwContext(root, warnings, db)

	inv := &Inventory{ReadAt: time.Now().UTC()}
	d := readDMI(ctx, root)
	problems = append(problems, d.problems...)
	inv.BIOS, inv.Baseboard, inv.Chassis = d.bios, d.baseboard, d.chassis

	if c, err := ghwCall(func() (*cpu.Info, error) { return cpu.New(ctx) }); err != nil {
		problems = append(problems, Problem{Part: PartInventory, Path: "/proc/cpuinfo", Message: fmt.Sprintf("reading the CPUs: %v", err)})
	} else {
		inv.CPUs = cpusFrom(c)
		if len(inv.CPUs) == 0 {
			problems = append(problems, Problem{Part: PartInventory, Path: "/sys/devices/system/cpu", Message: "no processor found"})
		}
	}
	if m, err := ghwCall(func() (*memory.Info, error) { return memory.New(ctx) }); err != nil {
		problems = append(problems, Problem{Part: PartInventory, Path: "/proc/meminfo", Message: fmt.Sprintf("reading the memory size: %v", err)})
	} else {
		inv.MemoryBytes = m.TotalUsableBytes
	}
	if b, err := ghwCall(func() (*block.Info, error) { return block.New(ctx) }); err != nil {
		problems = append(problems, Problem{Part: PartInventory, Path: "/sys/block", Message: fmt.Sprintf("reading the block devices: %v", err)})
	} else {
		inv.Disks = disksFrom(root, b)
		if len(b.Disks) == 0 {
			if _, err := os.ReadDir(filepath.Join(root, "sys/block")); err != nil {
				problems = append(problems, problemFrom(PartInventory, "/sys/block", "reading the block devices", err))
			}
		}
	}
	if n, err := ghwCall(func() (*net.Info, error) { return net.New(ctx) }); err != nil {
		problems = append(problems, Problem{Part: PartInventory, Path: "/sys/class/net", Message: fmt.Sprintf("reading the NICs: %v", err)})
	} else {
		inv.NICs = nicsFrom(n)
		if len(n.NICs) == 0 {
			if _, err := os.ReadDir(filepath.Join(root, "sys/class/net")); err != nil {
				problems = append(problems, problemFrom(PartInventory, "/sys/class/net", "reading the NICs", err))
			}
		}
	}
	if db != nil {
		p, err := ghwCall(func() (*pci.Info, error) { return pci.New(ctx) })
		if err != nil {
			// ghw's PCI reader needs the NUMA topology; read without it.
			p, err = ghwCall(func() (*pci.Info, error) { return pci.New(ctx, ghw.WithDisableTopology()) })
		}
		if err != nil {
			problems = append(problems, Problem{Part: PartInventory, Path: "/sys/bus/pci/devices", Message: fmt.Sprintf("reading the PCI devices: %v", err)})
		} else {
			inv.PCI = pciFrom(p)
		}
	} else {
		devs, err := rawPCIDevices(root)
		if err != nil {
			problems = append(problems, problemFrom(PartInventory, "/sys/bus/pci/devices", "reading the PCI devices", err))
		}
		inv.PCI = devs
	}
	inv.GPUs = gpusOf(inv.PCI)

	slots, smbiosProblems := ReadDIMMSlots(root)
	inv.DIMMSlots = slots
	problems = append(problems, smbiosProblems...)
	problems = append(problems, warnings.problems(PartInventory, root)...)
	return inv, d.identity, problems
}

// ghwContext is the context every ghw call here runs in: chrooted to root,
// running no external tool (ethtool would describe the agent's own
// namespace, not root's), its warnings captured by w, and the PCI database
// db when there is one.
func ghwContext(root string, w *ghwWarnings, db *pcidb.PCIDB) context.Context {
	ctx := context.Background()
	mods := []ghw.Modifier{ghw.WithChroot(root), ghw.WithDisableTools(), ghw.WithLogger(slog.New(w))}
	if db != nil {
		mods = append(mods, ghw.WithPCIDB(db))
	}
	for _, m := range mods {
		ctx = m(ctx)
	}
	return ctx
}

// ghwCall runs one ghw reader, turning a panic on odd input into an error.
func ghwCall[T any](f func() (T, error)) (v T, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("ghw panicked: %v", r)
		}
	}()
	return f()
}

// ghwWarnings is a slog.Handler that keeps ghw's warnings instead of
// printing them.
type ghwWarnings struct {
	mu   sync.Mutex
	msgs []string
}

// Enabled keeps warnings and errors.
func (w *ghwWarnings) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }

// Handle keeps the record's message.
func (w *ghwWarnings) Handle(_ context.Context, r slog.Record) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, strings.TrimSpace(r.Message))
	return nil
}

// WithAttrs returns w: ghw's messages carry no attributes worth keeping.
func (w *ghwWarnings) WithAttrs([]slog.Attr) slog.Handler { return w }

// WithGroup returns w.
func (w *ghwWarnings) WithGroup(string) slog.Handler { return w }

// problems are the kept warnings as Problems of part, once each, with
// paths under root given as host paths. ghw's "Unable to read" of a DMI
// string is left out: readDMI says it with the path and the reason.
func (w *ghwWarnings) problems(part, root string) []Problem {
	w.mu.Lock()
	defer w.mu.Unlock()
	seen := map[string]bool{}
	var out []Problem
	for _, m := range w.msgs {
		if m == "" || seen[m] || strings.HasPrefix(m, "Unable to read ") {
			continue
		}
		seen[m] = true
		if root != "/" {
			m = strings.ReplaceAll(m, root, "")
		}
		out = append(out, Problem{Part: part, Path: reGhwPath.FindString(m), Message: "ghw: " + m})
	}
	return out
}

// reGhwPath finds the path a ghw warning names.
var reGhwPath = regexp.MustCompile(`/(?:proc|sys|run|dev|etc|usr)/[^\s:]*`)

// loadPCIDB loads the pci.ids database that names PCI vendors, products
// and classes: PCIDB_PATH when set, else the one under root
// (/usr/share/hwdata, /usr/share/misc), else the agent's own. It never
// fetches one from the network.
func loadPCIDB(root string) (*pcidb.PCIDB, *Problem) {
	noFetch := false
	roots := []string{root}
	if root != "/" {
		roots = append(roots, "/")
	}
	var lastErr error
	for _, r := range roots {
		db, err := pcidb.New(pcidb.WithChroot(r), &pcidb.WithOption{EnableNetworkFetch: &noFetch})
		if err == nil {
			return db, nil
		}
		lastErr = err
	}
	return nil, &Problem{Part: PartInventory, Path: "/usr/share/misc/pci.ids",
		Message: fmt.Sprintf("no PCI ID database (install pci.ids or hwdata): PCI devices listed by number only: %v", lastErr)}
}

// cpusFrom is one CPU per processor package, by socket.
func cpusFrom(c *cpu.Info) []CPU {
	var out []CPU
	for _, p := range c.Processors {
		if p == nil {
			continue
		}
		out = append(out, CPU{
			Socket:  p.ID,
			Model:   strings.Join(strings.Fields(p.Model), " "),
			Cores:   int(p.TotalCores),
			Threads: int(p.TotalHardwareThreads),
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Socket < out[j].Socket })
	return out
}

// disksFrom is the block devices that are hardware: loop, device-mapper,
// md, zram and other devices under /sys/devices/virtual are left out.
// Model, serial and WWN come from udev's database, else from sysfs.
func disksFrom(root string, b *block.Info) []Disk {
	var out []Disk
	for _, d := range b.Disks {
		if d == nil || d.StorageController == block.StorageControllerLoop || isVirtualBlock(root, d.Name) {
			continue
		}
		disk := Disk{
			Name:      d.Name,
			Model:     dmiValue(d.Model),
			Serial:    dmiValue(d.SerialNumber),
			WWN:       dmiValue(d.WWN),
			SizeBytes: int64(d.SizeBytes),
		}
		dev := "/sys/block/" + d.Name
		if disk.Model == "" {
			disk.Model = sysfsString(root, dev+"/device/model")
		}
		if disk.Serial == "" {
			disk.Serial = sysfsString(root, dev+"/device/serial")
		}
		if disk.WWN == "" {
			disk.WWN = sysfsString(root, dev+"/wwid")
			if disk.WWN == "" {
				disk.WWN = sysfsString(root, dev+"/device/wwid")
			}
		}
		switch {
		case d.StorageController == block.StorageControllerNVMe:
			disk.Type = "NVMe"
		case d.DriveType != block.DriveTypeUnknown:
			disk.Type = d.DriveType.String()
		}
		if d.StorageController != block.StorageControllerUnknown {
			disk.Controller = d.StorageController.String()
		}
		out = append(out, disk)
	}
	return out
}

// isVirtualBlock says whether /sys/block/<name> links into
// /sys/devices/virtual.
func isVirtualBlock(root, name string) bool {
	target, err := os.Readlink(filepath.Join(root, "sys/block", name))
	if err != nil {
		return strings.HasPrefix(name, "dm-") || strings.HasPrefix(name, "zram") ||
			strings.HasPrefix(name, "ram") || strings.HasPrefix(name, "md")
	}
	return strings.Contains(target, "/devices/virtual/")
}

// nicsFrom is every network interface but lo, with the link speed sysfs
// gives (none when the link is down).
func nicsFrom(n *net.Info) []NIC {
	var out []NIC
	for _, nic := range n.NICs {
		if nic == nil {
			continue
		}
		speed, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(nic.Speed), "Mb/s"))
		out = append(out, NIC{
			Name:      nic.Name,
			MAC:       nic.MACAddress,
			SpeedMbps: max(speed, 0),
			Virtual:   nic.IsVirtual,
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// pciFrom is every PCI function, named as lspci -nn names them ("NVIDIA
// Corporation [10de]").
func pciFrom(p *pci.Info) []PCIDevice {
	var out []PCIDevice
	for _, d := range p.Devices {
		if d == nil {
			continue
		}
		dev := PCIDevice{Address: d.Address}
		if d.Vendor != nil {
			dev.Vendor = pciName(d.Vendor.Name, d.Vendor.ID)
		}
		if d.Product != nil {
			dev.Product = pciName(d.Product.Name, d.Product.ID)
		}
		if d.Class != nil {
			id, name := d.Class.ID, d.Class.Name
			if d.Subclass != nil {
				id += d.Subclass.ID
				if n := dmiValue(d.Subclass.Name); n != "" {
					name = n
				}
			}
			dev.Class = pciName(name, id)
		}
		out = append(out, dev)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Address < out[j].Address })
	return out
}

// pciName is "name [id]", or "[id]" when pci.ids does not know the id.
func pciName(name, id string) string {
	id = strings.ToLower(strings.TrimPrefix(id, "0x"))
	if n := dmiValue(name); n != "" {
		return n + " [" + id + "]"
	}
	return "[" + id + "]"
}

// rawPCIDevices lists /sys/bus/pci/devices by number, for hosts without
// pci.ids.
func rawPCIDevices(root string) ([]PCIDevice, error) {
	dir := filepath.Join(root, "sys/bus/pci/devices")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []PCIDevice
	for _, e := range entries {
		rel := "/sys/bus/pci/devices/" + e.Name()
		hex := func(file string, digits int) string {
			v := strings.TrimPrefix(sysfsString(root, rel+"/"+file), "0x")
			if len(v) < digits {
				return ""
			}
			return v[:digits]
		}
		dev := PCIDevice{Address: e.Name()}
		if v := hex("vendor", 4); v != "" {
			dev.Vendor = "[" + v + "]"
		}
		if v := hex("device", 4); v != "" {
			dev.Product = "[" + v + "]"
		}
		if v := hex("class", 4); v != "" {
			dev.Class = "[" + v + "]"
		}
		out = append(out, dev)
	}
	return out, nil
}

// gpusOf is the PCI functions of display (class 03) and processing
// accelerator (class 12) classes, but for the BMC's own VGA function
// (quirk "bmc-vga": ASPEED [1a03] and Matrox G200e [102b] graphics, which
// serve the remote console and are no GPU an operator counts).
func gpusOf(devs []PCIDevice) []PCIDevice {
	var out []PCIDevice
	for _, d := range devs {
		class := bracketID(d.Class)
		if !strings.HasPrefix(class, "03") && !strings.HasPrefix(class, "12") {
			continue
		}
		if isBMCVGA(bracketID(d.Vendor), bracketID(d.Product)) {
			continue
		}
		out = append(out, d)
	}
	return out
}

// isBMCVGA says whether a display function is a BMC's remote-console VGA.
func isBMCVGA(vendor, product string) bool {
	switch vendor {
	case "1a03": // ASPEED Technology: AST2x00 BMCs
		return true
	case "102b": // Matrox G200e family, in iDRAC, iLO and other BMCs
		switch product {
		case "0522", "0530", "0532", "0533", "0534", "0536", "0538":
			return true
		}
	}
	return false
}

// bracketID is the id in "name [id]".
func bracketID(s string) string {
	i := strings.LastIndexByte(s, '[')
	if i < 0 || !strings.HasSuffix(s, "]") {
		return ""
	}
	return s[i+1 : len(s)-1]
}

// rootOrSlash is root, "/" when empty.
func rootOrSlash(root string) string {
	if root == "" {
		return "/"
	}
	return filepath.Clean(root)
}

// readFileUnder reads the host path rel (/sys/...) under root.
func readFileUnder(root, rel string) ([]byte, error) {
	return os.ReadFile(filepath.Join(root, rel))
}

// sysfsString is the trimmed content of the host path rel under root, ""
// when it cannot be read.
func sysfsString(root, rel string) string {
	b, err := readFileUnder(root, rel)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// problemFrom is a Problem of part at the host path rel: what was being
// done, and why it failed, said for an operator (a permission error means
// the agent is not root).
func problemFrom(part, rel, what string, err error) Problem {
	reason := err.Error()
	var pe *fs.PathError
	if errors.As(err, &pe) {
		reason = pe.Err.Error()
	}
	switch {
	case errors.Is(err, fs.ErrPermission):
		reason = "permission denied (readable by root only: run the agent as root)"
	case errors.Is(err, fs.ErrNotExist):
		reason = "not present"
	}
	return Problem{Part: part, Path: rel, Message: what + ": " + reason}
}
