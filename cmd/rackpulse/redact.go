package main

import (
	"net/url"
	"strings"

	"github.com/rackpulse/rackpulse/alert"
)

// Credentials in a URL (http://user:password@host) go to their own server
// and nowhere else: every URL that serve, rollup or agent logs, shows or
// returns in an error passes through redactURL, and every error that may
// quote one through redactErr.

// masked replaces a secret.
const masked = "xxxxx"

// redactURL returns raw with the secret of its userinfo masked: the
// password (http://admin:xxxxx@influx:8086), or a userinfo without one,
// often a token (http://xxxxx@host).
func redactURL(raw string) string { return alert.Redact(raw) }

// withoutUserinfo returns raw without any userinfo: for rackpulse's own
// URL in alert links, which go to every alert recipient.
func withoutUserinfo(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	u.User = nil
	return u.String()
}

// urlSecrets returns the secrets in the userinfo of urls, as written and
// unescaped. It reads the userinfo by hand, so that a URL url.Parse
// refuses (whose error quotes it) still gives its password up.
func urlSecrets(urls ...string) []string {
	var out []string
	for _, raw := range urls {
		rest := raw
		if i := strings.Index(rest, "://"); i >= 0 {
			rest = rest[i+3:]
		}
		if i := strings.IndexAny(rest, "/?#"); i >= 0 {
			rest = rest[:i]
		}
		at := strings.LastIndex(rest, "@")
		if at < 0 {
			continue
		}
		secret := rest[:at]
		if _, pw, ok := strings.Cut(secret, ":"); ok {
			secret = pw
		}
		if secret == "" {
			continue
		}
		out = append(out, secret)
		if plain, err := url.PathUnescape(secret); err == nil && plain != secret {
			out = append(out, plain)
		}
	}
	return out
}

// redactErr returns err with the secrets of urls masked in its message;
// errors.Is and errors.As still see what it wraps.
func redactErr(err error, urls ...string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	masks := false
	for _, s := range urlSecrets(urls...) {
		if strings.Contains(msg, s) {
			msg = strings.ReplaceAll(msg, s, masked)
			masks = true
		}
	}
	if !masks {
		return err
	}
	return &redactedError{msg: msg, err: err}
}

// redactedError is an error whose message had secrets masked.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
