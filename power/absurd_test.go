package power

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/rackpulse/rackpulse/bmc"
)

// A reading beyond any server's draw is never used, not even for want of
// a better one, and NaN and ±Inf never leave the power model.
func TestServerPowerNeverUsesAnAbsurdReading(t *testing.T) {
	at := time.Unix(1700000000, 0)
	for _, tc := range []struct {
		name     string
		readings []bmc.PowerReading
		chassis  []bmc.Chassis
		want     float64 // 0: unknown
		reason   string
	}{
		{"the only reading is 8e307 W", []bmc.PowerReading{{Chassis: "1U", Source: bmc.PowerFromPSUInput, Watts: 8e307}}, nil,
			0, "not a reading: 8e+307 W above the plausible maximum 250000 W"},
		{"+Inf beside a plausible reading", []bmc.PowerReading{
			{Chassis: "1U", Source: bmc.PowerFromPowerControl, Watts: math.Inf(1)},
			{Chassis: "1U", Source: bmc.PowerFromDCMI, Watts: 410}}, nil,
			410, "not a reading: +Inf W is not a number"},
		{"NaN", []bmc.PowerReading{{Chassis: "1U", Source: bmc.PowerFromPowerControl, Watts: math.NaN()}}, nil,
			0, "not a reading: NaN W is not a number"},
		{"chassis that each pass but sum beyond any server", []bmc.PowerReading{
			{Chassis: "A", Source: bmc.PowerFromPowerControl, Watts: 200_000},
			{Chassis: "B", Source: bmc.PowerFromPowerControl, Watts: 200_000}},
			[]bmc.Chassis{{ID: "A"}, {ID: "B"}},
			0, "the chassis sum to 400000 W above the plausible maximum 250000 W"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &bmc.Snapshot{Server: "s", Time: at, Power: tc.readings, Chassis: tc.chassis}
			r := ServerPower(s, at)
			if tc.want == 0 && r.Known || tc.want != 0 && (!r.Known || r.Watts != tc.want) {
				t.Errorf("power = %g W (known %t); want %g (0: unknown)", r.Watts, r.Known, tc.want)
			}
			found := false
			for _, a := range r.SetAside {
				found = found || a.Reason == tc.reason
			}
			if !found {
				t.Errorf("set aside %+v; want one with reason %q", r.SetAside, tc.reason)
			}
			if _, err := json.Marshal(r); err != nil {
				t.Errorf("the reading does not encode: %v", err)
			}
		})
	}
}

// One server's absurd or unknown power never hides the others': it is left
// out of the feeds with its reason, the rest are summed.
func TestRackFeedsSetAsideAServerWithAbsurdPower(t *testing.T) {
	unknown := Reading{SetAside: []SetAside{{Source: bmc.PowerFromPSUInput, Reason: "not a reading: 1.6e+308 W above the plausible maximum 250000 W"}}}
	servers := []Server{
		server("healthy", 400, psu("1", 800), psu("2", 800)),
		server("inf", math.Inf(1), psu("1", 800), psu("2", 800)),
		server("absurd", 8e307, psu("1", 800), psu("2", 800)),
		{Name: "set-aside", Snapshot: &bmc.Snapshot{}, Power: unknown},
		{Name: "never-read", Snapshot: &bmc.Snapshot{}},
		server("absurd-psu", 300, psu("1", 800, withInput(math.NaN())), psu("2", 800, withInput(150))),
	}
	got := RackFeeds(twoFeedRack(8000), servers)
	if len(got.Feeds) != 2 || !near(got.Feeds[0].Watts, 350) || !near(got.Feeds[1].Watts, 350) || got.Servers != 2 {
		t.Errorf("feeds %+v (%d servers); want A and B at 350 W each from the two servers with a usable reading", got.Feeds, got.Servers)
	}
	reasons := map[string]string{}
	for _, a := range got.SetAside {
		reasons[a.Server] = a.Reason
	}
	for server, want := range map[string]string{
		"inf":       "power +Inf W is not a number",
		"absurd":    "power 8e+307 W above the plausible maximum 250000 W",
		"set-aside": "no usable power reading: PSUInput: not a reading: 1.6e+308 W",
	} {
		if !strings.Contains(reasons[server], want) {
			t.Errorf("%s set aside for %q; want %q", server, reasons[server], want)
		}
	}
	if _, listed := reasons["never-read"]; listed || len(got.SetAside) != 3 {
		t.Errorf("set aside %+v; want the three servers whose readings were set aside, not one that published none", got.SetAside)
	}
	if _, err := json.Marshal(got); err != nil {
		t.Errorf("the feeds do not encode: %v", err)
	}

	// A feed capacity that is not a number is no capacity.
	rack := twoFeedRack(math.Inf(1))
	got = RackFeeds(rack, servers[:1])
	if got.Feeds[0].CapacityWatts != 0 || got.Feeds[0].UtilizationPct != 0 {
		t.Errorf("feed A %+v; want an +Inf capacity taken as none", got.Feeds[0])
	}
	if _, err := json.Marshal(got); err != nil {
		t.Errorf("the feeds do not encode: %v", err)
	}
}

func TestEnergyMeterIgnoresAbsurdPower(t *testing.T) {
	m := NewEnergyMeter(time.Minute)
	t0 := time.Unix(1700000000, 0)
	m.Add(t0, 600)
	for i, w := range []float64{1e308, math.Inf(1), math.NaN(), -1} {
		if _, used := m.Add(t0.Add(time.Duration(i+1)*time.Second), w); used {
			t.Errorf("%g W was integrated", w)
		}
	}
	m.Add(t0.Add(30*time.Second), 600)
	if e := m.Energy(); !near(e.Wh, 5) {
		t.Errorf("energy %g Wh; want 5 (600 W for 30 s), the absurd readings ignored", e.Wh)
	}
}
