package sim

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// startTestFleet starts a small fleet on free consecutive loopback ports.
func startTestFleet(t *testing.T, opts FleetOptions) *Fleet {
	t.Helper()
	opts.OutDir = t.TempDir()
	var lastErr error
	for range 10 {
		opts.BasePort = 20000 + rand.IntN(30000)
		f, err := NewFleet(opts)
		if err != nil {
			t.Fatal(err)
		}
		if lastErr = f.Start(t.Context()); lastErr == nil {
			t.Cleanup(func() {
				if err := f.Close(); err != nil {
					t.Errorf("closing fleet: %v", err)
				}
			})
			return f
		}
	}
	t.Fatalf("no free ports for the fleet: %v", lastErr)
	return nil
}

// tlsClient trusts only the fleet's written ca.pem.
func tlsClient(t *testing.T, caFile string) *http.Client {
	t.Helper()
	pemData, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemData) {
		t.Fatalf("%s holds no certificate", caFile)
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

type redfishClient struct {
	t     *testing.T
	http  *http.Client
	base  string
	token string
}

func (c *redfishClient) login(user, pass string) int {
	c.t.Helper()
	body, _ := json.Marshal(map[string]string{"UserName": user, "Password": pass})
	req, _ := http.NewRequestWithContext(c.t.Context(), http.MethodPost, c.base+sessionsPath, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("login: %v", err)
	}
	defer resp.Body.Close()
	c.token = resp.Header.Get("X-Auth-Token")
	return resp.StatusCode
}

func (c *redfishClient) get(uri string) (int, map[string]any) {
	c.t.Helper()
	req, _ := http.NewRequestWithContext(c.t.Context(), http.MethodGet, c.base+uri, nil)
	if c.token != "" {
		req.Header.Set("X-Auth-Token", c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("GET %s: %v", uri, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("GET %s: %v", uri, err)
	}
	var obj map[string]any
	if err := json.Unmarshal(data, &obj); err != nil {
		c.t.Fatalf("GET %s: %v: %s", uri, err, data)
	}
	return resp.StatusCode, obj
}

func TestFleetServesOverTLS(t *testing.T) {
	f := startTestFleet(t, FleetOptions{
		Count: 4, Mix: []ProfileShare{{ProfileModern, 1}, {ProfileLegacy, 1}},
		Username: "admin", Password: "pw",
	})
	if !filepath.IsAbs(f.CAFile()) {
		t.Errorf("CA file %q is not absolute", f.CAFile())
	}
	client := tlsClient(t, f.CAFile())
	profiles := map[string]int{}
	for _, b := range f.BMCs() {
		profiles[b.Info().Profile]++
		c := &redfishClient{t: t, http: client, base: b.URL()}
		if st := c.login("admin", "pw"); st != http.StatusCreated {
			t.Fatalf("%s: login %d", b.Name(), st)
		}
		st, root := c.get("/redfish/v1")
		if st != 200 || root["Systems"] == nil {
			t.Fatalf("%s: root %d %v", b.Name(), st, root)
		}
		st, coll := c.get("/redfish/v1/Chassis")
		if st != 200 || coll["Members@odata.count"] != 1.0 {
			t.Fatalf("%s: chassis %d %v", b.Name(), st, coll)
		}
		if n := b.Handler().ActiveSessions(); n != 1 {
			t.Errorf("%s: %d sessions", b.Name(), n)
		}
	}
	if profiles[ProfileModern] != 2 || profiles[ProfileLegacy] != 2 {
		t.Errorf("profiles %v, want 2 modern and 2 legacy", profiles)
	}

	// The certificate names localhost too.
	b := f.BMCs()[0]
	c := &redfishClient{t: t, http: client, base: "https://localhost:" + strconv.Itoa(b.port)}
	if st, _ := c.get("/redfish/v1"); st != 200 {
		t.Errorf("via localhost: %d", st)
	}
	// A client that does not trust the fleet's CA is refused.
	resp, err := http.Get(b.URL() + "/redfish/v1")
	if err == nil {
		resp.Body.Close()
		t.Error("TLS handshake succeeded without the fleet's CA")
	}

	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if conn, err := net.Dial("tcp", net.JoinHostPort(b.host, strconv.Itoa(b.port))); err == nil {
		conn.Close()
		t.Error("BMC port still open after Close")
	}
}

func TestFleetInventory(t *testing.T) {
	f := startTestFleet(t, FleetOptions{Count: 25, PerRack: 20, Mix: []ProfileShare{{ProfileLegacy, 1}}})
	data, err := os.ReadFile(f.InventoryFile())
	if err != nil {
		t.Fatal(err)
	}
	var inv invFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&inv); err != nil {
		t.Fatalf("inventory does not decode: %v\n%s", err, data)
	}
	cred := inv.Credentials["sim"]
	if inv.Site != "sim" || cred.Username != "admin" || cred.PasswordEnv != PasswordEnv || cred.CAFile != f.CAFile() {
		t.Errorf("inventory header: %+v", inv)
	}
	if d := inv.Defaults.BMC; d.Protocol != "redfish" || d.Credentials != "sim" || d.PollInterval != "30s" {
		t.Errorf("defaults %+v", d)
	}
	if strings.Contains(string(data), DefaultPassword) {
		t.Error("inventory contains the password")
	}
	racks := inv.Rooms[0].Rows[0].Racks
	if len(racks) != 2 || len(racks[0].Servers) != 20 || len(racks[1].Servers) != 5 {
		t.Fatalf("racks: %+v", racks)
	}
	first, last := racks[0].Servers[0], racks[1].Servers[4]
	if first.Name != "rack-01-u01" || first.Position != 1 || first.Height != 1 || first.BMC.Address != f.BMCs()[0].URL() {
		t.Errorf("first server %+v", first)
	}
	if last.Name != "rack-02-u05" || last.Model != "Contoso RS640 Gen2" {
		t.Errorf("last server %+v", last)
	}
	// 20 legacy servers of at most 430 W / 0.93 = 462.4 W each: 9247 W at
	// 70 % is 13210 W, rounded up to 13500; 5 of them: 3303 W, 3500.
	for i, want := range []int{13500, 3500} {
		r := racks[i]
		if r.PowerBudgetWatts != want || r.Feeds["A"].CapacityWatts != want || r.Feeds["B"].CapacityWatts != want {
			t.Errorf("rack %s power: budget %d W, feeds %+v; want %d W each", r.Name, r.PowerBudgetWatts, r.Feeds, want)
		}
	}
}

func TestFleetRowsHoldTenRacks(t *testing.T) {
	f, err := NewFleet(FleetOptions{Count: 23, PerRack: 2})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path, err := f.writeInventory(dir, filepath.Join(dir, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	var inv invFile
	if err := yaml.Unmarshal(data, &inv); err != nil {
		t.Fatal(err)
	}
	rows := inv.Rooms[0].Rows
	if len(rows) != 2 || len(rows[0].Racks) != 10 || len(rows[1].Racks) != 2 || rows[1].Name != "row-2" {
		t.Errorf("rows: %d, racks %d/%d", len(rows), len(rows[0].Racks), len(rows[len(rows)-1].Racks))
	}
}

func TestFleetPortInUse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	f, err := NewFleet(FleetOptions{Count: 2, BasePort: port - 1, OutDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	err = f.Start(t.Context())
	if err == nil {
		f.Close()
		t.Fatal("started on a port in use")
	}
	if !strings.Contains(err.Error(), "rack-01-u02") {
		t.Errorf("error %v does not name the BMC", err)
	}
	// The first port was released again.
	l2, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port-1)))
	if err != nil {
		t.Errorf("port %d left bound after a failed start: %v", port-1, err)
	} else {
		l2.Close()
	}
}

func TestFleetMockup(t *testing.T) {
	dir := filepath.Join(fixturesDir(t), "public-rackmount1")
	f := startTestFleet(t, FleetOptions{Count: 2, MockupDir: dir, Username: "admin", Password: "pw"})
	c := &redfishClient{t: t, http: tlsClient(t, f.CAFile()), base: f.BMCs()[1].URL()}
	c.login("admin", "pw")
	if st, ps := c.get("/redfish/v1/Chassis/1U/PowerSubsystem"); st != 200 || ps["Id"] == nil {
		t.Errorf("mockup PowerSubsystem: %d %v", st, ps)
	}
	if err := f.BMCs()[0].Inject(FaultSpec{Fault: FaultDIMMECC}); err == nil {
		t.Error("data fault accepted by a mockup BMC")
	}
}

func TestAdminAPI(t *testing.T) {
	f := startTestFleet(t, FleetOptions{Count: 2, Username: "admin", Password: "pw"})
	admin := httptest.NewServer(f.AdminHandler())
	defer admin.Close()
	call := func(method, path, body string) (int, []byte) {
		req, _ := http.NewRequestWithContext(t.Context(), method, admin.URL+path, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, data
	}

	st, data := call("GET", "/bmcs", "")
	var list []BMCInfo
	if err := json.Unmarshal(data, &list); err != nil || st != 200 || len(list) != 2 {
		t.Fatalf("GET /bmcs: %d %s", st, data)
	}
	if list[1].Name != "rack-01-u02" || list[1].Port != f.BMCs()[1].port || list[1].Profile != ProfileModern {
		t.Errorf("listing %+v", list[1])
	}

	name := "rack-01-u02"
	c := &redfishClient{t: t, http: tlsClient(t, f.CAFile()), base: f.BMCs()[1].URL()}
	c.login("admin", "pw")
	metrics := "/redfish/v1/Systems/1/Memory/DIMM5/MemoryMetrics"
	_, before := c.get(metrics)

	if st, data := call("POST", "/bmcs/"+name+"/faults", `{"fault":"dimm-ecc","target":"DIMM5","every":"1ms"}`); st != http.StatusCreated {
		t.Fatalf("POST fault: %d %s", st, data)
	}
	_, after := c.get(metrics)
	if dig(t, before, "CurrentPeriod", "CorrectableECCErrorCount") != 0.0 || dig(t, after, "CurrentPeriod", "CorrectableECCErrorCount").(float64) <= 0 {
		t.Errorf("ECC counts before %v, after %v", before["CurrentPeriod"], after["CurrentPeriod"])
	}
	if st, data := call("POST", "/bmcs/"+name+"/faults", `{"fault":"http-503"}`); st != http.StatusCreated {
		t.Fatalf("POST transport fault: %d %s", st, data)
	}
	if st, _ := c.get("/redfish/v1/Chassis"); st != http.StatusServiceUnavailable {
		t.Errorf("under http-503: %d", st)
	}
	_, data = call("GET", "/bmcs/"+name, "")
	var info BMCInfo
	_ = json.Unmarshal(data, &info)
	if fmt.Sprint(info.Faults) != "[dimm-ecc http-503]" || info.ActiveSessions != 1 || info.Requests < 4 {
		t.Errorf("BMC info %+v", info)
	}

	tests := []struct {
		method, path, body string
		want               int
	}{
		{"DELETE", "/bmcs/" + name + "/faults/http-503", "", http.StatusNoContent},
		{"DELETE", "/bmcs/" + name + "/faults/http-503", "", http.StatusNotFound},
		{"DELETE", "/bmcs/" + name + "/faults/dimm-ecc", "", http.StatusNoContent},
		{"DELETE", "/bmcs/" + name + "/faults/smoke", "", http.StatusBadRequest},
		{"POST", "/bmcs/" + name + "/faults", `{"fault":"smoke"}`, http.StatusBadRequest},
		{"POST", "/bmcs/" + name + "/faults", `{"fault":"psu-fail","target":"PSU9"}`, http.StatusBadRequest},
		{"POST", "/bmcs/" + name + "/faults", `{"fault":"cpu-hot","colour":"red"}`, http.StatusBadRequest},
		{"POST", "/bmcs/nope/faults", `{"fault":"cpu-hot"}`, http.StatusNotFound},
		{"GET", "/bmcs/nope", "", http.StatusNotFound},
	}
	for _, tc := range tests {
		if st, data := call(tc.method, tc.path, tc.body); st != tc.want {
			t.Errorf("%s %s %s: %d, want %d (%s)", tc.method, tc.path, tc.body, st, tc.want, data)
		}
	}
	if st, _ := c.get("/redfish/v1/Chassis"); st != 200 {
		t.Errorf("after clearing http-503: %d", st)
	}
}

func TestScenarioParse(t *testing.T) {
	good := `
- bmc: "*"
  fault: http-503
  at: 1m
  for: 30s
- bmc: rack-01-u02
  fault: dimm-ecc
  target: DIMM3
  every: 10s
  at: 0s
- bmc: 0
  fault: psu-fail
  at: 2m
`
	events, err := ParseScenario("s.yaml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 3 || events[0].BMC != "*" || events[0].For.Seconds() != 30 || events[1].Fault.Target != "DIMM3" ||
		events[1].Fault.Every.Seconds() != 10 || events[2].BMC != "0" || events[2].At.Minutes() != 2 || events[2].Line != 11 {
		t.Errorf("events %+v", events)
	}

	bad := []struct {
		name, doc string
		want      []string
	}{
		{"unknown fault", "- bmc: x\n  fault: smoke\n", []string{"bad.yaml", "event 1", "line 2", "field fault", "smoke"}},
		{"bad duration", "- bmc: x\n  fault: cpu-hot\n  at: soon\n", []string{"bad.yaml", "line 3", "field at", "soon"}},
		{"unknown field", "- bmc: x\n  fault: cpu-hot\n  when: 1m\n", []string{"bad.yaml", "line 3", "unknown field when"}},
		{"missing fault", "- bmc: x\n  at: 1m\n", []string{"bad.yaml", "field fault is required"}},
		{"not a list", "bmc: x\n", []string{"bad.yaml", "want a list"}},
		{"second event", "- bmc: x\n  fault: cpu-hot\n- bmc: y\n  fault: fan-fail\n  for: -1m\n", []string{"event 2", "line 5", "field for"}},
		{"not yaml", "- [\n", []string{"bad.yaml"}},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseScenario("bad.yaml", []byte(tc.doc))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}

	if events, err := ParseScenario("empty.yaml", nil); err != nil || len(events) != 0 {
		t.Errorf("empty scenario: %v %v", events, err)
	}
	if _, err := LoadScenario(filepath.Join(t.TempDir(), "missing.yaml")); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("missing file: %v", err)
	}
}

func TestScenarioUnknownBMC(t *testing.T) {
	events, err := ParseScenario("s.yaml", []byte("- bmc: rack-09-u01\n  fault: fan-fail\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = NewFleet(FleetOptions{Count: 2, Scenario: events})
	if err == nil || !strings.Contains(err.Error(), "s.yaml line 1") || !strings.Contains(err.Error(), "rack-09-u01") {
		t.Errorf("unknown BMC in scenario: %v", err)
	}
	events[0].BMC = "7"
	if _, err = NewFleet(FleetOptions{Count: 2, Scenario: events}); err == nil || !strings.Contains(err.Error(), "index 7") {
		t.Errorf("index outside the fleet: %v", err)
	}
}

func TestScenarioPlay(t *testing.T) {
	events, err := ParseScenario("s.yaml", []byte(`
- {bmc: "*", fault: http-500, at: 0s, for: 0s}
- {bmc: "1", fault: fan-fail, at: 0s}
- {bmc: rack-01-u01, fault: drive-predicted-failure, at: 0s}
`))
	if err != nil {
		t.Fatal(err)
	}
	f, err := NewFleet(FleetOptions{Count: 3, Scenario: events})
	if err != nil {
		t.Fatal(err)
	}
	f.playScenario(context.Background(), events) // every event is due: returns when played
	want := map[string]string{
		"rack-01-u01": "[drive-predicted-failure http-500]",
		"rack-01-u02": "[fan-fail http-500]",
		"rack-01-u03": "[http-500]",
	}
	for _, b := range f.BMCs() {
		if got := fmt.Sprint(b.Info().Faults); got != want[b.Name()] {
			t.Errorf("%s faults %s, want %s", b.Name(), got, want[b.Name()])
		}
	}
}

func TestParseMixAndLatency(t *testing.T) {
	mix, err := ParseMix("modern=60, legacy=40")
	if err != nil {
		t.Fatal(err)
	}
	pick := newWeightedPicker(mix)
	counts := map[string]int{}
	for range 100 {
		counts[pick()]++
	}
	if counts[ProfileModern] != 60 || counts[ProfileLegacy] != 40 {
		t.Errorf("100 picks: %v", counts)
	}
	for _, bad := range []string{"modern=x", "vintage=1", "modern=0", ""} {
		if _, err := ParseMix(bad); err == nil {
			t.Errorf("ParseMix(%q) accepted", bad)
		}
	}

	lat, err := ParseLatency("50ms-200ms")
	if err != nil {
		t.Fatal(err)
	}
	for range 100 {
		if d := lat(); d.Milliseconds() < 50 || d.Milliseconds() > 200 {
			t.Fatalf("latency %v outside 50ms-200ms", d)
		}
	}
	if lat, err := ParseLatency(""); err != nil || lat != nil {
		t.Errorf("empty latency: %v", err)
	}
	for _, bad := range []string{"fast", "200ms-50ms", "-5ms"} {
		if _, err := ParseLatency(bad); err == nil {
			t.Errorf("ParseLatency(%q) accepted", bad)
		}
	}
}
