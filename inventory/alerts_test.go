package inventory

import (
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func ptr[T any](v T) *T { return &v }

func TestAlertNames(t *testing.T) {
	want := []string{"DIMMFailing", "CPUHot", "PSUFailed", "PSURedundancyLost", "FanFailed",
		"DriveFailing", "InletHot", "BMCUnreachable", "RackOverBudget", "FeedFailoverUnsafe",
		"DiskSlow", "NICErrors", "InventoryMismatch", "AgentSilent"}
	names := AlertNames()
	if !slices.Equal(names, want) {
		t.Fatalf("AlertNames() = %v, want %v", names, want)
	}
	names[0] = "changed"
	if AlertNames()[0] != "DIMMFailing" {
		t.Errorf("AlertNames returns a shared slice")
	}
	for _, n := range rackAlertNames() {
		if !slices.Contains(want, n) {
			t.Errorf("rack alert %s is not an alert name", n)
		}
	}
}

// configDoc is a config file holding an alerts block beside other settings.
const configDoc = `# rackpulse.yaml
listen: 127.0.0.1:9100
alerts:
  disabled: [InletHot, FeedFailoverUnsafe]
  dimm_correctable_limit: 24
  dimm_correctable_window: 24h
  dimm_event_hold: 6h
  cpu_warning_celsius: 85
  cpu_critical_celsius: 95.5
  cpu_event_hold: 30m
  inlet_warning_celsius: 27
  inlet_critical_celsius: 32
  temperature_dead_band_celsius: 2
  temperature_for_polls: 3
  unreachable_intervals: 4
  rack_budget_warning_percent: 90
  rack_budget_critical_percent: 100
  rack_dead_band_percent: 2.5
  rack_for_cycles: 2
  feed_dead_band_percent: 0
storage: {url: http://127.0.0.1:8086}
`

// alertsNode parses a config document and returns its alerts value node.
func alertsNode(t *testing.T, doc string) *yaml.Node {
	t.Helper()
	var root yaml.Node
	if err := yaml.Unmarshal([]byte(doc), &root); err != nil {
		t.Fatal(err)
	}
	m := root.Content[0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == "alerts" {
			return m.Content[i+1]
		}
	}
	t.Fatal("no alerts key")
	return nil
}

func TestDecodeAlertSettingsEveryKey(t *testing.T) {
	got, problems := DecodeAlertSettings("configs/rackpulse.yaml", alertsNode(t, configDoc), "alerts")
	if len(problems) != 0 {
		t.Fatalf("problems: %v", problems)
	}
	want := AlertSettings{
		Disabled:                   &[]string{"InletHot", "FeedFailoverUnsafe"},
		DIMMCorrectableLimit:       ptr(24),
		DIMMCorrectableWindow:      ptr(24 * time.Hour),
		DIMMEventHold:              ptr(6 * time.Hour),
		CPUWarningCelsius:          ptr(85.0),
		CPUCriticalCelsius:         ptr(95.5),
		CPUEventHold:               ptr(30 * time.Minute),
		InletWarningCelsius:        ptr(27.0),
		InletCriticalCelsius:       ptr(32.0),
		TemperatureDeadBandCelsius: ptr(2.0),
		TemperatureForPolls:        ptr(3),
		UnreachableIntervals:       ptr(4),
		RackBudgetWarningPercent:   ptr(90.0),
		RackBudgetCriticalPercent:  ptr(100.0),
		RackDeadBandPercent:        ptr(2.5),
		RackForCycles:              ptr(2),
		FeedDeadBandPercent:        ptr(0.0),
		Source:                     Source{File: "configs/rackpulse.yaml", Line: 4, Path: "alerts"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("decoded\n%v\nwant\n%v", alertEntries(got), alertEntries(want))
	}
	if got.Source != want.Source {
		t.Errorf("source = %+v, want %+v", got.Source, want.Source)
	}
	// Every key of the reference is decoded and listed back.
	if n := len(alertEntries(got)); n != 17 {
		t.Errorf("%d settings decoded, want all 17", n)
	}
}

func TestDecodeAlertSettingsEmpty(t *testing.T) {
	for _, doc := range []string{"alerts:\n", "alerts: {}\n", "alerts: ~\n"} {
		got, problems := DecodeAlertSettings("c.yaml", alertsNode(t, doc), "alerts")
		if len(problems) != 0 || len(alertEntries(got)) != 0 || got.Source.Line != 1 {
			t.Errorf("%q: settings %v (source %+v), problems %v; want nothing set, source line 1", doc, alertEntries(got), got.Source, problems)
		}
	}
	if got, problems := DecodeAlertSettings("c.yaml", nil, "alerts"); len(problems) != 0 || got.Source != (Source{}) {
		t.Errorf("nil node: %+v, %v", got, problems)
	}
	// A whole document whose top level is the block.
	var root yaml.Node
	if err := yaml.Unmarshal([]byte("cpu_warning_celsius: 80\n"), &root); err != nil {
		t.Fatal(err)
	}
	got, problems := DecodeAlertSettings("alerts.yaml", &root, "")
	if len(problems) != 0 || got.CPUWarningCelsius == nil || *got.CPUWarningCelsius != 80 {
		t.Errorf("document node: %v, %v", alertEntries(got), problems)
	}
}

func TestDecodeAlertSettingsProblems(t *testing.T) {
	tests := []struct {
		block string // the alerts block, from line 2 of the file
		want  []string
	}{
		// Types.
		{"  dimm_correctable_limit: ten", []string{`c.yaml:2: alerts.dimm_correctable_limit: want an integer, got "ten"`}},
		{"  temperature_for_polls: 1.5", []string{`c.yaml:2: alerts.temperature_for_polls: want an integer, got 1.5`}},
		{"  unreachable_intervals: '3'", []string{`c.yaml:2: alerts.unreachable_intervals: want an integer, got the string "3" (drop the quotes)`}},
		{"  rack_for_cycles: [1]", []string{`c.yaml:2: alerts.rack_for_cycles: want an integer, got a list`}},
		{"  cpu_warning_celsius: warm", []string{`c.yaml:2: alerts.cpu_warning_celsius: want a number, got "warm"`}},
		{"  cpu_critical_celsius: \"90\"", []string{`c.yaml:2: alerts.cpu_critical_celsius: want a number, got the string "90" (drop the quotes)`}},
		{"  inlet_warning_celsius: .NaN", []string{`c.yaml:2: alerts.inlet_warning_celsius: want a finite number, got .NaN`}},
		{"  inlet_critical_celsius: -.inf", []string{`c.yaml:2: alerts.inlet_critical_celsius: want a finite number, got -.inf`}},
		{"  rack_dead_band_percent: NaN", []string{`c.yaml:2: alerts.rack_dead_band_percent: want a number, got "NaN"`}},
		{"  feed_dead_band_percent: true", []string{`c.yaml:2: alerts.feed_dead_band_percent: want a number, got "true"`}},
		{"  dimm_correctable_window: 3600", []string{`c.yaml:2: alerts.dimm_correctable_window: want a duration like 30s or 5m, got "3600"`}},
		{"  dimm_event_hold: 1 day", []string{`c.yaml:2: alerts.dimm_event_hold: want a duration like 30s or 5m, got "1 day"`}},
		{"  cpu_event_hold: 0s", []string{`c.yaml:2: alerts.cpu_event_hold: must be more than 0, got 0s`}},
		{"  disabled: InletHot", []string{`c.yaml:2: alerts.disabled: want a list, got "InletHot"`}},
		{"  disabled:\n    - [CPUHot]", []string{`c.yaml:3: alerts.disabled[0]: want an alert name, got a list`}},
		// Ranges.
		{"  dimm_correctable_limit: 0", []string{`c.yaml:2: alerts.dimm_correctable_limit: must be at least 1, got 0`}},
		{"  temperature_for_polls: -2", []string{`c.yaml:2: alerts.temperature_for_polls: must be at least 1, got -2`}},
		{"  cpu_critical_celsius: 201", []string{`c.yaml:2: alerts.cpu_critical_celsius: must be from -50 to 200 °C, got 201`}},
		{"  inlet_warning_celsius: -50.5", []string{`c.yaml:2: alerts.inlet_warning_celsius: must be from -50 to 200 °C, got -50.5`}},
		{"  temperature_dead_band_celsius: -0.5", []string{`c.yaml:2: alerts.temperature_dead_band_celsius: must be from 0 to 200 °C, got -0.5`}},
		{"  rack_budget_warning_percent: 0", []string{`c.yaml:2: alerts.rack_budget_warning_percent: must be more than 0 and at most 1000 percent, got 0`}},
		{"  rack_budget_critical_percent: 1e4", []string{`c.yaml:2: alerts.rack_budget_critical_percent: must be more than 0 and at most 1000 percent, got 1e4`}},
		{"  feed_dead_band_percent: -1", []string{`c.yaml:2: alerts.feed_dead_band_percent: must be from 0 to 1000 percent, got -1`}},
		// Unknown keys and alert names.
		{"  cpu_warning_celcius: 80", []string{`c.yaml:2: alerts.cpu_warning_celcius: unknown field "cpu_warning_celcius" (did you mean "cpu_warning_celsius"?)`}},
		{"  Rack_For_Cycles: 2", []string{`c.yaml:2: alerts.Rack_For_Cycles: unknown field "Rack_For_Cycles" (did you mean "rack_for_cycles"?)`}},
		{"  disabled: [PSUFail, cpuhot]", []string{
			`c.yaml:2: alerts.disabled[0]: unknown alert "PSUFail" (did you mean "PSUFailed"?)`,
			`c.yaml:2: alerts.disabled[1]: unknown alert "cpuhot" (did you mean "CPUHot"?)`,
		}},
		{"  disabled: [Meltdown]", []string{`c.yaml:2: alerts.disabled[0]: unknown alert "Meltdown" (known alerts: DIMMFailing, CPUHot, PSUFailed, PSURedundancyLost, FanFailed, DriveFailing, InletHot, BMCUnreachable, RackOverBudget, FeedFailoverUnsafe, DiskSlow, NICErrors, InventoryMismatch, AgentSilent)`}},
		{"  disabled:\n    - CPUHot\n    - CPUHot", []string{`warning: c.yaml:4: alerts.disabled[1]: alert CPUHot listed twice (first at line 3)`}},
		// Warning and critical in one block: reported at the critical key.
		{"  cpu_critical_celsius: 80\n  cpu_warning_celsius: 85", []string{`c.yaml:2: alerts.cpu_critical_celsius: must be above cpu_warning_celsius (85 at line 3), got 80`}},
		{"  inlet_warning_celsius: 30\n  inlet_critical_celsius: 30", []string{`c.yaml:3: alerts.inlet_critical_celsius: must be above inlet_warning_celsius (30 at line 2), got 30`}},
		{"  rack_budget_warning_percent: 120\n  rack_budget_critical_percent: 110", []string{`c.yaml:3: alerts.rack_budget_critical_percent: must be above rack_budget_warning_percent (120 at line 2), got 110`}},
		// The whole block.
		{"  - cpu_warning_celsius: 80", []string{`c.yaml:2: alerts: want a mapping, got a list`}},
		{"  cpu_warning_celsius: 80\n  cpu_warning_celsius: 81", []string{`c.yaml:3: alerts.cpu_warning_celsius: key "cpu_warning_celsius" given twice (first at line 2)`}},
	}
	for _, tt := range tests {
		t.Run(strings.TrimSpace(tt.block), func(t *testing.T) {
			s, problems := DecodeAlertSettings("c.yaml", alertsNode(t, "alerts:\n"+tt.block+"\n"), "alerts")
			var got []string
			for _, p := range problems {
				got = append(got, p.String())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			// A value with an error is not set; the other keys are.
			for _, e := range alertEntries(s) {
				key, _, _ := strings.Cut(e, "=")
				for _, p := range problems.Errors() {
					if strings.HasSuffix(p.Path, "."+key) && !strings.Contains(p.Message, "must be above") && !strings.Contains(p.Message, "given twice") {
						t.Errorf("%s set although it has an error: %s", e, p)
					}
				}
			}
		})
	}
}

func TestAlertSettingsOverlay(t *testing.T) {
	base := AlertSettings{
		Disabled:             &[]string{"InletHot"},
		DIMMCorrectableLimit: ptr(10),
		CPUWarningCelsius:    ptr(85.0),
		RackForCycles:        ptr(2),
		Source:               Source{File: "a.yaml", Line: 3, Path: "defaults.alerts"},
	}
	over := AlertSettings{
		DIMMCorrectableLimit: ptr(20),
		CPUEventHold:         ptr(time.Hour),
		Source:               Source{File: "a.yaml", Line: 9, Path: "rooms[0].defaults.alerts"},
	}
	got := base.Overlay(over)
	if want := "disabled=InletHot dimm_correctable_limit=20 cpu_warning_celsius=85 cpu_event_hold=1h rack_for_cycles=2"; strings.Join(alertEntries(got), " ") != want {
		t.Errorf("overlay = %v, want %s", alertEntries(got), want)
	}
	if got.Source != over.Source {
		t.Errorf("source = %+v, want the overlaid block's", got.Source)
	}
	// An empty list replaces an inherited one; nil does not.
	if got := got.Overlay(AlertSettings{Disabled: &[]string{}}); got.Disabled == nil || len(*got.Disabled) != 0 || got.Source != over.Source {
		t.Errorf("overlaying disabled: [] = %v (source %+v), want an empty list, source kept", alertEntries(got), got.Source)
	}
	if got := base.Overlay(AlertSettings{}); !reflect.DeepEqual(got, base) {
		t.Errorf("overlaying nothing changed %v into %v", alertEntries(base), alertEntries(got))
	}
	// The result shares no list with its inputs.
	(*got.Disabled)[0] = "CPUHot"
	if (*base.Disabled)[0] != "InletHot" {
		t.Errorf("Overlay's result shares its Disabled list with the base")
	}
}

func TestAlertInheritance(t *testing.T) {
	inv := mustLoad(t, "testdata/alerts-inherit.yaml")
	const (
		hall1 = "dimm_correctable_limit=10 dimm_correctable_window=24h cpu_warning_celsius=85 cpu_critical_celsius=100 temperature_for_polls=3"
	)
	servers := []struct {
		name, want, source string
	}{
		// Rack beats row beats room beats site, field by field; the rack's
		// empty list re-enables what the site and row disabled.
		{"rack-wins", "disabled=[] " + hall1 + " rack_budget_warning_percent=80 rack_budget_critical_percent=100", "rooms[0].rows[0].racks[0].defaults.alerts"},
		// The server's own block beats everything.
		{"server-wins", "disabled=DriveFailing dimm_correctable_limit=10 dimm_correctable_window=24h cpu_warning_celsius=70 cpu_critical_celsius=100 temperature_for_polls=3 unreachable_intervals=5 rack_budget_warning_percent=80 rack_budget_critical_percent=100", "rooms[0].rows[0].racks[0].servers[1].alerts"},
		// No rack defaults: the row's list replaces the site's.
		{"empty-block", "disabled=InletHot,CPUHot " + hall1 + " rack_budget_warning_percent=90 rack_budget_critical_percent=100", "rooms[0].rows[0].racks[1].servers[0].alerts"},
		{"re-enabled", "disabled=[] " + hall1 + " rack_budget_warning_percent=90 rack_budget_critical_percent=100", "rooms[0].rows[0].racks[1].servers[1].alerts"},
		// Site defaults only.
		{"site-only", "disabled=InletHot dimm_correctable_limit=10 cpu_warning_celsius=85 cpu_critical_celsius=95 rack_budget_warning_percent=90 rack_budget_critical_percent=100", "defaults.alerts"},
	}
	for _, tt := range servers {
		t.Run(tt.name, func(t *testing.T) {
			s, ok := inv.Server(tt.name)
			if !ok {
				t.Fatalf("no server %s", tt.name)
			}
			if got := strings.Join(alertEntries(s.Alerts), " "); got != tt.want {
				t.Errorf("alerts:\n got %s\nwant %s", got, tt.want)
			}
			if s.Alerts.Source.Path != tt.source || s.Alerts.Source.File != "testdata/alerts-inherit.yaml" {
				t.Errorf("source = %+v, want path %s", s.Alerts.Source, tt.source)
			}
		})
	}
	racks := map[string]string{
		"r12": "disabled=[] " + hall1 + " rack_budget_warning_percent=80 rack_budget_critical_percent=100",
		"r13": "disabled=InletHot,CPUHot " + hall1 + " rack_budget_warning_percent=90 rack_budget_critical_percent=100",
		"r21": "disabled=InletHot dimm_correctable_limit=10 cpu_warning_celsius=85 cpu_critical_celsius=95 rack_budget_warning_percent=90 rack_budget_critical_percent=100",
	}
	for name, want := range racks {
		r, _ := inv.Rack(name)
		if got := strings.Join(alertEntries(r.Alerts), " "); got != want {
			t.Errorf("rack %s alerts:\n got %s\nwant %s", name, got, want)
		}
	}

	// AlertOverrides is what the server's block said, nothing inherited.
	s, _ := inv.Server("server-wins")
	want := AlertSettings{
		Disabled:             &[]string{"DriveFailing"},
		CPUWarningCelsius:    ptr(70.0),
		UnreachableIntervals: ptr(5),
		Source:               Source{File: "testdata/alerts-inherit.yaml", Line: 37, Path: "rooms[0].rows[0].racks[0].servers[1].alerts"},
	}
	if !reflect.DeepEqual(s.AlertOverrides, want) {
		t.Errorf("overrides = %v %+v, want %v %+v", alertEntries(s.AlertOverrides), s.AlertOverrides.Source, alertEntries(want), want.Source)
	}
	if s, _ := inv.Server("rack-wins"); s.AlertOverrides.Source != (Source{}) || len(alertEntries(s.AlertOverrides)) != 0 {
		t.Errorf("a server without an alerts block has overrides %v", alertEntries(s.AlertOverrides))
	}
	// Each server owns its Disabled list.
	s1, _ := inv.Server("empty-block")
	s2, _ := inv.Server("re-enabled")
	*s1.Alerts.Disabled = append((*s1.Alerts.Disabled)[:0], "FanFailed")
	if r, _ := inv.Rack("r13"); (*r.Alerts.Disabled)[0] != "InletHot" || *s2.Alerts.Disabled == nil {
		t.Errorf("servers share their Disabled list with the rack")
	}
}

// An inventory of nothing but defaults leaves every setting nil: the config
// file and the engine's defaults decide.
func TestAlertsUnsetStayNil(t *testing.T) {
	inv := mustLoad(t, "testdata/dir-ok")
	for _, r := range inv.Racks() {
		if !reflect.DeepEqual(r.Alerts, AlertSettings{}) {
			t.Errorf("rack %s alerts = %+v, want zero", r.Name, r.Alerts)
		}
		for _, s := range r.Servers {
			if !reflect.DeepEqual(s.Alerts, AlertSettings{}) {
				t.Errorf("server %s alerts = %+v, want zero", s.Name, s.Alerts)
			}
		}
	}
}

func TestAlertDefaultsAcrossFiles(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "00-site.yaml"), `site: dc1
credentials:
  default: {username: rackpulse, password_env: BMC_PASSWORD}
defaults:
  bmc: {credentials: default}
  alerts: {disabled: [InletHot], cpu_warning_celsius: 80}
rooms:
  - name: hall-1
    defaults:
      alerts: {cpu_critical_celsius: 90}
`)
	writeFile(t, filepath.Join(dir, "r12.yaml"), `site: dc1
rooms:
  - name: hall-1
    rows:
      - name: row-a
        defaults:
          alerts: {rack_budget_warning_percent: 85}
        racks:
          - name: r12
            servers:
              - {name: r12-u01, position: 1, bmc: {address: 10.0.12.1}, alerts: {disabled: [DIMMFailing]}}
`)
	inv := mustLoad(t, dir)
	s, _ := inv.Server("r12-u01")
	if got, want := strings.Join(alertEntries(s.Alerts), " "), "disabled=DIMMFailing cpu_warning_celsius=80 cpu_critical_celsius=90 rack_budget_warning_percent=85"; got != want {
		t.Errorf("alerts across files:\n got %s\nwant %s", got, want)
	}

	// As for bmc defaults, one level's defaults are set in one file only.
	writeFile(t, filepath.Join(dir, "r13.yaml"), `site: dc1
rooms:
  - name: hall-1
    defaults:
      alerts: {cpu_critical_celsius: 95}
`)
	_, problems, err := load(dir, testEnv)
	if err == nil || len(problems.Errors()) != 1 || !strings.Contains(problems.Errors()[0].String(), "r13.yaml:5: rooms[0].defaults: defaults for room hall-1 already set at "+filepath.Join(dir, "00-site.yaml")+":10; set them in one file only") {
		t.Errorf("defaults in two files: %v", problems)
	}
}

func TestExampleInventoryAlerts(t *testing.T) {
	inv := mustLoad(t, "../configs/inventory.example.yaml")
	for _, name := range []string{"r21-u10", "r21-u11"} {
		s, _ := inv.Server(name)
		if s.Alerts.Disabled == nil || !slices.Equal(*s.Alerts.Disabled, []string{"InletHot"}) {
			t.Errorf("%s: lab row's disabled InletHot not inherited: %v", name, alertEntries(s.Alerts))
		}
	}
	if r, _ := inv.Rack("r12"); r.Alerts.RackBudgetWarningPercent == nil || *r.Alerts.RackBudgetWarningPercent != 80 {
		t.Errorf("r12: rack_budget_warning_percent not set: %v", alertEntries(r.Alerts))
	}
	if r, _ := inv.Rack("r11"); r.Alerts.RackBudgetWarningPercent != nil {
		t.Errorf("r11 has r12's rack_budget_warning_percent")
	}
}
