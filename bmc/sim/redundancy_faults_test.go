package sim

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

// supplyView is what a Redfish client reads of one listed supply.
type supplyView struct {
	state, health string
	// out is the output reading; nil when the supply publishes none.
	out *float64
}

// supplies lists the supplies the profile publishes, by bay label, as a
// client reads them (modern: the PowerSupplies collection and each
// member's Metrics; legacy: Power.PowerSupplies).
func (v *rfView) supplies() map[string]supplyView {
	v.t.Helper()
	out := map[string]supplyView{}
	if v.modern() {
		for _, ref := range v.get(modernChassis + "/PowerSubsystem/PowerSupplies")["Members"].([]any) {
			uri := ref.(map[string]any)["@odata.id"].(string)
			ps := v.get(uri)
			sv := supplyView{state: dig(v.t, ps, "Status", "State").(string), health: health(v.t, ps)}
			if _, linked := ps["Metrics"]; linked {
				o := dig(v.t, v.get(uri+"/Metrics"), "OutputPowerWatts", "Reading").(float64)
				sv.out = &o
			}
			out[ps["Name"].(string)] = sv
		}
		return out
	}
	for _, e := range v.get(legacyChassis + "/Power")["PowerSupplies"].([]any) {
		ps := e.(map[string]any)
		sv := supplyView{state: dig(v.t, ps, "Status", "State").(string), health: health(v.t, ps)}
		if o, ok := ps["LastPowerOutputWatts"].(float64); ok {
			sv.out = &o
		}
		out[ps["Name"].(string)] = sv
	}
	return out
}

// group is the supplies' redundancy group: its mode (RedundancyType or
// Mode) and health; ok false when the BMC publishes none.
func (v *rfView) group() (mode, groupHealth string, ok bool) {
	v.t.Helper()
	var groups []any
	if v.modern() {
		groups, _ = v.get(modernChassis + "/PowerSubsystem")["PowerSupplyRedundancy"].([]any)
	} else {
		groups, _ = v.get(legacyChassis + "/Power")["Redundancy"].([]any)
	}
	if len(groups) == 0 {
		return "", "", false
	}
	g := groups[0].(map[string]any)
	mode, _ = g["RedundancyType"].(string)
	if !v.modern() {
		mode, _ = g["Mode"].(string)
	}
	return mode, health(v.t, g), true
}

// servedTree checks that every resource the machine serves links only to
// served resources, and returns the profile's paths it does not serve now.
func servedTree(t *testing.T, m *machine) []string {
	t.Helper()
	var unserved []string
	for _, uri := range m.profile.paths() {
		o, ok := m.resource(uri)
		if !ok {
			unserved = append(unserved, uri)
			continue
		}
		var refs []string
		collectRefs(o, &refs)
		for _, ref := range refs {
			if strings.HasPrefix(ref, sessionServicePath) {
				continue
			}
			if _, ok := m.resource(ref); !ok {
				t.Errorf("%s links to %s, which is not served", uri, ref)
			}
		}
	}
	return unserved
}

func approxWatts(a, b float64) bool { return a-b < 0.25 && b-a < 0.25 }

// TestPSURedundancyFaultPayloads drives each PSU redundancy fault on both
// Redfish profiles and checks what a client reads through the BMC's
// handler: the supplies listed with their states, who carries the load,
// the redundancy group, health and log; then that clearing the fault gives
// the healthy pair back.
func TestPSURedundancyFaultPayloads(t *testing.T) {
	type check func(t *testing.T, v *rfView, first, second string)
	tests := []struct {
		name     string
		spec     FaultSpec
		unserved func(m *machine) []string // paths not served under the fault
		check    check
	}{
		{"hot spare", FaultSpec{Fault: FaultPSUHotSpare, Target: "1"}, nil, func(t *testing.T, v *rfView, first, second string) {
			s := v.supplies()
			if len(s) != 2 || s[second].state != "StandbySpare" || s[second].health != "OK" || s[first].state != "Enabled" {
				t.Errorf("supplies %+v; want %s Enabled and %s StandbySpare, OK", s, first, second)
			}
			r := v.m.read()
			if s[second].out == nil || *s[second].out != 0 || s[first].out == nil || !approxWatts(*s[first].out, r.powerWatts) {
				t.Errorf("outputs %s %v, %s %v; want the active supply carrying all %v W and the spare none", first, s[first].out, second, s[second].out, r.powerWatts)
			}
			if mode, h, ok := v.group(); !ok || mode != "Failover" || h != "OK" {
				t.Errorf("redundancy group %q %q (published %v); want Failover, OK", mode, h, ok)
			}
			if h := v.systemHealth(); h != "OK" {
				t.Errorf("system health %s with a hot spare, want OK", h)
			}
			wantLog(t, v.lastLog(), "OK", "Power supply "+second+" is configured as a hot spare.")

			// The active supply fails: the spare takes the load.
			if err := v.m.inject(FaultSpec{Fault: FaultPSUFail, Target: "0"}); err != nil {
				t.Fatal(err)
			}
			s = v.supplies()
			if s[second].state != "Enabled" || s[second].out == nil || *s[second].out <= 0 || s[first].health != "Critical" {
				t.Errorf("after %s failed: %+v; want the spare %s Enabled and delivering", first, s, second)
			}
			if _, h, _ := v.group(); h != "Warning" {
				t.Errorf("redundancy group %s with the active supply failed, want Warning", h)
			}
			v.m.clear(FaultPSUFail)
		}},
		{"single supply", FaultSpec{Fault: FaultPSUSingle}, func(m *machine) []string {
			second := m.profile.layout.psus[1].id
			if m.profile.name == ProfileModern {
				base := modernChassis + "/PowerSubsystem/PowerSupplies/" + second
				return []string{modernChassis + "/Sensors/" + second + "InputPower", base, base + "/Metrics"}
			}
			return nil // legacy: one document, PS2 left out of it
		}, func(t *testing.T, v *rfView, first, second string) {
			s := v.supplies()
			if len(s) != 1 || s[first].state != "Enabled" || s[first].health != "OK" {
				t.Errorf("supplies %+v; want %s alone, Enabled and OK", s, first)
			}
			if r := v.m.read(); s[first].out == nil || !approxWatts(*s[first].out, r.powerWatts) {
				t.Errorf("%s output %v, want all %v W", first, s[first].out, r.powerWatts)
			}
			if mode, h, ok := v.group(); ok {
				t.Errorf("a redundancy group (%s, %s) published for a single supply", mode, h)
			}
			if v.modern() {
				for _, ref := range v.get(modernChassis + "/Sensors")["Members"].([]any) {
					if uri := ref.(map[string]any)["@odata.id"].(string); strings.Contains(uri, v.m.profile.layout.psus[1].id) {
						t.Errorf("sensor %s listed for a supply the server does not have", uri)
					}
				}
			} else {
				for _, e := range v.get(legacyChassis + "/Power")["Voltages"].([]any) {
					if name := e.(map[string]any)["Name"].(string); strings.HasPrefix(name, "PS2") {
						t.Errorf("voltage %s listed for a supply the server does not have", name)
					}
				}
			}
			if h := v.systemHealth(); h != "OK" {
				t.Errorf("system health %s with a single supply, want OK", h)
			}
			wantLog(t, v.lastLog(), "OK", "The system has a single power supply ("+first+"): power supply redundancy is not available.")
		}},
		{"NotRedundant group", FaultSpec{Fault: FaultPSUNotRedundant}, nil, func(t *testing.T, v *rfView, first, second string) {
			s := v.supplies()
			if len(s) != 2 || s[first].state != "Enabled" || s[second].state != "Enabled" {
				t.Errorf("supplies %+v; want both Enabled", s)
			}
			if r := v.m.read(); s[first].out == nil || s[second].out == nil || !approxWatts(*s[first].out, r.powerWatts/2) {
				t.Errorf("outputs %v, %v; want each half of %v W", s[first].out, s[second].out, r.powerWatts)
			}
			if mode, h, ok := v.group(); !ok || mode != "NotRedundant" || h != "OK" {
				t.Errorf("redundancy group %q %q (published %v); want NotRedundant, OK", mode, h, ok)
			}
			wantLog(t, v.lastLog(), "OK", "The power supply redundancy policy is set to Not Redundant.")
		}},
		{"removed supply", FaultSpec{Fault: FaultPSURemoved, Target: "1"}, func(m *machine) []string {
			if m.profile.name == ProfileModern {
				return []string{modernChassis + "/PowerSubsystem/PowerSupplies/" + m.profile.layout.psus[1].id + "/Metrics"}
			}
			return nil
		}, func(t *testing.T, v *rfView, first, second string) {
			s := v.supplies()
			if len(s) != 2 || s[second].state != "Absent" || s[second].out != nil || s[second].health != "" {
				t.Errorf("supplies %+v; want %s listed Absent, without health or readings", s, second)
			}
			if r := v.m.read(); s[first].out == nil || !approxWatts(*s[first].out, r.powerWatts) {
				t.Errorf("%s output %v, want all %v W", first, s[first].out, r.powerWatts)
			}
			if v.modern() {
				sensor := v.get(modernChassis + "/Sensors/" + v.m.profile.layout.psus[1].id + "InputPower")
				if dig(t, sensor, "Status", "State") != "Absent" || sensor["Reading"] != nil {
					t.Errorf("the removed supply's input sensor: %v; want Absent with no reading", sensor)
				}
			}
			if mode, h, ok := v.group(); !ok || h != "Warning" || mode == "NotRedundant" {
				t.Errorf("redundancy group %q %q (published %v); want it Warning", mode, h, ok)
			}
			if h := v.systemHealth(); h != "Warning" {
				t.Errorf("system health %s with a supply removed, want Warning", h)
			}
			wantLog(t, v.lastLog(), "Critical", "Power supply "+second+" was removed: power supply redundancy is lost.")
		}},
	}
	for _, prof := range SyntheticProfiles() {
		for _, tc := range tests {
			t.Run(prof+"/"+tc.name, func(t *testing.T) {
				m, _ := newTestMachine(t, prof)
				v := newRFView(t, m)
				first, second := m.profile.layout.psus[0].label, m.profile.layout.psus[1].label
				if err := m.inject(tc.spec); err != nil {
					t.Fatal(err)
				}
				var want []string
				if tc.unserved != nil {
					want = tc.unserved(m)
				}
				got := servedTree(t, m)
				slices.Sort(got)
				slices.Sort(want)
				if !slices.Equal(got, want) {
					t.Errorf("not served under %s: %v, want %v", tc.spec.Fault, got, want)
				}
				tc.check(t, v, first, second)

				if !m.clear(tc.spec.Fault) {
					t.Fatalf("clearing %s: it was not on", tc.spec.Fault)
				}
				s := v.supplies()
				if len(s) != 2 || s[first].state != "Enabled" || s[second].state != "Enabled" || s[first].health != "OK" || s[second].health != "OK" {
					t.Errorf("after clearing: supplies %+v; want both Enabled and OK", s)
				}
				if mode, h, ok := v.group(); !ok || h != "OK" || mode == "NotRedundant" {
					t.Errorf("after clearing: redundancy group %q %q (published %v); want it back, OK", mode, h, ok)
				}
				if got := servedTree(t, m); len(got) != 0 {
					t.Errorf("after clearing, not served: %v", got)
				}
			})
		}
	}
}

// The PSU redundancy faults act on what a Redfish BMC publishes: an IPMI
// BMC refuses them (machine, admin API with 400, scenario naming it at
// start), and a scenario event for every BMC passes it by.
func TestPSURedundancyFaultsAreRedfishOnly(t *testing.T) {
	redundancy := []Fault{FaultPSUHotSpare, FaultPSUSingle, FaultPSUNotRedundant, FaultPSURemoved}
	for _, f := range DataFaults() {
		if f.RedfishOnly() != slices.Contains(redundancy, f) {
			t.Errorf("%s: RedfishOnly %v", f, f.RedfishOnly())
		}
	}
	fleet, err := NewFleet(FleetOptions{Count: 2, Mix: []ProfileShare{{ProfileModern, 1}, {ProfileIPMI, 1}}})
	if err != nil {
		t.Fatal(err)
	}
	rf, ipmi := fleet.BMCs()[0], fleet.BMCs()[1]
	if rf.Protocol() != "redfish" || ipmi.Protocol() != "ipmi" {
		t.Fatalf("BMCs %s (%s), %s (%s)", rf.name, rf.Protocol(), ipmi.name, ipmi.Protocol())
	}
	h := fleet.AdminHandler()
	for _, f := range redundancy {
		body := `{"fault": "` + string(f) + `"}`
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/bmcs/"+ipmi.name+"/faults", strings.NewReader(body)))
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "Redfish profiles") {
			t.Errorf("%s into IPMI BMC %s: %d %s; want 400 saying it is for the Redfish profiles", f, ipmi.name, rec.Code, rec.Body)
		}
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/bmcs/"+rf.name+"/faults", strings.NewReader(body)))
		if rec.Code != http.StatusCreated {
			t.Errorf("%s into Redfish BMC %s: %d %s; want 201", f, rf.name, rec.Code, rec.Body)
		}
	}
	if got := ipmi.Info().Faults; len(got) != 0 {
		t.Errorf("IPMI BMC has faults %v after refusing them", got)
	}
	if got := rf.Info().Faults; len(got) != len(redundancy) {
		t.Errorf("Redfish BMC has faults %v, want the %d injected", got, len(redundancy))
	}

	// Fields: a target only where the fault acts on one supply.
	for _, tc := range []struct {
		doc, want string
	}{
		{"- {bmc: 0, fault: psu-single, target: PSU2}\n", "no target"},
		{"- {bmc: 0, fault: psu-not-redundant, target: PSU1}\n", "no target"},
		{"- {bmc: 0, fault: psu-hot-spare, count: 2}\n", "count applies to dimm-ecc only"},
	} {
		if _, err := ParseScenario("bad.yaml", []byte(tc.doc)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want one saying %q", tc.doc, err, tc.want)
		}
	}
	events, err := ParseScenario("s.yaml", []byte("- {bmc: rack-01-u02, fault: psu-removed, target: PSU2}\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = NewFleet(FleetOptions{Count: 2, Mix: []ProfileShare{{ProfileModern, 1}, {ProfileIPMI, 1}}, Scenario: events})
	if err == nil || !strings.Contains(err.Error(), "s.yaml line 1") || !strings.Contains(err.Error(), "speaks IPMI") {
		t.Errorf("a scenario putting psu-removed on an IPMI BMC: error %v; want it refused at start, naming file and line", err)
	}
	all, err := ParseScenario("all.yaml", []byte("- {bmc: \"*\", fault: psu-not-redundant}\n"))
	if err != nil {
		t.Fatal(err)
	}
	mixed, err := NewFleet(FleetOptions{Count: 2, Mix: []ProfileShare{{ProfileModern, 1}, {ProfileIPMI, 1}}, Scenario: all})
	if err != nil {
		t.Fatalf("psu-not-redundant for every BMC of a mixed fleet: %v", err)
	}
	mixed.playScenario(t.Context(), all) // at 0s, for ever: returns once injected
	if got := mixed.BMCs()[0].Info().Faults; !slices.Equal(got, []string{string(FaultPSUNotRedundant)}) {
		t.Errorf("Redfish BMC after the scenario: faults %v, want psu-not-redundant", got)
	}
	if got := mixed.BMCs()[1].Info().Faults; len(got) != 0 {
		t.Errorf("IPMI BMC after the scenario: faults %v, want none (passed by)", got)
	}
}
