package sim

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// The IPMI profile names its DIMMs by their silkscreen labels, DIMM_A1 to
// DIMM_B8: in FRU device locators (which ipmitool prints as the FRU
// devices' descriptions and in "sdr elist all"), and their FRU data carry
// the module's serial number, new after a replacement.
func TestIPMIToolNamesDIMMSlots(t *testing.T) {
	b := oneIPMIBMC(t, nightClock())
	var slots []string
	for _, bank := range "AB" {
		for n := 1; n <= ipmiDIMMsPerCPU; n++ {
			slots = append(slots, fmt.Sprintf("DIMM_%c%d", bank, n))
		}
	}

	sdr := ipmitool(t, b, "sdr", "elist", "all")
	for i, slot := range slots {
		want := regexp.MustCompile(fmt.Sprintf(`(?m)^%s\s+\|.*\| 32\.%d \| Logical FRU @%02Xh`, slot, i+1, i+1))
		if !want.MatchString(sdr) {
			t.Errorf("sdr elist all has no FRU locator for %s (entity 32.%d, FRU %d):\n%s", slot, i+1, i+1, sdr)
		}
	}

	serial := func(fru, slot string) string {
		t.Helper()
		_, section, ok := strings.Cut(fru, "FRU Device Description : "+slot+" (")
		if !ok {
			t.Fatalf("fru print has no %s:\n%s", slot, fru)
		}
		m := regexp.MustCompile(`Board Serial\s+: (\S+)`).FindStringSubmatch(section)
		if m == nil {
			t.Fatalf("fru print: %s has no board serial:\n%s", slot, section)
		}
		return m[1]
	}
	fru := ipmitool(t, b, "fru", "print")
	for i, slot := range slots {
		if !strings.Contains(fru, fmt.Sprintf("FRU Device Description : %s (ID %d)", slot, i+1)) {
			t.Errorf("fru print has no FRU device %d named %s", i+1, slot)
		}
	}
	before := serial(fru, "DIMM_B5")

	// "DIMM B5" names the same slot; clearing the fault replaces the module.
	if err := b.Inject(FaultSpec{Fault: FaultDIMMUncorrectable, Target: "DIMM B5"}); err != nil {
		t.Fatal(err)
	}
	if !b.Clear(FaultDIMMUncorrectable) {
		t.Fatal("dimm-uncorrectable was not on")
	}
	fru = ipmitool(t, b, "fru", "print")
	if after := serial(fru, "DIMM_B5"); after == before {
		t.Errorf("DIMM_B5's serial %s unchanged after the replacement", after)
	}
	if a1 := serial(fru, "DIMM_A1"); a1 != b.machine.partSerial(b.machine.profile.layout.dimmSerialPrefix, partSlot{partDIMM, 0}, 0) {
		t.Errorf("DIMM_A1's serial %s is not its slot's", a1)
	}
}
