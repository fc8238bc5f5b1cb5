package inventory

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAgentTokensInheritAndResolve(t *testing.T) {
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "r12-u03.token")
	if err := os.WriteFile(tokenFile, []byte("own-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	inv := filepath.Join(dir, "inv.yaml")
	writeInventory(t, inv, `site: dc1
credentials:
  default: {username: u, password_env: AGENT_TEST_BMC}
defaults:
  bmc: {credentials: default}
  agent: {token_env: AGENT_TEST_SHARED}
rooms:
  - name: h
    rows:
      - name: a
        racks:
          - name: r12
            servers:
              - {name: r12-u01, position: 1, bmc: {address: 10.0.0.1}}
              - name: r12-u03
                position: 3
                bmc: {address: 10.0.0.3}
                agent: {token_file: r12-u03.token}
`)
	t.Setenv("AGENT_TEST_BMC", "pw")
	t.Setenv("AGENT_TEST_SHARED", "shared-secret")
	loaded, problems, err := Load(inv)
	if err != nil {
		t.Fatalf("%v\n%s", err, problems.Errors())
	}
	tokens, err := loaded.AgentTokens(nil)
	if err != nil {
		t.Fatal(err)
	}
	if tokens["r12-u01"].Reveal() != "shared-secret" || tokens["r12-u03"].Reveal() != "own-token" {
		t.Errorf("tokens: r12-u01 from the site's defaults, r12-u03 its own file; got %d tokens", len(tokens))
	}
	os.Unsetenv("AGENT_TEST_SHARED")
	if _, err := loaded.AgentTokens(nil); err == nil || !strings.Contains(err.Error(), "r12-u01") || !strings.Contains(err.Error(), "AGENT_TEST_SHARED") {
		t.Errorf("an unset token variable: %v; want the server and the variable named", err)
	}
}

func TestAgentBlockErrors(t *testing.T) {
	dir := t.TempDir()
	inv := filepath.Join(dir, "inv.yaml")
	writeInventory(t, inv, `site: dc1
credentials:
  default: {username: u, password_env: AGENT_TEST_BMC}
defaults:
  bmc: {credentials: default}
  agent: {token_env: AGENT_TEST_SHARED, token_file: x}
rooms:
  - name: h
    rows:
      - name: a
        racks:
          - name: r12
            servers:
              - name: r12-u01
                position: 1
                bmc: {address: 10.0.0.1}
                agent: {tokenfile: y}
              - name: r12-u02
                position: 2
                bmc: {address: 10.0.0.2}
                agent: {token_env: ""}
              - name: r12-u03
                position: 3
                bmc: {address: 10.0.0.3}
                agent: {token_file: nothere.token}
`)
	t.Setenv("AGENT_TEST_BMC", "pw")
	t.Setenv("AGENT_TEST_SHARED", "s")
	_, problems, err := Load(inv)
	if err == nil {
		t.Fatal("bad agent blocks were accepted")
	}
	got := problems.Errors().Error()
	for _, want := range []string{"inv.yaml:6: defaults.agent.token_file: set only one of token_env, token_file",
		`servers[0].agent.tokenfile: unknown field "tokenfile" (did you mean "token_file"?)`, "agent block names no token",
		"servers[1].agent.token_env: token_env is empty: name an environment variable",
		"servers[2].agent.token_file: token_file is not readable: "} {
		if !strings.Contains(got, want) {
			t.Errorf("problems lack %q:\n%s", want, got)
		}
	}
}

func writeInventory(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
