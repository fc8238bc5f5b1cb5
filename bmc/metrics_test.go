package bmc

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// seriesValue is the value of the series of name whose labels are the
// metric's first labels, server and rack, then the others in the order
// given; it fails the test when there is no such series.
func seriesValue(t *testing.T, reg *prometheus.Registry, name string, values ...string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			byName := map[string]string{}
			for _, l := range m.GetLabel() {
				byName[l.GetName()] = l.GetValue()
			}
			got := []string{byName["server"], byName["rack"]}
			for _, extra := range []string{"part", "kind", "result"} {
				if v, ok := byName[extra]; ok {
					got = append(got, v)
				}
			}
			if slices.Equal(got, values) {
				if c := m.GetCounter(); c != nil {
					return c.GetValue()
				}
				return m.GetGauge().GetValue()
			}
		}
	}
	t.Fatalf("no series %s%v", name, values)
	return 0
}

// Quirks a poll coped with are counted per BMC and part, apart from the
// part errors; a failed poll counts none; Forget drops the BMC's series.
func TestPollMetricsCountQuirksApartFromErrors(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewPollMetrics(reg)
	ep := Endpoint{Server: "r12-u03", Rack: "r12"}
	snap := NewSnapshot("r12-u03", "r12", ProtocolRedfish, time.Now())
	snap.Poll.AddQuirk(Quirk{Part: PartChassis, Resource: "/redfish/v1/Chassis/A", Property: "Links.ContainedBy", Seen: "array of 1 object", Action: "read the first object"})
	snap.Poll.AddQuirk(Quirk{Part: PartChassis, Resource: "/redfish/v1/Chassis/B", Property: "Links.ContainedBy", Seen: "array of 1 object", Action: "read the first object"})
	snap.Poll.AddQuirk(Quirk{Part: PartChassis, Resource: "/redfish/v1/Chassis/B", Property: "Links.ContainedBy", Seen: "array of 1 object", Action: "read the first object"})
	snap.Poll.AddQuirk(Quirk{Part: PartPower, Resource: "/redfish/v1/Chassis/A/Power", Property: "PowerSupplies.PowerCapacityWatts", Seen: `string "5500"`, Action: "read as 5500"})
	m.ObservePoll(ep, snap, nil, time.Second)
	m.ObservePoll(ep, snap, nil, time.Second)
	m.ObservePoll(ep, nil, errors.New("unreachable"), time.Second)

	if got := seriesValue(t, reg, "rackpulse_bmc_quirks_total", "r12-u03", "r12", "chassis"); got != 4 {
		t.Errorf("chassis quirks counted %v, want 2 per poll (a quirk recorded twice in one poll is one)", got)
	}
	if got := seriesValue(t, reg, "rackpulse_bmc_quirks_total", "r12-u03", "r12", "power"); got != 2 {
		t.Errorf("power quirks counted %v, want 2", got)
	}
	if got := seriesValue(t, reg, "rackpulse_bmc_poll_success", "r12-u03", "r12"); got != 0 {
		t.Errorf("success %v after a failed poll", got)
	}
	if n, err := testutil.GatherAndCount(reg, "rackpulse_bmc_part_errors_total"); err != nil || n != 0 {
		t.Errorf("%d part error series (%v); quirks are not errors", n, err)
	}
	m.Forget("r12-u03")
	if n, err := testutil.GatherAndCount(reg); err != nil || n != 0 {
		t.Errorf("%d series left after Forget (%v)", n, err)
	}
}

// Every BMC's series, as Prometheus scrapes them: the last poll's gauges,
// the counters by result, part and kind, and a series only once there is
// something in it. A BMC moved to another rack starts afresh under it.
func TestPollMetricsExposition(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewPollMetrics(reg)
	a := Endpoint{Server: "a", Rack: "r1"}
	b := Endpoint{Server: "b", Rack: "r1"}
	at := time.Unix(1_800_000_000, 0)
	partial := NewSnapshot("a", "r1", ProtocolRedfish, at)
	partial.Poll.Requests, partial.Poll.Bytes, partial.Poll.NextPages = 7, 9000, 2
	partial.Poll.AddError(PartMemory, &Error{Kind: ErrKindTimeout, Resource: "/redfish/v1/Systems/1/Memory", Err: errors.New("slow")})
	ok := NewSnapshot("a", "r1", ProtocolRedfish, at.Add(30*time.Second))
	ok.Poll.Requests, ok.Poll.Bytes = 4, 5000

	m.ObservePoll(a, partial, nil, 2*time.Second)
	m.ObservePoll(a, ok, nil, time.Second)
	m.ObservePoll(a, nil, &Error{Kind: ErrKindAuth, Err: errors.New("denied")}, 500*time.Millisecond)
	m.ObserveRequests(a, 7)
	m.ObserveRequests(a, 4)
	m.ObserveRequests(a, 0)
	m.ObserveSkip(a)
	m.ObservePoll(b, nil, &Error{Kind: ErrKindUnreachable, Err: errors.New("no route")}, time.Second)

	want := `
# HELP rackpulse_bmc_collection_next_pages_total Later pages of collections read (Members@odata.nextLink followed), bounded per read.
# TYPE rackpulse_bmc_collection_next_pages_total counter
rackpulse_bmc_collection_next_pages_total{rack="r1",server="a"} 2
# HELP rackpulse_bmc_last_success_timestamp_seconds Unix time of the last poll of the BMC that read a snapshot.
# TYPE rackpulse_bmc_last_success_timestamp_seconds gauge
rackpulse_bmc_last_success_timestamp_seconds{rack="r1",server="a"} 1.80000003e+09
# HELP rackpulse_bmc_part_errors_total Failed parts of polls, by part and error kind.
# TYPE rackpulse_bmc_part_errors_total counter
rackpulse_bmc_part_errors_total{kind="timeout",part="memory",rack="r1",server="a"} 1
# HELP rackpulse_bmc_poll_duration_seconds Duration of the last poll of the BMC.
# TYPE rackpulse_bmc_poll_duration_seconds gauge
rackpulse_bmc_poll_duration_seconds{rack="r1",server="a"} 0.5
rackpulse_bmc_poll_duration_seconds{rack="r1",server="b"} 1
# HELP rackpulse_bmc_poll_requests Requests (Redfish) or round trips (IPMI) made by the last poll of the BMC.
# TYPE rackpulse_bmc_poll_requests gauge
rackpulse_bmc_poll_requests{rack="r1",server="a"} 4
# HELP rackpulse_bmc_poll_response_bytes Response bytes read by the last poll of the BMC.
# TYPE rackpulse_bmc_poll_response_bytes gauge
rackpulse_bmc_poll_response_bytes{rack="r1",server="a"} 5000
# HELP rackpulse_bmc_poll_success 1 if the last poll of the BMC read a snapshot with no part errors, 0.5 if some parts failed, 0 if it failed.
# TYPE rackpulse_bmc_poll_success gauge
rackpulse_bmc_poll_success{rack="r1",server="a"} 0
rackpulse_bmc_poll_success{rack="r1",server="b"} 0
# HELP rackpulse_bmc_polls_skipped_total Poll slots skipped because the previous poll overran its interval.
# TYPE rackpulse_bmc_polls_skipped_total counter
rackpulse_bmc_polls_skipped_total{rack="r1",server="a"} 1
# HELP rackpulse_bmc_polls_total Polls of the BMC by result (ok, partial, or the error kind).
# TYPE rackpulse_bmc_polls_total counter
rackpulse_bmc_polls_total{rack="r1",result="auth",server="a"} 1
rackpulse_bmc_polls_total{rack="r1",result="ok",server="a"} 1
rackpulse_bmc_polls_total{rack="r1",result="partial",server="a"} 1
rackpulse_bmc_polls_total{rack="r1",result="unreachable",server="b"} 1
# HELP rackpulse_bmc_requests_total Requests (Redfish) or datagrams (IPMI) sent to the BMC, every poll's, failed ones included.
# TYPE rackpulse_bmc_requests_total counter
rackpulse_bmc_requests_total{rack="r1",server="a"} 11
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Error(err)
	}

	moved := Endpoint{Server: "a", Rack: "r2"}
	m.ObservePoll(moved, ok, nil, time.Second)
	if n, err := testutil.GatherAndCount(reg, "rackpulse_bmc_polls_total"); err != nil || n != 2 {
		t.Errorf("%d polls series after a moved to r2 (%v), want a's one ok poll under r2 and b's", n, err)
	}
	if got := seriesValue(t, reg, "rackpulse_bmc_polls_total", "a", "r2", "ok"); got != 1 {
		t.Errorf("a's ok polls under r2: %v, want 1 (counted afresh)", got)
	}
}

// A fleet's worth of BMCs: one series per BMC and metric, each its own.
func TestPollMetricsManyBMCs(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewPollMetrics(reg)
	const n = 2000
	for i := range n {
		ep := Endpoint{Server: fmt.Sprintf("s%04d", i), Rack: fmt.Sprintf("r%02d", i/20)}
		snap := NewSnapshot(ep.Server, ep.Rack, ProtocolRedfish, time.Unix(int64(1_800_000_000+i), 0))
		snap.Poll.Requests = i
		m.ObservePoll(ep, snap, nil, time.Second)
		m.ObserveRequests(ep, int64(i+1))
	}
	if c, err := testutil.GatherAndCount(reg, "rackpulse_bmc_poll_requests"); err != nil || c != n {
		t.Fatalf("%d request gauges (%v), want %d", c, err, n)
	}
	for _, i := range []int{0, 1, 777, n - 1} {
		server, rack := fmt.Sprintf("s%04d", i), fmt.Sprintf("r%02d", i/20)
		if got := seriesValue(t, reg, "rackpulse_bmc_poll_requests", server, rack); got != float64(i) {
			t.Errorf("%s: requests %v, want %d", server, got, i)
		}
		if got := seriesValue(t, reg, "rackpulse_bmc_requests_total", server, rack); got != float64(i+1) {
			t.Errorf("%s: requests total %v, want %d", server, got, i+1)
		}
	}
}
