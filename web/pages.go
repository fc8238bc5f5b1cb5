package web

import (
	"cmp"
	"html/template"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rackpulse/rackpulse/alert"
	"github.com/rackpulse/rackpulse/bmc"
	"github.com/rackpulse/rackpulse/fleet"
	"github.com/rackpulse/rackpulse/inventory"
	"github.com/rackpulse/rackpulse/power"
	"github.com/rackpulse/rackpulse/rollup"
)

// sitePage is the floor: every room and row with its racks as tiles.
type sitePage struct {
	common
	Totals      rollup.Node
	EnergyToday float64
	TodayFrom   time.Time
	Rooms       []roomView
}

type roomView struct {
	Node        rollup.Node
	EnergyToday float64
	Rows        []rowView
}

type rowView struct {
	Node        rollup.Node
	EnergyToday float64
	Racks       []rackTile
}

// rackTile is one rack on the floor.
type rackTile struct {
	Node        rollup.Node
	Published   bool // this process publishes the rack (in scope)
	Alerts      alertCount
	EnergyToday float64
}

func (ui *UI) site(w http.ResponseWriter, r *http.Request) {
	v := ui.opts.Live.View()
	alerts := ui.alertIndex()
	c := ui.common(v, "Site", r, alerts)
	if v == nil {
		ui.waiting(w, r, "site", c)
		return
	}
	c.Title, c.ChartTitle = v.Inventory.Site, "Site power"
	if !v.Scope.WholeSite() {
		c.ChartTitle = "Power"
	}
	p := sitePage{common: c, Totals: v.Result.Site, EnergyToday: v.SiteEnergyToday, TodayFrom: v.TodayFrom}
	nodes := map[string]*rollup.Node{}
	for i := range v.Result.Racks {
		nodes[v.Result.Racks[i].Name] = &v.Result.Racks[i]
	}
	for _, room := range v.Inventory.Rooms {
		rv := roomView{Node: rollup.Node{Name: room.Name}}
		if n, ok := findNode(v.Result.Rooms, room.Name, ""); ok {
			rv.Node = *n
		}
		for _, row := range room.Rows {
			wv := rowView{Node: rollup.Node{Name: row.Name, Room: room.Name}}
			if n, ok := findNode(v.Result.Rows, row.Name, room.Name); ok {
				wv.Node = *n
			}
			for _, rack := range row.Racks {
				t := rackTile{Node: rollup.Node{Name: rack.Name}, Alerts: alerts.byRack[rack.Name], EnergyToday: v.EnergyToday[rack.Name]}
				if n := nodes[rack.Name]; n != nil {
					t.Node, t.Published = *n, true
				}
				t.Node.Servers = max(t.Node.Servers, len(rack.Servers))
				t.Node.BudgetWatts = cmp.Or(t.Node.BudgetWatts, rack.PowerBudgetWatts)
				wv.EnergyToday += t.EnergyToday
				wv.Racks = append(wv.Racks, t)
			}
			rv.EnergyToday += wv.EnergyToday
			rv.Rows = append(rv.Rows, wv)
		}
		p.Rooms = append(p.Rooms, rv)
	}
	if p.Totals.Name == "" {
		// A poller of some racks publishes no site totals: show its racks'.
		p.Totals = rollup.Node{Name: v.Inventory.Site}
		for _, n := range v.Result.Racks {
			addTotals(&p.Totals.Totals, &n.Totals)
		}
	}
	ui.render(w, r, "site", p)
}

func findNode(nodes []rollup.Node, name, room string) (*rollup.Node, bool) {
	for i := range nodes {
		if nodes[i].Name == name && (room == "" || nodes[i].Room == room) {
			return &nodes[i], true
		}
	}
	return nil, false
}

// addTotals adds a rack's totals into a sum shown where the rollup has
// none (a poller of some racks).
func addTotals(t, c *rollup.Totals) {
	t.Watts += c.Watts
	t.EstimatedWatts += c.EstimatedWatts
	t.BudgetWatts += c.BudgetWatts
	t.BudgetedWatts += c.BudgetedWatts
	t.Servers += c.Servers
	t.Reporting += c.Reporting
	t.NoReading += c.NoReading
	t.NotLive += c.NotLive
	t.Racks += c.Racks
	t.RedundancyLost += c.RedundancyLost
	t.RedundancyDegraded += c.RedundancyDegraded
	t.RedundancyNotRedundant += c.RedundancyNotRedundant
	if t.BudgetWatts > 0 {
		t.UtilizationPct = 100 * t.BudgetedWatts / t.BudgetWatts
	}
}

// rackPage is one rack: its elevation, power against budget and feeds,
// chart and servers.
type rackPage struct {
	common
	Rack        *inventory.Rack
	Node        rollup.Node
	Published   bool
	EnergyToday float64
	Feeds       power.FeedLoad
	HasFeeds    bool
	Units       []unitRow // the rack's units, top first
	Slots       []slotView
	Servers     []serverRow
	Alerts      alertCount
}

// unitRow is one U of the elevation and its CSS grid row.
type unitRow struct{ U, Row int }

// slotView is a server in the elevation: where it sits and how it is.
type slotView struct {
	serverRow
	Top, Height int
	// GridRow is its CSS grid row (1 = the top U).
	GridRow int
}

// serverRow is a server as the rack's table lists it.
type serverRow struct {
	Name       string
	Position   int
	Height     int
	Model      string
	Status     string // live, stale, not_polled, unreachable
	Watts      float64
	PowerKnown bool
	Estimated  float64
	CPUC       *float64
	InletC     *float64
	// Redundancy is the PSU redundancy verdict, RedundancyReason why.
	Redundancy       string
	RedundancyReason string
	DIMMCE           int64
	DIMMUE           int64
	HasCounters      bool
	Health           bmc.Health
	Alerts           alertCount
	LastGood         time.Time
	LastErr          string
}

func (ui *UI) rack(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("rack")
	v := ui.opts.Live.View()
	alerts := ui.alertIndex()
	c := ui.common(v, "Rack "+name, r, alerts)
	if v == nil {
		ui.waiting(w, r, "rack", c)
		return
	}
	rack, ok := v.Inventory.Rack(name)
	if !ok {
		http.Error(w, "no rack "+name+" in the inventory", http.StatusNotFound)
		return
	}
	p := rackPage{common: c, Rack: rack, Node: rollup.Node{Name: rack.Name, Room: rack.Room, Row: rack.Row},
		EnergyToday: v.EnergyToday[rack.Name], Alerts: alerts.byRack[rack.Name]}
	p.ChartQuery, p.ChartTitle = "rack="+urlQuery(rack.Name), "Rack and feed power"
	if n, ok := v.Rack(rack.Name); ok {
		p.Node, p.Published = *n, true
	}
	if rp, ok := v.Racks[rack.Name]; ok {
		p.Feeds, p.HasFeeds = rp.Feeds, len(rp.Feeds.Feeds) > 0
	}
	height := max(rack.HeightUnits, 1)
	for u := height; u >= 1; u-- {
		p.Units = append(p.Units, unitRow{U: u, Row: height - u + 1})
	}
	for i := range rack.Servers {
		srv := &rack.Servers[i]
		row := ui.serverRow(v, srv, alerts)
		p.Servers = append(p.Servers, row)
		top := srv.TopUnit()
		p.Slots = append(p.Slots, slotView{serverRow: row, Top: top, Height: max(srv.Height, 1), GridRow: height - top + 1})
	}
	ui.render(w, r, "rack", p)
}

// serverRow gathers what the rack page shows of a server.
func (ui *UI) serverRow(v *fleet.View, srv *inventory.Server, alerts alertIndex) serverRow {
	row := serverRow{Name: srv.Name, Position: srv.Position, Height: max(srv.Height, 1), Model: srv.Model, Status: "not_polled", Alerts: alerts.byServer[srv.Name]}
	if v.Result.FromRacks {
		row.Status = "elsewhere" // the site role sees racks, not servers
		return row
	}
	if res, ok := v.Server(srv.Name); ok {
		row.Status = res.Status.String()
		row.Watts, row.PowerKnown, row.Estimated = res.Watts, res.PowerKnown && res.Status == rollup.StatusLive, res.EstimatedWatts
		row.Redundancy, row.RedundancyReason = string(res.Redundancy), res.RedundancyReason
		row.LastGood = res.LastGood
		if res.Faults.Count(rollup.ComponentBMC, rollup.SeverityCritical) > 0 {
			row.Status = "unreachable"
		}
	}
	if snap, ok := ui.opts.Live.Snapshot(srv.Name); ok {
		row.Health = snap.Health()
		for i := range snap.Sensors {
			s := &snap.Sensors[i]
			if s.Kind != bmc.KindTemperature || s.Value == nil {
				continue
			}
			switch s.Context {
			case bmc.ContextCPU:
				if row.CPUC == nil || *s.Value > *row.CPUC {
					row.CPUC = s.Value
				}
			case bmc.ContextIntake:
				if row.InletC == nil {
					row.InletC = s.Value
				}
			}
		}
		for _, c := range snap.CPUs {
			if c.TemperatureC != nil && (row.CPUC == nil || *c.TemperatureC > *row.CPUC) {
				row.CPUC = c.TemperatureC
			}
		}
		for _, d := range snap.DIMMs {
			if d.CorrectableErrors != nil {
				row.DIMMCE += *d.CorrectableErrors
				row.HasCounters = true
			}
			if d.UncorrectableErrors != nil {
				row.DIMMUE += *d.UncorrectableErrors
				row.HasCounters = true
			}
		}
	}
	return row
}

// serverPage is one server's latest Snapshot as a person reads it.
type serverPage struct {
	common
	Server  *inventory.Server
	Row     serverRow
	Snap    *bmc.Snapshot
	Sensors []sensorGroup
	Events  []bmc.LogEntry
	Polls   []fleet.PollOutcome
	Agent   *agentView
	Alerts  []alert.Alert
	Probe   string
}

type sensorGroup struct {
	Kind    bmc.SensorKind
	Sensors []bmc.Sensor
}

func (ui *UI) server(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("server")
	v := ui.opts.Live.View()
	alerts := ui.alertIndex()
	c := ui.common(v, name, r, alerts)
	if v == nil {
		ui.waiting(w, r, "server", c)
		return
	}
	srv, ok := v.Inventory.Server(name)
	if !ok {
		http.Error(w, "no server "+name+" in the inventory", http.StatusNotFound)
		return
	}
	p := serverPage{common: c, Server: srv, Row: ui.serverRow(v, srv, alerts)}
	p.ChartQuery, p.ChartTitle = "server="+urlQuery(srv.Name), "Server power"
	p.Probe = "rackpulse probe " + srv.Name
	if ui.opts.InventoryPath != "" {
		p.Probe = "rackpulse probe --inventory " + shellQuote(ui.opts.InventoryPath) + " " + srv.Name
	}
	if snap, ok := ui.opts.Live.Snapshot(name); ok {
		p.Snap = snap
		groups := map[bmc.SensorKind]*sensorGroup{}
		for _, s := range snap.Sensors {
			g := groups[s.Kind]
			if g == nil {
				g = &sensorGroup{Kind: s.Kind}
				groups[s.Kind] = g
			}
			g.Sensors = append(g.Sensors, s)
		}
		for _, kind := range []bmc.SensorKind{bmc.KindTemperature, bmc.KindFan, bmc.KindPower, bmc.KindVoltage, bmc.KindCurrent, bmc.KindEnergy, bmc.KindHumidity, bmc.KindFrequency, bmc.KindOther} {
			if g := groups[kind]; g != nil {
				p.Sensors = append(p.Sensors, *g)
			}
		}
	}
	p.Events = ui.opts.Live.Events(name)
	p.Polls = ui.opts.Live.Polls(name)
	if ar, ok := ui.opts.Live.Agent(name); ok {
		p.Agent = &agentView{AgentReport: ar, Stale: ar.Stale(time.Now(), v.Interval)}
	}
	for _, a := range alerts.all {
		if a.Labels["server"] == name {
			p.Alerts = append(p.Alerts, a)
		}
	}
	ui.render(w, r, "server", p)
}

// alertsPage lists firing and recently resolved alerts by rack.
type alertsPage struct {
	common
	Racks []rackAlerts
}

type rackAlerts struct {
	Rack     string
	Firing   []alert.Alert
	Resolved []alert.Alert
}

func (ui *UI) alertsPage(w http.ResponseWriter, r *http.Request) {
	v := ui.opts.Live.View()
	alerts := ui.alertIndex()
	p := alertsPage{common: ui.common(v, "Alerts", r, alerts)}
	byRack := map[string]*rackAlerts{}
	for _, a := range alerts.all {
		rack := a.Labels["rack"]
		ra := byRack[rack]
		if ra == nil {
			ra = &rackAlerts{Rack: rack}
			byRack[rack] = ra
		}
		switch a.State {
		case alert.StateFiring:
			ra.Firing = append(ra.Firing, a)
		case alert.StateResolved:
			ra.Resolved = append(ra.Resolved, a)
		}
	}
	for _, ra := range byRack {
		if len(ra.Firing)+len(ra.Resolved) == 0 {
			continue
		}
		slices.SortFunc(ra.Firing, func(a, b alert.Alert) int {
			return cmp.Or(cmp.Compare(b.Severity, a.Severity), b.StartsAt.Compare(a.StartsAt))
		})
		slices.Reverse(ra.Resolved) // newest first
		p.Racks = append(p.Racks, *ra)
	}
	slices.SortFunc(p.Racks, func(a, b rackAlerts) int {
		return cmp.Or(cmp.Compare(len(b.Firing), len(a.Firing)), strings.Compare(a.Rack, b.Rack))
	})
	ui.render(w, r, "alerts", p)
}

// templateFuncs format numbers as people read them.
func templateFuncs() template.FuncMap {
	return template.FuncMap{
		"watts":   formatWatts,
		"wh":      formatWh,
		"pct":     func(v float64) string { return strconv.FormatFloat(v, 'f', 0, 64) + " %" },
		"num":     formatNum,
		"deref":   func(p *float64) float64 { return *p },
		"level":   utilisationLevel,
		"ago":     ago,
		"clock":   func(t time.Time) string { return t.Local().Format("15:04:05") },
		"stamp":   func(t time.Time) string { return t.Local().Format("2006-01-02 15:04:05") },
		"seconds": func(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) },
		"ms":      func(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) + " ms" },
		"lower":   strings.ToLower,
		"status":  statusText,
		// redundancy names a PSU redundancy verdict in words
		// ("not_redundant" → "not redundant").
		"redundancy":       func(verdict string) string { return strings.ReplaceAll(verdict, "_", " ") },
		"redundancycounts": redundancyCounts,
		"urlq":             urlQuery,
		"coverage": func(n rollup.Node) string {
			return strconv.Itoa(n.Reporting) + " / " + strconv.Itoa(n.Servers)
		},
		"barpct": func(watts, capacity float64) string {
			if capacity <= 0 {
				return "0"
			}
			return strconv.FormatFloat(min(100, 100*watts/capacity), 'f', 1, 64)
		},
		"feedlevel": func(watts, capacity float64) string {
			if capacity <= 0 {
				return "none"
			}
			return utilisationLevel(100 * watts / capacity)
		},
		"thresholds": thresholdsText,
		"unit":       unitText,
		"health":     func(h bmc.Health) string { return cmp.Or(string(h), "unknown") },
		"severity":   func(s alert.Severity) string { return s.String() },
		"intp":       func(p *int64) string { return strconv.FormatInt(*p, 10) },
		"deref1":     func(p *bool) bool { return *p },
	}
}

// redundancyCount is how many live servers of a node have one PSU
// redundancy verdict.
type redundancyCount struct {
	Verdict power.Redundancy
	N       int
}

// redundancyCounts lists a node's servers with lost, degraded or no
// redundancy, worst first, leaving out verdicts no server has.
func redundancyCounts(t rollup.Totals) []redundancyCount {
	var out []redundancyCount
	for _, c := range []redundancyCount{
		{power.RedundancyLost, t.RedundancyLost},
		{power.RedundancyDegraded, t.RedundancyDegraded},
		{power.RedundancyNotRedundant, t.RedundancyNotRedundant},
	} {
		if c.N > 0 {
			out = append(out, c)
		}
	}
	return out
}

// utilisationLevel colours a share of a budget or capacity as DCIM tools
// do: ok below 70 %, amber from 70 %, red from 80 %.
func utilisationLevel(pct float64) string {
	switch {
	case pct >= 80:
		return "red"
	case pct >= 70:
		return "amber"
	}
	return "ok"
}

func formatWatts(w float64) string {
	if math.Abs(w) >= 10000 {
		return strconv.FormatFloat(w/1000, 'f', 1, 64) + " kW"
	}
	if math.Abs(w) >= 1000 {
		return strconv.FormatFloat(w/1000, 'f', 2, 64) + " kW"
	}
	return strconv.FormatFloat(w, 'f', 0, 64) + " W"
}

func formatWh(wh float64) string {
	if wh >= 1000 {
		return strconv.FormatFloat(wh/1000, 'f', 2, 64) + " kWh"
	}
	return strconv.FormatFloat(wh, 'f', 0, 64) + " Wh"
}

func formatNum(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func ago(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := time.Since(t).Round(time.Second)
	switch {
	case d < time.Minute:
		return strconv.Itoa(int(d.Seconds())) + " s ago"
	case d < time.Hour:
		return strconv.Itoa(int(d.Minutes())) + " min ago"
	}
	return t.Local().Format("Jan 2 15:04")
}

func statusText(s string) string {
	switch s {
	case "live":
		return "live"
	case "stale":
		return "stale: no good poll within 3 intervals"
	case "unreachable":
		return "BMC unreachable"
	case "elsewhere":
		return "on its rack poller's dashboard"
	}
	return "not polled yet"
}

func thresholdsText(t bmc.Thresholds, unit string) string {
	var parts []string
	add := func(name string, v *float64) {
		if v != nil {
			parts = append(parts, name+" "+formatNum(*v))
		}
	}
	add("LC", t.LowerCritical)
	add("LW", t.LowerWarning)
	add("UW", t.UpperWarning)
	add("UC", t.UpperCritical)
	if len(parts) == 0 {
		return ""
	}
	return strings.Join(parts, " · ") + " " + unitText(unit)
}

// unitText writes a unit as people read it (°C for UCUM's Cel).
func unitText(u string) string {
	if u == bmc.UnitCelsius {
		return "°C"
	}
	return u
}

// urlQuery escapes a value for a query string.
func urlQuery(s string) string { return template.URLQueryEscaper(s) }

// shellQuote quotes a path for a shell command line when it needs it.
func shellQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t'\"$`\\!*?[]{}()<>|&;") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// agentView is a server's last agent report as its page shows it.
type agentView struct {
	*fleet.AgentReport
	// Stale: no report within three intervals: what it says is old.
	Stale bool
}
