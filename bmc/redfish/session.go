package redfish

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/stmcginnis/gofish"
	"github.com/stmcginnis/gofish/schemas"

	"github.com/rackpulse/rackpulse/bmc"
)

// session is the collector's one login at the BMC: a Redfish session
// (X-Auth-Token) where the service publishes a sessions link, else Basic
// auth. It is created on first use, kept across polls, renewed once when a
// request is refused with 401, and deleted on Close. A BMC that refuses a
// login because its session table is full is left alone for a backoff period
// that doubles on every refusal.
type session struct {
	mu       sync.Mutex
	api      *gofish.APIClient
	log      *slog.Logger
	server   string
	username string
	password bmc.Secret
	now      func() time.Time
	// minBackoff and maxBackoff bound the wait after a session-limit refusal.
	minBackoff, maxBackoff time.Duration

	// sessionsURI is the service's session collection; empty means Basic auth.
	sessionsURI string
	basic       bool
	token       string
	location    string
	// generation counts logins, so that concurrent 401s renew only once.
	generation int
	logins     int
	backoff    time.Duration
	retryAt    time.Time
}

// configure sets how to authenticate, from the service root.
func (s *session) configure(api *gofish.APIClient, sessionsURI string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.api = api
	s.sessionsURI = sessionsURI
	s.basic = sessionsURI == ""
}

// headers returns the authentication headers for one request and the login
// generation they belong to.
func (s *session) headers() (map[string]string, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.token != "":
		return map[string]string{"X-Auth-Token": s.token}, s.generation
	case s.basic && s.username != "":
		cred := base64.StdEncoding.EncodeToString([]byte(s.username + ":" + s.password.Reveal()))
		return map[string]string{"Authorization": "Basic " + cred}, s.generation
	}
	return nil, s.generation
}

// renewable reports whether a 401 can be answered by logging in again.
func (s *session) renewable() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.basic && s.sessionsURI != "" && s.username != ""
}

// open makes sure there is a session, logging in if there is none.
func (s *session) open(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.basic || s.token != "" || s.username == "" {
		return nil
	}
	return s.loginLocked(ctx)
}

// renew replaces a session the BMC no longer accepts. generation is the one
// the refused request used: if another request renewed meanwhile, nothing
// is done.
func (s *session) renew(ctx context.Context, generation int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if generation != s.generation && s.token != "" {
		return nil
	}
	// Delete the refused session anyway (best effort), so that a session the
	// BMC still counts is never left behind.
	s.deleteLocked(ctx)
	return s.loginLocked(ctx)
}

func (s *session) loginLocked(ctx context.Context) error {
	if now := s.now(); now.Before(s.retryAt) {
		return &bmc.Error{Kind: bmc.ErrKindSessionLimit, Resource: s.sessionsURI,
			Err: fmt.Errorf("BMC refused a session for lack of free sessions; next login attempt after %s", s.retryAt.Format(time.RFC3339))}
	}
	s.logins++
	auth, err := schemas.CreateSession(s.api.WithContext(ctx), s.sessionsURI, s.username, s.password.Reveal())
	if err != nil {
		werr := classify(s.sessionsURI, err)
		if werr.Kind == bmc.ErrKindSessionLimit {
			s.backoff = min(max(2*s.backoff, s.minBackoff), s.maxBackoff)
			s.retryAt = s.now().Add(s.backoff)
			s.log.Warn("BMC session table full, backing off", "server", s.server, "uri", s.sessionsURI, "backoff", s.backoff)
		}
		return werr
	}
	if auth == nil || auth.Token == "" {
		return &bmc.Error{Kind: bmc.ErrKindAuth, Resource: s.sessionsURI, Err: errors.New("session created without an X-Auth-Token")}
	}
	s.backoff, s.retryAt = 0, time.Time{}
	s.token, s.location = auth.Token, auth.Session
	s.generation++
	if s.location == "" {
		s.log.Warn("session created without a Location; it cannot be deleted and will time out on the BMC", "server", s.server)
	}
	s.log.Debug("session created", "server", s.server, "session", s.location)
	return nil
}

// close deletes the session. It is safe to call without a session and more
// than once.
func (s *session) close(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deleteLocked(ctx)
}

func (s *session) deleteLocked(ctx context.Context) error {
	if s.token == "" {
		return nil
	}
	token, location := s.token, s.location
	s.token, s.location = "", ""
	if location == "" || s.api == nil {
		return nil
	}
	resp, err := s.api.WithContext(ctx).DeleteWithHeaders(location, map[string]string{"X-Auth-Token": token})
	if resp != nil {
		schemas.DeferredCleanupHTTPResponse(resp)
	}
	if err != nil {
		werr := classify(location, err)
		if werr.Status == http.StatusUnauthorized || werr.Status == http.StatusNotFound {
			return nil // already gone on the BMC
		}
		s.log.Debug("deleting session failed", "server", s.server, "session", location, "err", werr)
		return werr
	}
	s.log.Debug("session deleted", "server", s.server, "session", location)
	return nil
}

// loginCount is how many logins were attempted (for the poll log and tests).
func (s *session) loginCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logins
}

// busyGuard stops a poll from hammering a BMC that answered 503 or 429: the
// rest of that poll's requests are not sent, and for a backoff period that
// doubles while the BMC stays busy the slow and static parts are deferred.
type busyGuard struct {
	mu      sync.Mutex
	tripped string // URI that answered busy in this poll
	now     func() time.Time
	min     time.Duration
	max     time.Duration
	backoff time.Duration
	until   time.Time
}

// startPoll clears the per-poll state and says whether the BMC is still
// inside a busy backoff.
func (b *busyGuard) startPoll() (backingOff bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.tripped = ""
	return b.now().Before(b.until)
}

// endPoll widens or clears the backoff after a poll.
func (b *busyGuard) endPoll() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.tripped == "" {
		b.backoff, b.until = 0, time.Time{}
		return
	}
	b.backoff = min(max(2*b.backoff, b.min), b.max)
	b.until = b.now().Add(b.backoff)
}

func (b *busyGuard) saw(uri string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.tripped == "" {
		b.tripped = uri
	}
}

func (b *busyGuard) check(uri string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.tripped == "" {
		return nil
	}
	return &bmc.Error{Kind: bmc.ErrKindBusy, Resource: uri, Err: fmt.Errorf("not requested: BMC answered busy at %s earlier in this poll", b.tripped)}
}
