package ipmi

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rackpulse/rackpulse/bmc"
	bmcsim "github.com/rackpulse/rackpulse/bmc/sim"
)

// simSlots are the simulator's IPMI DIMM slots, as docs/simulator.md
// names them.
func simSlots() []string {
	var slots []string
	for _, bank := range "AB" {
		for n := 1; n <= 8; n++ {
			slots = append(slots, fmt.Sprintf("DIMM_%c%d", bank, n))
		}
	}
	return slots
}

// One name per DIMM: the Snapshot's DIMM table lists the slots the SDR's
// FRU device locators name, in their order; a memory event of a bank
// sensor (the module in event data 3) names the slot the entity
// association gives, and its errors count on that row; the simulator's
// documentation uses the same names.
func TestSimIPMIDIMMNamesAgree(t *testing.T) {
	f := startIPMIFleet(t, 1)
	b := f.BMCs()[0]
	c := newCollector(t, fleetEndpoint(b), bmc.CollectorOptions{})
	first := cleanPoll(t, c)
	var slots []string
	for _, d := range first.DIMMs {
		slots = append(slots, d.Slot)
	}
	if !slices.Equal(slots, simSlots()) {
		t.Fatalf("DIMM table %q, want %q", slots, simSlots())
	}
	for _, d := range first.DIMMs {
		if d.Health != bmc.HealthOK || d.Source != dimmLocatorSource(d.Slot) {
			t.Errorf("healthy server's %s: health %q, source %q; want OK from its locator", d.Slot, d.Health, d.Source)
		}
	}

	const target = "DIMM_A3"
	inject(t, b, bmcsim.FaultSpec{Fault: bmcsim.FaultDIMMUncorrectable, Target: target})
	snaps := pollUntil(t, c, "the DIMM's SEL record", func(s *bmc.Snapshot) bool { return len(logsFor(s.Logs, "DIMM")) > 0 })
	last := snaps[len(snaps)-1]
	events := logsFor(allLogs(snaps), "DIMM")
	if len(events) != 1 || events[0].Subject != target || events[0].Severity != bmc.HealthCritical {
		t.Fatalf("DIMM entries %s, want one Critical entry about %s", fmtLogs(events), target)
	}
	i := slices.IndexFunc(last.DIMMs, func(d bmc.DIMM) bool { return d.Slot == events[0].Subject })
	if i < 0 {
		t.Fatalf("the SEL entry names %q, which the DIMM table %+v does not list", events[0].Subject, last.DIMMs)
	}
	if d := last.DIMMs[i]; fmtCount(d.UncorrectableErrors) != "1" || fmtCount(d.CorrectableErrors) != "0" || !d.CountsFromZero {
		t.Errorf("%s counts %s correctable, %s uncorrectable; want 0 and 1", d.Slot, fmtCount(d.CorrectableErrors), fmtCount(d.UncorrectableErrors))
	}
	// CPU1 Memory, over DIMM_A1..A8, is Critical: which of its slots
	// failed is the SEL's to say, so none of them is OK any more; the
	// CPU2 group stays OK.
	for _, d := range last.DIMMs {
		want := bmc.HealthOK
		if strings.HasPrefix(d.Slot, "DIMM_A") {
			want = bmc.HealthUnknown
		}
		if d.Health != want {
			t.Errorf("%s health %q after the fault, want %q", d.Slot, d.Health, want)
		}
	}
	if len(last.DIMMs) != len(simSlots()) {
		t.Errorf("%d DIMMs after the event, want %d (no row of the bank sensor or the event's own)", len(last.DIMMs), len(simSlots()))
	}

	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "simulator.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"DIMM_A1", target, "DIMM_B8"} {
		if !strings.Contains(string(doc), "`"+name+"`") {
			t.Errorf("docs/simulator.md does not name `%s`", name)
		}
	}
}

func TestEntityAssociationRecords(t *testing.T) {
	rng := []byte{1, 0, 0x51, sdrEntityAssoc, 11, entityMemoryModule, 2, 0x80, entityMemoryDevice, 9, entityMemoryDevice, 11, 0, 0, 0, 0}
	a, ok := parseEntityAssoc(rng)
	want := []entityKey{{entityMemoryDevice, 9}, {entityMemoryDevice, 10}, {entityMemoryDevice, 11}}
	if !ok || a.container != (entityKey{entityMemoryModule, 2}) || !slices.Equal(a.contained, want) {
		t.Errorf("range record: %+v %v", a, ok)
	}
	list := []byte{2, 0, 0x51, sdrEntityAssoc, 11, entityMemoryModule, 1, 0x00, entityMemoryDevice, 3, entityMemoryDevice, 1, 0, 0, 0, 0}
	a, ok = parseEntityAssoc(list)
	if want := []entityKey{{entityMemoryDevice, 3}, {entityMemoryDevice, 1}}; !ok || !slices.Equal(a.contained, want) {
		t.Errorf("list record: %+v %v", a, ok)
	}
	if _, ok := parseEntityAssoc(rng[:10]); ok {
		t.Error("a short record decoded")
	}

	// Module n of the bank sensor is the n-th DIMM of its memory module;
	// one without a locator is named by its instance.
	bank := &sdrRecord{Name: "CPU1 Memory", SensorType: sensorMemory, EventType: eventSensorSpecific, EntityID: entityMemoryModule, EntityInstance: 1}
	cache := &sdrCache{records: []*sdrRecord{bank},
		dimms: []fruLocator{{entityKey{entityMemoryDevice, 3}, "DIMM_A3"}},
		assoc: []entityAssoc{a}} // the list record: module 1 holds DIMMs 3 and 1
	cache.nameDIMMs()
	if !slices.Equal(bank.Modules, []string{"DIMM_A3", "DIMM1"}) || namesDIMM(bank) {
		t.Fatalf("bank sensor modules %q (names a DIMM: %v)", bank.Modules, namesDIMM(bank))
	}
	ev := selRecord{Type: 0x02, SensorType: sensorMemory, EventType: eventSensorSpecific, Data: [3]byte{0x30 | memUncorrectableECC, 0xff, 0}}
	if got, how := eventDIMM(ev, bank); got != "DIMM_A3" || how != dimmByEventData {
		t.Errorf("module 0: %q (%v)", got, how)
	}
	ev.Data[2] = 5
	if got, _ := eventDIMM(ev, bank); got != "CPU1 Memory DIMM 5" {
		t.Errorf("module 5 of 2: %q", got)
	}

	// Counts kept under the module number before move to the slot's name.
	cur := selCursor{DIMMErrors: map[string]dimmErrors{"CPU1 Memory DIMM 0": {Correctable: 3}, "DIMM_A3": {Uncorrectable: 1}}}
	cur.renameModules(cache)
	if want := map[string]dimmErrors{"DIMM_A3": {Correctable: 3, Uncorrectable: 1}}; fmt.Sprint(cur.DIMMErrors) != fmt.Sprint(want) {
		t.Errorf("counts after the rename: %v, want %v", cur.DIMMErrors, want)
	}
}
