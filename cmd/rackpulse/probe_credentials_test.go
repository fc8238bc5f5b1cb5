package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// probeCredentialsInventory is a rack of two servers on two credential
// profiles: probed uses PROBE_PW, other a variable that is never set.
const probeCredentialsInventory = `site: probe-site
credentials:
  probed:
    username: %s
    password_env: PROBE_PW
    ca_file: %s
  other:
    username: someone-else
    password_env: RACKPULSE_TEST_NEVER_SET_PASSWORD
defaults:
  bmc:
    protocol: redfish
    credentials: probed
rooms:
  - name: room-1
    rows:
      - name: row-1
        racks:
          - name: r1
            servers:
              - name: probed-u01
                position: 1
                bmc: {address: %q}
              - name: other-u02
                position: 2
                bmc: {address: "https://127.0.0.1:1", credentials: other}
`

// Probing a server reads only its own credential profile: another profile's
// unset variable (another server of the same rack) does not stop it, and
// probing that other server names the missing variable.
func TestProbeServerNeedsOnlyItsOwnCredentials(t *testing.T) {
	srv, _, ca := startMockupBMC(t, "public-rackmount1")
	t.Setenv("PROBE_PW", testPassword)
	inv := filepath.Join(t.TempDir(), "inventory.yaml")
	writeFile(t, inv, fmt.Sprintf(probeCredentialsInventory, testUser, ca, srv.URL))

	stdout, stderr, err := probeArgs(t, "probed-u01", "--inventory", inv, "--json")
	var exit *exitError
	if err != nil && !(errors.As(err, &exit) && exit.code == 2) {
		t.Fatalf("probe probed-u01 = %v; want it polled although profile other's variable is unset\nstderr: %s", err, stderr)
	}
	if !strings.Contains(stdout, `"server": "probed-u01"`) {
		t.Errorf("probe printed no snapshot of probed-u01:\n%s", stdout)
	}

	_, _, err = probeArgs(t, "other-u02", "--inventory", inv)
	if err == nil || !strings.Contains(err.Error(), "RACKPULSE_TEST_NEVER_SET_PASSWORD is not set") {
		t.Errorf("probe other-u02 = %v; want an error naming its profile's unset variable", err)
	}
	if err != nil && strings.Contains(err.Error(), testPassword) {
		t.Error("the password appears in the error")
	}
}
