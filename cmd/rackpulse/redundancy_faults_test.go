package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rackpulse/rackpulse/alert"
	"github.com/rackpulse/rackpulse/bmc"
	"github.com/rackpulse/rackpulse/bmc/sim"
	"github.com/rackpulse/rackpulse/power"
)

// adminFault posts a fault to the simulator's admin API, as an operator
// does with curl, and fails the test unless it is taken (201).
func adminFault(t *testing.T, admin, bmcName, body string) {
	t.Helper()
	resp, err := http.Post(admin+"/bmcs/"+bmcName+"/faults", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST %s to %s: HTTP %d", body, bmcName, resp.StatusCode)
	}
}

// adminClear ends a fault through the admin API.
func adminClear(t *testing.T, admin, bmcName string, f sim.Fault) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodDelete, admin+"/bmcs/"+bmcName+"/faults/"+string(f), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE %s of %s: HTTP %d", f, bmcName, resp.StatusCode)
	}
}

// lostState is the state of a server's PSURedundancyLost alert, "" when
// it has none (pending, firing or resolved).
func lostState(j *redundancyJudge, server string) string {
	for _, a := range j.engine.Alerts() {
		if a.Name == "PSURedundancyLost" && a.Labels["server"] == server {
			return a.State.String()
		}
	}
	return ""
}

// TestPSURedundancyFaultsThroughTheCollector: each PSU redundancy fault of
// the simulator, injected through its admin API into a modern and a
// legacy Redfish BMC, polled by the real Redfish collector, gets its
// verdict: a hot spare is redundant, a single supply and a NotRedundant
// group not_redundant, a removed supply lost; PSURedundancyLost fires for
// the removed supply only, and resolves once it is back.
func TestPSURedundancyFaultsThroughTheCollector(t *testing.T) {
	cases := []struct {
		fault           sim.Fault
		target          string
		want            power.Redundancy
		present, worker int
		reason          string
	}{
		{sim.FaultPSUHotSpare, "1", power.RedundancyRedundant, 2, 2, "2 PSUs working"},
		{sim.FaultPSUSingle, "", power.RedundancyNotRedundant, 1, 1, "a single PSU present"},
		{sim.FaultPSUNotRedundant, "", power.RedundancyNotRedundant, 2, 2, "configured NotRedundant"},
		{sim.FaultPSURemoved, "1", power.RedundancyLost, 1, 1, "1 of 2 members working, 2 needed"},
	}
	profiles := sim.SyntheticProfiles()
	simFleet, invPath := startSimFleet(t, sim.FleetOptions{Count: len(cases) * len(profiles),
		Mix: []sim.ProfileShare{{Profile: sim.ProfileModern, Weight: 1}, {Profile: sim.ProfileLegacy, Weight: 1}}})
	admin := httptest.NewServer(simFleet.AdminHandler())
	t.Cleanup(admin.Close)
	inv, collectors := collectorsOf(t, invPath)
	byProfile := bmcsByProfile(simFleet)

	j := newRedundancyJudge(t, inv)
	removed := map[string]bool{}
	for _, p := range profiles {
		if len(byProfile[p]) != len(cases) {
			t.Fatalf("%d %s BMCs, want %d", len(byProfile[p]), p, len(cases))
		}
		for i, tc := range cases {
			b := byProfile[p][i]
			if tc.fault == sim.FaultPSURemoved {
				removed[b.Name()] = true
			}
			name := fmt.Sprintf("%s/%s", p, tc.fault)
			t.Run(name, func(t *testing.T) {
				if st := j.poll(t, b.Name(), collectors[b.Name()]); st.Redundancy != power.RedundancyRedundant {
					t.Fatalf("%s before the fault: %+v, want redundant", b.Name(), st)
				}
				body := fmt.Sprintf(`{"fault": %q}`, tc.fault)
				if tc.target != "" {
					body = fmt.Sprintf(`{"fault": %q, "target": %q}`, tc.fault, tc.target)
				}
				adminFault(t, admin.URL, b.Name(), body)
				var st power.PSUStatus
				for range 2 { // two polls, an interval apart: time for an alert to fire
					st = j.poll(t, b.Name(), collectors[b.Name()])
				}
				t.Logf("%s: %s (%d present, %d working): %s", b.Name(), st.Redundancy, st.Present, st.Working, st.Reason)
				if st.Redundancy != tc.want || st.Present != tc.present || st.Working != tc.worker || !strings.Contains(st.Reason, tc.reason) {
					t.Errorf("%s with %s: %+v; want %s, %d present, %d working, a reason saying %q",
						b.Name(), tc.fault, st, tc.want, tc.present, tc.worker, tc.reason)
				}
				snap := j.snapshot(b.Name())
				if tc.fault == sim.FaultPSUHotSpare && !hasSupplyState(snap, "StandbySpare") {
					t.Errorf("%s: the collector read no StandbySpare supply: %+v", b.Name(), snap.PSUs)
				}
				if tc.fault == sim.FaultPSURemoved && !hasSupplyState(snap, "Absent") {
					t.Errorf("%s: the collector read no Absent bay: %+v", b.Name(), snap.PSUs)
				}
				checkRedundancyAlert(t, j, b.Name(), snap, st)
				wantState := ""
				if tc.want == power.RedundancyLost {
					wantState = alert.StateFiring.String()
				}
				if got := lostState(j, b.Name()); got != wantState {
					t.Errorf("%s with %s: PSURedundancyLost %q, want %q", b.Name(), tc.fault, got, wantState)
				}

				// The fault ends (the supply is back, the configuration
				// restored): redundant again, and the alert resolves.
				adminClear(t, admin.URL, b.Name(), tc.fault)
				st = j.poll(t, b.Name(), collectors[b.Name()])
				if st.Redundancy != power.RedundancyRedundant || st.Present != 2 || st.Working != 2 {
					t.Errorf("%s after clearing %s: %+v; want redundant, 2 of 2 working", b.Name(), tc.fault, st)
				}
				if got := lostState(j, b.Name()); got != "" && got != alert.StateResolved.String() {
					t.Errorf("%s after clearing %s: PSURedundancyLost %s, want it resolved", b.Name(), tc.fault, got)
				}
			})
		}
	}
	// Over every poll of every server, only the removed supplies raised
	// PSURedundancyLost.
	for _, a := range j.engine.Alerts() {
		if a.Name == "PSURedundancyLost" && !removed[a.Labels["server"]] {
			t.Errorf("PSURedundancyLost raised for %s, which had no supply removed: %s", a.Labels["server"], a.Annotations.Summary)
		}
	}
	if len(removed) != len(profiles) {
		t.Errorf("a supply was removed from %d servers, want one per profile", len(removed))
	}
}

func hasSupplyState(s *bmc.Snapshot, state string) bool {
	for _, p := range s.PSUs {
		if p.State == state {
			return true
		}
	}
	return false
}
