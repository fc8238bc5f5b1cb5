package bmc

import (
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

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

	if got := testutil.ToFloat64(m.quirks.WithLabelValues("r12-u03", "r12", "chassis")); got != 4 {
		t.Errorf("chassis quirks counted %v, want 2 per poll (a quirk recorded twice in one poll is one)", got)
	}
	if got := testutil.ToFloat64(m.quirks.WithLabelValues("r12-u03", "r12", "power")); got != 2 {
		t.Errorf("power quirks counted %v, want 2", got)
	}
	if got := testutil.ToFloat64(m.success.WithLabelValues("r12-u03", "r12")); got != 0 {
		t.Errorf("success %v after a failed poll", got)
	}
	if n := testutil.CollectAndCount(m.partErrors); n != 0 {
		t.Errorf("%d part error series; quirks are not errors", n)
	}
	m.Forget("r12-u03")
	if n := testutil.CollectAndCount(m.quirks); n != 0 {
		t.Errorf("%d quirk series left after Forget", n)
	}
}
