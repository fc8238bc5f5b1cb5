package agent

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// edacDir is where the kernel's EDAC memory controllers publish their error
// counters (Documentation/ABI/testing/sysfs-devices-edac).
const edacDir = "/sys/devices/system/edac/mc"

// ReadEDAC reads every memory controller's corrected and uncorrected error
// counters under <root>/sys/devices/system/edac/mc and names each DIMM by
// its SMBIOS slot (slots from ReadDIMMSlots).
//
// Layouts, newest first:
//   - mc*/dimm* (or mc*/rank* on chip-select based drivers) with
//     dimm_ce_count, dimm_ue_count, dimm_label, dimm_location and size
//     (kernel 3.6 and later: skx_edac, i10nm_edac, sb_edac, amd64_edac,
//     ghes_edac, ...);
//   - mc*/csrow* with ch*_ce_count, ch*_dimm_label, ce_count, ue_count and
//     size_mb (older kernels, and CONFIG_EDAC_LEGACY_SYSFS alone);
//   - the controller's own ce_count and ue_count when it has neither.
//
// Each DIMM is joined to a slot, first by its label (exactly, or letters
// and digits alike: "P1_DIMM_A1" is "P1-DIMMA1", and ghes_edac's "<bank>
// <locator>"), then by its position (socket, channel, slot) parsed from the
// drivers' labels (skx/i10nm "CPU_SrcID#0_MC#1_Chan#2_DIMM#0", sb_edac
// "CPU_SrcID#0_Ha#0_Chan#1_DIMM#0", i7core "CPU#0Channel#1_DIMM#0") against
// the slot's position parsed from its locator ("P1-DIMMD1", "CPU1_DIMM_D1",
// AMI's "P0 CHANNEL D" bank with "DIMM 0", and Dell's "A7": see
// slotPosition). A join holds only when it is one to one and the sizes
// agree; an unjoined DIMM is named by its EDAC label, and a Problem says so.
//
// No edac directory means no EDAC driver is loaded: a Problem, and no
// DIMMs.
func ReadEDAC(root string, slots []DIMMSlot) ([]DIMM, []Problem) {
	root = rootOrSlash(root)
	entries, err := os.ReadDir(filepath.Join(root, edacDir))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, []Problem{{Part: PartEDAC, Path: edacDir,
				Message: "no EDAC driver loaded: memory errors are not counted in-band (the BMC's SEL may still log them)"}}
		}
		return nil, []Problem{problemFrom(PartEDAC, edacDir, "reading the EDAC memory controllers", err)}
	}
	var mcs []string
	for _, e := range entries {
		if _, ok := indexedName(e.Name(), "mc"); ok {
			mcs = append(mcs, e.Name())
		}
	}
	sortIndexed(mcs)
	if len(mcs) == 0 {
		return nil, []Problem{{Part: PartEDAC, Path: edacDir,
			Message: "no EDAC driver loaded: no memory controller registered"}}
	}

	var all []edacDIMM
	var problems []Problem
	for _, mc := range mcs {
		dimms, ps := readEDACController(root, mc)
		all = append(all, dimms...)
		problems = append(problems, ps...)
	}
	problems = append(problems, joinSlots(all, slots)...)
	out := make([]DIMM, len(all))
	for i, d := range all {
		out[i] = d.DIMM
	}
	return out, problems
}

// edacDIMM is one DIMM (or rank, or controller) EDAC counts errors for,
// with its position where its driver's label gives one.
type edacDIMM struct {
	DIMM
	dir    string // the sysfs directory, for Problems
	pos    edacPosition
	hasPos bool
	// channelsPerMC is its controller's channel count (max_location), 0
	// when not known.
	channelsPerMC int
	// totals marks a controller-wide count, which names no DIMM.
	totals bool
	// rank marks a rank of a DIMM (rank* directories, csrow locations):
	// several join one slot.
	rank bool
}

// edacPosition is where a DIMM sits: its processor socket, its memory
// controller within the socket, its channel within the controller and
// its slot within the channel, all 0-based.
type edacPosition struct {
	socket, mc, channel, slot int
}

// readEDACController reads one mc* directory in whichever layout it has.
func readEDACController(root, mc string) ([]edacDIMM, []Problem) {
	rel := edacDir + "/" + mc
	var problems []Problem
	entries, err := os.ReadDir(filepath.Join(root, rel))
	if err != nil {
		return nil, []Problem{problemFrom(PartEDAC, rel, "reading memory controller "+mc, err)}
	}
	channels := 0
	if loc := sysfsString(root, rel+"/max_location"); loc != "" {
		if n, ok := parseEDACLocation(loc)["channel"]; ok {
			channels = n + 1
		}
	}
	for _, f := range []string{"ce_noinfo_count", "ue_noinfo_count"} {
		if n, err := readCounter(root, rel+"/"+f); err == nil && *n > 0 {
			kind := "corrected"
			if f == "ue_noinfo_count" {
				kind = "uncorrected"
			}
			problems = append(problems, Problem{Part: PartEDAC, Path: rel + "/" + f,
				Message: fmt.Sprintf("%s: %d %s errors not attributed to any DIMM", mc, *n, kind)})
		}
	}

	var dimmDirs, csrowDirs []string
	for _, e := range entries {
		name := e.Name()
		if _, ok := indexedName(name, "dimm"); ok {
			dimmDirs = append(dimmDirs, name)
		} else if _, ok := indexedName(name, "rank"); ok {
			dimmDirs = append(dimmDirs, name)
		} else if _, ok := indexedName(name, "csrow"); ok {
			csrowDirs = append(csrowDirs, name)
		}
	}
	sortIndexed(dimmDirs)
	sortIndexed(csrowDirs)

	var out []edacDIMM
	switch {
	case len(dimmDirs) > 0:
		for _, name := range dimmDirs {
			d, ps := readEDACDimm(root, mc, rel+"/"+name)
			d.channelsPerMC = channels
			d.rank = strings.HasPrefix(name, "rank") || strings.HasPrefix(d.Location, "csrow")
			out = append(out, d)
			problems = append(problems, ps...)
		}
	case len(csrowDirs) > 0:
		for _, name := range csrowDirs {
			ds, ps := readEDACCsrow(root, mc, rel+"/"+name)
			for i := range ds {
				ds[i].channelsPerMC = channels
			}
			out = append(out, ds...)
			problems = append(problems, ps...)
		}
	default:
		d := edacDIMM{DIMM: DIMM{Slot: mc, Controller: mc}, dir: rel, totals: true}
		var err error
		if d.CorrectableErrors, err = readCounter(root, rel+"/ce_count"); err != nil {
			problems = append(problems, problemFrom(PartEDAC, rel+"/ce_count", "reading "+mc+"'s corrected errors", err))
		}
		if d.UncorrectableErrors, err = readCounter(root, rel+"/ue_count"); err != nil {
			problems = append(problems, problemFrom(PartEDAC, rel+"/ue_count", "reading "+mc+"'s uncorrected errors", err))
		}
		if n, err := strconv.ParseInt(sysfsString(root, rel+"/size_mb"), 10, 64); err == nil {
			d.SizeMiB = n
		}
		problems = append(problems, Problem{Part: PartEDAC, Path: rel,
			Message: fmt.Sprintf("%s (%s) counts errors per controller only: they name no DIMM", mc, sysfsString(root, rel+"/mc_name"))})
		out = append(out, d)
	}
	// Channel counts from the labels, where the controller has no
	// max_location (kernels before 3.6).
	if channels == 0 {
		most := -1
		for _, d := range out {
			if d.hasPos {
				most = max(most, d.pos.channel)
			}
		}
		for i := range out {
			if most >= 0 {
				out[i].channelsPerMC = most + 1
			}
		}
	}
	return out, problems
}

// readEDACDimm reads one dimm* or rank* directory.
func readEDACDimm(root, mc, rel string) (edacDIMM, []Problem) {
	var problems []Problem
	d := edacDIMM{dir: rel}
	d.Controller = mc
	d.Label = sysfsString(root, rel+"/dimm_label")
	d.Location = strings.Join(strings.Fields(sysfsString(root, rel+"/dimm_location")), " ")
	if n, err := strconv.ParseInt(sysfsString(root, rel+"/size"), 10, 64); err == nil {
		d.SizeMiB = n
	}
	var err error
	if d.CorrectableErrors, err = readCounter(root, rel+"/dimm_ce_count"); err != nil {
		problems = append(problems, problemFrom(PartEDAC, rel+"/dimm_ce_count", "reading corrected errors", err))
	}
	if d.UncorrectableErrors, err = readCounter(root, rel+"/dimm_ue_count"); err != nil {
		problems = append(problems, problemFrom(PartEDAC, rel+"/dimm_ue_count", "reading uncorrected errors", err))
	}
	d.pos, d.hasPos = positionFromLabel(d.Label)
	return d, problems
}

// readEDACCsrow reads one csrow* directory: one DIMM per channel that has
// a ch*_ce_count. Uncorrected errors are counted per csrow only, so they
// are a DIMM's only when the csrow has one channel.
func readEDACCsrow(root, mc, rel string) ([]edacDIMM, []Problem) {
	var problems []Problem
	entries, err := os.ReadDir(filepath.Join(root, rel))
	if err != nil {
		return nil, []Problem{problemFrom(PartEDAC, rel, "reading csrow", err)}
	}
	var chans []int
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, "ch") && strings.HasSuffix(name, "_ce_count") {
			if n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(name, "ch"), "_ce_count")); err == nil {
				chans = append(chans, n)
			}
		}
	}
	sort.Ints(chans)
	csrow, _ := indexedName(filepath.Base(rel), "csrow")
	var size int64
	if n, err := strconv.ParseInt(sysfsString(root, rel+"/size_mb"), 10, 64); err == nil && len(chans) > 0 {
		size = n / int64(len(chans))
	}
	ue, ueErr := readCounter(root, rel+"/ue_count")
	if ueErr != nil {
		problems = append(problems, problemFrom(PartEDAC, rel+"/ue_count", "reading uncorrected errors", ueErr))
	}
	var out []edacDIMM
	for _, ch := range chans {
		d := edacDIMM{dir: rel}
		d.Controller = mc
		d.Label = sysfsString(root, fmt.Sprintf("%s/ch%d_dimm_label", rel, ch))
		d.Location = fmt.Sprintf("csrow %d channel %d", csrow, ch)
		d.SizeMiB = size
		f := fmt.Sprintf("%s/ch%d_ce_count", rel, ch)
		if d.CorrectableErrors, err = readCounter(root, f); err != nil {
			problems = append(problems, problemFrom(PartEDAC, f, "reading corrected errors", err))
		}
		if len(chans) == 1 {
			d.UncorrectableErrors = ue
		}
		d.pos, d.hasPos = positionFromLabel(d.Label)
		out = append(out, d)
	}
	if len(chans) > 1 && ue != nil && *ue > 0 {
		problems = append(problems, Problem{Part: PartEDAC, Path: rel + "/ue_count",
			Message: fmt.Sprintf("%s csrow%d: %d uncorrected errors on one of its %d channels' DIMMs (counted per csrow only)", mc, csrow, *ue, len(chans))})
	}
	if len(chans) == 0 {
		d := edacDIMM{dir: rel}
		d.Controller = mc
		d.Location = fmt.Sprintf("csrow %d", csrow)
		d.Slot = mc + " " + d.Location
		d.UncorrectableErrors = ue
		if d.CorrectableErrors, err = readCounter(root, rel+"/ce_count"); err != nil {
			problems = append(problems, problemFrom(PartEDAC, rel+"/ce_count", "reading corrected errors", err))
		}
		out = append(out, d)
	}
	return out, problems
}

// readCounter reads a non-negative counter file.
func readCounter(root, rel string) (*int64, error) {
	b, err := readFileUnder(root, rel)
	if err != nil {
		return nil, err
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || n < 0 {
		return nil, fmt.Errorf("not a counter: %q", strings.TrimSpace(string(b)))
	}
	return &n, nil
}

// parseEDACLocation reads "channel 2 slot 1 " (dimm_location,
// max_location) into its layers.
func parseEDACLocation(s string) map[string]int {
	f := strings.Fields(s)
	out := map[string]int{}
	for i := 0; i+1 < len(f); i += 2 {
		if n, err := strconv.Atoi(f[i+1]); err == nil {
			out[f[i]] = n
		}
	}
	return out
}

// The labels EDAC drivers give DIMMs, where they say where the DIMM is.
var (
	// skx_edac, i10nm_edac: socket, memory controller, channel, DIMM.
	reLabelSKX = regexp.MustCompile(`^CPU_SrcID#(\d+)_MC#(\d+)_Chan#(\d+)_DIMM#(\d+)$`)
	// sb_edac: socket, home agent, channel, DIMM.
	reLabelSB = regexp.MustCompile(`^CPU_SrcID#(\d+)_Ha#(\d+)_Chan#(\d+)_DIMM#(\d+)$`)
	// i7core_edac: socket, channel, DIMM.
	reLabelI7 = regexp.MustCompile(`^CPU#(\d+)Channel#(\d+)_DIMM#(\d+)$`)
)

// positionFromLabel parses a driver's DIMM label.
func positionFromLabel(label string) (edacPosition, bool) {
	if m := reLabelSKX.FindStringSubmatch(label); m != nil {
		return edacPosition{edacAtoi(m[1]), edacAtoi(m[2]), edacAtoi(m[3]), edacAtoi(m[4])}, true
	}
	if m := reLabelSB.FindStringSubmatch(label); m != nil {
		return edacPosition{edacAtoi(m[1]), edacAtoi(m[2]), edacAtoi(m[3]), edacAtoi(m[4])}, true
	}
	if m := reLabelI7.FindStringSubmatch(label); m != nil {
		return edacPosition{edacAtoi(m[1]), 0, edacAtoi(m[2]), edacAtoi(m[3])}, true
	}
	return edacPosition{}, false
}

func edacAtoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// slotPosition is a slot's socket, channel within the socket and slot
// within the channel (0-based), from the locator conventions that encode
// them:
//   - "P1-DIMMA1", "CPU1_DIMM_A1", "CPU2_DIMMB2": processor (1-based),
//     channel letter, slot (1-based) — Supermicro, ASUS, Gigabyte, Intel;
//   - bank "P0 CHANNEL A" with locator "DIMM 0" — AMI firmware on AMD
//     boards (processor and slot 0-based);
//   - quirk "dell-slot-major": Dell PowerEdge "A1".."A12" or "DIMM_A1":
//     the letter is the processor and the number runs across the
//     processor's channels first (A1-A6 are the first slot of channels
//     0-5 on a six-channel socket, A7-A12 the second), so it needs the
//     socket's channel count, from EDAC.
func slotPosition(s DIMMSlot, channelsPerSocket int) (socket, channel, slot int, ok bool) {
	if m := reLocatorCPU.FindStringSubmatch(s.Locator); m != nil {
		return edacAtoi(m[1]) - 1, int(unicode.ToUpper(rune(m[2][0])) - 'A'), edacAtoi(m[3]) - 1, edacAtoi(m[1]) > 0 && edacAtoi(m[3]) > 0
	}
	if b, l := reBankAMI.FindStringSubmatch(s.BankLocator), reLocatorAMI.FindStringSubmatch(s.Locator); b != nil && l != nil {
		return edacAtoi(b[1]), int(unicode.ToUpper(rune(b[2][0])) - 'A'), edacAtoi(l[1]), true
	}
	if m := reLocatorDell.FindStringSubmatch(s.Locator); m != nil && channelsPerSocket > 0 {
		n := edacAtoi(m[2])
		if n < 1 {
			return 0, 0, 0, false
		}
		return int(unicode.ToUpper(rune(m[1][0])) - 'A'), (n - 1) % channelsPerSocket, (n - 1) / channelsPerSocket, true
	}
	return 0, 0, 0, false
}

var (
	reLocatorCPU  = regexp.MustCompile(`(?i)^(?:P|CPU)(\d+)[-_ ]?DIMM[-_ ]?([A-Z])(\d+)$`)
	reBankAMI     = regexp.MustCompile(`(?i)^P(\d+)\s+CHANNEL\s+([A-Z])$`)
	reLocatorAMI  = regexp.MustCompile(`(?i)^DIMM\s*(\d+)$`)
	reLocatorDell = regexp.MustCompile(`(?i)^(?:DIMM_)?([A-H])(\d{1,2})$`)
)

// joinSlots names each DIMM by its SMBIOS slot (see ReadEDAC) and returns
// what it could not join.
func joinSlots(dimms []edacDIMM, slots []DIMMSlot) []Problem {
	var problems []Problem
	assigned := make([]int, len(dimms))
	for i := range assigned {
		assigned[i] = -1
	}
	if len(slots) > 0 {
		// Label first, among populated slots, then among all.
		for i, d := range dimms {
			if d.totals || d.Label == "" {
				continue
			}
			assigned[i] = uniqueSlot(slots, func(s DIMMSlot) bool { return s.SizeMiB > 0 && labelMatches(d.Label, s) })
			if assigned[i] < 0 {
				assigned[i] = uniqueSlot(slots, func(s DIMMSlot) bool { return labelMatches(d.Label, s) })
			}
		}
		// Then position.
		perSocket := channelsPerSocket(dimms)
		dell := dellLayoutFits(slots, perSocket)
		for i, d := range dimms {
			if assigned[i] >= 0 || !d.hasPos || d.channelsPerMC == 0 {
				continue
			}
			want := d.pos.mc*d.channelsPerMC + d.pos.channel
			assigned[i] = uniqueSlot(slots, func(s DIMMSlot) bool {
				n := perSocket[d.pos.socket]
				if !dell {
					n = 0
				}
				sock, ch, sl, ok := slotPosition(s, n)
				return ok && sock == d.pos.socket && ch == want && sl == d.pos.slot
			})
		}
		// One to one (ranks of one DIMM aside), and sizes that agree.
		count := map[int]int{}
		for i, a := range assigned {
			if a >= 0 && !dimms[i].rank {
				count[a]++
			}
		}
		for i, a := range assigned {
			if a >= 0 && dimms[i].rank && count[a] > 0 {
				count[a]++
			}
		}
		for i, a := range assigned {
			if a < 0 {
				continue
			}
			s := slots[a]
			switch {
			case count[a] > 1:
				problems = append(problems, Problem{Part: PartEDAC, Path: dimms[i].dir,
					Message: fmt.Sprintf("EDAC DIMM %q and another join the same SMBIOS slot %q: joined neither", dimms[i].Label, s.Locator)})
				assigned[i] = -1
			case s.SizeMiB == 0 || (!dimms[i].rank && dimms[i].SizeMiB > 0 && !sizesAgree(dimms[i].SizeMiB, s.SizeMiB)):
				problems = append(problems, Problem{Part: PartEDAC, Path: dimms[i].dir,
					Message: fmt.Sprintf("EDAC DIMM %q (%d MiB) would join SMBIOS slot %q (%d MiB): sizes differ, not joined",
						dimms[i].Label, dimms[i].SizeMiB, s.Locator, s.SizeMiB)})
				assigned[i] = -1
			}
		}
	}

	names := slotNames(slots)
	unjoined := 0
	for i := range dimms {
		d := &dimms[i]
		if d.totals {
			continue
		}
		if a := assigned[i]; a >= 0 {
			s := slots[a]
			d.Slot = names[a]
			d.PartNumber, d.Serial = s.PartNumber, s.Serial
			if d.SizeMiB == 0 && !d.rank {
				d.SizeMiB = s.SizeMiB
			}
			continue
		}
		if d.Slot == "" {
			d.Slot = d.Label
			if d.Slot == "" {
				d.Slot = strings.TrimSpace(d.Controller + " " + d.Location)
			}
		}
		unjoined++
		if len(slots) > 0 {
			problems = append(problems, Problem{Part: PartEDAC, Path: d.dir,
				Message: fmt.Sprintf("EDAC DIMM %q (%s %s) matches no SMBIOS slot: named by its EDAC label", d.Label, d.Controller, d.Location)})
		}
	}
	if len(slots) == 0 && unjoined > 0 {
		problems = append(problems, Problem{Part: PartEDAC, Path: edacDir,
			Message: fmt.Sprintf("no SMBIOS slots to join: %d DIMMs are named by their EDAC labels, not the slots printed on the board", unjoined)})
	}
	return problems
}

// dellLayoutFits says whether Dell's locators ("A1", "DIMM_B7") describe
// these slots: one letter per socket EDAC knows, each letter's slots a
// whole number of rows across the socket's channels. Single-socket boards
// that letter their channels ("DIMM_A1", "DIMM_B1") fail it.
func dellLayoutFits(slots []DIMMSlot, perSocket map[int]int) bool {
	letters := map[int]int{}
	for _, s := range slots {
		m := reLocatorDell.FindStringSubmatch(s.Locator)
		if m == nil {
			return false
		}
		letters[int(unicode.ToUpper(rune(m[1][0]))-'A')]++
	}
	if len(letters) == 0 || len(letters) != len(perSocket) {
		return false
	}
	for socket, n := range letters {
		ch := perSocket[socket]
		if ch == 0 || n%ch != 0 {
			return false
		}
	}
	return true
}

// uniqueSlot is the index of the one slot that matches, or -1.
func uniqueSlot(slots []DIMMSlot, match func(DIMMSlot) bool) int {
	found := -1
	for i, s := range slots {
		if match(s) {
			if found >= 0 {
				return -1
			}
			found = i
		}
	}
	return found
}

// channelsPerSocket is each socket's channel count: its controllers'
// channels, added up.
func channelsPerSocket(dimms []edacDIMM) map[int]int {
	type key struct{ socket, mc int }
	perMC := map[key]int{}
	for _, d := range dimms {
		if d.hasPos && d.channelsPerMC > 0 {
			perMC[key{d.pos.socket, d.pos.mc}] = d.channelsPerMC
		}
	}
	out := map[int]int{}
	for k, n := range perMC {
		out[k.socket] += n
	}
	return out
}

// labelMatches says whether an EDAC label names slot s: the label, or one
// of its words, is the slot's locator, or the label is the bank locator
// and the locator together (ghes_edac), letters and digits alike.
func labelMatches(label string, s DIMMSlot) bool {
	loc := alnumUpper(s.Locator)
	if loc == "" {
		return false
	}
	l := alnumUpper(label)
	if l == loc || l == alnumUpper(s.BankLocator+s.Locator) || l == alnumUpper(s.Locator+s.BankLocator) {
		return true
	}
	for _, w := range strings.Fields(label) {
		if alnumUpper(w) == loc {
			return true
		}
	}
	return false
}

// alnumUpper is s's letters and digits, upper case.
func alnumUpper(s string) string {
	var b strings.Builder
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(unicode.ToUpper(r))
		}
	}
	return b.String()
}

// sizesAgree says whether EDAC's and SMBIOS's sizes of a DIMM agree
// (EDAC's may be a little less: memory the firmware holds back).
func sizesAgree(edac, smbios int64) bool {
	return edac <= smbios && edac*100 >= smbios*95
}

// slotNames names each slot by its locator, or by bank and locator where
// the locator alone is not unique ("P0 CHANNEL A DIMM 0").
func slotNames(slots []DIMMSlot) []string {
	seen := map[string]int{}
	for _, s := range slots {
		seen[s.Locator]++
	}
	out := make([]string, len(slots))
	for i, s := range slots {
		out[i] = s.Locator
		if seen[s.Locator] > 1 && s.BankLocator != "" {
			out[i] = s.BankLocator + " " + s.Locator
		}
	}
	return out
}

// indexedName parses "<prefix><n>".
func indexedName(name, prefix string) (int, bool) {
	if !strings.HasPrefix(name, prefix) {
		return 0, false
	}
	n, err := strconv.Atoi(name[len(prefix):])
	return n, err == nil && n >= 0
}

// sortIndexed sorts "<prefix><n>" names by prefix, then n.
func sortIndexed(names []string) {
	key := func(s string) (string, int) {
		i := strings.IndexFunc(s, unicode.IsDigit)
		if i < 0 {
			return s, -1
		}
		n, _ := strconv.Atoi(s[i:])
		return s[:i], n
	}
	sort.Slice(names, func(i, j int) bool {
		pi, ni := key(names[i])
		pj, nj := key(names[j])
		if pi != pj {
			return pi < pj
		}
		return ni < nj
	})
}
