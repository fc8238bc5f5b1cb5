package agent

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func hwmonF64(v float64) *float64 { return &v }

type sensorWant struct {
	chip, name, kind, socket string
	pkg                      bool
	value                    float64
	max, crit                *float64
	path                     string
}

func hwmonSameF64(a, b *float64) bool {
	if a == nil || b == nil {
		return a == b
	}
	return math.Abs(*a-*b) < 1e-9
}

func findSensor(ss []Sensor, path string) (Sensor, bool) {
	for _, s := range ss {
		if s.Path == path {
			return s, true
		}
	}
	return Sensor{}, false
}

func checkSensor(t *testing.T, ss []Sensor, w sensorWant) {
	t.Helper()
	s, ok := findSensor(ss, w.path)
	if !ok {
		t.Errorf("no sensor at %s", w.path)
		return
	}
	unit := map[string]string{SensorTemperature: "Cel", SensorFan: "RPM", SensorPower: "W"}[w.kind]
	if s.Chip != w.chip || s.Name != w.name || s.Kind != w.kind || s.Unit != unit || s.CPUPackage != w.pkg || s.Socket != w.socket ||
		math.Abs(s.Value-w.value) > 1e-9 || !hwmonSameF64(s.Max, w.max) || !hwmonSameF64(s.Crit, w.crit) {
		t.Errorf("%s:\n got %+v (max %v crit %v)\nwant %+v", w.path, s, hwmonDeref(s.Max), hwmonDeref(s.Crit), w)
	}
}

func hwmonDeref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

func hwmonPackages(ss []Sensor) []string {
	var out []string
	for _, s := range ss {
		if s.CPUPackage {
			out = append(out, s.Socket+"="+s.Chip+"/"+s.Name)
		}
	}
	return out
}

// checkDistinct: no two sensors share device and name, so none overwrites
// another where they are stored (the two sockets' "Core 0" are apart).
func checkDistinct(t *testing.T, ss []Sensor) {
	t.Helper()
	seen := map[string]string{}
	for _, s := range ss {
		k := s.Chip + "|" + s.Device + "|" + s.Name
		if s.Device == "" {
			t.Errorf("%s has no device", s.Path)
		}
		if p, dup := seen[k]; dup {
			t.Errorf("%s and %s are both %s", p, s.Path, k)
		}
		seen[k] = s.Path
	}
}

func TestReadHwmonFixtures(t *testing.T) {
	t.Run("coretemp and nvme (Supermicro X11DPi, kernel 5.15)", func(t *testing.T) {
		ss, problems := ReadHwmon(filepath.Join("testdata", "supermicro-x11dpi"))
		if len(problems) != 0 {
			t.Errorf("problems %+v", problems)
		}
		checkDistinct(t, ss)
		if s, _ := findSensor(ss, "/sys/class/hwmon/hwmon1/temp2_input"); s.Device != "coretemp.1" || s.Socket != "CPU2" {
			t.Errorf("second socket's Core 0: device %q socket %q", s.Device, s.Socket)
		}
		if len(ss) != 45 {
			t.Errorf("%d sensors, want 2×(package + 20 cores) + 3 nvme", len(ss))
		}
		if got := strings.Join(hwmonPackages(ss), " "); got != "CPU1=coretemp/Package id 0 CPU2=coretemp/Package id 1" {
			t.Errorf("packages %s", got)
		}
		checkSensor(t, ss, sensorWant{"coretemp", "Package id 1", SensorTemperature, "CPU2", true, 51, hwmonF64(90), hwmonF64(100), "/sys/class/hwmon/hwmon1/temp1_input"})
		checkSensor(t, ss, sensorWant{"coretemp", "Core 28", SensorTemperature, "CPU1", false, 38, hwmonF64(90), hwmonF64(100), "/sys/class/hwmon/hwmon0/temp30_input"})
		checkSensor(t, ss, sensorWant{"nvme", "Composite", SensorTemperature, "", false, 36.85, hwmonF64(81.85), hwmonF64(84.85), "/sys/class/hwmon/hwmon2/temp1_input"})
		checkSensor(t, ss, sensorWant{"nvme", "Sensor 2", SensorTemperature, "", false, 43.85, hwmonF64(65261.85), nil, "/sys/class/hwmon/hwmon2/temp3_input"})
		// Numeric order within a chip: temp2 (Core 0) before temp10 (Core 8).
		if ss[1].Name != "Core 0" || ss[6].Name != "Core 8" {
			t.Errorf("order: %s, %s", ss[1].Name, ss[6].Name)
		}
	})
	t.Run("per-core coretemp in device/ and an ACPI power meter (Dell R710, kernel 2.6.32)", func(t *testing.T) {
		ss, problems := ReadHwmon(filepath.Join("testdata", "dell-r710"))
		if len(problems) != 0 {
			t.Errorf("problems %+v", problems)
		}
		checkDistinct(t, ss)
		if len(ss) != 13 || len(hwmonPackages(ss)) != 0 {
			t.Errorf("%d sensors, packages %v", len(ss), hwmonPackages(ss))
		}
		checkSensor(t, ss, sensorWant{"coretemp", "Core 10", SensorTemperature, "", false, 49, hwmonF64(85), hwmonF64(95), "/sys/class/hwmon/hwmon11/device/temp1_input"})
		checkSensor(t, ss, sensorWant{"power_meter", "power1", SensorPower, "", false, 168, nil, nil, "/sys/class/hwmon/hwmon12/device/power1_average"})
	})
	t.Run("k10temp per socket (Dell R7525, two EPYC 7543)", func(t *testing.T) {
		ss, problems := ReadHwmon(filepath.Join("testdata", "dell-r7525"))
		if len(problems) != 0 {
			t.Errorf("problems %+v", problems)
		}
		checkDistinct(t, ss)
		if len(ss) != 12 {
			t.Errorf("%d sensors", len(ss))
		}
		if got := strings.Join(hwmonPackages(ss), " "); got != "CPU1=k10temp/Tctl CPU2=k10temp/Tctl" {
			t.Errorf("packages %s", got)
		}
		checkSensor(t, ss, sensorWant{"k10temp", "Tctl", SensorTemperature, "CPU2", true, 52.125, nil, nil, "/sys/class/hwmon/hwmon1/temp1_input"})
		checkSensor(t, ss, sensorWant{"k10temp", "Tccd7", SensorTemperature, "CPU1", false, 39.875, nil, nil, "/sys/class/hwmon/hwmon0/temp9_input"})
		checkSensor(t, ss, sensorWant{"power_meter", "power1", SensorPower, "", false, 412, nil, nil, "/sys/class/hwmon/hwmon2/power1_average"})
	})
}

// hwmonTree writes chips: hwmon<i> → ../../devices/<device>/hwmon/hwmon<i>
// with the given files.
type hwmonChipFiles struct {
	device string
	files  map[string]string
}

func hwmonTree(t *testing.T, chips []hwmonChipFiles, extra map[string]string) string {
	t.Helper()
	root := writeSysTree(t, extra)
	for i, c := range chips {
		dir := fmt.Sprintf("sys/devices/%s/hwmon/hwmon%d", c.device, i)
		for name, v := range c.files {
			p := filepath.Join(root, dir, name)
			if strings.HasSuffix(name, "/") { // a directory where a file should be
				if err := os.MkdirAll(p, 0o755); err != nil {
					t.Fatal(err)
				}
				continue
			}
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(v), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.MkdirAll(filepath.Join(root, "sys/class/hwmon"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("../../../"+filepath.Base(c.device), filepath.Join(root, dir, "device")); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(fmt.Sprintf("../../devices/%s/hwmon/hwmon%d", c.device, i), filepath.Join(root, fmt.Sprintf("sys/class/hwmon/hwmon%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestReadHwmonCases(t *testing.T) {
	k10 := func(dev string, files map[string]string) hwmonChipFiles {
		f := map[string]string{"name": "k10temp\n"}
		for k, v := range files {
			f[k] = v
		}
		return hwmonChipFiles{"pci0000:00/" + dev, f}
	}
	t.Run("Tdie is the package where there is one", func(t *testing.T) {
		root := hwmonTree(t, []hwmonChipFiles{k10("0000:00:18.3", map[string]string{
			"temp1_input": "67250\n", "temp1_label": "Tctl\n", "temp2_input": "40250\n", "temp2_label": "Tdie\n",
		})}, nil)
		ss, problems := ReadHwmon(root)
		if len(problems) != 0 || strings.Join(hwmonPackages(ss), " ") != "CPU1=k10temp/Tdie" {
			t.Errorf("packages %v problems %+v", hwmonPackages(ss), problems)
		}
	})
	t.Run("pre-Zen k10temp: unlabelled temp1", func(t *testing.T) {
		root := hwmonTree(t, []hwmonChipFiles{k10("0000:00:18.3", map[string]string{
			"temp1_input": "31125\n", "temp1_max": "70000\n", "temp1_crit": "90000\n",
		})}, nil)
		ss, _ := ReadHwmon(root)
		checkSensor(t, ss, sensorWant{"k10temp", "temp1", SensorTemperature, "CPU1", true, 31.125, hwmonF64(70), hwmonF64(90), "/sys/class/hwmon/hwmon0/temp1_input"})
	})
	t.Run("first-generation EPYC: four dies, four chips per socket", func(t *testing.T) {
		var chips []hwmonChipFiles
		for i := 0; i < 8; i++ {
			chips = append(chips, k10(fmt.Sprintf("0000:00:%02x.3", 0x18+i), map[string]string{"temp1_input": "40000\n", "temp1_label": "Tdie\n"}))
		}
		root := hwmonTree(t, chips, map[string]string{
			"sys/devices/system/cpu/cpu0/topology/physical_package_id":  "0\n",
			"sys/devices/system/cpu/cpu32/topology/physical_package_id": "1\n",
		})
		ss, _ := ReadHwmon(root)
		want := "CPU1=k10temp/Tdie CPU1=k10temp/Tdie CPU1=k10temp/Tdie CPU1=k10temp/Tdie CPU2=k10temp/Tdie CPU2=k10temp/Tdie CPU2=k10temp/Tdie CPU2=k10temp/Tdie"
		if got := strings.Join(hwmonPackages(ss), " "); got != want {
			t.Errorf("packages %s", got)
		}
	})
	t.Run("fans, power input over average, faults, disabled and unreadable sensors", func(t *testing.T) {
		root := hwmonTree(t, []hwmonChipFiles{{"platform/nct6775.656", map[string]string{
			"name":        "nct6779\n",
			"fan1_input":  "1250\n",
			"fan1_label":  "CPU fan\n",
			"fan1_max":    "3000\n",
			"fan2_input":  "0\n",
			"temp1_input": "-1000\n", "temp1_fault": "1\n",
			"temp2_input": "35000\n", "temp2_enable": "0\n",
			"temp3_input/": "",
			"temp4_input":  "N/A\n",
			"power1_input": "95500000\n", "power1_average": "90000000\n", "power1_crit": "150000000\n", "power1_cap": "120000000\n",
			"power2_average": "12000000\n",
		}}}, nil)
		ss, problems := ReadHwmon(root)
		checkSensor(t, ss, sensorWant{"nct6779", "CPU fan", SensorFan, "", false, 1250, hwmonF64(3000), nil, "/sys/class/hwmon/hwmon0/fan1_input"})
		checkSensor(t, ss, sensorWant{"nct6779", "fan2", SensorFan, "", false, 0, nil, nil, "/sys/class/hwmon/hwmon0/fan2_input"})
		checkSensor(t, ss, sensorWant{"nct6779", "power1", SensorPower, "", false, 95.5, hwmonF64(120), hwmonF64(150), "/sys/class/hwmon/hwmon0/power1_input"})
		checkSensor(t, ss, sensorWant{"nct6779", "power2", SensorPower, "", false, 12, nil, nil, "/sys/class/hwmon/hwmon0/power2_average"})
		if len(ss) != 4 {
			t.Errorf("%d sensors: %+v", len(ss), ss)
		}
		if len(problems) != 3 || !strings.Contains(problems[0].Message, "fault") ||
			!strings.Contains(problems[1].Message, "temp3") || !strings.Contains(problems[2].Message, "not a number") {
			t.Errorf("problems %+v", problems)
		}
	})
	t.Run("no hwmon class", func(t *testing.T) {
		ss, problems := ReadHwmon(t.TempDir())
		if ss != nil || len(problems) != 1 || problems[0].Path != hwmonDir || problems[0].Part != PartHwmon {
			t.Errorf("sensors %v problems %+v", ss, problems)
		}
	})
	t.Run("no chip", func(t *testing.T) {
		ss, problems := ReadHwmon(writeSysTree(t, map[string]string{"sys/class/hwmon/.keep": ""}))
		if ss != nil || len(problems) != 1 || !strings.Contains(problems[0].Message, "no hwmon chip") {
			t.Errorf("sensors %v problems %+v", ss, problems)
		}
	})
}
