package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/rackpulse/rackpulse/bmc"
)

// Sender posts reports to the host's poller
// (POST {Poller}/api/agents/{server}/report, Authorization: Bearer TOKEN).
type Sender struct {
	// Poller is the poller's base URL (http://poller:9290).
	Poller string
	Token  bmc.Secret
	Client *http.Client
	Logger *slog.Logger
}

// RejectedError is a report the poller refused (a 4xx): sending it again
// would not help; the reason says what to fix.
type RejectedError struct {
	Status int
	Reason string
}

func (e *RejectedError) Error() string {
	return fmt.Sprintf("poller refused the report (%d): %s", e.Status, e.Reason)
}

// Send posts one report. A 4xx is a *RejectedError; anything else that
// fails (the poller down, a 5xx) is worth trying again.
func (s *Sender) Send(ctx context.Context, rep *Report) error {
	body, err := json.Marshal(rep)
	if err != nil {
		return &RejectedError{Status: 0, Reason: "report cannot be encoded: " + err.Error()}
	}
	u := strings.TrimSuffix(s.Poller, "/") + "/api/agents/" + url.PathEscape(rep.Server) + "/report"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return &RejectedError{Reason: "poller URL: " + err.Error()}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+s.Token.Reveal())
	client := s.Client
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return fmt.Errorf("posting the report to %s: %w", redact(s.Poller), err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	switch {
	case resp.StatusCode/100 == 2:
		return nil
	case resp.StatusCode/100 == 4:
		return &RejectedError{Status: resp.StatusCode, Reason: strings.TrimSpace(string(msg))}
	}
	return fmt.Errorf("poller %s answered %s: %s", redact(s.Poller), resp.Status, strings.TrimSpace(string(msg)))
}

func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "[unparsable URL]"
	}
	return u.Redacted()
}

// Run collects a report every interval and sends it until ctx is done. A
// report the poller cannot take now is retried with backoff until the
// next one replaces it (the newest report is what matters); a refused one
// is logged, once per reason, and not retried.
func Run(ctx context.Context, a *Agent, s *Sender) error {
	log := s.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	tick := time.NewTicker(a.Interval())
	defer tick.Stop()
	lastRefusal := ""
	for {
		due := s.deliver(ctx, a.Collect(ctx), tick.C, a.Interval(), &lastRefusal, log)
		if ctx.Err() != nil {
			return nil
		}
		if !due {
			select {
			case <-ctx.Done():
				return nil
			case <-tick.C:
			}
		}
	}
}

// deliver sends a report, retrying with backoff until it is taken,
// refused, or the next report is due (then it reports true).
func (s *Sender) deliver(ctx context.Context, rep *Report, next <-chan time.Time, interval time.Duration, lastRefusal *string, log *slog.Logger) (due bool) {
	backoff := time.Second
	for {
		err := s.Send(ctx, rep)
		var refused *RejectedError
		switch {
		case err == nil:
			*lastRefusal = ""
			return false
		case errors.As(err, &refused):
			if refused.Reason != *lastRefusal {
				log.Error("report refused by the poller", "status", refused.Status, "reason", refused.Reason)
				*lastRefusal = refused.Reason
			}
			return false
		}
		log.Warn("report not delivered; retrying", "err", err, "retry_in", backoff)
		wait := time.NewTimer(backoff - time.Duration(rand.Int64N(int64(backoff)/5+1)))
		select {
		case <-ctx.Done():
			wait.Stop()
			return false
		case <-next:
			wait.Stop()
			return true // the next report replaces this one
		case <-wait.C:
		}
		backoff = min(2*backoff, interval)
	}
}
