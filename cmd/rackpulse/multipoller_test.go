package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/rackpulse/rackpulse/bmc/sim"
	"github.com/rackpulse/rackpulse/storage"
	"github.com/rackpulse/rackpulse/storage/influxtest"
)

// startMockupFleet serves the public-rackmount1 mockup from n BMCs, 3 per
// rack: every BMC answers the same, unmoving values, so pollers that poll at
// different moments must agree to the watt.
func startMockupFleet(t *testing.T, n int) (*sim.Fleet, string) {
	t.Helper()
	return startSimFleet(t, sim.FleetOptions{Count: n, MockupDir: filepath.Join(fixturesDir(t), "public-rackmount1")})
}

type runningServe struct {
	base   string
	cancel context.CancelFunc
	done   chan error
}

func startServe(t *testing.T, inv string, racks []string, store storage.Config) *runningServe {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cfg := serveConfig{inventoryPath: inv, racks: racks, listen: "127.0.0.1:0", workers: 8,
		reloadCheck: time.Second, stateDir: t.TempDir(), storage: store}
	ready := make(chan string, 1)
	s := &runningServe{cancel: cancel, done: make(chan error, 1)}
	go func() { s.done <- runServe(ctx, cfg, slog.New(slog.DiscardHandler), ready) }()
	select {
	case addr := <-ready:
		s.base = "http://" + addr
	case err := <-s.done:
		t.Fatalf("serve: %v", err)
	}
	t.Cleanup(s.stop)
	return s
}

func (s *runningServe) stop() {
	if s.cancel != nil {
		s.cancel()
		<-s.done
		s.cancel = nil
	}
}

// waitReporting waits until the serve's rollup has n servers reporting.
func (s *runningServe) waitReporting(t *testing.T, n int) {
	t.Helper()
	waitFor(t, 2*time.Minute, func() bool {
		var res struct{ Racks []struct{ Reporting int } }
		if json.Unmarshal([]byte(getBody(t, s.base+"/api/rollup")), &res) != nil {
			return false
		}
		total := 0
		for _, r := range res.Racks {
			total += r.Reporting
		}
		return total == n
	})
}

func lastSite(t *testing.T, d *influxtest.Server, db, field string) float64 {
	t.Helper()
	r := d.Query(t, db, fmt.Sprintf(`SELECT last(%q) FROM rollup WHERE level='site'`, field))
	if len(r.Results) == 0 || len(r.Results[0].Series) == 0 {
		t.Fatalf("no site rollup in %s", db)
	}
	v, _ := r.Results[0].Series[0].Values[0][1].(float64)
	return v
}

// lastStored returns the newest value of field in the rollup points
// matching where, and its time; ok is false while there is none.
func lastStored(t *testing.T, d *influxtest.Server, db, field, where string) (v float64, at time.Time, ok bool) {
	t.Helper()
	r := d.Query(t, db, fmt.Sprintf(`SELECT last(%q) FROM rollup WHERE %s`, field, where))
	if len(r.Results) == 0 || len(r.Results[0].Series) == 0 || len(r.Results[0].Series[0].Values) == 0 {
		return 0, time.Time{}, false
	}
	row := r.Results[0].Series[0].Values[0]
	ts, _ := row[0].(string)
	at, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return 0, time.Time{}, false
	}
	v, _ = row[1].(float64)
	return v, at, true
}

func TestRackPollersAndSiteRollupMatchOneServe(t *testing.T) {
	d := influxtest.Start(t)
	for _, db := range []string{"multi", "single"} {
		d.Query(t, "", fmt.Sprintf("CREATE DATABASE %q", db))
	}
	_, inv := startMockupFleet(t, 6)
	store := func(db string) storage.Config {
		return storage.Config{URL: d.URL(), Bucket: db, SpoolDir: t.TempDir(), FlushInterval: 200 * time.Millisecond}
	}

	one := startServe(t, inv, nil, store("single"))
	rack1 := startServe(t, inv, []string{"rack-01"}, store("multi"))
	rack2 := startServe(t, inv, []string{"rack-02"}, store("multi"))
	one.waitReporting(t, 6)
	rack1.waitReporting(t, 3)
	rack2.waitReporting(t, 3)
	// Stored: the single serve's site with every server and rack-01 with
	// energy integrated over a few polls, and each rack poller's rack with
	// its three servers.
	waitFor(t, 2*time.Minute, func() bool {
		site, _, ok := lastStored(t, d, "single", "servers_reporting", "level='site'")
		if !ok || site != 6 {
			return false
		}
		if wh, _, ok := lastStored(t, d, "single", "energy_wh", "level='rack' AND rack='rack-01'"); !ok || wh <= 0 {
			return false
		}
		for _, rack := range []string{"rack-01", "rack-02"} {
			if n, _, ok := lastStored(t, d, "multi", "servers_reporting", "level='rack' AND rack='"+rack+"'"); !ok || n != 3 {
				return false
			}
		}
		return true
	})

	site := siteRollupConfig{inventoryPath: inv, interval: time.Second, freshness: time.Minute, lookback: time.Hour, once: true, storage: store("multi")}
	if err := runSiteRollup(t.Context(), site, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatalf("site rollup: %v", err)
	}
	single, multi := lastSite(t, d, "single", "watts"), lastSite(t, d, "multi", "watts")
	if single <= 0 || single != multi {
		t.Errorf("site watts: one serve %v, two rack pollers and the site rollup %v; want equal and positive", single, multi)
	}
	if n := lastSite(t, d, "multi", "servers_reporting"); n != 6 {
		t.Errorf("site servers_reporting %v from rack totals, want 6", n)
	}
	checkStoredFeeds(t, d, single/2)

	// A rack poller falls silent: its rack is not summed as live; its last
	// watts become an estimate.
	rack2.stop()
	// The rollup runs once rack-02's last totals are older than the
	// freshness window and rack-01's are well inside it (it stores every
	// second): a condition on the stored data, not on how fast the
	// machine is.
	site.freshness = 10 * time.Second
	waitFor(t, 2*time.Minute, func() bool {
		_, silentAt, ok2 := lastStored(t, d, "multi", "watts", "level='rack' AND rack='rack-02'")
		_, liveAt, ok1 := lastStored(t, d, "multi", "watts", "level='rack' AND rack='rack-01'")
		return ok1 && ok2 && time.Since(silentAt) > site.freshness && time.Since(liveAt) < site.freshness/3
	})
	if err := runSiteRollup(t.Context(), site, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatalf("site rollup: %v", err)
	}
	if n := lastSite(t, d, "multi", "servers_reporting"); n != 3 {
		t.Errorf("site servers_reporting %v with rack-02's poller silent, want 3", n)
	}
	if n := lastSite(t, d, "multi", "silent_racks"); n != 1 {
		t.Errorf("site silent_racks %v with rack-02's poller silent, want 1", n)
	}
	if w, est := lastSite(t, d, "multi", "watts"), lastSite(t, d, "multi", "estimated_watts"); w != single/2 || est != single/2 {
		t.Errorf("with rack-02 silent: site watts %v, estimated %v; want %v live and %v estimated", w, est, single/2, single/2)
	}
}

// checkStoredFeeds: public-rackmount1 has a supply in bay 1 (feed A) and
// none in bay 2, so feed A carries the rack's whole load, and losing it
// drops every server; the rack's energy is stored with its rollup.
func checkStoredFeeds(t *testing.T, d *influxtest.Server, rackWatts float64) {
	t.Helper()
	r := d.Query(t, "single", `SELECT last(watts), last(servers_dropped) FROM feed WHERE rack='rack-01' GROUP BY feed`)
	got := map[string][]any{}
	for _, s := range r.Results[0].Series {
		got[s.Tags["feed"]] = s.Values[0]
	}
	a, b := got["A"], got["B"]
	if a == nil || b == nil {
		t.Fatalf("feed points for rack-01: %v; want feeds A and B", got)
	}
	if a[1] != rackWatts || b[1] != 0.0 || a[2] != 3.0 {
		t.Errorf("feed A %v W (%v servers dropped if it fails), B %v W; want A carrying %v W and dropping 3", a[1], a[2], b[1], rackWatts)
	}
	e := d.Query(t, "single", `SELECT last(energy_wh) FROM rollup WHERE level='rack' AND rack='rack-01'`)
	if len(e.Results[0].Series) == 0 {
		t.Fatal("no rack energy stored")
	}
	if wh, _ := e.Results[0].Series[0].Values[0][1].(float64); wh <= 0 {
		t.Errorf("rack-01 energy %v Wh, want some after several polls", wh)
	}
}
