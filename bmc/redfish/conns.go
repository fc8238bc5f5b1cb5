package redfish

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// connTracker dials the collector's TCP connections and remembers the open
// ones, so that at the end of a poll the collector can keep exactly one
// (the one used last) for the next poll and close the rest. Closing the
// TCP connection under an idle HTTP connection makes the transport drop
// it from its pool.
type connTracker struct {
	dialer *net.Dialer
	dials  atomic.Int64

	mu   sync.Mutex
	open map[*trackedConn]struct{}
}

func newConnTracker(d *net.Dialer) *connTracker {
	return &connTracker{dialer: d, open: map[*trackedConn]struct{}{}}
}

// DialContext dials like the dialer, tracking the connection.
func (t *connTracker) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := t.dialer.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	t.dials.Add(1)
	tc := &trackedConn{Conn: c, t: t}
	tc.touch()
	t.mu.Lock()
	t.open[tc] = struct{}{}
	t.mu.Unlock()
	return tc, nil
}

// keepOne closes every open connection but the one used last, and says
// whether one is left open.
func (t *connTracker) keepOne() bool {
	t.mu.Lock()
	var newest *trackedConn
	for c := range t.open {
		if newest == nil || c.used.Load() > newest.used.Load() {
			newest = c
		}
	}
	var extra []*trackedConn
	for c := range t.open {
		if c != newest {
			extra = append(extra, c)
		}
	}
	t.mu.Unlock()
	for _, c := range extra {
		_ = c.Close()
	}
	return newest != nil
}

// closeAll closes every open connection. At the end of a poll some may
// not be back in the transport's idle pool yet (a body closed, its
// connection still on its way back), where CloseIdleConnections would miss
// them and they would stay open for the idle timeout.
func (t *connTracker) closeAll() {
	t.mu.Lock()
	all := make([]*trackedConn, 0, len(t.open))
	for c := range t.open {
		all = append(all, c)
	}
	t.mu.Unlock()
	for _, c := range all {
		_ = c.Close()
	}
}

// openConns is how many connections are open.
func (t *connTracker) openConns() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.open)
}

// trackedConn is a tracked connection: it notes when it was last used and
// leaves the tracker when closed.
type trackedConn struct {
	net.Conn
	t    *connTracker
	used atomic.Int64 // unix nanoseconds of the last read or write
	once sync.Once
}

func (c *trackedConn) touch() { c.used.Store(time.Now().UnixNano()) }

func (c *trackedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.touch()
	}
	return n, err
}

func (c *trackedConn) Write(p []byte) (int, error) {
	c.touch()
	return c.Conn.Write(p)
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.t.mu.Lock()
		delete(c.t.open, c)
		c.t.mu.Unlock()
	})
	return c.Conn.Close()
}
