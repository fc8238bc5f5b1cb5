package storage

import (
	"log/slog"
	"math"
	"slices"
	"sync"

	"github.com/influxdata/influxdb-client-go/v2/api/write"
	"github.com/prometheus/client_golang/prometheus"
)

// finiteGuard leaves out of a point every float field that is not a number
// (NaN, ±Inf): line protocol cannot carry one, and a point holding one
// would be refused whole. Each field left out is counted
// (rackpulse_storage_nonfinite_fields_total) and logged once per
// measurement and field; a point left with no field is dropped.
type finiteGuard struct {
	log     *slog.Logger
	fields  prometheus.Counter
	dropped prometheus.Counter

	mu     sync.Mutex
	logged map[string]bool
}

func newFiniteGuard(log *slog.Logger) *finiteGuard {
	return &finiteGuard{
		log: log,
		fields: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rackpulse_storage_nonfinite_fields_total",
			Help: "Float fields left out of points because they were not numbers (NaN, ±Inf): never written.",
		}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rackpulse_storage_nonfinite_points_dropped_total",
			Help: "Points dropped because no field was left once the fields that were not numbers were left out.",
		}),
		logged: map[string]bool{},
	}
}

func (g *finiteGuard) collectors() []prometheus.Collector {
	return []prometheus.Collector{g.fields, g.dropped}
}

// point returns p without its float fields that are not numbers, nil when
// none is left. p itself is never changed (a caller may still hold it).
func (g *finiteGuard) point(p *write.Point) *write.Point {
	var bad []string
	for _, f := range p.FieldList() {
		if v, ok := f.Value.(float64); ok && (math.IsNaN(v) || math.IsInf(v, 0)) {
			bad = append(bad, f.Key)
		}
	}
	if len(bad) == 0 {
		return p
	}
	fields := make(map[string]any, len(p.FieldList())-len(bad))
	for _, f := range p.FieldList() {
		if !slices.Contains(bad, f.Key) {
			fields[f.Key] = f.Value
		}
	}
	var out *write.Point
	if len(fields) > 0 {
		tags := make(map[string]string, len(p.TagList()))
		for _, t := range p.TagList() {
			tags[t.Key] = t.Value
		}
		out = write.NewPoint(p.Name(), tags, fields, p.Time())
	} else {
		g.dropped.Inc()
	}
	g.fields.Add(float64(len(bad)))
	g.logOnce(p, bad, out == nil)
	return out
}

// logOnce logs each measurement's field left out the first time only: a
// BMC that stays broken is not a log line per poll.
func (g *finiteGuard) logOnce(p *write.Point, bad []string, dropped bool) {
	var where []any
	for _, t := range p.TagList() {
		if t.Key == "server" || t.Key == "rack" || t.Key == "level" || t.Key == "feed" {
			where = append(where, t.Key, t.Value)
		}
	}
	for _, field := range bad {
		key := p.Name() + "\x00" + field
		g.mu.Lock()
		seen := g.logged[key]
		if !seen {
			if len(g.logged) >= 1000 {
				clear(g.logged)
			}
			g.logged[key] = true
		}
		g.mu.Unlock()
		if seen {
			continue
		}
		g.log.Warn("a field that is not a number was left out of its point, never written (logged once per measurement and field)",
			append([]any{"measurement", p.Name(), "field", field, "point_dropped", dropped}, where...)...)
	}
}
