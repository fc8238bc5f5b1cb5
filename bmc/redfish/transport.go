package redfish

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
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
func newTLSConfig(cfg bmc.TLSConfig, pools *bmc.CertPools) (*tls.Config, error) {
	tc := &tls.Config{
		MinVersion: tls.VersionTLS12,
		// Connections are closed between polls; resuming the TLS session
		// spares the BMC (and us) a full handshake on the next poll.
		ClientSessionCache: tls.NewLRUClientSessionCache(4),
	}
	if cfg.CAFile != "" {
		pool, err := pools.Pool(cfg.CAFile)
		if err != nil {
			return nil, err
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
// the meter that counts and traces every request, and the redirect policy:
// a redirect is followed only to the BMC's own origin (scheme, host and
// port), at most maxRedirects in a row. origin is the BMC's, as originOf
// gives it.
func newHTTPClient(ep bmc.Endpoint, tc *tls.Config, m *requestMeter, origin string, conns *connTracker) *http.Client {
	transport := &http.Transport{
		// BMCs live on management networks: no proxy from the environment.
		Proxy:                 nil,
		DialContext:           conns.DialContext,
		TLSClientConfig:       tc,
		TLSHandshakeTimeout:   ep.RequestTimeout,
		ResponseHeaderTimeout: ep.RequestTimeout,
		MaxIdleConns:          ep.MaxInFlight,
		MaxIdleConnsPerHost:   ep.MaxInFlight,
		MaxConnsPerHost:       ep.MaxInFlight + 1, // +1: a logout may overlap a request
		// A connection kept between polls must outlive the interval.
		IdleConnTimeout: max(90*time.Second, 2*ep.Cadence.Readings+ep.PollTimeout),
	}
	m.next, m.origin = transport, origin
	return &http.Client{Transport: m, Timeout: ep.RequestTimeout, CheckRedirect: checkRedirect(origin)}
}

// maxRedirects bounds the redirects, all to the BMC's own origin, that one
// request follows.
const maxRedirects = 3

// redirectError is a redirect the collector did not follow.
type redirectError struct {
	status int
	// to is where it led: origin and path, without query or user info.
	to  string
	why string
}

func (e *redirectError) Error() string {
	return fmt.Sprintf("HTTP %d redirect to %s not followed: %s", e.status, e.to, e.why)
}

// checkRedirect is the http.Client's redirect policy. It runs before the
// redirected request is sent: a redirect to another origin (an http://
// URL, another host, another port) is refused there, so that neither the
// session token, nor Basic credentials, nor a login body (307 and 308
// re-send it) ever leaves the BMC. A same-origin redirect is followed, at
// most maxRedirects in a row (a loop ends there).
func checkRedirect(origin string) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		status := 0
		if req.Response != nil {
			status = req.Response.StatusCode
		}
		if originOf(req.URL) != origin {
			return &redirectError{status: status, to: shownURL(req.URL),
				why: "it leads away from the BMC (" + origin + "), the only origin credentials and session tokens are sent to"}
		}
		if len(via) > maxRedirects {
			return &redirectError{status: status, to: shownURL(req.URL), why: fmt.Sprintf("more than %d redirects in a row", maxRedirects)}
		}
		return nil
	}
}

// offOriginError is a request the meter refused to send because its URL
// is not on the BMC's origin. No link the collector follows can produce
// one (servicePath keeps paths only); the check stands behind it.
type offOriginError struct {
	to, origin string
}

func (e *offOriginError) Error() string {
	return fmt.Sprintf("request to %s not sent: not the BMC's origin %s", e.to, e.origin)
}

// originOf is scheme://host:port of u, lower-cased, the default port
// made explicit.
func originOf(u *url.URL) string {
	scheme, port := strings.ToLower(u.Scheme), u.Port()
	if port == "" {
		switch scheme {
		case "https":
			port = "443"
		case "http":
			port = "80"
		}
	}
	return scheme + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

// shownURL is u as errors and logs show it: no user info, no query, at
// most 200 characters.
func shownURL(u *url.URL) string {
	v := *u
	v.User, v.RawQuery, v.ForceQuery, v.Fragment, v.RawFragment = nil, "", false, "", ""
	s := v.String()
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// requestMeter is the RoundTripper wrapper that counts requests and response
// bytes per poll, bounds every response body, and reports each request to
// the trace callback once its body is closed. It sends nothing to another
// origin than the BMC's, and shows every response's status and headers to
// observe (the Retry-After of a busy answer).
type requestMeter struct {
	next     http.RoundTripper
	origin   string
	maxBytes int64
	trace    func(bmc.RequestTrace)
	observe  func(*http.Response)

	requests atomic.Int64
	// total counts every request sent since the collector was built.
	total atomic.Int64
	bytes atomic.Int64
}

// reset zeroes the per-poll counters and returns what they held.
func (m *requestMeter) reset() (requests int, bytes int64) {
	return int(m.requests.Swap(0)), m.bytes.Swap(0)
}

// RoundTrip implements http.RoundTripper.
func (m *requestMeter) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	path := req.URL.Path
	if req.URL.RawQuery != "" {
		path += "?" + req.URL.RawQuery
	}
	if o := originOf(req.URL); o != m.origin {
		err := &offOriginError{to: shownURL(req.URL), origin: m.origin}
		m.report(bmc.RequestTrace{Method: req.Method, URL: path, Err: err.Error()})
		return nil, err
	}
	m.requests.Add(1)
	m.total.Add(1)
	resp, err := m.next.RoundTrip(req)
	if err != nil {
		m.report(bmc.RequestTrace{Method: req.Method, URL: path, Duration: time.Since(start), Err: err.Error()})
		return nil, err
	}
	if m.observe != nil {
		m.observe(resp)
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
