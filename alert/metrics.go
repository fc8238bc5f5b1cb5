package alert

import "github.com/prometheus/client_golang/prometheus"

// metrics are the engine's Prometheus series.
type metrics struct {
	firing  *prometheus.GaugeVec
	changes *prometheus.CounterVec
	// evalSeconds sums the time spent evaluating rules, per trigger (a
	// poll, a cycle): the cost of alerting, measured where it is spent.
	evalSeconds               *prometheus.CounterVec
	pollSeconds, cycleSeconds prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		firing: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "rackpulse_alerts_firing", Help: "Alerts firing, by alert name and severity.",
		}, []string{"alertname", "severity"}),
		changes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rackpulse_alert_changes_total", Help: "Alert state changes (firing, resolved), by alert name and severity.",
		}, []string{"alertname", "severity", "state"}),
		evalSeconds: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rackpulse_alert_evaluation_seconds_total", Help: "Time spent evaluating alert rules, after polls and after rollup cycles.",
		}, []string{"trigger"}),
	}
	m.pollSeconds, m.cycleSeconds = m.evalSeconds.WithLabelValues("poll"), m.evalSeconds.WithLabelValues("cycle")
	// Every series exists from the start, at 0.
	for r := range numRules {
		for _, sev := range []Severity{SeverityInfo, SeverityWarning, SeverityCritical} {
			m.firing.WithLabelValues(r.String(), sev.String())
		}
	}
	if reg != nil {
		reg.MustRegister(m.firing, m.changes, m.evalSeconds)
	}
	return m
}

// change counts a state change of an alert.
func (m *metrics) change(al Alert) {
	m.changes.WithLabelValues(al.Name, al.Severity.String(), al.State.String()).Inc()
	g := m.firing.WithLabelValues(al.Name, al.Severity.String())
	switch al.State {
	case StateFiring:
		g.Inc()
	case StateResolved:
		g.Dec()
	}
}
