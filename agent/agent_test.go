package agent

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Collect on a fixture host: every part read the first time, SMART and
// the inventory carried over until their cadence comes round.
func TestCollectReadsEveryPartOnItsCadence(t *testing.T) {
	root, err := filepath.Abs("testdata/supermicro-x11dpi")
	if err != nil {
		t.Fatal(err)
	}
	smartctl, _ := filepath.Abs("testdata/smartctl/smartctl")
	now := time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)
	a := New(Options{Root: root, Server: "r12-u03", Hostname: "r12-u03.dc1", Interval: 30 * time.Second,
		SMART: SMART{Binary: smartctl}, Now: func() time.Time { return now }})
	rep := a.Collect(context.Background())
	if rep.Version != ReportVersion || rep.Server != "r12-u03" || rep.Root != root || rep.Interval != 30*time.Second {
		t.Errorf("report header %+v", rep)
	}
	if rep.Identity.SystemSerial == "" || rep.Identity.SystemUUID == "" {
		t.Errorf("identity %+v: want the fixture's system serial and UUID", rep.Identity)
	}
	if rep.Inventory == nil || len(rep.Inventory.DIMMSlots) == 0 {
		t.Fatalf("inventory %+v: want the SMBIOS DIMM slots", rep.Inventory)
	}
	if len(rep.DIMMs) == 0 || rep.DIMMs[0].CorrectableErrors == nil {
		t.Errorf("EDAC DIMMs %+v", rep.DIMMs)
	}
	if !slices.ContainsFunc(rep.Sensors, func(s Sensor) bool { return s.CPUPackage && s.Socket == "CPU1" }) {
		t.Errorf("hwmon sensors %+v: want CPU1's package temperature", rep.Sensors)
	}
	if len(rep.Cached) != 0 {
		t.Errorf("first report carries over %v", rep.Cached)
	}
	if _, err := json.Marshal(rep); err != nil {
		t.Fatalf("the report does not encode: %v", err)
	}

	now = now.Add(30 * time.Second)
	rep2 := a.Collect(context.Background())
	if !slices.Contains(rep2.Cached, PartSMART) || !slices.Contains(rep2.Cached, PartInventory) || rep2.Inventory != rep.Inventory {
		t.Errorf("second report: cached %v; want SMART and the inventory carried over", rep2.Cached)
	}
	now = now.Add(DefaultSMARTEvery)
	if rep3 := a.Collect(context.Background()); slices.Contains(rep3.Cached, PartSMART) {
		t.Error("SMART not read again after its cadence")
	}
	a.RefreshInventory()
	if rep4 := a.Collect(context.Background()); slices.Contains(rep4.Cached, PartInventory) {
		t.Error("the inventory was not read again on demand")
	}
}

// poller is a stand-in poller that answers with status and keeps what it
// took.
type poller struct {
	mu      sync.Mutex
	status  int
	got     []Report
	auth    []string
	answers int
}

func (p *poller) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.answers++
	p.auth = append(p.auth, r.Header.Get("Authorization"))
	if p.status != 200 {
		http.Error(w, "nope", p.status)
		return
	}
	var rep Report
	body, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(body, &rep); err != nil || r.URL.Path != "/api/agents/"+rep.Server+"/report" {
		http.Error(w, "bad", 400)
		return
	}
	p.got = append(p.got, rep)
}

func TestSender(t *testing.T) {
	p := &poller{status: 200}
	srv := httptest.NewServer(p)
	defer srv.Close()
	s := &Sender{Poller: srv.URL, Token: "t0ken"}
	rep := &Report{Version: ReportVersion, Server: "r12-u03"}
	if err := s.Send(context.Background(), rep); err != nil {
		t.Fatal(err)
	}
	if len(p.got) != 1 || p.auth[0] != "Bearer t0ken" {
		t.Errorf("poller got %d reports with %v", len(p.got), p.auth)
	}
	p.status = 401
	var refused *RejectedError
	if err := s.Send(context.Background(), rep); !errors.As(err, &refused) || refused.Status != 401 || !strings.Contains(refused.Reason, "nope") {
		t.Errorf("a 401: %v; want a RejectedError with the reason", err)
	}
	p.status = 503
	if err := s.Send(context.Background(), rep); err == nil || errors.As(err, &refused) {
		t.Errorf("a 503: %v; want an error worth retrying", err)
	}
	if err := (&Sender{Poller: "http://user:secret@127.0.0.1:1", Token: "t"}).Send(context.Background(), rep); err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("a poller down: %v; want an error without the URL's password", err)
	}
}

// Run retries a report the poller cannot take, and sends the next one
// when it is due.
func TestRunRetriesThenSends(t *testing.T) {
	p := &poller{status: 503}
	srv := httptest.NewServer(p)
	defer srv.Close()
	root := t.TempDir() // nothing to read: every part a Problem, still a report
	a := New(Options{Root: root, Server: "r12-u03", Interval: 200 * time.Millisecond, SMART: SMART{Binary: filepath.Join(root, "no-smartctl")}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, a, &Sender{Poller: srv.URL, Token: "t"}) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		p.mu.Lock()
		answers := p.answers
		if answers >= 2 {
			p.status = 200
		}
		n := len(p.got)
		p.mu.Unlock()
		if n >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the agent delivered %d reports in 30 s after the poller came back", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	if got := p.got[0]; len(got.Problems) == 0 || got.Server != "r12-u03" {
		t.Errorf("a report from an empty root: %+v; want every part a Problem", got)
	}
}
