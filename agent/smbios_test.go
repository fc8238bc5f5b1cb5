package agent

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/digitalocean/go-smbios/smbios"
)

// dmidecodeSlots reads the Memory Device records of a dmidecode listing
// as DIMMSlots, with the decoder's conventions: "Not Specified" and an
// empty slot's placeholder strings are absent.
func dmidecodeSlots(t *testing.T, path string) []DIMMSlot {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var slots []DIMMSlot
	var cur *DIMMSlot
	flush := func() {
		if cur != nil {
			if cur.SizeMiB == 0 {
				*cur = DIMMSlot{Locator: cur.Locator, BankLocator: cur.BankLocator}
			}
			slots = append(slots, *cur)
			cur = nil
		}
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "Memory Device" {
			flush()
			cur = &DIMMSlot{}
			continue
		}
		if line == "" || !strings.HasPrefix(line, "\t") {
			if !strings.HasPrefix(line, "\t") && line != "" {
				flush()
			}
			continue
		}
		if cur == nil {
			continue
		}
		k, v, ok := strings.Cut(strings.TrimSpace(line), ": ")
		if !ok {
			continue
		}
		if v == "Not Specified" || v == "Unknown" {
			v = ""
		}
		switch k {
		case "Locator":
			cur.Locator = v
		case "Bank Locator":
			cur.BankLocator = v
		case "Size":
			n, unit, _ := strings.Cut(v, " ")
			size, _ := strconv.ParseInt(n, 10, 64)
			switch unit {
			case "GB":
				size *= 1024
			case "TB":
				size *= 1024 * 1024
			case "MB":
			default:
				size = 0 // No Module Installed
			}
			cur.SizeMiB = size
		case "Type":
			cur.Type = v
		case "Speed":
			cur.SpeedMTs, _ = strconv.Atoi(strings.TrimSuffix(v, " MT/s"))
		case "Manufacturer":
			cur.Manufacturer = smbiosValue(v)
		case "Serial Number":
			cur.Serial = smbiosValue(v)
		case "Part Number":
			cur.PartNumber = smbiosValue(v)
		}
	}
	flush()
	return slots
}

// TestDIMMSlotsAgreeWithDmidecode decodes each fixture's tables and checks
// every slot against what dmidecode made of the same tables (the
// committed dmidecode.txt), and, where dmidecode is installed, that it
// still says so.
func TestDIMMSlotsAgreeWithDmidecode(t *testing.T) {
	for _, host := range []string{"supermicro-x11dpi", "dell-r710", "dell-r7525"} {
		t.Run(host, func(t *testing.T) {
			root := filepath.Join("testdata", host)
			got, problems := ReadDIMMSlots(root)
			if len(problems) != 0 {
				t.Errorf("problems: %+v", problems)
			}
			want := dmidecodeSlots(t, filepath.Join(root, "dmidecode.txt"))
			if len(got) != len(want) || len(got) == 0 {
				t.Fatalf("%d slots, dmidecode lists %d", len(got), len(want))
			}
			for i := range want {
				if got[i] != want[i] {
					t.Errorf("slot %d:\n got %+v\nwant %+v", i, got[i], want[i])
				}
			}

			path, err := exec.LookPath("dmidecode")
			if err != nil {
				t.Log("dmidecode is not installed: checked against the committed listing only")
				return
			}
			out, err := exec.Command(path, "--from-dump", filepath.Join(root, "dmidecode.bin")).Output()
			if err != nil {
				t.Fatalf("dmidecode: %v", err)
			}
			committed, err := os.ReadFile(filepath.Join(root, "dmidecode.txt"))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out, committed) {
				t.Errorf("dmidecode --from-dump %s/dmidecode.bin no longer matches dmidecode.txt", root)
			}
		})
	}
}

// TestDIMMSlotValues pins values of each fixture: extended size (32 and
// 64 GB), plain size (8 GB), empty slots with placeholder strings, and no
// bank locator.
func TestDIMMSlotValues(t *testing.T) {
	tests := []struct {
		host        string
		slots, full int
		first       DIMMSlot
		second      DIMMSlot
	}{
		{"supermicro-x11dpi", 24, 12,
			DIMMSlot{Locator: "P1-DIMMA1", BankLocator: "P0_Node0_Channel0_Dimm0", SizeMiB: 32768, SpeedMTs: 2933, Type: "DDR4",
				Manufacturer: "Samsung", PartNumber: "M393A4K40CB2-CVF", Serial: "03A1B2C4"},
			DIMMSlot{Locator: "P1-DIMMA2", BankLocator: "P0_Node0_Channel0_Dimm1"}},
		{"dell-r710", 18, 12,
			DIMMSlot{Locator: "DIMM_A1", SizeMiB: 8192, SpeedMTs: 1333, Type: "DDR3",
				Manufacturer: "00CE04B380CE", PartNumber: "M393B1K70DH0-YH9", Serial: "85A1B2C3"},
			DIMMSlot{Locator: "DIMM_A2", SizeMiB: 8192, SpeedMTs: 1333, Type: "DDR3",
				Manufacturer: "00CE04B380CE", PartNumber: "M393B1K70DH0-YH9", Serial: "85A1B2F7"}},
		{"dell-r7525", 32, 16,
			DIMMSlot{Locator: "A1", SizeMiB: 65536, SpeedMTs: 3200, Type: "DDR4",
				Manufacturer: "Hynix Semiconductor", PartNumber: "HMAA8GR7AJR4N-XN", Serial: "2A3B1C40"},
			DIMMSlot{Locator: "A2", SizeMiB: 65536, SpeedMTs: 3200, Type: "DDR4",
				Manufacturer: "Hynix Semiconductor", PartNumber: "HMAA8GR7AJR4N-XN", Serial: "2A3B1E33"}},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			slots, problems := ReadDIMMSlots(filepath.Join("testdata", tt.host))
			if len(problems) != 0 {
				t.Errorf("problems: %+v", problems)
			}
			full := 0
			for _, s := range slots {
				if s.SizeMiB > 0 {
					full++
				}
			}
			if len(slots) != tt.slots || full != tt.full {
				t.Fatalf("%d slots, %d populated; want %d, %d", len(slots), full, tt.slots, tt.full)
			}
			if slots[0] != tt.first || slots[1] != tt.second {
				t.Errorf("first slots:\n%+v\n%+v", slots[0], slots[1])
			}
		})
	}
}

// TestSMBIOSStructuresAgreeWithGoSMBIOS splits each fixture's table with
// github.com/digitalocean/go-smbios as well, and compares.
func TestSMBIOSStructuresAgreeWithGoSMBIOS(t *testing.T) {
	for _, host := range []string{"supermicro-x11dpi", "dell-r710", "dell-r7525"} {
		t.Run(host, func(t *testing.T) {
			tables := filepath.Join("testdata", host, "sys/firmware/dmi/tables")
			table, err := os.ReadFile(filepath.Join(tables, "DMI"))
			if err != nil {
				t.Fatal(err)
			}
			epRaw, err := os.ReadFile(filepath.Join(tables, "smbios_entry_point"))
			if err != nil {
				t.Fatal(err)
			}
			theirEP, err := smbios.ParseEntryPoint(bytes.NewReader(epRaw))
			if err != nil {
				t.Fatalf("go-smbios entry point: %v", err)
			}
			ourEP, err := parseSMBIOSEntryPoint(epRaw)
			if err != nil || len(ourEP.warnings) > 0 {
				t.Fatalf("entry point: %v %v", err, ourEP.warnings)
			}
			if _, size := theirEP.Table(); size != ourEP.tableLength {
				t.Errorf("table length %d, go-smbios says %d", ourEP.tableLength, size)
			}
			major, minor, _ := theirEP.Version()
			if !strings.HasPrefix(ourEP.version, strconv.Itoa(major)+"."+strconv.Itoa(minor)) {
				t.Errorf("version %s, go-smbios says %d.%d", ourEP.version, major, minor)
			}

			theirs, err := smbios.NewDecoder(bytes.NewReader(table)).Decode()
			if err != nil {
				t.Fatalf("go-smbios: %v", err)
			}
			ours, err := parseSMBIOSStructures(table)
			if err != nil {
				t.Fatal(err)
			}
			if len(ours) != len(theirs) {
				t.Fatalf("%d structures, go-smbios finds %d", len(ours), len(theirs))
			}
			for i := range ours {
				o, th := ours[i], theirs[i]
				if o.typ != th.Header.Type || o.handle != th.Header.Handle ||
					!bytes.Equal(o.formatted[4:], th.Formatted) || strings.Join(o.strings, "|") != strings.Join(th.Strings, "|") {
					t.Errorf("structure %d: ours type %d handle %#x strings %q; go-smbios type %d handle %#x strings %q",
						i, o.typ, o.handle, o.strings, th.Header.Type, th.Header.Handle, th.Strings)
				}
			}
		})
	}
}

// smbiosType17 builds one type 17 structure: header, formatted area of the
// given length with fields set by set, strings.
func smbiosType17(length int, set func(f []byte), strs ...string) []byte {
	f := make([]byte, length)
	f[0], f[1], f[2], f[3] = 17, byte(length), 0x10, 0x00
	if length > 0x11 {
		f[0x10], f[0x11] = 1, 2 // locator, bank locator
	}
	if set != nil {
		set(f)
	}
	b := append([]byte{}, f...)
	for _, s := range strs {
		b = append(append(b, s...), 0)
	}
	if len(strs) == 0 {
		b = append(b, 0)
	}
	return append(b, 0)
}

var smbiosEOT = []byte{127, 4, 0xFF, 0xFE, 0, 0}

func smbiosPut16(f []byte, off int, v uint16) { f[off], f[off+1] = byte(v), byte(v>>8) }
func smbiosPut32(f []byte, off int, v uint32) {
	smbiosPut16(f, off, uint16(v))
	smbiosPut16(f, off+2, uint16(v>>16))
}

// TestDecodeMemoryDevices covers the size, speed and string encodings of
// type 17 and odd tables: every case decodes what it can without
// panicking and says what it could not.
func TestDecodeMemoryDevices(t *testing.T) {
	populated := func(size uint16) func([]byte) {
		return func(f []byte) {
			smbiosPut16(f, 0x0C, size)
			f[0x12] = 0x1A
			smbiosPut16(f, 0x15, 2666)
			f[0x17], f[0x18], f[0x1A] = 3, 4, 5
		}
	}
	strs := []string{"DIMM_A1", "BANK 0", "Micron", "1234ABCD", "36ASF4G72PZ-2G6E1"}
	join := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	tests := []struct {
		name     string
		table    []byte
		want     []DIMMSlot
		problems int // decode problems (not counting the table's own error)
		tableErr bool
	}{
		{"size in MiB", join(smbiosType17(0x28, populated(16384), strs...), smbiosEOT),
			[]DIMMSlot{{Locator: "DIMM_A1", BankLocator: "BANK 0", SizeMiB: 16384, SpeedMTs: 2666, Type: "DDR4", Manufacturer: "Micron", Serial: "1234ABCD", PartNumber: "36ASF4G72PZ-2G6E1"}}, 0, false},
		{"size in KiB", join(smbiosType17(0x28, populated(0x8000|2048), strs...), smbiosEOT),
			[]DIMMSlot{{Locator: "DIMM_A1", BankLocator: "BANK 0", SizeMiB: 2, SpeedMTs: 2666, Type: "DDR4", Manufacturer: "Micron", Serial: "1234ABCD", PartNumber: "36ASF4G72PZ-2G6E1"}}, 0, false},
		{"extended size", join(smbiosType17(0x28, func(f []byte) { populated(0x7FFF)(f); smbiosPut32(f, 0x1C, 131072) }, strs...), smbiosEOT),
			[]DIMMSlot{{Locator: "DIMM_A1", BankLocator: "BANK 0", SizeMiB: 131072, SpeedMTs: 2666, Type: "DDR4", Manufacturer: "Micron", Serial: "1234ABCD", PartNumber: "36ASF4G72PZ-2G6E1"}}, 0, false},
		{"extended size the structure lacks", join(smbiosType17(0x1C, populated(0x7FFF), strs...), smbiosEOT),
			[]DIMMSlot{{Locator: "DIMM_A1", BankLocator: "BANK 0", SpeedMTs: 2666, Type: "DDR4", Manufacturer: "Micron", Serial: "1234ABCD", PartNumber: "36ASF4G72PZ-2G6E1"}}, 1, false},
		{"unknown size", join(smbiosType17(0x28, populated(0xFFFF), strs...), smbiosEOT),
			[]DIMMSlot{{Locator: "DIMM_A1", BankLocator: "BANK 0", SpeedMTs: 2666, Type: "DDR4", Manufacturer: "Micron", Serial: "1234ABCD", PartNumber: "36ASF4G72PZ-2G6E1"}}, 1, false},
		{"extended speed (SMBIOS 3.3)", join(smbiosType17(0x5C, func(f []byte) {
			populated(16384)(f)
			f[0x12] = 0x22
			smbiosPut16(f, 0x15, 0xFFFF)
			smbiosPut32(f, 0x54, 70000)
		}, strs...), smbiosEOT),
			[]DIMMSlot{{Locator: "DIMM_A1", BankLocator: "BANK 0", SizeMiB: 16384, SpeedMTs: 70000, Type: "DDR5", Manufacturer: "Micron", Serial: "1234ABCD", PartNumber: "36ASF4G72PZ-2G6E1"}}, 0, false},
		{"SMBIOS 2.1 structure without speed or strings past the locators", join(smbiosType17(0x15, func(f []byte) { smbiosPut16(f, 0x0C, 512); f[0x12] = 0x12 }, "DIMM0", "BANK0"), smbiosEOT),
			[]DIMMSlot{{Locator: "DIMM0", BankLocator: "BANK0", SizeMiB: 512, Type: "DDR"}}, 0, false},
		{"empty slot with placeholder strings", join(smbiosType17(0x28, func(f []byte) { f[0x17], f[0x18], f[0x1A] = 3, 3, 3 }, "P1-DIMMA2", "P0_Node0_Channel0_Dimm1", "NO DIMM"), smbiosEOT),
			[]DIMMSlot{{Locator: "P1-DIMMA2", BankLocator: "P0_Node0_Channel0_Dimm1"}}, 0, false},
		{"string index past the strings", join(smbiosType17(0x28, func(f []byte) { populated(4096)(f); f[0x1A] = 9 }, strs...), smbiosEOT),
			[]DIMMSlot{{Locator: "DIMM_A1", BankLocator: "BANK 0", SizeMiB: 4096, SpeedMTs: 2666, Type: "DDR4", Manufacturer: "Micron", Serial: "1234ABCD"}}, 1, false},
		{"locator index past the strings", join(smbiosType17(0x28, func(f []byte) { populated(4096)(f); f[0x10] = 7 }, strs...), smbiosEOT),
			[]DIMMSlot{{BankLocator: "BANK 0", SizeMiB: 4096, SpeedMTs: 2666, Type: "DDR4", Manufacturer: "Micron", Serial: "1234ABCD", PartNumber: "36ASF4G72PZ-2G6E1"}}, 1, false},
		{"structure too short to name its slot", join(smbiosType17(0x10, nil), smbiosEOT), nil, 1, false},
		{"no end-of-table", smbiosType17(0x28, populated(8192), strs...),
			[]DIMMSlot{{Locator: "DIMM_A1", BankLocator: "BANK 0", SizeMiB: 8192, SpeedMTs: 2666, Type: "DDR4", Manufacturer: "Micron", Serial: "1234ABCD", PartNumber: "36ASF4G72PZ-2G6E1"}}, 0, false},
		{"second structure truncated", join(smbiosType17(0x28, populated(8192), strs...), smbiosType17(0x28, populated(8192), strs...)[:30]),
			[]DIMMSlot{{Locator: "DIMM_A1", BankLocator: "BANK 0", SizeMiB: 8192, SpeedMTs: 2666, Type: "DDR4", Manufacturer: "Micron", Serial: "1234ABCD", PartNumber: "36ASF4G72PZ-2G6E1"}}, 0, true},
		{"strings not terminated", smbiosType17(0x28, populated(8192), strs...)[:0x28+5], nil, 0, true},
		{"header length below 4", []byte{17, 2, 0, 0, 0, 0}, nil, 0, true},
		{"stray bytes", []byte{17, 4}, nil, 0, true},
		{"empty table", nil, nil, 0, false},
		{"device of a flash array left out", join(
			[]byte{16, 0x17, 0x20, 0, 0x03, 0x05, 0x03, 0, 0, 0, 0, 0xFE, 0xFF, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
			smbiosType17(0x28, func(f []byte) { populated(16)(f); smbiosPut16(f, 0x04, 0x0020) }, strs...), smbiosEOT), nil, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ss, err := parseSMBIOSStructures(tt.table)
			if (err != nil) != tt.tableErr {
				t.Errorf("table error %v, want error %v", err, tt.tableErr)
			}
			got, msgs := dimmSlotsFromStructures(ss)
			if len(msgs) != tt.problems {
				t.Errorf("problems %q, want %d", msgs, tt.problems)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("slots %+v, want %+v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("slot %d:\n got %+v\nwant %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestParseSMBIOSEntryPoint(t *testing.T) {
	x11, err := os.ReadFile("testdata/supermicro-x11dpi/sys/firmware/dmi/tables/smbios_entry_point")
	if err != nil {
		t.Fatal(err)
	}
	r710, err := os.ReadFile("testdata/dell-r710/sys/firmware/dmi/tables/smbios_entry_point")
	if err != nil {
		t.Fatal(err)
	}
	badSum := append([]byte{}, x11...)
	badSum[5]++
	legacy := []byte{'_', 'D', 'M', 'I', '_', 0, 0x40, 0x01, 0, 0, 0x0E, 0, 12, 0, 0x21}
	legacy[5] = -smbiosSum(legacy)
	tests := []struct {
		name     string
		in       []byte
		version  string
		length   int
		warnings int
		err      bool
	}{
		{"64-bit", x11, "3.2.0", 0, 0, false},
		{"32-bit", r710, "2.6", 1569, 0, false},
		{"legacy", legacy, "2.1", 0x140, 0, false},
		{"bad checksum", badSum, "3.2.0", 0, 1, false},
		{"short 64-bit", x11[:20], "", 0, 0, true},
		{"short 32-bit", r710[:20], "", 0, 0, true},
		{"no intermediate anchor", append(append([]byte{}, r710[:0x10]...), make([]byte, 15)...), "", 0, 0, true},
		{"no anchor", []byte("garbage in the entry point"), "", 0, 0, true},
		{"empty", nil, "", 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ep, err := parseSMBIOSEntryPoint(tt.in)
			if (err != nil) != tt.err {
				t.Fatalf("error %v, want error %v", err, tt.err)
			}
			if err != nil {
				return
			}
			if ep.version != tt.version || (tt.length != 0 && ep.tableLength != tt.length) || len(ep.warnings) != tt.warnings {
				t.Errorf("got %+v", ep)
			}
		})
	}
}

// TestReadDIMMSlotsDegrades checks missing and damaged trees give
// Problems, and what can be read.
func TestReadDIMMSlotsDegrades(t *testing.T) {
	src := filepath.Join("testdata", "supermicro-x11dpi", "sys/firmware/dmi/tables")
	table, err := os.ReadFile(filepath.Join(src, "DMI"))
	if err != nil {
		t.Fatal(err)
	}
	write := func(t *testing.T, files map[string][]byte) string {
		root := t.TempDir()
		dir := filepath.Join(root, "sys/firmware/dmi/tables")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, b := range files {
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return root
	}
	t.Run("no tables", func(t *testing.T) {
		slots, problems := ReadDIMMSlots(t.TempDir())
		if slots != nil || len(problems) != 1 || problems[0].Path != smbiosTablePath || !strings.Contains(problems[0].Message, "not present") {
			t.Errorf("slots %v problems %+v", slots, problems)
		}
	})
	t.Run("no entry point", func(t *testing.T) {
		slots, problems := ReadDIMMSlots(write(t, map[string][]byte{"DMI": table}))
		if len(slots) != 24 || len(problems) != 1 || problems[0].Path != smbiosEntryPointPath {
			t.Errorf("%d slots, problems %+v", len(slots), problems)
		}
	})
	t.Run("truncated table", func(t *testing.T) {
		slots, problems := ReadDIMMSlots(write(t, map[string][]byte{"DMI": table[:len(table)/2]}))
		if len(slots) == 0 || len(slots) >= 24 || len(problems) != 2 {
			t.Errorf("%d slots, problems %+v", len(slots), problems)
		}
	})
	t.Run("missing root", func(t *testing.T) {
		_, problems := ReadDIMMSlots(filepath.Join(t.TempDir(), "nowhere"))
		if len(problems) != 1 {
			t.Errorf("problems %+v", problems)
		}
	})
}

// FuzzSMBIOSTable feeds odd tables to the decoder: it must never panic.
func FuzzSMBIOSTable(f *testing.F) {
	if b, err := os.ReadFile("testdata/dell-r7525/sys/firmware/dmi/tables/DMI"); err == nil {
		f.Add(b)
		f.Add(b[:len(b)/3])
	}
	f.Add(smbiosType17(0x5C, func(b []byte) { smbiosPut16(b, 0x0C, 0x7FFF); smbiosPut16(b, 0x15, 0xFFFF) }, "A1"))
	f.Add([]byte{17, 0x5C, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		ss, _ := parseSMBIOSStructures(b)
		_, _ = dimmSlotsFromStructures(ss)
		_, _ = parseSMBIOSEntryPoint(b)
	})
}
