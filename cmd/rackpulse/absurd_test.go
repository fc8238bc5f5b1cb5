package main

import (
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rackpulse/rackpulse/bmc"
	"github.com/rackpulse/rackpulse/bmc/sim"
	"github.com/rackpulse/rackpulse/storage"
	"github.com/rackpulse/rackpulse/storage/influxtest"
)

// rackmount1Watts is what public-rackmount1's PowerControl publishes, the
// power of each of its servers.
const rackmount1Watts = 344

// set stores obj at uri in tree, failing the test on error.
func set(t *testing.T, tree *sim.Tree, uri string, obj map[string]any) {
	t.Helper()
	if err := tree.Set(uri, obj); err != nil {
		t.Fatal(err)
	}
}

// get returns the resource at uri, failing the test when there is none.
func get(t *testing.T, tree *sim.Tree, uri string) map[string]any {
	t.Helper()
	obj, ok := tree.Get(uri)
	if !ok {
		t.Fatalf("no resource %s in the tree", uri)
	}
	return obj
}

// publishWatts makes a public-rackmount1 tree publish perSupply watts on
// each of two supplies (the absent second bay made present, neither with a
// rating, so that no vendor quirk guard sees them first) and total as the
// chassis's power wherever the tree publishes one.
func publishWatts(t *testing.T, tree *sim.Tree, perSupply, total float64) {
	t.Helper()
	const psus = "/redfish/v1/Chassis/1U/PowerSubsystem/PowerSupplies/"
	bay1 := get(t, tree, psus+"Bay1")
	for _, bay := range []string{"Bay1", "Bay2"} {
		psu := get(t, tree, psus+"Bay1")
		delete(psu, "PowerCapacityWatts")
		delete(psu, "InputRanges")
		delete(psu, "Assembly")
		psu["Id"], psu["@odata.id"] = bay, psus+bay
		psu["Metrics"] = map[string]any{"@odata.id": psus + bay + "/Metrics"}
		if bay == "Bay2" {
			psu["Name"], psu["SerialNumber"] = "Power Supply Bay 2", "3488248"
			psu["Status"] = map[string]any{"State": "Enabled", "Health": "OK"}
			psu["Location"] = map[string]any{"PartLocation": map[string]any{"ServiceLabel": "PSU 2", "LocationType": "Bay", "LocationOrdinalValue": 1}}
		}
		set(t, tree, psus+bay, psu)
		metrics := get(t, tree, psus+"Bay1/Metrics")
		metrics["@odata.id"] = psus + bay + "/Metrics"
		metrics["InputPowerWatts"] = map[string]any{"Reading": perSupply}
		metrics["OutputPowerWatts"] = map[string]any{"Reading": perSupply}
		set(t, tree, psus+bay+"/Metrics", metrics)
	}
	_ = bay1

	power := get(t, tree, "/redfish/v1/Chassis/1U/Power")
	controls := power["PowerControl"].([]any)
	controls[0].(map[string]any)["PowerConsumedWatts"] = total
	set(t, tree, "/redfish/v1/Chassis/1U/Power", power)
	env := get(t, tree, "/redfish/v1/Chassis/1U/EnvironmentMetrics")
	env["PowerWatts"].(map[string]any)["Reading"] = total
	set(t, tree, "/redfish/v1/Chassis/1U/EnvironmentMetrics", env)
	sensor := get(t, tree, "/redfish/v1/Chassis/1U/Sensors/TotalPower")
	sensor["Reading"] = total
	set(t, tree, "/redfish/v1/Chassis/1U/Sensors/TotalPower", sensor)
}

// freezeCPU makes the tree's CPU 1 temperature sensor read celsius, the
// BMC calling it OK.
func freezeCPU(t *testing.T, tree *sim.Tree, celsius float64) {
	t.Helper()
	const uri = "/redfish/v1/Chassis/1U/Sensors/CPU1Temp"
	s := get(t, tree, uri)
	s["Reading"] = celsius
	s["Status"] = map[string]any{"State": "Enabled", "Health": "OK"}
	set(t, tree, uri, s)
}

// absurdBMC serves a public-rackmount1 tree, changed by change, as a BMC
// over TLS with the fleet's credentials, and returns its URL.
func absurdBMC(t *testing.T, password string, change func(*sim.Tree)) string {
	t.Helper()
	tree, err := sim.LoadMockup(filepath.Join(fixturesDir(t), "public-rackmount1"))
	if err != nil {
		t.Fatal(err)
	}
	change(tree)
	srv := httptest.NewTLSServer(sim.NewRedfishBMC(tree, sim.RedfishOptions{Username: "admin", Password: password}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// httptestCA writes the certificate every httptest TLS server presents.
func httptestCA(t *testing.T) string {
	t.Helper()
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "httptest-ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return ca
}

// absurdRack is the inventory file of rack-bad, beside the simulated
// fleet's rack-01 in row-1: its BMCs are the test's own.
const absurdRack = `site: sim
credentials:
  absurd:
    username: admin
    password_env: %s
    ca_file: %s
rooms:
  - name: room-1
    rows:
      - name: row-1
        racks:
          - name: rack-bad
            power_budget_watts: 5000
            feeds:
              A: {capacity_watts: 5000}
              B: {capacity_watts: 5000}
            servers:
%s`

// getJSON answers a GET with its status and decodes a 200's body into v.
func getJSON(t *testing.T, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(body, v); err != nil {
			t.Fatalf("GET %s: 200 with a body that is not JSON (%v): %q", url, err, body)
		}
	}
	return resp.StatusCode
}

type rollupAnswer struct {
	Site  rollupNode   `json:"site"`
	Rows  []rollupNode `json:"rows"`
	Racks []rollupNode `json:"racks"`
	// Servers are each server's numbers.
	Servers []struct {
		Name          string  `json:"name"`
		Watts         float64 `json:"watts"`
		PowerKnown    bool    `json:"power_known"`
		PowerSetAside string  `json:"power_set_aside"`
	} `json:"servers"`
}

type rollupNode struct {
	Name      string  `json:"name"`
	Watts     float64 `json:"watts"`
	Reporting int     `json:"reporting"`
	NoReading int     `json:"no_reading"`
}

func (a rollupAnswer) rack(name string) rollupNode {
	for _, r := range a.Racks {
		if r.Name == name {
			return r
		}
	}
	return rollupNode{}
}

// Servers publishing absurd watts (8e307 W per supply, 1e308 W) and a
// -300 °C CPU, polled through the Redfish collector beside a healthy
// rack: the API answers 200 with the healthy rack's (and the healthy
// server's) numbers and the absurd readings set aside with reasons, probe
// --json prints them, and InfluxDB stores the healthy values and no
// absurd one (and no point without its watts).
func TestAbsurdReadingsReachNoRollupAnswerOrPoint(t *testing.T) {
	d := influxtest.Start(t)
	db := d.CreateDB(t)
	_, fleetInv := startSimFleet(t, sim.FleetOptions{Count: 3, MockupDir: filepath.Join(fixturesDir(t), "public-rackmount1")})
	password := os.Getenv(sim.PasswordEnv)

	bad := map[string]string{
		"bad-u01": absurdBMC(t, password, func(tr *sim.Tree) { publishWatts(t, tr, 8e307, 1.6e308) }),
		"bad-u02": absurdBMC(t, password, func(tr *sim.Tree) { publishWatts(t, tr, 8e307, 1.6e308) }),
		"bad-u03": absurdBMC(t, password, func(tr *sim.Tree) { publishWatts(t, tr, 1e308, 1e308) }),
		"bad-u04": absurdBMC(t, password, func(tr *sim.Tree) { freezeCPU(t, tr, -300) }),
	}
	var servers strings.Builder
	for i, name := range []string{"bad-u01", "bad-u02", "bad-u03", "bad-u04"} {
		fmt.Fprintf(&servers, "              - {name: %s, position: %d, bmc: {address: %q, credentials: absurd}}\n", name, i+1, bad[name])
	}
	invDir := t.TempDir()
	raw, err := os.ReadFile(fleetInv)
	if err != nil {
		t.Fatal(err)
	}
	ca := httptestCA(t)
	writeFile(t, filepath.Join(invDir, "00-fleet.yaml"), string(raw))
	writeFile(t, filepath.Join(invDir, "10-rack-bad.yaml"), fmt.Sprintf(absurdRack, sim.PasswordEnv, ca, servers.String()))

	serve := startServing(t, serveConfig{inventoryPath: invDir, stateDir: t.TempDir(),
		storage: storage.Config{URL: d.URL(), Bucket: db, SpoolDir: t.TempDir(), FlushInterval: 200 * time.Millisecond}})

	// /api/rollup: 200, both racks; the healthy ones summed, the absurd
	// ones live without a reading.
	var roll rollupAnswer
	var lastStatus int
	deadline := time.Now().Add(90 * time.Second)
	for {
		roll = rollupAnswer{}
		lastStatus = getJSON(t, serve.base+"/api/rollup", &roll)
		if lastStatus == http.StatusOK && roll.rack("rack-01").Reporting == 3 && roll.rack("rack-bad").Reporting == 1 && roll.rack("rack-bad").NoReading == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/api/rollup: status %d, racks %+v; want 200 with rack-01's 3 servers and rack-bad's bad-u04 reporting, its 3 absurd servers without a reading", lastStatus, roll.Racks)
		}
		time.Sleep(200 * time.Millisecond)
	}
	const healthy = 3 * rackmount1Watts
	if r := roll.rack("rack-01"); r.Watts != healthy {
		t.Errorf("rack-01 %g W; want %d (3 × %d W)", r.Watts, healthy, rackmount1Watts)
	}
	if r := roll.rack("rack-bad"); r.Watts != rackmount1Watts {
		t.Errorf("rack-bad %g W; want bad-u04's %d W, the absurd servers set aside", r.Watts, rackmount1Watts)
	}
	if len(roll.Rows) != 1 || roll.Rows[0].Watts != healthy+rackmount1Watts || roll.Site.Watts != healthy+rackmount1Watts {
		t.Errorf("rows %+v, site %+v; want %d W", roll.Rows, roll.Site, healthy+rackmount1Watts)
	}
	for _, s := range roll.Servers {
		switch s.Name {
		case "bad-u01", "bad-u02", "bad-u03":
			if s.PowerKnown || !strings.Contains(s.PowerSetAside, "not a reading") {
				t.Errorf("%s: power known %t, set aside %q; want its readings set aside with the reasons", s.Name, s.PowerKnown, s.PowerSetAside)
			}
		default:
			if !s.PowerKnown || s.Watts != rackmount1Watts || s.PowerSetAside != "" {
				t.Errorf("%s: %+v; want %d W", s.Name, s, rackmount1Watts)
			}
		}
	}
	if !strings.Contains(roll.serverSetAside("bad-u01"), "1.6e+308 W above the plausible maximum 250000 W") {
		t.Errorf("bad-u01 set aside for %q; want its 1.6e308 W named", roll.serverSetAside("bad-u01"))
	}

	// /api/power: 200, both racks, rack-bad naming the servers set aside.
	var racks []struct {
		Rack  string `json:"rack"`
		Feeds struct {
			Feeds []struct {
				Name  string  `json:"name"`
				Watts float64 `json:"watts"`
			} `json:"feeds"`
			Servers  int `json:"servers"`
			SetAside []struct {
				Server, Reason string
			} `json:"set_aside"`
		} `json:"feeds"`
	}
	if st := getJSON(t, serve.base+"/api/power", &racks); st != http.StatusOK || len(racks) != 2 {
		t.Fatalf("/api/power: %d, %+v; want 200 with both racks", st, racks)
	}
	for _, r := range racks {
		switch r.Rack {
		case "rack-01":
			var sum float64
			for _, f := range r.Feeds.Feeds {
				sum += f.Watts
			}
			if r.Feeds.Servers != 3 || sum < healthy-1 || sum > healthy+1 || len(r.Feeds.SetAside) != 0 {
				t.Errorf("rack-01 feeds %+v; want its 3 servers' %d W", r.Feeds, healthy)
			}
		case "rack-bad":
			if r.Feeds.Servers != 1 || len(r.Feeds.SetAside) != 3 {
				t.Errorf("rack-bad feeds %+v; want bad-u04 summed, the 3 absurd servers set aside", r.Feeds)
			}
			for _, a := range r.Feeds.SetAside {
				if !strings.Contains(a.Reason, "no usable power reading") {
					t.Errorf("%s set aside for %q", a.Server, a.Reason)
				}
			}
		}
	}

	// /api/servers?server=: 200, the Snapshot with the absurd values set
	// aside and the reasons.
	var snap bmc.Snapshot
	if st := getJSON(t, serve.base+"/api/servers?server=bad-u03", &snap); st != http.StatusOK {
		t.Fatalf("/api/servers?server=bad-u03: %d; want 200", st)
	}
	checkAbsurdPowerSetAside(t, "serve: bad-u03", &snap, "1e+308 W above the plausible maximum")
	snap = bmc.Snapshot{}
	if st := getJSON(t, serve.base+"/api/servers?server=bad-u01", &snap); st != http.StatusOK {
		t.Fatalf("/api/servers?server=bad-u01: %d; want 200", st)
	}
	checkAbsurdPowerSetAside(t, "serve: bad-u01", &snap, "8e+307 W above the plausible maximum 50000 W")
	snap = bmc.Snapshot{}
	if st := getJSON(t, serve.base+"/api/servers?server=bad-u04", &snap); st != http.StatusOK {
		t.Fatalf("/api/servers?server=bad-u04: %d; want 200", st)
	}
	checkFrozenCPU(t, "serve: bad-u04", &snap)

	// probe --json prints the same, with the reasons.
	for _, tc := range []struct{ server, want string }{{"bad-u03", "1e+308 W above the plausible maximum"}, {"bad-u04", ""}} {
		stdout, stderr, err := probeArgs(t, tc.server, "--inventory", invDir, "--json")
		var exit *exitError
		if err != nil && !(errors.As(err, &exit) && exit.code == 2) {
			t.Fatalf("probe --json %s: %v\nstderr: %s", tc.server, err, stderr)
		}
		var probed bmc.Snapshot
		if err := json.Unmarshal([]byte(stdout), &probed); err != nil {
			t.Fatalf("probe --json %s printed no Snapshot: %v\n%s", tc.server, err, stdout)
		}
		if tc.want != "" {
			checkAbsurdPowerSetAside(t, "probe: "+tc.server, &probed, tc.want)
			var chosen struct {
				Power probePower `json:"power"`
			}
			_ = json.Unmarshal([]byte(stdout), &chosen)
			if chosen.Power.Watts != nil || len(chosen.Power.Suspect) == 0 || !strings.Contains(stdout, "not a reading") {
				t.Errorf("probe %s power %+v; want none chosen, the readings set aside with their reasons", tc.server, chosen.Power)
			}
		} else {
			checkFrozenCPU(t, "probe: "+tc.server, &probed)
		}
	}
	stdout, _, _ := probeArgs(t, "bad-u04", "--inventory", invDir)
	if !strings.Contains(stdout, "SET ASIDE") || !strings.Contains(stdout, "value -300 Cel below the plausible minimum -200 Cel") {
		t.Errorf("probe's table shows no SET ASIDE section with the -300 °C reading:\n%s", stdout)
	}

	// InfluxDB: the healthy values, and no point without its watts.
	influxValue := func(q string) []any {
		r := d.Query(t, db, q)
		if len(r.Results) == 0 || len(r.Results[0].Series) == 0 {
			return nil
		}
		return r.Results[0].Series[0].Values[0]
	}
	waitFor(t, 60*time.Second, func() bool {
		row := influxValue(`SELECT last("watts") FROM rollup WHERE "level" = 'rack' AND "rack" = 'rack-01'`)
		return row != nil && row[1] == float64(healthy)
	})
	for _, level := range []string{"rack", "row", "room", "site"} {
		row := influxValue(fmt.Sprintf(`SELECT count("watts"), count("servers_total") FROM rollup WHERE "level" = '%s'`, level))
		if row == nil || row[1] != row[2] {
			t.Errorf("%s rollup points: %v watts of %v points; want every point with its watts, never null", level, row[1:], row)
		}
	}
	if row := influxValue(`SELECT last("watts") FROM rollup WHERE "level" = 'site'`); row == nil || row[1] != float64(healthy+rackmount1Watts) {
		t.Errorf("site watts stored %v; want %d", row, healthy+rackmount1Watts)
	}
	for _, server := range []string{"bad-u01", "bad-u02", "bad-u03"} {
		if row := influxValue(fmt.Sprintf(`SELECT count("watts") FROM server_power WHERE "server" = '%s'`, server)); row != nil {
			t.Errorf("%s: server_power watts stored %v; want none", server, row)
		}
		if row := influxValue(fmt.Sprintf(`SELECT count("suspect") FROM server_power WHERE "server" = '%s'`, server)); row == nil {
			t.Errorf("%s: no server_power point; want one without watts", server)
		}
		if row := influxValue(fmt.Sprintf(`SELECT max("input_watts") FROM psu WHERE "server" = '%s'`, server)); row != nil {
			t.Errorf("%s: PSU input stored %v; want none", server, row)
		}
	}
	if row := influxValue(`SELECT count("value") FROM sensor WHERE "server" = 'bad-u04' AND "sensor" = 'CPU #1 Temperature'`); row != nil {
		t.Errorf("bad-u04's -300 °C stored: %v", row)
	}
	if row := influxValue(`SELECT min("value") FROM sensor WHERE "kind" = 'temperature'`); row == nil || row[1].(float64) < bmc.MinCelsius {
		t.Errorf("lowest temperature stored %v; want none below %g °C", row, bmc.MinCelsius)
	}
}

func (a rollupAnswer) serverSetAside(name string) string {
	for _, s := range a.Servers {
		if s.Name == name {
			return s.PowerSetAside
		}
	}
	return ""
}

// checkAbsurdPowerSetAside checks a Snapshot of a server publishing absurd
// watts: no PSU reading left, every power reading suspect, none that is
// not a number, and the quirks saying what was done.
func checkAbsurdPowerSetAside(t *testing.T, where string, s *bmc.Snapshot, psuReason string) {
	t.Helper()
	for _, p := range s.PSUs {
		if p.InputWatts != nil || p.OutputWatts != nil {
			t.Errorf("%s: PSU %s keeps input %v, output %v; want both set aside", where, p.Bay, p.InputWatts, p.OutputWatts)
		}
	}
	if len(s.PSUs) == 0 || !strings.Contains(strings.Join(s.PSUs[0].Suspect, "; "), psuReason) {
		t.Errorf("%s: PSUs %+v; want the reason %q", where, s.PSUs, psuReason)
	}
	if len(s.Power) == 0 {
		t.Errorf("%s: no power readings; want the absurd ones kept beside their reasons", where)
	}
	for _, r := range s.Power {
		if r.Suspect == "" || !bmc.Finite(r.Watts) {
			t.Errorf("%s: power reading %+v; want it suspect, and finite", where, r)
		}
	}
	setAside := 0
	for _, q := range s.Poll.Quirks {
		if strings.HasPrefix(q.Action, "set aside: ") || strings.HasPrefix(q.Action, "left out: not a number") {
			setAside++
		}
	}
	if setAside < 5 {
		t.Errorf("%s: %d quirks for values set aside; want one per value (PSU inputs and outputs, power readings): %+v", where, setAside, s.Poll.Quirks)
	}
}

// checkFrozenCPU checks a Snapshot of the server whose CPU reads -300 °C:
// the value set aside with its reason, not OK.
func checkFrozenCPU(t *testing.T, where string, s *bmc.Snapshot) {
	t.Helper()
	var cpu *bmc.Sensor
	for i := range s.Sensors {
		if s.Sensors[i].Name == "CPU #1 Temperature" {
			cpu = &s.Sensors[i]
		}
	}
	if cpu == nil || cpu.Value != nil || cpu.Health == bmc.HealthOK ||
		!strings.Contains(strings.Join(cpu.Suspect, "; "), "value -300 Cel below the plausible minimum -200 Cel") {
		t.Errorf("%s: CPU #1 Temperature %+v; want no value, not OK, the reason", where, cpu)
	}
	for _, c := range s.CPUs {
		if c.TemperatureC != nil && *c.TemperatureC < bmc.MinCelsius {
			t.Errorf("%s: CPU %s at %g °C", where, c.Socket, *c.TemperatureC)
		}
	}
	found := false
	for _, q := range s.Poll.Quirks {
		found = found || q.Seen == "-300 Cel"
	}
	if !found {
		t.Errorf("%s: no quirk for the -300 °C reading: %+v", where, s.Poll.Quirks)
	}
}
