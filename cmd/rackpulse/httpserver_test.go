package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// startBoundedServer serves handler within lim on a free loopback port
// until the test ends, and returns its address and listener.
func startBoundedServer(t *testing.T, handler http.Handler, lim httpLimits) (string, *boundedListener) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, bounded := newHTTPServer(ln, handler, lim, prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	comp := httpComponent("http server", srv, bounded)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- comp.run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("http server: %v", err)
		}
	})
	return ln.Addr().String(), bounded.(*boundedListener)
}

// keepAliveRequest sends one GET on conn and reads the answer, leaving the
// connection open (idle) afterwards.
func keepAliveRequest(t *testing.T, conn net.Conn, r *bufio.Reader, path string) int {
	t.Helper()
	if _, err := fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: test\r\n\r\n", path); err != nil {
		t.Fatalf("write: %v", err)
	}
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// An idle keep-alive connection is closed by the server after the idle
// timeout; the client sees the end of the stream.
func TestHTTPServerClosesIdleConnections(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	addr, _ := startBoundedServer(t, ok, httpLimits{idleTimeout: 300 * time.Millisecond})
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	if code := keepAliveRequest(t, conn, r, "/"); code != http.StatusOK {
		t.Fatalf("status %d", code)
	}
	// A liveness bound far above the idle timeout: the read ends because
	// the server closed the connection, not because of this deadline.
	_ = conn.SetReadDeadline(time.Now().Add(2 * time.Minute))
	_, err = r.ReadByte()
	if !errors.Is(err, io.EOF) {
		t.Fatalf("read on an idle keep-alive connection: %v, want EOF (closed by the server)", err)
	}
}

// A client that opens a connection and sends nothing is cut off after the
// read-header timeout.
func TestHTTPServerCutsSilentClients(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	addr, _ := startBoundedServer(t, ok, httpLimits{readHeaderTimeout: 300 * time.Millisecond, readTimeout: 300 * time.Millisecond})
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET / HTTP/1.1\r\n"); err != nil { // and never the rest
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(2 * time.Minute))
	if _, err := io.ReadAll(conn); err != nil {
		t.Fatalf("read: %v, want the server to close the connection", err)
	}
}

// At the connection bound, a new client takes the place of the connection
// idle the longest: idle keep-alives never lock out a health check, and
// the open connections never exceed the bound.
func TestHTTPServerBoundEvictsIdleConnections(t *testing.T) {
	const max = 4
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	addr, bounded := startBoundedServer(t, ok, httpLimits{maxConns: max, idleTimeout: time.Hour})
	var idle []net.Conn
	for range max {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if code := keepAliveRequest(t, conn, bufio.NewReader(conn), "/"); code != http.StatusOK {
			t.Fatalf("status %d", code)
		}
		idle = append(idle, conn)
	}
	// Ten more clients, one after the other, each answered.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 2 * time.Minute}
	for i := range 10 {
		resp, err := client.Get("http://" + addr + "/healthz")
		if err != nil {
			t.Fatalf("request %d at the bound: %v", i, err)
		}
		resp.Body.Close()
		if n := len(bounded.slots); n > max {
			t.Fatalf("%d connections open, bound %d", n, max)
		}
	}
	if n := testutil.ToFloat64(bounded.evicted); n < 1 {
		t.Errorf("evicted %v idle connections, want at least one", n)
	}
	// An idle connection was closed to make room (which one depends on
	// when the server saw each go idle): its client reads the end of the
	// stream. Polled until one does, within a liveness bound.
	deadline := time.Now().Add(2 * time.Minute)
	for closed := false; !closed; {
		for _, c := range idle {
			_ = c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
			if _, err := c.Read(make([]byte, 1)); errors.Is(err, io.EOF) {
				closed = true
			}
		}
		if !closed && time.Now().After(deadline) {
			t.Fatal("no idle connection was closed, though one was counted evicted")
		}
	}
}

// When every connection is busy, a new one waits (accepted, not read)
// until one ends, and is then answered.
func TestHTTPServerBoundMakesNewConnectionsWait(t *testing.T) {
	const max = 2
	release := make(chan struct{})
	var inFlight sync.WaitGroup
	inFlight.Add(max)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			inFlight.Done()
			<-release
		}
		_, _ = io.WriteString(w, "ok")
	})
	addr, bounded := startBoundedServer(t, handler, httpLimits{maxConns: max})
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 2 * time.Minute}
	held := make(chan error, max)
	for range max {
		go func() {
			resp, err := client.Get("http://" + addr + "/hold")
			if err == nil {
				resp.Body.Close()
			}
			held <- err
		}()
	}
	inFlight.Wait()
	answered := make(chan error, 1)
	go func() {
		resp, err := client.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		answered <- err
	}()
	// The waiting request is not answered while both slots are busy. Not
	// a timing assertion: whenever it is checked, it must still wait.
	select {
	case err := <-answered:
		t.Fatalf("a request was answered beyond the bound of %d busy connections (err %v)", max, err)
	case <-time.After(200 * time.Millisecond):
	}
	if n := len(bounded.slots); n != max {
		t.Errorf("%d connections hold slots, want %d", n, max)
	}
	close(release)
	for range max {
		if err := <-held; err != nil {
			t.Errorf("held request: %v", err)
		}
	}
	if err := <-answered; err != nil {
		t.Fatalf("the waiting request once a slot was free: %v", err)
	}
}

// The limits are flags of serve and rollup, with defaults that apply when
// a config leaves them zero.
func TestHTTPLimitsDefaults(t *testing.T) {
	got := httpLimits{idleTimeout: 7 * time.Second}.withDefaults()
	want := httpLimits{readHeaderTimeout: defaultHTTPReadHeaderTimeout, readTimeout: defaultHTTPReadTimeout,
		writeTimeout: defaultHTTPWriteTimeout, idleTimeout: 7 * time.Second, maxConns: defaultHTTPMaxConns}
	if got != want {
		t.Fatalf("withDefaults: %+v, want %+v", got, want)
	}
	for _, cmd := range []string{"serve", "rollup"} {
		root := newRootCmd()
		c, _, err := root.Find([]string{cmd})
		if err != nil {
			t.Fatal(err)
		}
		for _, flag := range []string{"http-read-header-timeout", "http-read-timeout", "http-write-timeout", "http-idle-timeout", "http-max-connections"} {
			if c.Flags().Lookup(flag) == nil {
				t.Errorf("%s has no --%s", cmd, flag)
			}
		}
		if !strings.Contains(c.Flags().FlagUsages(), "RACKPULSE_HTTP_IDLE_TIMEOUT") {
			t.Errorf("%s does not name the environment variable of --http-idle-timeout", cmd)
		}
	}
}
