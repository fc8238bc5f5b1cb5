package inventory

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

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

// ParseAddress checks a BMC address, host[:port] or http(s)://host[:port],
// for the given protocol. Its errors never repeat user information a URL
// may carry.
func ParseAddress(s string, proto bmc.Protocol) (Address, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Address{}, errors.New("address is empty")
	}
	if strings.Contains(s, "://") {
		return parseURLAddress(s, proto)
	}
	host, portStr, err := net.SplitHostPort(s)
	if err != nil {
		// A bare IPv6 address or a host without a port.
		if ip := net.ParseIP(strings.Trim(s, "[]")); ip != nil {
			return Address{Host: ip.String()}, nil
		}
		if strings.Contains(s, ":") {
			return Address{}, fmt.Errorf("address %q is not host[:port] or https://host[:port]", s)
		}
		host, portStr = s, ""
	}
	a := Address{Host: strings.ToLower(host)}
	if err := checkHost(a.Host); err != nil {
		return Address{}, fmt.Errorf("address %q: %w", s, err)
	}
	if portStr != "" || strings.HasSuffix(s, ":") {
		if a.Port, err = parsePort(portStr); err != nil {
			return Address{}, fmt.Errorf("address %q: %w", s, err)
		}
	}
	return a, nil
}

func parseURLAddress(s string, proto bmc.Protocol) (Address, error) {
	u, err := url.Parse(s)
	if err != nil {
		return Address{}, errors.New("address is not a valid URL")
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
	a := Address{Scheme: scheme, Host: strings.ToLower(u.Hostname())}
	if err := checkHost(a.Host); err != nil {
		return Address{}, fmt.Errorf("address %q: %w", s, err)
	}
	if p := u.Port(); p != "" || strings.HasSuffix(u.Host, ":") {
		if a.Port, err = parsePort(p); err != nil {
			return Address{}, fmt.Errorf("address %q: %w", s, err)
		}
	}
	return a, nil
}

func parsePort(s string) (int, error) {
	p, err := strconv.Atoi(s)
	if err != nil || p < 1 || p > 65535 {
		return 0, fmt.Errorf("port %q is not a number from 1 to 65535", s)
	}
	return p, nil
}

// checkHost accepts an IP address or a DNS name.
func checkHost(h string) error {
	if h == "" {
		return errors.New("no host")
	}
	if net.ParseIP(h) != nil {
		return nil
	}
	if len(h) > 253 {
		return errors.New("host name longer than 253 characters")
	}
	for label := range strings.SplitSeq(strings.TrimSuffix(h, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("host %q is not a valid name or IP address", h)
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return fmt.Errorf("host %q is not a valid name or IP address", h)
			}
		}
	}
	return nil
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
