package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rackpulse/rackpulse/agent"
)

func runAgentCmd(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	root := newRootCmd()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(append([]string{"agent"}, args...))
	err = root.ExecuteContext(t.Context())
	return out.String(), errOut.String(), err
}

// `rackpulse agent --once --json --root DIR` prints one full report of the
// host under DIR.
func TestAgentOnceJSON(t *testing.T) {
	smartctl, _ := filepath.Abs("../../agent/testdata/smartctl/smartctl")
	out, _, err := runAgentCmd(t, "--once", "--json", "--root", "../../agent/testdata/dell-r7525", "--smartctl", smartctl, "--server", "r12-u03")
	if err != nil {
		t.Fatal(err)
	}
	var rep agent.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("--once --json printed no report: %v\n%s", err, out)
	}
	uuid, _ := os.ReadFile("../../agent/testdata/dell-r7525/sys/class/dmi/id/product_uuid")
	if rep.Server != "r12-u03" || !strings.EqualFold(rep.Identity.SystemUUID, strings.TrimSpace(string(uuid))) || rep.Inventory == nil ||
		len(rep.Inventory.DIMMSlots) == 0 || len(rep.Sensors) == 0 || rep.Version != agent.ReportVersion {
		t.Errorf("report: server %q, identity %+v, inventory %v, %d sensors, version %d", rep.Server, rep.Identity, rep.Inventory != nil, len(rep.Sensors), rep.Version)
	}

	// Without --json, a summary a person reads.
	out, _, err = runAgentCmd(t, "--once", "--root", "../../agent/testdata/dell-r7525", "--smartctl", smartctl)
	if err != nil || !strings.Contains(out, "EDAC DIMMs:") || !strings.Contains(out, "identity: UUID") {
		t.Errorf("--once: %v\n%s", err, out)
	}
}

func TestAgentCommandErrors(t *testing.T) {
	dir := t.TempDir()
	open := filepath.Join(dir, "open.token")
	empty := filepath.Join(dir, "empty.token")
	if err := os.WriteFile(open, []byte("s3cret-token"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "name the poller"},
		{[]string{"--poller", "http://127.0.0.1:1"}, "--token-file is required"},
		{[]string{"--poller", "http://127.0.0.1:1", "--token-file", filepath.Join(dir, "missing")}, "no such file"},
		{[]string{"--poller", "http://127.0.0.1:1", "--token-file", empty}, "is empty"},
		{[]string{"--poller", "http://127.0.0.1:1", "--token-file", open}, "lets others read the token"},
	} {
		_, stderr, err := runAgentCmd(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("agent %q: %v; want an error saying %q", tc.args, err, tc.want)
		}
		if strings.Contains(stderr, "s3cret-token") || (err != nil && strings.Contains(err.Error(), "s3cret-token")) {
			t.Errorf("agent %q printed the token", tc.args)
		}
	}
}
