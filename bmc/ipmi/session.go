package ipmi

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bougou/go-ipmi/pkg/client"
	"github.com/bougou/go-ipmi/pkg/rmcpplus"
	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/rackpulse/rackpulse/bmc"
)

// defaultPort is the RMCP port.
const defaultPort = 623

// Retry settings: go-ipmi resends a command whose answer does not come
// within one attempt's timeout; the attempts of one command share the
// endpoint's request timeout. One poll may lose pollRetryBudget datagrams
// plus one per datagram answered in it (a lossy link keeps working, up to
// half its datagrams lost); past that the rest of the poll fails fast
// instead of waiting out every command of a BMC that went silent.
const (
	retriesPerCommand = 2
	pollRetryBudget   = 8
	minAttemptTimeout = 100 * time.Millisecond
)

// errRetryBudget is returned once a poll has used up its retry budget.
var errRetryBudget = errors.New("retry budget for lost datagrams used up in this poll")

// splitAddress parses host[:port] (or [v6]:port) with the RMCP default port.
func splitAddress(address string) (string, int, error) {
	address = strings.TrimSpace(address)
	address = strings.TrimPrefix(address, "ipmi://")
	if address == "" {
		return "", 0, errors.New("empty address")
	}
	if host, port, err := net.SplitHostPort(address); err == nil {
		p, err := strconv.Atoi(port)
		if err != nil || p <= 0 || p > 65535 {
			return "", 0, fmt.Errorf("address %q: bad port", address)
		}
		if host == "" {
			return "", 0, fmt.Errorf("address %q has no host", address)
		}
		return host, p, nil
	}
	if strings.Contains(address, "/") {
		return "", 0, fmt.Errorf("address %q: want host[:port]", address)
	}
	return strings.Trim(address, "[]"), defaultPort, nil
}

// parsePrivilege maps the endpoint's privilege name to its IPMI level.
func parsePrivilege(s string) (types.PrivilegeLevel, error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "ADMINISTRATOR", "ADMIN":
		return types.PrivilegeLevelAdministrator, nil
	case "OPERATOR":
		return types.PrivilegeLevelOperator, nil
	case "USER":
		return types.PrivilegeLevelUser, nil
	case "CALLBACK":
		return types.PrivilegeLevelCallback, nil
	}
	return 0, fmt.Errorf("unknown privilege %q (want ADMINISTRATOR, OPERATOR, USER or CALLBACK)", s)
}

// meter counts the datagrams of a poll: round trips (datagrams sent,
// retries included), bytes received, and datagrams lost (read timeouts),
// and enforces the poll's retry budget. go-ipmi dials through it (as a UDP
// "proxy"), so every datagram is seen, including session setup.
type meter struct {
	mu      sync.Mutex
	sent    int
	total   int64 // datagrams sent since the collector was built
	bytes   int64
	lost    int
	budget  int
	current net.Conn
	// bmcSessionID is the session ID the BMC assigned in the last RMCP+
	// Open Session Response that succeeded (0: none since forgetSession).
	bmcSessionID uint32
}

// forgetSession clears the session ID seen in an Open Session Response.
func (m *meter) forgetSession() {
	m.mu.Lock()
	m.bmcSessionID = 0
	m.mu.Unlock()
}

// sessionID returns the session ID the BMC assigned in the last Open
// Session Response that succeeded, or 0.
func (m *meter) sessionID() uint32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.bmcSessionID
}

// RMCP+ framing (IPMI 2.0 §13.6, §13.18): a datagram is the RMCP header
// (4 bytes, class 07h for IPMI), then the session header: auth type 06h,
// payload type, session ID, sequence, payload length (16 bytes in all for
// payloads other than OEM); the Open Session Response payload carries the
// status code at byte 1 and the managed system's session ID at bytes 8-11.
const (
	rmcpClassIPMI           = 0x07
	authTypeRMCPPlus        = 0x06
	payloadOpenSessionReply = 0x11
	rmcpPlusHeaderLen       = 16
	openSessionReplyMinLen  = 12
)

// noteAnswer looks at a datagram from the BMC for an Open Session Response
// that succeeded and keeps the session ID it assigns: from then on the
// BMC holds a session that a failed login must end.
func (m *meter) noteAnswer(b []byte) {
	if len(b) < rmcpPlusHeaderLen+openSessionReplyMinLen || b[3] != rmcpClassIPMI || b[4] != authTypeRMCPPlus ||
		b[5]&0x3f != payloadOpenSessionReply {
		return
	}
	payload := b[rmcpPlusHeaderLen:]
	if payload[1] != 0 {
		return
	}
	m.mu.Lock()
	m.bmcSessionID = binary.LittleEndian.Uint32(payload[8:12])
	m.mu.Unlock()
}

// reset starts a new poll and returns the previous poll's counts.
func (m *meter) reset() (sent int, bytes int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	sent, bytes = m.sent, m.bytes
	m.sent, m.bytes, m.lost = 0, 0, 0
	return sent, bytes
}

// sentTotal is the datagrams sent since the collector was built.
func (m *meter) sentTotal() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.total
}

func (m *meter) exhausted() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	answered := m.sent - m.lost
	return m.budget > 0 && m.lost >= m.budget+max(answered, 0)
}

// Dial implements golang.org/x/net/proxy.Dialer for go-ipmi's UDP client.
func (m *meter) Dial(network, addr string) (net.Conn, error) {
	raddr, err := net.ResolveUDPAddr(network, addr)
	if err != nil {
		return nil, err
	}
	conn, err := net.DialUDP(network, nil, raddr)
	if err != nil {
		return nil, err
	}
	mc := &meteredConn{Conn: conn, m: m}
	m.mu.Lock()
	m.current = mc
	m.mu.Unlock()
	return mc, nil
}

// closeCurrent closes the socket of a session that is being abandoned.
func (m *meter) closeCurrent() {
	m.mu.Lock()
	c := m.current
	m.current = nil
	m.mu.Unlock()
	if c != nil {
		_ = c.Close()
	}
}

type meteredConn struct {
	net.Conn
	m *meter
}

func (c *meteredConn) Write(b []byte) (int, error) {
	if c.m.exhausted() {
		return 0, errRetryBudget
	}
	n, err := c.Conn.Write(b)
	c.m.mu.Lock()
	c.m.sent++
	c.m.total++
	c.m.mu.Unlock()
	return n, err
}

func (c *meteredConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.m.noteAnswer(b[:n])
	}
	c.m.mu.Lock()
	c.m.bytes += int64(n)
	var ne net.Error
	if err != nil && errors.As(err, &ne) && ne.Timeout() {
		c.m.lost++
	}
	c.m.mu.Unlock()
	return n, err
}

// session is the one IPMI session with a BMC, kept across polls.
type session struct {
	ep      bmc.Endpoint
	host    string
	port    int
	priv    types.PrivilegeLevel
	log     *slog.Logger
	meter   *meter
	trace   func(bmc.RequestTrace)
	attempt time.Duration

	client *client.Client
	// openedThisPoll is set when the session was (re)opened in the current
	// poll: a failure then is not a stale session and is not retried.
	openedThisPoll bool
	reconnected    bool
}

func newSession(ep bmc.Endpoint, host string, port int, priv types.PrivilegeLevel, log *slog.Logger, trace func(bmc.RequestTrace)) *session {
	attempt := ep.RequestTimeout / (retriesPerCommand + 1)
	attempt = max(attempt, minAttemptTimeout)
	return &session{
		ep: ep, host: host, port: port, priv: priv, log: log, trace: trace,
		meter:   &meter{budget: pollRetryBudget},
		attempt: attempt,
	}
}

// startPoll resets the per-poll counters.
func (s *session) startPoll() {
	s.openedThisPoll, s.reconnected = false, false
	s.meter.reset()
}

// open establishes the session if there is none.
func (s *session) open(ctx context.Context) error {
	if s.client != nil {
		return nil
	}
	start := time.Now()
	c, err := client.NewClient(s.host, s.port, s.ep.Username, s.ep.Password.Reveal())
	if err != nil {
		return bmc.NewError(bmc.ErrKindOther, "session", fmt.Errorf("IPMI client for %s: %w", s.ep.Server, err))
	}
	c.WithTimeout(s.attempt).WithRetry(retriesPerCommand).WithUDPProxy(s.meter)
	c.WithMaxPrivilegeLevel(s.priv)
	name := "Open Session (lanplus)"
	if s.ep.IPMIv15 {
		c.WithInterface(client.InterfaceLan)
		name = "Activate Session (lan)"
	} else {
		c.WithInterface(client.InterfaceLanplus)
		// Always explicit: without it go-ipmi first asks Get Channel Cipher
		// Suites, which some BMCs (ipmi_sim) never answer.
		c.WithCipherSuiteID(types.CipherSuiteID(s.ep.CipherSuite))
	}
	s.meter.forgetSession()
	err = c.Connect(ctx)
	s.traceCall(name, start, 0, err)
	if err != nil {
		s.endFailedLogin(ctx, c, err)
		err = classify("session", err)
		s.log.Debug("session failed", "kind", bmc.KindOf(err), "err", err)
		return err
	}
	s.client = c
	s.openedThisPoll = true
	s.log.Debug("session opened", "cipher_suite", s.ep.CipherSuite, "ipmi_v15", s.ep.IPMIv15,
		"took", time.Since(start))
	return nil
}

// endFailedLogin ends what the BMC holds of a login that failed, so that
// failed logins never fill its session table, then releases the socket:
//
//   - a login that failed at Set Session Privilege Level (the user may not
//     have the privilege asked for) has an established session: it is
//     logged out with Close Session;
//   - an RMCP+ login that failed after the BMC assigned a session ID in its
//     Open Session Response (a wrong password found at RAKP 2, a RAKP 4
//     that does not check out) is not authenticated, so Close Session
//     cannot be sent on it: RAKP Message 3 with a non-zero status code
//     tells the BMC to drop the session (IPMI 2.0 §13.22);
//   - otherwise the BMC holds nothing (it refused the Open Session, or an
//     IPMI 1.5 Activate Session): Close would send Close Session for a
//     session that does not exist and wait out its timeout, so only the
//     socket is released.
//
// It waits at most the endpoint's request timeout, even when ctx is done.
func (s *session) endFailedLogin(ctx context.Context, c *client.Client, loginErr error) {
	defer s.meter.closeCurrent()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.ep.RequestTimeout)
	defer cancel()
	if strings.HasPrefix(loginErr.Error(), "SetSessionPrivilegeLevel") {
		start := time.Now()
		err := c.Close(ctx)
		s.traceCall("Close Session", start, 0, err)
		if err != nil {
			s.log.Debug("closing the session of a failed login", "err", err)
		}
		return
	}
	id := s.meter.sessionID()
	if s.ep.IPMIv15 || id == 0 {
		return
	}
	start := time.Now()
	abort := &rmcpplus.RAKPMessage3{RmcpStatusCode: types.RmcpStatusCodeInvalidIntegrityCheckValue, ManagedSystemSessionID: id}
	err := c.Exchange(ctx, abort, &rmcpplus.RAKPMessage4{})
	s.traceCall("RAKP Message 3 (abort)", start, 0, err)
	if err != nil && !errors.As(err, new(*types.RmcpStatusError)) {
		// A BMC may drop the session without answering: that is fine.
		s.log.Debug("aborting the session of a failed login", "session_id", id, "err", err)
	}
}

// abandon drops a session the BMC no longer knows without waiting for it
// to answer Close Session.
func (s *session) abandon() {
	if s.client == nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = s.client.Close(ctx) // stops go-ipmi's keepalive; no datagram leaves
	s.meter.closeCurrent()
	s.client = nil
}

// close logs out.
func (s *session) close(ctx context.Context) error {
	if s.client == nil {
		return nil
	}
	c := s.client
	s.client = nil
	start := time.Now()
	err := c.Close(ctx)
	s.traceCall("Close Session", start, 0, err)
	s.meter.closeCurrent()
	if err != nil {
		return classify("Close Session", err)
	}
	return nil
}

// exchange sends one command and returns its response data. A command that
// fails on a session opened in an earlier poll as if the BMC had dropped
// the session (no answer, or a session error) re-opens the session once per
// poll and is sent again.
func (s *session) exchange(ctx context.Context, cmd types.Command, data []byte) ([]byte, error) {
	return s.exchangeTo(ctx, cmd, data, 0, 0)
}

// exchangeTo is exchange addressed to another controller (sensor owner
// ids other than the BMC's) when owner is non-zero.
func (s *session) exchangeTo(ctx context.Context, cmd types.Command, data []byte, owner, lun uint8) ([]byte, error) {
	if err := s.open(ctx); err != nil {
		return nil, err
	}
	out, err := s.send(ctx, cmd, data, owner, lun)
	if err != nil && !s.openedThisPoll && !s.reconnected && sessionLost(err) && ctx.Err() == nil {
		s.log.Info("BMC dropped the session; reconnecting", "command", cmd.Name, "err", err)
		s.reconnected = true
		s.abandon()
		if oerr := s.open(ctx); oerr != nil {
			return nil, oerr
		}
		out, err = s.send(ctx, cmd, data, owner, lun)
	}
	if err != nil {
		return nil, classify(cmd.Name, err)
	}
	return out, nil
}

func (s *session) send(ctx context.Context, cmd types.Command, data []byte, owner, lun uint8) ([]byte, error) {
	if s.meter.exhausted() {
		return nil, errRetryBudget
	}
	if owner != 0 && owner != types.BMC_SA {
		cc := &client.CommandContext{}
		cc.WithResponderAddr(owner).WithResponderLUN(lun)
		ctx = client.WithCommandContext(ctx, cc)
	}
	start := time.Now()
	res := &rawResponse{}
	err := s.client.Exchange(ctx, &rawRequest{cmd: cmd, data: data}, res)
	s.traceCall(cmd.Name, start, len(res.data), err)
	return res.data, err
}

func (s *session) traceCall(name string, start time.Time, n int, err error) {
	if s.trace == nil {
		return
	}
	t := bmc.RequestTrace{Method: "IPMI", URL: name, Duration: time.Since(start), Bytes: int64(n)}
	if err != nil {
		t.Err = err.Error()
	}
	s.trace(t)
}

// sessionLost reports whether err looks like the BMC no longer knows the
// session: no answer at all, or an RMCP+ session-id error. A completion
// code other than these is an answer, so the session is alive.
func sessionLost(err error) bool {
	if errors.Is(err, errRetryBudget) {
		return false
	}
	var rs *types.RmcpStatusError
	if errors.As(err, &rs) {
		switch rs.StatusCode() {
		case types.RmcpStatusCodeInvalidSessionID, types.RmcpStatusCodeInactiveSessionID:
			return true
		}
		return false
	}
	if re, ok := types.IsResponseError(err); ok {
		switch re.CompletionCode() {
		case completionInsufficePriv, 0x81, 0xff:
			// 0x81/0xff: some BMCs answer a stale session id this way.
			return true
		}
		return false
	}
	return isTimeout(err)
}

// isTimeout reports whether err is go-ipmi giving up on an answer.
func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, errRetryBudget) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "no matching IPMI response") ||
		strings.Contains(msg, "no UDP datagram matched") ||
		strings.Contains(msg, "UDP read timed out") ||
		strings.Contains(msg, "deadline exceeded")
}

// classify wraps a go-ipmi error in a *bmc.Error with its kind. The
// password is never part of go-ipmi's errors; the username may be.
func classify(resource string, err error) error {
	if err == nil {
		return nil
	}
	var be *bmc.Error
	if errors.As(err, &be) {
		return err
	}
	kind := bmc.ErrKindOther
	var rs *types.RmcpStatusError
	switch {
	case errors.Is(err, client.ErrRAKPAuthentication):
		kind = bmc.ErrKindAuth
	case sessionSetupKind(err) != "":
		kind = sessionSetupKind(err)
	case errors.As(err, &rs):
		switch rs.StatusCode() {
		case types.RmcpStatusCodeUnauthorizedName, types.RmcpStatusCodeInvalidRole,
			types.RmcpStatusCodeUnauthorizedRoleOfPriLevel, types.RmcpStatusCodeUnauthorizedGUID,
			types.RmcpStatusCodeInvalidIntegrityCheckValue, types.RmcpStatusCodeInvalidNameLength:
			kind = bmc.ErrKindAuth
		case types.RmcpStatusCodeNoResToCreateSess, types.RmcpStatusCodeNoResToCreateSessAtRole:
			kind = bmc.ErrKindSessionLimit
		}
	case errors.Is(err, context.Canceled):
		kind = bmc.ErrKindTimeout
	case isTimeout(err):
		kind = bmc.ErrKindTimeout
	default:
		if re, ok := types.IsResponseError(err); ok {
			kind = kindForCompletion(resource, re.CompletionCode())
		} else if k := bmc.KindOf(err); k != bmc.ErrKindOther {
			kind = k
		} else if strings.Contains(err.Error(), "unpack") || strings.Contains(err.Error(), "too short") {
			kind = bmc.ErrKindMalformed
		}
	}
	return &bmc.Error{Kind: kind, Resource: resource, Err: err}
}

// authStatusCodes are the RMCP+ status codes of refused credentials.
var authStatusCodes = []types.RmcpStatusCode{
	types.RmcpStatusCodeUnauthorizedName, types.RmcpStatusCodeInvalidRole,
	types.RmcpStatusCodeUnauthorizedRoleOfPriLevel, types.RmcpStatusCodeUnauthorizedGUID,
	types.RmcpStatusCodeInvalidIntegrityCheckValue, types.RmcpStatusCodeInvalidNameLength,
}

// sessionSetupKind classifies a failed session setup from its text.
// go-ipmi v0.9.1's Connect20 joins the errors of the cipher suites it
// tried with %v, which drops ErrRAKPAuthentication and *RmcpStatusError
// from the chain; the messages are what is left.
func sessionSetupKind(err error) bmc.ErrorKind {
	msg := err.Error()
	if strings.Contains(msg, client.ErrRAKPAuthentication.Error()) {
		return bmc.ErrKindAuth
	}
	for _, code := range authStatusCodes {
		if strings.Contains(msg, types.NewRmcpStatusError(code).Error()) {
			return bmc.ErrKindAuth
		}
	}
	for _, code := range []types.RmcpStatusCode{types.RmcpStatusCodeNoResToCreateSess, types.RmcpStatusCodeNoResToCreateSessAtRole} {
		if strings.Contains(msg, types.NewRmcpStatusError(code).Error()) {
			return bmc.ErrKindSessionLimit
		}
	}
	// IPMI 1.5: a BMC drops an Activate Session whose authentication code
	// is wrong without answering (IPMI 2.0 §22.17). Get Session Challenge
	// was answered just before, so the BMC is there and knows the user:
	// silence now means a wrong password.
	if strings.HasPrefix(msg, "ActivateSession failed") && isTimeout(err) {
		return bmc.ErrKindAuth
	}
	return ""
}

// kindForCompletion maps a completion code to an error kind.
func kindForCompletion(resource string, cc types.CompletionCode) bmc.ErrorKind {
	switch cc {
	case completionInvalidCmd, completionInvalidCmdLUN, completionNotPresent:
		return bmc.ErrKindNotFound
	case 0xc0: // node busy
		return bmc.ErrKindBusy
	case 0xc3: // timeout while processing
		return bmc.ErrKindTimeout
	case completionInsufficePriv:
		return bmc.ErrKindAuth
	case 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86:
		// Session setup codes (Get Session Challenge, Activate Session,
		// Set Session Privilege Level): invalid user name, null user
		// disabled, no slot, privilege not available to the user, ...
		if strings.Contains(resource, "session") {
			if cc == 0x81 && strings.Contains(resource, "Activate") {
				return bmc.ErrKindSessionLimit
			}
			return bmc.ErrKindAuth
		}
	case 0xff:
		return bmc.ErrKindServer
	}
	return bmc.ErrKindOther
}

// completionCode returns the completion code of a BMC answer that was an
// error, and whether err was one.
func completionCode(err error) (types.CompletionCode, bool) {
	if re, ok := types.IsResponseError(err); ok {
		return re.CompletionCode(), true
	}
	return 0, false
}
