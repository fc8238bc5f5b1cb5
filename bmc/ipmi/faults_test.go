package ipmi

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rackpulse/rackpulse/bmc"
)

// udpProxy forwards datagrams between the collector and the simulator,
// dropping those drop selects and all of them once stopped.
type udpProxy struct {
	conn    *net.UDPConn
	target  *net.UDPAddr
	drop    atomic.Pointer[func(n int64) bool] // n counts datagrams from the client, from 1
	fromCli atomic.Int64
	dropped atomic.Int64
	stopped atomic.Bool
	wg      sync.WaitGroup
}

func startProxy(t *testing.T, targetPort int, drop func(n int64) bool) *udpProxy {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	p := &udpProxy{conn: conn, target: &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: targetPort}}
	p.setDrop(drop)
	upstream, err := net.DialUDP("udp", nil, p.target)
	if err != nil {
		t.Fatal(err)
	}
	var client atomic.Pointer[net.UDPAddr]
	p.wg.Add(2)
	go func() { // client → BMC
		defer p.wg.Done()
		buf := make([]byte, 4096)
		for {
			n, from, err := conn.ReadFromUDP(buf)
			if err != nil {
				return
			}
			client.Store(from)
			k := p.fromCli.Add(1)
			if drop := p.drop.Load(); p.stopped.Load() || (drop != nil && *drop != nil && (*drop)(k)) {
				p.dropped.Add(1)
				continue
			}
			_, _ = upstream.Write(buf[:n])
		}
	}()
	go func() { // BMC → client
		defer p.wg.Done()
		buf := make([]byte, 4096)
		for {
			n, err := upstream.Read(buf)
			if err != nil {
				return
			}
			if to := client.Load(); to != nil && !p.stopped.Load() {
				_, _ = conn.WriteToUDP(buf[:n], to)
			}
		}
	}()
	t.Cleanup(func() {
		conn.Close()
		upstream.Close()
		p.wg.Wait()
	})
	return p
}

func (p *udpProxy) setDrop(f func(n int64) bool) { p.drop.Store(&f) }

func (p *udpProxy) address() string { return p.conn.LocalAddr().String() }

func TestPollSurvivesPacketLoss(t *testing.T) {
	s := startSim(t)
	// Every third datagram from the collector is lost.
	proxy := startProxy(t, s.port, func(n int64) bool { return n%3 == 0 })
	ep := s.endpoint(proxy.address())
	ep.RequestTimeout = 300 * time.Millisecond // 100 ms per attempt
	c := newCollector(t, ep, bmc.CollectorOptions{})
	mustPoll(t, c) // session, SDR, thresholds
	snap := mustPoll(t, c)
	if len(snap.Poll.Errors) != 0 {
		t.Errorf("part errors with packet loss: %+v", snap.Poll.Errors)
	}
	if proxy.dropped.Load() == 0 {
		t.Fatal("the proxy dropped nothing")
	}
	assertMatchesIpmitool(t, s, snap)
	// Retries are round trips too: more datagrams than commands.
	if snap.Poll.Requests <= steadyRoundTrips {
		t.Errorf("poll counted %d round trips for %d commands with every third lost", snap.Poll.Requests, steadyRoundTrips)
	}
}

func TestBMCThatStopsAnsweringMidPoll(t *testing.T) {
	s := startSim(t)
	proxy := startProxy(t, s.port, nil)
	ep := s.endpoint(proxy.address())
	ep.RequestTimeout = 600 * time.Millisecond
	ep.PollTimeout = 5 * time.Second
	c := newCollector(t, ep, bmc.CollectorOptions{})
	mustPoll(t, c)

	// Stop forwarding after a few datagrams of the next poll.
	base := proxy.fromCli.Load()
	var cut atomic.Bool
	proxy.setDrop(func(n int64) bool {
		if n > base+5 {
			cut.Store(true)
			return true
		}
		return false
	})
	start := time.Now()
	snap, err := c.Poll(context.Background())
	took := time.Since(start)
	if !cut.Load() {
		t.Fatal("the proxy never stopped forwarding")
	}
	if took > ep.PollTimeout+2*time.Second {
		t.Errorf("poll took %v, past its %v deadline", took, ep.PollTimeout)
	}
	if err != nil {
		if k := bmc.KindOf(err); k != bmc.ErrKindTimeout {
			t.Errorf("poll failed as %q (%v), want timeout", k, err)
		}
		return
	}
	if len(snap.Poll.Errors) == 0 {
		t.Fatalf("a BMC gone silent mid-poll gave a complete poll")
	}
	for _, pe := range snap.Poll.Errors {
		if pe.Kind != bmc.ErrKindTimeout {
			t.Errorf("part %s failed as %q (%s), want timeout", pe.Part, pe.Kind, pe.Message)
		}
	}
}

func TestPanicInAPartIsIsolated(t *testing.T) {
	s := startSim(t)
	c := newCollector(t, s.endpoint(""), bmc.CollectorOptions{})
	mustPoll(t, c)
	// A nil record in the cache makes the sensors part panic, standing in
	// for go-ipmi panicking on an odd answer.
	c.sdr.records = append(c.sdr.records, nil)
	snap, err := c.Poll(t.Context())
	if err != nil {
		t.Fatalf("poll: %v", err)
	}
	var pe *bmc.PartError
	for i := range snap.Poll.Errors {
		if snap.Poll.Errors[i].Part == bmc.PartSensors {
			pe = &snap.Poll.Errors[i]
		}
	}
	if pe == nil || pe.Kind != bmc.ErrKindPanic {
		t.Fatalf("part errors %+v, want a panic in sensors", snap.Poll.Errors)
	}
	if len(snap.Systems) != 1 || snap.Systems[0].PowerState != "Off" {
		t.Errorf("the other parts did not run after the panic: %+v", snap.Systems)
	}
	// The session was dropped (its state is unknown); the next poll opens
	// a new one and reads again.
	c.sdr.records = c.sdr.records[:len(c.sdr.records)-1]
	if snap := mustPoll(t, c); len(snap.Poll.Errors) != 0 {
		t.Errorf("poll after the panic: %+v", snap.Poll.Errors)
	}
}
