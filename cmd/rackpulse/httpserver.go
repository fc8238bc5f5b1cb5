package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"github.com/spf13/viper"
)

// httpLimits bound what the clients of serve's and the site role's HTTP
// server (/api, the dashboard, /metrics, /healthz, agent reports) may
// hold: how long a request may take to arrive and to be answered, how
// long a keep-alive connection may sit idle, and how many connections are
// open at once.
type httpLimits struct {
	readHeaderTimeout time.Duration
	readTimeout       time.Duration
	writeTimeout      time.Duration
	idleTimeout       time.Duration
	maxConns          int
}

// registerProfiles serves Go's profiles (the index and 30 s CPU profiles
// by default, under /debug/pprof/) on mux, for --pprof.
func registerProfiles(mux *http.ServeMux) {
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
}

// HTTP server defaults. The write timeout leaves room for the slowest
// answers: a chart's history read from InfluxDB, and a 30-second CPU
// profile under --pprof.
const (
	defaultHTTPReadHeaderTimeout = 5 * time.Second
	defaultHTTPReadTimeout       = 30 * time.Second
	defaultHTTPWriteTimeout      = 60 * time.Second
	defaultHTTPIdleTimeout       = 60 * time.Second
	defaultHTTPMaxConns          = 1024
	// httpShutdownTimeout is how long requests in flight may finish when
	// the daemon stops.
	httpShutdownTimeout = 5 * time.Second
)

// withDefaults fills zero (or negative) limits with the defaults.
func (l httpLimits) withDefaults() httpLimits {
	orDefault := func(d *time.Duration, def time.Duration) {
		if *d <= 0 {
			*d = def
		}
	}
	orDefault(&l.readHeaderTimeout, defaultHTTPReadHeaderTimeout)
	orDefault(&l.readTimeout, defaultHTTPReadTimeout)
	orDefault(&l.writeTimeout, defaultHTTPWriteTimeout)
	orDefault(&l.idleTimeout, defaultHTTPIdleTimeout)
	if l.maxConns <= 0 {
		l.maxConns = defaultHTTPMaxConns
	}
	return l
}

// addHTTPFlags adds the HTTP server limits to a command; each is also a
// config-file key and an environment variable (RACKPULSE_HTTP_...).
func addHTTPFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.Duration("http-read-header-timeout", defaultHTTPReadHeaderTimeout, "longest a client may take to send a request's headers; RACKPULSE_HTTP_READ_HEADER_TIMEOUT")
	f.Duration("http-read-timeout", defaultHTTPReadTimeout, "longest a client may take to send a whole request; RACKPULSE_HTTP_READ_TIMEOUT")
	f.Duration("http-write-timeout", defaultHTTPWriteTimeout, "longest an answer may take, from the end of the request's headers; RACKPULSE_HTTP_WRITE_TIMEOUT")
	f.Duration("http-idle-timeout", defaultHTTPIdleTimeout, "an idle keep-alive connection is closed after this; RACKPULSE_HTTP_IDLE_TIMEOUT")
	f.Int("http-max-connections", defaultHTTPMaxConns, "connections open at once; at the bound a new one closes the longest idle keep-alive connection, or waits for one to end; RACKPULSE_HTTP_MAX_CONNECTIONS")
}

// readHTTPLimits reads the limits of the command being run.
func readHTTPLimits(v *viper.Viper) httpLimits {
	return httpLimits{
		readHeaderTimeout: v.GetDuration("http-read-header-timeout"),
		readTimeout:       v.GetDuration("http-read-timeout"),
		writeTimeout:      v.GetDuration("http-write-timeout"),
		idleTimeout:       v.GetDuration("http-idle-timeout"),
		maxConns:          v.GetInt("http-max-connections"),
	}.withDefaults()
}

// newHTTPServer builds the server for handler within lim, and the
// listener over ln that bounds its connections (serve it with srv.Serve).
// Its metrics go to reg; its own errors (accept failures, bad TLS
// clients) to log.
func newHTTPServer(ln net.Listener, handler http.Handler, lim httpLimits, reg prometheus.Registerer, log *slog.Logger) (*http.Server, net.Listener) {
	lim = lim.withDefaults()
	bounded := newBoundedListener(ln, lim.maxConns, reg)
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: lim.readHeaderTimeout,
		ReadTimeout:       lim.readTimeout,
		WriteTimeout:      lim.writeTimeout,
		IdleTimeout:       lim.idleTimeout,
		ConnState:         bounded.trackState,
		ErrorLog:          slog.NewLogLogger(log.With("component", "http").Handler(), slog.LevelWarn),
	}
	return srv, bounded
}

// httpComponent serves srv on ln until its context is done, then shuts it
// down, letting requests in flight finish for httpShutdownTimeout. A
// Serve that fails (the listener broke) ends the component with an error
// naming the address.
func httpComponent(name string, srv *http.Server, ln net.Listener) component {
	addr := ln.Addr().String()
	return component{
		name: name,
		run: func(ctx context.Context) error {
			served := make(chan error, 1)
			go func() { served <- srv.Serve(ln) }()
			select {
			case err := <-served:
				return fmt.Errorf("serving HTTP on %s: %w", addr, err)
			case <-ctx.Done():
			}
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), httpShutdownTimeout)
			defer cancel()
			err := srv.Shutdown(sctx)
			if errors.Is(err, context.DeadlineExceeded) {
				_ = srv.Close()
				err = fmt.Errorf("HTTP on %s: requests still running after %s were cut", addr, httpShutdownTimeout)
			}
			if serr := <-served; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
				err = errors.Join(err, fmt.Errorf("serving HTTP on %s: %w", addr, serr))
			}
			return err
		},
		stop: func(context.Context) error {
			// A start that failed before Serve: release the port.
			if err := ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("closing %s: %w", addr, err)
			}
			return nil
		},
	}
}

// boundedListener holds at most max connections open. At the bound, a new
// connection closes the connection idle the longest (a keep-alive between
// requests, which its client reopens when it needs it) to take its place;
// when none is idle, it waits, accepted but not read, until one closes.
// So idle connections never lock out a health check; busy ones make new
// ones wait at most the read and write timeouts.
type boundedListener struct {
	net.Listener
	slots    chan struct{}
	closed   chan struct{}
	once     sync.Once
	wentIdle chan struct{} // a connection became idle (Accept may be waiting for one)

	mu   sync.Mutex
	idle map[*boundedConn]time.Time // connections between requests, since when

	open    prometheus.GaugeFunc
	evicted prometheus.Counter
}

func newBoundedListener(ln net.Listener, max int, reg prometheus.Registerer) *boundedListener {
	l := &boundedListener{
		Listener: ln,
		slots:    make(chan struct{}, max),
		closed:   make(chan struct{}),
		wentIdle: make(chan struct{}, 1),
		idle:     map[*boundedConn]time.Time{},
	}
	l.open = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "rackpulse_http_connections_open", Help: "HTTP connections open (bounded by --http-max-connections).",
	}, func() float64 { return float64(len(l.slots)) })
	l.evicted = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "rackpulse_http_connections_evicted_total", Help: "Idle keep-alive HTTP connections closed to make room for a new one at --http-max-connections.",
	})
	if reg != nil {
		reg.MustRegister(l.open, l.evicted)
	}
	return l
}

// Accept accepts the next connection and holds it until it has a slot.
func (l *boundedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	for {
		select {
		case l.slots <- struct{}{}:
			return &boundedConn{Conn: c, l: l}, nil
		default:
		}
		l.evictIdle()
		select {
		case l.slots <- struct{}{}:
			return &boundedConn{Conn: c, l: l}, nil
		case <-l.wentIdle:
			// A connection finished its request: take its place.
		case <-l.closed:
			c.Close()
			return nil, net.ErrClosed
		}
	}
}

// Close stops accepting; connections already served are the server's.
func (l *boundedListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

// evictIdle closes the connection idle the longest, if any.
func (l *boundedListener) evictIdle() {
	l.mu.Lock()
	var oldest *boundedConn
	var since time.Time
	for c, t := range l.idle {
		if oldest == nil || t.Before(since) {
			oldest, since = c, t
		}
	}
	if oldest != nil {
		delete(l.idle, oldest)
	}
	l.mu.Unlock()
	if oldest != nil {
		l.evicted.Inc()
		_ = oldest.Close()
	}
}

// trackState is the server's ConnState hook: it keeps the idle set.
func (l *boundedListener) trackState(nc net.Conn, state http.ConnState) {
	c, ok := nc.(*boundedConn)
	if !ok {
		return
	}
	l.mu.Lock()
	if state == http.StateIdle {
		l.idle[c] = time.Now()
	} else {
		delete(l.idle, c)
	}
	l.mu.Unlock()
	if state == http.StateIdle {
		select {
		case l.wentIdle <- struct{}{}:
		default:
		}
	}
}

// boundedConn gives its slot back when closed.
type boundedConn struct {
	net.Conn
	l    *boundedListener
	once sync.Once
}

func (c *boundedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.idle, c)
		c.l.mu.Unlock()
		<-c.l.slots
	})
	return err
}
