package sim

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// BenchmarkModernPoll serves the resources one poll of a modern BMC reads,
// through the handler, with $expand on the collections.
func BenchmarkModernPoll(b *testing.B) {
	f, err := NewFleet(FleetOptions{Count: 1, Username: "admin", Password: "pw"})
	if err != nil {
		b.Fatal(err)
	}
	h := f.BMCs()[0].Handler()
	uris := []string{
		"/redfish/v1/Chassis/1/PowerSubsystem/PowerSupplies?$expand=.($levels=2)",
		"/redfish/v1/Chassis/1/ThermalSubsystem/ThermalMetrics",
		"/redfish/v1/Chassis/1/ThermalSubsystem/Fans?$expand=.",
		"/redfish/v1/Chassis/1/EnvironmentMetrics",
		"/redfish/v1/Systems/1/Memory?$expand=.($levels=2)",
	}
	token := loginToken(b, h)
	b.ReportAllocs()
	for b.Loop() {
		for _, uri := range uris {
			req := httptest.NewRequest(http.MethodGet, uri, nil)
			req.Header.Set("X-Auth-Token", token)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Fatalf("%s: %d", uri, rec.Code)
			}
		}
	}
}

func loginToken(b *testing.B, h http.Handler) string {
	b.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, sessionsPath, strings.NewReader(`{"UserName":"admin","Password":"pw"}`)))
	if rec.Code != http.StatusCreated {
		b.Fatalf("login: %d", rec.Code)
	}
	return rec.Header().Get("X-Auth-Token")
}

// BenchmarkNewFleet2000 builds a 2,000-BMC fleet: the per-BMC cost in
// memory is what allocs/op and B/op show.
func BenchmarkNewFleet2000(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewFleet(FleetOptions{Count: 2000, Mix: []ProfileShare{{ProfileModern, 3}, {ProfileLegacy, 2}}}); err != nil {
			b.Fatal(err)
		}
	}
}
