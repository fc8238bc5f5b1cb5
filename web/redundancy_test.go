package web

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rackpulse/rackpulse/alert"
	"github.com/rackpulse/rackpulse/bmc"
	"github.com/rackpulse/rackpulse/fleet"
	"github.com/rackpulse/rackpulse/inventory"
	"github.com/rackpulse/rackpulse/rollup"
)

// redundancyDashboard serves the UI over the test inventory with r12-u01
// lost (a supply without input), r12-u02 a single supply (not_redundant)
// and r13-u01 redundant.
func redundancyDashboard(t *testing.T) http.Handler {
	t.Helper()
	t.Setenv("WEB_TEST_PASSWORD", "web-test-password")
	inv, problems, err := inventory.Load("testdata/inventory.yaml")
	if err != nil {
		t.Fatalf("%v\n%s", err, problems.Errors())
	}
	live := fleet.New(inv, nil, 30*time.Second, fleet.Options{})
	engine := alert.New(alert.Options{})
	live.AddSink(engine)
	at := time.Now()
	lost := testSnapshot("r12-u01", at, 310)
	lost.PSUs[1].LineInputStatus, lost.PSUs[1].Health = "LossOfInput", bmc.HealthCritical
	single := testSnapshot("r12-u02", at, 250)
	single.PSUs = single.PSUs[:1]
	live.Observe(bmc.Endpoint{Server: "r12-u01"}, at, lost, nil)
	live.Observe(bmc.Endpoint{Server: "r12-u02"}, at, single, nil)
	live.Observe(bmc.Endpoint{Server: "r13-u01"}, at, testSnapshot("r13-u01", at, 400), nil)
	live.Rollup(at)
	ui, err := NewUI(UIOptions{Live: live, Alerts: engine})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	ui.Register(mux)
	NewAPI(live, engine, nil).Register(mux)
	return mux
}

func TestPagesShowPSURedundancyVerdicts(t *testing.T) {
	h := redundancyDashboard(t)
	pages := []struct {
		path string
		want []string
	}{
		{"/racks/r12", []string{
			`title="1 of 2 PSUs working: PSU 2 input LossOfInput"><span class="redundancy redundancy-lost">lost</span>`,
			`<span class="redundancy redundancy-not_redundant">not redundant</span>`,
			`<dt>PSU redundancy</dt><dd><span class="redundancy redundancy-lost">1 lost</span> · <span class="redundancy redundancy-not_redundant">1 not redundant</span></dd>`,
		}},
		{"/racks/r13", []string{
			`<span class="redundancy redundancy-redundant">redundant</span>`,
			`<dt>PSU redundancy</dt><dd><span class="redundancy redundancy-redundant">none lost or degraded</span></dd>`,
		}},
		{"/servers/r12-u02", []string{
			`<span class="redundancy redundancy-not_redundant">not redundant</span>`,
			`PSU redundancy not redundant: a single PSU present, not redundant`,
		}},
		{"/", []string{
			`<dt>PSU redundancy</dt><dd><span class="redundancy redundancy-lost">1 lost</span> · <span class="redundancy redundancy-not_redundant">1 not redundant</span></dd>`,
		}},
	}
	for _, p := range pages {
		code, body := get(t, h, p.path)
		if code != http.StatusOK {
			t.Fatalf("%s: %d %s", p.path, code, body)
		}
		for _, want := range p.want {
			if !strings.Contains(body, want) {
				t.Errorf("%s lacks %s", p.path, want)
			}
		}
	}
}

func TestRollupAPICarriesPSURedundancy(t *testing.T) {
	h := redundancyDashboard(t)
	code, body := get(t, h, "/api/rollup")
	if code != http.StatusOK {
		t.Fatalf("/api/rollup: %d %s", code, body)
	}
	var res struct {
		Site rollup.Node `json:"site"`
	}
	if err := json.Unmarshal([]byte(body), &res); err != nil {
		t.Fatalf("/api/rollup: %v", err)
	}
	if s := res.Site; s.RedundancyLost != 1 || s.RedundancyDegraded != 0 || s.RedundancyNotRedundant != 1 {
		t.Errorf("site lost/degraded/not_redundant = %d/%d/%d, want 1/0/1", s.RedundancyLost, s.RedundancyDegraded, s.RedundancyNotRedundant)
	}
	for _, want := range []string{`"psu_redundancy":"not_redundant"`, `"psu_redundancy_not_redundant":1`, `"psu_redundancy_reason":"1 of 2 PSUs working: PSU 2 input LossOfInput"`} {
		if !strings.Contains(body, want) {
			t.Errorf("/api/rollup lacks %s", want)
		}
	}
	// The alert engine raised PSURedundancyLost on the lost server only.
	code, body = get(t, h, "/api/alerts?state=firing")
	var firing []alert.Alert
	if err := json.Unmarshal([]byte(body), &firing); code != http.StatusOK || err != nil {
		t.Fatalf("/api/alerts: %d %v", code, err)
	}
	var lostOn []string
	for _, a := range firing {
		if a.Name == "PSURedundancyLost" {
			lostOn = append(lostOn, a.Labels["server"])
		}
	}
	if len(lostOn) != 1 || lostOn[0] != "r12-u01" {
		t.Errorf("PSURedundancyLost firing on %v, want r12-u01 only", lostOn)
	}
}
