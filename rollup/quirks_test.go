package rollup

import (
	"math"
	"testing"
	"time"

	"github.com/rackpulse/rackpulse/bmc"
	"github.com/rackpulse/rackpulse/power"
)

// The power of servers whose BMCs show known quirks, through Observe and
// Compute: what the rack sums is the one value the power model chose.
func TestComputeWithQuirkyServers(t *testing.T) {
	// DMTF public-bladed: the enclosure's two 1450 W supplies report
	// LastPowerOutputWatts 650 each; the blades also publish their own
	// power here, which the enclosure's reading already counts.
	blades := &bmc.Snapshot{Time: now,
		Chassis: []bmc.Chassis{
			{ID: "MultiBladeEncl", ChassisType: "Enclosure", PowerState: "On"},
			{ID: "Blade1", ChassisType: "Blade", ContainedBy: "MultiBladeEncl"},
			{ID: "Blade2", ChassisType: "Blade", ContainedBy: "MultiBladeEncl"},
		},
		Power: []bmc.PowerReading{
			{Chassis: "Blade1", Source: bmc.PowerFromEnvironmentMetrics, Watts: 610},
			{Chassis: "Blade2", Source: bmc.PowerFromEnvironmentMetrics, Watts: 590},
			{Chassis: "MultiBladeEncl", Source: bmc.PowerFromPSUOutput, Watts: 1300},
		},
		PSUs: []bmc.PSU{
			{Chassis: "MultiBladeEncl", Bay: "0", Name: "Power Supply 0", State: "Enabled", Health: bmc.HealthOK, CapacityWatts: ptr(1450), OutputWatts: ptr(650)},
			{Chassis: "MultiBladeEncl", Bay: "1", Name: "Power Supply 1", State: "Enabled", Health: bmc.HealthOK, CapacityWatts: ptr(1450), OutputWatts: ptr(650)},
		},
	}
	// Dell-shaped legacy Power: PS1 "input" 800 W equals its 800 W rating
	// (set aside by the collector), so the PSU input sum covers PS2 only.
	atRating := rackmount("r12-u03", 412)
	atRating.PSUs[0].Suspect = []string{"input_watts 800 >= capacity 800"}
	atRating.PSUs[1].InputWatts = ptr(214)
	atRating.Power = append(atRating.Power, bmc.PowerReading{
		Chassis: "System.Embedded.1", Source: bmc.PowerFromPSUInput, Watts: 214, Suspect: "sum over 1 of 2 present PSUs",
	})
	// Totals that disagree: PowerControl far above EnvironmentMetrics and
	// the PSU input sum, marked by the collector.
	disagree := rackmount("r12-u05", 0)
	disagree.Power = []bmc.PowerReading{
		{Chassis: "System.Embedded.1", Source: bmc.PowerFromPowerControl, Watts: 900, Suspect: "900 W is 131% off the median 390 W of 3 sources"},
		{Chassis: "System.Embedded.1", Source: bmc.PowerFromEnvironmentMetrics, Watts: 380},
		{Chassis: "System.Embedded.1", Source: bmc.PowerFromPSUInput, Watts: 390},
	}

	states := map[string]ServerState{
		"r12-u01": observed("r12-u01", now, blades),
		"r12-u03": observed("r12-u03", now, atRating),
		"r12-u05": observed("r12-u05", now, disagree),
	}
	e := NewEngine(testInventory(), Options{})
	res := e.Compute(now.Add(time.Second), states)
	want := map[string]struct {
		watts  float64
		source bmc.PowerSource
	}{
		"r12-u01": {1300 / power.AssumedPSUEfficiency, bmc.PowerFromPSUOutput},
		"r12-u03": {412, bmc.PowerFromPowerControl},
		"r12-u05": {380, bmc.PowerFromEnvironmentMetrics},
	}
	var sum float64
	for name, w := range want {
		s, _ := res.Server(name)
		if !approx(s.Watts, w.watts) || s.PowerSource != w.source {
			t.Errorf("%s: %g W from %s, want %g W from %s", name, s.Watts, s.PowerSource, w.watts, w.source)
		}
		sum += w.watts
	}
	r12, _ := res.Rack("r12")
	// The sum keeps the readings' decimals, at most three.
	if math.Round(sum*1000)/1000 != r12.Watts || r12.Reporting != 3 || r12.NotLive != 1 {
		t.Errorf("r12: %g W, %d reporting, %d not live; want %g W, 3, 1", r12.Watts, r12.Reporting, r12.NotLive, sum)
	}
	if s, _ := res.Server("r12-u01"); s.Redundancy != power.RedundancyRedundant {
		t.Errorf("blade enclosure redundancy = %s, want redundant", s.Redundancy)
	}
}
