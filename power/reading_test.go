package power

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/rackpulse/rackpulse/bmc"
)

func ptr(v float64) *float64 { return &v }

var polled = time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)

// rackmount returns a one-chassis server snapshot, powered on, with the
// given readings.
func rackmount(chassis string, readings ...bmc.PowerReading) *bmc.Snapshot {
	return &bmc.Snapshot{
		Server:  "r12-u01",
		Time:    polled,
		Systems: []bmc.System{{ID: "System.Embedded.1", PowerState: "On"}},
		Chassis: []bmc.Chassis{{ID: chassis, ChassisType: "RackMount", PowerState: "On"}},
		Power:   readings,
	}
}

func TestServerPower(t *testing.T) {
	tests := []struct {
		name        string
		snap        *bmc.Snapshot
		wantKnown   bool
		wantWatts   float64
		wantSource  bmc.PowerSource
		wantEst     bool
		wantIntvl   float64 // 0: none
		wantSuspect string  // substring; "" means none
		wantAside   []string
	}{
		{
			// DMTF public-rackmount1: PowerControl 344 W (30 min window) and
			// EnvironmentMetrics 374 W of the same chassis; the PSU 1 input of
			// 937.4 W on a 400 W supply was dropped by the collector.
			name: "one chassis through two schemas counts once",
			snap: rackmount("1U",
				bmc.PowerReading{Chassis: "1U", Source: bmc.PowerFromPowerControl, Watts: 344, IntervalMin: ptr(30), CapacityWatts: ptr(800), Resource: "/redfish/v1/Chassis/1U/Power#/PowerControl/0"},
				bmc.PowerReading{Chassis: "1U", Source: bmc.PowerFromEnvironmentMetrics, Watts: 374, Resource: "/redfish/v1/Chassis/1U/EnvironmentMetrics"},
			),
			wantKnown: true, wantWatts: 344, wantSource: bmc.PowerFromPowerControl, wantIntvl: 30,
		},
		{
			// Dell-shaped legacy Power: PS1 input 800 W = its rating and PS2
			// output 880 W on 800 W were set aside by the collector, leaving
			// sums over one of two supplies.
			name: "PSU sums over some supplies set aside beside PowerControl",
			snap: rackmount("System.Embedded.1",
				bmc.PowerReading{Chassis: "System.Embedded.1", Source: bmc.PowerFromPowerControl, Watts: 412, IntervalMin: ptr(1), CapacityWatts: ptr(1600)},
				bmc.PowerReading{Chassis: "System.Embedded.1", Source: bmc.PowerFromPSUInput, Watts: 214, Suspect: "sum over 1 of 2 present PSUs"},
				bmc.PowerReading{Chassis: "System.Embedded.1", Source: bmc.PowerFromPSUOutput, Watts: 196, Suspect: "sum over 1 of 2 present PSUs"},
			),
			wantKnown: true, wantWatts: 412, wantSource: bmc.PowerFromPowerControl, wantIntvl: 1,
			wantAside: []string{"PSUInput:sum over 1 of 2", "PSUOutput:sum over 1 of 2"},
		},
		{
			name: "PowerControl marked off the median loses to EnvironmentMetrics",
			snap: rackmount("1",
				bmc.PowerReading{Chassis: "1", Source: bmc.PowerFromPowerControl, Watts: 520, Suspect: "520 W is 35% off the median 385 W of 3 sources"},
				bmc.PowerReading{Chassis: "1", Source: bmc.PowerFromEnvironmentMetrics, Watts: 380},
				bmc.PowerReading{Chassis: "1", Source: bmc.PowerFromPSUInput, Watts: 390},
			),
			wantKnown: true, wantWatts: 380, wantSource: bmc.PowerFromEnvironmentMetrics,
			wantAside: []string{"PowerControl:off the median"},
		},
		{
			name: "PSU total far from the chassis total is set aside",
			snap: rackmount("1",
				bmc.PowerReading{Chassis: "1", Source: bmc.PowerFromPowerControl, Watts: 400},
				bmc.PowerReading{Chassis: "1", Source: bmc.PowerFromPSUInput, Watts: 600},
				bmc.PowerReading{Chassis: "1", Source: bmc.PowerFromPSUOutput, Watts: 560},
			),
			wantKnown: true, wantWatts: 400, wantSource: bmc.PowerFromPowerControl,
			wantAside: []string{"PSUInput:+50% from the 400 W used", "PSUOutput:above the input"},
		},
		{
			name: "PSU total within 25% of the chassis total is not listed",
			snap: rackmount("1",
				bmc.PowerReading{Chassis: "1", Source: bmc.PowerFromPowerControl, Watts: 400},
				bmc.PowerReading{Chassis: "1", Source: bmc.PowerFromPSUInput, Watts: 430},
			),
			wantKnown: true, wantWatts: 400, wantSource: bmc.PowerFromPowerControl,
		},
		{
			// IPMI: no chassis ids; DCMI with a 30 s averaging period.
			name: "IPMI DCMI before PSU sensors and the system watt sensor",
			snap: &bmc.Snapshot{Time: polled, Systems: []bmc.System{{ID: "system", PowerState: "On"}}, Power: []bmc.PowerReading{
				{Source: bmc.PowerFromDCMI, Watts: 250, IntervalMin: ptr(0.5), Resource: "Get Power Reading"},
				{Source: bmc.PowerFromSensor, Watts: 248, Resource: "sensor Pwr Consumption"},
				{Source: bmc.PowerFromPSUInput, Watts: 262, Resource: "sensors PS1 Input Power, PS2 Input Power"},
			}},
			wantKnown: true, wantWatts: 250, wantSource: bmc.PowerFromDCMI, wantIntvl: 0.5,
		},
		{
			name: "IPMI without DCMI: PSU input sum before watt sensors",
			snap: &bmc.Snapshot{Time: polled, Systems: []bmc.System{{ID: "system", PowerState: "On"}}, Power: []bmc.PowerReading{
				{Source: bmc.PowerFromSensor, Watts: 95, Resource: "sensor CPU Power"},
				{Source: bmc.PowerFromSensor, Watts: 182, Resource: "sensor System Level"},
				{Source: bmc.PowerFromPSUInput, Watts: 190, Resource: "sensors PS1 Input Power, PS2 Input Power"},
			}},
			wantKnown: true, wantWatts: 190, wantSource: bmc.PowerFromPSUInput,
			wantAside: []string{"Sensor:-50% from the 190 W used"},
		},
		{
			name: "IPMI watt sensors only: the largest is the server's input",
			snap: &bmc.Snapshot{Time: polled, Systems: []bmc.System{{ID: "system", PowerState: "On"}}, Power: []bmc.PowerReading{
				{Source: bmc.PowerFromSensor, Watts: 95, Resource: "sensor CPU Power"},
				{Source: bmc.PowerFromSensor, Watts: 182, Resource: "sensor System Level"},
			}},
			wantKnown: true, wantWatts: 182, wantSource: bmc.PowerFromSensor,
			wantAside: []string{"Sensor:-48% from the 182 W used"},
		},
		{
			// DMTF public-bladed: the enclosure's legacy Power has two 1450 W
			// supplies with LastPowerOutputWatts 650 each and no PowerControl.
			name: "blade enclosure measured by PSU output only: estimated input",
			snap: &bmc.Snapshot{Time: polled,
				Chassis: []bmc.Chassis{
					{ID: "MultiBladeEncl", ChassisType: "Enclosure"},
					{ID: "Blade1", ChassisType: "Blade", ContainedBy: "MultiBladeEncl"},
					{ID: "Blade2", ChassisType: "Blade", ContainedBy: "MultiBladeEncl"},
				},
				Power: []bmc.PowerReading{{Chassis: "MultiBladeEncl", Source: bmc.PowerFromPSUOutput, Watts: 1300, Resource: "/redfish/v1/Chassis/MultiBladeEncl/Power"}},
			},
			wantKnown: true, wantWatts: 1300 / AssumedPSUEfficiency, wantSource: bmc.PowerFromPSUOutput, wantEst: true,
		},
		{
			name: "blade enclosure with a reading: blades' own readings set aside",
			snap: &bmc.Snapshot{Time: polled,
				Chassis: []bmc.Chassis{
					{ID: "Enclosure", ChassisType: "Enclosure", PowerState: "On"},
					{ID: "Blade1", ChassisType: "Blade", ContainedBy: "Enclosure"},
					{ID: "Blade2", ChassisType: "Blade", ContainedBy: "Enclosure"},
				},
				Power: []bmc.PowerReading{
					{Chassis: "Blade1", Source: bmc.PowerFromEnvironmentMetrics, Watts: 310},
					{Chassis: "Blade2", Source: bmc.PowerFromEnvironmentMetrics, Watts: 295},
					{Chassis: "Enclosure", Source: bmc.PowerFromPowerControl, Watts: 720},
				},
			},
			wantKnown: true, wantWatts: 720, wantSource: bmc.PowerFromPowerControl,
			wantAside: []string{"EnvironmentMetrics:inside chassis Enclosure", "EnvironmentMetrics:inside chassis Enclosure"},
		},
		{
			name: "blade enclosure without a reading: blades summed",
			snap: &bmc.Snapshot{Time: polled,
				Chassis: []bmc.Chassis{
					{ID: "Enclosure", ChassisType: "Enclosure"},
					{ID: "Blade1", ChassisType: "Blade", ContainedBy: "Enclosure", PowerState: "On"},
					{ID: "Blade2", ChassisType: "Blade", ContainedBy: "Enclosure", PowerState: "On"},
					{ID: "Blade3", ChassisType: "Blade", ContainedBy: "Enclosure", PowerState: "On"},
				},
				Power: []bmc.PowerReading{
					{Chassis: "Blade1", Source: bmc.PowerFromEnvironmentMetrics, Watts: 310},
					{Chassis: "Blade2", Source: bmc.PowerFromPowerControl, Watts: 295, IntervalMin: ptr(1)},
					{Chassis: "Blade3", Source: bmc.PowerFromPSUInput, Watts: 305},
				},
			},
			wantKnown: true, wantWatts: 910, wantSource: bmc.PowerFromPSUInput, wantIntvl: 1,
		},
		{
			name: "two top-level chassis behind one BMC are summed",
			snap: &bmc.Snapshot{Time: polled,
				Chassis: []bmc.Chassis{{ID: "Node0"}, {ID: "Node1"}},
				Power: []bmc.PowerReading{
					{Chassis: "Node0", Source: bmc.PowerFromEnvironmentMetrics, Watts: 1200},
					{Chassis: "Node1", Source: bmc.PowerFromEnvironmentMetrics, Watts: 1100},
				},
			},
			wantKnown: true, wantWatts: 2300, wantSource: bmc.PowerFromEnvironmentMetrics,
		},
		{
			name: "a suspect reading is used when nothing else exists, and marked",
			snap: rackmount("1",
				bmc.PowerReading{Chassis: "1", Source: bmc.PowerFromPSUInput, Watts: 214, Suspect: "sum over 1 of 2 present PSUs"},
			),
			wantKnown: true, wantWatts: 214, wantSource: bmc.PowerFromPSUInput, wantSuspect: "sum over 1 of 2",
		},
		{
			name: "0 W while powered on is set aside for the PSU sum",
			snap: rackmount("1",
				bmc.PowerReading{Chassis: "1", Source: bmc.PowerFromPowerControl, Watts: 0},
				bmc.PowerReading{Chassis: "1", Source: bmc.PowerFromPSUInput, Watts: 230},
			),
			wantKnown: true, wantWatts: 230, wantSource: bmc.PowerFromPSUInput,
			wantAside: []string{"PowerControl:0 W while powered on"},
		},
		{
			name: "NaN and negative are never readings",
			snap: rackmount("1",
				bmc.PowerReading{Chassis: "1", Source: bmc.PowerFromPowerControl, Watts: math.NaN()},
				bmc.PowerReading{Chassis: "1", Source: bmc.PowerFromEnvironmentMetrics, Watts: -5},
			),
			wantAside: []string{"PowerControl:not a reading", "EnvironmentMetrics:not a reading"},
		},
		{
			name: "no power readings: unknown, not 0 W",
			snap: rackmount("1"),
		},
	}
	now := polled.Add(45 * time.Second)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ServerPower(tt.snap, now)
			if got.Known != tt.wantKnown {
				t.Fatalf("Known = %v, want %v (%+v)", got.Known, tt.wantKnown, got)
			}
			if math.Abs(got.Watts-tt.wantWatts) > 1e-9 || got.Source != tt.wantSource || got.Estimated != tt.wantEst {
				t.Errorf("got %g W from %s (estimated %v), want %g W from %s (estimated %v)",
					got.Watts, got.Source, got.Estimated, tt.wantWatts, tt.wantSource, tt.wantEst)
			}
			var intvl float64
			if got.IntervalMin != nil {
				intvl = *got.IntervalMin
			}
			if intvl != tt.wantIntvl {
				t.Errorf("IntervalMin = %g, want %g", intvl, tt.wantIntvl)
			}
			if (tt.wantSuspect == "") != (got.Suspect == "") || !strings.Contains(got.Suspect, tt.wantSuspect) {
				t.Errorf("Suspect = %q, want %q", got.Suspect, tt.wantSuspect)
			}
			if len(got.SetAside) != len(tt.wantAside) {
				t.Fatalf("SetAside = %+v, want %v", got.SetAside, tt.wantAside)
			}
			for i, want := range tt.wantAside {
				src, reason, _ := strings.Cut(want, ":")
				if a := got.SetAside[i]; string(a.Source) != src || !strings.Contains(a.Reason, reason) {
					t.Errorf("SetAside[%d] = %s %q, want %s %q", i, a.Source, a.Reason, src, reason)
				}
			}
			if got.Measured != polled || got.Age != 45*time.Second {
				t.Errorf("Measured %v Age %v, want %v and 45s", got.Measured, got.Age, polled)
			}
		})
	}
}

func TestServerPowerContainedByLoopIsNotLost(t *testing.T) {
	snap := &bmc.Snapshot{Time: polled,
		Chassis: []bmc.Chassis{{ID: "A", ContainedBy: "B"}, {ID: "B", ContainedBy: "A"}},
		Power:   []bmc.PowerReading{{Chassis: "A", Source: bmc.PowerFromPowerControl, Watts: 500}},
	}
	got := ServerPower(snap, polled)
	if !got.Known || got.Watts != 500 {
		t.Fatalf("got %+v, want 500 W", got)
	}
}

// A clock read a moment before the snapshot's start gives age 0, never a
// negative one.
func TestServerPowerAgeIsNeverNegative(t *testing.T) {
	snap := &bmc.Snapshot{Time: polled, Power: []bmc.PowerReading{{Source: bmc.PowerFromDCMI, Watts: 300}}}
	if got := ServerPower(snap, polled.Add(-10*time.Microsecond)); got.Age != 0 || !got.Known {
		t.Errorf("age %v (known %v), want 0", got.Age, got.Known)
	}
}

// A chassis's total published only as a sensor is a source, ranked after
// EnvironmentMetrics and before DCMI and the PSU sums.
func TestChassisSensorRanksAfterEnvironmentMetrics(t *testing.T) {
	base := []bmc.PowerReading{
		{Chassis: "Shelf", Source: bmc.PowerFromPSUInput, Watts: 5400},
		{Chassis: "Shelf", Source: bmc.PowerFromChassisSensor, Watts: 5350, Resource: "/redfish/v1/Chassis/Shelf/Sensors/TotalPower"},
	}
	snap := &bmc.Snapshot{Time: polled, Power: base}
	if got := ServerPower(snap, polled); got.Source != bmc.PowerFromChassisSensor || got.Watts != 5350 {
		t.Errorf("%s %g W; want the chassis sensor's 5350 W over the PSU sum", got.Source, got.Watts)
	}
	snap.Power = append(base, bmc.PowerReading{Chassis: "Shelf", Source: bmc.PowerFromEnvironmentMetrics, Watts: 5360})
	if got := ServerPower(snap, polled); got.Source != bmc.PowerFromEnvironmentMetrics {
		t.Errorf("%s chosen; want EnvironmentMetrics before the chassis sensor", got.Source)
	}
}
