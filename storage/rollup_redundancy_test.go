package storage

import (
	"context"
	"testing"
	"time"

	"github.com/influxdata/influxdb-client-go/v2/api/write"
)

// The PSU redundancy counts of every rollup level are stored as integer
// fields and read back with the rack totals, so that the site role rolls
// them up from what the rack pollers stored.
func TestRollupRedundancyCountsReadBack(t *testing.T) {
	d := needInflux(t)
	db := d.CreateDB(t)
	w, err := NewWriter(testConfig(t, d.URL(), db), WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	startWriter(t, w)

	t0 := time.Now().Add(-time.Minute).Truncate(time.Second).UTC()
	rack := func(name string, at time.Time, counts RedundancyCounts) RollupPoint {
		return RollupPoint{Level: LevelRack, Site: "dc1", Room: "hall-a", Row: "r1", Rack: name, Time: at,
			Watts: fp(1000), ServersTotal: 4, ServersReporting: 4, Redundancy: counts}
	}
	points := RollupPoints(
		rack("r12", t0, RedundancyCounts{Lost: 1, Degraded: 2, NotRedundant: 3}),
		// An older point of r12 with other counts: the newest stands.
		rack("r12", t0.Add(-20*time.Second), RedundancyCounts{Lost: 4, Degraded: 4, NotRedundant: 4}),
		rack("r13", t0, RedundancyCounts{NotRedundant: 1}),
		RollupPoint{Level: LevelRow, Site: "dc1", Room: "hall-a", Row: "r1", Time: t0, Watts: fp(2000),
			Redundancy: RedundancyCounts{Lost: 1, Degraded: 2, NotRedundant: 4}},
		RollupPoint{Level: LevelRoom, Site: "dc1", Room: "hall-a", Time: t0, Watts: fp(2000),
			Redundancy: RedundancyCounts{Lost: 1, Degraded: 2, NotRedundant: 4}},
		RollupPoint{Level: LevelSite, Site: "dc1", Time: t0, Watts: fp(2000),
			Redundancy: RedundancyCounts{Lost: 1, Degraded: 2, NotRedundant: 4}},
	)
	// r14's newest totals come from a poller that stored no counts (written
	// before they existed); its older point has some.
	points = append(points, rack("r14", t0.Add(-30*time.Second), RedundancyCounts{Lost: 2}).Point(),
		write.NewPoint("rollup", map[string]string{"level": "rack", "site": "dc1", "room": "hall-a", "row": "r1", "rack": "r14"},
			map[string]any{"watts": 900.0, "servers_total": int64(4), "servers_reporting": int64(4)}, t0))
	w.Write(points...)
	waitFor(t, "rollup points written", func() bool { return w.Stats().Written >= int64(len(points)) })

	// Integer fields, as docs/schema.md says.
	types := map[string]string{}
	for _, s := range d.Query(t, db, `SHOW FIELD KEYS FROM rollup`).Results[0].Series {
		for _, v := range s.Values {
			types[v[0].(string)] = v[1].(string)
		}
	}
	for _, f := range []string{"psu_redundancy_lost", "psu_redundancy_degraded", "psu_redundancy_not_redundant"} {
		if types[f] != "integer" {
			t.Errorf("field %s is %q, want integer (fields: %v)", f, types[f], types)
		}
	}
	// Every level carries them.
	r := d.Query(t, db, `SELECT last("psu_redundancy_lost"), last("psu_redundancy_degraded"), last("psu_redundancy_not_redundant") FROM rollup WHERE level != 'rack' GROUP BY level`)
	levels := map[string][]any{}
	for _, s := range r.Results[0].Series {
		levels[s.Tags["level"]] = s.Values[0][1:]
	}
	for _, level := range []string{"row", "room", "site"} {
		got := levels[level]
		if len(got) != 3 || got[0] != 1.0 || got[1] != 2.0 || got[2] != 4.0 {
			t.Errorf("%s point: lost/degraded/not_redundant %v, want [1 2 4]", level, got)
		}
	}

	rd, err := NewReader(Config{URL: d.URL(), Bucket: db})
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	racks, err := rd.LatestRacks(ctx, "dc1", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]RedundancyCounts{}
	for _, rp := range racks {
		got[rp.Rack] = rp.Redundancy
		if !rp.Time.Equal(t0) {
			t.Errorf("rack %s read at %v, want its newest totals at %v", rp.Rack, rp.Time, t0)
		}
	}
	want := map[string]RedundancyCounts{
		"r12": {Lost: 1, Degraded: 2, NotRedundant: 3},
		"r13": {NotRedundant: 1},
		"r14": {}, // its newest totals have none: not the older point's
	}
	if len(got) != len(want) {
		t.Fatalf("LatestRacks: %+v, want racks r12, r13, r14", racks)
	}
	for name, counts := range want {
		if got[name] != counts {
			t.Errorf("rack %s: counts %+v read back, want %+v", name, got[name], counts)
		}
	}
}
