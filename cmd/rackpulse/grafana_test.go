package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/rackpulse/rackpulse/bmc/sim"
	"github.com/rackpulse/rackpulse/inventory"
	"github.com/rackpulse/rackpulse/storage"
	"github.com/rackpulse/rackpulse/storage/influxtest"
)

// grafanaDir holds the Grafana dashboards shipped for rackpulse's InfluxDB
// schema (docs/dashboards.md).
var grafanaDir = filepath.Join("..", "..", "dashboards", "grafana")

// The dashboards docs/dashboards.md describes.
var grafanaDashboardFiles = []string{"site-overview.json", "rack-power.json", "server-hardware.json"}

type grafanaDatasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type grafanaTarget struct {
	RefID        string             `json:"refId"`
	Datasource   *grafanaDatasource `json:"datasource"`
	RawQuery     bool               `json:"rawQuery"`
	Query        string             `json:"query"`
	ResultFormat string             `json:"resultFormat"`
}

type grafanaPanel struct {
	ID          int                `json:"id"`
	Type        string             `json:"type"`
	Title       string             `json:"title"`
	Datasource  *grafanaDatasource `json:"datasource"`
	Targets     []grafanaTarget    `json:"targets"`
	Panels      []grafanaPanel     `json:"panels"` // a collapsed row's
	Repeat      string             `json:"repeat"`
	Interval    string             `json:"interval"` // the panel's minimum $__interval
	TimeFrom    string             `json:"timeFrom"` // the panel's own relative time range
	FieldConfig struct {
		Defaults struct {
			Unit string `json:"unit"`
		} `json:"defaults"`
	} `json:"fieldConfig"`
}

type grafanaVariable struct {
	Type       string             `json:"type"`
	Name       string             `json:"name"`
	Query      json.RawMessage    `json:"query"` // a string, or {"query": ...} as newer Grafana saves it
	Datasource *grafanaDatasource `json:"datasource"`
	IncludeAll bool               `json:"includeAll"`
	Multi      bool               `json:"multi"`
	AllValue   string             `json:"allValue"`
}

func (v grafanaVariable) query() string {
	var s string
	if json.Unmarshal(v.Query, &s) == nil {
		return s
	}
	var q struct {
		Query string `json:"query"`
	}
	_ = json.Unmarshal(v.Query, &q)
	return q.Query
}

type grafanaDashboard struct {
	file          string
	UID           string         `json:"uid"`
	Title         string         `json:"title"`
	SchemaVersion int            `json:"schemaVersion"`
	Panels        []grafanaPanel `json:"panels"`
	Templating    struct {
		List []grafanaVariable `json:"list"`
	} `json:"templating"`
}

// allPanels is every panel, those inside collapsed rows included.
func (d *grafanaDashboard) allPanels() []grafanaPanel {
	var out []grafanaPanel
	var walk func([]grafanaPanel)
	walk = func(ps []grafanaPanel) {
		for _, p := range ps {
			out = append(out, p)
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	return out
}

func loadGrafanaDashboards(t *testing.T) []*grafanaDashboard {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(grafanaDir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range grafanaDashboardFiles {
		if !slices.Contains(files, filepath.Join(grafanaDir, want)) {
			t.Errorf("no dashboard %s in %s", want, grafanaDir)
		}
	}
	var out []*grafanaDashboard
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		d := &grafanaDashboard{file: filepath.Base(f)}
		if err := json.Unmarshal(b, d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out = append(out, d)
	}
	return out
}

// grafanaVarRef matches a template variable in a query: $name, ${name},
// ${name:format} or [[name]].
var grafanaVarRef = regexp.MustCompile(`\$(\w+)|\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]`)

// Grafana's own variables the dashboards use; every other reference must be
// a dashboard variable.
var grafanaBuiltins = []string{"timeFilter", "__interval"}

func varName(m []string) string { return m[1] + m[2] + m[3] }

// TestGrafanaDashboardsAreWellFormed checks the shipped dashboards without
// InfluxDB: each parses, has unique panel ids, and every panel a title and
// InfluxQL targets on the dashboard's data source variable, downsampled
// with $__interval and bounded by $timeFilter; the provisioning files name
// an InfluxQL data source and a file provider.
func TestGrafanaDashboardsAreWellFormed(t *testing.T) {
	dashboards := loadGrafanaDashboards(t)
	uids := map[string]string{}
	for _, d := range dashboards {
		where := d.file
		if d.UID == "" || d.Title == "" {
			t.Errorf("%s: uid %q, title %q; want both", where, d.UID, d.Title)
		}
		if other, dup := uids[d.UID]; dup {
			t.Errorf("%s and %s share uid %q", where, other, d.UID)
		}
		uids[d.UID] = where
		if d.SchemaVersion < 36 {
			t.Errorf("%s: schemaVersion %d; want a current Grafana's (36 or later)", where, d.SchemaVersion)
		}

		vars := map[string]bool{}
		hasDatasourceVar := false
		for _, v := range d.Templating.List {
			switch v.Type {
			case "datasource":
				hasDatasourceVar = hasDatasourceVar || v.Name == "datasource" && v.query() == "influxdb"
			case "query":
				if v.Datasource == nil || v.Datasource.UID != "${datasource}" {
					t.Errorf("%s: variable %s uses data source %+v; want ${datasource}", where, v.Name, v.Datasource)
				}
				if !strings.HasPrefix(v.query(), "SHOW TAG VALUES") {
					t.Errorf("%s: variable %s query %q; want SHOW TAG VALUES", where, v.Name, v.query())
				}
				checkGrafanaVarRefs(t, where, "variable "+v.Name, v.query(), vars)
			default:
				t.Errorf("%s: variable %s of type %q: the query test substitutes only query variables", where, v.Name, v.Type)
			}
			vars[v.Name] = true
		}
		if !hasDatasourceVar {
			t.Errorf("%s: no data source variable named datasource (type influxdb): the dashboard would not import cleanly", where)
		}

		ids := map[int]string{}
		for _, p := range d.allPanels() {
			if prev, dup := ids[p.ID]; dup || p.ID <= 0 {
				t.Errorf("%s: panel %q has id %d (also %q); want unique positive ids", where, p.Title, p.ID, prev)
			}
			ids[p.ID] = p.Title
			if p.Title == "" {
				t.Errorf("%s: panel %d has no title", where, p.ID)
			}
			if p.Type == "row" {
				continue
			}
			if len(p.Targets) == 0 {
				t.Errorf("%s: panel %q has no target", where, p.Title)
			}
			if p.Datasource == nil || p.Datasource.UID != "${datasource}" || p.Datasource.Type != "influxdb" {
				t.Errorf("%s: panel %q data source %+v; want influxdb ${datasource}", where, p.Title, p.Datasource)
			}
			if p.Type != "table" && p.FieldConfig.Defaults.Unit == "" {
				t.Errorf("%s: panel %q (%s) sets no unit", where, p.Title, p.Type)
			}
			if p.Repeat != "" && !vars[p.Repeat] {
				t.Errorf("%s: panel %q repeats over unknown variable %s", where, p.Title, p.Repeat)
			}
			for _, tg := range p.Targets {
				name := fmt.Sprintf("panel %q target %s", p.Title, tg.RefID)
				if tg.Datasource == nil || tg.Datasource.UID != "${datasource}" {
					t.Errorf("%s: %s data source %+v; want ${datasource}", where, name, tg.Datasource)
				}
				if !tg.RawQuery || strings.TrimSpace(tg.Query) == "" {
					t.Errorf("%s: %s: want a raw InfluxQL query", where, name)
				}
				checkGrafanaQuery(t, where, name, tg.Query, vars)
			}
		}
	}
	checkGrafanaProvisioning(t)
}

var (
	groupByTime = regexp.MustCompile(`GROUP BY time\(([^)]*)\)`)
	boundedRaw  = regexp.MustCompile(`\bLIMIT \d+|\b(last|sum|count|max|min|mean)\(`)
)

// checkGrafanaQuery: a panel query is bounded by $timeFilter, groups by
// time($__interval) with a fill, and reads raw points only with a LIMIT.
func checkGrafanaQuery(t *testing.T, where, name, q string, vars map[string]bool) {
	t.Helper()
	checkGrafanaVarRefs(t, where, name, q, vars)
	if !strings.Contains(q, "$timeFilter") {
		t.Errorf("%s: %s: no $timeFilter in %s", where, name, q)
	}
	groups := groupByTime.FindAllStringSubmatch(q, -1)
	for _, g := range groups {
		if g[1] != "$__interval" {
			t.Errorf("%s: %s groups by time(%s); want time($__interval): %s", where, name, g[1], q)
		}
	}
	if len(groups) > 0 && !strings.Contains(q, "fill(") {
		t.Errorf("%s: %s groups by time without fill(): %s", where, name, q)
	}
	if len(groups) == 0 && !boundedRaw.MatchString(q) {
		t.Errorf("%s: %s reads raw points without a LIMIT or an aggregate: %s", where, name, q)
	}
}

// checkGrafanaVarRefs: every variable a query names is Grafana's or the
// dashboard's (defined before it, for variables), and dashboard variables
// stand only inside /^...$/, where Grafana regex-escapes their values (as
// the query test does).
func checkGrafanaVarRefs(t *testing.T, where, name, q string, vars map[string]bool) {
	t.Helper()
	for _, m := range grafanaVarRef.FindAllStringSubmatchIndex(q, -1) {
		ref := q[m[0]:m[1]]
		v := varName(grafanaVarRef.FindStringSubmatch(ref))
		if slices.Contains(grafanaBuiltins, v) {
			continue
		}
		if !vars[v] {
			t.Errorf("%s: %s uses %s, which the dashboard does not define (before it): %s", where, name, ref, q)
		}
		if !strings.HasSuffix(q[:m[0]], "/^") || !strings.HasPrefix(q[m[1]:], "$/") {
			t.Errorf("%s: %s uses %s outside /^...$/: %s", where, name, ref, q)
		}
	}
}

func checkGrafanaProvisioning(t *testing.T) {
	t.Helper()
	var ds struct {
		APIVersion  int `yaml:"apiVersion"`
		Datasources []struct {
			Name     string         `yaml:"name"`
			Type     string         `yaml:"type"`
			URL      string         `yaml:"url"`
			JSONData map[string]any `yaml:"jsonData"`
		} `yaml:"datasources"`
	}
	readYAML(t, filepath.Join(grafanaDir, "provisioning", "datasources", "rackpulse.yaml"), &ds)
	if ds.APIVersion != 1 || len(ds.Datasources) != 1 {
		t.Fatalf("datasource provisioning: %+v; want apiVersion 1 and one data source", ds)
	}
	s := ds.Datasources[0]
	if s.Type != "influxdb" || s.URL != "http://localhost:8086" || s.JSONData["version"] != "InfluxQL" || s.JSONData["dbName"] != "rackpulse" {
		t.Errorf("provisioned data source %+v; want influxdb at http://localhost:8086, InfluxQL, database rackpulse", s)
	}
	var dash struct {
		APIVersion int `yaml:"apiVersion"`
		Providers  []struct {
			Type    string `yaml:"type"`
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	readYAML(t, filepath.Join(grafanaDir, "provisioning", "dashboards", "rackpulse.yaml"), &dash)
	if dash.APIVersion != 1 || len(dash.Providers) != 1 || dash.Providers[0].Type != "file" || dash.Providers[0].Options.Path == "" {
		t.Errorf("dashboard provisioning %+v; want one file provider with a path", dash)
	}
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// influxQLResult is what /query answers.
type influxQLResult struct {
	Results []struct {
		Series []struct {
			Name    string            `json:"name"`
			Tags    map[string]string `json:"tags"`
			Columns []string          `json:"columns"`
			Values  [][]any           `json:"values"`
		} `json:"series"`
		Error string `json:"error"`
	} `json:"results"`
	Error string `json:"error"`
}

// nonNull returns the non-null values of the result's column (every
// column but time when column is ""), in order.
func (r influxQLResult) nonNull(column string) []any {
	var out []any
	for _, res := range r.Results {
		for _, s := range res.Series {
			for _, row := range s.Values {
				for i, v := range row {
					if i >= len(s.Columns) || v == nil || s.Columns[i] == "time" || column != "" && s.Columns[i] != column {
						continue
					}
					out = append(out, v)
				}
			}
		}
	}
	return out
}

// influxQL runs one InfluxQL statement against db, as Grafana's InfluxDB
// data source does (POST /query).
func influxQL(ctx context.Context, base, db, q string) (influxQLResult, error) {
	var r influxQLResult
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	form := url.Values{"q": {q}, "db": {db}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/query", strings.NewReader(form.Encode()))
	if err != nil {
		return r, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return r, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(body, &r); err != nil {
		return r, fmt.Errorf("HTTP %d: %v: %s", resp.StatusCode, err, body)
	}
	if r.Error != "" {
		return r, fmt.Errorf("HTTP %d: %s", resp.StatusCode, r.Error)
	}
	for _, res := range r.Results {
		if res.Error != "" {
			return r, fmt.Errorf("HTTP %d: %s", resp.StatusCode, res.Error)
		}
	}
	if resp.StatusCode != http.StatusOK {
		return r, fmt.Errorf("HTTP %d: %s", resp.StatusCode, body)
	}
	return r, nil
}

// grafanaScope is what Grafana substitutes into a query: the variables'
// chosen values, $timeFilter and $__interval.
type grafanaScope struct {
	values     map[string]string
	timeFilter string
	interval   string
}

// substitute replaces every variable of q as Grafana does for InfluxQL:
// $timeFilter by the time range, $__interval by the interval, a dashboard
// variable by its value regex-escaped (the checks above keep them inside
// /^...$/). It fails on a variable it has no value for.
func (s grafanaScope) substitute(q string) (string, error) {
	var missing []string
	out := grafanaVarRef.ReplaceAllStringFunc(q, func(ref string) string {
		name := varName(grafanaVarRef.FindStringSubmatch(ref))
		switch name {
		case "timeFilter":
			return s.timeFilter
		case "__interval":
			return s.interval
		}
		v, ok := s.values[name]
		if !ok {
			missing = append(missing, ref)
			return ref
		}
		return regexp.QuoteMeta(v)
	})
	if len(missing) > 0 {
		return out, fmt.Errorf("no value for %s", strings.Join(missing, ", "))
	}
	return out, nil
}

// grafanaProblem is a query that failed or returned nothing.
type grafanaProblem struct {
	where, query, why string
	fatal             bool // an error, not (yet) missing data
}

func (p grafanaProblem) String() string {
	return fmt.Sprintf("%s: %s\n    %s", p.where, p.why, p.query)
}

// checkGrafanaQueries resolves d's variables in order (each query
// variable's query run with the values chosen before it; the value is
// want[name], which must be among the answers, or else the first answer),
// then runs every panel target with them. A query problem is one that
// errs, or returns no series with a non-null value.
func checkGrafanaQueries(ctx context.Context, base, db string, d *grafanaDashboard, want map[string]string) (problems []grafanaProblem, checked int) {
	const timeFilter, interval = "time > now() - 1h", 10 * time.Second
	scope := grafanaScope{values: map[string]string{}, timeFilter: timeFilter, interval: interval.String()}
	run := func(where, q string, s grafanaScope, column string) []any {
		checked++
		sq, err := s.substitute(q)
		if err != nil {
			problems = append(problems, grafanaProblem{where: where, query: q, why: err.Error(), fatal: true})
			return nil
		}
		r, err := influxQL(ctx, base, db, sq)
		if err != nil {
			problems = append(problems, grafanaProblem{where: where, query: sq, why: err.Error(), fatal: true})
			return nil
		}
		vals := r.nonNull(column)
		if len(vals) == 0 {
			problems = append(problems, grafanaProblem{where: where, query: sq, why: "no series with a non-null value"})
		}
		return vals
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		where := fmt.Sprintf("%s variable $%s", d.file, v.Name)
		vals := run(where, v.query(), scope, "value") // SHOW TAG VALUES: key, value
		if len(vals) == 0 {
			return problems, checked // later variables and panels need it
		}
		var names []string
		for _, x := range vals {
			names = append(names, fmt.Sprint(x))
		}
		choice, ok := want[v.Name]
		if !ok {
			choice = names[0]
		} else if !slices.Contains(names, choice) {
			problems = append(problems, grafanaProblem{where: where, query: v.query(),
				why: fmt.Sprintf("answers %q; want %q among them", names, choice)})
			return problems, checked
		}
		scope.values[v.Name] = choice
	}
	for _, p := range d.allPanels() {
		ps := scope
		if p.TimeFrom != "" { // the panel's own range
			ps.timeFilter = "time > now() - " + p.TimeFrom
		}
		if least, err := time.ParseDuration(p.Interval); err == nil && least > interval {
			ps.interval = p.Interval
		}
		for _, tg := range p.Targets {
			run(fmt.Sprintf("%s panel %q target %s", d.file, p.Title, tg.RefID), tg.Query, ps, "")
		}
	}
	return problems, checked
}

// TestGrafanaDashboardQueriesReturnData: every templating query and every
// panel query of the shipped dashboards, with the variables set to a
// simulated fleet's site, room, row, rack and server, returns data from
// what serve stored in a real InfluxDB: a mixed Redfish/IPMI fleet, a
// DIMM with an uncorrectable error on one Redfish BMC and a failed PSU on
// another (so that event and alert points exist).
func TestGrafanaDashboardQueriesReturnData(t *testing.T) {
	dashboards := loadGrafanaDashboards(t)
	d := influxtest.Start(t)
	db := d.CreateDB(t)
	mix, err := sim.ParseMix("modern=40,legacy=30,ipmi=30")
	if err != nil {
		t.Fatal(err)
	}
	fleet, invPath := startSimFleet(t, sim.FleetOptions{Count: 12, Mix: mix, RacksPerRow: 2})
	inv, problems, err := inventory.Load(invPath)
	if err != nil {
		t.Fatalf("%v\n%s", err, problems.Errors())
	}

	// A modern Redfish BMC loses a DIMM; a legacy one in another rack a PSU.
	var dimmBMC, psuBMC *sim.SimBMC
	for _, b := range fleet.BMCs() {
		info := b.Info()
		switch {
		case dimmBMC == nil && info.Protocol == "redfish" && info.Profile == "modern":
			dimmBMC = b
		case psuBMC == nil && dimmBMC != nil && info.Profile == "legacy" && info.Rack != dimmBMC.Info().Rack:
			psuBMC = b
		}
	}
	if dimmBMC == nil || psuBMC == nil {
		t.Fatal("the fleet has no modern BMC, or no legacy one in another rack")
	}
	srv, ok := inv.Server(dimmBMC.Name())
	if !ok {
		t.Fatalf("%s is not in the inventory", dimmBMC.Name())
	}
	want := map[string]string{"site": inv.Site, "room": srv.Room, "row": srv.Row, "rack": srv.Rack, "server": srv.Name}

	serve := startServing(t, serveConfig{inventoryPath: invPath, stateDir: t.TempDir(),
		storage: storage.Config{URL: d.URL(), Bucket: db, SpoolDir: t.TempDir(), FlushInterval: 200 * time.Millisecond}})
	waitFor(t, 60*time.Second, func() bool {
		return serve.metric(t, "rackpulse_bmc_polls_total", map[string]string{"result": "ok"}) >= float64(len(fleet.BMCs()))
	})
	if err := dimmBMC.Inject(sim.FaultSpec{Fault: sim.FaultDIMMUncorrectable, Target: "DIMM4"}); err != nil {
		t.Fatalf("inject into %s: %v", dimmBMC.Name(), err)
	}
	if err := psuBMC.Inject(sim.FaultSpec{Fault: sim.FaultPSUFail}); err != nil {
		t.Fatalf("inject into %s: %v", psuBMC.Name(), err)
	}

	// Run every query until each returns data (a few poll cycles, the
	// alerts fired, two intervals of energy), failing at once on an error.
	deadline := time.Now().Add(2 * time.Minute)
	for round := 1; ; round++ {
		var all []grafanaProblem
		total := 0
		for _, dash := range dashboards {
			ps, n := checkGrafanaQueries(t.Context(), d.URL(), db, dash, want)
			all, total = append(all, ps...), total+n
		}
		fatal := slices.ContainsFunc(all, func(p grafanaProblem) bool { return p.fatal })
		if len(all) == 0 {
			t.Logf("%d queries of %d dashboards return data (round %d, variables %v)", total, len(dashboards), round, want)
			return
		}
		if fatal || time.Now().After(deadline) {
			var b strings.Builder
			shown := 0
			for _, p := range all {
				if p.fatal || !fatal {
					fmt.Fprintf(&b, "\n  %s", p)
					shown++
				}
			}
			t.Fatalf("%d of %d dashboard queries fail (variables %v):%s", shown, total, want, b.String())
		}
		time.Sleep(time.Second)
	}
}
