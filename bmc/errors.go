package bmc

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"syscall"
)

// ErrorKind classifies a failure so that operators, metrics and backoff can
// tell a timeout from a wrong password from a broken payload.
type ErrorKind string

// Error kinds.
const (
	ErrKindTimeout      ErrorKind = "timeout"
	ErrKindUnreachable  ErrorKind = "unreachable"
	ErrKindAuth         ErrorKind = "auth"
	ErrKindSessionLimit ErrorKind = "session_limit"
	ErrKindServer       ErrorKind = "server_error" // 5xx
	ErrKindBusy         ErrorKind = "busy"         // 503, 429
	ErrKindNotFound     ErrorKind = "not_found"
	ErrKindHTTP         ErrorKind = "http" // other 4xx
	ErrKindMalformed    ErrorKind = "malformed"
	ErrKindTooLarge     ErrorKind = "too_large"
	ErrKindTLS          ErrorKind = "tls"
	ErrKindRedirect     ErrorKind = "redirect" // a redirect not followed: to another origin, or one too many
	ErrKindPanic        ErrorKind = "panic"
	ErrKindOther        ErrorKind = "other"
)

// Error is a classified collector error. Collectors wrap what they return in
// one so that the scheduler and probe can act on the kind.
type Error struct {
	Kind ErrorKind
	// Resource is what was being read (URI, command, record), where known.
	Resource string
	// Status is the HTTP status, where there was one.
	Status int
	Err    error
}

func (e *Error) Error() string {
	msg := string(e.Kind)
	if e.Resource != "" {
		msg += " reading " + e.Resource
	}
	if e.Status != 0 {
		msg += fmt.Sprintf(" (HTTP %d)", e.Status)
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// NewError wraps err with a kind and the resource being read.
func NewError(kind ErrorKind, resource string, err error) *Error {
	return &Error{Kind: kind, Resource: resource, Err: err}
}

// KindOf classifies any error: an *Error's own kind, else timeouts, refused
// connections and TLS failures recognised from the standard library.
func KindOf(err error) ErrorKind {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return ErrKindTimeout
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return ErrKindTimeout
	}
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH) {
		return ErrKindUnreachable
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return ErrKindUnreachable
	}
	var certErr *tls.CertificateVerificationError
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	if errors.As(err, &certErr) || errors.As(err, &unknownAuth) || errors.As(err, &hostErr) {
		return ErrKindTLS
	}
	return ErrKindOther
}

// KindForStatus maps an HTTP status to an error kind.
func KindForStatus(status int) ErrorKind {
	switch {
	case status == 401 || status == 403:
		return ErrKindAuth
	case status == 404:
		return ErrKindNotFound
	case status == 429 || status == 503:
		return ErrKindBusy
	case status >= 500:
		return ErrKindServer
	case status >= 400:
		return ErrKindHTTP
	}
	return ErrKindOther
}

// PartErrorFrom turns an error into a PartError for the poll report.
func PartErrorFrom(part Part, err error) PartError {
	pe := PartError{Part: part, Kind: KindOf(err), Message: err.Error()}
	var e *Error
	if errors.As(err, &e) {
		pe.Resource = e.Resource
	}
	return pe
}
