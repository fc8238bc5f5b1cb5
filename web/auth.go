package web

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"

	"golang.org/x/crypto/bcrypt"
)

// maxAuthCache bounds the credentials remembered as checked.
const maxAuthCache = 1024

// Auth checks requests against a --web-auth-file: HTTP Basic users
// (`user:BCRYPT-HASH` lines, as `htpasswd -nB user` writes them) and
// bearer tokens (`bearer:BCRYPT-HASH` lines, the hash of the token). The
// file holds hashes only; a credential that passed is remembered by its
// SHA-256, so bcrypt's cost is paid once per credential, not per request.
type Auth struct {
	users   map[string][]byte
	bearers [][]byte

	mu sync.Mutex
	ok map[[32]byte]bool
}

// LoadAuth reads an auth file; an error names the file, the line and what
// is wrong (never a hash).
func LoadAuth(file string) (*Auth, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("web auth file: %w", err)
	}
	a := &Auth{users: map[string][]byte{}, ok: map[[32]byte]bool{}}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, hash, ok := strings.Cut(line, ":")
		if !ok || name == "" {
			return nil, fmt.Errorf("web auth file %s:%d: want user:BCRYPT-HASH or bearer:BCRYPT-HASH", file, n)
		}
		if _, err := bcrypt.Cost([]byte(hash)); err != nil {
			return nil, fmt.Errorf("web auth file %s:%d: %s's hash is not a bcrypt hash (make one with htpasswd -nB %s)", file, n, name, name)
		}
		switch {
		case name == "bearer":
			a.bearers = append(a.bearers, []byte(hash))
		case a.users[name] != nil:
			return nil, fmt.Errorf("web auth file %s:%d: user %s given twice", file, n, name)
		default:
			a.users[name] = []byte(hash)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("web auth file %s: %w", file, err)
	}
	if len(a.users) == 0 && len(a.bearers) == 0 {
		return nil, errors.New("web auth file " + file + ": no users and no bearer tokens: nobody could log in")
	}
	return a, nil
}

// Protect requires a valid credential for every request to h but the
// paths in open (exact), which monitoring scrapes without one.
func (a *Auth) Protect(h http.Handler, open ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, p := range open {
			if r.URL.Path == p {
				h.ServeHTTP(w, r)
				return
			}
		}
		if !a.allowed(r) {
			w.Header().Set("WWW-Authenticate", `Basic realm="rackpulse", charset="UTF-8"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func (a *Auth) allowed(r *http.Request) bool {
	if token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && token != "" {
		return a.check("bearer\x00"+token, func() bool {
			for _, h := range a.bearers {
				if bcrypt.CompareHashAndPassword(h, []byte(token)) == nil {
					return true
				}
			}
			return false
		})
	}
	user, pass, ok := r.BasicAuth()
	if !ok {
		return false
	}
	hash := a.users[user]
	if hash == nil {
		return false
	}
	return a.check("user\x00"+user+"\x00"+pass, func() bool { return bcrypt.CompareHashAndPassword(hash, []byte(pass)) == nil })
}

// check runs verify once per credential that passes and remembers it.
func (a *Auth) check(credential string, verify func() bool) bool {
	key := sha256.Sum256([]byte(credential))
	a.mu.Lock()
	known := a.ok[key]
	a.mu.Unlock()
	if known {
		return true
	}
	if !verify() {
		return false
	}
	a.mu.Lock()
	if len(a.ok) >= maxAuthCache {
		clear(a.ok)
	}
	a.ok[key] = true
	a.mu.Unlock()
	return true
}
