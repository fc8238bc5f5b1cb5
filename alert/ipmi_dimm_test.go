package alert

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/rackpulse/rackpulse/bmc"
	"github.com/rackpulse/rackpulse/bmc/ipmi"
	"github.com/rackpulse/rackpulse/bmc/sim"
)

// TestIPMIDIMMFailingNamesTheTablesSlot: a DIMM failing on the
// simulator's IPMI BMC, polled by the IPMI collector, raises one
// DIMMFailing whose slot label is the DIMM table's slot (the SEL entry's
// subject and the counts name the DIMM alike).
func TestIPMIDIMMFailingNamesTheTablesSlot(t *testing.T) {
	const user, password = "rp-alerts", "rp-alerts-s3cret"
	f, err := sim.StartOnFreePorts(context.Background(), sim.FleetOptions{
		Count: 1, Mix: []sim.ProfileShare{{Profile: sim.ProfileIPMI, Weight: 1}},
		OutDir: t.TempDir(), Username: user, Password: password,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	b := f.BMCs()[0]
	const server = "r12-u05"
	c, err := ipmi.New(bmc.Endpoint{
		Server: server, Protocol: bmc.ProtocolIPMI, Address: b.URL(), Username: user, Password: bmc.Secret(password),
		CipherSuite: 3, Privilege: "ADMINISTRATOR", RequestTimeout: 1500 * time.Millisecond, PollTimeout: 20 * time.Second,
		Cadence: bmc.Cadence{Readings: interval, Slow: time.Nanosecond},
	}, bmc.CollectorOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	h := newHarness(t, Options{})
	poll := func() *bmc.Snapshot {
		t.Helper()
		snap, err := c.Poll(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		h.poll(server, snap, nil)
		return snap
	}
	poll()
	if got := h.changes(); len(got) != 0 {
		t.Fatalf("a healthy IPMI server raised %v", got)
	}

	if err := b.Inject(sim.FaultSpec{Fault: sim.FaultDIMMUncorrectable, Target: "DIMM_A3"}); err != nil {
		t.Fatal(err)
	}
	var snap *bmc.Snapshot
	for deadline := time.Now().Add(30 * time.Second); ; {
		snap = poll()
		if slices.ContainsFunc(snap.Logs, func(e bmc.LogEntry) bool { return e.Component == "DIMM" }) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no DIMM entry in the SEL after 30 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := h.changes(); !slices.Equal(got, []string{"DIMMFailing critical firing DIMM_A3"}) {
		t.Fatalf("changes %v, want one critical DIMMFailing for DIMM_A3", got)
	}
	slot := h.alert("DIMMFailing").Labels["slot"]
	i := slices.IndexFunc(snap.DIMMs, func(d bmc.DIMM) bool { return d.Slot == slot })
	if i < 0 || snap.DIMMs[i].UncorrectableErrors == nil || *snap.DIMMs[i].UncorrectableErrors != 1 {
		t.Errorf("DIMMFailing's slot %q is not the DIMM table's row with the error: %+v", slot, snap.DIMMs)
	}
}
