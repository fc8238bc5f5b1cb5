// Package amtest runs a real Prometheus Alertmanager for tests: on a free
// loopback port, with a temporary storage directory, clustering off, with
// the shipped configs/alertmanager.yml or a configuration the test gives.
// It can route notifications to a webhook served by the test, so that a
// test sees what Alertmanager actually notified. It is test support for the
// alert engine and the commands that use it, not part of the daemon.
//
// The binary is $RACKPULSE_ALERTMANAGER, else <repo>/tools/bin/alertmanager
// (`bash .ci/alertmanager install` builds v0.28.1 there), else
// prometheus-alertmanager or alertmanager on PATH (Debian's package).
package amtest

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

// StartTimeout is how long Start waits for /-/ready: generous, for a loaded
// CI machine.
const StartTimeout = 90 * time.Second

// repoRoot is the repository this file sits in.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// ShippedConfig is the path of the configuration the project ships,
// configs/alertmanager.yml.
func ShippedConfig() string {
	return filepath.Join(repoRoot(), "configs", "alertmanager.yml")
}

// Binary finds alertmanager: $RACKPULSE_ALERTMANAGER, else
// <repo>/tools/bin/alertmanager, else prometheus-alertmanager or
// alertmanager on PATH. It returns "" and why when there is none.
func Binary() (string, string) {
	if bin := os.Getenv("RACKPULSE_ALERTMANAGER"); bin != "" {
		if _, err := os.Stat(bin); err != nil {
			return "", fmt.Sprintf("RACKPULSE_ALERTMANAGER=%s: %v", bin, err)
		}
		return bin, ""
	}
	local := filepath.Join(repoRoot(), "tools", "bin", "alertmanager")
	if _, err := os.Stat(local); err == nil {
		return local, ""
	}
	for _, name := range []string{"prometheus-alertmanager", "alertmanager"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, ""
		}
	}
	return "", fmt.Sprintf("no alertmanager at %s or on PATH (set RACKPULSE_ALERTMANAGER, run bash .ci/alertmanager install, or install Debian's prometheus-alertmanager)", local)
}

// Require stops a test that cannot have Alertmanager: it skips, or fails
// when RACKPULSE_REQUIRE_INTEGRATION=1.
func Require(t testing.TB, why string) { peertest.Require(t, why) }

// Option changes how Start runs Alertmanager.
type Option func(*options)

type options struct {
	config     []byte // configuration text; nil means the shipped file
	configPath string
	webhook    bool
	groupWait  time.Duration
	groupIntv  time.Duration
}

// WithConfig runs Alertmanager with the configuration text yml instead of
// the shipped configs/alertmanager.yml.
func WithConfig(yml string) Option {
	return func(o *options) { o.config, o.configPath = []byte(yml), "" }
}

// WithConfigFile runs Alertmanager with the configuration file at path
// instead of the shipped configs/alertmanager.yml.
func WithConfigFile(path string) Option {
	return func(o *options) { o.config, o.configPath = nil, path }
}

// WithWebhook routes every notification to a webhook served by the test
// (Server.Webhook records them). The configuration, shipped or given, is
// kept except for its routing: a receiver named WebhookReceiver is added,
// every route in the tree sends to it, and group_wait and group_interval
// become short (1s and 2s; see WithGroupTiming). Inhibition rules are kept
// as they are.
func WithWebhook() Option {
	return func(o *options) { o.webhook = true }
}

// WithGroupTiming sets group_wait and group_interval on every route when
// notifications go to the test's webhook (WithWebhook).
func WithGroupTiming(wait, interval time.Duration) Option {
	return func(o *options) { o.groupWait, o.groupIntv = wait, interval }
}

// WebhookReceiver is the name of the receiver WithWebhook adds.
const WebhookReceiver = "amtest-webhook"

// Server is one running Alertmanager.
type Server struct {
	bin, dir   string
	configPath string
	port       int
	cmd        *exec.Cmd
	exited     chan error
	webhook    *Webhook
	client     *http.Client
}

// Start finds alertmanager and starts one for the test on a free loopback
// port, with storage in a temporary directory, stopped at the test's end;
// its log is written to the test's output when the test fails. Without
// alertmanager the test skips (or fails when integration tests are
// required).
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	bin, why := Binary()
	if bin == "" {
		Require(t, why)
	}
	o := options{groupWait: time.Second, groupIntv: 2 * time.Second}
	for _, opt := range opts {
		opt(&o)
	}
	dir := t.TempDir()
	s := &Server{bin: bin, dir: dir, client: &http.Client{Timeout: 30 * time.Second}}

	config := o.config
	if config == nil {
		path := o.configPath
		if path == "" {
			path = ShippedConfig()
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("alertmanager config: %v", err)
		}
		config = b
	}
	if o.webhook {
		s.webhook = newWebhook()
		t.Cleanup(s.webhook.close)
		var err error
		config, err = routeToWebhook(config, s.webhook.URL(), o.groupWait, o.groupIntv)
		if err != nil {
			t.Fatalf("alertmanager config: %v", err)
		}
	}
	s.configPath = filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(s.configPath, config, 0o600); err != nil {
		t.Fatalf("alertmanager config: %v", err)
	}

	// A free port can be taken between finding it and Alertmanager binding
	// it; try again on another then.
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		if err = s.start(); err == nil || !errors.Is(err, errPortTaken) {
			break
		}
	}
	if err != nil {
		t.Logf("alertmanager log (%s):\n%s", s.LogPath(), s.Log())
		t.Fatalf("alertmanager: %v", err)
	}
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("alertmanager log (%s):\n%s", s.LogPath(), s.Log())
		}
	})
	return s
}

var errPortTaken = errors.New("port taken")

// freePort returns a free loopback TCP port.
func (s *Server) start() error {
	port, err := peertest.FreePort()
	if err != nil {
		return err
	}
	s.port = port
	logf, err := os.OpenFile(s.LogPath(), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	s.cmd = exec.Command(s.bin,
		"--config.file="+s.configPath,
		"--storage.path="+filepath.Join(s.dir, "data"),
		"--web.listen-address="+fmt.Sprintf("127.0.0.1:%d", port),
		"--web.external-url="+s.URL(),
		// Empty: no gossip cluster, no second port, no peers to wait for.
		"--cluster.listen-address=",
	)
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", s.bin, err)
	}
	s.exited = make(chan error, 1)
	go func(c *exec.Cmd, ch chan<- error) { ch <- c.Wait() }(s.cmd, s.exited)
	deadline := time.Now().Add(StartTimeout)
	for time.Now().Before(deadline) {
		select {
		case err := <-s.exited:
			s.cmd = nil
			if strings.Contains(s.Log(), "address already in use") {
				return fmt.Errorf("alertmanager exited during start on port %d: %w", port, errPortTaken)
			}
			return fmt.Errorf("alertmanager exited during start: %v", err)
		default:
		}
		if resp, err := s.client.Get(s.URL() + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.Stop()
	return fmt.Errorf("alertmanager /-/ready did not answer within %s", StartTimeout)
}

// URL is the base URL of the Alertmanager, e.g. http://127.0.0.1:41234:
// what rackpulse serve --alertmanager-url takes.
func (s *Server) URL() string { return fmt.Sprintf("http://127.0.0.1:%d", s.port) }

// ConfigPath is the configuration file Alertmanager runs with (after
// WithWebhook's changes).
func (s *Server) ConfigPath() string { return s.configPath }

// LogPath is the file Alertmanager logs to.
func (s *Server) LogPath() string { return filepath.Join(s.dir, "alertmanager.log") }

// Log returns the end of Alertmanager's log.
func (s *Server) Log() string {
	b, _ := os.ReadFile(s.LogPath())
	if len(b) > 16000 {
		b = b[len(b)-16000:]
	}
	return string(b)
}

// Webhook is the test's webhook receiver, nil without WithWebhook.
func (s *Server) Webhook() *Webhook { return s.webhook }

// Stop ends Alertmanager (SIGTERM, then SIGKILL after 30 s) and waits for
// it. Start arranges it at the test's end.
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	s.cmd = nil
}

// PostableAlert is one alert as a producer sends it to POST /api/v2/alerts.
// A zero EndsAt lets Alertmanager resolve it after resolve_timeout.
type PostableAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     time.Time         `json:"startsAt,omitzero"`
	EndsAt       time.Time         `json:"endsAt,omitzero"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// Alert is one alert as GET /api/v2/alerts returns it.
type Alert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	UpdatedAt    time.Time         `json:"updatedAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
	Receivers    []struct {
		Name string `json:"name"`
	} `json:"receivers"`
	Status AlertStatus `json:"status"`
}

// AlertStatus is an alert's state in Alertmanager.
type AlertStatus struct {
	// State is "active", "suppressed" (inhibited or silenced) or
	// "unprocessed".
	State       string   `json:"state"`
	InhibitedBy []string `json:"inhibitedBy"`
	SilencedBy  []string `json:"silencedBy"`
	// MutedBy names the time intervals muting the alert.
	MutedBy []string `json:"mutedBy"`
}

// Inhibited reports whether another alert mutes a.
func (a Alert) Inhibited() bool { return len(a.Status.InhibitedBy) > 0 }

// Post sends alerts to POST /api/v2/alerts, as a producer does.
func (s *Server) Post(ctx context.Context, alerts []PostableAlert) error {
	body, err := json.Marshal(alerts)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL()+"/api/v2/alerts", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("post alerts: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("post alerts: %s: %s", resp.Status, bytes.TrimSpace(b))
	}
	return nil
}

// Alerts returns the alerts Alertmanager holds (active, silenced and
// inhibited), from GET /api/v2/alerts. Each filter is a label matcher such
// as `alertname="DIMMFailing"` or `server=~"r12-.*"`; all must match.
func (s *Server) Alerts(ctx context.Context, filters ...string) ([]Alert, error) {
	q := url.Values{}
	for _, f := range filters {
		q.Add("filter", f)
	}
	u := s.URL() + "/api/v2/alerts"
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("get alerts: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("get alerts: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("get alerts: %s: %s", resp.Status, bytes.TrimSpace(b))
	}
	var alerts []Alert
	if err := json.Unmarshal(b, &alerts); err != nil {
		return nil, fmt.Errorf("get alerts: %w: %s", err, b)
	}
	return alerts, nil
}

// WaitAlerts polls Alerts (with filters) until done accepts the answer, and
// returns that answer. It gives up when ctx ends, returning the last answer
// and an error saying what it saw.
func (s *Server) WaitAlerts(ctx context.Context, done func([]Alert) bool, filters ...string) ([]Alert, error) {
	var last []Alert
	var lastErr error
	for {
		alerts, err := s.Alerts(ctx, filters...)
		if err == nil {
			last = alerts
			if done(alerts) {
				return alerts, nil
			}
		} else if ctx.Err() == nil {
			lastErr = err
		}
		select {
		case <-ctx.Done():
			if lastErr != nil {
				return last, fmt.Errorf("waiting for alerts: %w (last error: %v; last answer: %s)", ctx.Err(), lastErr, Describe(last))
			}
			return last, fmt.Errorf("waiting for alerts: %w (last answer: %s)", ctx.Err(), Describe(last))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Status is the part of GET /api/v2/status a test looks at.
type Status struct {
	Config struct {
		Original string `json:"original"`
	} `json:"config"`
	VersionInfo map[string]string `json:"versionInfo"`
	Cluster     struct {
		Status string `json:"status"`
	} `json:"cluster"`
	Uptime time.Time `json:"uptime"`
}

// Status returns GET /api/v2/status: the loaded configuration, version and
// cluster state.
func (s *Server) Status(ctx context.Context) (Status, error) {
	var st Status
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL()+"/api/v2/status", nil)
	if err != nil {
		return st, err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return st, fmt.Errorf("get status: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return st, fmt.Errorf("get status: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("get status: %s: %s", resp.Status, bytes.TrimSpace(b))
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("get status: %w", err)
	}
	return st, nil
}

// Find returns the alerts whose labels include every name=value of want.
func Find(alerts []Alert, want map[string]string) []Alert {
	var out []Alert
	for _, a := range alerts {
		if hasLabels(a.Labels, want) {
			out = append(out, a)
		}
	}
	return out
}

func hasLabels(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

// Describe prints alerts compactly for a failure message: labels, state and
// what inhibits or silences each.
func Describe(alerts []Alert) string {
	if len(alerts) == 0 {
		return "no alerts"
	}
	var b strings.Builder
	for i, a := range alerts {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%v %s", a.Labels, a.Status.State)
		if len(a.Status.InhibitedBy) > 0 {
			fmt.Fprintf(&b, " inhibitedBy=%v", a.Status.InhibitedBy)
		}
		if len(a.Status.SilencedBy) > 0 {
			fmt.Fprintf(&b, " silencedBy=%v", a.Status.SilencedBy)
		}
	}
	return b.String()
}
