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
// auth. It is created on first use, kept across polls, renewed at most once
// a poll when a request is refused with 401, and deleted on Close. With a
// state directory, the session's URI and token are kept in a file, so that
// a collector started after a crash takes its session up again (or deletes
// it) instead of leaving it open on the BMC until it times out. A BMC that
// refuses a login because its session table is full is left alone for a
// backoff period that doubles on every refusal.
type session struct {
	mu       sync.Mutex
	api      *gofish.APIClient
	log      *slog.Logger
	server   string
	username string
	password bmc.Secret
	now      func() time.Time
	// origin is the BMC's (originOf): a saved session of another origin is
	// never used, so that its token is not sent anywhere else.
	origin string
	store  sessionStore
	// restored: the saved session, if any, was taken up or dropped.
	restored bool
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
	// renewedInPoll: the session was renewed in this poll; a 401 to the
	// new one is an answer, not a reason to log in again.
	renewedInPoll bool
	backoff       time.Duration
	retryAt       time.Time
}

// configure sets how to authenticate, from the service root.
func (s *session) configure(api *gofish.APIClient, sessionsURI string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.api = api
	s.sessionsURI = sessionsURI
	s.basic = sessionsURI == ""
}

// startPoll clears the per-poll state.
func (s *session) startPoll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.renewedInPoll = false
}

// authHeader is the authentication header for one request, as its name
// and value (none: empty), and the login generation it belongs to.
func (s *session) authHeader() ([2]string, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.token != "":
		return [2]string{"X-Auth-Token", s.token}, s.generation
	case s.basic && s.username != "":
		return [2]string{"Authorization", s.basicAuth()}, s.generation
	}
	return [2]string{}, s.generation
}

// basicAuth is the Authorization header's value for Basic authentication.
func (s *session) basicAuth() string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(s.username+":"+s.password.Reveal()))
}

// renewable reports whether a 401 can be answered by logging in again.
func (s *session) renewable() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.basic && s.sessionsURI != "" && s.username != ""
}

// open makes sure there is a session: the one saved before a restart if
// the BMC still accepts it, else a new login.
func (s *session) open(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.basic || s.token != "" || s.username == "" {
		return nil
	}
	if !s.restored {
		taken, err := s.restoreLocked(ctx)
		if err != nil {
			return err
		}
		s.restored = true
		if taken {
			return nil
		}
	}
	return s.loginLocked(ctx)
}

// renew replaces a session the BMC no longer accepts. generation is the one
// the refused request used. retry says whether to send the request again:
// yes when another request renewed meanwhile or the session was renewed
// now; no when it was renewed already in this poll (a BMC refusing every
// request gets one login a poll, not one per request).
func (s *session) renew(ctx context.Context, generation int) (retry bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if generation != s.generation && s.token != "" {
		return true, nil
	}
	if s.renewedInPoll {
		return false, nil
	}
	s.renewedInPoll = true
	// Delete the refused session anyway (best effort), so that a session the
	// BMC still counts is never left behind.
	s.deleteLocked(ctx)
	if err := s.loginLocked(ctx); err != nil {
		return false, err
	}
	return true, nil
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
			s.log.Warn("BMC session table full, backing off", "uri", s.sessionsURI, "backoff", s.backoff)
		}
		return werr
	}
	var location string
	if auth != nil {
		// gofish keeps the Location's path; a Location that is no path on
		// the BMC cannot be deleted.
		location, _ = servicePath(auth.Session)
	}
	if auth == nil || auth.Token == "" {
		// The BMC holds the session until it times out: delete it through
		// its Location, with the credentials the login used.
		if location != "" {
			s.deleteSession(ctx, location, map[string]string{"Authorization": s.basicAuth()})
		}
		return &bmc.Error{Kind: bmc.ErrKindAuth, Resource: s.sessionsURI, Err: errors.New("session created without an X-Auth-Token")}
	}
	s.backoff, s.retryAt = 0, time.Time{}
	s.token, s.location = auth.Token, location
	s.generation++
	if s.location == "" {
		s.log.Warn("session created without a Location; it cannot be deleted and will time out on the BMC")
	} else {
		s.store.save(s.log, savedSession{Server: s.server, Origin: s.origin, Username: s.username, URI: s.location, Token: s.token, Created: s.now().UTC()})
	}
	s.log.Debug("session created", "session", s.location)
	return nil
}

// restoreLocked takes up the session saved before a restart: a GET of it
// with its token answering 200 means the BMC still holds it. A session
// the BMC answers otherwise for is deleted (best effort) and forgotten. A
// saved session of another BMC address or user is forgotten unused: its
// token goes nowhere. taken says whether the session is in use; an error
// means the BMC did not say (no answer, or busy): the saved session is
// kept for the next poll.
func (s *session) restoreLocked(ctx context.Context) (taken bool, err error) {
	saved, err := s.store.load()
	if err != nil {
		s.log.Warn("saved Redfish session not usable; logging in anew", "file", s.store.path, "err", err)
		s.store.remove(s.log)
		return false, nil
	}
	if saved == nil {
		return false, nil
	}
	uri, perr := servicePath(saved.URI)
	if saved.Origin != s.origin || saved.Username != s.username || perr != nil || saved.Token == "" {
		s.log.Info("saved Redfish session is for another BMC address or user; not used", "file", s.store.path,
			"saved_origin", saved.Origin, "origin", s.origin)
		s.store.remove(s.log)
		return false, nil
	}
	headers := map[string]string{"X-Auth-Token": saved.Token}
	resp, err := s.api.WithContext(ctx).GetWithHeaders(uri, headers)
	if resp != nil {
		schemas.DeferredCleanupHTTPResponse(resp)
	}
	if err == nil {
		s.token, s.location = saved.Token, uri
		s.generation++
		s.log.Info("took up the Redfish session saved before a restart", "session", uri)
		return true, nil
	}
	werr := classify(uri, err)
	switch {
	case werr.Status == 0 || werr.Kind == bmc.ErrKindBusy:
		return false, werr
	case werr.Status != http.StatusUnauthorized && werr.Status != http.StatusNotFound:
		s.deleteSession(ctx, uri, headers)
	}
	s.log.Info("Redfish session saved before a restart is no longer valid; logging in anew", "session", uri, "status", werr.Status)
	s.store.remove(s.log)
	return false, nil
}

// close deletes the session. It is safe to call without a session and more
// than once.
func (s *session) close(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deleteLocked(ctx)
}

// deleteLocked deletes the session in use. The saved session is forgotten
// once the BMC has deleted it or said it is gone; one whose deletion
// failed stays saved, for the next start to delete.
func (s *session) deleteLocked(ctx context.Context) error {
	if s.token == "" {
		return nil
	}
	token, location := s.token, s.location
	s.token, s.location = "", ""
	if location == "" || s.api == nil {
		return nil
	}
	if err := s.deleteSession(ctx, location, map[string]string{"X-Auth-Token": token}); err != nil {
		return err
	}
	s.store.remove(s.log)
	return nil
}

// deleteSession sends DELETE to a session's URI. A 401 or 404 means it is
// gone already.
func (s *session) deleteSession(ctx context.Context, location string, headers map[string]string) error {
	resp, err := s.api.WithContext(ctx).DeleteWithHeaders(location, headers)
	if resp != nil {
		schemas.DeferredCleanupHTTPResponse(resp)
	}
	if err != nil {
		werr := classify(location, err)
		if werr.Status == http.StatusUnauthorized || werr.Status == http.StatusNotFound {
			return nil // already gone on the BMC
		}
		s.log.Debug("deleting session failed", "session", location, "err", werr)
		return werr
	}
	s.log.Debug("session deleted", "session", location)
	return nil
}

// loginCount is how many logins were attempted (for the poll log and tests).
func (s *session) loginCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logins
}
