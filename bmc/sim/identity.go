package sim

import (
	"context"
	"fmt"
	"strings"

	"github.com/bougou/go-ipmi/pkg/hal"
	"github.com/bougou/go-ipmi/pkg/types"
)

// SystemUUID is the UUID of the BMC's system as the BMC publishes it
// (Redfish ComputerSystem.UUID, IPMI Get System GUID), in the form
// dmidecode prints on the host: lower case, 8-4-4-4-12. It is the same on
// every run (made from the seed of the BMC's name) and differs from the
// BMC's own UUID and device GUID. A BMC serving a mockup says what the
// mockup's first system says ("" when that is none or all zero).
func (b *SimBMC) SystemUUID() string {
	if b.machine != nil {
		return b.machine.systemUUID()
	}
	sys := b.mockupSystem()
	s, _ := sys["UUID"].(string)
	return canonicalUUID(s)
}

// SystemSerial is the serial number of the BMC's system as the BMC
// publishes it (Redfish ComputerSystem.SerialNumber, IPMI FRU product
// serial): the profile's prefix and the seed, the same on every run.
func (b *SimBMC) SystemSerial() string {
	if b.machine != nil {
		return b.machine.systemSerial()
	}
	sys := b.mockupSystem()
	s, _ := sys["SerialNumber"].(string)
	return strings.TrimSpace(s)
}

// mockupSystem is the first ComputerSystem of a mockup BMC's tree.
func (b *SimBMC) mockupSystem() map[string]any {
	if b.handler == nil {
		return nil
	}
	link := func(o map[string]any, key string) string {
		l, _ := o[key].(map[string]any)
		id, _ := l["@odata.id"].(string)
		return id
	}
	root, ok := b.handler.src.resource(ServiceRootPath)
	if !ok {
		return nil
	}
	coll, ok := b.handler.src.resource(normalizePath(link(root, "Systems")))
	if !ok {
		return nil
	}
	members, _ := coll["Members"].([]any)
	if len(members) == 0 {
		return nil
	}
	first, _ := members[0].(map[string]any)
	uri, _ := first["@odata.id"].(string)
	sys, _ := b.handler.src.resource(normalizePath(uri))
	return sys
}

// canonicalUUID is s lower case when it is a UUID other than all zero,
// else "".
func canonicalUUID(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if len(s) != 36 || strings.Trim(s, "0-") == "" {
		return ""
	}
	for i, c := range s {
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return ""
			}
		case (c < '0' || c > '9') && (c < 'a' || c > 'f'):
			return ""
		}
	}
	return s
}

// smbiosOrder lays out a UUID (print order) as SMBIOS type 1 stores it and
// as the simulated BMC sends it in Get System GUID: time_low, time_mid and
// time_hi_and_version least significant byte first, the rest as printed.
func smbiosOrder(u [16]byte) [16]byte {
	g := u
	g[0], g[1], g[2], g[3] = u[3], u[2], u[1], u[0]
	g[4], g[5] = u[5], u[4]
	g[6], g[7] = u[7], u[6]
	return g
}

// getSystemGUID answers Get System GUID (IPMI 2.0 section 22.14) with the
// system's UUID in SMBIOS byte order, as a BMC that hands back the host's
// SMBIOS bytes does: dmidecode on the host and a poller decoding SMBIOS
// order print the same UUID.
func (b *IPMIBMC) getSystemGUID([]byte) ([]byte, types.CompletionCode) {
	g := smbiosOrder(b.machine.systemUUIDBytes())
	return g[:], types.CodeOK
}

// fruChassisRackMount is the FRU chassis type of a rack mount chassis
// (SMBIOS 3.x table 17).
const fruChassisRackMount = 0x17

// buildFRU is FRU device 0 of a simulated IPMI BMC (Platform Management FRU
// Information Storage Definition 1.0): a chassis info area and a product
// info area whose serial number is the system's.
func buildFRU(m *machine) ([]byte, error) {
	p := m.profile
	b, err := types.PackFRUInventory(&types.FRU{
		ChassisInfoArea: &types.FRUChassisInfoArea{
			ChassisType:  fruChassisRackMount,
			PartNumber:   []byte("P40211-B21"),
			SerialNumber: []byte(m.systemSerial()),
		},
		ProductInfoArea: &types.FRUProductInfoArea{
			LanguageCode: 0x19, // English
			Manufacturer: []byte(p.manufacturer),
			Name:         []byte(p.model),
			PartModel:    []byte("RS220-G3"),
			Version:      []byte("A03"),
			SerialNumber: []byte(m.systemSerial()),
			AssetTag:     []byte(m.name),
		},
	})
	if err != nil {
		return nil, fmt.Errorf("FRU data: %w", err)
	}
	return b, nil
}

// buildDIMMFRU is the FRU data of DIMM i (FRU device i+1, named by its
// FRU device locator): a board info area with the module's serial number,
// a new one after each replacement (gen).
func buildDIMMFRU(m *machine, i, gen int) ([]byte, error) {
	b, err := types.PackFRUInventory(&types.FRU{
		BoardInfoArea: &types.FRUBoardInfoArea{
			LanguageCode: 0x19, // English
			Manufacturer: []byte("SK Hynix"),
			ProductName:  []byte("32GB DDR4-2933 RDIMM"),
			SerialNumber: []byte(m.partSerial(m.profile.layout.dimmSerialPrefix, partSlot{partDIMM, i}, gen)),
			PartNumber:   []byte("HMA84GR7CJR4N-WM"),
		},
	})
	if err != nil {
		return nil, fmt.Errorf("DIMM FRU data: %w", err)
	}
	return b, nil
}

// ipmiStorage is the go-ipmi storage HAL of one BMC: FRU device 0 (the
// system) and one FRU device per DIMM (the SDR repository is answered by
// the simulator's own handlers).
type ipmiStorage struct{ b *IPMIBMC }

func (s ipmiStorage) FRU() hal.FRUStore { return ipmiFRU(s) }
func (s ipmiStorage) SDR() hal.SDRStore { return nil }

// ipmiFRU is the read-only FRU store behind go-ipmi's Get FRU Inventory
// Area Info and Read FRU Data handlers.
type ipmiFRU struct{ b *IPMIBMC }

func (f ipmiFRU) Read(_ context.Context, id uint8) ([]byte, error) {
	if id == 0 {
		return f.b.fru, nil
	}
	m := f.b.machine
	i := int(id) - 1
	if i >= len(m.profile.layout.dimms) {
		return nil, hal.ErrNotFound
	}
	return buildDIMMFRU(m, i, m.read().dimms[i].generation)
}

func (f ipmiFRU) Write(context.Context, uint8, []byte) error { return hal.ErrNotSupported }
func (f ipmiFRU) Delete(context.Context, uint8) error        { return hal.ErrNotSupported }
func (f ipmiFRU) DeviceIDs(context.Context) ([]uint8, error) {
	ids := []uint8{0}
	for i := range f.b.machine.profile.layout.dimms {
		ids = append(ids, uint8(i+1))
	}
	return ids, nil
}
