package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rackpulse/rackpulse/alert"
	"github.com/rackpulse/rackpulse/bmc/sim"
	"github.com/rackpulse/rackpulse/inventory"
	"github.com/rackpulse/rackpulse/web/browsertest"
)

// TestDashboardInABrowser drives the dashboard in a real headless Chromium
// against serve polling a simulated fleet: the site page shows every rack,
// the rack page's watts are /api/rollup's and its elevation places every
// server at its U, a DIMM fault injected through the simulator's admin API
// shows on the open rack and server pages as they update themselves, and
// no page logs a console error. With RACKPULSE_SCREENSHOTS=DIR it saves
// the site, rack and server pages there (docs/img holds them).
func TestDashboardInABrowser(t *testing.T) {
	browser := browsertest.Start(t)
	mix, err := sim.ParseMix("modern=40,legacy=30,ipmi=30")
	if err != nil {
		t.Fatal(err)
	}
	fleet, invPath := startSimFleetEvery(t, sim.FleetOptions{Count: 30, Mix: mix, PerRack: 10}, "2s")
	admin := httptest.NewServer(fleet.AdminHandler())
	defer admin.Close()
	inv, problems, err := inventory.Load(invPath)
	if err != nil {
		t.Fatalf("%v\n%s", err, problems.Errors())
	}
	serve := startServing(t, serveConfig{inventoryPath: invPath, stateDir: t.TempDir(), alerts: alertConfig{settings: alert.DefaultSettings()}})
	waitFor(t, 60*time.Second, func() bool {
		var res struct{ Racks []struct{ Reporting int } }
		if json.Unmarshal([]byte(getBody(t, serve.base+"/api/rollup")), &res) != nil {
			return false
		}
		n := 0
		for _, r := range res.Racks {
			n += r.Reporting
		}
		return n == 30
	})
	shots := os.Getenv("RACKPULSE_SCREENSHOTS")
	shot := func(p *browsertest.Page, name string) {
		if shots == "" {
			return
		}
		if err := p.Screenshot(filepath.Join(shots, name), true); err != nil {
			t.Errorf("screenshot %s: %v", name, err)
		}
	}
	noConsoleErrors := func(p *browsertest.Page, page string) {
		if errs := p.ConsoleErrors(); len(errs) > 0 {
			t.Errorf("%s logged console errors: %q", page, errs)
		}
	}

	// The site page: every rack, as a tile linking to its page.
	site := browser.Page(t)
	if err := site.Go(serve.base + "/"); err != nil {
		t.Fatal(err)
	}
	if err := site.WaitVisible(".chart .uplot", 30*time.Second); err != nil {
		t.Fatalf("the site chart was not drawn: %v", err)
	}
	racks := inv.Racks()
	if n, err := site.Count("a.tile"); err != nil || n != len(racks) {
		t.Errorf("site page shows %d rack tiles (%v), want %d", n, err, len(racks))
	}
	for _, r := range racks {
		if href, err := site.Attr(fmt.Sprintf(`a.tile[data-rack=%q]`, r.Name), "href"); err != nil || href != "/racks/"+r.Name {
			t.Errorf("rack %s's tile links to %q (%v)", r.Name, href, err)
		}
	}
	noConsoleErrors(site, "the site page")

	// A rack page: its watts are /api/rollup's (read until a rollup does
	// not come between the two), and each server sits at its U.
	rack := racks[0]
	rp := browser.Page(t)
	if err := rp.Go(serve.base + "/racks/" + rack.Name); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, func() bool {
		var res struct {
			Racks []struct {
				Name  string
				Watts float64
			}
		}
		if json.Unmarshal([]byte(getBody(t, serve.base+"/api/rollup")), &res) != nil {
			return false
		}
		page, err := rp.Attr("#rack-watts", "data-watts")
		if err != nil {
			return false
		}
		for _, r := range res.Racks {
			if r.Name == rack.Name {
				return page == fmt.Sprint(r.Watts)
			}
		}
		return false
	})
	var misplaced []string
	if err := rp.Eval(`(() => {
	  const bad = [];
	  const units = {};
	  document.querySelectorAll(".rack-frame .u").forEach(u => units[u.textContent.trim()] = u.getBoundingClientRect());
	  document.querySelectorAll(".rack-frame .slot").forEach(s => {
	    const top = +s.dataset.u + (+s.getAttribute("data-height") || 1) - 1;
	    const r = s.getBoundingClientRect(), u = units[String(top)], bottom = units[s.dataset.u];
	    if (!u || !bottom || Math.abs(r.top - u.top) > 3 || Math.abs(r.bottom - bottom.bottom) > 3) bad.push(s.dataset.server + " at U" + s.dataset.u);
	  });
	  return bad;
	})()`, &misplaced); err != nil {
		t.Fatal(err)
	}
	if n, _ := rp.Count(".rack-frame .slot"); n != len(rack.Servers) || len(misplaced) > 0 {
		t.Errorf("elevation: %d servers drawn of %d; misplaced: %v", n, len(rack.Servers), misplaced)
	}
	for _, s := range rack.Servers {
		if u, err := rp.Attr(fmt.Sprintf(`.slot[data-server=%q]`, s.Name), "data-u"); err != nil || u != fmt.Sprint(s.Position) {
			t.Errorf("%s drawn at U%s (%v), want U%d", s.Name, u, err, s.Position)
		}
	}
	if err := rp.WaitVisible(".chart .uplot", 30*time.Second); err != nil {
		t.Errorf("the rack chart was not drawn: %v", err)
	}
	if err := rp.Click(`th[data-sort="num"]:nth-child(3)`); err != nil {
		t.Errorf("sorting the table by watts: %v", err)
	}
	noConsoleErrors(rp, "the rack page")

	// A DIMM fault: the open rack and server pages show it by themselves.
	var victim *sim.SimBMC
	for _, b := range fleet.BMCs() {
		if info := b.Info(); info.Rack == rack.Name && info.Profile == "modern" {
			victim = b
			break
		}
	}
	if victim == nil {
		t.Fatalf("no modern BMC in %s", rack.Name)
	}
	sp := browser.Page(t)
	if err := sp.Go(serve.base + "/servers/" + victim.Name()); err != nil {
		t.Fatal(err)
	}
	shot(site, "site.png")
	polls := func() float64 {
		return serve.metric(t, "rackpulse_bmc_polls_total", map[string]string{"server": victim.Name()})
	}
	before := polls()
	resp, err := http.Post(admin.URL+"/bmcs/"+victim.Name()+"/faults", "application/json", strings.NewReader(`{"fault":"dimm-uncorrectable","target":"DIMM2"}`))
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("injecting the fault through the admin API: %v %v", resp, err)
	}
	resp.Body.Close()
	slot := "PROC 1 DIMM 2"
	if err := sp.WaitText(".alerts", "Replace DIMM "+slot, 60*time.Second); err != nil {
		t.Fatalf("the server page never showed the DIMM alert: %v", err)
	}
	if err := rp.WaitVisible(fmt.Sprintf(`.slot[data-server=%q] .badge.critical`, victim.Name()), 60*time.Second); err != nil {
		t.Fatalf("the rack page's elevation never showed the critical alert badge: %v", err)
	}
	if err := rp.WaitText(fmt.Sprintf(`tr[data-server=%q]`, victim.Name()), "1 UE", 60*time.Second); err != nil {
		t.Fatalf("the rack page's table never showed the uncorrectable error: %v", err)
	}
	// Within two poll intervals: the BMC was polled at most twice after
	// the fault (once to read it, once more while a page waited for its
	// next update), plus the poll that may have been in flight.
	if n := polls() - before; n > 3 {
		t.Errorf("the pages showed the fault %v polls after it was injected; want it within two intervals", n)
	}
	if text, err := sp.Text(fmt.Sprintf(`tr[data-slot=%q]`, slot)); err != nil || !strings.Contains(text, "Critical") {
		t.Errorf("the server page's DIMM row: %q (%v); want it Critical", text, err)
	}
	shot(rp, "rack.png")
	shot(sp, "server.png")
	noConsoleErrors(rp, "the rack page")
	noConsoleErrors(sp, "the server page")

	ap := browser.Page(t)
	if err := ap.Go(serve.base + "/alerts"); err != nil {
		t.Fatal(err)
	}
	if err := ap.WaitText(fmt.Sprintf(`[data-rack=%q]`, rack.Name), victim.Name(), 30*time.Second); err != nil {
		t.Errorf("the alerts page does not list the DIMM alert: %v", err)
	}
	noConsoleErrors(ap, "the alerts page")
}
