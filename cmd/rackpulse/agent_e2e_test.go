package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rackpulse/rackpulse/agent"
	"github.com/rackpulse/rackpulse/alert"
	"github.com/rackpulse/rackpulse/bmc/sim"
	"gopkg.in/yaml.v3"
)

// TestAgentEndToEnd: an agent reading a fixture host (--root) reports to
// serve polling a simulated fleet. The host matches its BMC; a DIMM error
// count raised in the fixture fires DIMMFailing with the SMBIOS slot; a
// swapped serial fires InventoryMismatch naming the BMC that has it; bad
// tokens and oversized reports are refused and nothing else is affected.
func TestAgentEndToEnd(t *testing.T) {
	fleet, invPath := startSimFleet(t, sim.FleetOptions{Count: 3, Mix: modernOnly(t)})
	raw, err := os.ReadFile(invPath)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	defaults, ok := doc["defaults"].(map[string]any)
	if !ok {
		t.Fatal("the simulator's inventory has no defaults block to add the agent token to")
	}
	defaults["agent"] = map[string]any{"token_env": "AGENT_E2E_TOKEN"}
	withAgents, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, invPath, string(withAgents))
	t.Setenv("AGENT_E2E_TOKEN", "e2e-agent-token")

	// The fixture host is the machine BMC 0 describes.
	host, other := fleet.BMCs()[0], fleet.BMCs()[1]
	root := filepath.Join(t.TempDir(), "host")
	if err := os.CopyFS(root, os.DirFS("../../agent/testdata/supermicro-x11dpi")); err != nil {
		t.Fatal(err)
	}
	dmi := filepath.Join(root, "sys/class/dmi/id")
	edacCE := filepath.Join(root, "sys/devices/system/edac/mc/mc0/dimm0/dimm_ce_count")
	set := func(path, value string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(value+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	set(filepath.Join(dmi, "product_uuid"), host.SystemUUID())
	set(filepath.Join(dmi, "product_serial"), host.SystemSerial())
	set(edacCE, "0")

	serve := startServing(t, serveConfig{inventoryPath: invPath, stateDir: t.TempDir(), alerts: alertConfig{settings: alert.DefaultSettings()}})
	waitFor(t, 60*time.Second, func() bool {
		return serve.metric(t, "rackpulse_bmc_polls_total", map[string]string{"server": host.Name(), "result": "ok"}) >= 1
	})
	// `rackpulse agent` as an operator runs it, on the fixture host.
	smartctl, _ := filepath.Abs("../../agent/testdata/smartctl/smartctl")
	tokenFile := filepath.Join(t.TempDir(), "agent.token")
	if err := os.WriteFile(tokenFile, []byte("e2e-agent-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := newRootCmd()
	var agentLog bytes.Buffer
	cmd.SetOut(&agentLog)
	cmd.SetErr(&agentLog)
	cmd.SetArgs([]string{"agent", "--root", root, "--smartctl", smartctl, "--poller", serve.base, "--server", host.Name(),
		"--token-file", tokenFile, "--interval", "1s", "--inventory-every", "1s", "--log-level", "debug"})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	stopped := false
	stopAgent := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("rackpulse agent: %v", err)
		}
		if strings.Contains(agentLog.String(), "e2e-agent-token") {
			t.Error("the agent printed its token")
		}
	}
	defer stopAgent()

	type agentAnswer struct {
		Stale          bool
		Reconciliation struct {
			Identity    string
			OtherServer string `json:"other_server"`
		}
		Report agent.Report
	}
	last := func() agentAnswer {
		var ans agentAnswer
		_ = json.Unmarshal([]byte(getBody(t, serve.base+"/api/agent?server="+host.Name())), &ans)
		return ans
	}
	waitFor(t, 60*time.Second, func() bool { return last().Reconciliation.Identity == "matched" })
	slot := last().Report.DIMMs[0].Slot
	if slot == "" || strings.Contains(slot, "SrcID") {
		t.Fatalf("EDAC dimm0 joined to slot %q; want its SMBIOS locator", slot)
	}

	// 50 correctable errors since the last report: DIMMFailing, from the
	// agent, naming the slot as the board prints it.
	set(edacCE, "50")
	firing := func(name string) *alert.Alert {
		for _, al := range serve.alerts(t, "?state=firing&server="+host.Name()) {
			if al.Name == name {
				return &al
			}
		}
		return nil
	}
	waitFor(t, 60*time.Second, func() bool { return firing("DIMMFailing") != nil })
	if d := firing("DIMMFailing"); d.Labels["slot"] != slot || d.Labels["source"] != "agent" || !strings.Contains(d.Annotations.Summary, "50 correctable errors") {
		t.Errorf("DIMMFailing %v %q; want slot %s from the agent", d.Labels, d.Annotations.Summary, slot)
	}
	if html := getBody(t, serve.base+"/servers/"+host.Name()); !strings.Contains(html, `data-agent-slot="`+slot+`"`) {
		t.Error("the server page does not show the agent's EDAC counters")
	}

	// The host now carries another BMC's serial: InventoryMismatch, naming it.
	set(filepath.Join(dmi, "product_serial"), other.SystemSerial())
	set(filepath.Join(dmi, "product_uuid"), other.SystemUUID())
	// (The fixture's twelve DIMMs already differ from the BMC's eight: the
	// alert may be firing for that, and now names the other server too.)
	waitFor(t, 60*time.Second, func() bool {
		m := firing("InventoryMismatch")
		return m != nil && strings.Contains(m.Annotations.Summary, "the host's identity is what the BMC of "+other.Name()+" reports")
	})
	if got := last().Reconciliation; got.Identity != "mismatch" || got.OtherServer != other.Name() {
		t.Errorf("reconciliation %+v; want a mismatch naming %s", got, other.Name())
	}

	// Refusals hurt nothing: a bad token, an oversized report.
	accepted := func() float64 {
		return serve.metric(t, "rackpulse_agent_reports_total", map[string]string{"result": "accepted"})
	}
	post := func(token string, body string) int {
		req, _ := http.NewRequest(http.MethodPost, serve.base+"/api/agents/"+host.Name()+"/report", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post("not-the-token", `{"version":1}`); code != http.StatusUnauthorized {
		t.Errorf("bad token: %d, want 401", code)
	}
	if code := post("e2e-agent-token", `{"version":1,"hostname":"`+strings.Repeat("x", 5<<20)+`"}`); code != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized report: %d, want 413", code)
	}
	before := accepted()
	waitFor(t, 60*time.Second, func() bool { return accepted() > before+1 })
	if got := last().Report.Hostname; got == strings.Repeat("x", 10) || got == "" {
		t.Errorf("the last report's hostname %q", got)
	}
	if n := serve.metric(t, "rackpulse_agent_reports_total", map[string]string{"result": "bad_token"}); n != 1 {
		t.Errorf("bad-token rejections counted %v, want 1", n)
	}

	// The agent stops: its last report goes stale (kept, never zeroed) and,
	// the BMC saying the host is on, AgentSilent fires.
	if last().Stale {
		t.Error("a report from the last seconds is stale")
	}
	stopAgent()
	waitFor(t, 60*time.Second, func() bool { return last().Stale })
	if got := last(); got.Report.Identity.SystemSerial != other.SystemSerial() || len(got.Report.DIMMs) == 0 {
		t.Errorf("the stale report lost what it said: %+v", got.Report.Identity)
	}
	waitFor(t, 60*time.Second, func() bool { return firing("AgentSilent") != nil })
	if a := firing("AgentSilent"); a.Severity != alert.SeverityInfo {
		t.Errorf("AgentSilent at %v, want info", a.Severity)
	}
}
