package sim

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/bougou/go-ipmi/pkg/types"
)

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// TestSystemIdentityStable: every BMC's system UUID and serial come from
// its name: the same in another fleet, different from the other BMCs' and
// from the BMC's own UUID.
func TestSystemIdentityStable(t *testing.T) {
	opts := FleetOptions{Count: 9, Mix: []ProfileShare{{ProfileModern, 1}, {ProfileLegacy, 1}, {ProfileIPMI, 1}}, OutDir: t.TempDir()}
	f1, err := NewFleet(opts)
	if err != nil {
		t.Fatal(err)
	}
	f2, err := NewFleet(opts)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for i, b := range f1.BMCs() {
		u, s := b.SystemUUID(), b.SystemSerial()
		if !uuidV4.MatchString(u) {
			t.Errorf("%s: system UUID %q is not a lower-case version 4 UUID", b.Name(), u)
		}
		if o := f2.BMCs()[i]; o.SystemUUID() != u || o.SystemSerial() != s {
			t.Errorf("%s: %s %s in one fleet, %s %s in another", b.Name(), u, s, o.SystemUUID(), o.SystemSerial())
		}
		if other, dup := seen[u]; dup {
			t.Errorf("%s and %s share the system UUID %s", b.Name(), other, u)
		}
		seen[u] = b.Name()
		if u == b.machine.uuid() {
			t.Errorf("%s: the system UUID is the BMC's own UUID", b.Name())
		}
		prefix := map[string]string{ProfileModern: "CZ", ProfileLegacy: "CN", ProfileIPMI: "CZJ"}[b.profile]
		if !strings.HasPrefix(s, prefix) || len(s) != len(prefix)+10 {
			t.Errorf("%s (%s): serial %q", b.Name(), b.profile, s)
		}
	}
}

// TestRedfishSystemIdentity: ComputerSystem.UUID and SerialNumber are the
// BMC's SystemUUID and SystemSerial (modern firmware writes the UUID in
// capitals); the chassis has the same serial; the service root and manager
// keep the BMC's own UUID.
func TestRedfishSystemIdentity(t *testing.T) {
	f := startTestFleet(t, FleetOptions{
		Count: 2, Mix: []ProfileShare{{ProfileModern, 1}, {ProfileLegacy, 1}},
		Username: "admin", Password: "pw",
	})
	client := tlsClient(t, f.CAFile())
	for _, b := range f.BMCs() {
		c := &redfishClient{t: t, http: client, base: b.URL()}
		c.login("admin", "pw")
		system, chassis := "/redfish/v1/Systems/1", "/redfish/v1/Chassis/1"
		wantUUID := strings.ToUpper(b.SystemUUID())
		if b.profile == ProfileLegacy {
			system, chassis = "/redfish/v1/Systems/System.Embedded.1", "/redfish/v1/Chassis/System.Embedded.1"
			wantUUID = b.SystemUUID()
		}
		_, sys := c.get(system)
		if sys["UUID"] != wantUUID || sys["SerialNumber"] != b.SystemSerial() {
			t.Errorf("%s (%s): ComputerSystem UUID %v serial %v, want %s %s", b.Name(), b.profile, sys["UUID"], sys["SerialNumber"], wantUUID, b.SystemSerial())
		}
		if _, ch := c.get(chassis); ch["SerialNumber"] != b.SystemSerial() {
			t.Errorf("%s: chassis serial %v, want %s", b.Name(), ch["SerialNumber"], b.SystemSerial())
		}
		if _, root := c.get("/redfish/v1"); root["UUID"] == wantUUID || root["UUID"] != b.machine.uuid() {
			t.Errorf("%s: service root UUID %v (system %s)", b.Name(), root["UUID"], wantUUID)
		}
	}
}

// TestMockupSystemIdentity: a BMC serving a mockup says what the mockup's
// first system says; an all-zero UUID is none.
func TestMockupSystemIdentity(t *testing.T) {
	for _, tc := range []struct{ mockup, uuid, serial string }{
		{"public-rackmount1", "38947555-7742-3448-3784-823347823834", "437XR1138R2"},
		{"public-telemetry", "", "2M220100SL"},
		{"public-bladed", "", "529QB9450R6"},
	} {
		f, err := NewFleet(FleetOptions{Count: 1, MockupDir: filepath.Join(fixturesDir(t), tc.mockup), OutDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		b := f.BMCs()[0]
		if b.SystemUUID() != tc.uuid || b.SystemSerial() != tc.serial {
			t.Errorf("%s: %q %q, want %q %q", tc.mockup, b.SystemUUID(), b.SystemSerial(), tc.uuid, tc.serial)
		}
	}
}

// TestIPMISystemIdentity: Get System GUID answers the system UUID in
// SMBIOS byte order (ipmitool's `mc guid` detects it so and prints it as
// dmidecode would), and FRU 0's product serial is the system serial.
func TestIPMISystemIdentity(t *testing.T) {
	b := oneIPMIBMC(t, nil)
	c := goIPMIClient(t, b, types.CipherSuiteID3)
	res, err := c.GetSystemGUID(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	u, err := types.ParseGUID(res.GUID[:], types.GUIDModeSMBIOS)
	if err != nil || u.String() != b.SystemUUID() {
		t.Errorf("Get System GUID % x: SMBIOS order reads %v (%v), want %s", res.GUID, u, err, b.SystemUUID())
	}
	if dev, err := c.GetDeviceGUID(t.Context()); err != nil || dev.GUID == res.GUID {
		t.Errorf("device GUID % x (%v) is the system GUID", dev.GUID, err)
	}
	fru, err := c.GetFRU(t.Context(), 0, "")
	if err != nil {
		t.Fatal(err)
	}
	if fru.ProductInfoArea == nil || string(fru.ProductInfoArea.SerialNumber) != b.SystemSerial() ||
		string(fru.ProductInfoArea.Name) != b.model || fru.ChassisInfoArea == nil || string(fru.ChassisInfoArea.SerialNumber) != b.SystemSerial() {
		t.Errorf("FRU 0: %s", fru)
	}

	guid := map[string]string{}
	for _, line := range strings.Split(ipmitool(t, b, "mc", "guid"), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			guid[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	if got := guid["System GUID"]; got != b.SystemUUID() || !strings.HasPrefix(guid["GUID Encoding"], "SMBIOS") {
		t.Errorf("ipmitool mc guid: %q (encoding %q), want %s", got, guid["GUID Encoding"], b.SystemUUID())
	}
	fruOut := ipmitool(t, b, "fru", "print", "0")
	if !regexp.MustCompile(`Product Serial\s*:\s*` + regexp.QuoteMeta(b.SystemSerial()) + `\n`).MatchString(fruOut) {
		t.Errorf("ipmitool fru print 0, want Product Serial %s:\n%s", b.SystemSerial(), fruOut)
	}
	if info := ipmitool(t, b, "mc", "info"); !strings.Contains(info, "FRU Inventory Device") {
		t.Errorf("ipmitool mc info does not list the FRU inventory device:\n%s", info)
	}
}
