package redfish

import (
	"net/http"
	"testing"

	"github.com/rackpulse/rackpulse/bmc"
)

// End to end through the legacy Power resource: a supply's 266.6 W and
// 230.1 V, and the chassis's 533.2 W, read as written.
func TestLegacyReadingsKeepTheirDecimals(t *testing.T) {
	h := newHostileBMC(t, nil, func(h *hostileBMC, _ http.ResponseWriter, r *http.Request) bool { return false })
	h.misbehave = func(h *hostileBMC, w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != legacyPower {
			return false
		}
		h.edited(w, r, func(obj map[string]any) {
			for _, p := range obj["PowerSupplies"].([]any) {
				psu := p.(map[string]any)
				psu["LastPowerOutputWatts"], psu["PowerOutputWatts"], psu["LineInputVoltage"] = 266.6, 266.6, 230.1
			}
			obj["PowerControl"].([]any)[0].(map[string]any)["PowerConsumedWatts"] = 533.2
		})
		return true
	}
	c, _ := newCollector(t, h.ep, bmcOpts(t))
	snap := mustPoll(t, c)
	if len(snap.PSUs) == 0 {
		t.Fatal("no PSUs read")
	}
	for _, p := range snap.PSUs {
		if !ptrEq(p.OutputWatts, 266.6) || !ptrEq(p.InputVolts, 230.1) {
			t.Errorf("PSU %s: output %v W, line %v V; want 266.6 and 230.1 exactly", p.Bay, deref(p.OutputWatts), deref(p.InputVolts))
		}
	}
	found := false
	for _, pr := range snap.Power {
		found = found || pr.Source == bmc.PowerFromPowerControl && pr.Watts == 533.2
	}
	if !found {
		t.Errorf("chassis power readings %+v; want 533.2 W exactly", snap.Power)
	}
}
