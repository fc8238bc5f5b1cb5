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
	"github.com/rackpulse/rackpulse/power"
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
func checkGrafanaQueries(ctx context.Context, base, db string, d *grafanaDashboard, want map[string]string) (problems []grafanaProblem, checked int, scope grafanaScope) {
	const timeFilter, interval = "time > now() - 1h", 10 * time.Second
	scope = grafanaScope{values: map[string]string{}, timeFilter: timeFilter, interval: interval.String()}
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
			return problems, checked, scope // later variables and panels need it
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
			return problems, checked, scope
		}
		scope.values[v.Name] = choice
	}
	for _, p := range d.allPanels() {
		ps := scope.forPanel(p)
		for _, tg := range p.Targets {
			run(fmt.Sprintf("%s panel %q target %s", d.file, p.Title, tg.RefID), tg.Query, ps, "")
		}
	}
	return problems, checked, scope
}

// forPanel is the scope a panel's queries run in: the panel's own time
// range and minimum interval where it sets them.
func (s grafanaScope) forPanel(p grafanaPanel) grafanaScope {
	if p.TimeFrom != "" {
		s.timeFilter = "time > now() - " + p.TimeFrom
	}
	if least, err := time.ParseDuration(p.Interval); err == nil {
		if current, _ := time.ParseDuration(s.interval); least > current {
			s.interval = p.Interval
		}
	}
	return s
}

// grafanaExpectation is what one column of a panel's answer must show for
// the faults the query test injects.
type grafanaExpectation struct {
	file, panel, column string
	what                string
	holds               func(vals []any) bool
}

// latestIs: the column's newest non-null value (the time series come
// oldest first) is want.
func latestIs(want any) func([]any) bool {
	return func(vals []any) bool { return len(vals) > 0 && vals[len(vals)-1] == want }
}

// latestAtLeast: the column's newest non-null value is a number >= n.
func latestAtLeast(n float64) func([]any) bool {
	return func(vals []any) bool {
		if len(vals) == 0 {
			return false
		}
		v, ok := vals[len(vals)-1].(float64)
		return ok && v >= n
	}
}

// anyAtLeast: some value of the column is a number >= n.
func anyAtLeast(n float64) func([]any) bool {
	return func(vals []any) bool {
		return slices.ContainsFunc(vals, func(x any) bool { v, ok := x.(float64); return ok && v >= n })
	}
}

// checkGrafanaExpectations runs each expectation's panel (every target)
// in its dashboard's resolved scope and reports those that do not hold.
func checkGrafanaExpectations(ctx context.Context, base, db string, dashboards []*grafanaDashboard, scopes map[string]grafanaScope, exps []grafanaExpectation) []grafanaProblem {
	var problems []grafanaProblem
	for _, e := range exps {
		where := fmt.Sprintf("%s panel %q column %q", e.file, e.panel, e.column)
		i := slices.IndexFunc(dashboards, func(d *grafanaDashboard) bool { return d.file == e.file })
		if i < 0 {
			problems = append(problems, grafanaProblem{where: where, why: "no such dashboard", fatal: true})
			continue
		}
		panels := dashboards[i].allPanels()
		j := slices.IndexFunc(panels, func(p grafanaPanel) bool { return p.Title == e.panel })
		if j < 0 {
			problems = append(problems, grafanaProblem{where: where, why: "no such panel", fatal: true})
			continue
		}
		scope := scopes[e.file].forPanel(panels[j])
		var vals []any
		var queries []string
		for _, tg := range panels[j].Targets {
			q, err := scope.substitute(tg.Query)
			if err != nil {
				problems = append(problems, grafanaProblem{where: where, query: tg.Query, why: err.Error(), fatal: true})
				continue
			}
			r, err := influxQL(ctx, base, db, q)
			if err != nil {
				problems = append(problems, grafanaProblem{where: where, query: q, why: err.Error(), fatal: true})
				continue
			}
			vals = append(vals, r.nonNull(e.column)...)
			queries = append(queries, q)
		}
		if !e.holds(vals) {
			problems = append(problems, grafanaProblem{where: where, query: strings.Join(queries, "; "),
				why: fmt.Sprintf("answers %v; want %s", vals, e.what)})
		}
	}
	return problems
}

// TestGrafanaDashboardQueriesReturnData: every templating query and every
// panel query of the shipped dashboards, with the variables set to a
// simulated fleet's site, room, row, rack and server, returns data from
// what serve stored in a real InfluxDB: a mixed Redfish/IPMI fleet, a
// DIMM with an uncorrectable error on one Redfish BMC and a failed PSU on
// another (so that event and alert points exist). The first server is
// also built with a single supply: the PSU redundancy panels show it not
// redundant (a configuration), its rack and the site count it, and the
// site counts the failed PSU's server lost.
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
	if err := dimmBMC.Inject(sim.FaultSpec{Fault: sim.FaultPSUSingle}); err != nil {
		t.Fatalf("inject into %s: %v", dimmBMC.Name(), err)
	}
	const notRedundant = "not redundant (configuration)"
	expectations := []grafanaExpectation{
		{"server-hardware.json", "PSU redundancy", "redundancy", "not_redundant, the single-supply server's verdict", latestIs("not_redundant")},
		{"rack-power.json", "Servers: power source and PSU redundancy", "PSU redundancy", "the single-supply server not_redundant", func(v []any) bool { return slices.Contains(v, any("not_redundant")) }},
		{"rack-power.json", "PSU redundancy per server", "last", "the single-supply server not_redundant now", func(v []any) bool { return slices.Contains(v, any("not_redundant")) }},
		{"rack-power.json", "PSU redundancy now", notRedundant, "the rack's not_redundant count at least 1", latestAtLeast(1)},
		{"site-overview.json", "PSU redundancy now", notRedundant, "the site's not_redundant count at least 1", latestAtLeast(1)},
		{"site-overview.json", "PSU redundancy now", "lost", "the site's lost count at least 1 (the failed PSU)", latestAtLeast(1)},
		{"site-overview.json", "PSU redundancy by verdict", notRedundant, "a not_redundant count of at least 1", anyAtLeast(1)},
		{"site-overview.json", "Racks by utilisation", notRedundant, "a rack counting a not_redundant server", anyAtLeast(1)},
		{"site-overview.json", "Racks by utilisation", "PSU redundancy lost", "a rack counting a lost server", anyAtLeast(1)},
	}

	// Run every query until each returns data (a few poll cycles, the
	// alerts fired, two intervals of energy), failing at once on an error.
	deadline := time.Now().Add(2 * time.Minute)
	for round := 1; ; round++ {
		var all []grafanaProblem
		total := 0
		scopes := map[string]grafanaScope{}
		for _, dash := range dashboards {
			ps, n, scope := checkGrafanaQueries(t.Context(), d.URL(), db, dash, want)
			all, total = append(all, ps...), total+n
			scopes[dash.file] = scope
		}
		if len(all) == 0 {
			all = checkGrafanaExpectations(t.Context(), d.URL(), db, dashboards, scopes, expectations)
		}
		fatal := slices.ContainsFunc(all, func(p grafanaProblem) bool { return p.fatal })
		if len(all) == 0 {
			t.Logf("%d queries of %d dashboards return data, %d PSU redundancy expectations hold (round %d, variables %v)", total, len(dashboards), len(expectations), round, want)
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

// notRedundantGrey is the muted grey the dashboards give not_redundant: a
// configuration, never an alert, so never a warning colour.
const notRedundantGrey = "#8e8e8e"

// TestGrafanaPSURedundancyVerdictsMapped: every panel that shows a
// server's PSU redundancy verdict maps each verdict the power model gives
// (docs/power.md) to words and a colour, not_redundant to "not redundant
// (configuration)" in muted grey; every panel that shows the counts shows
// lost, degraded and not_redundant, the last in the same grey; the site
// and rack dashboards show the counts.
func TestGrafanaPSURedundancyVerdictsMapped(t *testing.T) {
	verdictPanels, countPanels := map[string]int{}, map[string]int{}
	for _, file := range grafanaDashboardFiles {
		b, err := os.ReadFile(filepath.Join(grafanaDir, file))
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			Panels []map[string]any `json:"panels"`
		}
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		var panels []map[string]any
		var walk func([]map[string]any)
		walk = func(ps []map[string]any) {
			for _, p := range ps {
				panels = append(panels, p)
				var inner []map[string]any
				if raw, err := json.Marshal(p["panels"]); err == nil {
					_ = json.Unmarshal(raw, &inner)
				}
				walk(inner)
			}
		}
		walk(d.Panels)
		for _, p := range panels {
			title, _ := p["title"].(string)
			where := fmt.Sprintf("%s panel %q", file, title)
			raw, _ := json.Marshal(p["targets"])
			queries := string(raw)
			if strings.Contains(queries, `\"psu_redundancy\"`) {
				verdictPanels[file]++
				checkVerdictMappings(t, where, p)
			}
			if strings.Contains(queries, "psu_redundancy_") {
				countPanels[file]++
				for _, field := range []string{"psu_redundancy_lost", "psu_redundancy_degraded", "psu_redundancy_not_redundant"} {
					if !strings.Contains(queries, field) {
						t.Errorf("%s shows PSU redundancy counts without %s", where, field)
					}
				}
				if c := overrideColour(p, "not redundant (configuration)"); c != notRedundantGrey {
					t.Errorf("%s: the not_redundant count is coloured %q, want the muted grey %s (a configuration)", where, c, notRedundantGrey)
				}
			}
		}
	}
	for _, file := range []string{"rack-power.json", "server-hardware.json"} {
		if verdictPanels[file] == 0 {
			t.Errorf("%s shows no PSU redundancy verdict", file)
		}
	}
	for _, file := range []string{"site-overview.json", "rack-power.json"} {
		if countPanels[file] == 0 {
			t.Errorf("%s shows no PSU redundancy counts", file)
		}
	}
}

// checkVerdictMappings checks the value mappings of a panel showing the
// verdict, in its defaults or its overrides.
func checkVerdictMappings(t *testing.T, where string, p map[string]any) {
	t.Helper()
	var options map[string]any
	var find func(v any)
	find = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if o, ok := v["options"].(map[string]any); ok && v["type"] == "value" && o["redundant"] != nil {
				options = o
				return
			}
			for _, e := range v {
				find(e)
			}
		case []any:
			for _, e := range v {
				find(e)
			}
		}
	}
	find(p["fieldConfig"])
	if options == nil {
		t.Errorf("%s shows the verdict without value mappings", where)
		return
	}
	warning := []string{"red", "orange", "yellow", "dark-red", "semi-dark-red", "dark-orange", "semi-dark-orange"}
	for _, v := range power.Redundancies() {
		m, _ := options[string(v)].(map[string]any)
		if m == nil || m["text"] == "" || m["color"] == "" {
			t.Errorf("%s maps no words and colour for %s: %v", where, v, options)
			continue
		}
		if v == power.RedundancyNotRedundant {
			if m["text"] != "not redundant (configuration)" || m["color"] != notRedundantGrey {
				t.Errorf("%s maps not_redundant to %q in %q; want \"not redundant (configuration)\" in %s", where, m["text"], m["color"], notRedundantGrey)
			}
			if slices.Contains(warning, fmt.Sprint(m["color"])) {
				t.Errorf("%s colours not_redundant as a warning (%v)", where, m["color"])
			}
		}
	}
	if lost, _ := options["lost"].(map[string]any); lost == nil || lost["color"] != "red" {
		t.Errorf("%s: lost mapped to %v, want red", where, lost)
	}
}

// overrideColour is the fixed colour, or the colour of the top threshold
// step, a panel's overrides give the named field; "" when none.
func overrideColour(p map[string]any, field string) string {
	fc, _ := p["fieldConfig"].(map[string]any)
	overrides, _ := fc["overrides"].([]any)
	for _, o := range overrides {
		om, _ := o.(map[string]any)
		matcher, _ := om["matcher"].(map[string]any)
		if matcher["options"] != field {
			continue
		}
		props, _ := om["properties"].([]any)
		for _, pr := range props {
			pm, _ := pr.(map[string]any)
			value, _ := pm["value"].(map[string]any)
			switch pm["id"] {
			case "color":
				if c, ok := value["fixedColor"].(string); ok {
					return c
				}
			case "thresholds":
				if steps, _ := value["steps"].([]any); len(steps) > 0 {
					last, _ := steps[len(steps)-1].(map[string]any)
					c, _ := last["color"].(string)
					return c
				}
			}
		}
	}
	return ""
}
