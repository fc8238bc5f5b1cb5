package sim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// warmNames finds n server names of the fleet's naming whose machines run
// warm (or, with warm false, do not).
func warmNames(t *testing.T, n int, warm bool) []string {
	t.Helper()
	var out []string
	for i := 0; len(out) < n && i < 2000; i++ {
		name := fmt.Sprintf("rack-%02d-u%02d", i/20+1, i%20+1)
		if newMachine(name, nil, time.Time{}, nil).warm == warm {
			out = append(out, name)
		}
	}
	if len(out) < n {
		t.Fatalf("found %d of %d names with warm %v", len(out), n, warm)
	}
	return out
}

func TestWarmMachinesAreAboutOneInTen(t *testing.T) {
	warm := 0
	const n = 2000
	for i := range n {
		if newMachine(fmt.Sprintf("rack-%02d-u%02d", i/20+1, i%20+1), nil, time.Time{}, nil).warm {
			warm++
		}
	}
	if warm < n/20 || warm > n/6 {
		t.Errorf("%d warm machines of %d, want about one in ten", warm, n)
	}
	name := warmNames(t, 1, true)[0]
	if !newMachine(name, nil, time.Time{}, nil).warm {
		t.Errorf("%s is warm once and not again", name)
	}
}

// num reads a number from a rendered resource (ints and floats alike).
func num(t *testing.T, v any) float64 {
	t.Helper()
	switch v := v.(type) {
	case float64:
		return v
	case int:
		return float64(v)
	}
	t.Fatalf("%v (%T) is not a number", v, v)
	return 0
}

// profileNamed builds a profile, and the IPMI one's sensors.
func profileNamed(t *testing.T, name string) (*profile, *ipmiProfile) {
	t.Helper()
	if name == ProfileIPMI {
		ip := newIPMIProfile()
		return ip.profile, ip
	}
	p, err := newProfile(name)
	if err != nil {
		t.Fatal(err)
	}
	return p, nil
}

// clearOfThresholds checks one reading of a healthy machine against every
// threshold its profile publishes, in the payloads as served.
func clearOfThresholds(t *testing.T, m *machine, ip *ipmiProfile, r *readings) {
	t.Helper()
	p := m.profile
	at := r.now.Format(time.TimeOnly)
	if r.health != "OK" {
		t.Fatalf("%s at %s: health %s", m.name, at, r.health)
	}
	render := func(uri string) obj {
		render, ok := p.routes[uri]
		if !ok {
			t.Fatalf("%s not served", uri)
		}
		return render(m, r)
	}
	switch p.name {
	case ProfileModern:
		for _, uri := range p.paths() {
			if !strings.HasPrefix(uri, modernChassis+"/Sensors/") {
				continue
			}
			s := render(uri)
			v := num(t, s["Reading"])
			th, _ := s["Thresholds"].(obj)
			for name, limit := range th {
				l := num(t, limit.(obj)["Reading"])
				if (strings.HasPrefix(name, "Upper") && v >= l) || (strings.HasPrefix(name, "Lower") && v <= l) {
					t.Fatalf("%s at %s: %s reads %v, %s %v", m.name, at, s["Id"], v, name, l)
				}
			}
			if h := s["Status"].(obj)["Health"]; h != "OK" {
				t.Fatalf("%s at %s: %s is %v", m.name, at, s["Id"], h)
			}
		}
		for _, ps := range p.layout.psus {
			uri := modernChassis + "/PowerSubsystem/PowerSupplies/" + ps.id
			capacity := num(t, render(uri)["PowerCapacityWatts"])
			if in := num(t, render(uri + "/Metrics")["InputPowerWatts"].(obj)["Reading"]); in >= capacity {
				t.Fatalf("%s at %s: %s input %v W, rating %v W", m.name, at, ps.id, in, capacity)
			}
		}
	case ProfileLegacy:
		thermal := render(legacyChassis + "/Thermal")
		for _, tv := range thermal["Temperatures"].([]any) {
			o := tv.(obj)
			if o["Status"].(obj)["State"] != "Enabled" || o["ReadingCelsius"] == nil {
				continue
			}
			v := num(t, o["ReadingCelsius"])
			if v >= num(t, o["UpperThresholdNonCritical"]) || v <= num(t, o["LowerThresholdCritical"]) {
				t.Fatalf("%s at %s: %s at %v °C, thresholds %v", m.name, at, o["Name"], v, o)
			}
		}
		for _, fv := range thermal["Fans"].([]any) {
			o := fv.(obj)
			if v := num(t, o["Reading"]); v <= num(t, o["LowerThresholdNonCritical"]) {
				t.Fatalf("%s at %s: %s at %v RPM", m.name, at, o["Name"], v)
			}
		}
		for i, pv := range render(legacyChassis + "/Power")["PowerSupplies"].([]any) {
			o := pv.(obj)
			in := num(t, o["PowerInputWatts"])
			if i == 1 {
				in = r.psus[1].inputWatts // QuirkPSUInputIsRating: the reading itself
			}
			if in >= num(t, o["PowerCapacityWatts"]) {
				t.Fatalf("%s at %s: %s input %v W", m.name, at, o["Name"], in)
			}
		}
	case ProfileIPMI:
		presence := map[uint8]uint16{
			ipmiSensorPowerSupply: 1 << offPSUPresence, ipmiSensorMemory: 1 << offMemPresence,
			ipmiSensorProcessor: 1 << offProcessorPresence, ipmiSensorDriveSlot: 1 << offDrivePresence,
		}
		for _, s := range ip.sensors {
			if !s.analog() {
				if st := s.stateOf(r); st != presence[s.sensorType] {
					t.Fatalf("%s at %s: %s asserts %04xh", m.name, at, s.name, st)
				}
				continue
			}
			rd := s.reading(m, r)
			if rd[1]&0x20 != 0 || rd[2] != 0 {
				v, _ := s.value(m, r)
				t.Fatalf("%s at %s: %s reads %v (raw %d), threshold status %02xh", m.name, at, s.name, v, rd[0], rd[2])
			}
		}
		for i, ps := range r.psus {
			if ps.inputWatts >= p.layout.psuCapacityWatts {
				t.Fatalf("%s at %s: PSU%d input %v W", m.name, at, i+1, ps.inputWatts)
			}
		}
	}
}

// TestHealthyMachinesStayClearOfThresholdsAllDay samples healthy machines,
// warm ones included, over a simulated day on every profile: no reading
// reaches a threshold its BMC publishes (CPU caution, inlet and exhaust,
// fans' lower limits, voltages, PSU input against the rating). Warm
// machines come within a few °C of their CPU and inlet thresholds.
func TestHealthyMachinesStayClearOfThresholdsAllDay(t *testing.T) {
	day := time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC)
	names := append(warmNames(t, 3, true), warmNames(t, 7, false)...)
	for _, prof := range []string{ProfileModern, ProfileLegacy, ProfileIPMI} {
		t.Run(prof, func(t *testing.T) {
			p, ip := profileNamed(t, prof)
			for i, name := range names {
				clock := &fakeClock{t: day}
				m := newMachine(name, p, day.Add(-time.Duration(i)*17*time.Minute), clock.now)
				var maxCPU, maxInlet float64
				// 37 s: prime to the 10 s noise buckets and the 10 min wobble.
				for at := time.Duration(0); at < 24*time.Hour; at += 37 * time.Second {
					clock.t = day.Add(at)
					r := m.read()
					clearOfThresholds(t, m, ip, r)
					for _, c := range r.cpus {
						maxCPU = max(maxCPU, c.celsius)
					}
					maxInlet = max(maxInlet, r.inletC)
				}
				caution := p.layout.inletCautionC
				if m.warm {
					if maxCPU < cpuCautionCelsius-7 || maxInlet < caution-6 || maxInlet > caution-3 {
						t.Errorf("warm %s peaks at CPU %v °C, inlet %v °C: want within a few °C under %d and %v", name, maxCPU, maxInlet, cpuCautionCelsius, caution)
					}
				} else if maxCPU >= cpuCautionCelsius-10 || maxInlet >= caution-10 {
					t.Errorf("%s peaks at CPU %v °C, inlet %v °C: want well clear of %d and %v", name, maxCPU, maxInlet, cpuCautionCelsius, caution)
				}
			}
		})
	}
}

// TestRackBudgets: the inventory's rack budgets keep a healthy rack under
// 70 % over a whole day, feeds carry the budget alone, and a rack whose
// servers are all overloaded is over its budget all day with every PSU
// under its rating.
func TestRackBudgets(t *testing.T) {
	mixed := []ProfileShare{{ProfileModern, 1}, {ProfileLegacy, 1}, {ProfileIPMI, 1}}
	for _, tc := range []struct {
		name string
		opts FleetOptions
	}{
		{"20 a rack, mixed", FleetOptions{Count: 45, Mix: mixed}},
		{"20 IPMI", FleetOptions{Count: 20, Mix: []ProfileShare{{ProfileIPMI, 1}}}},
		{"one a rack", FleetOptions{Count: 3, PerRack: 1, Mix: mixed}},
		{"three a rack", FleetOptions{Count: 9, PerRack: 3, Mix: []ProfileShare{{ProfileModern, 2}, {ProfileIPMI, 1}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := NewFleet(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			path, err := f.writeInventory(dir, filepath.Join(dir, "ca.pem"))
			if err != nil {
				t.Fatal(err)
			}
			data, _ := os.ReadFile(path)
			var inv invFile
			if err := yaml.Unmarshal(data, &inv); err != nil {
				t.Fatal(err)
			}
			budget := map[string]float64{}
			for _, row := range inv.Rooms[0].Rows {
				for _, r := range row.Racks {
					if r.PowerBudgetWatts%budgetStepWatts != 0 || len(r.Feeds) != 2 ||
						r.Feeds["A"].CapacityWatts != r.PowerBudgetWatts || r.Feeds["B"].CapacityWatts != r.PowerBudgetWatts {
						t.Errorf("rack %s: budget %d W, feeds %+v", r.Name, r.PowerBudgetWatts, r.Feeds)
					}
					budget[r.Name] = float64(r.PowerBudgetWatts)
				}
			}
			clock := &fakeClock{t: time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC)}
			for _, b := range f.BMCs() {
				b.machine.now = clock.now
			}
			// sample sums each rack's input power over a day, checking
			// every PSU against its rating, and returns each rack's least
			// and greatest share of its budget.
			sample := func(step time.Duration) (least, most map[string]float64) {
				least, most = map[string]float64{}, map[string]float64{}
				start := clock.t
				for at := time.Duration(0); at < 24*time.Hour; at += step {
					clock.t = start.Add(at)
					sum := map[string]float64{}
					for _, b := range f.BMCs() {
						r := b.machine.read()
						sum[b.rack] += r.inputWatts
						for i, ps := range r.psus {
							if ps.inputWatts >= b.machine.profile.layout.psuCapacityWatts {
								t.Fatalf("%s PSU %d draws %v W at %s", b.name, i+1, ps.inputWatts, clock.t.Format(time.TimeOnly))
							}
						}
					}
					for rack, w := range sum {
						share := w / budget[rack]
						if at == 0 || share < least[rack] {
							least[rack] = share
						}
						most[rack] = max(most[rack], share)
					}
				}
				clock.t = start
				return least, most
			}
			_, most := sample(3 * time.Minute)
			for rack, share := range most {
				if share >= healthyBudgetShare {
					t.Errorf("healthy rack %s peaks at %.1f%% of its %v W budget", rack, 100*share, budget[rack])
				}
			}
			for _, b := range f.BMCs() {
				if err := b.Inject(FaultSpec{Fault: FaultOverload}); err != nil {
					t.Fatal(err)
				}
			}
			least, _ := sample(17 * time.Minute)
			for rack, share := range least {
				if share <= 1 {
					t.Errorf("overloaded rack %s draws %.1f%% of its %v W budget", rack, 100*share, budget[rack])
				}
			}
		})
	}
}

func TestScenarioFaultFields(t *testing.T) {
	events, err := ParseScenario("s.yaml", []byte(`
- {bmc: 0, fault: dimm-ecc, count: 2, every: 1h}
- {bmc: 1, fault: cpu-oscillate, swing: 2.5, target: CPU2}
- {bmc: 2, fault: overload, at: 5m}
- {bmc: 2, fault: dimm-uncorrectable, target: DIMM3}
`))
	if err != nil {
		t.Fatal(err)
	}
	if events[0].Fault.Count != 2 || events[1].Fault.Swing != 2.5 || events[2].Fault.Fault != FaultOverload || events[3].Fault.Fault != FaultDIMMUncorrectable {
		t.Errorf("events %+v", events)
	}
	f, err := NewFleet(FleetOptions{Count: 3, Scenario: events})
	if err != nil {
		t.Fatal(err)
	}
	for i, ev := range events {
		if err := f.BMCs()[i%3].Inject(ev.Fault); err != nil {
			t.Errorf("event %d: %v", i+1, err)
		}
	}
	for _, tc := range []struct{ doc, want string }{
		{"- bmc: x\n  fault: cpu-hot\n  count: 4\n", "count applies to dimm-ecc only"},
		{"- bmc: x\n  fault: dimm-ecc\n  count: 0\n", "line 3: field count"},
		{"- bmc: x\n  fault: dimm-ecc\n  count: many\n", "many"},
		{"- bmc: x\n  fault: cpu-oscillate\n  swing: 12\n", "swing 12"},
		{"- bmc: x\n  fault: overload\n  target: PSU1\n", "no target"},
	} {
		if _, err := ParseScenario("bad.yaml", []byte(tc.doc)); err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "bad.yaml") {
			t.Errorf("%q: error %v, want one naming the file and saying %q", tc.doc, err, tc.want)
		}
	}
}

func TestAdminAPIFaultFields(t *testing.T) {
	f, err := NewFleet(FleetOptions{Count: 2, Mix: []ProfileShare{{ProfileModern, 1}, {ProfileIPMI, 1}}})
	if err != nil {
		t.Fatal(err)
	}
	h := f.AdminHandler()
	post := func(name, body string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/bmcs/"+name+"/faults", strings.NewReader(body)))
		return rec
	}
	for _, tc := range []struct {
		bmc, body string
		want      int
	}{
		{"rack-01-u01", `{"fault": "dimm-ecc", "target": "DIMM2", "count": 12, "every": "1h"}`, http.StatusCreated},
		{"rack-01-u02", `{"fault": "cpu-oscillate", "swing": 4}`, http.StatusCreated},
		{"rack-01-u02", `{"fault": "overload"}`, http.StatusCreated},
		{"rack-01-u01", `{"fault": "dimm-ecc", "count": 0}`, http.StatusBadRequest},
		{"rack-01-u01", `{"fault": "fan-fail", "count": 3}`, http.StatusBadRequest},
		{"rack-01-u01", `{"fault": "cpu-oscillate", "swing": 15}`, http.StatusBadRequest},
		{"rack-01-u01", `{"fault": "overload", "target": "CPU1"}`, http.StatusBadRequest},
	} {
		if rec := post(tc.bmc, tc.body); rec.Code != tc.want {
			t.Errorf("%s %s: %d %s, want %d", tc.bmc, tc.body, rec.Code, rec.Body, tc.want)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/bmcs", nil))
	var list []BMCInfo
	if err := json.Unmarshal(rec.Body.Bytes(), &list); err != nil {
		t.Fatal(err)
	}
	if strings.Join(list[0].Faults, ",") != "dimm-ecc" || strings.Join(list[1].Faults, ",") != "cpu-oscillate,overload" {
		t.Errorf("faults %v and %v", list[0].Faults, list[1].Faults)
	}
	if r := f.BMCs()[0].machine.read(); r.dimms[1].correctable != 12 {
		t.Errorf("DIMM2 has %d errors at the first step, want the 12 asked for", r.dimms[1].correctable)
	}
	for i, b := range f.BMCs() {
		if list[i].Warm != b.machine.warm {
			t.Errorf("%s: info says warm %v, machine %v", b.name, list[i].Warm, b.machine.warm)
		}
	}
}
