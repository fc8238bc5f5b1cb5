package inventory

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// testEnv is the environment the golden inventories are checked against:
// BMC_PASSWORD is set, RACKPULSE_TEST_UNSET is not.
func testEnv(name string) (string, bool) {
	if name == "BMC_PASSWORD" {
		return "s3cr3t-bmc-password", true
	}
	return "", false
}

// checkGolden compares got with testdata/<name>.golden, or rewrites it
// under -update.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	golden := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("reading golden file (run go test -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (go test ./inventory -update rewrites it)\ngot:\n%s\nwant:\n%s", golden, got, want)
	}
}

// TestValidateGolden runs validation over broken inventories and compares
// the validate report with its golden file.
func TestValidateGolden(t *testing.T) {
	tests := []struct {
		path    string
		wantErr bool
	}{
		{"testdata/typos.yaml", true},
		{"testdata/addresses.yaml", true},
		{"testdata/ipmi-port.yaml", true},
		{"testdata/units.yaml", true},
		{"testdata/credentials.yaml", true},
		{"testdata/tls.yaml", true},
		{"testdata/alerts.yaml", true},
		{"testdata/syntax.yaml", true},
		{"testdata/dir-broken", true},
		{"testdata/does-not-exist.yaml", true},
		{"testdata/warnings-only.yaml", false},
		{"testdata/dir-ok", false},
	}
	for _, tt := range tests {
		name := strings.TrimSuffix(filepath.Base(tt.path), ".yaml")
		t.Run(name, func(t *testing.T) {
			inv, problems, err := load(tt.path, testEnv)
			if (err != nil) != tt.wantErr {
				t.Fatalf("load error = %v, want error: %v", err, tt.wantErr)
			}
			if err != nil {
				ps, ok := err.(Problems)
				if !ok || len(ps) != len(problems.Errors()) {
					t.Errorf("error is %T holding %d problems, want Problems holding the %d errors", err, len(ps), len(problems.Errors()))
				}
			}
			var out bytes.Buffer
			if err := WriteReport(&out, inv, problems); err != nil {
				t.Fatal(err)
			}
			checkGolden(t, "validate-"+name, out.Bytes())
		})
	}
}
