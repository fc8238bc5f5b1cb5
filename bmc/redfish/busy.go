package redfish

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rackpulse/rackpulse/bmc"
)

// maxRetryAfter bounds the wait a BMC's Retry-After can ask for.
const maxRetryAfter = 10 * time.Minute

// busyGuard stops a poll from hammering a BMC that answered 503 or 429: the
// rest of that poll's requests are not sent, and for a backoff period that
// doubles while the BMC stays busy the slow and static parts are deferred.
// A busy answer's Retry-After (seconds or an HTTP date, at most
// maxRetryAfter) is honoured on top: until it has passed no request at all
// is sent (hold), and the backoff lasts at least as long.
type busyGuard struct {
	mu      sync.Mutex
	tripped string // URI that answered busy in this poll
	now     func() time.Time
	min     time.Duration
	max     time.Duration
	backoff time.Duration
	until   time.Time

	// asked is the longest Retry-After of this poll, askedBy the URI
	// answered with it.
	asked   time.Duration
	askedBy string
	// quietUntil is when the last Retry-After runs out; quietBy the URI
	// answered with it.
	quietUntil time.Time
	quietBy    string
}

// hold returns a busy error while a Retry-After runs: the poll is not
// started and nothing is sent.
func (b *busyGuard) hold() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.now().Before(b.quietUntil) {
		return nil
	}
	return &bmc.Error{Kind: bmc.ErrKindBusy, Resource: b.quietBy,
		Err: fmt.Errorf("not requested: the BMC answered busy with a Retry-After running until %s", b.quietUntil.UTC().Format(time.RFC3339))}
}

// startPoll clears the per-poll state and says whether the BMC is still
// inside a busy backoff.
func (b *busyGuard) startPoll() (backingOff bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.tripped, b.asked, b.askedBy = "", 0, ""
	return b.now().Before(b.until)
}

// endPoll widens or clears the backoff after a poll. A Retry-After seen in
// the poll starts the quiet period and makes the backoff at least as long;
// one shorter than the backoff does not shorten it.
func (b *busyGuard) endPoll() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.tripped == "" && b.asked == 0 {
		b.backoff, b.until = 0, time.Time{}
		return
	}
	now := b.now()
	b.backoff = min(max(2*b.backoff, b.min), b.max)
	b.until = now.Add(max(b.backoff, b.asked))
	if b.asked > 0 {
		b.quietUntil, b.quietBy = now.Add(b.asked), b.askedBy
	}
}

func (b *busyGuard) saw(uri string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.tripped == "" {
		b.tripped = uri
	}
}

// retryAfter records a busy answer's Retry-After.
func (b *busyGuard) retryAfter(uri string, d time.Duration) {
	d = min(d, maxRetryAfter)
	b.mu.Lock()
	defer b.mu.Unlock()
	if d > b.asked {
		b.asked, b.askedBy = d, uri
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

// observeResponse sees every response before it is read (requestMeter):
// a 503 or 429 with a Retry-After is recorded in the busy guard.
func (c *Collector) observeResponse(resp *http.Response) {
	if resp.StatusCode != http.StatusServiceUnavailable && resp.StatusCode != http.StatusTooManyRequests {
		return
	}
	d, ok := parseRetryAfter(resp.Header.Get("Retry-After"), c.now())
	if !ok {
		return
	}
	uri := resp.Request.URL.RequestURI()
	c.busy.retryAfter(uri, d)
	c.log.Debug("BMC busy, asks to retry later", "uri", uri, "status", resp.StatusCode,
		"retry_after", d, "honoured", min(d, maxRetryAfter))
}

// parseRetryAfter reads a Retry-After header: delay seconds or an HTTP
// date (taken against now). It reports false when there is none, it does
// not parse, or it asks for no wait.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if v[0] >= '0' && v[0] <= '9' {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
				return maxRetryAfter, true
			}
			return 0, false
		}
		if n > uint64(maxRetryAfter/time.Second) {
			return maxRetryAfter, true
		}
		return time.Duration(n) * time.Second, n > 0
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	d := t.Sub(now)
	return d, d > 0
}
