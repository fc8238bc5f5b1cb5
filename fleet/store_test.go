package fleet

import (
	"testing"
	"time"

	"github.com/influxdata/influxdb-client-go/v2/api/write"

	"github.com/rackpulse/rackpulse/bmc"
	"github.com/rackpulse/rackpulse/rollup"
	"github.com/rackpulse/rackpulse/storage"
)

// A cycle's rollup points carry the PSU redundancy counts of every level,
// and rack points turned back into rack totals (as the site role reads
// them) roll up to the same counts.
func TestRollupPointsCarryRedundancyCounts(t *testing.T) {
	inv := loadInventory(t)
	f := New(inv, nil, 30*time.Second, Options{})
	w := &points{}
	f.AddSink(NewStore(w))

	single := snapshot("r12-u01", t0, 300)
	single.PSUs = single.PSUs[:1] // one supply: not_redundant
	lost := snapshot("r12-u02", t0, 300)
	lost.PSUs[1].LineInputStatus, lost.PSUs[1].Health = "LossOfInput", bmc.HealthCritical
	degraded := snapshot("r13-u01", t0, 300)
	degraded.PSUs[0].FailurePredicted = true
	for _, s := range []*bmc.Snapshot{single, lost, degraded} {
		f.Observe(endpoint(s.Server), t0, s, nil)
	}
	f.Rollup(t0)

	fields := map[string]map[string]any{} // level/name → fields
	var racks []storage.RackPoint
	for _, p := range w.got {
		if p.Name() != storage.MeasurementRollup {
			continue
		}
		tags, fs := tagsOf(p), fieldsOf(p)
		key := tags["level"] + "/" + tags[tags["level"]]
		fields[key] = fs
		count := func(name string) int { n, _ := fs[name].(int64); return int(n) }
		if tags["level"] == "rack" {
			racks = append(racks, storage.RackPoint{RollupPoint: storage.RollupPoint{Level: storage.LevelRack, Site: tags["site"],
				Room: tags["room"], Row: tags["row"], Rack: tags["rack"], Time: p.Time(), Redundancy: storage.RedundancyCounts{
					Lost:         count("psu_redundancy_lost"),
					Degraded:     count("psu_redundancy_degraded"),
					NotRedundant: count("psu_redundancy_not_redundant"),
				}}})
		}
	}
	for key, want := range map[string][3]int64{
		"rack/r12": {1, 0, 1}, "rack/r13": {0, 1, 0},
		"row/row-a": {1, 1, 1}, "room/hall-1": {1, 1, 1}, "site/dc1": {1, 1, 1},
	} {
		got := fields[key]
		if got == nil {
			t.Errorf("no rollup point %s (have %d)", key, len(fields))
			continue
		}
		for i, name := range []string{"psu_redundancy_lost", "psu_redundancy_degraded", "psu_redundancy_not_redundant"} {
			if got[name] != want[i] {
				t.Errorf("%s: %s = %v (%T), want integer %d", key, name, got[name], got[name], want[i])
			}
		}
	}

	totals := RackTotals(racks)
	if got := totals["r12"]; got.RedundancyLost != 1 || got.RedundancyNotRedundant != 1 || got.RedundancyDegraded != 0 {
		t.Errorf("r12's totals from its stored point: lost %d, degraded %d, not_redundant %d; want 1, 0, 1",
			got.RedundancyLost, got.RedundancyDegraded, got.RedundancyNotRedundant)
	}
	res := rollup.NewEngine(inv, rollup.Options{Interval: 30 * time.Second}).ComputeFromRacks(t0.Add(10*time.Second), totals, 0)
	if s := res.Site; s.RedundancyLost != 1 || s.RedundancyDegraded != 1 || s.RedundancyNotRedundant != 1 {
		t.Errorf("site from the stored rack totals: lost %d, degraded %d, not_redundant %d; want 1 each",
			s.RedundancyLost, s.RedundancyDegraded, s.RedundancyNotRedundant)
	}
}

func tagsOf(p *write.Point) map[string]string {
	out := map[string]string{}
	for _, tg := range p.TagList() {
		out[tg.Key] = tg.Value
	}
	return out
}

func fieldsOf(p *write.Point) map[string]any {
	out := map[string]any{}
	for _, f := range p.FieldList() {
		out[f.Key] = f.Value
	}
	return out
}
