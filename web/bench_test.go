package web

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/rackpulse/rackpulse/alert"
	"github.com/rackpulse/rackpulse/bmc"
	"github.com/rackpulse/rackpulse/fleet"
	"github.com/rackpulse/rackpulse/inventory"
)

// siteOf builds a site of n servers, 40 to a rack, 10 racks to a row, 5
// rows to a room, each server polled once and the fleet rolled up.
func siteOf(b testing.TB, n int) (*fleet.Fleet, *alert.Engine) {
	inv := &inventory.Inventory{Site: "dc1"}
	for i := 0; i < n; i += 40 {
		r := i / 40
		if r%50 == 0 {
			inv.Rooms = append(inv.Rooms, inventory.Room{Name: fmt.Sprintf("hall-%d", r/50+1)})
		}
		room := &inv.Rooms[len(inv.Rooms)-1]
		if r%10 == 0 {
			room.Rows = append(room.Rows, inventory.Row{Name: fmt.Sprintf("row-%02d", r%50/10+1), Room: room.Name})
		}
		row := &room.Rows[len(room.Rows)-1]
		rack := inventory.Rack{Name: fmt.Sprintf("r%03d", r+1), Room: room.Name, Row: row.Name, PowerBudgetWatts: 16000, HeightUnits: 42,
			Feeds: map[string]inventory.Feed{"A": {CapacityWatts: 16000}, "B": {CapacityWatts: 16000}}}
		for j := 0; j < 40 && i+j < n; j++ {
			rack.Servers = append(rack.Servers, inventory.Server{Name: fmt.Sprintf("%s-u%02d", rack.Name, j+1), Position: j + 1, Height: 1,
				Room: room.Name, Row: row.Name, Rack: rack.Name})
		}
		row.Racks = append(row.Racks, rack)
	}
	live := fleet.New(inv, nil, 30*time.Second, fleet.Options{})
	engine := alert.New(alert.Options{})
	live.AddSink(engine)
	now := time.Now()
	for _, rack := range inv.Racks() {
		for i := range rack.Servers {
			name := rack.Servers[i].Name
			live.Observe(bmc.Endpoint{Server: name}, now, testSnapshot(name, now, 250+float64(i)), nil)
		}
	}
	live.Rollup(now)
	return live, engine
}

// BenchmarkSitePage10k renders the site page of a 10,000-server site (250
// racks): the time on the server and the bytes the browser receives.
func BenchmarkSitePage10k(b *testing.B) { benchPage10k(b, "/") }

// BenchmarkRackPage10k renders one rack's page in the same site.
func BenchmarkRackPage10k(b *testing.B) { benchPage10k(b, "/racks/r125") }

// benchPage10k renders a dashboard page of a 10,000-server site as the
// browser asks for it.
func benchPage10k(b *testing.B, path string) {
	live, engine := siteOf(b, 10000)
	ui, err := NewUI(UIOptions{Live: live, Alerts: engine})
	if err != nil {
		b.Fatal(err)
	}
	mux := http.NewServeMux()
	ui.Register(mux)
	var size int
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != 200 {
			b.Fatalf("%s: %d", path, rec.Code)
		}
		size = rec.Body.Len()
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/page")
	b.ReportMetric(float64(size)/1024, "KiB/page")
}
