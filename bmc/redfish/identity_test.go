package redfish

import (
	"testing"

	"github.com/rackpulse/rackpulse/bmc/sim"
)

func TestNormalizeUUID(t *testing.T) {
	for in, want := range map[string]string{
		"38947555-7742-3448-3784-823347823834":          "38947555-7742-3448-3784-823347823834",
		"4C4C4544-0048-5310-8034-B6C04F434832":          "4c4c4544-0048-5310-8034-b6c04f434832",
		" {4c4c4544-0048-5310-8034-b6c04f434832} ":      "4c4c4544-0048-5310-8034-b6c04f434832",
		"urn:uuid:4c4c4544-0048-5310-8034-b6c04f434832": "4c4c4544-0048-5310-8034-b6c04f434832",
		"4C4C454400485310 8034B6C04F434832":             "",
		"4C4C4544004853108034B6C04F434832":              "4c4c4544-0048-5310-8034-b6c04f434832",
		"00000000-0000-0000-0000-000000000000":          "",
		"FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF":          "",
		"":                                              "",
		"Not Specified":                                 "",
		"4c4c4544-0048-5310-8034-b6c04f43483":           "",
		"4c4c4544-0048-5310-8034-b6c04f43483g":          "",
		"4c4c4544_0048-5310-8034-b6c04f434832":          "",
	} {
		if got := normalizeUUID(in); got != want {
			t.Errorf("normalizeUUID(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestInteropSystemIdentity: ComputerSystem.UUID and SerialNumber of the
// DMTF mockups; the telemetry mockup's all-zero UUID and the bladed
// mockup's missing one are none.
func TestInteropSystemIdentity(t *testing.T) {
	for _, tc := range []struct {
		mockup string
		want   map[string][2]string // system id -> UUID, serial
	}{
		{"public-rackmount1", map[string][2]string{"437XR1138R2": {"38947555-7742-3448-3784-823347823834", "437XR1138R2"}}},
		{"public-tower", map[string][2]string{"437XR1238R2": {"38947555-7742-3448-3784-823347823834", "437XR1238R2"}}},
		{"public-telemetry", map[string][2]string{"1": {"", "2M220100SL"}}},
		{"public-bladed", map[string][2]string{
			"529QB9450R6": {"", "529QB9450R6"}, "529QB9451R6": {"", "529QB9451R6"}, "529QB9452R6": {"", "529QB9452R6"},
		}},
	} {
		t.Run(tc.mockup, func(t *testing.T) {
			_, ep := simBMC(t, loadMockup(t, tc.mockup), sim.RedfishOptions{})
			c, _ := newCollector(t, ep, bmcOpts(t))
			snap := mustPoll(t, c)
			if errs := partErrors(snap, "systems"); len(errs) != 0 {
				t.Errorf("systems part errors: %+v", errs)
			}
			got := map[string][2]string{}
			for _, s := range snap.Systems {
				got[s.ID] = [2]string{s.UUID, s.Serial}
			}
			for id, w := range tc.want {
				if got[id] != w {
					t.Errorf("system %s: UUID, serial %q, want %q (all: %+v)", id, got[id], w, snap.Systems)
				}
			}
		})
	}
}

// TestSimSystemIdentity: the collector's system UUID and serial are what
// the simulator says its BMCs publish, on both synthetic profiles (one
// writes the UUID in capitals, the other in lower case).
func TestSimSystemIdentity(t *testing.T) {
	f, byProfile := startHealthFleet(t, 1)
	for _, prof := range []string{sim.ProfileModern, sim.ProfileLegacy} {
		b := byProfile[prof][0]
		c, _ := healthSimCollector(t, f, b)
		snap := mustPoll(t, c)
		if len(snap.Systems) != 1 {
			t.Fatalf("%s: systems %+v", prof, snap.Systems)
		}
		if s := snap.Systems[0]; s.UUID != b.SystemUUID() || s.Serial != b.SystemSerial() || s.UUID == "" {
			t.Errorf("%s: system UUID %q serial %q, the BMC says %q %q", prof, s.UUID, s.Serial, b.SystemUUID(), b.SystemSerial())
		}
	}
}
