package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rackpulse/rackpulse/bmc/sim"
)

// startFleet starts a simulated fleet of n Redfish BMCs (mixed profiles)
// over TLS on loopback, 3 per rack, and returns it with its inventory,
// rewritten to poll every second.
func startFleet(t *testing.T, n int) (*sim.Fleet, string) {
	t.Helper()
	mix, err := sim.ParseMix("modern=50,legacy=50")
	if err != nil {
		t.Fatal(err)
	}
	return startSimFleet(t, sim.FleetOptions{Count: n, Mix: mix})
}

// startSimFleet starts a fleet with opts (3 servers per rack unless opts
// says, credentials and ports filled in) and returns it with its inventory
// polled every second.
func startSimFleet(t *testing.T, opts sim.FleetOptions) (*sim.Fleet, string) {
	t.Helper()
	return startSimFleetEvery(t, opts, "1s")
}

// startSimFleetEvery is startSimFleet with the inventory polled every
// interval (a duration as the inventory writes it).
func startSimFleetEvery(t *testing.T, opts sim.FleetOptions, interval string) (*sim.Fleet, string) {
	t.Helper()
	const password = "serve-test-password"
	t.Setenv(sim.PasswordEnv, password)
	out := t.TempDir()
	opts.Host, opts.OutDir = "127.0.0.1", out
	opts.Username, opts.Password = "admin", password
	if opts.PerRack == 0 {
		opts.PerRack = 3
	}
	fleet := startFleetOnFreePorts(t, opts)
	raw, err := os.ReadFile(fleet.InventoryFile())
	if err != nil {
		t.Fatal(err)
	}
	inv := filepath.Join(out, "poll-inventory.yaml")
	writeFile(t, inv, strings.Replace(string(raw), "poll_interval: 30s", "poll_interval: "+interval, 1))
	return fleet, inv
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil { // as editors do
		t.Fatal(err)
	}
}

func getBody(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestServePollsFleetReloadsInventoryAndLogsOutOnStop(t *testing.T) {
	fleet, invPath := startFleet(t, 6)
	invText, _ := os.ReadFile(invPath)

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	ready := make(chan string, 1)
	done := make(chan error, 1)
	cfg := serveConfig{inventoryPath: invPath, listen: "127.0.0.1:0", workers: 4, reloadCheck: 50 * time.Millisecond, stateDir: t.TempDir()}
	go func() { done <- runServe(ctx, cfg, slog.New(slog.DiscardHandler), ready) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("serve stopped at start: %v", err)
	}
	base := "http://" + addr

	type health struct{ BMCs, Reporting int }
	healthz := func() health {
		var h health
		if err := json.Unmarshal([]byte(getBody(t, base+"/healthz")), &h); err != nil {
			t.Fatal(err)
		}
		return h
	}
	waitFor(t, 30*time.Second, func() bool { return healthz().Reporting == 6 })
	metrics := getBody(t, base+"/metrics")
	for _, b := range fleet.BMCs() {
		if !strings.Contains(metrics, `rackpulse_bmc_polls_total{rack="`) || !strings.Contains(metrics, `server="`+b.Name()+`"`) {
			t.Errorf("/metrics has no poll series for %s", b.Name())
		}
	}
	checkRollup(t, base, 6)
	checkFailingBMCIsNotSummedAsLive(t, base, fleet.BMCs()[0])
	if strings.Contains(metrics, "serve-test-password") || strings.Contains(getBody(t, base+"/api/servers"), "serve-test-password") {
		t.Error("the BMC password appears in served output")
	}

	// A bad edit is reported and the running inventory kept.
	writeFile(t, invPath, strings.Replace(string(invText), "address:", "adress:", 1))
	waitFor(t, 10*time.Second, func() bool {
		return strings.Contains(getBody(t, base+"/metrics"), `rackpulse_inventory_reloads_total{result="invalid"} 1`)
	})
	if h := healthz(); h.BMCs != 6 {
		t.Errorf("after a bad edit %d BMCs are polled, want the 6 of the running inventory", h.BMCs)
	}

	// A good edit that drops the last rack is applied by diff, and the
	// dropped BMCs are logged out.
	racks := regexp.MustCompile(`(?m)^\s*- name: rack-\d+$`).FindAllStringIndex(string(invText), -1)
	if len(racks) != 2 {
		t.Fatalf("simulated inventory has %d racks, want 2 of 3 servers", len(racks))
	}
	writeFile(t, invPath, string(invText)[:racks[1][0]])
	waitFor(t, 10*time.Second, func() bool { return healthz().BMCs == 3 })
	for _, b := range fleet.BMCs()[3:] {
		waitFor(t, 10*time.Second, func() bool { return b.Handler().ActiveSessions() == 0 })
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
	for _, b := range fleet.BMCs() {
		if n := b.Handler().ActiveSessions(); n != 0 {
			t.Errorf("%s holds %d sessions after serve stopped; want 0", b.Name(), n)
		}
	}
}

func TestServeRefusesInvalidInventoryAtStart(t *testing.T) {
	inv := filepath.Join(t.TempDir(), "inventory.yaml")
	writeFile(t, inv, "site: x\nrooms:\n  - name: r\n    rowz: []\n")
	err := runServe(t.Context(), serveConfig{inventoryPath: inv, listen: "127.0.0.1:0"}, slog.New(slog.DiscardHandler), nil)
	if err == nil || !strings.Contains(err.Error(), inv) || !strings.Contains(err.Error(), `unknown field "rowz"`) {
		t.Fatalf("serve with a bad inventory = %v; want an error naming the file and the unknown field", err)
	}
}

// checkRollup waits for a rollup with every server reporting and checks
// that each rack's watts are the sum of its servers' and the site's the sum
// of its racks'.
func checkRollup(t *testing.T, base string, servers int) {
	t.Helper()
	type node struct {
		Name      string
		Watts     float64
		Servers   int
		Reporting int
	}
	var res struct {
		Site    node
		Racks   []node
		Servers []struct {
			Name, Rack, Status string
			Watts              float64
		}
	}
	waitFor(t, 20*time.Second, func() bool {
		body := getBody(t, base+"/api/rollup")
		return json.Unmarshal([]byte(body), &res) == nil && res.Site.Reporting == servers
	})
	if res.Site.Servers != servers || res.Site.Watts <= 0 {
		t.Errorf("site %+v: want %d servers, all reporting, some watts", res.Site, servers)
	}
	perRack := map[string]float64{}
	for _, s := range res.Servers {
		if s.Status != "live" || s.Watts <= 0 {
			t.Errorf("server %s: status %s, %v W; want live with a reading", s.Name, s.Status, s.Watts)
		}
		perRack[s.Rack] += s.Watts
	}
	var site float64
	for _, r := range res.Racks {
		if diff := r.Watts - perRack[r.Name]; diff > 1e-6 || diff < -1e-6 {
			t.Errorf("rack %s: %v W, its servers sum to %v W", r.Name, r.Watts, perRack[r.Name])
		}
		site += r.Watts
	}
	if diff := res.Site.Watts - site; diff > 1e-6 || diff < -1e-6 {
		t.Errorf("site %v W, its racks sum to %v W", res.Site.Watts, site)
	}

	// Feeds: the simulated racks wire bay 1 to A and bay 2 to B; every
	// server's load is on its feeds, and energy accrues across polls.
	var racks []struct {
		Rack  string
		Feeds struct {
			Feeds []struct {
				Name          string
				Watts         float64
				CapacityWatts float64 `json:"capacity_watts"`
			}
			Failover []struct {
				Failed        string
				LoadWatts     float64 `json:"load_watts"`
				HeadroomWatts float64 `json:"headroom_watts"`
			}
			UnwiredWatts      float64 `json:"unwired_watts"`
			UnattributedWatts float64 `json:"unattributed_watts"`
		}
		Energy struct{ Wh float64 }
	}
	waitFor(t, 20*time.Second, func() bool {
		if json.Unmarshal([]byte(getBody(t, base+"/api/power")), &racks) != nil || len(racks) == 0 {
			return false
		}
		for _, r := range racks {
			if r.Energy.Wh <= 0 {
				return false
			}
		}
		return true
	})
	for _, r := range racks {
		var feeds float64
		for _, fd := range r.Feeds.Feeds {
			feeds += fd.Watts
		}
		feeds += r.Feeds.UnwiredWatts + r.Feeds.UnattributedWatts
		if len(r.Feeds.Feeds) != 2 || feeds <= 0 {
			t.Errorf("rack %s feeds %+v: want A and B carrying its load", r.Rack, r.Feeds.Feeds)
		}
		for _, fo := range r.Feeds.Failover {
			if fo.LoadWatts < feeds*0.999 {
				t.Errorf("rack %s: feed %s failing leaves %v W on the survivor; the rack draws %v W", r.Rack, fo.Failed, fo.LoadWatts, feeds)
			}
		}
	}
}

// checkFailingBMCIsNotSummedAsLive makes one BMC stop answering: once its
// last good poll is older than the freshness window (3 intervals) its rack
// shows 2 of 3 servers reporting, its last watts only as an estimate, and an
// unreachable-BMC fault; when it answers again it is live again.
func checkFailingBMCIsNotSummedAsLive(t *testing.T, base string, b *sim.SimBMC) {
	t.Helper()
	type rack struct {
		Name           string
		Watts          float64
		EstimatedWatts float64 `json:"estimated_watts"`
		Servers        int
		Reporting      int
		Faults         map[string]map[string]int
	}
	rackOf := func() (rack, bool) {
		var res struct {
			Racks   []rack
			Servers []struct{ Name, Rack string }
		}
		if json.Unmarshal([]byte(getBody(t, base+"/api/rollup")), &res) != nil {
			return rack{}, false
		}
		for _, s := range res.Servers {
			if s.Name != b.Name() {
				continue
			}
			for _, r := range res.Racks {
				if r.Name == s.Rack {
					return r, true
				}
			}
		}
		return rack{}, false
	}
	if err := b.Inject(sim.FaultSpec{Fault: sim.FaultTimeout}); err != nil {
		t.Fatal(err)
	}
	var r rack
	waitFor(t, 30*time.Second, func() bool {
		var ok bool
		r, ok = rackOf()
		return ok && r.Reporting == r.Servers-1
	})
	if r.EstimatedWatts <= 0 {
		t.Errorf("rack %s with %s silent: estimated %v W; want its last watts as an estimate", r.Name, b.Name(), r.EstimatedWatts)
	}
	if r.Faults["bmc_unreachable"]["critical"] != 1 {
		t.Errorf("rack %s faults %v; want one critical unreachable BMC", r.Name, r.Faults)
	}
	b.Clear(sim.FaultTimeout)
	waitFor(t, 30*time.Second, func() bool {
		r, ok := rackOf()
		return ok && r.Reporting == r.Servers
	})
}

// startFleetOnFreePorts starts a fleet on consecutive loopback ports below
// the ephemeral range, trying other ranges while one is taken (tests of
// other packages run at the same time).
func startFleetOnFreePorts(t *testing.T, opts sim.FleetOptions) *sim.Fleet {
	t.Helper()
	fleet, err := sim.StartOnFreePorts(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fleet.Close() })
	return fleet
}

// SIGHUP reloads the inventory even when no file change is looked for.
func TestServeReloadsOnSIGHUP(t *testing.T) {
	// The test's own handler keeps a SIGHUP sent before serve listens for
	// one from ending the test process.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	_, invPath := startFleet(t, 6)
	invText, _ := os.ReadFile(invPath)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	ready := make(chan string, 1)
	done := make(chan error, 1)
	cfg := serveConfig{inventoryPath: invPath, listen: "127.0.0.1:0", workers: 4, reloadCheck: time.Hour, stateDir: t.TempDir()}
	go func() { done <- runServe(ctx, cfg, slog.New(slog.DiscardHandler), ready) }()
	base := "http://" + <-ready
	bmcs := func() int {
		var h struct{ BMCs int }
		_ = json.Unmarshal([]byte(getBody(t, base+"/healthz")), &h)
		return h.BMCs
	}
	if n := bmcs(); n != 6 {
		t.Fatalf("%d BMCs at start, want 6", n)
	}
	racks := regexp.MustCompile(`(?m)^\s*- name: rack-\d+$`).FindAllStringIndex(string(invText), -1)
	writeFile(t, invPath, string(invText)[:racks[1][0]])
	waitFor(t, 20*time.Second, func() bool {
		_ = syscall.Kill(os.Getpid(), syscall.SIGHUP)
		time.Sleep(100 * time.Millisecond)
		return bmcs() == 3
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
