package main

import (
	"context"
	"encoding/pem"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rackpulse/rackpulse/alert"
	"github.com/rackpulse/rackpulse/bmc"
	"github.com/rackpulse/rackpulse/bmc/sim"
	"github.com/rackpulse/rackpulse/fleet"
	"github.com/rackpulse/rackpulse/inventory"
	"github.com/rackpulse/rackpulse/power"
	"github.com/rackpulse/rackpulse/rollup"
)

// redundancyJudge does with each poll of a server what serve does for PSU
// redundancy: the rollup's server state judges its power and PSU
// redundancy, and the alert engine evaluates its rules on the poll.
type redundancyJudge struct {
	inv    *inventory.Inventory
	engine *alert.Engine
	states map[string]*rollup.ServerState
	// start is when the first poll of each server is taken to end; each
	// server's next poll ends one interval after its last.
	start, latest time.Time
}

func newRedundancyJudge(t *testing.T, inv *inventory.Inventory) *redundancyJudge {
	t.Helper()
	e := alert.New(alert.Options{})
	e.SetInventory(inv, nil, 30*time.Second)
	now := time.Now()
	return &redundancyJudge{inv: inv, engine: e, states: map[string]*rollup.ServerState{}, start: now, latest: now}
}

// poll polls a server once through its collector and hands the result on;
// it returns the server's PSU redundancy after the poll.
func (j *redundancyJudge) poll(t *testing.T, server string, c bmc.Collector) power.PSUStatus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	snap, err := c.Poll(ctx)
	if err != nil {
		t.Fatalf("%s: poll: %v", server, err)
	}
	srv, ok := j.inv.Server(server)
	if !ok {
		t.Fatalf("no server %s in the inventory", server)
	}
	st := j.states[server]
	at := j.start
	if st == nil {
		st = &rollup.ServerState{Server: server}
		j.states[server] = st
	} else {
		at = st.LastAttempt.Add(30 * time.Second)
	}
	if at.After(j.latest) {
		j.latest = at
	}
	st.Observe(at, snap, nil)
	j.engine.ObservePoll(&fleet.Poll{Site: j.inv.Site, Server: srv, At: at, Interval: 30 * time.Second, Snapshot: snap, State: *st})
	return st.PSU
}

// alerts lists the named alerts of a server, pending or firing.
func (j *redundancyJudge) alerts(server, name string) []alert.Alert {
	var out []alert.Alert
	for _, a := range j.engine.Alerts() {
		if a.Name == name && a.Labels["server"] == server && a.State != alert.StateResolved {
			out = append(out, a)
		}
	}
	return out
}

// snapshot is the server's last good snapshot.
func (j *redundancyJudge) snapshot(server string) *bmc.Snapshot { return j.states[server].Snapshot }

// TestPSURedundancyOverSimulatorProfiles: make run's healthy fleet (40
// BMCs, modern=40,legacy=30,ipmi=30) is redundant on every server of every
// profile, poll after poll, rolls up to no server lost, degraded or
// without redundancy, and never raises PSURedundancyLost (issue 10: 12 of
// 40 read lost); a supply losing its input takes redundancy away and
// raises it, on every profile.
func TestPSURedundancyOverSimulatorProfiles(t *testing.T) {
	profiles := append(sim.SyntheticProfiles(), sim.ProfileIPMI)
	mix, err := sim.ParseMix("modern=40,legacy=30,ipmi=30")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range profiles {
		if !slices.ContainsFunc(mix, func(s sim.ProfileShare) bool { return s.Profile == p }) {
			t.Fatalf("the mix %v leaves out profile %s", mix, p)
		}
	}
	simFleet, invPath := startSimFleet(t, sim.FleetOptions{Count: 40, Mix: mix})
	inv, collectors := collectorsOf(t, invPath)
	byProfile := bmcsByProfile(simFleet)
	for _, p := range profiles {
		if len(byProfile[p]) == 0 {
			t.Fatalf("the fleet has no %s BMC: %v", p, byProfile)
		}
	}

	j := newRedundancyJudge(t, inv)
	for round := range 3 {
		for _, b := range simFleet.BMCs() {
			st := j.poll(t, b.Name(), collectors[b.Name()])
			if st.Redundancy != power.RedundancyRedundant || st.Present != 2 || st.Working != 2 {
				t.Errorf("poll %d of healthy %s (%s): %+v; want redundant, 2 of 2 supplies working", round+1, b.Name(), b.Info().Profile, st)
			}
			if a := j.alerts(b.Name(), "PSURedundancyLost"); len(a) != 0 {
				t.Errorf("healthy %s (%s) raised PSURedundancyLost: %s", b.Name(), b.Info().Profile, a[0].Annotations.Summary)
			}
		}
	}
	states := map[string]rollup.ServerState{}
	for name, st := range j.states {
		states[name] = *st
	}
	res := rollup.NewEngine(inv, rollup.Options{Interval: 30 * time.Second}).Compute(j.latest, states)
	if s := res.Site; s.Servers != 40 || s.NotLive != 0 || s.RedundancyLost+s.RedundancyDegraded+s.RedundancyNotRedundant != 0 {
		t.Errorf("site rollup of the healthy fleet: %d servers, %d not live, PSU redundancy lost %d, degraded %d, not_redundant %d; want 40 live, none",
			s.Servers, s.NotLive, s.RedundancyLost, s.RedundancyDegraded, s.RedundancyNotRedundant)
	}
	if t.Failed() {
		return
	}

	// The same judge sees a real loss on each profile.
	for _, p := range profiles {
		b := byProfile[p][0]
		if err := b.Inject(sim.FaultSpec{Fault: sim.FaultPSUInputLoss, Every: time.Second}); err != nil {
			t.Fatalf("%s: inject %s: %v", b.Name(), sim.FaultPSUInputLoss, err)
		}
		var st power.PSUStatus
		waitFor(t, 60*time.Second, func() bool {
			st = j.poll(t, b.Name(), collectors[b.Name()])
			return st.Redundancy != power.RedundancyRedundant
		})
		if st.Redundancy != power.RedundancyLost || st.Working != 1 {
			t.Errorf("%s (%s) with a supply's input lost: %+v; want lost, 1 working", b.Name(), p, st)
		}
		if len(j.alerts(b.Name(), "PSURedundancyLost")) != 1 {
			t.Errorf("%s (%s) lost redundancy (%s) without PSURedundancyLost", b.Name(), p, st.Reason)
		}
	}
}

// fixtureVerdicts are the PSU redundancy verdicts of the fixture trees
// whose supplies decode, and why.
var fixtureVerdicts = map[string]power.Redundancy{
	// Two enclosure supplies, N+m, MinNumNeeded 1, both OK.
	"public-bladed": power.RedundancyRedundant,
	// One supply (health Warning) in a 1U: a configuration.
	"public-localstorage": power.RedundancyNotRedundant,
	// Bay 1 predicts its failure, bay 2 is empty; the group (MinNeededInGroup
	// 1) is UnavailableOffline: one supply, no failure taking anything away.
	"public-rackmount1": power.RedundancyNotRedundant,
	// Bay 2 of each chassis is Disabled with health Warning, the groups
	// Offline: a failure that took redundancy away (PSUFailed fires too).
	"public-telemetry": power.RedundancyLost,
	// Two supplies, one Warning: redundancy holds.
	"public-tower": power.RedundancyDegraded,
	// Four enclosure supplies, Enabled.
	"CMM": power.RedundancyRedundant,
	// HPE iLO: four supplies Enabled and OK, two bays empty.
	"XL675d_A100": power.RedundancyRedundant,
	// Two supplies Enabled and OK; the BMC's N+m group is Disabled:
	// redundancy switched off.
	"Intel": power.RedundancyNotRedundant,
}

// fixturesWithPSUs are the trees whose supplies the collector decodes
// today; the others are checked once they decode.
var fixturesWithPSUs = []string{"public-bladed", "public-localstorage", "public-rackmount1", "public-telemetry", "public-tower", "CMM", "XL675d_A100"}

// TestPSURedundancyOverFixtureTrees polls every Redfish fixture tree (the
// DMTF mockups and the vendor captures) and checks the verdict where it is
// known, and on every tree that PSURedundancyLost fires exactly when the
// verdict is lost, only where a supply failed, and never on a tree whose
// supplies and groups are healthy.
func TestPSURedundancyOverFixtureTrees(t *testing.T) {
	base := filepath.Dir(fixturesDir(t))
	var trees []string // "redfish/public-bladed"
	for _, set := range []string{"redfish", "redfish-vendor"} {
		entries, err := os.ReadDir(filepath.Join(base, set))
		if err != nil {
			if set == "redfish-vendor" && os.IsNotExist(err) && os.Getenv("RACKPULSE_REQUIRE_INTEGRATION") != "1" {
				t.Logf("no vendor fixtures at %s", filepath.Join(base, set))
				continue
			}
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.IsDir() {
				trees = append(trees, set+"/"+e.Name())
			}
		}
	}
	inv := fixtureInventory(trees)
	j := newRedundancyJudge(t, inv)
	var noPSUs []string
	judged := 0
	for _, tree := range trees {
		name := filepath.Base(tree)
		t.Run(name, func(t *testing.T) {
			mockup, err := sim.LoadMockup(filepath.Join(base, tree))
			if err != nil {
				t.Fatal(err)
			}
			c := treeCollector(t, name, mockup)
			var st power.PSUStatus
			for range 2 {
				st = j.poll(t, name, c)
			}
			snap := j.snapshot(name)
			t.Logf("%s: %s (%d present, %d working): %s", tree, st.Redundancy, st.Present, st.Working, st.Reason)
			if st.Present == 0 {
				if slices.Contains(fixturesWithPSUs, name) {
					t.Errorf("no PSU data read (%s); its supplies decoded before", st.Reason)
				}
				noPSUs = append(noPSUs, tree)
				return
			}
			if want, ok := fixtureVerdicts[name]; ok && st.Redundancy != want {
				t.Errorf("verdict %s (%s), want %s", st.Redundancy, st.Reason, want)
			}
			judged++
			checkRedundancyAlert(t, j, name, snap, st)
		})
	}
	if len(noPSUs) > 0 {
		t.Logf("trees without PSU data: %s", strings.Join(noPSUs, ", "))
	}
	if judged == 0 {
		t.Fatal("no fixture tree gave PSU data: nothing was judged")
	}
}

// checkRedundancyAlert checks PSURedundancyLost against a server's verdict
// and supplies: it fires exactly on lost, lost comes with a failed supply
// (PSUFailed fires for it) or the BMC's group saying so, and a server
// whose supplies and groups are all healthy is never lost.
func checkRedundancyAlert(t *testing.T, j *redundancyJudge, server string, snap *bmc.Snapshot, st power.PSUStatus) {
	t.Helper()
	lostAlerts := j.alerts(server, "PSURedundancyLost")
	if fires := len(lostAlerts) > 0; fires != (st.Redundancy == power.RedundancyLost) {
		t.Errorf("verdict %s (%s) but PSURedundancyLost raised: %v", st.Redundancy, st.Reason, fires)
	}
	failed := slices.ContainsFunc(snap.PSUs, func(p bmc.PSU) bool { return power.Present(&p) && !power.Working(&p) })
	groupWarns := slices.ContainsFunc(snap.RedundancyGroups, func(g bmc.RedundancyGroup) bool {
		return g.Health == bmc.HealthWarning || g.Health == bmc.HealthCritical
	})
	if !failed && !groupWarns && st.Redundancy == power.RedundancyLost {
		t.Errorf("healthy supplies and groups judged lost: %s", st.Reason)
	}
	if st.Redundancy == power.RedundancyLost && failed && len(j.alerts(server, "PSUFailed")) == 0 {
		t.Errorf("lost (%s) but no PSUFailed names the failed supply", st.Reason)
	}
}

// fixtureInventory is an inventory with one server per tree, named after
// the tree, in one rack.
func fixtureInventory(trees []string) *inventory.Inventory {
	rack := inventory.Rack{Name: "fixtures", Room: "lab", Row: "bench"}
	for i, tree := range trees {
		rack.Servers = append(rack.Servers, inventory.Server{Name: filepath.Base(tree), Position: i + 1, Height: 1, Room: "lab", Row: "bench", Rack: "fixtures"})
	}
	return &inventory.Inventory{Site: "fixtures", Rooms: []inventory.Room{{Name: "lab", Rows: []inventory.Row{{Name: "bench", Racks: []inventory.Rack{rack}}}}}}
}

// treeCollector serves a Redfish tree over TLS as a simulated BMC and
// returns a Redfish collector for it.
func treeCollector(t *testing.T, server string, tree *sim.Tree) bmc.Collector {
	t.Helper()
	b := sim.NewRedfishBMC(tree, sim.RedfishOptions{Username: testUser, Password: testPassword})
	srv := httptest.NewTLSServer(b)
	t.Cleanup(srv.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	ep := bmc.Endpoint{Server: server, Rack: "fixtures", Protocol: bmc.ProtocolRedfish, Address: srv.Listener.Addr().String(),
		Username: testUser, Password: bmc.Secret(testPassword), TLS: bmc.TLSConfig{CAFile: ca}}.WithDefaults()
	c, err := newCollector(ep, bmc.CollectorOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

// iloTree is a Redfish tree shaped like an HPE iLO 5 rack server's
// (ProLiant DL380 Gen10 class) as far as power goes: the legacy Power
// resource of chassis 1 with two 800 W supplies (MemberId 0 and 1,
// Oem.Hpe.BayNumber 1 and 2) and its "PowerSupply Redundancy Group 1":
// Mode Failover, MinNumNeeded 2, MaxNumSupported 2, RedundancySet both
// supplies. psu2 changes the second supply's entry.
func iloTree(t *testing.T, groupHealth string, psu2 func(map[string]any)) *sim.Tree {
	t.Helper()
	const chassis = "/redfish/v1/Chassis/1/"
	supply := func(member int) map[string]any {
		id := []string{"0", "1"}[member]
		return map[string]any{
			"@odata.id": chassis + "Power/#PowerSupplies/" + id, "MemberId": id,
			"FirmwareVersion": "1.00", "LastPowerOutputWatts": 148, "LineInputVoltage": 206, "LineInputVoltageType": "ACHighLine",
			"Manufacturer": "CHCNY", "Model": "865414-B21", "Name": "HpeServerPowerSupply", "PowerCapacityWatts": 800,
			"PowerSupplyType": "AC", "SerialNumber": "5WBXK0FLLB" + id, "SparePartNumber": "866729-001",
			"Status": map[string]any{"Health": "OK", "State": "Enabled"},
			"Oem": map[string]any{"Hpe": map[string]any{
				"@odata.type": "#HpeServerPowerSupply.v2_0_0.HpeServerPowerSupply", "AveragePowerOutputWatts": 148,
				"BayNumber": member + 1, "HotplugCapable": true, "MaxPowerOutputWatts": 171, "Mismatched": false,
				"PowerSupplyStatus": map[string]any{"State": "Ok"}, "iPDUCapable": false,
			}},
		}
	}
	second := supply(1)
	if psu2 != nil {
		psu2(second)
	}
	resources := map[string]any{
		"/redfish/v1/": map[string]any{
			"@odata.id": "/redfish/v1/", "@odata.type": "#ServiceRoot.v1_5_1.ServiceRoot", "Id": "RootService",
			"Name": "HPE RESTful Root Service", "RedfishVersion": "1.6.0", "Chassis": map[string]any{"@odata.id": "/redfish/v1/Chassis/"},
		},
		"/redfish/v1/Chassis/": map[string]any{
			"@odata.id": "/redfish/v1/Chassis/", "@odata.type": "#ChassisCollection.ChassisCollection", "Name": "Computer System Chassis",
			"Members": []any{map[string]any{"@odata.id": chassis}}, "Members@odata.count": 1,
		},
		chassis: map[string]any{
			"@odata.id": chassis, "@odata.type": "#Chassis.v1_10_0.Chassis", "Id": "1", "ChassisType": "RackMount",
			"Manufacturer": "HPE", "Model": "ProLiant DL380 Gen10", "Name": "Computer System Chassis", "PowerState": "On",
			"Power": map[string]any{"@odata.id": chassis + "Power/"}, "Status": map[string]any{"Health": "OK", "State": "Enabled"},
		},
		chassis + "Power/": map[string]any{
			"@odata.id": chassis + "Power/", "@odata.type": "#Power.v1_3_0.Power", "Id": "Power", "Name": "PowerMetrics",
			"PowerControl": []any{map[string]any{
				"@odata.id": chassis + "Power/#PowerControl/0", "MemberId": "0", "PowerCapacityWatts": 1600, "PowerConsumedWatts": 296,
				"PowerMetrics": map[string]any{"AverageConsumedWatts": 295, "IntervalInMin": 20, "MaxConsumedWatts": 342, "MinConsumedWatts": 291},
			}},
			"PowerSupplies": []any{supply(0), second},
			"Redundancy": []any{map[string]any{
				"@odata.id": chassis + "Power/#Redundancy/0", "MemberId": "0", "Name": "PowerSupply Redundancy Group 1",
				"Mode": "Failover", "MaxNumSupported": 2, "MinNumNeeded": 2,
				"RedundancySet": []any{map[string]any{"@odata.id": chassis + "Power/#PowerSupplies/0"}, map[string]any{"@odata.id": chassis + "Power/#PowerSupplies/1"}},
				"Status":        map[string]any{"Health": groupHealth, "State": "Enabled"},
			}},
		},
	}
	tree := sim.NewTree()
	for uri, obj := range resources {
		if err := tree.Set(uri, obj); err != nil {
			t.Fatal(err)
		}
	}
	return tree
}

// An HPE iLO 1+1 pair publishing MinNumNeeded 2 (issue 10: "2 of 2 members
// working, 2 needed" read as lost): redundant through the real collector,
// no alert; lost, with PSURedundancyLost, once a supply fails.
func TestPSURedundancyILOFailoverPair(t *testing.T) {
	cases := []struct {
		name        string
		groupHealth string
		psu2        func(map[string]any)
		want        power.Redundancy
		wantWorking int
	}{
		{"two healthy supplies", "OK", nil, power.RedundancyRedundant, 2},
		{"the second supply failed", "Warning", func(p map[string]any) {
			p["Status"] = map[string]any{"Health": "Critical", "State": "Enabled"}
			p["LastPowerOutputWatts"] = 0
		}, power.RedundancyLost, 1},
	}
	var trees []string
	for _, tc := range cases {
		trees = append(trees, tc.name)
	}
	j := newRedundancyJudge(t, fixtureInventory(trees))
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := treeCollector(t, tc.name, iloTree(t, tc.groupHealth, tc.psu2))
			st := j.poll(t, tc.name, c)
			snap := j.snapshot(tc.name)
			if len(snap.RedundancyGroups) != 1 || snap.RedundancyGroups[0].MinNeeded != 2 || len(snap.RedundancyGroups[0].Bays) != 2 {
				t.Fatalf("the collector read redundancy groups %+v; want one group of two members needing 2", snap.RedundancyGroups)
			}
			if st.Redundancy != tc.want || st.Present != 2 || st.Working != tc.wantWorking {
				t.Errorf("%+v; want %s with 2 present, %d working", st, tc.want, tc.wantWorking)
			}
			checkRedundancyAlert(t, j, tc.name, snap, st)
		})
	}
}

// collectorsOf loads an inventory file and builds a collector for every
// server in it, closed when the test ends.
func collectorsOf(t *testing.T, invPath string) (*inventory.Inventory, map[string]bmc.Collector) {
	t.Helper()
	inv, problems, err := inventory.Load(invPath)
	if err != nil {
		t.Fatalf("%v\n%s", err, problems.Errors())
	}
	eps, err := inv.Endpoints(nil)
	if err != nil {
		t.Fatal(err)
	}
	collectors := map[string]bmc.Collector{}
	for _, ep := range eps {
		c, err := newCollector(ep, bmc.CollectorOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close(context.Background()) })
		collectors[ep.Server] = c
	}
	return inv, collectors
}

// bmcsByProfile groups a simulated fleet's BMCs by profile.
func bmcsByProfile(f *sim.Fleet) map[string][]*sim.SimBMC {
	out := map[string][]*sim.SimBMC{}
	for _, b := range f.BMCs() {
		out[b.Info().Profile] = append(out[b.Info().Profile], b)
	}
	return out
}
