package inventory

import (
	"path/filepath"
	"strings"
	"testing"
)

// twoProfiles is a rack whose servers use two credential profiles: a's
// password is in A_PASSWORD, b's in a file that does not exist, c's in
// C_PASSWORD, which is never set.
const twoProfiles = `site: s
credentials:
  pa: {username: ua, password_env: A_PASSWORD}
  pb: {username: ub, password_file: ./no-such-password-file}
  pc: {username: uc, password_env: RACKPULSE_TEST_C_PASSWORD_NEVER_SET}
defaults:
  bmc: {protocol: redfish, credentials: pa}
rooms:
  - name: room
    rows:
      - name: row
        racks:
          - name: r1
            servers:
              - {name: a, position: 1, bmc: {address: 10.0.0.1}}
              - {name: b, position: 2, bmc: {address: 10.0.0.2, credentials: pb}}
              - {name: c, position: 3, bmc: {address: 10.0.0.3, credentials: pc}}
`

// LoadForServer holds against a server only its own profile's password
// source; the others' are warnings. Endpoint resolves that one server.
func TestLoadForServerNeedsOnlyItsOwnProfile(t *testing.T) {
	t.Setenv("A_PASSWORD", "a-secret")
	path := filepath.Join(t.TempDir(), "inv.yaml")
	writeFile(t, path, twoProfiles)

	if _, _, err := Load(path); err == nil {
		t.Fatal("Load accepted unreadable password sources; the test needs them to be errors there")
	}

	inv, problems, err := LoadForServer(path, "a")
	if err != nil {
		t.Fatalf("LoadForServer(a) = %v; want the other profiles' password sources as warnings only", err)
	}
	if w := problems.Warnings().Error(); !strings.Contains(w, "credentials.pb.password_file") || !strings.Contains(w, "credentials.pc.password_env") {
		t.Errorf("warnings %q; want pb's password_file and pc's password_env listed", w)
	}
	ep, err := inv.Endpoint("a")
	if err != nil || ep.Server != "a" || ep.Username != "ua" || ep.Password.Reveal() != "a-secret" || ep.Address != "10.0.0.1" {
		t.Errorf("Endpoint(a) = %+v, %v; want a's address with profile pa's user and password", ep, err)
	}
	if _, err := inv.Endpoint("nope"); err == nil || !strings.Contains(err.Error(), `no server "nope"`) {
		t.Errorf("Endpoint(nope) = %v; want an unknown server error", err)
	}

	for server, want := range map[string]string{
		"b": "credentials.pb.password_file",
		"c": "RACKPULSE_TEST_C_PASSWORD_NEVER_SET is not set",
	} {
		_, _, err := LoadForServer(path, server)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("LoadForServer(%s) = %v; want its own profile's problem %q as an error", server, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "a-secret") {
			t.Errorf("LoadForServer(%s): the password appears in the error", server)
		}
	}
}
