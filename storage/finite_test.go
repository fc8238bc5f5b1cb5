package storage

import (
	"bytes"
	"context"
	"log/slog"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/influxdata/influxdb-client-go/v2/api/write"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/rackpulse/rackpulse/bmc"
	"github.com/rackpulse/rackpulse/storage/influxtest"
)

// lockedBuffer is a log destination safe for concurrent writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// A float field that is not a number never reaches InfluxDB, neither as a
// value nor as null: it is left out of its point (the point's other fields
// are stored), counted and logged once per measurement and field; a point
// left with nothing is dropped.
func TestWriterLeavesOutFieldsThatAreNotNumbers(t *testing.T) {
	d := needInflux(t)
	db := d.CreateDB(t)
	var logs lockedBuffer
	cfg := Config{
		URL: d.URL(), Bucket: db, SpoolDir: t.TempDir(),
		BatchSize: 100, FlushInterval: 20 * time.Millisecond,
		RetryInterval: 20 * time.Millisecond, MaxRetryInterval: 200 * time.Millisecond, WriteTimeout: 10 * time.Second,
	}
	w, err := NewWriter(cfg, WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()

	at := time.Unix(1_700_000_000, 0)
	inf, nan := math.Inf(1), math.NaN()
	snap := bmc.NewSnapshot("srv-1", "r1", bmc.ProtocolRedfish, at)
	snap.Sensors = []bmc.Sensor{
		{Kind: bmc.KindTemperature, Name: "CPU1 Temp", Unit: bmc.UnitCelsius, Value: &nan, Thresholds: bmc.Thresholds{UpperCritical: &inf}, Health: bmc.HealthOK},
		{Kind: bmc.KindTemperature, Name: "CPU2 Temp", Unit: bmc.UnitCelsius, Value: &inf},
	}
	watts := 400.0
	points := SnapshotPoints(snap, Location{Site: "s", Rack: "r1", Server: "srv-1"}, ServerPowerPoint{Watts: &inf, Source: "PSUInput", Age: 0})
	points = append(points, RollupPoint{Level: LevelRack, Site: "s", Rack: "r1", Time: at, Watts: &inf, EstimatedWatts: &watts}.Point(),
		RollupPoint{Level: LevelRack, Site: "s", Rack: "r2", Time: at, Watts: &watts}.Point(),
		FeedPoint{Site: "s", Rack: "r1", Feed: "A", Time: at, Watts: math.NaN(), FailoverLoadWatts: 200}.Point(),
		write.NewPoint("only_nan", map[string]string{"server": "srv-1"}, map[string]any{"v": nan}, at))
	w.Write(points...)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	closeCtx, cancelClose := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancelClose()
	if err := w.Close(closeCtx); err != nil {
		t.Fatal(err)
	}

	// Every field that was a number is stored; none of the others is, not
	// even as null.
	for _, tc := range []struct {
		q      string
		column string
		want   any // nil: no value in any row
	}{
		{`SELECT "value" FROM sensor WHERE sensor='CPU1 Temp'`, "value", nil},
		{`SELECT "upper_critical" FROM sensor WHERE sensor='CPU1 Temp'`, "upper_critical", nil},
		{`SELECT "health_level" FROM sensor WHERE sensor='CPU1 Temp'`, "health_level", 1.0},
		{`SELECT "value" FROM sensor WHERE sensor='CPU2 Temp'`, "value", nil},
		{`SELECT "watts" FROM server_power`, "watts", nil},
		{`SELECT "source" FROM server_power`, "source", "PSUInput"},
		{`SELECT "watts" FROM rollup WHERE rack='r1'`, "watts", nil},
		{`SELECT "estimated_watts" FROM rollup WHERE rack='r1'`, "estimated_watts", 400.0},
		{`SELECT "watts" FROM rollup WHERE rack='r2'`, "watts", 400.0},
		{`SELECT "watts" FROM feed`, "watts", nil},
		{`SELECT "failover_load_watts" FROM feed`, "failover_load_watts", 200.0},
	} {
		got := columnValues(t, d.Query(t, db, tc.q), tc.column)
		switch {
		case tc.want == nil && len(got) != 0:
			t.Errorf("%s: %v; want no value stored (not even null)", tc.q, got)
		case tc.want != nil && (len(got) != 1 || got[0] != tc.want):
			t.Errorf("%s: %v; want [%v]", tc.q, got, tc.want)
		}
	}
	if r := d.Query(t, db, `SHOW MEASUREMENTS`); strings.Contains(strings.Join(flatten(r), ","), "only_nan") {
		t.Error("a point with no field that is a number was written")
	}

	// 2 sensor values + 1 threshold + server_power watts + rollup watts +
	// feed watts + only_nan's v.
	if n := testutil.ToFloat64(w.finite.fields); n != 7 {
		t.Errorf("rackpulse_storage_nonfinite_fields_total = %g; want 7", n)
	}
	if n := testutil.ToFloat64(w.finite.dropped); n != 1 {
		t.Errorf("rackpulse_storage_nonfinite_points_dropped_total = %g; want 1", n)
	}
	// Logged once per measurement and field: sensor value and
	// upper_critical, server_power, rollup and feed watts, only_nan v.
	if n := strings.Count(logs.String(), "not a number was left out"); n != 6 {
		t.Errorf("logged %d times; want 6 (once per measurement and field):\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "measurement=sensor field=value") || !strings.Contains(logs.String(), "server=srv-1") {
		t.Errorf("the log does not say which measurement, field and server:\n%s", logs.String())
	}
	if st := w.Stats(); st.Rejected != 0 {
		t.Errorf("%d batches rejected; want every point accepted once its non-numbers are left out", st.Rejected)
	}
}

// columnValues returns the non-null values of one column over every row.
func columnValues(t *testing.T, r influxtest.Result, column string) []any {
	t.Helper()
	var out []any
	for _, res := range r.Results {
		for _, s := range res.Series {
			idx := -1
			for i, c := range s.Columns {
				if c == column {
					idx = i
				}
			}
			if idx < 0 {
				continue
			}
			for _, row := range s.Values {
				if row[idx] != nil {
					out = append(out, row[idx])
				}
			}
		}
	}
	return out
}

// flatten lists every value of every row as text.
func flatten(r influxtest.Result) []string {
	var out []string
	for _, res := range r.Results {
		for _, s := range res.Series {
			for _, row := range s.Values {
				for _, v := range row {
					if s, ok := v.(string); ok {
						out = append(out, s)
					}
				}
			}
		}
	}
	return out
}
