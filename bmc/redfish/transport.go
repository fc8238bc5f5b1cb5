package redfish

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rackpulse/rackpulse/bmc"
)

// errResponseTooLarge is returned while reading a body longer than the
// endpoint's MaxResponseBytes.
var errResponseTooLarge = errors.New("response body exceeds the size limit")

// fingerprintMismatchError says the BMC's leaf certificate is not the pinned one.
type fingerprintMismatchError struct {
	want, got string
}

func (e *fingerprintMismatchError) Error() string {
	return fmt.Sprintf("certificate fingerprint mismatch: pinned sha256 %s, BMC presented %s", e.want, e.got)
}

// newTLSConfig builds the client TLS settings for one BMC. Verification
// against the system roots (or CAFile) is the default; a pinned fingerprint
// replaces the CA check with a comparison of the leaf certificate; skipping
// verification happens only when the endpoint says so explicitly.
func newTLSConfig(cfg bmc.TLSConfig) (*tls.Config, error) {
	tc := &tls.Config{
		MinVersion: tls.VersionTLS12,
		// Connections are closed between polls; resuming the TLS session
		// spares the BMC (and us) a full handshake on the next poll.
		ClientSessionCache: tls.NewLRUClientSessionCache(4),
	}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("reading CA file %s: %w", cfg.CAFile, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA file %s holds no PEM certificate", cfg.CAFile)
		}
		tc.RootCAs = pool
	}
	if cfg.Fingerprint != "" {
		want, err := parseFingerprint(cfg.Fingerprint)
		if err != nil {
			return nil, err
		}
		// The chain is not checked against CAs: the pin is the trust anchor.
		tc.InsecureSkipVerify = true
		tc.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return &fingerprintMismatchError{want: hex.EncodeToString(want), got: "no certificate"}
			}
			got := sha256.Sum256(cs.PeerCertificates[0].Raw)
			if !bytes.Equal(got[:], want) {
				return &fingerprintMismatchError{want: hex.EncodeToString(want), got: hex.EncodeToString(got[:])}
			}
			return nil
		}
		return tc, nil
	}
	if cfg.InsecureSkipVerify {
		tc.InsecureSkipVerify = true
	}
	return tc, nil
}

// parseFingerprint reads a hex SHA-256 fingerprint, colons and spaces allowed.
func parseFingerprint(s string) ([]byte, error) {
	clean := strings.NewReplacer(":", "", " ", "", "-", "").Replace(strings.TrimSpace(s))
	b, err := hex.DecodeString(clean)
	if err != nil || len(b) != sha256.Size {
		return nil, fmt.Errorf("tls fingerprint %q is not a hex SHA-256 digest", s)
	}
	return b, nil
}

// newHTTPClient builds the one HTTP client a collector keeps for its BMC:
// keep-alive connections (at most MaxInFlight idle), a per-request timeout,
// and the meter that counts and traces every request.
func newHTTPClient(ep bmc.Endpoint, tc *tls.Config, m *requestMeter) *http.Client {
	dialer := &net.Dialer{Timeout: ep.RequestTimeout, KeepAlive: 30 * time.Second}
	transport := &http.Transport{
		// BMCs live on management networks: no proxy from the environment.
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		TLSClientConfig:       tc,
		TLSHandshakeTimeout:   ep.RequestTimeout,
		ResponseHeaderTimeout: ep.RequestTimeout,
		MaxIdleConns:          ep.MaxInFlight,
		MaxIdleConnsPerHost:   ep.MaxInFlight,
		MaxConnsPerHost:       ep.MaxInFlight + 1, // +1: a logout may overlap a request
		IdleConnTimeout:       90 * time.Second,
	}
	m.next = transport
	return &http.Client{Transport: m, Timeout: ep.RequestTimeout}
}

// requestMeter is the RoundTripper wrapper that counts requests and response
// bytes per poll, bounds every response body, and reports each request to
// the trace callback once its body is closed.
type requestMeter struct {
	next     http.RoundTripper
	maxBytes int64
	trace    func(bmc.RequestTrace)

	requests atomic.Int64
	bytes    atomic.Int64
}

// reset zeroes the per-poll counters and returns what they held.
func (m *requestMeter) reset() (requests int, bytes int64) {
	return int(m.requests.Swap(0)), m.bytes.Swap(0)
}

// RoundTrip implements http.RoundTripper.
func (m *requestMeter) RoundTrip(req *http.Request) (*http.Response, error) {
	m.requests.Add(1)
	start := time.Now()
	path := req.URL.Path
	if req.URL.RawQuery != "" {
		path += "?" + req.URL.RawQuery
	}
	resp, err := m.next.RoundTrip(req)
	if err != nil {
		m.report(bmc.RequestTrace{Method: req.Method, URL: path, Duration: time.Since(start), Err: err.Error()})
		return nil, err
	}
	if resp.ContentLength > m.maxBytes {
		_ = resp.Body.Close()
		m.report(bmc.RequestTrace{Method: req.Method, URL: path, Status: resp.StatusCode, Duration: time.Since(start), Err: errResponseTooLarge.Error()})
		return nil, errResponseTooLarge
	}
	resp.Body = &meteredBody{
		body:  resp.Body,
		meter: m,
		left:  m.maxBytes,
		trace: bmc.RequestTrace{Method: req.Method, URL: path, Status: resp.StatusCode},
		start: start,
	}
	return resp, nil
}

func (m *requestMeter) report(t bmc.RequestTrace) {
	if m.trace != nil {
		m.trace(t)
	}
}

// meteredBody counts what is read from a response body and stops at the
// size limit.
type meteredBody struct {
	body   io.ReadCloser
	meter  *requestMeter
	left   int64
	read   int64
	trace  bmc.RequestTrace
	start  time.Time
	failed error
	closed bool
}

func (b *meteredBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// Allow one more byte to tell "exactly at the limit" from "over it".
		var one [1]byte
		n, err := b.body.Read(one[:])
		if n > 0 {
			b.failed = errResponseTooLarge
			return 0, errResponseTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.body.Read(p)
	b.left -= int64(n)
	b.read += int64(n)
	b.meter.bytes.Add(int64(n))
	if err != nil && err != io.EOF {
		b.failed = err
	}
	return n, err
}

func (b *meteredBody) Close() error {
	err := b.body.Close()
	if !b.closed {
		b.closed = true
		b.trace.Duration = time.Since(b.start)
		b.trace.Bytes = b.read
		if b.failed != nil {
			b.trace.Err = b.failed.Error()
		}
		b.meter.report(b.trace)
	}
	return err
}

// CloseIdleConnections passes through to the wrapped transport, so that
// http.Client.CloseIdleConnections reaches it.
func (m *requestMeter) CloseIdleConnections() {
	if c, ok := m.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}
