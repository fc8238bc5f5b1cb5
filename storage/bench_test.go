package storage

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/influxdata/influxdb-client-go/v2/api/write"
)

// BenchmarkWriteThroughput writes typical snapshots' points through the
// Writer (default batch size, gzip) into the local influxd and reports
// points per second, Write to stored.
func BenchmarkWriteThroughput(b *testing.B) {
	d := needInflux(b)
	db := d.CreateDB(b)
	cfg := Config{URL: d.URL(), Bucket: db, SpoolDir: b.TempDir(), FlushInterval: 100 * time.Millisecond}
	w, err := NewWriter(cfg)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()

	t0 := time.Now().Add(-time.Hour)
	loc := Location{Site: "dc1", Room: "hall-a", Row: "r1", Rack: "r12"}
	per := len(SnapshotPoints(typicalSnapshot("x", t0), loc, ServerPowerPoint{Watts: fp(1)}))
	b.Logf("%d points per typical snapshot", per)
	// b.N counts points; build them before timing.
	var pts []*write.Point
	for i := 0; len(pts) < b.N; i++ {
		loc.Server = fmt.Sprintf("srv-%05d", i%10000)
		pts = append(pts, SnapshotPoints(typicalSnapshot(loc.Server, t0.Add(time.Duration(i/10000)*30*time.Second)), loc,
			ServerPowerPoint{Watts: fp(400)})...)
	}
	pts = pts[:b.N]
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < len(pts); i += per {
		w.Write(pts[i:min(i+per, len(pts))]...)
		for w.Stats().Queued > cfg.withDefaults().QueueSize/2 {
			time.Sleep(time.Millisecond) // a poller's pace, not a flood into a full queue
		}
	}
	waitFor(b, "all points written", func() bool { return w.Stats().Written >= int64(b.N) })
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "points/s")
	cancel()
	<-done
	_ = w.Close(context.Background())
	if s := w.Stats(); s.QueueDropped+s.SpoolDropped+s.Rejected > 0 {
		b.Fatalf("lost points: %+v", s)
	}
}
