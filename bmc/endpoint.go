package bmc

import (
	"fmt"
	"time"
)

// Protocol names how a BMC is spoken to.
type Protocol string

// Protocols a BMC endpoint can use. ProtocolAuto tries Redfish and falls back
// to IPMI.
const (
	ProtocolRedfish Protocol = "redfish"
	ProtocolIPMI    Protocol = "ipmi"
	ProtocolAuto    Protocol = "auto"
)

// ParseProtocol checks a protocol name.
func ParseProtocol(s string) (Protocol, error) {
	switch p := Protocol(s); p {
	case ProtocolRedfish, ProtocolIPMI, ProtocolAuto:
		return p, nil
	case "":
		return ProtocolRedfish, nil
	default:
		return "", fmt.Errorf("unknown protocol %q (want redfish, ipmi or auto)", s)
	}
}

// TLSConfig says how a BMC's certificate is checked. Verification is on
// unless InsecureSkipVerify is set explicitly.
type TLSConfig struct {
	// CAFile is a PEM bundle of the CAs that sign the BMC's certificate.
	CAFile string `json:"ca_file,omitempty"`
	// Fingerprint pins the BMC's leaf certificate: SHA-256 of its DER bytes,
	// hex, colons allowed. When set, the chain is not checked against CAs.
	Fingerprint string `json:"tls_fingerprint,omitempty"`
	// InsecureSkipVerify turns verification off. Never the default.
	InsecureSkipVerify bool `json:"insecure_skip_verify,omitempty"`
}

// Cadence says how often each part of a BMC is read.
type Cadence struct {
	// Readings: power and thermal, every poll.
	Readings time.Duration `json:"readings"`
	// Slow: memory metrics, drives and Redfish logs (read early when a
	// health status changes; the IPMI SEL is checked every poll).
	Slow time.Duration `json:"slow"`
	// Static: models, serials, slots; cached between refreshes.
	Static time.Duration `json:"static"`
}

// Endpoint is one BMC to poll, resolved from the inventory: where it is, how
// to authenticate, and the limits the poller must respect.
type Endpoint struct {
	// Server is the inventory name of the server this BMC belongs to.
	Server string `json:"server"`
	// Rack is the inventory name of the server's rack (for labels and logs).
	Rack     string   `json:"rack,omitempty"`
	Protocol Protocol `json:"protocol"`
	// Address is host[:port] or a URL (https://host:port).
	Address  string `json:"address"`
	Username string `json:"username,omitempty"`
	Password Secret `json:"password,omitempty"`
	// CredentialsProfile names the inventory profile the credentials came from.
	CredentialsProfile string    `json:"credentials,omitempty"`
	TLS                TLSConfig `json:"tls"`

	Cadence Cadence `json:"cadence"`
	// MaxInFlight bounds concurrent requests to this BMC (Redfish).
	MaxInFlight int `json:"max_in_flight"`
	// RequestTimeout bounds one request; PollTimeout one whole poll.
	RequestTimeout time.Duration `json:"request_timeout"`
	PollTimeout    time.Duration `json:"poll_timeout"`
	// MaxResponseBytes bounds one response body.
	MaxResponseBytes int64 `json:"max_response_bytes"`

	// IPMI settings: cipher suite (RMCP+), privilege level, and whether to use
	// IPMI 1.5 instead of 2.0/RMCP+.
	CipherSuite int    `json:"cipher_suite,omitempty"`
	Privilege   string `json:"privilege,omitempty"`
	IPMIv15     bool   `json:"ipmi_v15,omitempty"`
	// IPMIPort is the UDP port that protocol auto falls back to IPMI on,
	// at the address's host; 0: the IPMI default, 623.
	IPMIPort int `json:"ipmi_port,omitempty"`
}

// Defaults for Endpoint fields left zero.
const (
	DefaultReadingsInterval = 30 * time.Second
	DefaultSlowInterval     = 5 * time.Minute
	DefaultStaticInterval   = time.Hour
	DefaultMaxInFlight      = 2
	DefaultRequestTimeout   = 10 * time.Second
	DefaultMaxResponseBytes = 8 << 20
	DefaultCipherSuite      = 3
	DefaultPrivilege        = "ADMINISTRATOR"
)

// WithDefaults returns e with every zero limit set to its default. The poll
// deadline defaults to the readings interval less a tenth, so a slow poll
// never overlaps the next one.
func (e Endpoint) WithDefaults() Endpoint {
	if e.Protocol == "" {
		e.Protocol = ProtocolRedfish
	}
	if e.Cadence.Readings <= 0 {
		e.Cadence.Readings = DefaultReadingsInterval
	}
	if e.Cadence.Slow <= 0 {
		e.Cadence.Slow = DefaultSlowInterval
	}
	if e.Cadence.Static <= 0 {
		e.Cadence.Static = DefaultStaticInterval
	}
	if e.MaxInFlight <= 0 {
		e.MaxInFlight = DefaultMaxInFlight
	}
	if e.RequestTimeout <= 0 {
		e.RequestTimeout = DefaultRequestTimeout
	}
	if e.PollTimeout <= 0 {
		e.PollTimeout = e.Cadence.Readings - e.Cadence.Readings/10
	}
	if e.MaxResponseBytes <= 0 {
		e.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if e.CipherSuite == 0 {
		e.CipherSuite = DefaultCipherSuite
	}
	if e.Privilege == "" {
		e.Privilege = DefaultPrivilege
	}
	return e
}
