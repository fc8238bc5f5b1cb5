package inventory

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rackpulse/rackpulse/bmc"
)

func TestParseAddressAccepts(t *testing.T) {
	tests := []struct {
		addr  string
		proto bmc.Protocol
		want  Address
	}{
		{"10.0.11.3", bmc.ProtocolRedfish, Address{Host: "10.0.11.3"}},
		{"0.0.0.0", bmc.ProtocolRedfish, Address{Host: "0.0.0.0"}},
		{"255.255.255.255", bmc.ProtocolIPMI, Address{Host: "255.255.255.255"}},
		{"10.0.11.3:8443", bmc.ProtocolRedfish, Address{Host: "10.0.11.3", Port: 8443}},
		{"10.0.11.3:623", bmc.ProtocolIPMI, Address{Host: "10.0.11.3", Port: 623}},
		{"fd00::17", bmc.ProtocolIPMI, Address{Host: "fd00::17"}},
		{"FD00:0:0::17", bmc.ProtocolRedfish, Address{Host: "fd00::17"}},
		{"::ffff:10.0.11.3", bmc.ProtocolRedfish, Address{Host: "10.0.11.3"}},
		{"[fd00::17]", bmc.ProtocolRedfish, Address{Host: "fd00::17"}},
		{"[fd00::17]:8443", bmc.ProtocolRedfish, Address{Host: "fd00::17", Port: 8443}},
		{"bmc-3.example.net", bmc.ProtocolRedfish, Address{Host: "bmc-3.example.net"}},
		{"BMC-3.Example.NET", bmc.ProtocolRedfish, Address{Host: "bmc-3.example.net"}},
		{"bmc-3.example.net.", bmc.ProtocolRedfish, Address{Host: "bmc-3.example.net."}},
		{"bmc3", bmc.ProtocolIPMI, Address{Host: "bmc3"}},
		{"r12-u01-bmc:623", bmc.ProtocolIPMI, Address{Host: "r12-u01-bmc", Port: 623}},
		{"3com.example.net", bmc.ProtocolRedfish, Address{Host: "3com.example.net"}},
		{strings.Repeat("a", 63) + ".example.net", bmc.ProtocolRedfish, Address{Host: strings.Repeat("a", 63) + ".example.net"}},
		{"https://10.0.11.3", bmc.ProtocolRedfish, Address{Scheme: "https", Host: "10.0.11.3"}},
		{"https://10.0.11.3:8443", bmc.ProtocolRedfish, Address{Scheme: "https", Host: "10.0.11.3", Port: 8443}},
		{"HTTPS://BMC-3.example.net/", bmc.ProtocolAuto, Address{Scheme: "https", Host: "bmc-3.example.net"}},
		{"http://bmc-3.example.net:8080", bmc.ProtocolRedfish, Address{Scheme: "http", Host: "bmc-3.example.net", Port: 8080}},
		{"https://[fd00::17]:8443", bmc.ProtocolRedfish, Address{Scheme: "https", Host: "fd00::17", Port: 8443}},
		{"https://[fd00::17]", bmc.ProtocolRedfish, Address{Scheme: "https", Host: "fd00::17"}},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			got, err := ParseAddress(tt.addr, tt.proto)
			if err != nil {
				t.Fatalf("ParseAddress(%q) = %v, want it accepted", tt.addr, err)
			}
			if got != tt.want {
				t.Errorf("ParseAddress(%q) = %+v, want %+v", tt.addr, got, tt.want)
			}
		})
	}
}

func TestParseAddressRejects(t *testing.T) {
	long := strings.Repeat("a", 64)
	tests := []struct {
		addr  string
		proto bmc.Protocol
		want  string
	}{
		// IPv4: anything whose last label is a number must be an IPv4 address.
		{"10.0.11.300", bmc.ProtocolRedfish, "10.0.11.300: 300 is not an IPv4 octet (0-255)"},
		{"256.0.0.1", bmc.ProtocolRedfish, "256.0.0.1: 256 is not an IPv4 octet (0-255)"},
		{"10.0.11.1000", bmc.ProtocolRedfish, "10.0.11.1000: 1000 is not an IPv4 octet (0-255)"},
		{"10.0.11", bmc.ProtocolRedfish, "10.0.11: an IPv4 address has 4 octets, this has 3"},
		{"1.2.3.4.5", bmc.ProtocolRedfish, "1.2.3.4.5: an IPv4 address has 4 octets, this has 5"},
		{"10", bmc.ProtocolIPMI, "10: an IPv4 address has 4 octets, this has 1"},
		{"10..11.3", bmc.ProtocolRedfish, "10..11.3: two dots in a row"},
		{".10.0.11.3", bmc.ProtocolRedfish, ".10.0.11.3: starts with a dot"},
		{"10.0.11.3.", bmc.ProtocolRedfish, "10.0.11.3.: ends with a dot"},
		{"10.0.011.3", bmc.ProtocolRedfish, "10.0.011.3: 011 has a leading zero, which some tools read as octal"},
		{"10.0.l1.3", bmc.ProtocolRedfish, `10.0.l1.3: "l1" is not a number; a host ending in a number must be an IPv4 address`},
		{"10.0.11.300:443", bmc.ProtocolRedfish, `address "10.0.11.300:443": 10.0.11.300: 300 is not an IPv4 octet (0-255)`},
		{"https://10.0.11.300", bmc.ProtocolRedfish, `address "https://10.0.11.300": 10.0.11.300: 300 is not an IPv4 octet (0-255)`},
		{"https://10.0.11:8443", bmc.ProtocolRedfish, `address "https://10.0.11:8443": 10.0.11: an IPv4 address has 4 octets, this has 3`},
		{"[10.0.11.3]:443", bmc.ProtocolRedfish, `address "[10.0.11.3]:443": brackets are for IPv6 addresses only; write 10.0.11.3:443`},
		{"[10.0.11.3]", bmc.ProtocolRedfish, `address "[10.0.11.3]": brackets are for IPv6 addresses only`},

		// IPv6.
		{"fd00::zz", bmc.ProtocolRedfish, "fd00::zz: has more than one colon but is not an IPv6 address (an IPv6 address with a port is written [address]:port)"},
		{"fd00::1g", bmc.ProtocolRedfish, "fd00::1g: has more than one colon but is not an IPv6 address (an IPv6 address with a port is written [address]:port)"},
		{"fd00::12345", bmc.ProtocolRedfish, `fd00::12345: not a valid IPv6 address: each group must have 4 or less digits (at "12345")`},
		{"fd00:::17", bmc.ProtocolRedfish, `fd00:::17: not a valid IPv6 address: each colon-separated field must have at least one digit (at ":17")`},
		{"[fd00::zz]:8443", bmc.ProtocolRedfish, `address "[fd00::zz]:8443": fd00::zz: not a valid IPv6 address: each colon-separated field must have at least one digit (at "zz")`},
		{"[fd00::17]:", bmc.ProtocolRedfish, `address "[fd00::17]:": port "" is not a number from 1 to 65535`},
		{"[fd00::17", bmc.ProtocolRedfish, `address "[fd00::17": unbalanced brackets (an IPv6 address with a port is written [address]:port)`},
		{"fe80::1%eth0", bmc.ProtocolIPMI, "fe80::1%eth0: IPv6 zone %eth0 is not supported; give a global or unique local address"},
		{"1:2:3:4:5:6:7:8:9", bmc.ProtocolRedfish, `1:2:3:4:5:6:7:8:9: not a valid IPv6 address: trailing garbage after address (at "9")`},

		{"https://[fd00::zz]:8443", bmc.ProtocolRedfish, `address "https://[fd00::zz]:8443": fd00::zz: not a valid IPv6 address: each colon-separated field must have at least one digit (at "zz")`},
		{"https://[10.0.11.3]", bmc.ProtocolRedfish, `address "https://[10.0.11.3]": brackets are for IPv6 addresses only`},
		{"https://[fe80::1%25eth0]", bmc.ProtocolRedfish, `address "https://[fe80::1%25eth0]": fe80::1%eth0: IPv6 zone %eth0 is not supported; give a global or unique local address`},
		{"https://fd00::17", bmc.ProtocolRedfish, `address "https://fd00::17": an IPv6 address in a URL is written in brackets, https://[fd00::17]`},
		{"https://", bmc.ProtocolRedfish, `address "https://" has no host`},
		{"https://:443", bmc.ProtocolRedfish, `address "https://:443" has no host`},
		{":443", bmc.ProtocolRedfish, `address ":443" has no host`},
		{"https://10.0.11.3:http", bmc.ProtocolRedfish, `address "https://10.0.11.3:http": port "http" is not a number from 1 to 65535`},
		{"https://admin:pw@10.0.11.300", bmc.ProtocolRedfish, "address carries user information; put credentials in a credential profile"},
		{"https://a:b@c@[::", bmc.ProtocolRedfish, "address carries user information; put credentials in a credential profile"},

		// Host names.
		{"-bmc3.example.net", bmc.ProtocolRedfish, `-bmc3.example.net: label "-bmc3" starts with a hyphen`},
		{"bmc3-.example.net", bmc.ProtocolRedfish, `bmc3-.example.net: label "bmc3-" ends with a hyphen`},
		{"bmc_3.example.net", bmc.ProtocolRedfish, `bmc_3.example.net: character '_' is not allowed in a host name (letters, digits, hyphens and dots)`},
		{"bmc..example.net", bmc.ProtocolRedfish, "bmc..example.net: host name has two dots in a row"},
		{".example.net", bmc.ProtocolRedfish, ".example.net: host name starts with a dot"},
		{long + ".example.net", bmc.ProtocolRedfish, long + `.example.net: label "` + long + `" is 64 characters long, more than 63`},
		{strings.Repeat("abcdefghi.", 26), bmc.ProtocolRedfish, strings.Repeat("abcdefghi.", 26) + ": host name is 259 characters long, more than 253"},
		{"bmc-3.exämple.net", bmc.ProtocolRedfish, `bmc-3.exämple.net: character 'ä' is not allowed in a host name (letters, digits, hyphens and dots)`},
		{"https://bmc_3.example.net:8443", bmc.ProtocolRedfish, `address "https://bmc_3.example.net:8443": bmc_3.example.net: character '_' is not allowed in a host name (letters, digits, hyphens and dots)`},
		{"bmc:x:y", bmc.ProtocolRedfish, "bmc:x:y: has more than one colon but is not an IPv6 address (an IPv6 address with a port is written [address]:port)"},

		// Whitespace is never trimmed.
		{"10.0.11.3 ", bmc.ProtocolRedfish, `trailing space in address "10.0.11.3 "`},
		{" 10.0.11.3", bmc.ProtocolRedfish, `leading space in address " 10.0.11.3"`},
		{"10.0.11.3\t", bmc.ProtocolRedfish, `trailing tab in address "10.0.11.3\t"`},
		{"10.0.11.3\n", bmc.ProtocolRedfish, `trailing line break in address "10.0.11.3\n"`},
		{"10.0. 11.3", bmc.ProtocolRedfish, `space inside address "10.0. 11.3"`},
		{"10.0.11.3 :443", bmc.ProtocolRedfish, `space inside address "10.0.11.3 :443"`},
		{"10.0.11.3:\t443", bmc.ProtocolRedfish, `tab inside address "10.0.11.3:\t443"`},
		{"bmc\u00a03.example.net", bmc.ProtocolRedfish, `non-breaking space inside address "bmc\u00a03.example.net"`},
		{"https://bmc-3.example.net ", bmc.ProtocolRedfish, `trailing space in address "https://bmc-3.example.net "`},
		{"   ", bmc.ProtocolRedfish, `address "   " is only whitespace`},
		{"", bmc.ProtocolRedfish, "address is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			got, err := ParseAddress(tt.addr, tt.proto)
			if err == nil {
				t.Fatalf("ParseAddress(%q) = %+v, want error %q", tt.addr, got, tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("ParseAddress(%q) error\n got: %s\nwant: %s", tt.addr, err, tt.want)
			}
		})
	}
}

// TestAddressAndWhitespaceProblems loads an inventory with mistaken
// addresses and stray whitespace in names, references and variable names,
// and checks each reported problem: file, line, YAML path and message.
func TestAddressAndWhitespaceProblems(t *testing.T) {
	const body = `site: dc1
credentials:
  default:
    username: admin
    password_env: "BMC_PASSWORD "
  "ipmi ":
    username: admin
    password_env: BMC_PASSWORD
rooms:
  - name: hall-1
    rows:
      - name: "row-a "
        racks:
          - name: r11
            servers:
              - name: s01
                position: 1
                bmc: {address: 10.0.11.300, credentials: default}
              - name: s02
                position: 2
                bmc: {address: "10.0.11.3 ", credentials: default}
              - name: s03
                position: 3
                bmc: {address: "https://10.0.11.3:8443", credentials: "default "}
              - name: s04
                position: 4
                bmc: {address: "[fd00::zz]:8443", credentials: default}
              - name: " s05"
                position: 5
                bmc: {address: "https://bmc_5.example.net", credentials: default}
              - name: s06
                position: 6
                bmc: {address: 10.0.11, protocol: "ipmi ", credentials: default}
              - name: s07
                position: 7
                bmc: {address: "10.0.11.7", credentials: ipmi}
              - name: s08
                position: 8
                bmc: {address: "bmc-8.example.net", credentials: default}
                agent: {token_env: "AGENT TOKEN"}
`
	path := filepath.Join(t.TempDir(), "inventory.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	env := func(name string) (string, bool) {
		if name == "BMC_PASSWORD" || name == "AGENT TOKEN" {
			return "x", true
		}
		return "", false
	}
	_, problems, err := load(path, env)
	if err == nil {
		t.Fatal("load accepted the inventory")
	}
	srv := "rooms[0].rows[0].racks[0].servers"
	want := []string{
		`5: credentials.default.password_env: trailing space in environment variable name "BMC_PASSWORD "`,
		`6: credentials.ipmi : trailing space in credential profile name "ipmi "`,
		`12: rooms[0].rows[0].name: trailing space in row name "row-a "`,
		`18: ` + srv + `[0].bmc.address: 10.0.11.300: 300 is not an IPv4 octet (0-255)`,
		`21: ` + srv + `[1].bmc.address: trailing space in address "10.0.11.3 "`,
		`24: ` + srv + `[2].bmc.credentials: trailing space in credential profile name "default "`,
		`27: ` + srv + `[3].bmc.address: address "[fd00::zz]:8443": fd00::zz: not a valid IPv6 address: each colon-separated field must have at least one digit (at "zz")`,
		`28: ` + srv + `[4].name: leading space in server name " s05"`,
		`30: ` + srv + `[4].bmc.address: address "https://bmc_5.example.net": bmc_5.example.net: character '_' is not allowed in a host name (letters, digits, hyphens and dots)`,
		`33: ` + srv + `[5].bmc.protocol: trailing space in protocol "ipmi "`,
		`33: ` + srv + `[5].bmc.address: 10.0.11: an IPv4 address has 4 octets, this has 3`,
		`40: ` + srv + `[7].agent.token_env: space inside environment variable name "AGENT TOKEN"`,
	}
	for i := range want {
		want[i] = path + ":" + want[i]
	}
	var got []string
	for _, p := range problems.Errors() {
		got = append(got, p.String())
	}
	if !slices.Equal(got, want) {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// s03's address is good and s07's profile is the trimmed "ipmi": one
	// mistake, one problem.
	for _, p := range problems {
		if strings.Contains(p.Path, "servers[2].bmc.address") || strings.Contains(p.Path, "servers[6]") {
			t.Errorf("unexpected problem %s", p)
		}
	}
}

// The doc's list of accepted forms, each also a key in a duplicate check:
// the same BMC written two ways is one BMC.
func TestAddressFormsShareKeys(t *testing.T) {
	same := [][]string{
		{"10.0.11.3", "10.0.11.3:443", "https://10.0.11.3", "https://10.0.11.3:443/", "::ffff:10.0.11.3"},
		{"fd00::17", "[fd00::17]", "[fd00::17]:443", "https://[fd00::17]", "FD00::0017"},
		{"bmc-3.example.net", "BMC-3.example.net:443", "https://bmc-3.EXAMPLE.net"},
	}
	for _, group := range same {
		var first string
		for i, addr := range group {
			a, err := ParseAddress(addr, bmc.ProtocolRedfish)
			if err != nil {
				t.Fatalf("%s: %v", addr, err)
			}
			key := fmt.Sprint(a.Keys(bmc.ProtocolRedfish))
			if i == 0 {
				first = key
			} else if key != first {
				t.Errorf("%s has keys %s, %s has %s", addr, key, group[0], first)
			}
		}
	}
}
