package sim

import (
	"net"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// answerRecorder is a PacketConn that keeps what is written to it.
type answerRecorder struct {
	net.PacketConn // not used: only WriteTo is called
	mu             sync.Mutex
	sent           int
}

func (r *answerRecorder) WriteTo(b []byte, _ net.Addr) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent++
	return len(b), nil
}

func (r *answerRecorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sent
}

// TestIPMIAnswersWaitTheLatency: each answer of an IPMI BMC waits the
// fleet's latency before it is sent, per request (answers in flight
// together wait together), as the Redfish BMCs' requests do; a BMC that
// stops drops the answers it holds; no latency, no wait.
func TestIPMIAnswersWaitTheLatency(t *testing.T) {
	to := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 623}
	synctest.Test(t, func(t *testing.T) {
		rec := &answerRecorder{}
		done := make(chan struct{})
		conn := &ipmiConn{conn: rec, b: &IPMIBMC{latency: func() time.Duration { return 150 * time.Millisecond }}, done: done}

		start := time.Now()
		for range 3 {
			if _, err := conn.WriteTo([]byte{0x06}, to); err != nil {
				t.Fatal(err)
			}
		}
		if elapsed := time.Since(start); elapsed != 450*time.Millisecond || rec.count() != 3 {
			t.Errorf("three answers one after the other: %d sent after %v of fake time, want 3 after 450ms", rec.count(), elapsed)
		}

		start = time.Now()
		var wg sync.WaitGroup
		for range 3 {
			wg.Go(func() { _, _ = conn.WriteTo([]byte{0x06}, to) })
		}
		wg.Wait()
		if elapsed := time.Since(start); elapsed != 150*time.Millisecond || rec.count() != 6 {
			t.Errorf("three answers at once: %d sent in all after %v of fake time, want 6 after 150ms", rec.count(), elapsed)
		}

		// Stopping: the answer held is dropped, not sent late.
		wg.Go(func() { _, _ = conn.WriteTo([]byte{0x06}, to) })
		time.Sleep(50 * time.Millisecond)
		close(done)
		wg.Wait()
		if rec.count() != 6 {
			t.Errorf("an answer held when the BMC stopped was sent (%d in all)", rec.count())
		}

		still := &ipmiConn{conn: rec, b: &IPMIBMC{}, done: make(chan struct{})}
		start = time.Now()
		_, _ = still.WriteTo([]byte{0x06}, to)
		if elapsed := time.Since(start); elapsed != 0 || rec.count() != 7 {
			t.Errorf("without latency: %v of fake time, %d sent", elapsed, rec.count())
		}
	})
}

// TestIPMIFleetLatency: a fleet's --latency reaches its IPMI BMCs: a
// presence ping is answered, no sooner than the latency.
func TestIPMIFleetLatency(t *testing.T) {
	const latency = 300 * time.Millisecond
	f := startIPMIFleet(t, FleetOptions{Count: 1, Mix: []ProfileShare{{ProfileIPMI, 1}},
		Latency: func() time.Duration { return latency }}, nil)
	b := f.BMCs()[0]
	c, err := net.Dial("udp", net.JoinHostPort(b.host, strconv.Itoa(b.port)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ping := []byte{0x06, 0x00, 0xff, 0x06, 0x00, 0x00, 0x11, 0xbe, 0x80, 0x01, 0x00, 0x00}
	start := time.Now()
	if _, err := c.Write(ping); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	buf := make([]byte, 64)
	n, err := c.Read(buf)
	if err != nil || n < 9 || buf[8] != 0x40 {
		t.Fatalf("no pong: %v", err)
	}
	// A lower bound only: a timer never fires early, however loaded the
	// machine.
	if took := time.Since(start); took < latency {
		t.Errorf("pong after %v, before the %v latency", took, latency)
	}
}
