package sim

import (
	"cmp"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

const (
	sessionServicePath = ServiceRootPath + "/SessionService"
	sessionsPath       = sessionServicePath + "/Sessions"
	maxLoginBody       = 64 << 10
)

// session is one logged-in client.
type session struct {
	seq      int
	id       string
	token    string
	user     string
	created  time.Time
	lastUsed time.Time
}

func (s *session) uri() string { return sessionsPath + "/" + s.id }

func (s *session) resource() map[string]any {
	return map[string]any{
		"@odata.id":   s.uri(),
		"@odata.type": "#Session.v1_7_0.Session",
		"Id":          s.id,
		"Name":        "User Session",
		"Description": "Manager User Session",
		"UserName":    s.user,
		"CreatedTime": s.created.UTC().Format(time.RFC3339),
		"SessionType": "Redfish",
	}
}

// ActiveSessions is the number of sessions that have not expired.
func (b *RedfishBMC) ActiveSessions() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.expireLocked()
	return len(b.sessions)
}

func (b *RedfishBMC) dropSessions() {
	b.mu.Lock()
	clear(b.sessions)
	b.mu.Unlock()
}

// expireLocked forgets sessions idle for longer than the timeout.
func (b *RedfishBMC) expireLocked() {
	now := b.now()
	for token, s := range b.sessions {
		if now.Sub(s.lastUsed) > b.opts.SessionTimeout {
			delete(b.sessions, token)
		}
	}
}

func (b *RedfishBMC) credentialsMatch(user, pass string) bool {
	u := subtle.ConstantTimeCompare([]byte(user), []byte(b.opts.Username))
	p := subtle.ConstantTimeCompare([]byte(pass), []byte(b.opts.Password))
	return u&p == 1
}

// createSession handles POST to the sessions collection.
func (b *RedfishBMC) createSession(w http.ResponseWriter, r *http.Request) {
	body, err := drainBody(r.Body, maxLoginBody)
	if err != nil {
		writeError(w, http.StatusBadRequest, msgGeneralError, "The request body could not be read.")
		return
	}
	var login struct {
		UserName *string `json:"UserName"`
		Password *string `json:"Password"`
	}
	if err := json.Unmarshal(body, &login); err != nil {
		writeError(w, http.StatusBadRequest, msgMalformedJSON, "The request body submitted was malformed JSON and could not be parsed by the receiving service.")
		return
	}
	if login.UserName == nil || login.Password == nil {
		writeError(w, http.StatusBadRequest, msgPropertyMissing, "The property UserName or Password is a required property and must be included in the request.")
		return
	}
	if !b.credentialsMatch(*login.UserName, *login.Password) {
		b.log.Debug("login refused", "user", *login.UserName, "remote", r.RemoteAddr)
		writeError(w, http.StatusUnauthorized, msgResourceAtURIUnauthorized, "While accessing the resource at "+sessionsPath+", the service received an authorization error.")
		return
	}

	b.mu.Lock()
	b.expireLocked()
	if len(b.sessions) >= b.opts.MaxSessions {
		b.mu.Unlock()
		writeError(w, http.StatusServiceUnavailable, msgSessionLimitExceeded, "The session establishment failed due to the number of simultaneous sessions exceeding the limit of the implementation.")
		return
	}
	b.nextID++
	now := b.now()
	s := &session{
		seq:      b.nextID,
		id:       strconv.Itoa(b.nextID),
		token:    rand.Text(),
		user:     *login.UserName,
		created:  now,
		lastUsed: now,
	}
	b.sessions[s.token] = s
	b.mu.Unlock()

	w.Header().Set("X-Auth-Token", s.token)
	w.Header().Set("Location", s.uri())
	writeJSON(w, http.StatusCreated, s.resource())
}

// authenticate checks the session token or Basic credentials and writes
// 401 when neither is good.
func (b *RedfishBMC) authenticate(w http.ResponseWriter, r *http.Request) bool {
	if token := r.Header.Get("X-Auth-Token"); token != "" && !b.opts.NoSessions {
		b.mu.Lock()
		s, ok := b.sessions[token]
		now := b.now()
		if ok && now.Sub(s.lastUsed) > b.opts.SessionTimeout {
			delete(b.sessions, token)
			ok = false
		}
		if ok {
			s.lastUsed = now
		}
		b.mu.Unlock()
		if ok {
			return true
		}
	} else if user, pass, ok := r.BasicAuth(); ok && b.opts.AllowBasicAuth {
		if b.credentialsMatch(user, pass) {
			return true
		}
	}
	if b.opts.AllowBasicAuth {
		w.Header().Set("WWW-Authenticate", `Basic realm="Redfish"`)
	}
	writeError(w, http.StatusUnauthorized, msgNoValidSession, "There is no valid session established with the implementation.")
	return false
}

// serveSessions answers the sessions collection and its members from the
// live sessions (never from the source: a mockup's sample sessions are not
// logged in).
func (b *RedfishBMC) serveSessions(w http.ResponseWriter, r *http.Request, uri string) {
	if uri == sessionsPath {
		if !allowMethods(w, r, http.MethodGet, http.MethodHead, http.MethodPost) {
			return
		}
		b.mu.Lock()
		b.expireLocked()
		members := make([]*session, 0, len(b.sessions))
		for _, s := range b.sessions {
			members = append(members, s)
		}
		b.mu.Unlock()
		slices.SortFunc(members, func(x, y *session) int { return cmp.Compare(x.seq, y.seq) })
		refs := make([]any, len(members))
		for i, s := range members {
			refs[i] = odataID(s.uri())
		}
		b.writeObject(w, r, uri, map[string]any{
			"@odata.id":           sessionsPath,
			"@odata.type":         "#SessionCollection.SessionCollection",
			"Name":                "Session Collection",
			"Members@odata.count": len(refs),
			"Members":             refs,
		})
		return
	}
	id := strings.TrimPrefix(uri, sessionsPath+"/")
	b.mu.Lock()
	var found *session
	for _, s := range b.sessions {
		if s.id == id {
			found = s
			break
		}
	}
	if found != nil && r.Method == http.MethodDelete {
		delete(b.sessions, found.token)
	}
	b.mu.Unlock()
	if found == nil {
		writeError(w, http.StatusNotFound, msgResourceMissingAtURI, "The resource at the URI "+uri+" was not found.")
		return
	}
	switch r.Method {
	case http.MethodDelete:
		w.WriteHeader(http.StatusNoContent)
	case http.MethodGet, http.MethodHead:
		b.writeObject(w, r, uri, found.resource())
	default:
		allowMethods(w, r, http.MethodGet, http.MethodHead, http.MethodDelete)
	}
}

// sessionService is served when the source has no SessionService.
func (b *RedfishBMC) sessionService() map[string]any {
	return map[string]any{
		"@odata.id":      sessionServicePath,
		"@odata.type":    "#SessionService.v1_2_0.SessionService",
		"Id":             "SessionService",
		"Name":           "Session Service",
		"ServiceEnabled": true,
		"SessionTimeout": int(b.opts.SessionTimeout / time.Second),
		"Status":         map[string]any{"State": "Enabled", "Health": "OK"},
		"Sessions":       odataID(sessionsPath),
	}
}

func writeJSON(w http.ResponseWriter, status int, obj any) {
	data, err := json.Marshal(obj)
	if err != nil {
		writeError(w, http.StatusInternalServerError, msgInternalError, "The response could not be encoded.")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("OData-Version", "4.0")
	h.Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(status)
	_, _ = w.Write(data)
}
