package agent

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// writeSysTree writes files (host path → content) under a new root.
func writeSysTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for rel, content := range files {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func fixtureSlots(t *testing.T, host string) []DIMMSlot {
	t.Helper()
	slots, problems := ReadDIMMSlots(filepath.Join("testdata", host))
	if len(problems) > 0 || len(slots) == 0 {
		t.Fatalf("%s slots: %d, problems %+v", host, len(slots), problems)
	}
	return slots
}

type dimmWant struct {
	slot, label, controller, location string
	ce, ue                            int64 // -1: absent
	size                              int64
	part, serial                      string
}

func checkDIMMs(t *testing.T, got []DIMM, want []dimmWant) {
	t.Helper()
	if len(got) != len(want) {
		for _, d := range got {
			t.Logf("%+v", d)
		}
		t.Fatalf("%d DIMMs, want %d", len(got), len(want))
	}
	count := func(p *int64) int64 {
		if p == nil {
			return -1
		}
		return *p
	}
	for i, w := range want {
		d := got[i]
		if d.Slot != w.slot || d.Label != w.label || d.Controller != w.controller || d.Location != w.location ||
			count(d.CorrectableErrors) != w.ce || count(d.UncorrectableErrors) != w.ue || d.SizeMiB != w.size ||
			d.PartNumber != w.part || d.Serial != w.serial {
			t.Errorf("DIMM %d:\n got %+v (ce %d ue %d)\nwant %+v", i, d, count(d.CorrectableErrors), count(d.UncorrectableErrors), w)
		}
	}
}

// TestReadEDACSkx: skx_edac's mc*/dimm* layout (with the legacy csrow*
// beside it, which is not read twice), joined to Supermicro's "P1-DIMMA1"
// slots by the position in the driver's labels.
func TestReadEDACSkx(t *testing.T) {
	root := filepath.Join("testdata", "supermicro-x11dpi")
	dimms, problems := ReadEDAC(root, fixtureSlots(t, "supermicro-x11dpi"))
	if len(problems) != 0 {
		t.Errorf("problems: %+v", problems)
	}
	const part = "M393A4K40CB2-CVF"
	checkDIMMs(t, dimms, []dimmWant{
		{"P1-DIMMA1", "CPU_SrcID#0_MC#0_Chan#0_DIMM#0", "mc0", "channel 0 slot 0", 0, 0, 32768, part, "03A1B2C4"},
		{"P1-DIMMB1", "CPU_SrcID#0_MC#0_Chan#1_DIMM#0", "mc0", "channel 1 slot 0", 17, 0, 32768, part, "03A1B2D9"},
		{"P1-DIMMC1", "CPU_SrcID#0_MC#0_Chan#2_DIMM#0", "mc0", "channel 2 slot 0", 0, 0, 32768, part, "03A1B1F0"},
		{"P1-DIMMD1", "CPU_SrcID#0_MC#1_Chan#0_DIMM#0", "mc1", "channel 0 slot 0", 0, 0, 32768, part, "03A1B30E"},
		{"P1-DIMME1", "CPU_SrcID#0_MC#1_Chan#1_DIMM#0", "mc1", "channel 1 slot 0", 0, 0, 32768, part, "03A1B2A7"},
		{"P1-DIMMF1", "CPU_SrcID#0_MC#1_Chan#2_DIMM#0", "mc1", "channel 2 slot 0", 0, 0, 32768, part, "03A1B2C1"},
		{"P2-DIMMA1", "CPU_SrcID#1_MC#0_Chan#0_DIMM#0", "mc2", "channel 0 slot 0", 0, 0, 32768, part, "03A1B412"},
		{"P2-DIMMB1", "CPU_SrcID#1_MC#0_Chan#1_DIMM#0", "mc2", "channel 1 slot 0", 0, 0, 32768, part, "03A1B3FD"},
		{"P2-DIMMC1", "CPU_SrcID#1_MC#0_Chan#2_DIMM#0", "mc2", "channel 2 slot 0", 0, 0, 32768, part, "03A1B2E3"},
		{"P2-DIMMD1", "CPU_SrcID#1_MC#1_Chan#0_DIMM#0", "mc3", "channel 0 slot 0", 2, 0, 32768, part, "03A1B40A"},
		{"P2-DIMME1", "CPU_SrcID#1_MC#1_Chan#1_DIMM#0", "mc3", "channel 1 slot 0", 0, 0, 32768, part, "03A1B3C8"},
		{"P2-DIMMF1", "CPU_SrcID#1_MC#1_Chan#2_DIMM#0", "mc3", "channel 2 slot 0", 0, 0, 32768, part, "03A1B2B5"},
	})

	// Without SMBIOS slots the DIMMs keep EDAC's labels, and that is said
	// once.
	dimms, problems = ReadEDAC(root, nil)
	if len(dimms) != 12 || dimms[1].Slot != "CPU_SrcID#0_MC#0_Chan#1_DIMM#0" || len(problems) != 1 ||
		!strings.Contains(problems[0].Message, "no SMBIOS slots") {
		t.Errorf("without slots: %+v, problems %+v", dimms[1], problems)
	}
}

// TestReadEDACI7coreCsrow: a RHEL 6 i7core_edac host with the csrow*
// layout only (no max_location), joined to Dell's DIMM_A1..DIMM_B9 slots,
// which number across the socket's three channels first.
func TestReadEDACI7coreCsrow(t *testing.T) {
	root := filepath.Join("testdata", "dell-r710")
	dimms, problems := ReadEDAC(root, fixtureSlots(t, "dell-r710"))
	if len(problems) != 1 || problems[0].Path != edacDir+"/mc1/ce_noinfo_count" ||
		!strings.Contains(problems[0].Message, "3 corrected errors not attributed") {
		t.Errorf("problems: %+v", problems)
	}
	const part = "M393B1K70DH0-YH9"
	checkDIMMs(t, dimms, []dimmWant{
		{"DIMM_A1", "CPU#0Channel#0_DIMM#0", "mc0", "csrow 0 channel 0", 1, 0, 8192, part, "85A1B2C3"},
		{"DIMM_A4", "CPU#0Channel#0_DIMM#1", "mc0", "csrow 1 channel 0", 0, 0, 8192, part, "85A1B2E0"},
		{"DIMM_A2", "CPU#0Channel#1_DIMM#0", "mc0", "csrow 2 channel 0", 0, 0, 8192, part, "85A1B2F7"},
		{"DIMM_A5", "CPU#0Channel#1_DIMM#1", "mc0", "csrow 3 channel 0", 0, 0, 8192, part, "85A1B2D4"},
		{"DIMM_A3", "CPU#0Channel#2_DIMM#0", "mc0", "csrow 4 channel 0", 0, 0, 8192, part, "85A1B311"},
		{"DIMM_A6", "CPU#0Channel#2_DIMM#1", "mc0", "csrow 5 channel 0", 0, 0, 8192, part, "85A1B34A"},
		{"DIMM_B1", "CPU#1Channel#0_DIMM#0", "mc1", "csrow 0 channel 0", 0, 0, 8192, part, "85A1C019"},
		{"DIMM_B4", "CPU#1Channel#0_DIMM#1", "mc1", "csrow 1 channel 0", 0, 0, 8192, part, "85A1C003"},
		{"DIMM_B2", "CPU#1Channel#1_DIMM#0", "mc1", "csrow 2 channel 0", 0, 0, 8192, part, "85A1BFF2"},
		{"DIMM_B5", "CPU#1Channel#1_DIMM#1", "mc1", "csrow 3 channel 0", 2043, 0, 8192, part, "85A1BFD7"},
		{"DIMM_B3", "CPU#1Channel#2_DIMM#0", "mc1", "csrow 4 channel 0", 0, 0, 8192, part, "85A1C0A8"},
		{"DIMM_B6", "CPU#1Channel#2_DIMM#1", "mc1", "csrow 5 channel 0", 0, 0, 8192, part, "85A1C07E"},
	})
}

// TestReadEDACAbsent: a host with no EDAC driver (amd64_edac not loaded
// on this EPYC host) has no DIMMs and one Problem.
func TestReadEDACAbsent(t *testing.T) {
	dimms, problems := ReadEDAC(filepath.Join("testdata", "dell-r7525"), fixtureSlots(t, "dell-r7525"))
	if dimms != nil || len(problems) != 1 || !strings.Contains(problems[0].Message, "no EDAC driver loaded") || problems[0].Part != PartEDAC {
		t.Errorf("dimms %v problems %+v", dimms, problems)
	}
	dimms, problems = ReadEDAC(writeSysTree(t, map[string]string{edacDir + "/power/control": "auto\n"}), nil)
	if dimms != nil || len(problems) != 1 || !strings.Contains(problems[0].Message, "no EDAC driver loaded") {
		t.Errorf("empty mc dir: dimms %v problems %+v", dimms, problems)
	}
}

// TestReadEDACLayouts covers the joins and layouts the fixtures do not.
func TestReadEDACLayouts(t *testing.T) {
	mc := edacDir + "/mc0/"
	dimmFiles := func(dir, label, location, size, ce, ue string) map[string]string {
		return map[string]string{
			dir + "/dimm_label": label, dir + "/dimm_location": location, dir + "/size": size,
			dir + "/dimm_ce_count": ce, dir + "/dimm_ue_count": ue,
		}
	}
	merge := func(ms ...map[string]string) map[string]string {
		out := map[string]string{}
		for _, m := range ms {
			for k, v := range m {
				out[k] = v
			}
		}
		return out
	}
	x11 := fixtureSlots(t, "supermicro-x11dpi")
	amd := []DIMMSlot{
		{Locator: "DIMM 0", BankLocator: "P0 CHANNEL A", SizeMiB: 16384, PartNumber: "A"},
		{Locator: "DIMM 1", BankLocator: "P0 CHANNEL A"},
		{Locator: "DIMM 0", BankLocator: "P0 CHANNEL B", SizeMiB: 16384, PartNumber: "B"},
		{Locator: "DIMM 1", BankLocator: "P0 CHANNEL B"},
	}
	tests := []struct {
		name     string
		files    map[string]string
		slots    []DIMMSlot
		want     []dimmWant
		problems []string // substrings, in order
	}{
		{
			name: "labels set from labels.db match the locator",
			files: merge(
				dimmFiles(mc+"dimm0", "P1_DIMM_A1\n", "channel 0 slot 0 ", "32768\n", "5\n", "0\n"),
				dimmFiles(mc+"dimm1", "P1-DIMMA2\n", "channel 0 slot 1 ", "0\n", "0\n", "0\n")),
			slots: x11,
			want: []dimmWant{
				{"P1-DIMMA1", "P1_DIMM_A1", "mc0", "channel 0 slot 0", 5, 0, 32768, "M393A4K40CB2-CVF", "03A1B2C4"},
				{"P1-DIMMA2", "P1-DIMMA2", "mc0", "channel 0 slot 1", 0, 0, 0, "", ""},
			},
			problems: []string{"sizes differ, not joined", "matches no SMBIOS slot"},
		},
		{
			name:  "ghes_edac labels are bank locator and locator",
			files: dimmFiles(mc+"dimm3", "P0_Node0_Channel1_Dimm0 P1-DIMMB1\n", "card 0 module 3 ", "32768\n", "0\n", "1\n"),
			slots: x11,
			want:  []dimmWant{{"P1-DIMMB1", "P0_Node0_Channel1_Dimm0 P1-DIMMB1", "mc0", "card 0 module 3", 0, 1, 32768, "M393A4K40CB2-CVF", "03A1B2D9"}},
		},
		{
			name:  "AMI bank \"P0 CHANNEL B\" with \"DIMM 0\", by label",
			files: dimmFiles(mc+"dimm2", "P0 CHANNEL B DIMM 0\n", "channel 1 slot 0 ", "16384\n", "0\n", "0\n"),
			slots: amd,
			want:  []dimmWant{{"P0 CHANNEL B DIMM 0", "P0 CHANNEL B DIMM 0", "mc0", "channel 1 slot 0", 0, 0, 16384, "B", ""}},
		},
		{
			name: "AMI bank \"P0 CHANNEL B\" with \"DIMM 0\", by sb_edac's position",
			files: merge(dimmFiles(mc+"dimm3", "CPU_SrcID#0_Ha#0_Chan#1_DIMM#0\n", "channel 1 slot 0 ", "16384\n", "4\n", "0\n"),
				map[string]string{mc + "max_location": "channel 3 slot 2 "}),
			slots: amd,
			want:  []dimmWant{{"P0 CHANNEL B DIMM 0", "CPU_SrcID#0_Ha#0_Chan#1_DIMM#0", "mc0", "channel 1 slot 0", 4, 0, 16384, "B", ""}},
		},
		{
			name:     "a default label joins nothing",
			files:    dimmFiles(mc+"dimm0", "mc#0channel#0slot#0\n", "channel 0 slot 0 ", "32768\n", "0\n", "0\n"),
			slots:    x11,
			want:     []dimmWant{{"mc#0channel#0slot#0", "mc#0channel#0slot#0", "mc0", "channel 0 slot 0", 0, 0, 32768, "", ""}},
			problems: []string{"matches no SMBIOS slot"},
		},
		{
			name: "two DIMMs claiming one slot join neither",
			files: merge(
				dimmFiles(mc+"dimm0", "P1-DIMMA1\n", "channel 0 slot 0 ", "32768\n", "0\n", "0\n"),
				dimmFiles(mc+"dimm1", "P1 DIMMA1\n", "channel 0 slot 1 ", "32768\n", "0\n", "0\n")),
			slots: x11,
			want: []dimmWant{
				{"P1-DIMMA1", "P1-DIMMA1", "mc0", "channel 0 slot 0", 0, 0, 32768, "", ""},
				{"P1 DIMMA1", "P1 DIMMA1", "mc0", "channel 0 slot 1", 0, 0, 32768, "", ""},
			},
			problems: []string{"join the same SMBIOS slot", "join the same SMBIOS slot", "matches no SMBIOS slot", "matches no SMBIOS slot"},
		},
		{
			name: "ranks of one DIMM join its slot",
			files: merge(
				dimmFiles(mc+"rank0", "P1-DIMMA1\n", "csrow 0 channel 0 ", "16384\n", "3\n", "0\n"),
				dimmFiles(mc+"rank1", "P1-DIMMA1\n", "csrow 1 channel 0 ", "16384\n", "1\n", "0\n")),
			slots: x11,
			want: []dimmWant{
				{"P1-DIMMA1", "P1-DIMMA1", "mc0", "csrow 0 channel 0", 3, 0, 16384, "M393A4K40CB2-CVF", "03A1B2C4"},
				{"P1-DIMMA1", "P1-DIMMA1", "mc0", "csrow 1 channel 0", 1, 0, 16384, "M393A4K40CB2-CVF", "03A1B2C4"},
			},
		},
		{
			name: "csrow with two channels: uncorrected errors are the csrow's",
			files: map[string]string{
				mc + "csrow2/size_mb": "16384\n", mc + "csrow2/ce_count": "7\n", mc + "csrow2/ue_count": "2\n",
				mc + "csrow2/ch0_ce_count": "7\n", mc + "csrow2/ch0_dimm_label": "DIMM_A2\n",
				mc + "csrow2/ch1_ce_count": "0\n", mc + "csrow2/ch1_dimm_label": "DIMM_B2\n",
			},
			slots: []DIMMSlot{{Locator: "DIMM_A2", SizeMiB: 8192, Serial: "A2"}, {Locator: "DIMM_B2", SizeMiB: 8192, Serial: "B2"}},
			want: []dimmWant{
				{"DIMM_A2", "DIMM_A2", "mc0", "csrow 2 channel 0", 7, -1, 8192, "", "A2"},
				{"DIMM_B2", "DIMM_B2", "mc0", "csrow 2 channel 1", 0, -1, 8192, "", "B2"},
			},
			problems: []string{"2 uncorrected errors on one of its 2 channels' DIMMs"},
		},
		{
			name: "controller totals only",
			files: map[string]string{
				mc + "mc_name": "Cortex-A72 DMC\n", mc + "ce_count": "12\n", mc + "ue_count": "0\n", mc + "size_mb": "65536\n",
			},
			slots:    x11,
			want:     []dimmWant{{"mc0", "", "mc0", "", 12, 0, 65536, "", ""}},
			problems: []string{"counts errors per controller only"},
		},
		{
			name:     "a counter that is no number",
			files:    dimmFiles(mc+"dimm0", "P1-DIMMA1\n", "channel 0 slot 0 ", "32768\n", "garbage\n", "0\n"),
			slots:    x11,
			want:     []dimmWant{{"P1-DIMMA1", "P1-DIMMA1", "mc0", "channel 0 slot 0", -1, 0, 32768, "M393A4K40CB2-CVF", "03A1B2C4"}},
			problems: []string{"reading corrected errors: not a counter"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dimms, problems := ReadEDAC(writeSysTree(t, tt.files), tt.slots)
			checkDIMMs(t, dimms, tt.want)
			if len(problems) != len(tt.problems) {
				t.Fatalf("problems %+v, want %q", problems, tt.problems)
			}
			for i, p := range problems {
				if !strings.Contains(p.Message, tt.problems[i]) || p.Part != PartEDAC {
					t.Errorf("problem %d: %+v, want %q", i, p, tt.problems[i])
				}
			}
		})
	}
}

// TestDellLayoutFits: Dell's socket-lettered locators are read as such
// only where they fit the sockets and channels EDAC reports.
func TestDellLayoutFits(t *testing.T) {
	slots := func(letters string, per int) []DIMMSlot {
		var out []DIMMSlot
		for _, l := range letters {
			for i := 1; i <= per; i++ {
				out = append(out, DIMMSlot{Locator: "DIMM_" + string(l) + strconv.Itoa(i)})
			}
		}
		return out
	}
	tests := []struct {
		name      string
		slots     []DIMMSlot
		perSocket map[int]int
		want      bool
	}{
		{"R710: two sockets of three channels, nine slots each", slots("AB", 9), map[int]int{0: 3, 1: 3}, true},
		{"one socket with lettered channels", slots("ABCD", 2), map[int]int{0: 4}, false},
		{"rows that do not fill the channels", slots("AB", 8), map[int]int{0: 3, 1: 3}, false},
		{"another convention", []DIMMSlot{{Locator: "P1-DIMMA1"}}, map[int]int{0: 6}, false},
		{"no EDAC positions", slots("AB", 9), map[int]int{}, false},
	}
	for _, tt := range tests {
		if got := dellLayoutFits(tt.slots, tt.perSocket); got != tt.want {
			t.Errorf("%s: %v", tt.name, got)
		}
	}
}
