package inventory

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/rackpulse/rackpulse/bmc"
)

// Default ports of the BMC protocols.
const (
	DefaultRedfishPort = 443
	DefaultIPMIPort    = 623
)

// Address is a BMC address taken apart.
type Address struct {
	// Scheme is "https" or "http" for a URL address, "" for host[:port].
	Scheme string
	// Host is the host name (lower case) or IP address, without brackets.
	Host string
	// Port is the explicit port, 0 when none was given.
	Port int
}

// ParseAddress checks a BMC address, host[:port], [IPv6]:port, a bare IPv6
// address or http(s)://host[:port], for the given protocol. The host is an
// IPv4 address (four numbers 0-255, no leading zeros), an IPv6 address (no
// zone) or a DNS host name (letters, digits, hyphens and dots). Whitespace
// anywhere in the address is an error, never trimmed. Its errors say what
// is wrong with which part, and never repeat user information a URL may
// carry.
func ParseAddress(s string, proto bmc.Protocol) (Address, error) {
	if s == "" {
		return Address{}, errors.New("address is empty")
	}
	if msg := strayWhitespace("address", s); msg != "" {
		return Address{}, errors.New(msg)
	}
	if strings.Contains(s, "://") {
		return parseURLAddress(s, proto)
	}
	return parseHostPort(s, s)
}

// parseHostPort checks hostport, host[:port], [IPv6]:port or a bare IPv6
// address, part of the address addr (the whole of it, or a URL's
// authority).
func parseHostPort(hostport, addr string) (Address, error) {
	host, portStr, err := net.SplitHostPort(hostport)
	hasPort := err == nil
	if !hasPort {
		// A bare IPv6 address, bracketed or not, or a host without a port.
		host = hostport
		if strings.HasPrefix(hostport, "[") && strings.HasSuffix(hostport, "]") {
			host = hostport[1 : len(hostport)-1]
			if !strings.Contains(host, ":") {
				return Address{}, fmt.Errorf("address %q: brackets are for IPv6 addresses only", addr)
			}
		} else if strings.ContainsAny(hostport, "[]") {
			return Address{}, fmt.Errorf("address %q: unbalanced brackets (an IPv6 address with a port is written [address]:port)", addr)
		}
		if strings.Count(host, ":") == 1 {
			return Address{}, fmt.Errorf("address %q is not host[:port] or https://host[:port]", addr)
		}
		if host == hostport && strings.Count(host, ":") > 1 && strings.Trim(host, "0123456789abcdefABCDEF:.%") != "" && !strings.Contains(host, "%") {
			return Address{}, hostError(addr, host, errors.New("has more than one colon but is not an IPv6 address (an IPv6 address with a port is written [address]:port)"))
		}
	} else if strings.HasPrefix(hostport, "[") && !strings.Contains(host, ":") {
		return Address{}, fmt.Errorf("address %q: brackets are for IPv6 addresses only; write %s", addr, net.JoinHostPort(host, portStr))
	}
	var a Address
	if a.Host, err = checkHost(host); err != nil {
		return Address{}, hostError(addr, host, err)
	}
	if hasPort {
		if a.Port, err = parsePort(portStr); err != nil {
			return Address{}, fmt.Errorf("address %q: %w", addr, err)
		}
	}
	return a, nil
}

// hostError names the host that is wrong, and the address around it when
// there is more to the address than the host.
func hostError(addr, host string, err error) error {
	if addr == host {
		return fmt.Errorf("%s: %w", host, err)
	}
	if host == "" {
		return fmt.Errorf("address %q has no host", addr)
	}
	return fmt.Errorf("address %q: %s: %w", addr, host, err)
}

func parseURLAddress(s string, proto bmc.Protocol) (Address, error) {
	// The authority as written, for the checks url.Parse does not make and
	// for saying why it failed.
	_, rest, _ := strings.Cut(s, "://")
	authority := rest
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority = rest[:i]
	}
	if strings.Contains(authority, "@") {
		return Address{}, errors.New("address carries user information; put credentials in a credential profile")
	}
	u, err := url.Parse(s)
	if err != nil {
		if _, herr := parseHostPort(authority, s); herr != nil {
			return Address{}, herr
		}
		if strings.Count(authority, ":") > 1 && !strings.HasPrefix(authority, "[") {
			return Address{}, fmt.Errorf("address %q: an IPv6 address in a URL is written in brackets, %s://[%s]", s, strings.ToLower(s[:strings.Index(s, "://")]), authority)
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			return Address{}, fmt.Errorf("address %q is not a valid URL: %v", s, ue.Err)
		}
		return Address{}, fmt.Errorf("address %q is not a valid URL", s)
	}
	if u.User != nil {
		return Address{}, errors.New("address carries user information; put credentials in a credential profile")
	}
	if proto == bmc.ProtocolIPMI {
		return Address{}, fmt.Errorf("address %q is a URL, but IPMI takes host[:port]", s)
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "https" && scheme != "http" {
		return Address{}, fmt.Errorf("address %q: scheme %q is not https or http", s, u.Scheme)
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return Address{}, fmt.Errorf("address %q: give only scheme://host[:port], without a path", s)
	}
	if u.Host == "" {
		return Address{}, fmt.Errorf("address %q has no host", s)
	}
	a, err := parseHostPort(u.Host, s)
	if err != nil {
		return Address{}, err
	}
	a.Scheme = scheme
	return a, nil
}

func parsePort(s string) (int, error) {
	p, err := strconv.Atoi(s)
	if err != nil || p < 1 || p > 65535 {
		return 0, fmt.Errorf("port %q is not a number from 1 to 65535", s)
	}
	return p, nil
}

// checkHost accepts an IPv4 address, an IPv6 address or a DNS host name and
// returns it in canonical form: an IP address as net.IP prints it, a name
// in lower case. Its errors say what is wrong without repeating the host.
func checkHost(h string) (string, error) {
	switch {
	case h == "":
		return "", errors.New("no host")
	case strings.Contains(h, ":"):
		if err := checkIPv6(h); err != nil {
			return "", err
		}
		return net.ParseIP(h).String(), nil
	case looksIPv4(h):
		if err := checkIPv4(h); err != nil {
			return "", err
		}
		return net.ParseIP(h).String(), nil
	}
	if err := checkHostName(h); err != nil {
		return "", err
	}
	return strings.ToLower(h), nil
}

// looksIPv4 reports whether h can only be meant as an IPv4 address: its
// last dot-separated label is all digits, which no DNS name's is (RFC 3696).
func looksIPv4(h string) bool {
	labels := strings.Split(strings.TrimSuffix(h, "."), ".")
	return allDigits(labels[len(labels)-1])
}

func allDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// checkIPv4 says why a host that can only be an IPv4 address is not one, or
// returns nil.
func checkIPv4(h string) error {
	octets := strings.Split(h, ".")
	for i, o := range octets {
		switch {
		case o == "" && i == 0:
			return errors.New("starts with a dot")
		case o == "" && i == len(octets)-1:
			return errors.New("ends with a dot")
		case o == "":
			return errors.New("two dots in a row")
		case !allDigits(o):
			return fmt.Errorf("%q is not a number; a host ending in a number must be an IPv4 address", o)
		case len(o) > 3 || mustAtoi(o) > 255:
			return fmt.Errorf("%s is not an IPv4 octet (0-255)", o)
		case len(o) > 1 && o[0] == '0':
			return fmt.Errorf("%s has a leading zero, which some tools read as octal", o)
		}
	}
	if len(octets) != 4 {
		return fmt.Errorf("an IPv4 address has 4 octets, this has %d", len(octets))
	}
	if net.ParseIP(h) == nil {
		return errors.New("not a valid IPv4 address")
	}
	return nil
}

func mustAtoi(s string) int {
	v, _ := strconv.Atoi(s)
	return v
}

// checkIPv6 says why h, which holds a colon, is not an IPv6 address BMCs
// can be reached at, or returns nil.
func checkIPv6(h string) error {
	ip, err := netip.ParseAddr(h)
	if err != nil {
		reason := err.Error()
		if _, after, ok := strings.Cut(reason, "): "); ok {
			reason = after
		}
		return fmt.Errorf("not a valid IPv6 address: %s", reason)
	}
	if !ip.Is6() {
		return errors.New("not a valid IPv6 address")
	}
	if ip.Zone() != "" {
		return fmt.Errorf("IPv6 zone %%%s is not supported; give a global or unique local address", ip.Zone())
	}
	return nil
}

// checkHostName checks a DNS host name: labels of letters, digits and
// hyphens, 1 to 63 characters, not starting or ending with a hyphen,
// separated by dots; at most 253 characters; one trailing dot allowed.
func checkHostName(h string) error {
	name := strings.TrimSuffix(h, ".")
	if len(name) > 253 {
		return fmt.Errorf("host name is %d characters long, more than 253", len(name))
	}
	for i, label := range strings.Split(name, ".") {
		switch {
		case label == "" && i == 0:
			return errors.New("host name starts with a dot")
		case label == "":
			return errors.New("host name has two dots in a row")
		case len(label) > 63:
			return fmt.Errorf("label %q is %d characters long, more than 63", label, len(label))
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return fmt.Errorf("character %q is not allowed in a host name (letters, digits, hyphens and dots)", c)
			}
		}
		switch {
		case label[0] == '-':
			return fmt.Errorf("label %q starts with a hyphen", label)
		case label[len(label)-1] == '-':
			return fmt.Errorf("label %q ends with a hyphen", label)
		}
	}
	return nil
}

// strayWhitespace describes whitespace in s, a value of the kind what
// names ("address", "rack name"): leading or trailing first ("trailing
// space in address \"10.0.11.3 \""), then inside. It returns "" when s
// holds none.
func strayWhitespace(what, s string) string {
	if msg := edgeWhitespace(what, s); msg != "" {
		return msg
	}
	if i := strings.IndexFunc(s, unicode.IsSpace); i >= 0 {
		r, _ := utf8.DecodeRuneInString(s[i:])
		return fmt.Sprintf("%s inside %s %q", spaceName(r), what, s)
	}
	return ""
}

// edgeWhitespace describes leading or trailing whitespace in s, or returns
// "" when it has none.
func edgeWhitespace(what, s string) string {
	first, _ := utf8.DecodeRuneInString(s)
	last, _ := utf8.DecodeLastRuneInString(s)
	switch {
	case s == "":
		return ""
	case strings.TrimSpace(s) == "":
		return fmt.Sprintf("%s %q is only whitespace", what, s)
	case unicode.IsSpace(first):
		return fmt.Sprintf("leading %s in %s %q", spaceName(first), what, s)
	case unicode.IsSpace(last):
		return fmt.Sprintf("trailing %s in %s %q", spaceName(last), what, s)
	}
	return ""
}

func spaceName(r rune) string {
	switch r {
	case ' ':
		return "space"
	case '\t':
		return "tab"
	case '\n', '\r':
		return "line break"
	case '\u00a0':
		return "non-breaking space"
	}
	return fmt.Sprintf("whitespace character %U", r)
}

// Keys are the host:port pairs the address reaches with the protocol, with
// the default port filled in: 443 for Redfish (80 for an http URL), 623 for
// IPMI, both for auto. Two servers sharing a key share a BMC.
func (a Address) Keys(proto bmc.Protocol) []string {
	return a.KeysWithIPMIPort(proto, DefaultIPMIPort)
}

// KeysWithIPMIPort is Keys with the port protocol auto falls back to IPMI
// on (ipmi_port; 0: DefaultIPMIPort). With auto the address's own port is
// Redfish's, and the IPMI port is claimed besides it.
func (a Address) KeysWithIPMIPort(proto bmc.Protocol, ipmiPort int) []string {
	if ipmiPort == 0 {
		ipmiPort = DefaultIPMIPort
	}
	join := func(port int) string { return net.JoinHostPort(a.Host, strconv.Itoa(port)) }
	redfish := DefaultRedfishPort
	if a.Scheme == "http" {
		redfish = 80
	}
	if a.Port != 0 {
		redfish = a.Port
	}
	switch proto {
	case bmc.ProtocolIPMI:
		if a.Port != 0 {
			return []string{join(a.Port)}
		}
		return []string{join(DefaultIPMIPort)}
	case bmc.ProtocolAuto:
		if redfish == ipmiPort {
			return []string{join(redfish)}
		}
		return []string{join(redfish), join(ipmiPort)}
	default:
		return []string{join(redfish)}
	}
}
