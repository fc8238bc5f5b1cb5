package storage

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/influxdata/influxdb-client-go/v2/api"
)

// Reader reads stored rollups back, for the site rollup that combines what
// independent pollers stored.
type Reader struct {
	cfg    Config
	client influxdb2.Client
	query  api.QueryAPI
}

// RackPoint is a rack's latest stored rollup (Level is LevelRack; Time is
// when it was computed). Fields that were not stored stay nil.
type RackPoint struct {
	RollupPoint
}

// NewReader prepares a query client for cfg. It makes no request.
func NewReader(cfg Config) (*Reader, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	c := newClient(cfg)
	return &Reader{cfg: cfg, client: c, query: c.QueryAPI(cfg.Org)}, nil
}

// Close releases the client.
func (r *Reader) Close() { r.client.Close() }

// LatestRacks returns the latest rack rollup of every rack of site stored
// within freshness, ordered by room, row and rack. A rack with nothing
// stored in that window is absent.
func (r *Reader) LatestRacks(ctx context.Context, site string, freshness time.Duration) ([]RackPoint, error) {
	q := latestRacksFlux(r.cfg.Bucket, site, freshness)
	res, err := r.query.Query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("query latest racks of site %q: %w", site, err)
	}
	defer res.Close()
	type key struct{ room, row, rack string }
	latest := map[key]RackPoint{}
	for res.Next() {
		v := res.Record().Values()
		rp := RackPoint{RollupPoint{
			Level: LevelRack,
			Site:  str(v["site"]),
			Room:  str(v["room"]),
			Row:   str(v["row"]),
			Rack:  str(v["rack"]),
			Time:  res.Record().Time(),
		}}
		p := &rp.RollupPoint
		p.Watts = float(v["watts"])
		p.EstimatedWatts = float(v["estimated_watts"])
		p.BudgetWatts = float(v["budget_watts"])
		p.UtilizationPct = float(v["utilization_pct"])
		p.CoveragePct = float(v["coverage_pct"])
		p.ServersTotal = integer(v["servers_total"])
		p.ServersReporting = integer(v["servers_reporting"])
		p.FaultsWarning = integer(v["faults_warning"])
		p.FaultsCritical = integer(v["faults_critical"])
		p.Faults = ComponentFaults{
			DIMM:  integer(v["fault_dimm"]),
			CPU:   integer(v["fault_cpu"]),
			PSU:   integer(v["fault_psu"]),
			Fan:   integer(v["fault_fan"]),
			Drive: integer(v["fault_drive"]),
			BMC:   integer(v["fault_bmc"]),
		}
		p.Critical = ComponentFaults{
			DIMM:  integer(v["fault_dimm_critical"]),
			CPU:   integer(v["fault_cpu_critical"]),
			PSU:   integer(v["fault_psu_critical"]),
			Fan:   integer(v["fault_fan_critical"]),
			Drive: integer(v["fault_drive_critical"]),
			BMC:   integer(v["fault_bmc_critical"]),
		}
		p.Redundancy = RedundancyCounts{
			Lost:         integer(v["psu_redundancy_lost"]),
			Degraded:     integer(v["psu_redundancy_degraded"]),
			NotRedundant: integer(v["psu_redundancy_not_redundant"]),
		}
		p.Silent, _ = v["silent"].(bool)
		// last() is per field: a field missing from the newest point yields
		// an older row. Keep the newest row of each rack.
		k := key{p.Room, p.Row, p.Rack}
		if old, ok := latest[k]; !ok || p.Time.After(old.Time) {
			latest[k] = rp
		}
	}
	if err := res.Err(); err != nil {
		return nil, fmt.Errorf("read latest racks of site %q: %w", site, err)
	}
	out := make([]RackPoint, 0, len(latest))
	for _, rp := range latest {
		out = append(out, rp)
	}
	slices.SortFunc(out, func(a, b RackPoint) int {
		return cmp.Or(cmp.Compare(a.Room, b.Room), cmp.Compare(a.Row, b.Row), cmp.Compare(a.Rack, b.Rack))
	})
	return out, nil
}

// latestRacksFlux is the query LatestRacks runs (docs/schema.md shows it).
func latestRacksFlux(bucket, site string, freshness time.Duration) string {
	ms := max(freshness.Milliseconds(), 1)
	return fmt.Sprintf(`from(bucket: %s)
  |> range(start: -%dms)
  |> filter(fn: (r) => r._measurement == "rollup" and r.level == "rack" and r.site == %s)
  |> last()
  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")
`, fluxString(bucket), ms, fluxString(site))
}

// fluxString quotes s as a Flux string literal.
func fluxString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "${", `\${`, "\n", `\n`, "\r", `\r`, "\t", `\t`)
	return `"` + r.Replace(s) + `"`
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func float(v any) *float64 {
	switch x := v.(type) {
	case float64:
		return &x
	case int64:
		f := float64(x)
		return &f
	}
	return nil
}

func integer(v any) int {
	switch x := v.(type) {
	case int64:
		return int(x)
	case float64:
		return int(x)
	case uint64:
		return int(x)
	}
	return 0
}

// LatestFeeds returns the latest stored feed point of every rack feed of
// site within freshness, ordered by rack and feed. A feed with nothing
// stored in that window is absent.
func (r *Reader) LatestFeeds(ctx context.Context, site string, freshness time.Duration) ([]FeedPoint, error) {
	res, err := r.query.Query(ctx, latestFeedsFlux(r.cfg.Bucket, site, freshness))
	if err != nil {
		return nil, fmt.Errorf("query latest feeds of site %q: %w", site, err)
	}
	defer res.Close()
	type key struct{ rack, feed string }
	latest := map[key]FeedPoint{}
	for res.Next() {
		v := res.Record().Values()
		f := FeedPoint{Site: str(v["site"]), Room: str(v["room"]), Row: str(v["row"]), Rack: str(v["rack"]), Feed: str(v["feed"]), Time: res.Record().Time()}
		if w := float(v["watts"]); w != nil {
			f.Watts = *w
		}
		f.CapacityWatts = float(v["capacity_watts"])
		f.UtilizationPct = float(v["utilization_pct"])
		if w := float(v["failover_load_watts"]); w != nil {
			f.FailoverLoadWatts = *w
		}
		f.FailoverHeadroomWatts = float(v["failover_headroom_watts"])
		f.FailoverOverloaded, _ = v["failover_overloaded"].(bool)
		f.ServersDropped = integer(v["servers_dropped"])
		// As in LatestRacks: keep the newest row of each feed.
		k := key{f.Rack, f.Feed}
		if old, ok := latest[k]; !ok || f.Time.After(old.Time) {
			latest[k] = f
		}
	}
	if err := res.Err(); err != nil {
		return nil, fmt.Errorf("read latest feeds of site %q: %w", site, err)
	}
	out := make([]FeedPoint, 0, len(latest))
	for _, f := range latest {
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b FeedPoint) int { return cmp.Or(cmp.Compare(a.Rack, b.Rack), cmp.Compare(a.Feed, b.Feed)) })
	return out, nil
}

// latestFeedsFlux is the query LatestFeeds runs.
func latestFeedsFlux(bucket, site string, freshness time.Duration) string {
	ms := max(freshness.Milliseconds(), 1)
	return fmt.Sprintf(`from(bucket: %s)
  |> range(start: -%dms)
  |> filter(fn: (r) => r._measurement == "feed" and r.site == %s)
  |> last()
  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")
`, fluxString(bucket), ms, fluxString(site))
}

// HistoryQuery asks for a power series over the last Span, downsampled to
// at most Points points: a server's (Server), a rack's with its feeds
// (Rack), or the site's (neither).
type HistoryQuery struct {
	Site, Rack, Server string
	Span               time.Duration
	Points             int
}

// PowerSeries is one named power series, oldest first.
type PowerSeries struct {
	Name   string
	Points []PowerPoint
}

// PowerPoint is the mean power over one window.
type PowerPoint struct {
	Time  time.Time
	Watts float64
}

// PowerHistory reads a power history with one Flux query, averaged over
// windows of Span/Points (aggregateWindow), so a 7-day chart gets about
// Points points per series whatever the poll interval.
func (r *Reader) PowerHistory(ctx context.Context, q HistoryQuery) ([]PowerSeries, error) {
	res, err := r.query.Query(ctx, powerHistoryFlux(r.cfg.Bucket, q))
	if err != nil {
		return nil, fmt.Errorf("query power history: %w", err)
	}
	defer res.Close()
	var out []PowerSeries
	index := map[string]int{}
	for res.Next() {
		rec := res.Record()
		name := str(rec.ValueByKey("series"))
		w := float(rec.Value())
		if w == nil {
			continue
		}
		i, ok := index[name]
		if !ok {
			i = len(out)
			index[name] = i
			out = append(out, PowerSeries{Name: name})
		}
		out[i].Points = append(out[i].Points, PowerPoint{Time: rec.Time(), Watts: *w})
	}
	if err := res.Err(); err != nil {
		return nil, fmt.Errorf("read power history: %w", err)
	}
	for i := range out {
		slices.SortFunc(out[i].Points, func(a, b PowerPoint) int { return a.Time.Compare(b.Time) })
	}
	// The rack (or server, or site) first, then its feeds by name.
	isFeed := func(s PowerSeries) int {
		if strings.HasPrefix(s.Name, "feed ") {
			return 1
		}
		return 0
	}
	slices.SortStableFunc(out, func(a, b PowerSeries) int {
		return cmp.Or(cmp.Compare(isFeed(a), isFeed(b)), strings.Compare(a.Name, b.Name))
	})
	return out, nil
}

// powerHistoryFlux is the query PowerHistory runs.
func powerHistoryFlux(bucket string, q HistoryQuery) string {
	every := max(q.Span/time.Duration(max(q.Points, 1)), time.Second).Round(time.Second)
	window := fmt.Sprintf(`|> range(start: -%ds)`, int64(q.Span.Seconds()))
	agg := fmt.Sprintf(`|> aggregateWindow(every: %ds, fn: mean, createEmpty: false)`, int64(every.Seconds()))
	site := fluxString(q.Site)
	b := fluxString(bucket)
	switch {
	case q.Server != "":
		return fmt.Sprintf(`from(bucket: %s)
  %s
  |> filter(fn: (r) => r._measurement == "server_power" and r.site == %s and r.server == %s and r._field == "watts")
  %s
  |> map(fn: (r) => ({_time: r._time, _value: r._value, series: %s}))
`, b, window, site, fluxString(q.Server), agg, fluxString(q.Server))
	case q.Rack != "":
		rack := fluxString(q.Rack)
		return fmt.Sprintf(`rack = from(bucket: %s)
  %s
  |> filter(fn: (r) => r._measurement == "rollup" and r.level == "rack" and r.site == %s and r.rack == %s and r._field == "watts")
  %s
  |> map(fn: (r) => ({_time: r._time, _value: r._value, series: %s}))
feeds = from(bucket: %s)
  %s
  |> filter(fn: (r) => r._measurement == "feed" and r.site == %s and r.rack == %s and r._field == "watts")
  %s
  |> map(fn: (r) => ({_time: r._time, _value: r._value, series: "feed " + r.feed}))
union(tables: [rack, feeds])
`, b, window, site, rack, agg, rack, b, window, site, rack, agg)
	}
	return fmt.Sprintf(`from(bucket: %s)
  %s
  |> filter(fn: (r) => r._measurement == "rollup" and r.level == "site" and r.site == %s and r._field == "watts")
  %s
  |> map(fn: (r) => ({_time: r._time, _value: r._value, series: "site"}))
`, b, window, site, agg)
}
