package agent

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The SMBIOS fixtures under testdata/<host>/sys/firmware/dmi/tables, and
// the /sys/class/dmi/id files the kernel derives from them, are written by
// TestWriteSMBIOSFixtures from the hosts below, following DSP0134 3.x
// structure by structure. Their values are those of real machines of each
// model (names, part numbers, locator conventions, firmware versions); the
// serial numbers are made up. Each host also gets dmidecode.bin (the
// tables in dmidecode --dump-bin's layout) and, where dmidecode is
// installed, dmidecode.txt (dmidecode --from-dump's decoding), which
// TestDIMMSlotsAgreeWithDmidecode checks the decoder against.
//
// Rewrite them with: RACKPULSE_WRITE_FIXTURES=1 go test ./agent -run TestWriteSMBIOSFixtures

type fixtureHost struct {
	dir string
	// SMBIOS version; 3.x hosts get a 64-bit entry point, older a 32-bit
	// one.
	major, minor, docrev byte
	tableAddr            uint64

	biosVendor, biosVersion, biosDate string
	biosMajor, biosMinor              byte

	sysVendor, sysProduct, sysVersion, sysSerial, sysUUID, sysSKU, sysFamily string
	boardVendor, boardProduct, boardVersion, boardSerial                     string
	chassisVendor, chassisVersion, chassisSerial, chassisAsset               string
	chassisType, chassisHeight                                               byte

	cpus   []fixtureCPU
	arrays []fixtureArray
}

type fixtureCPU struct {
	socket, vendor, version      string
	family                       byte
	family2                      uint16
	id                           uint64
	extClock, maxMHz, curMHz     uint16
	cores, threads               uint16
	upgrade                      byte
	characteristics              uint16
	voltage                      byte
	serial, assetTag, partNumber string
	l1Handle, l2Handle, l3Handle uint16
}

type fixtureArray struct {
	maxCapacityKiB uint64
	slots          []fixtureDIMM
}

type fixtureDIMM struct {
	locator, bank              string
	sizeMiB                    int
	memType                    byte
	typeDetail                 uint16
	speed, configuredSpeed     int
	manufacturer, serial       string
	assetTag, partNumber       string
	rank                       byte
	moduleMfrID, moduleProduct uint16
	voltageMV                  uint16
}

// smbiosStrings collects a structure's strings and hands out their
// numbers.
type smbiosStrings []string

func (s *smbiosStrings) add(v string) byte {
	if v == "" {
		return 0
	}
	for i, have := range *s {
		if have == v {
			return byte(i + 1)
		}
	}
	*s = append(*s, v)
	return byte(len(*s))
}

// smbiosWriter builds a structure table.
type smbiosWriter struct {
	buf        bytes.Buffer
	count      int
	maxSize    int
	nextHandle uint16
}

// add appends a structure: header, formatted area (after the header) and
// string set.
func (w *smbiosWriter) add(typ byte, formatted []byte, strs smbiosStrings) uint16 {
	h := w.nextHandle
	w.nextHandle++
	start := w.buf.Len()
	w.buf.WriteByte(typ)
	w.buf.WriteByte(byte(4 + len(formatted)))
	_ = binary.Write(&w.buf, binary.LittleEndian, h)
	w.buf.Write(formatted)
	if len(strs) == 0 {
		w.buf.Write([]byte{0, 0})
	} else {
		for _, s := range strs {
			w.buf.WriteString(s)
			w.buf.WriteByte(0)
		}
		w.buf.WriteByte(0)
	}
	w.count++
	w.maxSize = max(w.maxSize, w.buf.Len()-start)
	return h
}

// smbiosLE is a little-endian field writer.
type smbiosLE struct{ bytes.Buffer }

func (b *smbiosLE) u8(v byte)    { b.WriteByte(v) }
func (b *smbiosLE) u16(v uint16) { _ = binary.Write(&b.Buffer, binary.LittleEndian, v) }
func (b *smbiosLE) u32(v uint32) { _ = binary.Write(&b.Buffer, binary.LittleEndian, v) }
func (b *smbiosLE) u64(v uint64) { _ = binary.Write(&b.Buffer, binary.LittleEndian, v) }

// uuidBytes encodes a UUID as SMBIOS 2.6+ stores it: the first three
// fields little-endian.
func uuidBytes(s string) []byte {
	hex := strings.ReplaceAll(s, "-", "")
	b := make([]byte, 16)
	for i := range b {
		v, _ := strconv.ParseUint(hex[2*i:2*i+2], 16, 8)
		b[i] = byte(v)
	}
	b[0], b[1], b[2], b[3] = b[3], b[2], b[1], b[0]
	b[4], b[5] = b[5], b[4]
	b[6], b[7] = b[7], b[6]
	return b
}

func (h fixtureHost) v3() bool { return h.major >= 3 }

// version is the SMBIOS version as one number: 0x0302 for 3.2.
func (h fixtureHost) version() int { return int(h.major)<<8 | int(h.minor) }

// table builds the host's structure table.
func (h fixtureHost) table() (*smbiosWriter, error) {
	w := &smbiosWriter{}
	v := h.version()

	// Type 0, BIOS Information.
	{
		var s smbiosStrings
		var f smbiosLE
		f.u8(s.add(h.biosVendor))
		f.u8(s.add(h.biosVersion))
		f.u16(0xF000)
		f.u8(s.add(h.biosDate))
		if v >= 0x0301 {
			f.u8(0xFF) // 16 MB and more: see the extended size
		} else {
			f.u8(0x7F) // (n+1)*64K = 8 MB
		}
		// PCI, upgradeable, shadowing, boot from CD, selectable boot,
		// socketed ROM, EDD, print screen, 8042 keyboard, serial,
		// printer, CGA/mono video.
		f.u64(1<<7 | 1<<11 | 1<<12 | 1<<15 | 1<<16 | 1<<17 | 1<<19 | 1<<26 | 1<<27 | 1<<28 | 1<<29 | 1<<30)
		f.u8(0x03) // ACPI, USB legacy
		if v >= 0x0300 {
			f.u8(0x0B) // BIOS boot specification, network boot, UEFI
		} else {
			f.u8(0x03)
		}
		f.u8(h.biosMajor)
		f.u8(h.biosMinor)
		f.u8(0xFF)
		f.u8(0xFF)
		if v >= 0x0301 {
			f.u16(0x0020) // 32 MB
		}
		w.add(0, f.Bytes(), s)
	}
	// Type 1, System Information.
	{
		var s smbiosStrings
		var f smbiosLE
		f.u8(s.add(h.sysVendor))
		f.u8(s.add(h.sysProduct))
		f.u8(s.add(h.sysVersion))
		f.u8(s.add(h.sysSerial))
		f.Write(uuidBytes(h.sysUUID))
		f.u8(0x06) // wake-up: power switch
		f.u8(s.add(h.sysSKU))
		f.u8(s.add(h.sysFamily))
		w.add(1, f.Bytes(), s)
	}
	// Type 3 first (the baseboard refers to it), then type 2.
	chassisHandle := w.nextHandle + 1
	{
		var s smbiosStrings
		var f smbiosLE
		f.u8(s.add(h.boardVendor))
		f.u8(s.add(h.boardProduct))
		f.u8(s.add(h.boardVersion))
		f.u8(s.add(h.boardSerial))
		f.u8(s.add(""))
		f.u8(0x09) // hosting board, replaceable
		f.u8(s.add(""))
		f.u16(chassisHandle)
		f.u8(0x0A) // motherboard
		f.u8(0)
		w.add(2, f.Bytes(), s)
	}
	{
		var s smbiosStrings
		var f smbiosLE
		f.u8(s.add(h.chassisVendor))
		f.u8(h.chassisType)
		f.u8(s.add(h.chassisVersion))
		f.u8(s.add(h.chassisSerial))
		f.u8(s.add(h.chassisAsset))
		f.u8(0x03) // boot-up state safe
		f.u8(0x03) // power supply state safe
		f.u8(0x03) // thermal state safe
		f.u8(0x03) // security none
		f.u32(0)
		f.u8(h.chassisHeight)
		f.u8(2) // power cords
		f.u8(0) // contained elements
		f.u8(0) // element record length
		if v >= 0x0207 {
			f.u8(s.add(""))
		}
		w.add(3, f.Bytes(), s)
	}
	// Type 4, Processor Information.
	for _, c := range h.cpus {
		var s smbiosStrings
		var f smbiosLE
		f.u8(s.add(c.socket))
		f.u8(0x03) // central processor
		f.u8(c.family)
		f.u8(s.add(c.vendor))
		f.u64(c.id)
		f.u8(s.add(c.version))
		f.u8(c.voltage)
		f.u16(c.extClock)
		f.u16(c.maxMHz)
		f.u16(c.curMHz)
		f.u8(0x41) // socket populated, CPU enabled
		f.u8(c.upgrade)
		f.u16(c.l1Handle)
		f.u16(c.l2Handle)
		f.u16(c.l3Handle)
		f.u8(s.add(c.serial))
		f.u8(s.add(c.assetTag))
		f.u8(s.add(c.partNumber))
		f.u8(byte(c.cores))
		f.u8(byte(c.cores))
		f.u8(byte(c.threads))
		f.u16(c.characteristics)
		f.u16(c.family2)
		if v >= 0x0300 {
			f.u16(c.cores)
			f.u16(c.cores)
			f.u16(c.threads)
		}
		w.add(4, f.Bytes(), s)
	}
	// Type 16 and its type 17 devices.
	for _, a := range h.arrays {
		var f smbiosLE
		f.u8(0x03) // system board
		f.u8(0x03) // system memory
		f.u8(0x06) // multi-bit ECC
		if a.maxCapacityKiB >= 0x80000000 {
			f.u32(0x80000000)
		} else {
			f.u32(uint32(a.maxCapacityKiB))
		}
		f.u16(0xFFFE) // no error information
		f.u16(uint16(len(a.slots)))
		if v >= 0x0207 {
			if a.maxCapacityKiB >= 0x80000000 {
				f.u64(a.maxCapacityKiB * 1024)
			} else {
				f.u64(0)
			}
		}
		array := w.add(16, f.Bytes(), nil)
		for _, d := range a.slots {
			f, s := d.formatted(array, v)
			w.add(17, f, s)
		}
	}
	// Type 127, End-of-Table.
	w.add(127, nil, nil)
	return w, nil
}

// formatted is a type 17 structure's formatted area (after the header)
// and strings, as long as SMBIOS version v has it.
func (d fixtureDIMM) formatted(array uint16, v int) ([]byte, smbiosStrings) {
	var s smbiosStrings
	var f smbiosLE
	f.u16(array)
	f.u16(0xFFFE) // no error information
	f.u16(72)     // total width: 64 data + 8 ECC bits
	f.u16(64)
	switch {
	case d.sizeMiB == 0:
		f.u16(0)
	case d.sizeMiB >= 0x7FFF:
		f.u16(0x7FFF)
	default:
		f.u16(uint16(d.sizeMiB))
	}
	f.u8(0x09) // DIMM
	f.u8(0)    // no device set
	f.u8(s.add(d.locator))
	f.u8(s.add(d.bank))
	f.u8(d.memType)
	f.u16(d.typeDetail)
	f.u16(uint16(d.speed))
	f.u8(s.add(d.manufacturer))
	f.u8(s.add(d.serial))
	f.u8(s.add(d.assetTag))
	f.u8(s.add(d.partNumber))
	f.u8(d.rank)
	if v < 0x0207 {
		return f.Bytes(), s
	}
	if d.sizeMiB >= 0x7FFF {
		f.u32(uint32(d.sizeMiB))
	} else {
		f.u32(0)
	}
	f.u16(uint16(d.configuredSpeed))
	if v < 0x0208 {
		return f.Bytes(), s
	}
	f.u16(d.voltageMV)
	f.u16(d.voltageMV)
	f.u16(d.voltageMV)
	if v < 0x0302 {
		return f.Bytes(), s
	}
	if d.sizeMiB == 0 {
		f.u8(0x02) // technology unknown
		f.u16(0x0002)
	} else {
		f.u8(0x03)    // DRAM
		f.u16(0x0008) // volatile memory
	}
	f.u8(s.add(""))
	f.u16(d.moduleMfrID)
	f.u16(d.moduleProduct)
	f.u16(0)
	f.u16(0)
	f.u64(0) // non-volatile size
	if d.sizeMiB > 0 {
		f.u64(uint64(d.sizeMiB) << 20)
	} else {
		f.u64(0)
	}
	f.u64(0) // cache size
	f.u64(0) // logical size
	if v < 0x0303 {
		return f.Bytes(), s
	}
	f.u32(0) // extended speed: the speed fits the word
	f.u32(0)
	return f.Bytes(), s
}

// entryPoint is the entry point the kernel exposes for the table, at the
// table's physical address.
func (h fixtureHost) entryPoint(w *smbiosWriter, addr uint64) []byte {
	if h.v3() {
		var f smbiosLE
		f.WriteString("_SM3_")
		f.u8(0) // checksum
		f.u8(0x18)
		f.u8(h.major)
		f.u8(h.minor)
		f.u8(h.docrev)
		f.u8(0x01) // entry point revision 3.0
		f.u8(0)
		f.u32(uint32(w.buf.Len()))
		f.u64(addr)
		b := f.Bytes()
		b[5] = -smbiosSum(b)
		return b
	}
	var f smbiosLE
	f.WriteString("_SM_")
	f.u8(0)
	f.u8(0x1F)
	f.u8(h.major)
	f.u8(h.minor)
	f.u16(uint16(w.maxSize))
	f.u8(0)
	f.Write(make([]byte, 5))
	f.WriteString("_DMI_")
	f.u8(0)
	f.u16(uint16(w.buf.Len()))
	f.u32(uint32(addr))
	f.u16(uint16(w.count))
	f.u8(h.major<<4 | h.minor)
	b := f.Bytes()
	b[0x15] = -smbiosSum(b[0x10:0x1F])
	b[0x04] = -smbiosSum(b[:0x1F])
	return b
}

func smbiosSum(b []byte) byte {
	var s byte
	for _, c := range b {
		s += c
	}
	return s
}

// uuidString is the UUID as the kernel prints product_uuid.
func uuidString(s string) string { return strings.ToLower(s) }

// write writes the host's SMBIOS fixture files under dir.
func (h fixtureHost) write(dir string) error {
	w, err := h.table()
	if err != nil {
		return err
	}
	tables := filepath.Join(dir, "sys/firmware/dmi/tables")
	if err := os.MkdirAll(tables, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(tables, "smbios_entry_point"), h.entryPoint(w, h.tableAddr), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(tables, "DMI"), w.buf.Bytes(), 0o644); err != nil {
		return err
	}
	// dmidecode --dump-bin's layout: the entry point at 0, its table
	// address patched to 32, the table at 32.
	dump := make([]byte, 32)
	copy(dump, h.entryPoint(w, 32))
	dump = append(dump, w.buf.Bytes()...)
	if err := os.WriteFile(filepath.Join(dir, "dmidecode.bin"), dump, 0o644); err != nil {
		return err
	}
	id := filepath.Join(dir, "sys/class/dmi/id")
	if err := os.MkdirAll(id, 0o755); err != nil {
		return err
	}
	files := map[string]string{
		"bios_vendor":       h.biosVendor,
		"bios_version":      h.biosVersion,
		"bios_date":         h.biosDate,
		"bios_release":      fmt.Sprintf("%d.%d", h.biosMajor, h.biosMinor),
		"sys_vendor":        h.sysVendor,
		"product_name":      h.sysProduct,
		"product_version":   h.sysVersion,
		"product_serial":    h.sysSerial,
		"product_uuid":      uuidString(h.sysUUID),
		"product_sku":       h.sysSKU,
		"product_family":    h.sysFamily,
		"board_vendor":      h.boardVendor,
		"board_name":        h.boardProduct,
		"board_version":     h.boardVersion,
		"board_serial":      h.boardSerial,
		"board_asset_tag":   "",
		"chassis_vendor":    h.chassisVendor,
		"chassis_type":      strconv.Itoa(int(h.chassisType)),
		"chassis_version":   h.chassisVersion,
		"chassis_serial":    h.chassisSerial,
		"chassis_asset_tag": h.chassisAsset,
	}
	for name, v := range files {
		if err := os.WriteFile(filepath.Join(id, name), []byte(v+"\n"), 0o644); err != nil {
			return err
		}
	}
	if path, err := exec.LookPath("dmidecode"); err == nil {
		out, err := exec.Command(path, "--from-dump", filepath.Join(dir, "dmidecode.bin")).CombinedOutput()
		if err != nil {
			return fmt.Errorf("dmidecode --from-dump: %v: %s", err, out)
		}
		if err := os.WriteFile(filepath.Join(dir, "dmidecode.txt"), out, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func TestWriteSMBIOSFixtures(t *testing.T) {
	if os.Getenv("RACKPULSE_WRITE_FIXTURES") == "" {
		t.Skip("set RACKPULSE_WRITE_FIXTURES=1 to rewrite the SMBIOS fixtures")
	}
	for _, h := range fixtureHosts() {
		if err := h.write(filepath.Join("testdata", h.dir)); err != nil {
			t.Fatalf("%s: %v", h.dir, err)
		}
	}
}

// fixtureHosts are the machines the fixtures describe.
func fixtureHosts() []fixtureHost {
	return []fixtureHost{supermicroX11DPi(), dellR710(), dellR7525()}
}

// supermicroX11DPi is a Supermicro SYS-6029P-TR (X11DPi-N board) with two
// Xeon Gold 6230 and one 32 GB DDR4-2933 RDIMM per channel: 12 of its 24
// slots (P1-DIMMA1..P2-DIMMF2) populated.
func supermicroX11DPi() fixtureHost {
	h := fixtureHost{
		dir: "supermicro-x11dpi", major: 3, minor: 2, docrev: 0, tableAddr: 0x6C3A1000,
		biosVendor: "American Megatrends Inc.", biosVersion: "3.4", biosDate: "11/04/2020", biosMajor: 5, biosMinor: 14,
		sysVendor: "Supermicro", sysProduct: "SYS-6029P-TR", sysVersion: "0123456789", sysSerial: "S292395X0B13547",
		sysUUID: "00000000-0000-0000-0000-AC1F6B4A2C18", sysSKU: "To be filled by O.E.M.", sysFamily: "To be filled by O.E.M.",
		boardVendor: "Supermicro", boardProduct: "X11DPi-N", boardVersion: "1.10", boardSerial: "ZM19AS012345",
		chassisVendor: "Supermicro", chassisVersion: "0123456789", chassisSerial: "C8290KI12A30123", chassisAsset: "To be filled by O.E.M.",
		chassisType: 0x17, chassisHeight: 0,
	}
	for i := 1; i <= 2; i++ {
		h.cpus = append(h.cpus, fixtureCPU{
			socket: fmt.Sprintf("CPU%d", i), vendor: "Intel(R) Corporation", version: "Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz",
			family: 0xB3, family2: 0xB3, id: 0xBFEBFBFF00050657, voltage: 0x90, extClock: 100, maxMHz: 4000, curMHz: 2100,
			cores: 20, threads: 40, upgrade: 0x36, characteristics: 0x00FC, l1Handle: 0xFFFF, l2Handle: 0xFFFF, l3Handle: 0xFFFF,
		})
	}
	samsung := []string{"03A1B2C4", "03A1B2D9", "03A1B1F0", "03A1B30E", "03A1B2A7", "03A1B2C1",
		"03A1B412", "03A1B3FD", "03A1B2E3", "03A1B40A", "03A1B3C8", "03A1B2B5"}
	n := 0
	for sock := 0; sock < 2; sock++ {
		a := fixtureArray{maxCapacityKiB: 3 << 30} // 3 TB
		for ch := 0; ch < 6; ch++ {
			for slot := 0; slot < 2; slot++ {
				d := fixtureDIMM{
					locator:  fmt.Sprintf("P%d-DIMM%c%d", sock+1, 'A'+ch, slot+1),
					bank:     fmt.Sprintf("P%d_Node%d_Channel%d_Dimm%d", sock, sock, ch, slot),
					assetTag: fmt.Sprintf("P%d-DIMM%c%d_AssetTag (date:19/45)", sock+1, 'A'+ch, slot+1),
				}
				if slot == 0 {
					d.sizeMiB, d.memType, d.typeDetail = 32768, 0x1A, 0x2080
					d.speed, d.configuredSpeed, d.rank, d.voltageMV = 2933, 2933, 2, 1200
					d.manufacturer, d.serial, d.partNumber = "Samsung", samsung[n], "M393A4K40CB2-CVF"
					d.moduleMfrID, d.moduleProduct = 0xCE80, 0
					n++
				} else {
					d.memType, d.typeDetail = 0x02, 0x0004
					d.manufacturer, d.serial, d.partNumber, d.assetTag = "NO DIMM", "NO DIMM", "NO DIMM", "NO DIMM"
				}
				a.slots = append(a.slots, d)
			}
		}
		h.arrays = append(h.arrays, a)
	}
	return h
}

// dellR710 is a Dell PowerEdge R710 (BIOS 6.4.0, SMBIOS 2.6) with two
// Xeon X5650 and twelve 8 GB DDR3-1333 RDIMMs in DIMM_A1-A6 and
// DIMM_B1-B6 of its 18 slots.
func dellR710() fixtureHost {
	h := fixtureHost{
		dir: "dell-r710", major: 2, minor: 6, tableAddr: 0x000CF45C,
		biosVendor: "Dell Inc.", biosVersion: "6.4.0", biosDate: "07/23/2013", biosMajor: 6, biosMinor: 4,
		sysVendor: "Dell Inc.", sysProduct: "PowerEdge R710", sysSerial: "7QJ2K4J",
		sysUUID:     "4C4C4544-0051-4A10-8032-B7C04F4B344A",
		boardVendor: "Dell Inc.", boardProduct: "0YDJK3", boardVersion: "A11", boardSerial: "..CN1374014H0123.",
		chassisVendor: "Dell Inc.", chassisSerial: "7QJ2K4J", chassisType: 0x17, chassisHeight: 2,
	}
	for i := 1; i <= 2; i++ {
		h.cpus = append(h.cpus, fixtureCPU{
			socket: fmt.Sprintf("CPU%d", i), vendor: "Intel", version: "Intel(R) Xeon(R) CPU           X5650  @ 2.67GHz",
			family: 0xB3, family2: 0xB3, id: 0xBFEBFBFF000206C2, voltage: 0x80 | 12, extClock: 6400, maxMHz: 3600, curMHz: 2666,
			cores: 6, threads: 12, upgrade: 0x19, characteristics: 0x00EC, l1Handle: 0x0700, l2Handle: 0x0701, l3Handle: 0x0702,
		})
	}
	serials := []string{"85A1B2C3", "85A1B2F7", "85A1B311", "85A1B2E0", "85A1B2D4", "85A1B34A",
		"85A1C019", "85A1BFF2", "85A1C0A8", "85A1C003", "85A1BFD7", "85A1C07E"}
	n := 0
	a := fixtureArray{maxCapacityKiB: 288 << 20} // 288 GB
	for _, sock := range []byte{'A', 'B'} {
		for i := 1; i <= 9; i++ {
			d := fixtureDIMM{locator: fmt.Sprintf("DIMM_%c%d", sock, i), memType: 0x18}
			if i <= 6 {
				d.sizeMiB, d.typeDetail, d.speed, d.rank = 8192, 0x2080, 1333, 2
				d.manufacturer, d.serial, d.partNumber = "00CE04B380CE", serials[n], "M393B1K70DH0-YH9"
				n++
			} else {
				d.typeDetail = 0x0080
			}
			a.slots = append(a.slots, d)
		}
	}
	h.arrays = []fixtureArray{a}
	return h
}

// dellR7525 is a Dell PowerEdge R7525 (BIOS 2.11.4, SMBIOS 3.3) with two
// EPYC 7543 and one 64 GB DDR4-3200 RDIMM per channel: 16 of its 32 slots
// (A1-A16, B1-B16; A1-A8 are the first slot of channels A-H).
func dellR7525() fixtureHost {
	h := fixtureHost{
		dir: "dell-r7525", major: 3, minor: 3, docrev: 0, tableAddr: 0xA8F1E000,
		biosVendor: "Dell Inc.", biosVersion: "2.11.4", biosDate: "03/14/2023", biosMajor: 2, biosMinor: 11,
		sysVendor: "Dell Inc.", sysProduct: "PowerEdge R7525", sysSerial: "9XKT8G3", sysSKU: "SKU=0A80;ModelName=PowerEdge R7525",
		sysFamily: "PowerEdge", sysUUID: "4C4C4544-0058-4B10-8054-B9C04F384733",
		boardVendor: "Dell Inc.", boardProduct: "0PYVT1", boardVersion: "A02", boardSerial: ".9XKT8G3.CNFCP0023A0091.",
		chassisVendor: "Dell Inc.", chassisSerial: "9XKT8G3", chassisType: 0x17, chassisHeight: 2,
	}
	for i := 1; i <= 2; i++ {
		h.cpus = append(h.cpus, fixtureCPU{
			socket: fmt.Sprintf("CPU.Socket.%d", i), vendor: "AMD", version: "AMD EPYC 7543 32-Core Processor",
			family: 0xFE, family2: 0x6B, id: 0x178BFBFF00A00F11, voltage: 0x80 | 11, extClock: 100, maxMHz: 3700, curMHz: 2800,
			cores: 32, threads: 64, upgrade: 0x37, characteristics: 0x00FC, l1Handle: 0x0700, l2Handle: 0x0701, l3Handle: 0x0702,
		})
	}
	hynix := 0x2A3B1C40
	a := fixtureArray{maxCapacityKiB: 4 << 30} // 4 TB
	for _, sock := range []byte{'A', 'B'} {
		for i := 1; i <= 16; i++ {
			d := fixtureDIMM{locator: fmt.Sprintf("%c%d", sock, i), memType: 0x1A}
			if i <= 8 {
				d.sizeMiB, d.typeDetail, d.speed, d.configuredSpeed, d.rank, d.voltageMV = 65536, 0x2080, 3200, 3200, 2, 1200
				d.manufacturer, d.serial, d.partNumber = "Hynix Semiconductor", fmt.Sprintf("%08X", hynix), "HMAA8GR7AJR4N-XN"
				d.moduleMfrID, d.moduleProduct = 0xAD80, 0
				hynix += 0x1F3
			} else {
				d.memType, d.typeDetail = 0x02, 0x0004
			}
			a.slots = append(a.slots, d)
		}
	}
	h.arrays = []fixtureArray{a}
	return h
}
