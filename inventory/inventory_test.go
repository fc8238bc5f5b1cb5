package inventory

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rackpulse/rackpulse/bmc"
)

func mustLoad(t *testing.T, path string) *Inventory {
	t.Helper()
	inv, problems, err := load(path, testEnv)
	if err != nil {
		t.Fatalf("load %s: %v", path, err)
	}
	for _, p := range problems {
		t.Logf("%s", p)
	}
	return inv
}

func TestInheritance(t *testing.T) {
	t.Setenv("BMC_PASSWORD", "s3cr3t-bmc-password")
	inv := mustLoad(t, "testdata/inherit.yaml")
	eps, err := inv.Endpoints(nil)
	if err != nil {
		t.Fatal(err)
	}
	byServer := map[string]bmc.Endpoint{}
	for _, ep := range eps {
		byServer[ep.Server] = ep
	}
	pin := "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	tests := []struct {
		server      string
		protocol    bmc.Protocol
		profile     string
		poll        time.Duration
		timeout     time.Duration
		tls         bmc.TLSConfig
		maxInFlight int
		cipher      int
		privilege   string
	}{
		// Rack beats row beats room beats site, key by key.
		{"site-room-row-rack", bmc.ProtocolRedfish, "default", 15 * time.Second, 4 * time.Second, bmc.TLSConfig{Fingerprint: pin}, 4, bmc.DefaultCipherSuite, bmc.DefaultPrivilege},
		// The server's own block beats everything; its TLS group replaces the row's.
		{"server-wins", bmc.ProtocolIPMI, "ipmi", 5 * time.Second, 4 * time.Second, bmc.TLSConfig{}, bmc.DefaultMaxInFlight, 17, "OPERATOR"},
		// No rack defaults: the row's and the room's apply.
		{"row-tls", bmc.ProtocolRedfish, "default", 20 * time.Second, 4 * time.Second, bmc.TLSConfig{Fingerprint: pin}, 4, bmc.DefaultCipherSuite, bmc.DefaultPrivilege},
		// Site defaults only; TLS from the credential profile.
		{"site-only", bmc.ProtocolRedfish, "default", 30 * time.Second, 10 * time.Second, bmc.TLSConfig{CAFile: filepath.Join("testdata", "ca.pem")}, 4, bmc.DefaultCipherSuite, bmc.DefaultPrivilege},
	}
	for _, tt := range tests {
		t.Run(tt.server, func(t *testing.T) {
			ep, ok := byServer[tt.server]
			if !ok {
				t.Fatalf("no endpoint for %s", tt.server)
			}
			if ep.Protocol != tt.protocol || ep.CredentialsProfile != tt.profile {
				t.Errorf("protocol, profile = %s, %s; want %s, %s", ep.Protocol, ep.CredentialsProfile, tt.protocol, tt.profile)
			}
			if ep.Cadence.Readings != tt.poll || ep.RequestTimeout != tt.timeout {
				t.Errorf("poll, timeout = %s, %s; want %s, %s", ep.Cadence.Readings, ep.RequestTimeout, tt.poll, tt.timeout)
			}
			if ep.Cadence.Slow != 5*time.Minute || ep.Cadence.Static != time.Hour {
				t.Errorf("slow, static = %s, %s; want the site's 5m, 1h", ep.Cadence.Slow, ep.Cadence.Static)
			}
			if ep.TLS != tt.tls {
				t.Errorf("TLS = %+v, want %+v", ep.TLS, tt.tls)
			}
			if ep.MaxInFlight != tt.maxInFlight || ep.CipherSuite != tt.cipher || ep.Privilege != tt.privilege {
				t.Errorf("max in flight, cipher, privilege = %d, %d, %s; want %d, %d, %s",
					ep.MaxInFlight, ep.CipherSuite, ep.Privilege, tt.maxInFlight, tt.cipher, tt.privilege)
			}
			if ep.Password.Reveal() != "s3cr3t-bmc-password" {
				t.Errorf("password not read from BMC_PASSWORD")
			}
		})
	}
}

func TestEndpointsRacks(t *testing.T) {
	t.Setenv("BMC_PASSWORD", "s3cr3t-bmc-password")
	inv := mustLoad(t, "../configs/inventory.example.yaml")
	tests := []struct {
		racks   []string
		want    []string
		wantErr string
	}{
		{nil, []string{"r11-u01", "r11-u03", "r11-u05", "r12-u01", "r12-u03", "r21-u10", "r21-u11", "r31-u01", "r31-u02", "r31-u04"}, ""},
		{[]string{"r31"}, []string{"r31-u01", "r31-u02", "r31-u04"}, ""},
		// Inventory order, whatever the order asked.
		{[]string{"r21", "r11"}, []string{"r11-u01", "r11-u03", "r11-u05", "r21-u10", "r21-u11"}, ""},
		{[]string{"r11", "r99", "r98"}, nil, "unknown rack r99, r98"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.racks, ","), func(t *testing.T) {
			eps, err := inv.Endpoints(tt.racks)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, ep := range eps {
				got = append(got, ep.Server)
				if ep.Rack == "" || ep.Username == "" || ep.Password.IsZero() {
					t.Errorf("%s: rack, username or password missing: %+v", ep.Server, ep)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("servers = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestEndpointsPasswordFile(t *testing.T) {
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "bmc-password")
	if err := os.WriteFile(pwFile, []byte("first-password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	inv := filepath.Join(dir, "inventory.yaml")
	writeFile(t, inv, `site: dc1
credentials:
  default: {username: admin, password_file: bmc-password}
defaults: {bmc: {credentials: default}}
rooms:
  - name: hall-1
    rows:
      - name: row-a
        racks:
          - name: r1
            servers:
              - {name: s1, position: 1, bmc: {address: 10.0.0.1}}
`)
	loaded, problems, err := Load(inv)
	if err != nil || len(problems) != 0 {
		t.Fatalf("Load: %v %v", problems, err)
	}
	if got := loaded.Credentials["default"].PasswordFile; got != pwFile {
		t.Errorf("password_file resolved to %s, want %s (relative to the inventory file)", got, pwFile)
	}
	read := func() string {
		eps, err := loaded.Endpoints(nil)
		if err != nil {
			t.Fatal(err)
		}
		return eps[0].Password.Reveal()
	}
	if got := read(); got != "first-password" {
		t.Errorf("password = %q, want the file's first line without newline", got)
	}
	// A rotated password is read on the next call.
	if err := os.WriteFile(pwFile, []byte("second-password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := read(); got != "second-password" {
		t.Errorf("after rotation password = %q, want second-password", got)
	}
	if err := os.Remove(pwFile); err != nil {
		t.Fatal(err)
	}
	if _, err := loaded.Endpoints(nil); err == nil || !strings.Contains(err.Error(), "reading password_file") {
		t.Errorf("Endpoints with the password file gone: err = %v", err)
	}
}

func TestPasswordFileReadableByEveryone(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "pw"), "x\n")
	if err := os.Chmod(filepath.Join(dir, "pw"), 0o644); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "inv.yaml"), `site: dc1
credentials:
  default: {username: admin, password_file: pw}
`)
	_, problems, err := Load(filepath.Join(dir, "inv.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	w := problems.Warnings()
	if len(w) != 2 || !strings.Contains(w[0].Message, "readable by everyone (mode 0644)") {
		t.Errorf("warnings = %v, want the mode warning and the unused-profile warning", w)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestNoSecretInOutput checks that no password, from the environment or
// inline, reaches the validate report, the tree, or a JSON or fmt dump of
// the inventory and its endpoints.
func TestNoSecretInOutput(t *testing.T) {
	const envSecret = "env-secret-Zq81"
	t.Setenv("BMC_PASSWORD", envSecret)
	dir := t.TempDir()
	example, err := os.ReadFile("../configs/inventory.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	const inlineSecret = "inline-secret-Kx27"
	writeFile(t, filepath.Join(dir, "site.yaml"), string(example))
	writeFile(t, filepath.Join(dir, "lab.yaml"), `site: dc1
credentials:
  lab: {username: root, password: `+inlineSecret+`}
rooms:
  - name: lab
    rows:
      - name: bench
        racks:
          - name: lab-1
            servers:
              - {name: lab-1-u01, position: 1, bmc: {address: 127.0.0.1, credentials: lab}}
`)
	inv, problems, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	eps, err := inv.Endpoints(nil)
	if err != nil {
		t.Fatal(err)
	}
	revealed := 0
	for _, ep := range eps {
		if s := ep.Password.Reveal(); s == envSecret || s == inlineSecret {
			revealed++
		}
	}
	if revealed != len(eps) {
		t.Fatalf("%d of %d endpoints carry the password; the check below would prove nothing", revealed, len(eps))
	}

	var out bytes.Buffer
	if err := WriteReport(&out, inv, problems); err != nil {
		t.Fatal(err)
	}
	if err := WriteTree(&out, inv, nil); err != nil {
		t.Fatal(err)
	}
	for _, v := range []any{eps, inv} {
		js, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		out.Write(js)
		fmt.Fprintf(&out, "%v %+v %#v", v, v, v)
	}
	for _, secret := range []string{envSecret, inlineSecret} {
		if bytes.Contains(out.Bytes(), []byte(secret)) {
			t.Errorf("output holds a password:\n%s", out.Bytes())
		}
	}
	if !strings.Contains(out.String(), "inline password") {
		t.Errorf("the inline password was not warned about")
	}
}

func TestExampleInventory(t *testing.T) {
	t.Setenv("BMC_PASSWORD", "s3cr3t-bmc-password")
	inv, problems, err := Load("../configs/inventory.example.yaml")
	if err != nil || len(problems) != 0 {
		t.Fatalf("the example inventory is not clean:\n%v", problems)
	}
	var out bytes.Buffer
	if err := WriteTree(&out, inv, nil); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "show-example", out.Bytes())

	out.Reset()
	if err := WriteTree(&out, inv, []string{"r12", "r31"}); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "show-example-racks", out.Bytes())

	if err := WriteTree(&out, inv, []string{"nope"}); err == nil {
		t.Errorf("tree of an unknown rack: no error")
	}
}

func TestDirectoryInventory(t *testing.T) {
	inv := mustLoad(t, "testdata/dir-ok")
	wantFiles := []string{"00-site.yaml", "hall-1-r12.yaml", "hall-1-r13.yaml", "hall-2-r31.yml"}
	var files []string
	for _, f := range inv.Files {
		files = append(files, filepath.Base(f))
	}
	if !slices.Equal(files, wantFiles) {
		t.Errorf("files = %v, want %v", files, wantFiles)
	}
	if inv.Site != "dc1" || len(inv.Rooms) != 2 || len(inv.Credentials) != 2 {
		t.Fatalf("site %s with %d rooms and %d profiles; want dc1, 2 rooms (hall-1 merged), 2 profiles", inv.Site, len(inv.Rooms), len(inv.Credentials))
	}
	var racks []string
	for _, r := range inv.Racks() {
		racks = append(racks, r.Room+"/"+r.Row+"/"+r.Name)
	}
	if want := []string{"hall-1/row-a/r12", "hall-1/row-a/r13", "hall-2/row-c/r31"}; !slices.Equal(racks, want) {
		t.Errorf("racks = %v, want %v (rows merged by name)", racks, want)
	}
	s, ok := inv.Server("r13-u01")
	if !ok {
		t.Fatal("server r13-u01 not found")
	}
	if s.Room != "hall-1" || s.Row != "row-a" || s.Rack != "r13" || filepath.Base(s.Source.File) != "hall-1-r13.yaml" || s.Source.Line != 10 {
		t.Errorf("r13-u01 placed at %s/%s/%s, source %+v", s.Room, s.Row, s.Rack, s.Source)
	}
	// Defaults cross files: the room's request_timeout comes from 00-site.yaml,
	// the row's poll_interval from hall-1-r12.yaml.
	if e := s.Effective; e.RequestTimeout != 5*time.Second || e.PollInterval != 15*time.Second || e.Credentials != "default" {
		t.Errorf("r13-u01 effective = timeout %s, poll %s, credentials %s; want 5s, 15s, default", e.RequestTimeout, e.PollInterval, e.Credentials)
	}
	if s, _ := inv.Server("r31-u01"); s.Effective.Protocol != bmc.ProtocolIPMI || s.Effective.Credentials != "ipmi" {
		t.Errorf("r31-u01 effective = %s with %s, want ipmi with ipmi", s.Effective.Protocol, s.Effective.Credentials)
	}
	if _, ok := inv.Server("nope"); ok {
		t.Errorf("Server(nope) found something")
	}
}

func TestLoadIsRepeatable(t *testing.T) {
	for _, path := range []string{"testdata/dir-ok", "testdata/units.yaml", "testdata/credentials.yaml"} {
		inv1, ps1, _ := load(path, testEnv)
		inv2, ps2, _ := load(path, testEnv)
		if !reflect.DeepEqual(inv1, inv2) || !reflect.DeepEqual(ps1, ps2) {
			t.Errorf("%s: two loads differ", path)
		}
	}
}

func TestFeedOf(t *testing.T) {
	tests := []struct {
		name string
		rack Rack
		bay  string
		want string
	}{
		{"default bay 1", Rack{}, "1", "A"},
		{"default bay 2", Rack{}, "2", "B"},
		{"no default for bay 3", Rack{}, "3", ""},
		{"explicit wiring", Rack{PSUFeeds: map[string]string{"1": "B", "2": "A"}}, "1", "B"},
		{"explicit bay 3", Rack{PSUFeeds: map[string]string{"3": "A"}}, "3", "A"},
		{"unnamed bay falls back", Rack{PSUFeeds: map[string]string{"1": "B"}}, "2", "B"},
		{"default feed defined", Rack{Feeds: map[string]Feed{"A": {8000}, "B": {8000}}}, "2", "B"},
		{"default feed not defined", Rack{Feeds: map[string]Feed{"L": {8000}, "R": {8000}}}, "1", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.rack.FeedOf(tt.bay); got != tt.want {
				t.Errorf("FeedOf(%q) = %q, want %q", tt.bay, got, tt.want)
			}
		})
	}
}

func TestParseAddress(t *testing.T) {
	tests := []struct {
		addr     string
		proto    bmc.Protocol
		wantKeys []string
		wantErr  string
	}{
		{"10.0.0.1", bmc.ProtocolRedfish, []string{"10.0.0.1:443"}, ""},
		{"10.0.0.1", bmc.ProtocolIPMI, []string{"10.0.0.1:623"}, ""},
		{"10.0.0.1", bmc.ProtocolAuto, []string{"10.0.0.1:443", "10.0.0.1:623"}, ""},
		// auto: the address's port is Redfish's; IPMI is on 623 besides.
		{"10.0.0.1:8443", bmc.ProtocolAuto, []string{"10.0.0.1:8443", "10.0.0.1:623"}, ""},
		{"10.0.0.1:623", bmc.ProtocolAuto, []string{"10.0.0.1:623"}, ""},
		{"BMC.Example.NET", bmc.ProtocolRedfish, []string{"bmc.example.net:443"}, ""},
		{"https://bmc.example.net", bmc.ProtocolRedfish, []string{"bmc.example.net:443"}, ""},
		{"https://bmc.example.net/", bmc.ProtocolRedfish, []string{"bmc.example.net:443"}, ""},
		{"http://bmc.example.net", bmc.ProtocolRedfish, []string{"bmc.example.net:80"}, ""},
		{"https://[fd00::1]:8443", bmc.ProtocolRedfish, []string{"[fd00::1]:8443"}, ""},
		{"fd00::1", bmc.ProtocolIPMI, []string{"[fd00::1]:623"}, ""},
		{"[fd00::1]", bmc.ProtocolRedfish, []string{"[fd00::1]:443"}, ""},
		{"", bmc.ProtocolRedfish, nil, "empty"},
		{"10.0.0.1:0", bmc.ProtocolRedfish, nil, "port"},
		{"10.0.0.1:x", bmc.ProtocolRedfish, nil, "port"},
		{"a:b:c", bmc.ProtocolRedfish, nil, "not a valid IPv6 address"},
		{"-bad-.example", bmc.ProtocolRedfish, nil, `label "-bad-" starts with a hyphen`},
		{"https://10.0.0.1", bmc.ProtocolIPMI, nil, "IPMI takes host[:port]"},
		{"https://u:p@10.0.0.1", bmc.ProtocolRedfish, nil, "user information"},
		{"https://10.0.0.1/redfish/v1", bmc.ProtocolRedfish, nil, "without a path"},
		{"ftp://10.0.0.1", bmc.ProtocolRedfish, nil, "scheme"},
	}
	for _, tt := range tests {
		t.Run(tt.addr+"/"+string(tt.proto), func(t *testing.T) {
			a, err := ParseAddress(tt.addr, tt.proto)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), ":p@") {
					t.Errorf("error repeats user information: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := a.Keys(tt.proto); !slices.Equal(got, tt.wantKeys) {
				t.Errorf("keys = %v, want %v", got, tt.wantKeys)
			}
		})
	}
}

func TestParseFingerprint(t *testing.T) {
	ok := strings.Repeat("ab", 32)
	tests := []struct {
		in      string
		wantErr bool
	}{
		{ok, false},
		{strings.ToUpper(ok), false},
		{"AB" + strings.Repeat(":AB", 31), false},
		{strings.Repeat("ab", 20), true}, // SHA-1 length
		{"zz" + ok[2:], true},
		{"", true},
	}
	for _, tt := range tests {
		if _, err := ParseFingerprint(tt.in); (err != nil) != tt.wantErr {
			t.Errorf("ParseFingerprint(%q) err = %v, want error: %v", tt.in, err, tt.wantErr)
		}
	}
}

func TestSuggest(t *testing.T) {
	known := []string{"address", "protocol", "credentials", "poll_interval", "request_timeout"}
	tests := []struct{ word, want string }{
		{"adress", ` (did you mean "address"?)`},
		{"protcol", ` (did you mean "protocol"?)`},
		{"Credentials", ` (did you mean "credentials"?)`},
		{"poll_intervall", ` (did you mean "poll_interval"?)`},
		{"rack", " (known fields: address, protocol, credentials, poll_interval, request_timeout)"},
	}
	for _, tt := range tests {
		if got := suggest(tt.word, known); got != tt.want {
			t.Errorf("suggest(%q) = %q, want %q", tt.word, got, tt.want)
		}
	}
}

func TestProblemString(t *testing.T) {
	tests := []struct {
		p    Problem
		want string
	}{
		{Problem{File: "a.yaml", Line: 3, Path: "rooms[0].name", Message: "room name is empty"}, "a.yaml:3: rooms[0].name: room name is empty"},
		{Problem{File: "a.yaml", Line: 3, Path: "credentials.x.password", Message: "inline password", Warning: true}, "warning: a.yaml:3: credentials.x.password: inline password"},
		{Problem{File: "inv", Message: "no such file"}, "inv: no such file"},
	}
	for _, tt := range tests {
		if got := tt.p.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}

// TestIPMIPortInherited: ipmi_port is inherited like the other BMC
// settings (the nearest block that sets it wins), reaches the endpoint,
// and is left 0 (the collector's 623) where no block sets it.
func TestIPMIPortInherited(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "inv.yaml")
	doc := `site: dc1
credentials:
  default: {username: admin, password_env: BMC_PASSWORD}
defaults:
  bmc: {credentials: default, protocol: auto}
rooms:
  - name: hall-1
    defaults:
      bmc: {ipmi_port: 6230}
    rows:
      - name: row-a
        racks:
          - name: r12
            defaults:
              bmc: {ipmi_port: 16230}
            servers:
              - {name: rack-port, position: 1, bmc: {address: 10.0.12.1}}
              - {name: own-port, position: 2, bmc: {address: "https://10.0.12.2:8443", ipmi_port: 7623}}
          - name: r13
            servers:
              - {name: room-port, position: 1, bmc: {address: 10.0.13.1}}
  - name: hall-2
    rows:
      - name: row-b
        racks:
          - name: r21
            servers:
              - {name: default-port, position: 1, bmc: {address: 10.0.21.1}}
              # Same host, other IPMI port: not the same BMC.
              - {name: same-host, position: 2, bmc: {address: "10.0.21.1:8443", ipmi_port: 6230}}
`
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	inv := mustLoad(t, path)
	t.Setenv("BMC_PASSWORD", "s3cr3t-bmc-password")
	eps, err := inv.Endpoints(nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, ep := range eps {
		got[ep.Server] = ep.IPMIPort
	}
	want := map[string]int{"rack-port": 16230, "own-port": 7623, "room-port": 6230, "default-port": 0, "same-host": 6230}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("IPMI ports %v, want %v", got, want)
	}
	// The duplicate check claims each auto server's IPMI port.
	a, err := ParseAddress("10.0.12.1", bmc.ProtocolAuto)
	if err != nil {
		t.Fatal(err)
	}
	if keys := a.KeysWithIPMIPort(bmc.ProtocolAuto, 16230); !slices.Equal(keys, []string{"10.0.12.1:443", "10.0.12.1:16230"}) {
		t.Errorf("keys %v", keys)
	}
}
