// Package browsertest drives a real headless Chromium for the web
// dashboard's tests, through the Chrome DevTools Protocol (chromedp). It is
// test support, not part of the daemon.
//
// A test starts one browser and opens pages (tabs) in it:
//
//	b := browsertest.Start(t)
//	p := b.Page(t)
//	if err := p.Go(srv.URL + "/"); err != nil {
//		t.Fatal(err)
//	}
//	if err := p.WaitText("#site-watts", "kW", 30*time.Second); err != nil {
//		t.Fatal(err)
//	}
//	if errs := p.ConsoleErrors(); len(errs) > 0 {
//		t.Errorf("console errors: %q", errs)
//	}
//
// The browser is $RACKPULSE_CHROMIUM, else chromium, chromium-browser or
// google-chrome on PATH (Debian's package chromium installs
// /usr/bin/chromium). Without one the test skips, or fails when
// RACKPULSE_REQUIRE_INTEGRATION=1 (as .ci/run sets it).
//
// Selectors are CSS selectors; an action on a selector acts on the first
// element that matches it. Reads (Text, Count, Attr) look once and do not
// wait: wait for what a page draws or updates with WaitVisible or WaitText
// first.
package browsertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/rackpulse/rackpulse/internal/peertest"
)

// The size of the browser window, and of a page's viewport (what the page's
// CSS and window.innerWidth/innerHeight see) and so of a screenshot that is
// not full-page, in CSS pixels; the device scale factor is 1.
const (
	WindowWidth  = 1440
	WindowHeight = 900
)

// Timeouts, generous for a loaded 2-core CI machine.
const (
	// StartTimeout bounds starting Chromium and connecting to it.
	StartTimeout = 90 * time.Second
	// ActionTimeout bounds one action that has no timeout of its own:
	// opening a tab, Go, Click, Text, Count, Attr, Eval, Screenshot.
	ActionTimeout = 60 * time.Second
	// pollInterval is how often WaitText looks again.
	pollInterval = 50 * time.Millisecond
)

// Errors that the reads return, for errors.Is.
var (
	// ErrNotFound: no element matches the selector.
	ErrNotFound = errors.New("no element matches")
	// ErrNoAttribute: the element has no such attribute.
	ErrNoAttribute = errors.New("no such attribute")
)

// Binary finds Chromium: $RACKPULSE_CHROMIUM (a path, or a name on PATH),
// else chromium, chromium-browser or google-chrome on PATH. It returns ""
// and why when there is none.
func Binary() (string, string) {
	if bin := os.Getenv("RACKPULSE_CHROMIUM"); bin != "" {
		p, err := exec.LookPath(bin)
		if err != nil {
			return "", fmt.Sprintf("RACKPULSE_CHROMIUM=%s: %v", bin, err)
		}
		return p, ""
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, ""
		}
	}
	return "", "no chromium, chromium-browser or google-chrome on PATH (install Debian's chromium, or set RACKPULSE_CHROMIUM)"
}

// Browser is one headless Chromium, started by Start.
type Browser struct {
	bin    string
	ctx    context.Context // the browser's chromedp context (its first tab)
	cancel context.CancelFunc
	output *tailBuffer
}

// Start finds Chromium and starts it headless for the test, with
// --no-sandbox, --disable-gpu, --disable-quic, --no-first-run,
// --disable-background-networking, --disable-component-update and
// --disable-sync (without the last three it keeps calling Google's hosts,
// which a closed test network refuses), a fresh temporary --user-data-dir
// (removed at the end) and a window of WindowWidth×WindowHeight. The browser is
// closed at the test's end; its output is logged when the test failed.
// Without Chromium the test skips, or fails when
// RACKPULSE_REQUIRE_INTEGRATION=1.
//
// One browser serves any number of pages; subtests can share it, each
// opening its own with Page.
func Start(t testing.TB) *Browser {
	t.Helper()
	bin, why := Binary()
	if bin == "" {
		peertest.Require(t, why)
	}
	b := &Browser{bin: bin, output: &tailBuffer{max: 16 << 10}}

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.WindowSize(WindowWidth, WindowHeight),
		chromedp.CombinedOutput(b.output),
		// No user-data-dir: chromedp makes a fresh temporary one, and at
		// the end kills what is left of the browser's processes and
		// removes it.
	)
	allocCtx, allocCancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	b.ctx = ctx
	b.cancel = func() { cancel(); allocCancel() }

	// The first Do starts the browser and binds it to ctx, so it gets ctx
	// itself, bounded from outside.
	if err := within(StartTimeout, b.cancel, func() error { return chromedp.Do(ctx) }); err != nil {
		b.cancel()
		t.Fatalf("chromium (%s): start: %v\n%s", bin, err, b.log())
	}
	t.Cleanup(func() {
		b.close()
		if t.Failed() {
			if out := b.log(); out != "" {
				t.Logf("chromium output (%s):\n%s", bin, out)
			}
		}
	})
	return b
}

// close ends the browser: gracefully if it answers, killed otherwise.
func (b *Browser) close() {
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	_ = chromedp.Cancel(ctx)
	b.cancel()
}

// log is Chromium's output without its complaints about D-Bus, which a
// test machine does not run.
func (b *Browser) log() string {
	var keep []string
	for line := range strings.Lines(b.output.String()) {
		if !strings.Contains(line, ":ERROR:dbus/") {
			keep = append(keep, line)
		}
	}
	return strings.TrimSpace(strings.Join(keep, ""))
}

// Binary is the Chromium the browser runs.
func (b *Browser) Binary() string { return b.bin }

// Page opens a new tab (in its own window) with a viewport of
// WindowWidth×WindowHeight, closed at the test's end. From the moment it
// opens it collects console errors, uncaught exceptions and failed requests
// (ConsoleErrors); they are logged when the test failed.
func (b *Browser) Page(t testing.TB) *Page {
	t.Helper()
	p := &Page{reqs: map[network.RequestID]request{}, reported: map[network.RequestID]bool{}}
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithListener(p.onEvent))
	p.ctx, p.cancel = ctx, cancel
	// As in Start, the first Do opens the tab and binds it to ctx. The
	// window's viewport is smaller than the window (headless Chromium keeps
	// room for a toolbar), so the viewport is set to the window's size.
	if err := within(ActionTimeout, cancel, func() error {
		return chromedp.Do(ctx, chromedp.EmulateViewport(WindowWidth, WindowHeight))
	}); err != nil {
		cancel()
		t.Fatalf("chromium: open a page: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			if errs := p.ConsoleErrors(); len(errs) > 0 {
				t.Logf("page %s: console errors:\n  %s", p.url(), strings.Join(errs, "\n  "))
			}
		}
		cancel()
	})
	return p
}

// within runs fn and returns its error, or, when fn takes longer than d,
// calls cancel (which must make fn return), waits for fn and says so.
func within(d time.Duration, cancel func(), fn func() error) error {
	done := make(chan error, 1)
	go func() { done <- fn() }()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case err := <-done:
		return err
	case <-timer.C:
		cancel()
		err := <-done
		return fmt.Errorf("timed out after %s (%v)", d, err)
	}
}

// Page is one browser tab.
type Page struct {
	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	last     string // the URL Go last navigated to
	errs     []consoleError
	reqs     map[network.RequestID]request
	reported map[network.RequestID]bool
}

type request struct{ method, url string }

type consoleError struct {
	text        string
	exceptionID int64 // an uncaught exception's id, for exceptionRevoked; 0 otherwise
	revoked     bool
}

func (p *Page) url() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last
}

// run runs one action on the page, bounded by d.
func run[T any](p *Page, d time.Duration, a chromedp.Action[T]) (T, error) {
	ctx, cancel := context.WithTimeout(p.ctx, d)
	defer cancel()
	return chromedp.Run(ctx, a)
}

// Go navigates to url and waits for the page's load event. A document
// answered with an HTTP error status (4xx, 5xx) is an error too, although
// the page is loaded and can be read.
func (p *Page) Go(url string) error {
	p.mu.Lock()
	p.last = url
	p.mu.Unlock()
	resp, err := run(p, ActionTimeout, chromedp.NavigateResponse(url))
	if err != nil {
		return fmt.Errorf("go %s: %w", url, err)
	}
	if resp != nil && resp.Status >= 400 {
		return fmt.Errorf("go %s: HTTP %d %s", url, resp.Status, resp.StatusText)
	}
	return nil
}

// WaitVisible waits until an element matching sel is visible (laid out with
// a size, not hidden), at most timeout.
func (p *Page) WaitVisible(sel string, timeout time.Duration) error {
	if _, err := run(p, timeout, chromedp.WaitVisible(chromedp.CSS(sel))); err != nil {
		n, cerr := p.Count(sel)
		switch {
		case cerr != nil:
		case n == 0:
			return fmt.Errorf("%s not visible after %s: no element matches it: %w", sel, timeout, err)
		default:
			return fmt.Errorf("%s not visible after %s (%d match, none visible): %w", sel, timeout, n, err)
		}
		return fmt.Errorf("%s not visible after %s: %w", sel, timeout, err)
	}
	return nil
}

// WaitText waits until the text of the first element matching sel (as Text
// reads it) contains the string contains, at most timeout. It looks again
// every 50 ms, so it sees pages that update themselves: after a fetch, on a
// timer, from a stream. On timeout the error gives the last text seen.
func (p *Page) WaitText(sel, contains string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(p.ctx, timeout)
	defer cancel()
	last := "(never read)"
	for {
		text, err := p.text(ctx, sel)
		switch {
		case err == nil && strings.Contains(text, contains):
			return nil
		case err == nil:
			last = fmt.Sprintf("%q", text)
		case errors.Is(err, ErrNotFound):
			last = "no element matches"
		case ctx.Err() == nil:
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			if p.ctx.Err() != nil {
				return fmt.Errorf("%s: waiting for text %q: page closed", sel, contains)
			}
			return fmt.Errorf("%s: text does not contain %q after %s; last: %s", sel, contains, timeout, last)
		case <-time.After(pollInterval):
		}
	}
}

// Text returns the text of the first element matching sel as the page
// shows it (innerText: the rendered text, without hidden parts). It does
// not wait; no match is ErrNotFound.
func (p *Page) Text(sel string) (string, error) {
	ctx, cancel := context.WithTimeout(p.ctx, ActionTimeout)
	defer cancel()
	return p.text(ctx, sel)
}

func (p *Page) text(ctx context.Context, sel string) (string, error) {
	js := fmt.Sprintf(`(() => { const e = document.querySelector(%s); return e === null ? null : e.innerText; })()`, jsString(sel))
	s, err := chromedp.Run(ctx, chromedp.Evaluate[*string](js))
	if err != nil {
		return "", fmt.Errorf("text of %s: %w", sel, err)
	}
	if s == nil {
		return "", fmt.Errorf("text of %s: %w", sel, ErrNotFound)
	}
	return *s, nil
}

// Count returns how many elements match sel now.
func (p *Page) Count(sel string) (int, error) {
	js := fmt.Sprintf(`document.querySelectorAll(%s).length`, jsString(sel))
	n, err := run(p, ActionTimeout, chromedp.Evaluate[int](js))
	if err != nil {
		return 0, fmt.Errorf("count %s: %w", sel, err)
	}
	return n, nil
}

// Attr returns the attribute name of the first element matching sel. It
// does not wait; no match is ErrNotFound, no such attribute ErrNoAttribute.
func (p *Page) Attr(sel, name string) (string, error) {
	js := fmt.Sprintf(`(() => { const e = document.querySelector(%s); if (e === null) return {found: false};
		const v = e.getAttribute(%s); return {found: true, has: v !== null, value: v === null ? "" : v}; })()`,
		jsString(sel), jsString(name))
	type result struct {
		Found bool   `json:"found"`
		Has   bool   `json:"has"`
		Value string `json:"value"`
	}
	r, err := run(p, ActionTimeout, chromedp.Evaluate[result](js))
	switch {
	case err != nil:
		return "", fmt.Errorf("attribute %s of %s: %w", name, sel, err)
	case !r.Found:
		return "", fmt.Errorf("attribute %s of %s: %w", name, sel, ErrNotFound)
	case !r.Has:
		return "", fmt.Errorf("attribute %s of %s: %w", name, sel, ErrNoAttribute)
	}
	return r.Value, nil
}

// Eval evaluates the JavaScript expression js in the page, waits for it
// when it is a promise, and decodes its JSON value into out (encoding/json;
// out nil ignores the value). A thrown exception is an error; so is a
// value of undefined when out is not nil.
func (p *Page) Eval(js string, out any) error {
	raw, err := run(p, ActionTimeout, chromedp.Evaluate[[]byte](js, chromedp.EvalAwaitPromise))
	if err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	if out == nil {
		return nil
	}
	if len(raw) == 0 {
		return errors.New("eval: the result is undefined")
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("eval: decode %s: %w", raw, err)
	}
	return nil
}

// Click clicks the first element matching sel with the mouse, at its
// centre, scrolling it into view. It waits (at most ActionTimeout) for the
// element to be visible.
func (p *Page) Click(sel string) error {
	if _, err := run(p, ActionTimeout, chromedp.Click(chromedp.CSS(sel))); err != nil {
		return fmt.Errorf("click %s: %w", sel, err)
	}
	return nil
}

// Screenshot writes a PNG of the page to path (creating its directory):
// the viewport (WindowWidth×WindowHeight), or with fullPage the whole
// scrollable page.
func (p *Page) Screenshot(path string, fullPage bool) error {
	shot := func(ctx context.Context, t *chromedp.Target) ([]byte, error) {
		params := page.CaptureScreenshotParams{
			Format:      page.CaptureScreenshotFormatPng,
			FromSurface: new(true),
		}
		if fullPage {
			m, err := cdp.Call(ctx, t, page.GetLayoutMetrics, cdp.Empty{})
			if err != nil {
				return nil, err
			}
			if m.CSSContentSize == nil {
				return nil, errors.New("no content size in the layout metrics")
			}
			params.CaptureBeyondViewport = new(true)
			params.Clip = &page.Viewport{
				Width:  m.CSSContentSize.Width,
				Height: m.CSSContentSize.Height,
				Scale:  1,
			}
		}
		r, err := cdp.Call(ctx, t, page.CaptureScreenshot, params)
		return r.Data, err
	}
	png, err := run(p, ActionTimeout, chromedp.Action[[]byte](shot))
	if err != nil {
		return fmt.Errorf("screenshot: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("screenshot: %w", err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		return fmt.Errorf("screenshot: %w", err)
	}
	return nil
}

// ConsoleErrors returns, in order, every error the page reported since it
// opened: console.error calls, errors of the browser's log, uncaught
// exceptions and unhandled promise rejections (less the rejections handled
// later), and every request of the page (document, script, style, image,
// fetch, ...) answered with 4xx/5xx or failed in the network. A request
// canceled (by a navigation, an abort) is not an error.
//
// It is what the browser had sent when ConsoleErrors was called: an error
// that comes later, such as a failed fetch, is seen after the test waited
// for its effect on the page.
//
// Chromium asks for /favicon.ico around the load of a page that links no
// icon; a page served without one shows its 404 here (in some runs, as it
// comes late). Serve an icon, or link one (<link rel="icon" href="data:,">).
func (p *Page) ConsoleErrors() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, e := range p.errs {
		if !e.revoked {
			out = append(out, e.text)
		}
	}
	return out
}

// onEvent collects the errors from the tab's events. chromedp calls it in
// the tab's read loop, in the order the browser sent them, before the reply
// to a later command: it must be quick and send no command.
func (p *Page) onEvent(ev any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			text := "console." + string(ev.Type) + ": " + argsText(ev.Args)
			if st := ev.StackTrace; st != nil && len(st.CallFrames) > 0 {
				text += at(st.CallFrames[0].URL, st.CallFrames[0].LineNumber)
			}
			p.errs = append(p.errs, consoleError{text: text})
		}
	case *runtime.EventExceptionThrown:
		p.errs = append(p.errs, consoleError{text: exceptionText(ev.ExceptionDetails), exceptionID: ev.ExceptionDetails.ExceptionID})
	case *runtime.EventExceptionRevoked:
		for i := range p.errs {
			if p.errs[i].exceptionID == ev.ExceptionID {
				p.errs[i].revoked = true
			}
		}
	case *cdplog.EventEntryAdded:
		// Failed requests are reported from the Network events below,
		// with their method and status.
		if e := ev.Entry; e.Level == cdplog.EntryLevelError && e.Source != cdplog.EntrySourceNetwork {
			p.errs = append(p.errs, consoleError{text: "log (" + string(e.Source) + "): " + e.Text + at(e.URL, e.LineNumber)})
		}
	case *network.EventRequestWillBeSent:
		if ev.Request != nil {
			p.reqs[ev.RequestID] = request{method: ev.Request.Method, url: ev.Request.URL}
		}
	case *network.EventResponseReceived:
		if r := ev.Response; r != nil && r.Status >= 400 && !p.reported[ev.RequestID] {
			p.reported[ev.RequestID] = true
			method := p.reqs[ev.RequestID].method
			if method == "" {
				method = "GET"
			}
			p.errs = append(p.errs, consoleError{text: fmt.Sprintf("%s %s: HTTP %d %s (%s)", method, r.URL, r.Status, r.StatusText, ev.Type)})
		}
	case *network.EventLoadingFailed:
		if !ev.Canceled && !p.reported[ev.RequestID] {
			p.reported[ev.RequestID] = true
			req := p.reqs[ev.RequestID]
			if req.method == "" {
				req.method = "GET"
			}
			why := ev.ErrorText
			if ev.BlockedReason != "" {
				why += " (blocked: " + string(ev.BlockedReason) + ")"
			}
			p.errs = append(p.errs, consoleError{text: fmt.Sprintf("%s %s: %s (%s)", req.method, req.url, why, ev.Type)})
		}
	case *network.EventLoadingFinished:
		delete(p.reqs, ev.RequestID)
	}
}

// argsText renders console arguments roughly as the DevTools console does.
func argsText(args []*runtime.RemoteObject) string {
	parts := make([]string, 0, len(args))
	for _, a := range args {
		parts = append(parts, valueText(a))
	}
	return strings.Join(parts, " ")
}

func valueText(o *runtime.RemoteObject) string {
	if o == nil {
		return ""
	}
	if len(o.Value) > 0 {
		var s string
		if err := json.Unmarshal(o.Value, &s); err == nil {
			return s
		}
		return string(o.Value)
	}
	if o.UnserializableValue != "" {
		return string(o.UnserializableValue)
	}
	if o.Type == runtime.RemoteObjectTypeObject && o.Preview != nil && o.Subtype != runtime.RemoteObjectSubtypeError {
		return previewText(o.Preview)
	}
	if o.Description != "" {
		return o.Description
	}
	return string(o.Type)
}

// previewText is an object's preview: {a: 1, b: "x"} or [1, 2].
func previewText(p *runtime.ObjectPreview) string {
	parts := make([]string, 0, len(p.Properties))
	array := p.Subtype == runtime.ObjectPreviewSubtypeArray
	for _, prop := range p.Properties {
		v := prop.Value
		if prop.Type == runtime.PropertyPreviewTypeString {
			v = jsString(v)
		}
		if array {
			parts = append(parts, v)
		} else {
			parts = append(parts, prop.Name+": "+v)
		}
	}
	if p.Overflow {
		parts = append(parts, "…")
	}
	if array {
		return "[" + strings.Join(parts, ", ") + "]"
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// exceptionText is "uncaught exception: Uncaught Error: boom (url:line)",
// without the stack.
func exceptionText(d *runtime.ExceptionDetails) string {
	if d == nil {
		return "uncaught exception"
	}
	text := d.Text
	if d.Exception != nil {
		desc, _, _ := strings.Cut(valueText(d.Exception), "\n    at ")
		text = strings.TrimSpace(text + " " + desc)
	}
	url, line := d.URL, d.LineNumber
	if url == "" && d.StackTrace != nil && len(d.StackTrace.CallFrames) > 0 {
		url, line = d.StackTrace.CallFrames[0].URL, d.StackTrace.CallFrames[0].LineNumber
	}
	return "uncaught exception: " + text + at(url, line)
}

// at is " (url:line)", lines counted from 1, or "" without a URL.
func at(url string, line int64) string {
	if url == "" {
		return ""
	}
	return fmt.Sprintf(" (%s:%d)", url, line+1)
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (w *tailBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.b = append(w.b, p...)
	if len(w.b) > w.max {
		w.b = append(w.b[:0], w.b[len(w.b)-w.max:]...)
	}
	return len(p), nil
}

func (w *tailBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return string(w.b)
}
