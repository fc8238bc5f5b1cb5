package sim

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/rackpulse/rackpulse/bmc"
	"github.com/rackpulse/rackpulse/inventory"
)

func TestParseMixAcceptsIPMI(t *testing.T) {
	mix, err := ParseMix("modern=40,legacy=30,ipmi=30")
	if err != nil {
		t.Fatal(err)
	}
	if len(mix) != 3 || mix[2] != (ProfileShare{ProfileIPMI, 30}) {
		t.Errorf("mix %+v", mix)
	}
	if _, err := ParseMix("ipmi=1,redfish=1"); err == nil || !strings.Contains(err.Error(), "ipmi") {
		t.Errorf("unknown profile: %v", err)
	}
}

func TestFleetMixedProfilesWithIPMI(t *testing.T) {
	t.Setenv(PasswordEnv, "pw")
	f := startIPMIFleet(t, FleetOptions{
		Count: 10, PerRack: 5,
		Mix: []ProfileShare{{ProfileModern, 4}, {ProfileLegacy, 3}, {ProfileIPMI, 3}},
	}, nil)
	counts := map[string]int{}
	var redfishPorts, ipmiPorts []int
	for _, b := range f.BMCs() {
		counts[b.profile]++
		if b.profile == ProfileIPMI {
			ipmiPorts = append(ipmiPorts, b.port)
			if b.Protocol() != "ipmi" || b.URL() != "127.0.0.1:"+strconv.Itoa(b.port) || b.Handler() != nil || b.IPMI() == nil {
				t.Errorf("IPMI BMC %s: protocol %s address %s", b.name, b.Protocol(), b.URL())
			}
		} else {
			redfishPorts = append(redfishPorts, b.port)
		}
	}
	if counts[ProfileModern] != 4 || counts[ProfileLegacy] != 3 || counts[ProfileIPMI] != 3 {
		t.Errorf("profiles %v", counts)
	}
	for i, p := range ipmiPorts {
		if p != f.opts.IPMIBasePort+i {
			t.Errorf("IPMI ports %v, want consecutive from %d", ipmiPorts, f.opts.IPMIBasePort)
			break
		}
	}
	for i, p := range redfishPorts {
		if p != f.opts.BasePort+i {
			t.Errorf("Redfish ports %v, want consecutive from %d", redfishPorts, f.opts.BasePort)
			break
		}
	}

	// The written inventory loads, and gives the IPMI servers their
	// protocol, address and credentials.
	inv, problems, err := inventory.Load(f.InventoryFile())
	if err != nil || len(problems) > 0 {
		t.Fatalf("inventory does not load clean: %v\n%v", err, problems)
	}
	eps, err := inv.Endpoints(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(eps) != 10 {
		t.Fatalf("%d endpoints", len(eps))
	}
	for i, ep := range eps {
		b := f.BMCs()[i]
		if ep.Server != b.name || ep.Address != b.URL() || ep.Password.Reveal() != "pw" || ep.Username != "admin" {
			t.Errorf("endpoint %d: %+v, BMC %s at %s", i, ep, b.name, b.URL())
		}
		if b.ipmi != nil {
			if ep.Protocol != bmc.ProtocolIPMI || ep.CredentialsProfile != "sim-ipmi" || ep.CipherSuite != 3 || ep.Privilege != "ADMINISTRATOR" {
				t.Errorf("IPMI endpoint %+v", ep)
			}
		} else if ep.Protocol != bmc.ProtocolRedfish || ep.CredentialsProfile != "sim" || ep.TLS.CAFile != f.CAFile() {
			t.Errorf("Redfish endpoint %+v", ep)
		}
	}

	// Both kinds answer.
	var rf, ip *SimBMC
	for _, b := range f.BMCs() {
		if b.ipmi != nil && ip == nil {
			ip = b
		}
		if b.ipmi == nil && rf == nil {
			rf = b
		}
	}
	c := &redfishClient{t: t, http: tlsClient(t, f.CAFile()), base: rf.URL()}
	if code := c.login("admin", "pw"); code != http.StatusCreated {
		t.Errorf("Redfish login: %d", code)
	}
	if !answers(t, ip) {
		t.Error("IPMI BMC does not answer a presence ping")
	}
	if out := ipmitool(t, ip, "chassis", "status"); !strings.Contains(out, "System Power") {
		t.Errorf("ipmitool against the mixed fleet's IPMI BMC:\n%s", out)
	}
}

func TestAdminAPIOnIPMIBMC(t *testing.T) {
	f, err := NewFleet(FleetOptions{Count: 2, Mix: []ProfileShare{{ProfileIPMI, 1}}})
	if err != nil {
		t.Fatal(err)
	}
	h := f.AdminHandler()
	do := func(method, path, body string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, path, strings.NewReader(body)))
		return rec
	}
	rec := do(http.MethodPost, "/bmcs/rack-01-u02/faults", `{"fault": "dimm-ecc", "target": "DIMM B1"}`)
	if rec.Code != http.StatusCreated {
		t.Fatalf("inject: %d %s", rec.Code, rec.Body)
	}
	var info BMCInfo
	if err := json.Unmarshal(rec.Body.Bytes(), &info); err != nil {
		t.Fatal(err)
	}
	if info.Protocol != "ipmi" || info.Profile != ProfileIPMI || info.Port != DefaultIPMIBasePort+1 || strings.Join(info.Faults, ",") != "dimm-ecc" {
		t.Errorf("info %+v", info)
	}
	if rec := do(http.MethodPost, "/bmcs/rack-01-u02/faults", `{"fault": "timeout"}`); rec.Code != http.StatusCreated {
		t.Errorf("timeout: %d %s", rec.Code, rec.Body)
	}
	if rec := do(http.MethodPost, "/bmcs/rack-01-u02/faults", `{"fault": "malformed-json"}`); rec.Code != http.StatusBadRequest {
		t.Errorf("malformed-json on IPMI: %d %s", rec.Code, rec.Body)
	}
	if rec := do(http.MethodDelete, "/bmcs/rack-01-u02/faults/timeout", ""); rec.Code != http.StatusNoContent {
		t.Errorf("clear timeout: %d %s", rec.Code, rec.Body)
	}
	if rec := do(http.MethodDelete, "/bmcs/rack-01-u02/faults/timeout", ""); rec.Code != http.StatusNotFound {
		t.Errorf("clear timeout twice: %d %s", rec.Code, rec.Body)
	}
	// The SEL holds the DIMM error: drive the handlers as a client would.
	b := f.BMCs()[1].ipmi
	resp, cc := b.getSELEntry([]byte{0, 0, 0, 0, 0, 0xFF})
	if cc != 0 || len(resp) != 18 || resp[2+10] != ipmiSensorMemory || resp[2+11] != 0x51 || resp[2+15] != 0 {
		t.Errorf("SEL entry % x, cc %x", resp, cc)
	}
}

func TestScenarioDataFaultOnIPMIBMC(t *testing.T) {
	events, err := ParseScenario("s.yaml", []byte("- {bmc: rack-01-u01, fault: psu-fail, target: PSU2}\n- {bmc: '1', fault: session-loss}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewFleet(FleetOptions{Count: 2, Mix: []ProfileShare{{ProfileIPMI, 1}}, Scenario: events}); err != nil {
		t.Errorf("scenario on an IPMI fleet: %v", err)
	}
	bad, err := ParseScenario("s.yaml", []byte("- {bmc: rack-01-u02, fault: http-503}\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = NewFleet(FleetOptions{Count: 2, Mix: []ProfileShare{{ProfileIPMI, 1}}, Scenario: bad})
	if err == nil || !strings.Contains(err.Error(), "s.yaml line 1") || !strings.Contains(err.Error(), "speaks IPMI") {
		t.Errorf("http-503 on an IPMI BMC: %v", err)
	}
	if _, err := NewFleet(FleetOptions{Count: 2, Mix: []ProfileShare{{ProfileIPMI, 1}}, Scenario: []ScenarioEvent{{BMC: "*", Fault: FaultSpec{Fault: FaultBusy}}}}); err != nil {
		t.Errorf("http-503 for every BMC: %v", err)
	}
}

// BenchmarkNewFleetIPMI1000 builds a fleet of 1,000 IPMI BMCs: B/op over
// 1,000 is the memory one IPMI BMC costs before it serves.
func BenchmarkNewFleetIPMI1000(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewFleet(FleetOptions{Count: 1000, Mix: []ProfileShare{{ProfileIPMI, 1}}}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestFleetOf1000IPMIBMCs starts 1,000 IPMI BMCs in one process and checks
// that the first, a middle and the last one answer.
func TestFleetOf1000IPMIBMCs(t *testing.T) {
	if testing.Short() {
		t.Skip("binds 1,000 UDP ports")
	}
	f := startIPMIFleet(t, FleetOptions{Count: 1000, Mix: []ProfileShare{{ProfileIPMI, 1}}}, nil)
	bmcs := f.BMCs()
	for _, b := range []*SimBMC{bmcs[0], bmcs[437], bmcs[999]} {
		if !answers(t, b) {
			t.Errorf("%s on port %d does not answer", b.name, b.port)
		}
	}
	if out := ipmitool(t, bmcs[999], "sdr", "list"); !strings.Contains(out, "Total Power") {
		t.Errorf("sdr list of the last BMC:\n%s", out)
	}
}

// An IPMI-only fleet's inventory names only the IPMI credentials: no
// unused profile for validate to warn about.
func TestIPMIOnlyFleetInventoryLoadsClean(t *testing.T) {
	t.Setenv(PasswordEnv, "pw")
	f, err := NewFleet(FleetOptions{Count: 3, Mix: []ProfileShare{{ProfileIPMI, 1}}, OutDir: t.TempDir(), Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	path, err := f.writeInventory(t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	inv, problems, err := inventory.Load(path)
	if err != nil || len(problems) > 0 {
		t.Fatalf("inventory of an IPMI-only fleet: %v\n%v", err, problems)
	}
	if _, ok := inv.Credentials["sim"]; ok {
		t.Error("the Redfish credentials profile is written for a fleet without Redfish BMCs")
	}
}
