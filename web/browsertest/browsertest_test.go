package browsertest_test

import (
	"errors"
	"fmt"
	"image/png"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rackpulse/rackpulse/web/browsertest"
)

// wait is how long a test waits for a page to change: generous, for a
// loaded CI machine.
const wait = 30 * time.Second

const head = `<!doctype html><html><head><meta charset="utf-8"><title>t</title><link rel="icon" href="data:,"></head><body>`

// site serves the test pages. release is closed to let /api/value answer.
type site struct {
	*httptest.Server
	release chan struct{}
}

func newSite(t *testing.T) *site {
	t.Helper()
	s := &site{release: make(chan struct{})}
	// A port that was free a moment ago and has nothing listening on it: a
	// request to it fails with a network error.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()

	pages := map[string]string{
		"/clean": head + `<h1 id="title">Rack r12</h1><p class="note">ok</p>
<link rel="stylesheet" href="/style.css"><script src="/app.js"></script>
<script>console.log("a log line is not an error"); console.warn("nor a warning");</script></body></html>`,
		"/live": head + `<div id="watts">loading</div>
<script>fetch("/api/value").then(r => r.json()).then(v => { document.getElementById("watts").textContent = v.watts + " W"; });</script></body></html>`,
		"/console-error":  head + `<p>x</p><script>console.error("rack budget", 12, {a: 1});</script></body></html>`,
		"/exception":      head + `<p>x</p><script>function draw() { throw new Error("boom from the chart"); } draw();</script></body></html>`,
		"/missing-script": head + `<p>x</p><script src="/missing.js"></script></body></html>`,
		"/late-failures": head + `<div id="state">waiting</div>
<script>
Promise.allSettled([
  fetch("/api/broken").then(r => r.status),
  fetch("http://` + closed + `/api/elsewhere").catch(() => "refused"),
]).then(rs => { document.getElementById("state").textContent = "done " + rs.map(r => r.value).join(","); });
</script></body></html>`,
		"/rejection-handled": head + `<div id="state">waiting</div>
<script>
const p = Promise.reject(new Error("handled later"));
setTimeout(() => p.catch(() => { document.getElementById("state").textContent = "caught"; }), 100);
</script></body></html>`,
		"/widgets": head + `<ul id="racks"><li class="rack">r10</li><li class="rack">r11</li><li class="rack" data-budget="8000">r12</li></ul>
<a id="link" href="/clean" data-rack="r12" title="">r12</a>
<div id="hidden" style="display:none">hidden</div>
<button id="add" onclick="const li = document.createElement('li'); li.className = 'rack'; li.textContent = 'r13'; document.getElementById('racks').appendChild(li); this.textContent = 'added';">add</button>
</body></html>`,
		"/tall": head + `<div style="height:2400px;background:linear-gradient(#08f,#f80)">tall</div></body></html>`,
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		body, ok := pages[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, body)
	})
	mux.HandleFunc("/app.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		fmt.Fprint(w, `document.getElementById("title").dataset.ready = "1";`)
	})
	mux.HandleFunc("/style.css", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/css")
		fmt.Fprint(w, `h1 { color: #333; }`)
	})
	mux.HandleFunc("/api/value", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-s.release:
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"watts": 7421}`)
	})
	mux.HandleFunc("/api/broken", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "rollup unavailable", http.StatusInternalServerError)
	})
	s.Server = httptest.NewServer(mux)
	t.Cleanup(s.Close)
	// Unblock /api/value before Close waits for its handler.
	t.Cleanup(func() {
		select {
		case <-s.release:
		default:
			close(s.release)
		}
	})
	return s
}

// waitConsoleError waits until one of the page's console errors contains
// every one of parts.
func waitConsoleError(t *testing.T, p *browsertest.Page, parts ...string) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		errs := p.ConsoleErrors()
		if slices.ContainsFunc(errs, func(e string) bool {
			for _, part := range parts {
				if !strings.Contains(e, part) {
					return false
				}
			}
			return true
		}) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no console error with %q after %s; got %q", parts, wait, errs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestBinary(t *testing.T) {
	t.Setenv("RACKPULSE_CHROMIUM", filepath.Join(t.TempDir(), "no-such-chromium"))
	bin, why := browsertest.Binary()
	if bin != "" || !strings.Contains(why, "RACKPULSE_CHROMIUM") {
		t.Errorf("Binary() = %q, %q; want \"\" and why naming RACKPULSE_CHROMIUM", bin, why)
	}
}

func TestPages(t *testing.T) {
	b := browsertest.Start(t)
	s := newSite(t)

	t.Run("LiveUpdate", func(t *testing.T) {
		p := b.Page(t)
		if err := p.Go(s.URL + "/live"); err != nil {
			t.Fatal(err)
		}
		// The fetch is held until release: the page shows its first state.
		if got, err := p.Text("#watts"); err != nil || got != "loading" {
			t.Fatalf("before the fetch answers: Text = %q, %v; want loading", got, err)
		}
		if err := p.WaitText("#watts", "W", time.Second); err == nil || !strings.Contains(err.Error(), `"loading"`) {
			t.Errorf("WaitText before the fetch answers = %v; want a timeout naming the last text", err)
		}
		close(s.release)
		if err := p.WaitText("#watts", "7421 W", wait); err != nil {
			t.Fatal(err)
		}
		if errs := p.ConsoleErrors(); len(errs) > 0 {
			t.Errorf("ConsoleErrors = %q; want none", errs)
		}
	})

	t.Run("Clean", func(t *testing.T) {
		p := b.Page(t)
		if err := p.Go(s.URL + "/clean"); err != nil {
			t.Fatal(err)
		}
		if err := p.WaitVisible("#title", wait); err != nil {
			t.Fatal(err)
		}
		if v, err := p.Attr("#title", "data-ready"); err != nil || v != "1" {
			t.Errorf(`Attr("#title", "data-ready") = %q, %v; want 1 (app.js ran)`, v, err)
		}
		if errs := p.ConsoleErrors(); len(errs) > 0 {
			t.Errorf("ConsoleErrors = %q; want none", errs)
		}
	})

	t.Run("ConsoleError", func(t *testing.T) {
		p := b.Page(t)
		if err := p.Go(s.URL + "/console-error"); err != nil {
			t.Fatal(err)
		}
		waitConsoleError(t, p, "console.error", "rack budget 12 {a: 1}", "/console-error")
		if errs := p.ConsoleErrors(); len(errs) != 1 {
			t.Errorf("ConsoleErrors = %q; want just the console.error", errs)
		}
	})

	t.Run("UncaughtException", func(t *testing.T) {
		p := b.Page(t)
		if err := p.Go(s.URL + "/exception"); err != nil {
			t.Fatal(err)
		}
		waitConsoleError(t, p, "uncaught exception", "boom from the chart", "/exception")
	})

	t.Run("MissingScript", func(t *testing.T) {
		p := b.Page(t)
		if err := p.Go(s.URL + "/missing-script"); err != nil {
			t.Fatal(err)
		}
		waitConsoleError(t, p, "GET "+s.URL+"/missing.js", "HTTP 404")
		// Chromium also refuses to run the 404's text/plain body, and says
		// so: an error about the same script.
		for _, e := range p.ConsoleErrors() {
			if !strings.Contains(e, "/missing.js") {
				t.Errorf("console error %q is not about /missing.js", e)
			}
		}
	})

	t.Run("FailuresAfterLoad", func(t *testing.T) {
		p := b.Page(t)
		if err := p.Go(s.URL + "/late-failures"); err != nil {
			t.Fatal(err)
		}
		if err := p.WaitText("#state", "done 500,refused", wait); err != nil {
			t.Fatal(err)
		}
		waitConsoleError(t, p, "GET "+s.URL+"/api/broken", "HTTP 500")
		waitConsoleError(t, p, "/api/elsewhere", "net::ERR_CONNECTION_REFUSED")
	})

	t.Run("RejectionHandledLater", func(t *testing.T) {
		p := b.Page(t)
		if err := p.Go(s.URL + "/rejection-handled"); err != nil {
			t.Fatal(err)
		}
		if err := p.WaitText("#state", "caught", wait); err != nil {
			t.Fatal(err)
		}
		// The rejection is reported, then revoked when it is handled. The
		// revocation is sent before the handler's change to the page, but
		// its event may be taken in after the page was read: wait for it,
		// within a limit far above any delay.
		deadline := time.Now().Add(30 * time.Second)
		for errs := p.ConsoleErrors(); len(errs) > 0; errs = p.ConsoleErrors() {
			if time.Now().After(deadline) {
				t.Fatalf("ConsoleErrors = %q; want none (the rejection was handled)", errs)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})

	t.Run("DocumentNotFound", func(t *testing.T) {
		p := b.Page(t)
		err := p.Go(s.URL + "/no-such-page")
		if err == nil || !strings.Contains(err.Error(), "404") {
			t.Errorf("Go to a missing page = %v; want an HTTP 404 error", err)
		}
		waitConsoleError(t, p, "/no-such-page", "HTTP 404")
	})

	t.Run("Widgets", func(t *testing.T) {
		p := b.Page(t)
		if err := p.Go(s.URL + "/widgets"); err != nil {
			t.Fatal(err)
		}
		if n, err := p.Count("li.rack"); err != nil || n != 3 {
			t.Errorf("Count(li.rack) = %d, %v; want 3", n, err)
		}
		if n, err := p.Count(".nothing"); err != nil || n != 0 {
			t.Errorf("Count(.nothing) = %d, %v; want 0", n, err)
		}
		if v, err := p.Attr("li.rack[data-budget]", "data-budget"); err != nil || v != "8000" {
			t.Errorf("Attr(data-budget) = %q, %v; want 8000", v, err)
		}
		if v, err := p.Attr("#link", "title"); err != nil || v != "" {
			t.Errorf("Attr(#link, title) = %q, %v; want the empty value", v, err)
		}
		if _, err := p.Attr("#link", "data-nothing"); !errors.Is(err, browsertest.ErrNoAttribute) {
			t.Errorf("Attr of a missing attribute: %v; want ErrNoAttribute", err)
		}
		if _, err := p.Attr("#nothing", "id"); !errors.Is(err, browsertest.ErrNotFound) {
			t.Errorf("Attr of a missing element: %v; want ErrNotFound", err)
		}
		if _, err := p.Text("#nothing"); !errors.Is(err, browsertest.ErrNotFound) {
			t.Errorf("Text of a missing element: %v; want ErrNotFound", err)
		}
		if err := p.WaitVisible("#hidden", time.Second); err == nil {
			t.Error("WaitVisible of a display:none element succeeded")
		}
		if err := p.Click("#add"); err != nil {
			t.Fatal(err)
		}
		if err := p.WaitText("#add", "added", wait); err != nil {
			t.Fatal(err)
		}
		if n, err := p.Count("li.rack"); err != nil || n != 4 {
			t.Errorf("after the click: Count(li.rack) = %d, %v; want 4", n, err)
		}
		if got, err := p.Text("#racks li:last-child"); err != nil || got != "r13" {
			t.Errorf("after the click: last rack = %q, %v; want r13", got, err)
		}

		var racks []string
		if err := p.Eval(`[...document.querySelectorAll("li.rack")].map(e => e.textContent)`, &racks); err != nil {
			t.Fatal(err)
		}
		if want := []string{"r10", "r11", "r12", "r13"}; !slices.Equal(racks, want) {
			t.Errorf("Eval racks = %q; want %q", racks, want)
		}
		var status int
		if err := p.Eval(`fetch("/api/broken").then(r => r.status)`, &status); err != nil || status != 500 {
			t.Errorf("Eval of a promise = %d, %v; want 500", status, err)
		}
		if err := p.Eval(`undefined`, nil); err != nil {
			t.Errorf("Eval(undefined, nil) = %v", err)
		}
		if err := p.Eval(`(() => { throw new Error("eval boom") })()`, nil); err == nil || !strings.Contains(err.Error(), "eval boom") {
			t.Errorf("Eval of a throw = %v; want the exception", err)
		}

		// A link click navigates.
		if err := p.Click("#link"); err != nil {
			t.Fatal(err)
		}
		if err := p.WaitText("#title", "Rack r12", wait); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("Screenshot", func(t *testing.T) {
		p := b.Page(t)
		if err := p.Go(s.URL + "/tall"); err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		check := func(name string, fullPage bool, wantW, minH, maxH int) {
			t.Helper()
			path := filepath.Join(dir, "shots", name)
			if err := p.Screenshot(path, fullPage); err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			img, err := png.Decode(f)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			w, h := img.Bounds().Dx(), img.Bounds().Dy()
			if w != wantW || h < minH || h > maxH {
				t.Errorf("%s: %d×%d; want width %d, height %d..%d", name, w, h, wantW, minH, maxH)
			}
		}
		check("viewport.png", false, browsertest.WindowWidth, browsertest.WindowHeight, browsertest.WindowHeight)
		check("full.png", true, browsertest.WindowWidth, 2400, 2600)
	})
}
