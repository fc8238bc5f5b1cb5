package fleet

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/rackpulse/rackpulse/rollup"
)

// rollupMetrics exports the rack and site totals for dashboards and alerts.
type rollupMetrics struct {
	watts, estimated, budget, utilization, servers, reporting, faults *prometheus.GaugeVec
	feedWatts, headroom, energy                                       *prometheus.GaugeVec
}

func newRollupMetrics(reg prometheus.Registerer) *rollupMetrics {
	gauge := func(name, help string, labels ...string) *prometheus.GaugeVec {
		g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
		reg.MustRegister(g)
		return g
	}
	return &rollupMetrics{
		watts:       gauge("rackpulse_rollup_watts", "Input power of the live servers with a reading.", "level", "name"),
		estimated:   gauge("rackpulse_rollup_estimated_watts", "Last good power of servers that are not live: an estimate, not in rackpulse_rollup_watts.", "level", "name"),
		budget:      gauge("rackpulse_rollup_budget_watts", "Power budget.", "level", "name"),
		utilization: gauge("rackpulse_rollup_utilization_ratio", "Budgeted racks' power over their budget.", "level", "name"),
		servers:     gauge("rackpulse_rollup_servers", "Servers in the inventory.", "level", "name"),
		reporting:   gauge("rackpulse_rollup_servers_reporting", "Servers live with a power reading.", "level", "name"),
		faults:      gauge("rackpulse_rollup_faults", "Faults by severity.", "level", "name", "severity"),
		feedWatts:   gauge("rackpulse_feed_watts", "Load on a rack's power feed.", "rack", "feed"),
		headroom:    gauge("rackpulse_feed_failover_headroom_watts", "Capacity left on the tightest surviving feed if this feed fails (negative: overloaded).", "rack", "failed_feed"),
		energy:      gauge("rackpulse_rack_energy_wh", "Energy the rack's servers drew since the poller started, over the time covered by readings.", "rack"),
	}
}

func (m *rollupMetrics) setPower(racks []RackPower) {
	m.feedWatts.Reset()
	m.headroom.Reset()
	m.energy.Reset()
	for _, rp := range racks {
		for _, fd := range rp.Feeds.Feeds {
			m.feedWatts.WithLabelValues(rp.Rack, fd.Name).Set(fd.Watts)
		}
		for _, fo := range rp.Feeds.Failover {
			m.headroom.WithLabelValues(rp.Rack, fo.Failed).Set(fo.HeadroomWatts)
		}
		m.energy.WithLabelValues(rp.Rack).Set(rp.Energy.Wh)
	}
}

func (m *rollupMetrics) set(res *rollup.Result) {
	for _, v := range []*prometheus.GaugeVec{m.watts, m.estimated, m.budget, m.utilization, m.servers, m.reporting, m.faults} {
		v.Reset()
	}
	put := func(level string, n *rollup.Node) {
		name := n.Name
		if level == "row" {
			name = n.Room + "/" + n.Name // row names repeat across rooms
		}
		m.watts.WithLabelValues(level, name).Set(n.Watts)
		m.estimated.WithLabelValues(level, name).Set(n.EstimatedWatts)
		m.budget.WithLabelValues(level, name).Set(n.BudgetWatts)
		m.utilization.WithLabelValues(level, name).Set(n.UtilizationPct / 100)
		m.servers.WithLabelValues(level, name).Set(float64(n.Servers))
		m.reporting.WithLabelValues(level, name).Set(float64(n.Reporting))
		for _, sev := range []rollup.Severity{rollup.SeverityWarning, rollup.SeverityCritical} {
			m.faults.WithLabelValues(level, name, sev.String()).Set(float64(n.Faults.Total(sev)))
		}
	}
	for i := range res.Racks {
		put("rack", &res.Racks[i])
	}
	if res.Site.Name != "" {
		put("site", &res.Site)
		for i := range res.Rows {
			put("row", &res.Rows[i])
		}
		for i := range res.Rooms {
			put("room", &res.Rooms[i])
		}
	}
}
