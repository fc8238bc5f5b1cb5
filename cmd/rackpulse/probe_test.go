package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rackpulse/rackpulse/bmc"
	"github.com/rackpulse/rackpulse/bmc/sim"
)

// probeArgs runs the probe command as a user would, returning stdout,
// stderr and the error (an *exitError for a non-zero exit).
func probeArgs(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	root := newRootCmd()
	root.SetArgs(append([]string{"probe"}, args...))
	root.SetOut(&stdout)
	root.SetErr(&stderr)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	err := root.ExecuteContext(ctx)
	return stdout.String(), stderr.String(), err
}

// stableProbeOutput blanks what changes from run to run: time, duration, bytes.
func stableProbeOutput(out, addr string) string {
	out = strings.ReplaceAll(out, addr, "ADDRESS")
	out = regexp.MustCompile(`Polled   \S+ in \S+: (\d+) requests, .*`).ReplaceAllString(out, "Polled   TIME in DURATION: $1 requests, BYTES")
	return out
}

func TestProbeTableForRackmountMockupMatchesGolden(t *testing.T) {
	srv, bmcSim, ca := startMockupBMC(t, "public-rackmount1")
	t.Setenv("PROBE_PW", testPassword)
	stdout, stderr, err := probeArgs(t, srv.URL, "--user", testUser, "--password-env", "PROBE_PW", "--ca-file", ca)
	var exit *exitError
	if err != nil && !(errors.As(err, &exit) && exit.code == 2) {
		t.Fatalf("probe: %v\nstderr: %s", err, stderr)
	}
	checkGolden(t, "probe-public-rackmount1.golden", []byte(stableProbeOutput(stdout, srv.URL)))
	if strings.Contains(stdout+stderr, testPassword) {
		t.Error("the password appears in probe output")
	}
	if n := bmcSim.ActiveSessions(); n != 0 {
		t.Errorf("%d sessions left open after probe; it must log out", n)
	}
}

func TestProbeJSONIsTheSnapshot(t *testing.T) {
	srv, _, ca := startMockupBMC(t, "public-rackmount1")
	t.Setenv("PROBE_PW", testPassword)
	stdout, stderr, err := probeArgs(t, srv.URL, "--json", "--user", testUser, "--password-env", "PROBE_PW", "--ca-file", ca)
	var exit *exitError
	if err != nil && !(errors.As(err, &exit) && exit.code == 2) {
		t.Fatalf("probe: %v\nstderr: %s", err, stderr)
	}
	var snap bmc.Snapshot
	if err := json.Unmarshal([]byte(stdout), &snap); err != nil {
		t.Fatalf("--json output is not a Snapshot: %v\n%s", err, stdout)
	}
	if snap.Protocol != bmc.ProtocolRedfish || len(snap.PSUs) != 2 || snap.Poll.Requests == 0 {
		t.Errorf("snapshot: protocol %q, %d PSUs, %d requests; want redfish, 2 PSUs, some requests", snap.Protocol, len(snap.PSUs), snap.Poll.Requests)
	}
	var bay1 *bmc.PSU
	for i := range snap.PSUs {
		if snap.PSUs[i].Bay == "1" {
			bay1 = &snap.PSUs[i]
		}
	}
	if bay1 == nil || bay1.Health != bmc.HealthWarning || !bay1.FailurePredicted || bay1.CapacityWatts == nil || *bay1.CapacityWatts != 400 {
		t.Errorf("PSU bay 1 = %+v; want Warning, failure predicted, rated 400 W (public-rackmount1)", bay1)
	}

	// The top-level "power" is the power model's choice: PowerControl's
	// 344 W (30 min average), with the PSU's 937.4 W "reading" of a 400 W
	// supply set aside.
	var out struct {
		Power struct {
			Watts       *float64 `json:"watts"`
			Source      string   `json:"source"`
			IntervalMin *float64 `json:"interval_min"`
			Suspect     []struct {
				Source, Reason string
			} `json:"suspect"`
		} `json:"power"`
		Readings []bmc.PowerReading `json:"power_readings"`
	}
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatal(err)
	}
	p := out.Power
	if p.Watts == nil || *p.Watts != 344 || p.Source != string(bmc.PowerFromPowerControl) || p.IntervalMin == nil || *p.IntervalMin != 30 {
		t.Errorf("power = %+v; want 344 W from PowerControl over 30 min", p)
	}
	if len(p.Suspect) == 0 || !strings.Contains(p.Suspect[0].Reason, "937.4") {
		t.Errorf("suspect = %+v; want the 937.4 W PSU reading set aside", p.Suspect)
	}
	if len(out.Readings) < 2 {
		t.Errorf("power_readings = %+v; want every published reading kept beside the choice", out.Readings)
	}
}

func TestProbeVerbosePrintsEveryRequest(t *testing.T) {
	srv, bmcSim, ca := startMockupBMC(t, "public-rackmount1")
	t.Setenv("PROBE_PW", testPassword)
	before := bmcSim.Requests()
	_, stderr, err := probeArgs(t, srv.URL, "-v", "--user", testUser, "--password-env", "PROBE_PW", "--ca-file", ca)
	var exit *exitError
	if err != nil && !(errors.As(err, &exit) && exit.code == 2) {
		t.Fatalf("probe: %v\nstderr: %s", err, stderr)
	}
	lines := regexp.MustCompile(`(?m)^(GET|POST|DELETE|PATCH)\s+\S+\s+\d{3} `).FindAllString(stderr, -1)
	served := bmcSim.Requests() - before
	if int64(len(lines)) != served {
		t.Errorf("-v printed %d request lines; the BMC served %d requests:\n%s", len(lines), served, stderr)
	}
	if !strings.Contains(stderr, "POST") || !strings.Contains(stderr, "DELETE") {
		t.Errorf("-v shows no session login (POST) and logout (DELETE):\n%s", stderr)
	}
}

func TestProbeWrongPasswordExitsWithAuthFailure(t *testing.T) {
	srv, _, ca := startMockupBMC(t, "public-rackmount1")
	t.Setenv("PROBE_PW", "not-the-password")
	_, _, err := probeArgs(t, srv.URL, "--user", testUser, "--password-env", "PROBE_PW", "--ca-file", ca)
	var exit *exitError
	if !errors.As(err, &exit) || exit.code != 1 || !strings.Contains(exit.msg, string(bmc.ErrKindAuth)) {
		t.Fatalf("probe with a wrong password = %v; want exit 1 naming an auth failure", err)
	}
	if strings.Contains(exit.msg, "not-the-password") {
		t.Error("the password appears in the error")
	}
}

func TestProbeUntrustedCertificateIsRefused(t *testing.T) {
	srv, _, _ := startMockupBMC(t, "public-rackmount1")
	t.Setenv("PROBE_PW", testPassword)
	_, _, err := probeArgs(t, srv.URL, "--user", testUser, "--password-env", "PROBE_PW")
	var exit *exitError
	if !errors.As(err, &exit) || exit.code != 1 || !strings.Contains(exit.msg, string(bmc.ErrKindTLS)) {
		t.Fatalf("probe without the BMC's CA = %v; want exit 1 naming a TLS failure", err)
	}
}

func TestProbeAddressFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unset env", []string{"https://127.0.0.1:1", "--password-env", "RACKPULSE_TEST_UNSET_VAR"}, "RACKPULSE_TEST_UNSET_VAR is not set"},
		{"both sources", []string{"https://127.0.0.1:1", "--password-env", "X", "--password-file", "y"}, "not both"},
		{"bad protocol", []string{"127.0.0.1:623", "--protocol", "snmp"}, "unknown protocol"},
		{"unknown server", []string{"no-such-server", "--inventory", "../../configs/inventory.example.yaml"}, `no server "no-such-server" in inventory`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("BMC_PASSWORD", "example")
			_, _, err := probeArgs(t, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("probe %v = %v; want an error containing %q", tc.args, err, tc.want)
			}
		})
	}
}

func TestProbeIPMIShowsSensorsPowerSourceAndSEL(t *testing.T) {
	const password = "probe-ipmi-password"
	out := t.TempDir()
	fleet := startFleetOnFreePorts(t, sim.FleetOptions{
		Count: 1, Mix: []sim.ProfileShare{{Profile: sim.ProfileIPMI, Weight: 1}},
		Host: "127.0.0.1", OutDir: out, Username: "admin", Password: password,
	})
	b := fleet.BMCs()[0]
	// A DIMM fault before the probe: its SEL records are among the newest.
	if err := b.Inject(sim.FaultSpec{Fault: sim.FaultDIMMECC, Every: 10 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	before := b.IPMI().SELEntries()
	waitFor(t, 2*time.Minute, func() bool { return b.IPMI().SELEntries() > before }) // the fault's records are logged

	t.Setenv("PROBE_PW", password)
	stdout, stderr, err := probeArgs(t, "--protocol", "ipmi", b.URL(), "--user", "admin", "--password-env", "PROBE_PW", "--json", "--logs", "5")
	var exit *exitError
	if err != nil && !(errors.As(err, &exit) && exit.code == 2) {
		t.Fatalf("probe: %v\nstderr: %s", err, stderr)
	}
	var snap bmc.Snapshot
	if err := json.Unmarshal([]byte(stdout), &snap); err != nil {
		t.Fatalf("--json output is not a Snapshot: %v", err)
	}
	if snap.Protocol != bmc.ProtocolIPMI {
		t.Errorf("protocol %q, want ipmi", snap.Protocol)
	}
	withThresholds := 0
	for _, s := range snap.Sensors {
		if s.Kind == bmc.KindTemperature && s.Value != nil && s.Thresholds.UpperCritical != nil {
			withThresholds++
		}
	}
	if withThresholds == 0 {
		t.Errorf("no temperature sensor with a value and an upper critical threshold in %d sensors", len(snap.Sensors))
	}
	var dcmi *bmc.PowerReading
	for i := range snap.Power {
		if snap.Power[i].Source == bmc.PowerFromDCMI {
			dcmi = &snap.Power[i]
		}
	}
	if dcmi == nil || dcmi.Watts <= 0 {
		t.Errorf("power readings %+v: want a DCMI reading", snap.Power)
	}
	var dimmEvents int
	for _, l := range snap.Logs {
		if l.Component == "DIMM" {
			dimmEvents++
		}
	}
	if dimmEvents == 0 || len(snap.Logs) > 5 {
		t.Errorf("logs %+v: want up to 5 newest SEL entries including the DIMM's", snap.Logs)
	}

	// The table names the power source and shows the SEL entries too.
	table, _, err := probeArgs(t, "--protocol", "ipmi", b.URL(), "--user", "admin", "--password-env", "PROBE_PW")
	if err != nil && !(errors.As(err, &exit) && exit.code == 2) {
		t.Fatalf("probe table: %v", err)
	}
	for _, want := range []string{"POWER READINGS", "DCMI", "SENSORS", "HIGH CRIT", "LOG ENTRIES", "DIMM"} {
		if !strings.Contains(table, want) {
			t.Errorf("probe table lacks %q:\n%s", want, table)
		}
	}
	if strings.Contains(stdout+table, password) {
		t.Error("the password appears in probe output")
	}
}

// A BMC that deviates from the schema (the Intel server board's
// Links.ContainedBy arrays) is read whole, and probe says what it coped
// with: a QUIRKS section, poll.quirks in --json, exit 0.
func TestProbeShowsQuirksItCopedWith(t *testing.T) {
	srv, _, ca := startMockupBMC(t, "../redfish-vendor/Intel")
	t.Setenv("PROBE_PW", testPassword)
	stdout, stderr, err := probeArgs(t, srv.URL, "--user", testUser, "--password-env", "PROBE_PW", "--ca-file", ca)
	if err != nil {
		t.Fatalf("probe: %v (a quirk is not a failure)\nstderr: %s\n%s", err, stderr, stdout)
	}
	quirks := regexp.MustCompile(`(?m)^chassis\s+/redfish/v1/Chassis/RackMount/Baseboard\s+Links\.ContainedBy\s+array of 1 object\s+read the first object$`)
	if !strings.Contains(stdout, "\nQUIRKS (") || !quirks.MatchString(stdout) || strings.Contains(stdout, "\nERRORS (") {
		t.Errorf("probe output lacks the Baseboard's ContainedBy quirk, or shows errors:\n%s", stdout)
	}

	stdout, stderr, err = probeArgs(t, srv.URL, "--json", "--user", testUser, "--password-env", "PROBE_PW", "--ca-file", ca)
	if err != nil {
		t.Fatalf("probe --json: %v\nstderr: %s", err, stderr)
	}
	var out struct {
		Poll struct {
			Quirks []bmc.Quirk `json:"quirks"`
		} `json:"poll"`
	}
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatal(err)
	}
	contained := 0
	for _, q := range out.Poll.Quirks {
		if q.Property == "Links.ContainedBy" && q.Part == bmc.PartChassis {
			contained++
		}
	}
	if contained != 6 {
		t.Errorf("poll.quirks has %d ContainedBy quirks, want one per deviating chassis (6): %+v", contained, out.Poll.Quirks)
	}
}
