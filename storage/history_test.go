package storage

import (
	"context"
	"testing"
	"time"
)

// PowerHistory answers a chart with one downsampled Flux query: a rack
// with its feeds, a server, the site; LatestFeeds reads feeds back.
func TestPowerHistoryAndLatestFeeds(t *testing.T) {
	d := needInflux(t)
	db := d.CreateDB(t)
	w, err := NewWriter(testConfig(t, d.URL(), db), WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	startWriter(t, w)
	// Two hours of a rack, its two feeds, one server and the site, a point
	// a minute.
	end := time.Now().Truncate(time.Minute)
	n := 0
	for i := 120; i >= 0; i-- {
		at := end.Add(-time.Duration(i) * time.Minute)
		watts := 1000 + float64(i)
		w.Write(RollupPoints(
			RollupPoint{Level: LevelRack, Site: "dc1", Room: "h", Row: "a", Rack: "r12", Time: at, Watts: fp(watts), ServersTotal: 2, ServersReporting: 2},
			RollupPoint{Level: LevelSite, Site: "dc1", Time: at, Watts: fp(2 * watts)},
		)...)
		for _, feed := range []string{"A", "B"} {
			capacity, headroom := 3000.0, 3000-watts
			w.Write(FeedPoint{Site: "dc1", Room: "h", Row: "a", Rack: "r12", Feed: feed, Time: at, Watts: watts / 2,
				CapacityWatts: &capacity, FailoverLoadWatts: watts, FailoverHeadroomWatts: &headroom}.Point())
		}
		w.Write(ServerPowerPoint{Watts: fp(watts / 4), Source: "PowerControl", Time: at}.points(Location{Site: "dc1", Rack: "r12", Server: "r12-u01"}, at)...)
		n += 5
	}
	waitFor(t, "history written", func() bool { return w.Stats().Written >= int64(n) })

	rd, err := NewReader(Config{URL: d.URL(), Bucket: db})
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	rack, err := rd.PowerHistory(ctx, HistoryQuery{Site: "dc1", Rack: "r12", Span: time.Hour, Points: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(rack) != 3 || rack[0].Name != "r12" || rack[1].Name != "feed A" || rack[2].Name != "feed B" {
		t.Fatalf("rack history series %+v; want r12, feed A, feed B", rack)
	}
	for _, s := range rack {
		// An hour in 6-minute windows: 10 or 11 windows, never the 60 raw points.
		if len(s.Points) < 9 || len(s.Points) > 11 {
			t.Errorf("%s: %d points, want about 10 (downsampled)", s.Name, len(s.Points))
		}
		for i := 1; i < len(s.Points); i++ {
			if !s.Points[i].Time.After(s.Points[i-1].Time) {
				t.Errorf("%s: points out of order", s.Name)
			}
		}
	}
	if last := rack[0].Points[len(rack[0].Points)-1].Watts; last < 1000 || last > 1010 {
		t.Errorf("rack's last window %v W; want the mean of the last minutes, about 1000", last)
	}
	if f := rack[1].Points[0].Watts; f < 500 || f > 530 {
		t.Errorf("feed A's first window %v W; want about half the rack's", f)
	}

	server, err := rd.PowerHistory(ctx, HistoryQuery{Site: "dc1", Server: "r12-u01", Span: 2 * time.Hour, Points: 1000})
	if err != nil || len(server) != 1 || server[0].Name != "r12-u01" || len(server[0].Points) < 100 {
		t.Errorf("server history: %+v, %v; want one series of every minute (fewer points than asked)", server, err)
	}
	site, err := rd.PowerHistory(ctx, HistoryQuery{Site: "dc1", Span: time.Hour, Points: 4})
	if err != nil || len(site) != 1 || site[0].Name != "site" || len(site[0].Points) > 5 {
		t.Errorf("site history: %+v, %v", site, err)
	}
	if none, err := rd.PowerHistory(ctx, HistoryQuery{Site: "dc1", Rack: "r99", Span: time.Hour, Points: 10}); err != nil || len(none) != 0 {
		t.Errorf("a rack with nothing stored: %+v, %v; want no series", none, err)
	}

	feeds, err := rd.LatestFeeds(ctx, "dc1", 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(feeds) != 2 || feeds[0].Feed != "A" || feeds[1].Feed != "B" || feeds[0].Rack != "r12" || feeds[0].Watts != 500 ||
		feeds[0].FailoverHeadroomWatts == nil || *feeds[0].FailoverHeadroomWatts != 2000 || feeds[0].FailoverLoadWatts != 1000 {
		t.Errorf("latest feeds %+v", feeds)
	}
}
