// Package influxtest runs a real InfluxDB 1.8.10 (influxd) for tests: on
// loopback ports, with a temporary data directory, Flux enabled. It is test
// support for the storage sink and the commands that use it, not part of
// the daemon.
package influxtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/rackpulse/rackpulse/internal/peertest"
)

// Binary finds influxd: $RACKPULSE_INFLUXD, else <repo>/tools/bin/influxd
// (.ci/influxd install puts it there). It returns "" and why when there is
// none.
func Binary() (string, string) {
	bin := os.Getenv("RACKPULSE_INFLUXD")
	if bin == "" {
		_, file, _, _ := runtime.Caller(0)
		bin = filepath.Join(filepath.Dir(file), "..", "..", "tools", "bin", "influxd")
	}
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Sprintf("no influxd at %s (set RACKPULSE_INFLUXD or run .ci/influxd install)", bin)
	}
	return bin, ""
}

// Require stops a test without influxd: it skips, or fails when
// integration tests are required.
func Require(t testing.TB, why string) { peertest.Require(t, why) }

// Start finds influxd and starts one for the test in a temporary directory,
// stopped at the test's end. Without influxd the test skips (or fails when
// integration tests are required).
func Start(t testing.TB) *Server {
	t.Helper()
	bin, why := Binary()
	if bin == "" {
		Require(t, why)
	}
	// The free ports are picked before influxd binds them: another
	// process may take one in between. Then it starts again on others.
	for attempt := 1; ; attempt++ {
		d, err := New(bin, t.TempDir())
		if err == nil {
			err = d.Start()
		}
		if err == nil {
			t.Cleanup(d.Stop)
			return d
		}
		if d != nil && d.portTaken() && attempt < 5 {
			t.Logf("influxd: a port was taken before it bound it; starting again (%v)", err)
			continue
		}
		if d != nil {
			d.DumpLog()
		}
		t.Fatalf("influxd: %v", err)
	}
}

// portTaken reports whether influxd's log says a port it was to bind was
// in use.
func (d *Server) portTaken() bool {
	log, _ := os.ReadFile(filepath.Join(d.dir, "influxd.log"))
	return bytes.Contains(log, []byte("address already in use"))
}

type Server struct {
	bin, dir string
	port     int
	cmd      *exec.Cmd
	exited   chan error
}

// FreePort returns a free loopback TCP port.
func FreePort() (int, error) { return peertest.FreePort() }

func New(bin, dir string) (*Server, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	rpc, err := FreePort()
	if err != nil {
		return nil, err
	}
	conf := fmt.Sprintf(`reporting-disabled = true
bind-address = "127.0.0.1:%d"
[meta]
  dir = "%[2]s/meta"
[data]
  dir = "%[2]s/data"
  wal-dir = "%[2]s/wal"
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:%[3]d"
  log-enabled = false
  flux-enabled = true
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
`, rpc, dir, port)
	if err := os.WriteFile(filepath.Join(dir, "influxdb.conf"), []byte(conf), 0o600); err != nil {
		return nil, err
	}
	return &Server{bin: bin, dir: dir, port: port}, nil
}

func (d *Server) URL() string { return fmt.Sprintf("http://127.0.0.1:%d", d.port) }

// Start runs influxd and waits until /ping answers.
func (d *Server) Start() error {
	logf, err := os.OpenFile(filepath.Join(d.dir, "influxd.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	d.cmd = exec.Command(d.bin, "-config", filepath.Join(d.dir, "influxdb.conf"))
	d.cmd.Stdout, d.cmd.Stderr = logf, logf
	if err := d.cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", d.bin, err)
	}
	d.exited = make(chan error, 1)
	go func(c *exec.Cmd, ch chan<- error) { ch <- c.Wait() }(d.cmd, d.exited)
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-d.exited:
			return fmt.Errorf("influxd exited during start: %v", err)
		default:
		}
		if resp, err := http.Get(d.URL() + "/ping"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusNoContent {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	d.Stop()
	return errors.New("influxd /ping did not answer within 60 s")
}

// Stop ends influxd (SIGTERM, then SIGKILL) and waits for it.
func (d *Server) Stop() {
	if d.cmd == nil || d.cmd.Process == nil {
		return
	}
	_ = d.cmd.Process.Signal(os.Interrupt)
	select {
	case <-d.exited:
	case <-time.After(30 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.exited
	}
	d.cmd = nil
}

func (d *Server) DumpLog() {
	b, _ := os.ReadFile(filepath.Join(d.dir, "influxd.log"))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	fmt.Fprintf(os.Stderr, "influxd log:\n%s\n", b)
}

// Result is the JSON of /query.
type Result struct {
	Results []struct {
		Series []struct {
			Name    string            `json:"name"`
			Tags    map[string]string `json:"tags"`
			Columns []string          `json:"columns"`
			Values  [][]any           `json:"values"`
		} `json:"series"`
		Error string `json:"error"`
	} `json:"results"`
	Error string `json:"error"`
}

// Query runs InfluxQL over HTTP /query against db.
func (d *Server) Query(t testing.TB, db, q string) Result {
	t.Helper()
	form := url.Values{"q": {q}, "db": {db}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, d.URL()+"/query", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("influxql %q: %v", q, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var r Result
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("influxql %q: %v: %s", q, err, body)
	}
	if r.Error != "" || len(r.Results) > 0 && r.Results[0].Error != "" {
		t.Fatalf("influxql %q: %s", q, body)
	}
	return r
}

// CreateDB creates a database for one test and returns its name.
func (d *Server) CreateDB(t testing.TB) string {
	t.Helper()
	name := strings.NewReplacer("/", "_", " ", "_", "#", "_").Replace(t.Name())
	d.Query(t, "", fmt.Sprintf("DROP DATABASE %q", name))
	d.Query(t, "", fmt.Sprintf("CREATE DATABASE %q", name))
	return name
}
