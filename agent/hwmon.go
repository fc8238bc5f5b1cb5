package agent

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// hwmonDir is the kernel's hardware monitoring class
// (Documentation/hwmon/sysfs-interface.rst).
const hwmonDir = "/sys/class/hwmon"

// ReadHwmon reads every hwmon chip under <root>/sys/class/hwmon: each
// temperature (temp*_input, milli-degrees Celsius), fan (fan*_input, RPM)
// and power (power*_input or power*_average, microwatts) with its
// *_label and its own *_max and *_crit thresholds, converted to Cel, RPM
// and W. Chips of kernels before 2.6.36 keep their files in device/; that
// is read too.
//
// CPU package temperatures are marked CPUPackage with the socket they
// belong to ("CPU1" for package 0): coretemp's "Package id N", and
// k10temp's "Tdie" (the die's temperature) or, without it, "Tctl" (or an
// unlabelled temp1 on pre-Zen processors). k10temp has one chip per
// processor (per die on first-generation EPYC), so its chips are mapped to
// sockets in PCI order.
//
// A sensor that cannot be read (a sleeping device's EIO, a fault flag) is
// left out and said in a Problem; no hwmon class at all is one Problem.
func ReadHwmon(root string) ([]Sensor, []Problem) {
	root = rootOrSlash(root)
	entries, err := os.ReadDir(filepath.Join(root, hwmonDir))
	if err != nil {
		return nil, []Problem{problemFrom(PartHwmon, hwmonDir, "reading the hwmon chips", err)}
	}
	var chips []hwmonChip
	var problems []Problem
	for _, e := range entries {
		if _, ok := indexedName(e.Name(), "hwmon"); !ok {
			continue
		}
		c, err := readHwmonChip(root, e.Name())
		if err != nil {
			problems = append(problems, problemFrom(PartHwmon, hwmonDir+"/"+e.Name(), "reading hwmon chip", err))
			continue
		}
		chips = append(chips, c)
	}
	sort.Slice(chips, func(i, j int) bool { return chips[i].index < chips[j].index })
	sockets := k10tempSockets(root, chips)

	var sensors []Sensor
	if len(chips) == 0 {
		problems = append(problems, Problem{Part: PartHwmon, Path: hwmonDir, Message: "no hwmon chip registered: no temperature, fan or power sensor driver loaded"})
	}
	for _, c := range chips {
		ss, ps := c.sensors(root, sockets[c.name+"/"+c.dir])
		sensors = append(sensors, ss...)
		problems = append(problems, ps...)
	}
	return sensors, problems
}

// hwmonChip is one hwmon* device: its driver's name and the directory its
// attribute files are in.
type hwmonChip struct {
	name  string
	dir   string // host path of the attribute files
	index int
	// device is where the chip's device link points (a PCI address for
	// k10temp).
	device string
	files  map[string]bool
}

// readHwmonChip reads a chip's name and lists its attribute files.
func readHwmonChip(root, entry string) (hwmonChip, error) {
	c := hwmonChip{dir: hwmonDir + "/" + entry}
	c.index, _ = indexedName(entry, "hwmon")
	name, err := readFileUnder(root, c.dir+"/name")
	if errors.Is(err, fs.ErrNotExist) {
		// Kernels before 2.6.36: the attributes are the device's.
		c.dir += "/device"
		name, err = readFileUnder(root, c.dir+"/name")
	}
	if err != nil {
		return c, err
	}
	c.name = strings.TrimSpace(string(name))
	if target, err := os.Readlink(filepath.Join(root, hwmonDir, entry, "device")); err == nil {
		c.device = filepath.Base(target)
	}
	entries, err := os.ReadDir(filepath.Join(root, c.dir))
	if err != nil {
		return c, err
	}
	c.files = map[string]bool{}
	for _, e := range entries {
		c.files[e.Name()] = true
	}
	return c, nil
}

var reHwmonInput = regexp.MustCompile(`^(temp|fan|power)(\d+)_(input|average)$`)

// sensors are the chip's readings. socket names the processor a k10temp
// chip belongs to ("" when not known).
func (c hwmonChip) sensors(root, socket string) ([]Sensor, []Problem) {
	type channel struct {
		kind  string
		index int
		input string
	}
	var chans []channel
	have := map[string]bool{}
	for f := range c.files {
		m := reHwmonInput.FindStringSubmatch(f)
		if m == nil {
			continue
		}
		prefix := m[1] + m[2]
		if m[3] == "average" && c.files[prefix+"_input"] {
			continue // power*_input is the reading; *_average its mean
		}
		if m[1] != "power" && m[3] == "average" {
			continue
		}
		if have[prefix] {
			continue
		}
		have[prefix] = true
		chans = append(chans, channel{kind: m[1], index: edacAtoi(m[2]), input: f})
	}
	kindOrder := map[string]int{"temp": 0, "fan": 1, "power": 2}
	sort.Slice(chans, func(i, j int) bool {
		if chans[i].kind != chans[j].kind {
			return kindOrder[chans[i].kind] < kindOrder[chans[j].kind]
		}
		return chans[i].index < chans[j].index
	})

	// k10temp's package sensor: Tdie if it has one, else Tctl, else an
	// unlabelled temp1.
	k10Package := ""
	if c.name == "k10temp" {
		for _, want := range []string{"Tdie", "Tctl"} {
			for _, ch := range chans {
				p := fmt.Sprintf("temp%d", ch.index)
				if ch.kind == "temp" && sysfsString(root, c.dir+"/"+p+"_label") == want && k10Package == "" {
					k10Package = p
				}
			}
		}
		if k10Package == "" && c.files["temp1_input"] && !c.files["temp1_label"] {
			k10Package = "temp1"
		}
	}

	var out []Sensor
	var problems []Problem
	for _, ch := range chans {
		prefix := fmt.Sprintf("%s%d", ch.kind, ch.index)
		path := c.dir + "/" + ch.input
		if c.files[prefix+"_enable"] && sysfsString(root, c.dir+"/"+prefix+"_enable") == "0" {
			continue
		}
		if c.files[prefix+"_fault"] && sysfsString(root, c.dir+"/"+prefix+"_fault") == "1" {
			problems = append(problems, Problem{Part: PartHwmon, Path: c.dir + "/" + prefix + "_fault",
				Message: fmt.Sprintf("%s %s reports a fault (sensor open or shorted)", c.name, prefix)})
			continue
		}
		raw, err := readFileUnder(root, path)
		if err != nil {
			problems = append(problems, problemFrom(PartHwmon, path, "reading "+c.name+" "+prefix, err))
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(string(raw)), 64)
		if err != nil {
			problems = append(problems, Problem{Part: PartHwmon, Path: path,
				Message: fmt.Sprintf("reading %s %s: not a number: %q", c.name, prefix, strings.TrimSpace(string(raw)))})
			continue
		}
		s := Sensor{Chip: c.name, Device: c.deviceName(), Path: path}
		s.Name = prefix
		if l := sysfsString(root, c.dir+"/"+prefix+"_label"); l != "" {
			s.Name = l
		}
		var scale float64
		switch ch.kind {
		case "temp":
			s.Kind, s.Unit, scale = SensorTemperature, "Cel", 1000
		case "fan":
			s.Kind, s.Unit, scale = SensorFan, "RPM", 1
		case "power":
			s.Kind, s.Unit, scale = SensorPower, "W", 1e6
		}
		s.Value = v / scale
		threshold := func(suffixes ...string) *float64 {
			for _, suf := range suffixes {
				if !c.files[prefix+"_"+suf] {
					continue
				}
				t, err := strconv.ParseFloat(sysfsString(root, c.dir+"/"+prefix+"_"+suf), 64)
				if err == nil {
					t /= scale
					return &t
				}
			}
			return nil
		}
		s.Max = threshold("max", "cap")
		s.Crit = threshold("crit")

		switch c.name {
		case "coretemp":
			if m := rePackageID.FindStringSubmatch(s.Name); m != nil {
				s.CPUPackage, s.Socket = true, fmt.Sprintf("CPU%d", edacAtoi(m[1])+1)
			}
		case "k10temp":
			if prefix == k10Package && socket != "" {
				s.CPUPackage, s.Socket = true, socket
			}
		}
		out = append(out, s)
	}
	// A CPU chip's cores are its package's: they carry its socket.
	if i := slices.IndexFunc(out, func(s Sensor) bool { return s.CPUPackage }); i >= 0 {
		for j := range out {
			out[j].Socket = out[i].Socket
		}
	}
	return out, problems
}

// deviceName names the chip's device, or its hwmon entry where it has no
// device link.
func (c hwmonChip) deviceName() string {
	if c.device != "" {
		return c.device
	}
	return path.Base(strings.TrimSuffix(c.dir, "/device"))
}

var rePackageID = regexp.MustCompile(`^Package id (\d+)$`)

// k10tempSockets maps each k10temp chip (by name/dir) to its socket: the
// chips in PCI address order (00:18.3 is the first processor's northbridge,
// 00:19.3 the second's), grouped evenly over the sockets the CPU topology
// has (first-generation EPYC has four dies, so four chips, per socket).
func k10tempSockets(root string, chips []hwmonChip) map[string]string {
	var k10 []hwmonChip
	for _, c := range chips {
		if c.name == "k10temp" {
			k10 = append(k10, c)
		}
	}
	sort.SliceStable(k10, func(i, j int) bool { return k10[i].device < k10[j].device })
	perSocket := 1
	if n := countPackages(root); n > 0 && len(k10) > n && len(k10)%n == 0 {
		perSocket = len(k10) / n
	}
	out := map[string]string{}
	for i, c := range k10 {
		out[c.name+"/"+c.dir] = fmt.Sprintf("CPU%d", i/perSocket+1)
	}
	return out
}

// countPackages counts the distinct physical package ids of the CPUs under
// /sys/devices/system/cpu, 0 when it cannot.
func countPackages(root string) int {
	matches, err := filepath.Glob(filepath.Join(root, "sys/devices/system/cpu/cpu[0-9]*/topology/physical_package_id"))
	if err != nil {
		return 0
	}
	ids := map[string]bool{}
	for _, m := range matches {
		if b, err := os.ReadFile(m); err == nil {
			ids[strings.TrimSpace(string(b))] = true
		}
	}
	return len(ids)
}
