package ipmi

import (
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/rackpulse/rackpulse/bmc"
)

func mustGUID(t *testing.T, s string) [16]byte {
	t.Helper()
	b, err := hex.DecodeString(strings.NewReplacer(" ", "", "-", "").Replace(s))
	if err != nil || len(b) != 16 {
		t.Fatalf("bad GUID bytes %q: %v", s, err)
	}
	return [16]byte(b)
}

// TestSystemUUIDByteOrder: the bytes of Get System GUID as BMCs send
// them, against the UUID dmidecode prints for the same machine.
func TestSystemUUIDByteOrder(t *testing.T) {
	cases := []struct {
		name, raw, want string
		order           guidOrder
	}{
		// A Dell PowerEdge's BMC: the system GUID it sends (here as the
		// managed system GUID of an RMCP+ RAKP message 2 captured from
		// one) begins with the bytes "DELL"; dmidecode prints every Dell
		// system UUID as 4c4c4544-…, the service tag (6HS4CH2) spread over
		// the rest.
		{"Dell BMC", "44 45 4c 4c 48 00 10 53 80 34 b6 c0 4f 43 48 32", "4c4c4544-0048-5310-8034-b6c04f434832", guidSMBIOS},
		// SMBIOS 3.x section 7.2.1: {00112233-4455-6677-8899-AABBCCDDEEFF}
		// is stored as 33 22 11 00 55 44 77 66 88 99 AA BB CC DD EE FF.
		{"SMBIOS specification example", "33 22 11 00 55 44 77 66 88 99 aa bb cc dd ee ff", "00112233-4455-6677-8899-aabbccddeeff", guidSMBIOS},
		// iPXE's documentation: a machine whose SMBIOS holds these bytes
		// (uuid:hexraw) has the system UUID b78bca22-4ea4-4d0c-9efd-….
		{"SMBIOS raw bytes (iPXE)", "22ca8bb7a44e0c4d9efde3c9a210ac79", "b78bca22-4ea4-4d0c-9efd-e3c9a210ac79", guidSMBIOS},
		// The same UUID sent as IPMI 2.0 section 20.8 lays it out: every
		// byte reversed.
		{"IPMI specification order", "79ac10a2c9e3 fd9e 0c4d a44e 22ca8bb7", "b78bca22-4ea4-4d0c-9efd-e3c9a210ac79", guidIPMI},
		// OpenBMC's phosphor-host-ipmid (rfc4122ToIpmi) answers Get
		// System GUID in IPMI order; its own example.
		{"OpenBMC", "2332fc2c40e66298e511f2782395a361", "61a39523-78f2-11e5-9862-e6402cfc3223", guidIPMI},
		// Not RFC 4122 in either order (the DMTF mockups' system UUID):
		// read in SMBIOS order.
		{"not RFC 4122", "55759438 4277 4834 3784 823347823834", "38947555-7742-3448-3784-823347823834", guidSMBIOS},
		{"all zero: none", "00000000000000000000000000000000", "", ""},
		{"all FFh: none", "ffffffffffffffffffffffffffffffff", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, order := systemUUID(mustGUID(t, tc.raw))
			if got != tc.want || order != tc.order {
				t.Errorf("systemUUID(%s) = %q (%s), want %q (%s)", tc.raw, got, order, tc.want, tc.order)
			}
		})
	}
}

// TestSystemUUIDEitherOrderRoundTrips: every RFC 4122 UUID sent in either
// byte order comes back as it was.
func TestSystemUUIDEitherOrderRoundTrips(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		var u [16]byte
		for j := range u {
			u[j] = byte(r.Uint32())
		}
		u[6] = u[6]&0x0f | byte(1+i%7)<<4
		u[8] = u[8]&0x3f | 0x80
		want := formatUUID(u)
		smbios := u
		smbios[0], smbios[1], smbios[2], smbios[3] = u[3], u[2], u[1], u[0]
		smbios[4], smbios[5], smbios[6], smbios[7] = u[5], u[4], u[7], u[6]
		if got, order := systemUUID(smbios); got != want || order != guidSMBIOS {
			t.Fatalf("%s in SMBIOS order read as %s (%s)", want, got, order)
		}
		var ipmi [16]byte
		for j := range u {
			ipmi[j] = u[15-j]
		}
		if got, order := systemUUID(ipmi); got != want || order != guidIPMI {
			t.Fatalf("%s in IPMI order read as %s (%s)", want, got, order)
		}
	}
}

// testFRU is FRU 0 of the test BMCs: a chassis area and a product area.
func testFRU(t *testing.T, productSerial string) []byte {
	t.Helper()
	b, err := types.PackFRUInventory(&types.FRU{
		ChassisInfoArea: &types.FRUChassisInfoArea{ChassisType: 0x17, PartNumber: []byte("RP-CH-1U"), SerialNumber: []byte("RPCH00042")},
		ProductInfoArea: &types.FRUProductInfoArea{
			Manufacturer: []byte("Rackpulse Test"), Name: []byte("ipmi_sim server"), PartModel: []byte("RP-SIM-1"),
			Version: []byte("1.0"), SerialNumber: []byte(productSerial), AssetTag: []byte("rp-test-asset"),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestProductSerialDecoding(t *testing.T) {
	fru := testFRU(t, "RPSIM00042")
	off, err := fruProductOffset(fru[:8], len(fru))
	if err != nil || off == 0 {
		t.Fatalf("product offset %d, %v", off, err)
	}
	area := fru[off : off+int(fru[off+1])*8]
	if s, err := productSerial(area); err != nil || s != "RPSIM00042" {
		t.Errorf("product serial %q, %v", s, err)
	}

	// 6-bit packed ASCII and trailing blanks, as some FRU images have.
	sixBit := []byte{0x01, 0x03, 0x19, 0xc0, 0xc0, 0xc0, 0xc0, 0x83, 0xa1, 0x38, 0x52, 0xc0, 0xc0, 0xc1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	sixBit[len(sixBit)-1] = -fruChecksum(sixBit[:len(sixBit)-1])
	if s, err := productSerial(sixBit); err != nil || s != "ABC4" {
		t.Errorf("6-bit ASCII serial %q, %v", s, err)
	}

	bad := append([]byte(nil), area...)
	bad[5] ^= 0xff
	if _, err := productSerial(bad); bmc.KindOf(err) != bmc.ErrKindMalformed {
		t.Errorf("area with a bad checksum: %v, want malformed", err)
	}
	hdr := append([]byte(nil), fru[:8]...)
	hdr[7]++
	if _, err := fruProductOffset(hdr, len(fru)); bmc.KindOf(err) != bmc.ErrKindMalformed {
		t.Errorf("header with a bad checksum: %v, want malformed", err)
	}
	noProduct, _ := types.PackFRUInventory(&types.FRU{ChassisInfoArea: &types.FRUChassisInfoArea{ChassisType: 0x17}})
	if off, err := fruProductOffset(noProduct[:8], len(noProduct)); off != 0 || err != nil {
		t.Errorf("FRU without a product area: offset %d, %v", off, err)
	}
}

// addFRU gives the ipmi_sim BMC FRU data (device 0) through its console.
func (s *sim) addFRU(fru []byte) {
	var b strings.Builder
	fmt.Fprintf(&b, "mc_add_fru_data 0x20 0 %d data", len(fru))
	for _, x := range fru {
		fmt.Fprintf(&b, " 0x%02x", x)
	}
	s.consoleCmd(b.String())
}

// toolGUID returns the UUID `ipmitool mc guid [mode]` prints, and the
// encoding it names when left to detect it.
func (s *sim) toolGUID(mode ...string) (uuid, encoding string) {
	out := s.ipmitool(append([]string{"mc", "guid"}, mode...)...)
	for _, line := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "System GUID":
			uuid = strings.ToLower(strings.TrimSpace(v))
		case "GUID Encoding":
			encoding, _, _ = strings.Cut(strings.TrimSpace(v), " ")
		}
	}
	return uuid, encoding
}

// toolFRU returns the fields of `ipmitool fru print 0`.
func (s *sim) toolFRU() map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(s.ipmitool("fru", "print", "0"), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			m[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return m
}

// TestSystemIdentityEqualsIpmitool: the system UUID the collector reads
// from ipmi_sim is what `ipmitool mc guid` prints (left to detect the
// encoding, and told SMBIOS), the serial is ipmitool's Product Serial, and
// both are read once, not on every poll.
func TestSystemIdentityEqualsIpmitool(t *testing.T) {
	s := startSim(t)
	s.addFRU(testFRU(t, "RPSIM00042"))
	traces := &traceLog{}
	c := newCollector(t, s.endpoint(""), bmc.CollectorOptions{Trace: traces.add})
	snap := mustPoll(t, c)
	if len(snap.Poll.Errors) != 0 {
		t.Errorf("part errors: %+v", snap.Poll.Errors)
	}
	if len(snap.Systems) != 1 {
		t.Fatalf("systems: %+v", snap.Systems)
	}
	sys := snap.Systems[0]
	auto, enc := s.toolGUID()
	smbios, _ := s.toolGUID("smbios")
	if sys.UUID != "3f2a8c1e-9b4d-4e7a-a6c5-1d2e3f405162" || sys.UUID != auto || sys.UUID != smbios || enc != "SMBIOS" {
		t.Errorf("UUID %q; ipmitool mc guid %q (encoding %s), mc guid smbios %q", sys.UUID, auto, enc, smbios)
	}
	if fru := s.toolFRU(); sys.Serial != "RPSIM00042" || sys.Serial != fru["Product Serial"] {
		t.Errorf("serial %q; ipmitool fru print 0: %v", sys.Serial, fru)
	}
	// The header, then the 80-byte product area in pieces of 32: the
	// chassis area is never read.
	if n := traces.count(cmdReadFRUData.Name); n != 4 {
		t.Errorf("%d Read FRU Data, want 4", n)
	}

	traces.reset()
	snap = mustPoll(t, c)
	if n := traces.count(cmdGetSystemGUID.Name) + traces.count(cmdGetFRUAreaInfo.Name) + traces.count(cmdReadFRUData.Name); n != 0 {
		t.Errorf("identity read again (%d commands) before the static cadence came round", n)
	}
	if got := snap.Systems[0]; got.UUID != sys.UUID || got.Serial != sys.Serial {
		t.Errorf("second poll: %+v, want the identity carried over", got)
	}

	// The static cadence comes round: read again.
	at := time.Now().Add(2 * time.Hour)
	c.now = func() time.Time { return at }
	traces.reset()
	snap = mustPoll(t, c)
	if traces.count(cmdGetSystemGUID.Name) != 1 || traces.count(cmdGetFRUAreaInfo.Name) != 1 || snap.Systems[0].UUID != sys.UUID {
		t.Errorf("after the static interval: %d Get System GUID, %d Get FRU Inventory Area Info, system %+v",
			traces.count(cmdGetSystemGUID.Name), traces.count(cmdGetFRUAreaInfo.Name), snap.Systems[0])
	}
}

// TestSystemGUIDInIPMIOrder: a BMC that sends the GUID as the IPMI
// specification lays it out (every byte reversed) gives the same UUID as
// `ipmitool mc guid ipmi`, which ipmitool's own detection picks too.
func TestSystemGUIDInIPMIOrder(t *testing.T) {
	// 6b1c0f3e-2a4d-4c8e-9f7a-0123456789ab, reversed.
	s := startSimGUID(t, "ab89674523017a9f8e4c4d2a3e0f1c6b")
	c := newCollector(t, s.endpoint(""), bmc.CollectorOptions{})
	snap := mustPoll(t, c)
	auto, enc := s.toolGUID()
	ipmi, _ := s.toolGUID("ipmi")
	if got := snap.Systems[0].UUID; got != "6b1c0f3e-2a4d-4c8e-9f7a-0123456789ab" || got != auto || got != ipmi || enc != "IPMI" {
		t.Errorf("UUID %q; ipmitool mc guid %q (encoding %s), mc guid ipmi %q", got, auto, enc, ipmi)
	}
}

// TestBMCWithoutGUIDOrFRU: "invalid command" to Get System GUID and
// "invalid data field" to Get FRU Inventory Area Info (ipmi_sim without a
// GUID or FRU data) leave UUID and serial empty and are no part errors.
func TestBMCWithoutGUIDOrFRU(t *testing.T) {
	s := startSimGUID(t, "")
	ep := s.endpoint("")
	ep.IPMIv15 = true // ipmi_sim needs a GUID for RMCP+
	traces := &traceLog{}
	c := newCollector(t, ep, bmc.CollectorOptions{Trace: traces.add})
	snap := mustPoll(t, c)
	if len(snap.Poll.Errors) != 0 {
		t.Errorf("part errors: %+v", snap.Poll.Errors)
	}
	if len(snap.Systems) != 1 || snap.Systems[0].UUID != "" || snap.Systems[0].Serial != "" || snap.Systems[0].PowerState != "Off" {
		t.Errorf("systems: %+v", snap.Systems)
	}
	if traces.count(cmdGetSystemGUID.Name) != 1 || traces.count(cmdGetFRUAreaInfo.Name) != 1 || traces.count(cmdReadFRUData.Name) != 0 {
		t.Errorf("commands: %d Get System GUID, %d Get FRU Inventory Area Info, %d Read FRU Data; want 1, 1, 0",
			traces.count(cmdGetSystemGUID.Name), traces.count(cmdGetFRUAreaInfo.Name), traces.count(cmdReadFRUData.Name))
	}
}

// TestSimSystemIdentity: polling the project simulator's IPMI BMCs, the
// system UUID (Get System GUID in SMBIOS order) and serial (FRU product
// serial) are what each BMC says it publishes.
func TestSimSystemIdentity(t *testing.T) {
	f := startIPMIFleet(t, 2)
	for _, b := range f.BMCs() {
		c := newCollector(t, fleetEndpoint(b), bmc.CollectorOptions{})
		snap := cleanPoll(t, c)
		if len(snap.Systems) != 1 {
			t.Fatalf("%s: systems %+v", b.Name(), snap.Systems)
		}
		if s := snap.Systems[0]; s.UUID != b.SystemUUID() || s.Serial != b.SystemSerial() || s.UUID == "" || s.Serial == "" {
			t.Errorf("%s: system UUID %q serial %q, the BMC says %q %q", b.Name(), s.UUID, s.Serial, b.SystemUUID(), b.SystemSerial())
		}
	}
}
