package bmc

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// PollMetrics exports how every BMC's polls go, per BMC and per part, in
// the manner of node_exporter's per-collector success and duration.
type PollMetrics struct {
	duration    *prometheus.GaugeVec
	success     *prometheus.GaugeVec
	requests    *prometheus.GaugeVec
	bytes       *prometheus.GaugeVec
	lastSuccess *prometheus.GaugeVec
	polls       *prometheus.CounterVec
	partErrors  *prometheus.CounterVec
	quirks      *prometheus.CounterVec
	skipped     *prometheus.CounterVec
	nextPages   *prometheus.CounterVec
	sent        *prometheus.CounterVec
}

var _ RequestObserver = (*PollMetrics)(nil)

var _ PollObserver = (*PollMetrics)(nil)

// NewPollMetrics registers the poll metrics with reg.
func NewPollMetrics(reg prometheus.Registerer) *PollMetrics {
	labels := []string{"server", "rack"}
	m := &PollMetrics{
		duration: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "rackpulse_bmc_poll_duration_seconds", Help: "Duration of the last poll of the BMC.",
		}, labels),
		success: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "rackpulse_bmc_poll_success", Help: "1 if the last poll of the BMC read a snapshot with no part errors, 0.5 if some parts failed, 0 if it failed.",
		}, labels),
		requests: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "rackpulse_bmc_poll_requests", Help: "Requests (Redfish) or round trips (IPMI) made by the last poll of the BMC.",
		}, labels),
		bytes: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "rackpulse_bmc_poll_response_bytes", Help: "Response bytes read by the last poll of the BMC.",
		}, labels),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "rackpulse_bmc_last_success_timestamp_seconds", Help: "Unix time of the last poll of the BMC that read a snapshot.",
		}, labels),
		polls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rackpulse_bmc_polls_total", Help: "Polls of the BMC by result (ok, partial, or the error kind).",
		}, []string{"server", "rack", "result"}),
		partErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rackpulse_bmc_part_errors_total", Help: "Failed parts of polls, by part and error kind.",
		}, []string{"server", "rack", "part", "kind"}),
		quirks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rackpulse_bmc_quirks_total", Help: "Deviations from the schema that polls coped with (the rest of the resource read), by part: a vendor's deviation, not a failure.",
		}, []string{"server", "rack", "part"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rackpulse_bmc_polls_skipped_total", Help: "Poll slots skipped because the previous poll overran its interval.",
		}, labels),
		nextPages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rackpulse_bmc_collection_next_pages_total", Help: "Later pages of collections read (Members@odata.nextLink followed), bounded per read.",
		}, labels),
	}
	m.sent = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rackpulse_bmc_requests_total", Help: "Requests (Redfish) or datagrams (IPMI) sent to the BMC, every poll's, failed ones included.",
	}, labels)
	reg.MustRegister(m.duration, m.success, m.requests, m.bytes, m.lastSuccess, m.polls, m.partErrors, m.quirks, m.skipped, m.nextPages, m.sent)
	return m
}

// ObservePoll implements PollObserver.
func (m *PollMetrics) ObservePoll(ep Endpoint, snap *Snapshot, err error, took time.Duration) {
	m.duration.WithLabelValues(ep.Server, ep.Rack).Set(took.Seconds())
	if err != nil {
		m.success.WithLabelValues(ep.Server, ep.Rack).Set(0)
		m.polls.WithLabelValues(ep.Server, ep.Rack, string(KindOf(err))).Inc()
		return
	}
	result, success := "ok", 1.0
	if !snap.Poll.OK() {
		result, success = "partial", 0.5
	}
	m.success.WithLabelValues(ep.Server, ep.Rack).Set(success)
	m.polls.WithLabelValues(ep.Server, ep.Rack, result).Inc()
	m.requests.WithLabelValues(ep.Server, ep.Rack).Set(float64(snap.Poll.Requests))
	m.bytes.WithLabelValues(ep.Server, ep.Rack).Set(float64(snap.Poll.Bytes))
	if snap.Poll.NextPages > 0 {
		m.nextPages.WithLabelValues(ep.Server, ep.Rack).Add(float64(snap.Poll.NextPages))
	}
	m.lastSuccess.WithLabelValues(ep.Server, ep.Rack).Set(float64(snap.Time.Unix()))
	for _, pe := range snap.Poll.Errors {
		m.partErrors.WithLabelValues(ep.Server, ep.Rack, string(pe.Part), string(pe.Kind)).Inc()
	}
	for _, q := range snap.Poll.Quirks {
		m.quirks.WithLabelValues(ep.Server, ep.Rack, string(q.Part)).Inc()
	}
}

// ObserveRequests implements RequestObserver.
func (m *PollMetrics) ObserveRequests(ep Endpoint, requests int64) {
	if requests > 0 {
		m.sent.WithLabelValues(ep.Server, ep.Rack).Add(float64(requests))
	}
}

// ObserveSkip implements PollObserver.
func (m *PollMetrics) ObserveSkip(ep Endpoint) {
	m.skipped.WithLabelValues(ep.Server, ep.Rack).Inc()
}

// Forget implements PollObserver.
func (m *PollMetrics) Forget(server string) {
	match := prometheus.Labels{"server": server}
	for _, v := range []*prometheus.MetricVec{
		m.duration.MetricVec, m.success.MetricVec, m.requests.MetricVec, m.bytes.MetricVec,
		m.lastSuccess.MetricVec, m.polls.MetricVec, m.partErrors.MetricVec, m.quirks.MetricVec, m.skipped.MetricVec, m.nextPages.MetricVec, m.sent.MetricVec,
	} {
		v.DeletePartialMatch(match)
	}
}
