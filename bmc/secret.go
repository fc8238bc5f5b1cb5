package bmc

import (
	"encoding/json"
	"log/slog"
)

// Secret holds a credential. It never prints, logs or marshals its value:
// every formatting path yields "[redacted]". Use Reveal only where the value
// goes onto the wire.
type Secret string

const redacted = "[redacted]"

// Reveal returns the secret's value, for the protocol client only.
func (s Secret) Reveal() string { return string(s) }

// IsZero reports whether no secret is set.
func (s Secret) IsZero() bool { return s == "" }

// String implements fmt.Stringer.
func (s Secret) String() string { return redacted }

// GoString implements fmt.GoStringer, so %#v does not leak it either.
func (s Secret) GoString() string { return redacted }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalJSON implements json.Marshaler.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(redacted) }

// MarshalText implements encoding.TextMarshaler (YAML and other encoders).
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }
