package main

import (
	"encoding/pem"
	"flag"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/rackpulse/rackpulse/bmc/sim"
)

var update = flag.Bool("update", false, "rewrite golden files")

const (
	testUser     = "admin"
	testPassword = "probe-secret-7f3a"
)

// fixturesDir returns ../shared/fixtures/redfish, skipping the test when it
// is absent unless integration tests are required.
func fixturesDir(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "fixtures", "redfish")
	if _, err := os.Stat(dir); err != nil {
		if os.Getenv("RACKPULSE_REQUIRE_INTEGRATION") == "1" {
			t.Fatalf("Redfish mockups not found at %s and RACKPULSE_REQUIRE_INTEGRATION=1", dir)
		}
		t.Skipf("Redfish mockups not found at %s; set RACKPULSE_REQUIRE_INTEGRATION=1 to require them", dir)
	}
	return dir
}

// startMockupBMC serves a DMTF mockup over TLS as a BMC and returns it with
// the path of a PEM file holding its certificate.
func startMockupBMC(t *testing.T, mockup string) (*httptest.Server, *sim.RedfishBMC, string) {
	t.Helper()
	tree, err := sim.LoadMockup(filepath.Join(fixturesDir(t), mockup))
	if err != nil {
		t.Fatal(err)
	}
	bmc := sim.NewRedfishBMC(tree, sim.RedfishOptions{Username: testUser, Password: testPassword})
	srv := httptest.NewTLSServer(bmc)
	t.Cleanup(srv.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(ca, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	return srv, bmc, ca
}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("output differs from %s (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}
