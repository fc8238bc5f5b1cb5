package redfish

import (
	"math"
	"net/http"
	"strconv"
	"testing"

	"github.com/rackpulse/rackpulse/bmc"
)

// A legacy-schema number decodes to a float32; it reads as the decimal the
// BMC wrote, not as that float32 widened (266.6000061035156).
func TestWiden32KeepsTheBMCsDecimal(t *testing.T) {
	for _, s := range []string{"266.6", "230.1", "0.1", "12030.2", "1e-7", "3.4028235e38", "-40.5", "0", "118"} {
		v, err := strconv.ParseFloat(s, 32)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := strconv.ParseFloat(s, 64)
		if got := widen32(float32(v)); got != want {
			t.Errorf("widen32(%s) = %v, want %v", s, got, want)
		}
	}
	if got := widen32(float32(math.NaN())); !math.IsNaN(got) {
		t.Errorf("widen32(NaN) = %v", got)
	}
	if got := widen32(float32(math.Inf(-1))); !math.IsInf(got, -1) {
		t.Errorf("widen32(-Inf) = %v", got)
	}
}

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
