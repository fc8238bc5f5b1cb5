package redfish

import (
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/rackpulse/rackpulse/bmc"
	"github.com/rackpulse/rackpulse/bmc/sim"
)

// A supply's PowerSupplyMetrics are read inline where the service expands
// the PowerSupplies collection two levels deep, and from their own link
// where it expands one level only: the readings are the same either way,
// and only the second costs a request per supply.
func TestPSUMetricsInlineOrByLink(t *testing.T) {
	for _, oneLevel := range []bool{false, true} {
		name := "expanded two levels"
		if oneLevel {
			name = "expanded one level"
		}
		t.Run(name, func(t *testing.T) {
			f, err := sim.NewFleet(sim.FleetOptions{Count: 1, Mix: []sim.ProfileShare{{Profile: sim.ProfileModern, Weight: 1}}, Username: testUser, Password: testPassword})
			if err != nil {
				t.Fatal(err)
			}
			b := f.BMCs()[0]
			var h http.Handler = b.Handler()
			if oneLevel {
				inner := h
				h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					r.URL.RawQuery = strings.ReplaceAll(r.URL.RawQuery, "$levels=2", "$levels=1")
					inner.ServeHTTP(w, r)
				})
			}
			_, ep := tlsServer(t, h)
			ep.Server = b.Name()
			var mu sync.Mutex
			metricsGets := 0
			opts := bmcOpts(t)
			opts.Trace = func(tr bmc.RequestTrace) {
				if strings.Contains(tr.URL, "/PowerSupplies/") && strings.HasSuffix(tr.URL, "/Metrics") {
					mu.Lock()
					metricsGets++
					mu.Unlock()
				}
			}
			c, _ := newCollector(t, ep, opts)
			snap := mustPoll(t, c)
			if !snap.Poll.OK() {
				t.Fatalf("poll errors: %+v", snap.Poll.Errors)
			}
			withReadings := 0
			for _, psu := range snap.PSUs {
				if psu.InputWatts != nil && psu.OutputWatts != nil && psu.InputVolts != nil {
					withReadings++
				}
			}
			if withReadings == 0 || withReadings != len(snap.PSUs) {
				t.Fatalf("%d of %d PSUs have input, output and voltage readings: %+v", withReadings, len(snap.PSUs), snap.PSUs)
			}
			mu.Lock()
			defer mu.Unlock()
			want := 0
			if oneLevel {
				want = len(snap.PSUs)
			}
			if metricsGets != want {
				t.Errorf("%d requests for PowerSupplyMetrics, want %d", metricsGets, want)
			}
		})
	}
}
