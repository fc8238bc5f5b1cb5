package power

import (
	"strings"
	"testing"
	"time"

	"github.com/rackpulse/rackpulse/bmc"
	"github.com/rackpulse/rackpulse/inventory"
)

func mutF(v float64) *float64 { return &v }

func mutPSU(bay string, mods ...func(*bmc.PSU)) bmc.PSU {
	p := bmc.PSU{Chassis: "1", Bay: bay, State: "Enabled", Health: bmc.HealthOK, LineInputStatus: "Normal"}
	for _, m := range mods {
		m(&p)
	}
	return p
}

// A chassis that names itself as its enclosure is top-level: its reading
// counts, and the blade inside it is counted through it, whatever order
// the readings come in.
func TestServerPowerSelfContainedChassisIsARoot(t *testing.T) {
	s := &bmc.Snapshot{
		Time:    time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC),
		Systems: []bmc.System{{ID: "sys", PowerState: "On"}},
		Chassis: []bmc.Chassis{
			{ID: "Enclosure", ContainedBy: "Enclosure"},
			{ID: "Blade1", ContainedBy: "Enclosure"},
		},
		Power: []bmc.PowerReading{
			{Chassis: "Blade1", Source: bmc.PowerFromPowerControl, Watts: 400},
			{Chassis: "Enclosure", Source: bmc.PowerFromPowerControl, Watts: 1500},
		},
	}
	got := ServerPower(s, s.Time)
	if !got.Known || got.Watts != 1500 {
		t.Fatalf("watts = %g (known %v), want 1500 from the enclosure alone", got.Watts, got.Known)
	}
	if len(got.Parts) != 1 || got.Parts[0].Chassis != "Enclosure" {
		t.Errorf("parts = %+v, want the enclosure only", got.Parts)
	}
	if len(got.SetAside) != 1 || got.SetAside[0].Chassis != "Blade1" || got.SetAside[0].Watts != 400 {
		t.Errorf("set aside = %+v, want Blade1's 400 W", got.SetAside)
	}
}

// Summed chassis report the longest averaging window of their parts.
func TestServerPowerReportsTheLongestInterval(t *testing.T) {
	s := &bmc.Snapshot{
		Time:    time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC),
		Systems: []bmc.System{{ID: "sys", PowerState: "On"}},
		Power: []bmc.PowerReading{
			{Chassis: "A", Source: bmc.PowerFromPowerControl, Watts: 300, IntervalMin: mutF(1)},
			{Chassis: "B", Source: bmc.PowerFromPowerControl, Watts: 200, IntervalMin: mutF(5)},
			{Chassis: "C", Source: bmc.PowerFromPowerControl, Watts: 100, IntervalMin: mutF(2)},
		},
	}
	got := ServerPower(s, s.Time)
	if !got.Known || got.Watts != 600 {
		t.Fatalf("watts = %g (known %v), want 600", got.Watts, got.Known)
	}
	if got.IntervalMin == nil || *got.IntervalMin != 5 {
		t.Errorf("interval = %v, want 5 min", got.IntervalMin)
	}
}

// A server that is off may read 0 W: that is a reading, not a suspect one,
// and a small standby draw elsewhere does not "disagree" with it.
func TestServerPowerZeroWattsWhileOff(t *testing.T) {
	s := &bmc.Snapshot{
		Time:    time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC),
		Systems: []bmc.System{{ID: "sys", PowerState: "Off"}},
		Power: []bmc.PowerReading{
			{Source: bmc.PowerFromDCMI, Watts: 0},
			{Source: bmc.PowerFromPSUInput, Watts: 12},
			{Source: bmc.PowerFromPSUOutput, Watts: 9},
		},
	}
	got := ServerPower(s, s.Time)
	if !got.Known || got.Watts != 0 || got.Source != bmc.PowerFromDCMI {
		t.Fatalf("got %g W from %s (known %v), want 0 W from DCMI", got.Watts, got.Source, got.Known)
	}
	if got.Suspect != "" {
		t.Errorf("suspect = %q, want none while the server is off", got.Suspect)
	}
	if len(got.SetAside) != 0 {
		t.Errorf("set aside = %+v, want none", got.SetAside)
	}
}

// A PSU output equal to the chosen input is not "above" it.
func TestServerPowerPSUOutputEqualToInputAgrees(t *testing.T) {
	s := &bmc.Snapshot{
		Time:    time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC),
		Systems: []bmc.System{{ID: "sys", PowerState: "On"}},
		Power: []bmc.PowerReading{
			{Source: bmc.PowerFromDCMI, Watts: 500},
			{Source: bmc.PowerFromPSUOutput, Watts: 500},
		},
	}
	got := ServerPower(s, s.Time)
	if !got.Known || got.Watts != 500 {
		t.Fatalf("watts = %g (known %v), want 500", got.Watts, got.Known)
	}
	if len(got.SetAside) != 0 {
		t.Errorf("set aside = %+v, want none: 500 W out is not above 500 W in", got.SetAside)
	}
	// One watt more is above it.
	s.Power[1].Watts = 501
	got = ServerPower(s, s.Time)
	if len(got.SetAside) != 1 || got.SetAside[0].Source != bmc.PowerFromPSUOutput {
		t.Errorf("set aside = %+v, want the 501 W PSU output", got.SetAside)
	}
}

// Plus keeps the later Last whichever side holds it.
func TestEnergyPlusKeepsTheLaterLast(t *testing.T) {
	t0 := time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)
	later := Energy{Wh: 2, Last: t0.Add(time.Minute)}
	earlier := Energy{Wh: 3, Last: t0}
	if got := later.Plus(earlier); !got.Last.Equal(t0.Add(time.Minute)) || got.Wh != 5 {
		t.Errorf("later.Plus(earlier) = %+v, want Last %v and 5 Wh", got, t0.Add(time.Minute))
	}
	if got := earlier.Plus(later); !got.Last.Equal(t0.Add(time.Minute)) {
		t.Errorf("earlier.Plus(later) Last = %v, want %v", got.Last, t0.Add(time.Minute))
	}
}

// A hot spare publishing 0 W input takes the whole load when the active
// supply's feed fails: no NaN from sharing in proportion to zero.
func TestFailoverOntoAZeroWattSpare(t *testing.T) {
	rack := &inventory.Rack{Name: "r20",
		Feeds:    map[string]inventory.Feed{"A": {CapacityWatts: 4000}, "B": {CapacityWatts: 4000}},
		PSUFeeds: map[string]string{"1": "A", "2": "B"},
	}
	srv := Server{Name: "u01", Power: Reading{Known: true, Watts: 600}, Snapshot: &bmc.Snapshot{PSUs: []bmc.PSU{
		mutPSU("1", func(p *bmc.PSU) { p.InputWatts = mutF(600) }),
		mutPSU("2", func(p *bmc.PSU) { p.State, p.InputWatts = "StandbySpare", mutF(0) }),
	}}}
	got := RackFeeds(rack, []Server{srv})
	if len(got.Feeds) != 2 || got.Feeds[0].Watts != 600 || got.Feeds[1].Watts != 0 {
		t.Fatalf("feeds = %+v, want A 600 W, B 0 W", got.Feeds)
	}
	if len(got.Failover) != 2 {
		t.Fatalf("failover = %+v, want two entries", got.Failover)
	}
	f := got.Failover[0]
	if f.Failed != "A" || f.Survivor != "B" || f.LoadWatts != 600 || f.HeadroomWatts != 3400 || f.ServersDropped != 0 {
		t.Errorf("A failing: %+v, want B carrying 600 W with 3400 W headroom", f)
	}
}

// A negative feed capacity in the inventory is no capacity.
func TestRackFeedsNegativeCapacityIsUnknown(t *testing.T) {
	rack := &inventory.Rack{Name: "r21",
		Feeds:    map[string]inventory.Feed{"A": {CapacityWatts: -100}, "B": {CapacityWatts: 4000}},
		PSUFeeds: map[string]string{"1": "A", "2": "B"},
	}
	srv := Server{Name: "u01", Power: Reading{Known: true, Watts: 800}, Snapshot: &bmc.Snapshot{PSUs: []bmc.PSU{mutPSU("1"), mutPSU("2")}}}
	got := RackFeeds(rack, []Server{srv})
	if len(got.Feeds) != 2 {
		t.Fatalf("feeds = %+v", got.Feeds)
	}
	if a := got.Feeds[0]; a.Name != "A" || a.CapacityWatts != 0 || a.UtilizationPct != 0 || a.Watts != 400 {
		t.Errorf("feed A = %+v, want capacity 0 (unknown), 400 W", a)
	}
	// B failing leaves A, of unknown capacity: no headroom, not overloaded.
	if f := got.Failover[1]; f.Failed != "B" || f.Survivor != "A" || f.CapacityWatts != 0 || f.HeadroomWatts != 0 || f.Overloaded {
		t.Errorf("B failing: %+v, want A of unknown capacity", f)
	}
}

// Among survivors, one with a known capacity is reported before one
// without, whatever their loads and order.
func TestFailoverPrefersTheSurvivorWithACapacity(t *testing.T) {
	for _, tc := range []struct {
		name           string
		capB, capC     float64
		wantSurvivorOf string
	}{
		{"capacity on B only", 4000, 0, "B"},
		{"capacity on C only", 0, 4000, "C"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rack := &inventory.Rack{Name: "r22",
				Feeds:    map[string]inventory.Feed{"A": {CapacityWatts: 4000}, "B": {CapacityWatts: tc.capB}, "C": {CapacityWatts: tc.capC}},
				PSUFeeds: map[string]string{"1": "A", "2": "B", "3": "C"},
			}
			srv := Server{Name: "u01", Power: Reading{Known: true, Watts: 900}, Snapshot: &bmc.Snapshot{PSUs: []bmc.PSU{mutPSU("1"), mutPSU("2"), mutPSU("3")}}}
			got := RackFeeds(rack, []Server{srv})
			f := got.Failover[0]
			if f.Failed != "A" || f.Survivor != tc.wantSurvivorOf || f.LoadWatts != 450 {
				t.Errorf("A failing: %+v, want survivor %s carrying 450 W", f, tc.wantSurvivorOf)
			}
		})
	}
}

// A supply whose BMC reports its input line as Unknown is still working.
func TestWorkingWithUnknownLineInput(t *testing.T) {
	p := mutPSU("1", func(p *bmc.PSU) { p.LineInputStatus = "Unknown" })
	if !Working(&p) {
		t.Error("Working = false for LineInputStatus Unknown, want true")
	}
	s := &bmc.Snapshot{PSUs: []bmc.PSU{p, mutPSU("2")}}
	st := PSURedundancy(s, Reading{})
	if st.Redundancy != RedundancyRedundant || st.Working != 2 {
		t.Errorf("redundancy = %+v, want redundant with 2 working", st)
	}
	if strings.Contains(st.Reason, "input") {
		t.Errorf("reason %q names an input problem", st.Reason)
	}
}
