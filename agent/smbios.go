package agent

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// SMBIOS tables as the kernel exposes them (Documentation/ABI/testing/
// sysfs-firmware-dmi-tables). Both files are readable by root only.
const (
	smbiosEntryPointPath = "/sys/firmware/dmi/tables/smbios_entry_point"
	smbiosTablePath      = "/sys/firmware/dmi/tables/DMI"
)

// SMBIOS structure types read here (DMTF DSP0134).
const (
	smbiosTypePhysicalMemoryArray = 16
	smbiosTypeMemoryDevice        = 17
	smbiosTypeEndOfTable          = 127
)

// ReadDIMMSlots reads every memory slot, populated or not, from the SMBIOS
// type 17 (Memory Device) records in <root>/sys/firmware/dmi/tables. An
// empty slot has SizeMiB 0. Slots of arrays that are not system memory
// (flash, video, cache) are left out. What could not be read or decoded is
// a Problem; the slots decoded before it are kept.
//
// The entry point and the structure table are decoded here, per DSP0134
// 3.x: the one public Go decoder (github.com/digitalocean/go-smbios,
// unmaintained since 2018) gives up the whole table when a single structure
// is truncated or the end-of-table structure is missing, and has no type 17
// decoder. It is used in the tests as an independent check.
func ReadDIMMSlots(root string) ([]DIMMSlot, []Problem) {
	root = rootOrSlash(root)
	var problems []Problem

	table, err := readFileUnder(root, smbiosTablePath)
	if err != nil {
		return nil, []Problem{problemFrom(PartSMBIOS, smbiosTablePath, "reading the SMBIOS table", err)}
	}
	limit := len(table)
	ep, err := readFileUnder(root, smbiosEntryPointPath)
	if err != nil {
		problems = append(problems, problemFrom(PartSMBIOS, smbiosEntryPointPath, "reading the SMBIOS entry point (decoding the table without it)", err))
	} else {
		info, err := parseSMBIOSEntryPoint(ep)
		if err != nil {
			problems = append(problems, Problem{Part: PartSMBIOS, Path: smbiosEntryPointPath,
				Message: fmt.Sprintf("decoding the SMBIOS entry point (decoding the table without it): %v", err)})
		} else {
			for _, w := range info.warnings {
				problems = append(problems, Problem{Part: PartSMBIOS, Path: smbiosEntryPointPath, Message: w})
			}
			if info.tableLength > 0 && info.tableLength < limit && !info.maxLength {
				limit = info.tableLength
			}
			if info.tableLength > len(table) && !info.maxLength {
				problems = append(problems, Problem{Part: PartSMBIOS, Path: smbiosTablePath,
					Message: fmt.Sprintf("the SMBIOS %s entry point gives a table of %d bytes, the table has %d: decoding what there is",
						info.version, info.tableLength, len(table))})
			}
		}
	}

	structures, err := parseSMBIOSStructures(table[:limit])
	if err != nil {
		problems = append(problems, Problem{Part: PartSMBIOS, Path: smbiosTablePath,
			Message: fmt.Sprintf("decoding the SMBIOS table: %v (kept the %d structures before it)", err, len(structures))})
	}
	slots, decodeProblems := dimmSlotsFromStructures(structures)
	for _, m := range decodeProblems {
		problems = append(problems, Problem{Part: PartSMBIOS, Path: smbiosTablePath, Message: m})
	}
	return slots, problems
}

// smbiosEntryPoint is what the tables' entry point says of them.
type smbiosEntryPoint struct {
	version string
	// tableLength is the structure table's length (32-bit and legacy entry
	// points) or its maximum size (64-bit, maxLength set).
	tableLength int
	maxLength   bool
	// structures is the number of structures (32-bit entry point), 0 when
	// not given.
	structures int
	warnings   []string
}

// parseSMBIOSEntryPoint decodes a 32-bit ("_SM_", SMBIOS 2.1+), 64-bit
// ("_SM3_", SMBIOS 3.0+) or legacy ("_DMI_") entry point. A bad checksum is
// a warning, not an error: the kernel has already accepted the tables.
func parseSMBIOSEntryPoint(b []byte) (smbiosEntryPoint, error) {
	var ep smbiosEntryPoint
	switch {
	case bytes.HasPrefix(b, []byte("_SM3_")):
		if len(b) < 0x18 {
			return ep, fmt.Errorf("64-bit entry point of %d bytes, want at least 24", len(b))
		}
		n := int(b[0x06])
		if n < 0x18 || n > len(b) {
			n = min(0x18, len(b))
		}
		if !checksumOK(b[:n]) {
			ep.warnings = append(ep.warnings, "the 64-bit SMBIOS entry point's checksum is wrong")
		}
		ep.version = fmt.Sprintf("%d.%d.%d", b[0x07], b[0x08], b[0x09])
		ep.tableLength = int(binary.LittleEndian.Uint32(b[0x0C:0x10]))
		ep.maxLength = true
	case bytes.HasPrefix(b, []byte("_SM_")):
		if len(b) < 0x1F {
			return ep, fmt.Errorf("32-bit entry point of %d bytes, want at least 31", len(b))
		}
		n := int(b[0x05])
		if n < 0x1F || n > len(b) {
			n = 0x1F
		}
		if !checksumOK(b[:n]) {
			ep.warnings = append(ep.warnings, "the 32-bit SMBIOS entry point's checksum is wrong")
		}
		if !bytes.Equal(b[0x10:0x15], []byte("_DMI_")) {
			return ep, errors.New("32-bit entry point without its _DMI_ intermediate anchor")
		}
		if !checksumOK(b[0x10:0x1F]) {
			ep.warnings = append(ep.warnings, "the SMBIOS intermediate entry point's checksum is wrong")
		}
		ep.version = fmt.Sprintf("%d.%d", b[0x06], b[0x07])
		ep.tableLength = int(binary.LittleEndian.Uint16(b[0x16:0x18]))
		ep.structures = int(binary.LittleEndian.Uint16(b[0x1C:0x1E]))
	case bytes.HasPrefix(b, []byte("_DMI_")):
		if len(b) < 0x0F {
			return ep, fmt.Errorf("legacy DMI entry point of %d bytes, want 15", len(b))
		}
		if !checksumOK(b[:0x0F]) {
			ep.warnings = append(ep.warnings, "the legacy DMI entry point's checksum is wrong")
		}
		ep.version = fmt.Sprintf("%d.%d", b[0x0E]>>4, b[0x0E]&0x0F)
		ep.tableLength = int(binary.LittleEndian.Uint16(b[0x06:0x08]))
		ep.structures = int(binary.LittleEndian.Uint16(b[0x0C:0x0E]))
	default:
		head := b[:min(len(b), 5)]
		return ep, fmt.Errorf("no SMBIOS entry point anchor (starts with %q)", head)
	}
	return ep, nil
}

// checksumOK says whether the bytes add up to 0 modulo 256.
func checksumOK(b []byte) bool {
	var sum byte
	for _, c := range b {
		sum += c
	}
	return sum == 0
}

// smbiosStructure is one structure of the table: its header, its formatted
// area (header included, so that offsets are the spec's) and its strings.
type smbiosStructure struct {
	typ       byte
	handle    uint16
	formatted []byte
	strings   []string
}

// parseSMBIOSStructures splits a structure table into its structures, up
// to the end-of-table structure (type 127) or the table's end. It returns
// the structures decoded before any malformed one, and an error saying
// what was wrong with it.
func parseSMBIOSStructures(table []byte) ([]smbiosStructure, error) {
	var out []smbiosStructure
	off := 0
	for off < len(table) {
		if len(table)-off < 4 {
			return out, fmt.Errorf("%d stray bytes at offset %#x, too few for a structure header", len(table)-off, off)
		}
		typ, length := table[off], int(table[off+1])
		handle := binary.LittleEndian.Uint16(table[off+2 : off+4])
		if length < 4 {
			return out, fmt.Errorf("structure of type %d at offset %#x has length %d, less than its header", typ, off, length)
		}
		if off+length > len(table) {
			return out, fmt.Errorf("structure of type %d at offset %#x is truncated: formatted area of %d bytes, %d left", typ, off, length, len(table)-off)
		}
		rest := table[off+length:]
		end := bytes.Index(rest, []byte{0, 0})
		if end < 0 {
			return out, fmt.Errorf("structure of type %d (handle %#04x) at offset %#x: strings not terminated before the table's end", typ, handle, off)
		}
		s := smbiosStructure{typ: typ, handle: handle, formatted: table[off : off+length]}
		if end > 0 {
			s.strings = strings.Split(string(rest[:end]), "\x00")
		}
		out = append(out, s)
		off += length + end + 2
		if typ == smbiosTypeEndOfTable {
			break
		}
	}
	return out, nil
}

// smbiosReader reads fields of one structure's formatted area, giving zero
// values past its length (fields a structure of an older SMBIOS version
// does not have) and recording string indexes that point nowhere.
type smbiosReader struct {
	s          smbiosStructure
	badStrings []int
}

func (r *smbiosReader) has(off, size int) bool { return off+size <= len(r.s.formatted) }

func (r *smbiosReader) byteAt(off int) (byte, bool) {
	if !r.has(off, 1) {
		return 0, false
	}
	return r.s.formatted[off], true
}

func (r *smbiosReader) word(off int) (uint16, bool) {
	if !r.has(off, 2) {
		return 0, false
	}
	return binary.LittleEndian.Uint16(r.s.formatted[off:]), true
}

func (r *smbiosReader) dword(off int) (uint32, bool) {
	if !r.has(off, 4) {
		return 0, false
	}
	return binary.LittleEndian.Uint32(r.s.formatted[off:]), true
}

// str is the string a string-number field points to; 0 is "none".
func (r *smbiosReader) str(off int) string {
	idx, ok := r.byteAt(off)
	if !ok || idx == 0 {
		return ""
	}
	if int(idx) > len(r.s.strings) {
		r.badStrings = append(r.badStrings, off)
		return ""
	}
	return strings.TrimSpace(r.s.strings[idx-1])
}

// Type 17 (Memory Device) offsets, DSP0134 3.7 section 7.18.
const (
	t17ArrayHandle          = 0x04
	t17Size                 = 0x0C
	t17DeviceLocator        = 0x10
	t17BankLocator          = 0x11
	t17MemoryType           = 0x12
	t17Speed                = 0x15
	t17Manufacturer         = 0x17
	t17SerialNumber         = 0x18
	t17PartNumber           = 0x1A
	t17ExtendedSize         = 0x1C
	t17ExtendedSpeed        = 0x54
	t16Use                  = 0x05
	t16UseSystemMemory byte = 0x03
)

// dimmSlotsFromStructures decodes the type 17 structures, leaving out the
// devices of arrays (type 16) that are not system memory. It returns what
// it could not decode as messages.
func dimmSlotsFromStructures(ss []smbiosStructure) ([]DIMMSlot, []string) {
	var msgs []string
	notSystem := map[uint16]bool{}
	for _, s := range ss {
		if s.typ != smbiosTypePhysicalMemoryArray {
			continue
		}
		r := smbiosReader{s: s}
		if use, ok := r.byteAt(t16Use); ok && use != t16UseSystemMemory {
			notSystem[s.handle] = true
		}
	}
	var slots []DIMMSlot
	for _, s := range ss {
		if s.typ != smbiosTypeMemoryDevice {
			continue
		}
		r := &smbiosReader{s: s}
		if !r.has(t17BankLocator, 1) {
			msgs = append(msgs, fmt.Sprintf("memory device (handle %#04x) of %d bytes is too short to name its slot", s.handle, len(s.formatted)))
			continue
		}
		if array, ok := r.word(t17ArrayHandle); ok && notSystem[array] {
			continue
		}
		slot, msg := decodeMemoryDevice(r)
		if msg != "" {
			msgs = append(msgs, msg)
		}
		for _, off := range r.badStrings {
			msgs = append(msgs, fmt.Sprintf("memory device (handle %#04x) %q: string field at offset %#x points past its %d strings",
				s.handle, slot.Locator, off, len(s.strings)))
		}
		slots = append(slots, slot)
	}
	return slots, msgs
}

// decodeMemoryDevice decodes one type 17 structure's formatted area (any
// SMBIOS version from 2.1: fields past its length are left out).
func decodeMemoryDevice(r *smbiosReader) (DIMMSlot, string) {
	slot := DIMMSlot{
		Locator:     r.str(t17DeviceLocator),
		BankLocator: r.str(t17BankLocator),
	}
	var msg string
	size, _ := r.word(t17Size)
	switch {
	case size == 0:
		// No module installed: the strings of an empty slot are
		// placeholders ("NO DIMM", "Not Specified").
		return slot, ""
	case size == 0xFFFF:
		msg = fmt.Sprintf("memory device %q: size unknown", slot.Locator)
	case size == 0x7FFF:
		ext, ok := r.dword(t17ExtendedSize)
		if !ok {
			msg = fmt.Sprintf("memory device %q: size in the extended field, which the structure does not have", slot.Locator)
			break
		}
		slot.SizeMiB = int64(ext & 0x7FFFFFFF)
	case size&0x8000 != 0:
		slot.SizeMiB = int64(size&0x7FFF) / 1024 // KiB granularity
	default:
		slot.SizeMiB = int64(size)
	}
	if t, ok := r.byteAt(t17MemoryType); ok {
		slot.Type = memoryTypeName(t)
	}
	if speed, ok := r.word(t17Speed); ok {
		switch speed {
		case 0:
		case 0xFFFF:
			if ext, ok := r.dword(t17ExtendedSpeed); ok {
				slot.SpeedMTs = int(ext & 0x7FFFFFFF)
			}
		default:
			slot.SpeedMTs = int(speed)
		}
	}
	slot.Manufacturer = smbiosValue(r.str(t17Manufacturer))
	slot.Serial = smbiosValue(r.str(t17SerialNumber))
	slot.PartNumber = smbiosValue(r.str(t17PartNumber))
	return slot, msg
}

// smbiosValue is s, or "" for the placeholders firmware writes where it
// knows nothing.
func smbiosValue(s string) string {
	switch strings.ToLower(s) {
	case "not specified", "unknown", "undefined", "none", "n/a", "na", "not available", "no dimm", "empty":
		return ""
	}
	return s
}

// memoryTypeName names a type 17 Memory Type (DSP0134 3.7 table 76).
func memoryTypeName(t byte) string {
	names := map[byte]string{
		0x01: "Other", 0x02: "Unknown", 0x03: "DRAM", 0x04: "EDRAM", 0x05: "VRAM",
		0x06: "SRAM", 0x07: "RAM", 0x08: "ROM", 0x09: "Flash", 0x0A: "EEPROM",
		0x0B: "FEPROM", 0x0C: "EPROM", 0x0D: "CDRAM", 0x0E: "3DRAM", 0x0F: "SDRAM",
		0x10: "SGRAM", 0x11: "RDRAM", 0x12: "DDR", 0x13: "DDR2", 0x14: "DDR2 FB-DIMM",
		0x18: "DDR3", 0x19: "FBD2", 0x1A: "DDR4", 0x1B: "LPDDR", 0x1C: "LPDDR2",
		0x1D: "LPDDR3", 0x1E: "LPDDR4", 0x1F: "Logical non-volatile device",
		0x20: "HBM", 0x21: "HBM2", 0x22: "DDR5", 0x23: "LPDDR5", 0x24: "HBM3",
	}
	if n, ok := names[t]; ok {
		return n
	}
	if t == 0 {
		return ""
	}
	return fmt.Sprintf("0x%02X", t)
}
