package main

import (
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/rackpulse/rackpulse/bmc/sim"
	"github.com/rackpulse/rackpulse/storage"
	"github.com/rackpulse/rackpulse/storage/influxtest"
)

// lastRollup is a field's latest value at one rollup level (and rack),
// -1 when none is stored.
func lastRollup(t *testing.T, d *influxtest.Server, db, level, rack, field string) float64 {
	t.Helper()
	where := fmt.Sprintf("level='%s'", level)
	if rack != "" {
		where += fmt.Sprintf(" AND rack='%s'", rack)
	}
	r := d.Query(t, db, fmt.Sprintf(`SELECT last(%q) FROM rollup WHERE %s`, field, where))
	if len(r.Results) == 0 || len(r.Results[0].Series) == 0 {
		return -1
	}
	v, ok := r.Results[0].Series[0].Values[0][1].(float64)
	if !ok {
		return -1
	}
	return v
}

// TestSiteRollupCountsPSURedundancyFromRackPollers: two rack pollers store
// their racks' PSU redundancy counts in InfluxDB; the site role, which sees
// no server, reads them back and stores the row's, room's and site's: a
// removed supply in one rack is the site's lost count, a single-supply
// server in the other its not_redundant count. When the second rack's
// poller falls silent its count leaves the site; the first's stays.
func TestSiteRollupCountsPSURedundancyFromRackPollers(t *testing.T) {
	d := influxtest.Start(t)
	const db = "racks"
	d.Query(t, "", fmt.Sprintf("CREATE DATABASE %q", db))
	simFleet, inv := startSimFleet(t, sim.FleetOptions{Count: 6, Mix: modernOnly(t)})
	byName := map[string]*sim.SimBMC{}
	for _, b := range simFleet.BMCs() {
		byName[b.Name()] = b
	}
	lostBMC, singleBMC := byName["rack-01-u02"], byName["rack-02-u03"]
	if lostBMC == nil || singleBMC == nil {
		t.Fatalf("the fleet has no rack-01-u02 or rack-02-u03: %v", byName)
	}
	if err := lostBMC.Inject(sim.FaultSpec{Fault: sim.FaultPSURemoved, Target: "PSU2"}); err != nil {
		t.Fatal(err)
	}
	if err := singleBMC.Inject(sim.FaultSpec{Fault: sim.FaultPSUSingle}); err != nil {
		t.Fatal(err)
	}
	store := storage.Config{URL: d.URL(), Bucket: db, SpoolDir: t.TempDir(), FlushInterval: 200 * time.Millisecond}
	rack1 := startServe(t, inv, []string{"rack-01"}, store)
	store.SpoolDir = t.TempDir()
	rack2 := startServe(t, inv, []string{"rack-02"}, store)
	rack1.waitReporting(t, 3)
	rack2.waitReporting(t, 3)

	// The rack pollers' totals, as stored.
	waitFor(t, 60*time.Second, func() bool {
		return lastRollup(t, d, db, "rack", "rack-01", "psu_redundancy_lost") == 1 &&
			lastRollup(t, d, db, "rack", "rack-02", "psu_redundancy_not_redundant") == 1
	})
	for _, rack := range []string{"rack-01", "rack-02"} {
		if n := lastRollup(t, d, db, "rack", rack, "psu_redundancy_degraded"); n != 0 {
			t.Errorf("%s stored psu_redundancy_degraded %v, want 0", rack, n)
		}
	}
	if n := lastRollup(t, d, db, "site", "", "psu_redundancy_lost"); n != -1 {
		t.Fatalf("a rack poller stored a site point (lost %v): the site's counts below would not be the site role's", n)
	}

	site := siteRollupConfig{inventoryPath: inv, interval: time.Second, freshness: time.Minute, lookback: time.Hour, once: true, storage: store}
	site.storage.SpoolDir = t.TempDir()
	if err := runSiteRollup(t.Context(), site, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatalf("site rollup: %v", err)
	}
	for _, level := range []string{"row", "room", "site"} {
		lost := lastRollup(t, d, db, level, "", "psu_redundancy_lost")
		notRedundant := lastRollup(t, d, db, level, "", "psu_redundancy_not_redundant")
		if lost != 1 || notRedundant != 1 {
			t.Errorf("%s from the stored rack totals: lost %v, not_redundant %v; want 1 and 1", level, lost, notRedundant)
		}
	}

	// rack-02's poller falls silent: its totals age out of the window and
	// its server's verdict is no longer counted; rack-01's still is.
	rack2.stop()
	site.freshness = 3 * time.Second
	waitFor(t, 60*time.Second, func() bool {
		if err := runSiteRollup(t.Context(), site, slog.New(slog.DiscardHandler)); err != nil {
			t.Fatalf("site rollup: %v", err)
		}
		return lastRollup(t, d, db, "site", "", "silent_racks") == 1
	})
	if lost, nr := lastRollup(t, d, db, "site", "", "psu_redundancy_lost"), lastRollup(t, d, db, "site", "", "psu_redundancy_not_redundant"); lost != 1 || nr != 0 {
		t.Errorf("site with rack-02 silent: lost %v, not_redundant %v; want 1 (rack-01's) and 0", lost, nr)
	}
}
