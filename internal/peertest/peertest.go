// Package peertest is what the tests against real peers (InfluxDB,
// Alertmanager) share: how a test without its peer stops, and a free
// loopback port. It is test support, not part of the daemon.
package peertest

import (
	"net"
	"os"
	"testing"
)

// Require stops a test whose peer is missing: it skips, or fails when
// RACKPULSE_REQUIRE_INTEGRATION=1 (as CI sets it).
func Require(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("RACKPULSE_REQUIRE_INTEGRATION") == "1" {
		t.Fatalf("integration test required: %s", why)
	}
	t.Skip(why)
}

// FreePort returns a loopback TCP port free a moment ago.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
