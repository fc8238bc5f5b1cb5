package web

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rackpulse/rackpulse/alert"
	"github.com/rackpulse/rackpulse/bmc"
	"github.com/rackpulse/rackpulse/fleet"
)

//go:embed templates static
var assets embed.FS

// Live is the live state the pages show: a poller's fleet.Fleet, or the
// site role's state (no servers).
type Live interface {
	// View is the last rollup cycle's; nil before the first.
	View() *fleet.View
	Snapshot(server string) (*bmc.Snapshot, bool)
	Events(server string) []bmc.LogEntry
	Polls(server string) []fleet.PollOutcome
	// Agent is the server's last agent report, if its agent reports.
	Agent(server string) (*fleet.AgentReport, bool)
	// History is the in-memory power history (the last hour).
	History(what fleet.HistoryOf, from time.Time) []fleet.Series
}

// PowerHistory reads longer power history, downsampled, from storage
// (storage.Reader through an adapter); nil without InfluxDB.
type PowerHistory interface {
	PowerHistory(ctx context.Context, site string, what fleet.HistoryOf, span time.Duration, points int) ([]fleet.Series, error)
}

// UIOptions configure the dashboard.
type UIOptions struct {
	Live   Live
	Alerts AlertLister
	// History serves charts beyond the last hour; nil: the in-memory
	// hour only.
	History PowerHistory
	// InventoryPath is shown in the probe command of a server's page.
	InventoryPath string
	// Role names what serves the pages ("poller", "site rollup").
	Role   string
	Logger *slog.Logger
}

// UI serves the dashboard: the site, rack, server and alerts pages, their
// assets, and the chart data they fetch.
type UI struct {
	opts  UIOptions
	log   *slog.Logger
	pages map[string]*template.Template
}

// Chart ranges the pages offer, and the points a chart gets at most.
var chartRanges = []string{"1h", "24h", "7d"}

const chartPoints = 1000

// NewUI parses the embedded templates.
func NewUI(opts UIOptions) (*UI, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Role == "" {
		opts.Role = "poller"
	}
	ui := &UI{opts: opts, log: opts.Logger, pages: map[string]*template.Template{}}
	for _, page := range []string{"site", "rack", "server", "alerts"} {
		t, err := template.New("layout.html").Funcs(templateFuncs()).ParseFS(assets, "templates/layout.html", "templates/"+page+".html")
		if err != nil {
			return nil, fmt.Errorf("web: template %s: %w", page, err)
		}
		ui.pages[page] = t
	}
	return ui, nil
}

// Register adds the pages, assets and chart data to a mux (routes of
// routeTable).
func (ui *UI) Register(mux *http.ServeMux) {
	static, _ := fs.Sub(assets, "static")
	files := http.FileServerFS(static)
	Handle(mux, "GET /static/", http.StripPrefix("/static/", cacheFor(time.Hour, files)))
	handle(mux, "GET /{$}", ui.site)
	handle(mux, "GET /racks/{rack}", ui.rack)
	handle(mux, "GET /servers/{server}", ui.server)
	handle(mux, "GET /alerts", ui.alertsPage)
	handle(mux, "GET /api/history", ui.history)
}

func cacheFor(d time.Duration, h http.Handler) http.Handler {
	value := "public, max-age=" + strconv.Itoa(int(d.Seconds()))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", value)
		h.ServeHTTP(w, r)
	})
}

// common is what every page shows: where it is, and how fresh.
type common struct {
	Title     string
	Site      string
	Role      string
	Time      time.Time
	Interval  time.Duration
	NoRollup  bool
	NextDue   time.Time
	Firing    alertCount
	Path      string
	Generated time.Time
	// The page's power chart: what it shows (a /api/history query) and
	// its title.
	ChartQuery, ChartTitle string
	Ranges                 []string
}

// alertCount counts firing alerts by severity.
type alertCount struct{ Critical, Warning int }

func (c alertCount) Total() int { return c.Critical + c.Warning }

func (c *alertCount) add(a *alert.Alert) {
	if a.State != alert.StateFiring {
		return
	}
	if a.Severity == alert.SeverityCritical {
		c.Critical++
	} else {
		c.Warning++
	}
}

// alertIndex is the firing alerts counted by rack and by server.
type alertIndex struct {
	all              []alert.Alert
	total            alertCount
	byRack, byServer map[string]alertCount
}

func (ui *UI) alertIndex() alertIndex {
	ix := alertIndex{byRack: map[string]alertCount{}, byServer: map[string]alertCount{}}
	if ui.opts.Alerts == nil {
		return ix
	}
	ix.all = ui.opts.Alerts.Alerts()
	for i := range ix.all {
		a := &ix.all[i]
		ix.total.add(a)
		c := ix.byRack[a.Labels["rack"]]
		c.add(a)
		ix.byRack[a.Labels["rack"]] = c
		if s := a.Labels["server"]; s != "" {
			c := ix.byServer[s]
			c.add(a)
			ix.byServer[s] = c
		}
	}
	return ix
}

func (ui *UI) common(v *fleet.View, title string, r *http.Request, alerts alertIndex) common {
	c := common{Title: title, Role: ui.opts.Role, Firing: alerts.total, Path: r.URL.Path, Generated: time.Now(), Ranges: chartRanges, ChartTitle: "Power"}
	if v == nil {
		c.NoRollup = true
		return c
	}
	c.Site, c.Time, c.Interval = v.Inventory.Site, v.Time, v.Interval
	c.NextDue = v.Time.Add(v.Interval)
	return c
}

// render writes a page, or with ?fragment=1 only its live part (what the
// pages fetch every interval to update without a reload). The page is
// rendered whole before anything is written, so an error is a 500 with
// the reason, never half a page.
func (ui *UI) render(w http.ResponseWriter, r *http.Request, page string, data any) {
	name := "layout.html"
	if r.URL.Query().Get("fragment") == "1" {
		name = "live"
	}
	var buf bytes.Buffer
	if err := ui.pages[page].ExecuteTemplate(&buf, name, data); err != nil {
		ui.log.Error("page not rendered", "page", page, "err", err)
		http.Error(w, "rendering the page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(buf.Bytes())
}

// noRollupYet answers a page that needs a rollup before the first one.
func (ui *UI) waiting(w http.ResponseWriter, r *http.Request, page string, c common) {
	ui.render(w, r, page, struct{ common }{c})
}

// History serves a chart's data: ?rack=NAME (with its feeds),
// ?server=NAME, or neither for the site; ?range=1h|24h|7d. The last hour
// comes from memory; longer ranges from InfluxDB when configured.
func (ui *UI) history(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	what := fleet.HistoryOf{Rack: q.Get("rack"), Server: q.Get("server")}
	rng := q.Get("range")
	if rng == "" {
		rng = "1h"
	}
	if !slices.Contains(chartRanges, rng) {
		http.Error(w, "range must be one of "+strings.Join(chartRanges, ", "), http.StatusBadRequest)
		return
	}
	span := map[string]time.Duration{"1h": time.Hour, "24h": 24 * time.Hour, "7d": 7 * 24 * time.Hour}[rng]
	out := historyAnswer{Range: rng, Source: "memory"}
	var series []fleet.Series
	v := ui.opts.Live.View()
	switch {
	case ui.opts.History != nil && v != nil:
		var err error
		series, err = ui.opts.History.PowerHistory(r.Context(), v.Inventory.Site, what, span, chartPoints)
		if err != nil {
			ui.log.Warn("chart history from InfluxDB failed; showing the last hour from memory", "err", err)
			out.Note = "InfluxDB did not answer: the last hour from memory"
			series = ui.opts.Live.History(what, time.Now().Add(-time.Hour))
			break
		}
		out.Source = "influxdb"
	default:
		if span > fleet.HistoryWindow {
			out.Note = "no InfluxDB configured: the last hour from memory"
		}
		series = ui.opts.Live.History(what, time.Now().Add(-span))
	}
	for _, s := range series {
		js := historySeries{Name: s.Name, T: make([]int64, 0, len(s.Samples)), W: make([]*float64, 0, len(s.Samples))}
		for _, p := range s.Samples {
			js.T = append(js.T, p.T.Unix())
			if math.IsNaN(p.W) || math.IsInf(p.W, 0) {
				js.W = append(js.W, nil)
				continue
			}
			wv := math.Round(p.W*10) / 10
			js.W = append(js.W, &wv)
		}
		out.Series = append(out.Series, js)
	}
	if out.Series == nil {
		out.Series = []historySeries{}
	}
	(&API{log: ui.log}).writeJSON(w, out)
}

type historyAnswer struct {
	Range  string          `json:"range"`
	Source string          `json:"source"`
	Note   string          `json:"note,omitempty"`
	Series []historySeries `json:"series"`
}

// historySeries is one chart series: unix seconds and watts (null where
// nothing was measured).
type historySeries struct {
	Name string     `json:"name"`
	T    []int64    `json:"t"`
	W    []*float64 `json:"w"`
}
