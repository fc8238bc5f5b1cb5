package web

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func hash(t *testing.T, secret string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(secret), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

func TestAuthProtectsAllButTheOpenPaths(t *testing.T) {
	file := filepath.Join(t.TempDir(), "auth")
	writeTestFile(t, file, "# operators\nalice:"+hash(t, "wonderland")+"\n\nbearer:"+hash(t, "s3cret-token")+"\n")
	a, err := LoadAuth(file)
	if err != nil {
		t.Fatal(err)
	}
	h := a.Protect(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }), "/metrics", "/healthz")
	do := func(path string, set func(*http.Request)) int {
		r := httptest.NewRequest(http.MethodGet, path, nil)
		if set != nil {
			set(r)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code == http.StatusUnauthorized && !strings.Contains(rec.Header().Get("WWW-Authenticate"), "Basic") {
			t.Errorf("401 without a Basic challenge")
		}
		return rec.Code
	}
	for _, tc := range []struct {
		name string
		path string
		set  func(*http.Request)
		want int
	}{
		{"no credentials", "/", nil, 401},
		{"no credentials on the API", "/api/rollup", nil, 401},
		{"metrics stay open", "/metrics", nil, 200},
		{"healthz stays open", "/healthz", nil, 200},
		{"right password", "/", func(r *http.Request) { r.SetBasicAuth("alice", "wonderland") }, 200},
		{"right password again (remembered)", "/racks/r1", func(r *http.Request) { r.SetBasicAuth("alice", "wonderland") }, 200},
		{"wrong password", "/", func(r *http.Request) { r.SetBasicAuth("alice", "looking-glass") }, 401},
		{"unknown user", "/", func(r *http.Request) { r.SetBasicAuth("bob", "wonderland") }, 401},
		{"bearer token", "/api/alerts", func(r *http.Request) { r.Header.Set("Authorization", "Bearer s3cret-token") }, 200},
		{"wrong bearer token", "/api/alerts", func(r *http.Request) { r.Header.Set("Authorization", "Bearer guess") }, 401},
	} {
		if got := do(tc.path, tc.set); got != tc.want {
			t.Errorf("%s: %s answered %d, want %d", tc.name, tc.path, got, tc.want)
		}
	}
}

func TestAuthFileErrorsNameTheLine(t *testing.T) {
	dir := t.TempDir()
	for name, tc := range map[string]struct{ content, want string }{
		"plain password": {"alice:wonderland\n", ":1: alice's hash is not a bcrypt hash"},
		"no colon":       {"# users\nalice\n", ":2: want user:BCRYPT-HASH or bearer:BCRYPT-HASH"},
		"empty":          {"# nobody\n", "no users and no bearer tokens"},
	} {
		file := filepath.Join(dir, strings.ReplaceAll(name, " ", "-"))
		writeTestFile(t, file, tc.content)
		_, err := LoadAuth(file)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), file) {
			t.Errorf("%s: %v; want %q with the file", name, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "wonderland") {
			t.Errorf("%s: the error shows the secret: %v", name, err)
		}
	}
}
