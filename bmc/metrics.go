package bmc

import (
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// PollMetrics exports how every BMC's polls go, per BMC and per part, in
// the manner of node_exporter's per-collector success and duration.
//
// It keeps a few numbers per BMC and builds the series when scraped
// (prometheus.Collector), rather than holding a labelled series object per
// BMC and metric: at 10,000 BMCs that is a few MiB instead of tens.
type PollMetrics struct {
	duration, success, requests, bytes, lastSuccess     *prometheus.Desc
	polls, partErrors, quirks, skipped, nextPages, sent *prometheus.Desc

	mu      sync.Mutex
	servers map[string]*serverPolls
}

// serverPolls is what is kept of one BMC's polls.
type serverPolls struct {
	rack string
	// polled: a poll was observed, so the last poll's gauges are known;
	// read: one of them read a snapshot (requests, bytes, last success).
	polled, read                       bool
	duration, success, requests, bytes float64
	lastSuccess                        float64
	ok, partial, skipped, nextPages    float64
	sent                               float64
	failed                             []counted[ErrorKind]
	partErrors                         []counted[partKind]
	quirks                             []counted[Part]
}

type partKind struct {
	part Part
	kind ErrorKind
}

// counted is a counter under a label value; a BMC has few of each.
type counted[K comparable] struct {
	key K
	n   float64
}

// addCount adds n to the counter under key, starting it if new.
func addCount[K comparable](cs []counted[K], key K, n float64) []counted[K] {
	for i := range cs {
		if cs[i].key == key {
			cs[i].n += n
			return cs
		}
	}
	return append(cs, counted[K]{key, n})
}

var (
	_ RequestObserver      = (*PollMetrics)(nil)
	_ PollObserver         = (*PollMetrics)(nil)
	_ prometheus.Collector = (*PollMetrics)(nil)
)

// NewPollMetrics registers the poll metrics with reg.
func NewPollMetrics(reg prometheus.Registerer) *PollMetrics {
	labels := []string{"server", "rack"}
	desc := func(name, help string, extra ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, append(slices.Clip(labels), extra...), nil)
	}
	m := &PollMetrics{
		duration:    desc("rackpulse_bmc_poll_duration_seconds", "Duration of the last poll of the BMC."),
		success:     desc("rackpulse_bmc_poll_success", "1 if the last poll of the BMC read a snapshot with no part errors, 0.5 if some parts failed, 0 if it failed."),
		requests:    desc("rackpulse_bmc_poll_requests", "Requests (Redfish) or round trips (IPMI) made by the last poll of the BMC."),
		bytes:       desc("rackpulse_bmc_poll_response_bytes", "Response bytes read by the last poll of the BMC."),
		lastSuccess: desc("rackpulse_bmc_last_success_timestamp_seconds", "Unix time of the last poll of the BMC that read a snapshot."),
		polls:       desc("rackpulse_bmc_polls_total", "Polls of the BMC by result (ok, partial, or the error kind).", "result"),
		partErrors:  desc("rackpulse_bmc_part_errors_total", "Failed parts of polls, by part and error kind.", "part", "kind"),
		quirks:      desc("rackpulse_bmc_quirks_total", "Deviations from the schema that polls coped with (the rest of the resource read), by part: a vendor's deviation, not a failure.", "part"),
		skipped:     desc("rackpulse_bmc_polls_skipped_total", "Poll slots skipped because the previous poll overran its interval."),
		nextPages:   desc("rackpulse_bmc_collection_next_pages_total", "Later pages of collections read (Members@odata.nextLink followed), bounded per read."),
		sent:        desc("rackpulse_bmc_requests_total", "Requests (Redfish) or datagrams (IPMI) sent to the BMC, every poll's, failed ones included."),
		servers:     map[string]*serverPolls{},
	}
	reg.MustRegister(m)
	return m
}

// server returns what is kept of ep's polls; a BMC moved to another rack
// starts afresh, so that its series are never split across two racks.
// Called with mu held.
func (m *PollMetrics) server(ep Endpoint) *serverPolls {
	s := m.servers[ep.Server]
	if s == nil || s.rack != ep.Rack {
		s = &serverPolls{rack: ep.Rack}
		m.servers[ep.Server] = s
	}
	return s
}

// ObservePoll implements PollObserver.
func (m *PollMetrics) ObservePoll(ep Endpoint, snap *Snapshot, err error, took time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.server(ep)
	s.polled = true
	s.duration = took.Seconds()
	if err != nil {
		s.success = 0
		s.failed = addCount(s.failed, KindOf(err), 1)
		return
	}
	s.read = true
	s.success = 1
	if snap.Poll.OK() {
		s.ok++
	} else {
		s.success = 0.5
		s.partial++
	}
	s.requests, s.bytes = float64(snap.Poll.Requests), float64(snap.Poll.Bytes)
	s.nextPages += float64(snap.Poll.NextPages)
	s.lastSuccess = float64(snap.Time.Unix())
	for _, pe := range snap.Poll.Errors {
		s.partErrors = addCount(s.partErrors, partKind{pe.Part, pe.Kind}, 1)
	}
	for _, q := range snap.Poll.Quirks {
		s.quirks = addCount(s.quirks, q.Part, 1)
	}
}

// ObserveRequests implements RequestObserver.
func (m *PollMetrics) ObserveRequests(ep Endpoint, requests int64) {
	if requests <= 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.server(ep).sent += float64(requests)
}

// ObserveSkip implements PollObserver.
func (m *PollMetrics) ObserveSkip(ep Endpoint) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.server(ep).skipped++
}

// Forget implements PollObserver.
func (m *PollMetrics) Forget(server string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.servers, server)
}

// Describe implements prometheus.Collector.
func (m *PollMetrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{m.duration, m.success, m.requests, m.bytes, m.lastSuccess,
		m.polls, m.partErrors, m.quirks, m.skipped, m.nextPages, m.sent} {
		ch <- d
	}
}

// Collect implements prometheus.Collector: every BMC's series, built from
// what is kept. A series appears once there is something to say in it, as
// a labelled series would once first set: the last poll's gauges after a
// poll, requests and bytes after one that read a snapshot, a counter once
// it counted.
//
// The series are built under the lock and sent after it, so that polls
// ending during a scrape never wait for the scraper to read them.
func (m *PollMetrics) Collect(ch chan<- prometheus.Metric) {
	for _, metric := range m.series() {
		ch <- metric
	}
}

// series builds every BMC's series from what is kept.
func (m *PollMetrics) series() []prometheus.Metric {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]prometheus.Metric, 0, 8*len(m.servers))
	for name, s := range m.servers {
		gauge := func(d *prometheus.Desc, v float64, extra ...string) {
			out = append(out, prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, append([]string{name, s.rack}, extra...)...))
		}
		counter := func(d *prometheus.Desc, v float64, extra ...string) {
			if v > 0 {
				out = append(out, prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, append([]string{name, s.rack}, extra...)...))
			}
		}
		if s.polled {
			gauge(m.duration, s.duration)
			gauge(m.success, s.success)
		}
		if s.read {
			gauge(m.requests, s.requests)
			gauge(m.bytes, s.bytes)
			gauge(m.lastSuccess, s.lastSuccess)
		}
		counter(m.polls, s.ok, "ok")
		counter(m.polls, s.partial, "partial")
		for _, f := range s.failed {
			counter(m.polls, f.n, string(f.key))
		}
		for _, pe := range s.partErrors {
			counter(m.partErrors, pe.n, string(pe.key.part), string(pe.key.kind))
		}
		for _, q := range s.quirks {
			counter(m.quirks, q.n, string(q.key))
		}
		counter(m.skipped, s.skipped)
		counter(m.nextPages, s.nextPages)
		counter(m.sent, s.sent)
	}
	return out
}
