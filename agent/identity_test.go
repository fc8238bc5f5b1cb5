package agent

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestReadIdentityFixtures(t *testing.T) {
	tests := []struct {
		host string
		want Identity
	}{
		{"supermicro-x11dpi", Identity{SystemUUID: "00000000-0000-0000-0000-ac1f6b4a2c18", SystemSerial: "S292395X0B13547",
			Vendor: "Supermicro", Product: "SYS-6029P-TR", BoardSerial: "ZM19AS012345", ChassisSerial: "C8290KI12A30123"}},
		{"dell-r710", Identity{SystemUUID: "4c4c4544-0051-4a10-8032-b7c04f4b344a", SystemSerial: "7QJ2K4J",
			Vendor: "Dell Inc.", Product: "PowerEdge R710", BoardSerial: "..CN1374014H0123.", ChassisSerial: "7QJ2K4J"}},
		{"dell-r7525", Identity{SystemUUID: "4c4c4544-0058-4b10-8054-b9c04f384733", SystemSerial: "9XKT8G3",
			Vendor: "Dell Inc.", Product: "PowerEdge R7525", BoardSerial: ".9XKT8G3.CNFCP0023A0091.", ChassisSerial: "9XKT8G3"}},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			id, problems := ReadIdentity(filepath.Join("testdata", tt.host))
			if id != tt.want {
				t.Errorf("got  %+v\nwant %+v", id, tt.want)
			}
			if len(problems) != 0 {
				t.Errorf("problems %+v", problems)
			}
		})
	}
}

// TestReadIdentityPlaceholders: firmware defaults never identify a host.
func TestReadIdentityPlaceholders(t *testing.T) {
	root := writeSysTree(t, map[string]string{
		dmiIDDir + "/product_uuid":   "03000200-0400-0500-0006-000700080009\n",
		dmiIDDir + "/product_serial": "To Be Filled By O.E.M.\n",
		dmiIDDir + "/sys_vendor":     "ASRockRack\n",
		dmiIDDir + "/product_name":   "X470D4U\n",
		dmiIDDir + "/board_serial":   "Default string\n",
		dmiIDDir + "/chassis_serial": "Chassis Serial Number\n",
	})
	id, problems := ReadIdentity(root)
	if id != (Identity{Vendor: "ASRockRack", Product: "X470D4U"}) {
		t.Errorf("identity %+v", id)
	}
	var paths []string
	for _, p := range problems {
		if p.Part != PartIdentity || !strings.Contains(p.Message, "the firmware gives no") {
			t.Errorf("problem %+v", p)
		}
		paths = append(paths, filepath.Base(p.Path))
	}
	if got := strings.Join(paths, " "); got != "product_uuid product_serial board_serial chassis_serial" {
		t.Errorf("problems for %s", got)
	}
}

// TestReadIdentityUnreadable: a missing DMI directory is one Problem; a
// file that cannot be read is a Problem naming it.
func TestReadIdentityUnreadable(t *testing.T) {
	id, problems := ReadIdentity(t.TempDir())
	if id != (Identity{}) || len(problems) != 1 || problems[0].Path != dmiIDDir || !strings.Contains(problems[0].Message, "not present") {
		t.Errorf("no DMI: %+v %+v", id, problems)
	}
	root := writeSysTree(t, map[string]string{
		dmiIDDir + "/product_serial/x": "", // a directory where the file should be
		dmiIDDir + "/sys_vendor":       "HPE\n",
		dmiIDDir + "/product_name":     "ProLiant DL360 Gen10\n",
	})
	id, problems = ReadIdentity(root)
	if id.Vendor != "HPE" || id.Product != "ProLiant DL360 Gen10" || id.SystemSerial != "" {
		t.Errorf("identity %+v", id)
	}
	found := false
	for _, p := range problems {
		if p.Path == dmiIDDir+"/product_serial" && strings.Contains(p.Message, "reading product_serial") {
			found = true
		}
	}
	if !found {
		t.Errorf("no problem for product_serial: %+v", problems)
	}
}
