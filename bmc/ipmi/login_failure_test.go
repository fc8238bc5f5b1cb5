package ipmi

import (
	"context"
	"regexp"
	"strconv"
	"testing"

	"github.com/rackpulse/rackpulse/bmc"
)

// A login that fails after the BMC assigned a session (a wrong password
// found at RAKP 2, a privilege the user does not have refused at Set
// Session Privilege Level) must not leave that session open: a BMC's
// session table is small, and a poller retrying a bad password every
// backoff period would fill it and lock out everyone else.

// activeSessionsRe is the count ipmitool prints for Get Session Info.
var activeSessionsRe = regexp.MustCompile(`active sessions\s*:\s*(\d+)`)

// openSessions is the number of sessions ipmi_sim holds, apart from the
// one ipmitool opens to ask.
func (s *sim) openSessions() int {
	s.t.Helper()
	out := s.ipmitool("session", "info", "active")
	m := activeSessionsRe.FindStringSubmatch(out)
	if m == nil {
		s.t.Fatalf("no active session count in ipmitool's answer:\n%s", out)
	}
	n, _ := strconv.Atoi(m[1])
	return n - 1
}

// failLogin polls once with ep, wants the poll refused as kind, and
// closes the collector.
func failLogin(t *testing.T, ep bmc.Endpoint, kind bmc.ErrorKind) {
	t.Helper()
	c, err := New(ep, bmc.CollectorOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	snap, err := c.Poll(t.Context())
	if err == nil {
		t.Fatalf("poll with a bad login succeeded: %+v", snap.Poll)
	}
	if got := bmc.KindOf(err); got != kind {
		t.Fatalf("poll error %v has kind %s, want %s", err, got, kind)
	}
}

func TestFailedLoginLeavesNoSessionOnIPMISim(t *testing.T) {
	s := startSim(t)
	for _, tc := range []struct {
		name string
		edit func(*bmc.Endpoint)
	}{
		{"wrong password, refused at RAKP 2", func(ep *bmc.Endpoint) { ep.Password = "not-the-password" }},
		// ipmi_sim takes CALLBACK at RAKP but refuses it at Set Session
		// Privilege Level, on the established session.
		{"privilege refused after RAKP", func(ep *bmc.Endpoint) { ep.Privilege = "CALLBACK" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := s.openSessions()
			ep := s.endpoint("")
			ep.CipherSuite = 3
			tc.edit(&ep)
			for range 3 {
				failLogin(t, ep, bmc.ErrKindAuth)
			}
			if after := s.openSessions(); after != before {
				t.Errorf("ipmi_sim holds %d sessions after 3 failed logins, %d before: the failed logins' sessions were left open", after, before)
			}
		})
	}
}

func TestFailedLoginLeavesNoSessionOnSimulatedBMC(t *testing.T) {
	b := startIPMIFleet(t, 1).BMCs()[0]
	ep := fleetEndpoint(b)
	ep.Password = "not-the-password"
	for range 3 {
		failLogin(t, ep, bmc.ErrKindAuth)
	}
	if n := b.IPMI().ActiveSessions(); n != 0 {
		t.Errorf("the simulated BMC holds %d sessions after 3 failed logins, want 0", n)
	}
	// A good login still works, and its session is the only one.
	ep.Password = fleetPassword
	c, err := New(ep, bmc.CollectorOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Poll(t.Context()); err != nil {
		t.Fatalf("poll with the right password: %v", err)
	}
	if n := b.IPMI().ActiveSessions(); n != 1 {
		t.Errorf("the simulated BMC holds %d sessions with one poller logged in, want 1", n)
	}
	if err := c.Close(t.Context()); err != nil {
		t.Errorf("logging out: %v", err)
	}
	if n := b.IPMI().ActiveSessions(); n != 0 {
		t.Errorf("the simulated BMC holds %d sessions after logout, want 0", n)
	}
}
