package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The integration tests run against a real influxd (InfluxDB 1.8.10), one
// per test package, started by TestMain on loopback ports with a temporary
// data directory. It is found at $RACKPULSE_INFLUXD, else
// <repo>/tools/bin/influxd (.ci/influxd install puts it there).

// testInflux is the package's influxd; nil when none was found (then
// noInflux says why).
var (
	testInflux *influxd
	noInflux   string
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	bin := os.Getenv("RACKPULSE_INFLUXD")
	if bin == "" {
		bin = filepath.Join("..", "tools", "bin", "influxd")
	}
	if _, err := os.Stat(bin); err != nil {
		noInflux = fmt.Sprintf("no influxd at %s (set RACKPULSE_INFLUXD or run .ci/influxd install)", bin)
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "rackpulse-influxd-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	d, err := newInfluxd(bin, dir)
	if err == nil {
		err = d.start()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "influxd: %v\n", err)
		if d != nil {
			d.dumpLog()
		}
		return 1
	}
	testInflux = d
	defer d.stop()
	return m.Run()
}

// needInflux skips the test when there is no influxd, or fails it when
// RACKPULSE_REQUIRE_INTEGRATION=1.
func needInflux(t testing.TB) *influxd {
	t.Helper()
	if testInflux == nil {
		if os.Getenv("RACKPULSE_REQUIRE_INTEGRATION") == "1" {
			t.Fatalf("integration test required: %s", noInflux)
		}
		t.Skip(noInflux)
	}
	return testInflux
}

type influxd struct {
	bin, dir string
	port     int
	cmd      *exec.Cmd
	exited   chan error
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func newInfluxd(bin, dir string) (*influxd, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	rpc, err := freePort()
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
	return &influxd{bin: bin, dir: dir, port: port}, nil
}

func (d *influxd) url() string { return fmt.Sprintf("http://127.0.0.1:%d", d.port) }

// start runs influxd and waits until /ping answers.
func (d *influxd) start() error {
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
		if resp, err := http.Get(d.url() + "/ping"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusNoContent {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	d.stop()
	return errors.New("influxd /ping did not answer within 60 s")
}

// stop ends influxd (SIGTERM, then SIGKILL) and waits for it.
func (d *influxd) stop() {
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

func (d *influxd) dumpLog() {
	b, _ := os.ReadFile(filepath.Join(d.dir, "influxd.log"))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	fmt.Fprintf(os.Stderr, "influxd log:\n%s\n", b)
}

// influxQLResult is the JSON of /query.
type influxQLResult struct {
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

// query runs InfluxQL over HTTP /query against db.
func (d *influxd) query(t testing.TB, db, q string) influxQLResult {
	t.Helper()
	form := url.Values{"q": {q}, "db": {db}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, d.url()+"/query", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("influxql %q: %v", q, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var r influxQLResult
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("influxql %q: %v: %s", q, err, body)
	}
	if r.Error != "" || len(r.Results) > 0 && r.Results[0].Error != "" {
		t.Fatalf("influxql %q: %s", q, body)
	}
	return r
}

// createDB creates a database for one test and returns its name.
func (d *influxd) createDB(t testing.TB) string {
	t.Helper()
	name := strings.NewReplacer("/", "_", " ", "_", "#", "_").Replace(t.Name())
	d.query(t, "", fmt.Sprintf("DROP DATABASE %q", name))
	d.query(t, "", fmt.Sprintf("CREATE DATABASE %q", name))
	return name
}

// waitFor polls cond until it holds; it fails the test after a minute
// (a liveness bound, not a performance assertion).
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
