package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func runInventory(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	root := newRootCmd()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(append([]string{"inventory"}, args...))
	err := root.Execute()
	var ee *exitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.code
	default:
		code = 1
		errOut.WriteString(err.Error())
	}
	return out.String(), errOut.String(), code
}

func TestInventoryCommands(t *testing.T) {
	const secret = "cmd-secret-Pw93"
	t.Setenv("BMC_PASSWORD", secret)
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{"validate clean", []string{"validate", "../../configs/inventory.example.yaml"}, 0, "ok: 1 site, 2 rooms, 3 rows, 4 racks, 10 servers\n", ""},
		{"validate from --inventory", []string{"validate", "--inventory", "../../configs/inventory.example.yaml"}, 0, "ok: 1 site", ""},
		{"validate errors", []string{"validate", "../../inventory/testdata/units.yaml"}, 1, "10 errors in 1 file\n", ""},
		{"validate warnings only", []string{"validate", "../../inventory/testdata/warnings-only.yaml"}, 0, "(3 warnings)\n", ""},
		{"validate missing", []string{"validate", "does-not-exist.yaml"}, 1, "cannot read inventory", ""},
		{"show", []string{"show", "../../configs/inventory.example.yaml"}, 0, "site dc1: 2 rooms, 3 rows, 4 racks, 10 servers\n", ""},
		{"show racks", []string{"show", "../../configs/inventory.example.yaml", "--racks", "r11,r31"}, 0, "site dc1: 2 rooms, 2 rows, 2 racks, 6 servers\n", ""},
		{"show unknown rack", []string{"show", "../../configs/inventory.example.yaml", "--racks", "r99"}, 1, "", "unknown rack r99"},
		{"show with errors", []string{"show", "../../inventory/testdata/units.yaml"}, 1, "site dc1:", "10 errors in 1 file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := runInventory(t, tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit code = %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.wantCode, stdout, stderr)
			}
			if !strings.Contains(stdout, tt.wantStdout) {
				t.Errorf("stdout does not contain %q:\n%s", tt.wantStdout, stdout)
			}
			if !strings.Contains(stderr, tt.wantStderr) {
				t.Errorf("stderr does not contain %q:\n%s", tt.wantStderr, stderr)
			}
			if strings.Contains(stdout+stderr, secret) {
				t.Errorf("output holds the password")
			}
		})
	}
}
