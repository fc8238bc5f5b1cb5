package ipmi

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rackpulse/rackpulse/bmc"
)

const (
	simUser     = "monitor"
	simPassword = "rp-s3cret"
	simName     = "rp-test" // the name in lan.conf.tmpl
	// simSensors is the number of sensors of testdata/server.sdrs, and
	// steadyRoundTrips the round trips of a poll with nothing to read
	// again: SDR info, every sensor, chassis status, SEL info.
	simSensors       = 20
	steadyRoundTrips = 1 + simSensors + 1 + 1
	// simGUID is the system GUID of the test BMC as Get System GUID
	// returns it: 3f2a8c1e-9b4d-4e7a-a6c5-1d2e3f405162 in SMBIOS order.
	simGUID = "1e8c2a3f4d9b7a4ea6c51d2e3f405162"
)

// requireTools skips the test when ipmi_sim, sdrcomp or ipmitool is
// missing, or fails it under RACKPULSE_REQUIRE_INTEGRATION=1.
func requireTools(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"ipmi_sim", "sdrcomp", "ipmitool"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("RACKPULSE_REQUIRE_INTEGRATION") == "1" {
				t.Fatalf("%s not installed (required by RACKPULSE_REQUIRE_INTEGRATION=1; Debian packages openipmi and ipmitool)", tool)
			}
			t.Skipf("%s not installed (Debian packages openipmi and ipmitool); set RACKPULSE_REQUIRE_INTEGRATION=1 to fail instead", tool)
		}
	}
}

// sim is one running ipmi_sim with its own state directory.
type sim struct {
	t       *testing.T
	dir     string
	port    int
	console int
	cmd     *exec.Cmd
	done    chan struct{}
}

// freePort returns a port free on loopback for the network ("udp"/"tcp").
func freePort(t *testing.T, network string) int {
	t.Helper()
	if network == "udp" {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		return pc.LocalAddr().(*net.UDPAddr).Port
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startSim compiles testdata/server.sdrs into a fresh state directory and
// starts ipmi_sim on free loopback ports with the system GUID simGUID; it
// is stopped when the test ends.
func startSim(t *testing.T) *sim { return startSimGUID(t, simGUID) }

// startSimGUID is startSim with another system GUID (32 hex digits, the
// bytes as Get System GUID returns them), or none when guid is empty: that
// BMC answers Get System GUID with "invalid command" and, since ipmi_sim
// needs the GUID for RAKP, takes IPMI 1.5 sessions only.
func startSimGUID(t *testing.T, guid string) *sim {
	t.Helper()
	requireTools(t)
	s := &sim{t: t, dir: t.TempDir(), port: freePort(t, "udp"), console: freePort(t, "tcp")}
	sdrDir := filepath.Join(s.dir, "state", "ipmi_sim", simName)
	if err := os.MkdirAll(sdrDir, 0o755); err != nil {
		t.Fatal(err)
	}
	sdrs, err := filepath.Abs(filepath.Join("testdata", "server.sdrs"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("sdrcomp", "-8", "-o", filepath.Join(sdrDir, "sdr.20.main"), sdrs).CombinedOutput()
	if err != nil {
		t.Fatalf("sdrcomp: %v\n%s", err, out)
	}
	tmpl, err := os.ReadFile(filepath.Join("testdata", "lan.conf.tmpl"))
	if err != nil {
		t.Fatal(err)
	}
	conf := string(tmpl)
	if guid == "" {
		var kept []string
		for _, line := range strings.Split(conf, "\n") {
			if !strings.HasPrefix(strings.TrimSpace(line), "guid ") {
				kept = append(kept, line)
			}
		}
		conf = strings.Join(kept, "\n")
	}
	conf = strings.NewReplacer("{{PORT}}", fmt.Sprint(s.port), "{{CONSOLE}}", fmt.Sprint(s.console), "{{GUID}}", guid).Replace(conf)
	if err := os.WriteFile(filepath.Join(s.dir, "lan.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	s.start()
	return s
}

func (s *sim) start() {
	t := s.t
	t.Helper()
	emu, err := filepath.Abs(filepath.Join("testdata", "server.emu"))
	if err != nil {
		t.Fatal(err)
	}
	var logBuf bytes.Buffer
	s.cmd = exec.Command("ipmi_sim", "-c", filepath.Join(s.dir, "lan.conf"), "-f", emu, "-s", filepath.Join(s.dir, "state"), "-n")
	s.cmd.Stdout, s.cmd.Stderr = &logBuf, &logBuf
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("starting ipmi_sim: %v", err)
	}
	s.done = make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(s.done) }()
	t.Cleanup(s.stop)
	// Ready once the LAN port answers an RMCP presence ping. (The console
	// is not probed: ipmi_sim dies of SIGPIPE writing its prompt to a
	// console connection closed at once.)
	for i := 0; ; i++ {
		if s.pingAnswered() {
			return
		}
		select {
		case <-s.done:
			t.Fatalf("ipmi_sim exited: %s", logBuf.String())
		case <-time.After(50 * time.Millisecond):
		}
		if i > 200 {
			t.Fatalf("ipmi_sim never became ready: %s", logBuf.String())
		}
	}
}

// pingAnswered sends an RMCP/ASF presence ping and waits for the pong.
func (s *sim) pingAnswered() bool {
	c, err := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", s.port))
	if err != nil {
		return false
	}
	defer c.Close()
	ping := []byte{0x06, 0x00, 0xff, 0x06, 0x00, 0x00, 0x11, 0xbe, 0x80, 0x00, 0x00, 0x00}
	if _, err := c.Write(ping); err != nil {
		return false
	}
	_ = c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	buf := make([]byte, 64)
	n, err := c.Read(buf)
	return err == nil && n >= 8 && buf[8] == 0x40
}

// stop ends the simulator (the process this test started, by its pid).
func (s *sim) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Kill()
	<-s.done
}

// restart stops the simulator and starts it again on the same ports and
// state: every session it knew is gone.
func (s *sim) restart() {
	s.stop()
	s.start()
}

// consoleCmd runs commands on the simulator console ("> " prompt).
func (s *sim) consoleCmd(cmds ...string) {
	t := s.t
	t.Helper()
	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", s.console), 5*time.Second)
	if err != nil {
		t.Fatalf("console: %v", err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(conn)
	waitPrompt := func() string {
		var buf []byte
		for !bytes.HasSuffix(buf, []byte("> ")) {
			b, err := r.ReadByte()
			if err != nil {
				t.Fatalf("console: %v (read %q)", err, buf)
			}
			buf = append(buf, b)
		}
		return string(buf)
	}
	waitPrompt()
	for _, c := range cmds {
		if _, err := fmt.Fprintf(conn, "%s\n", c); err != nil {
			t.Fatalf("console: %v", err)
		}
		if out := waitPrompt(); strings.Contains(out, "**") {
			t.Fatalf("console command %q: %s", c, out)
		}
	}
}

// ipmitool runs ipmitool against the simulator (lanplus, cipher suite 3).
func (s *sim) ipmitool(args ...string) string {
	t := s.t
	t.Helper()
	base := []string{"-I", "lanplus", "-C", "3", "-H", "127.0.0.1", "-p", fmt.Sprint(s.port), "-U", simUser, "-P", simPassword}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ipmitool", append(base, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("ipmitool %v: %v\n%s", args, err, stderr.String())
	}
	return stdout.String()
}

// endpoint is an endpoint for the simulator at address (default: its port).
func (s *sim) endpoint(address string) bmc.Endpoint {
	if address == "" {
		address = fmt.Sprintf("127.0.0.1:%d", s.port)
	}
	return bmc.Endpoint{
		Server:         "ipmi-test",
		Rack:           "r1",
		Protocol:       bmc.ProtocolIPMI,
		Address:        address,
		Username:       simUser,
		Password:       simPassword,
		RequestTimeout: 1500 * time.Millisecond,
		PollTimeout:    30 * time.Second,
		Cadence:        bmc.Cadence{Readings: 30 * time.Second, Slow: time.Nanosecond},
	}
}
