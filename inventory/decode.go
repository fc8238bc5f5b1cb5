package inventory

import (
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"gopkg.in/yaml.v3"

	"github.com/rackpulse/rackpulse/bmc"
)

// decoder turns the YAML tree of one file into an Inventory fragment,
// recording every problem with its line and path instead of stopping at the
// first. Relative paths in the file (password_file, ca_file) are resolved
// against the file's directory.
type decoder struct {
	file     string
	dir      string
	problems Problems
	// lookupEnv reads the environment (os.LookupEnv).
	lookupEnv func(string) (string, bool)
}

func (d *decoder) errorf(n *yaml.Node, path, format string, args ...any) {
	d.problems = append(d.problems, Problem{File: d.file, Line: lineOf(n), Path: path, Message: fmt.Sprintf(format, args...)})
}

func (d *decoder) warnf(n *yaml.Node, path, format string, args ...any) {
	d.problems = append(d.problems, Problem{File: d.file, Line: lineOf(n), Path: path, Message: fmt.Sprintf(format, args...), Warning: true})
}

func (d *decoder) source(n *yaml.Node, path string) Source {
	return Source{File: d.file, Line: lineOf(n), Path: path}
}

func lineOf(n *yaml.Node) int {
	if n == nil {
		return 0
	}
	return n.Line
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// lastKey is the key a path ends in: password_env of
// credentials.default.password_env.
func lastKey(path string) string { return path[strings.LastIndexByte(path, '.')+1:] }

func indexPath(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}

// deref follows aliases (*anchor) to the node they name.
func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if isNull(n) {
			return "nothing"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "something else"
}

// pair is one key and its value in a mapping.
type pair struct {
	key   string
	keyN  *yaml.Node
	value *yaml.Node
}

// pairs lists a mapping's entries in order, with YAML merge keys (<<: *x)
// expanded (explicit keys win) and duplicate keys reported.
func (d *decoder) pairs(n *yaml.Node, path string) []pair {
	var explicit, merged []pair
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), deref(n.Content[i+1])
		if k.Tag == "!!merge" {
			sources := []*yaml.Node{v}
			if v.Kind == yaml.SequenceNode {
				sources = v.Content
			}
			for _, src := range sources {
				src = deref(src)
				if src.Kind != yaml.MappingNode {
					d.errorf(k, path, "merge key <<: want a mapping, got %s", kindName(src))
					continue
				}
				merged = append(merged, d.pairs(src, path)...)
			}
			continue
		}
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, path, "mapping key must be a plain value, got %s", kindName(k))
			continue
		}
		if j := slices.IndexFunc(explicit, func(p pair) bool { return p.key == k.Value }); j >= 0 {
			d.errorf(k, joinPath(path, k.Value), "key %q given twice (first at line %d)", k.Value, explicit[j].keyN.Line)
			continue
		}
		explicit = append(explicit, pair{key: k.Value, keyN: k, value: v})
	}
	for _, m := range merged {
		if !slices.ContainsFunc(explicit, func(p pair) bool { return p.key == m.key }) {
			explicit = append(explicit, m)
		}
	}
	return explicit
}

// field decodes the value of one known key.
type field struct {
	key    string
	decode func(v *yaml.Node, path string)
}

// mapping decodes a mapping whose keys are known fields. It reports unknown
// keys with the closest known one and returns the value node of each key
// given, so that checks across keys can point at them. A null node is an
// empty mapping.
func (d *decoder) mapping(n *yaml.Node, path string, fields []field) map[string]*yaml.Node {
	given := map[string]*yaml.Node{}
	n = deref(n)
	if isNull(n) {
		return given
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "want a mapping, got %s", kindName(n))
		return given
	}
	for _, p := range d.pairs(n, path) {
		i := slices.IndexFunc(fields, func(f field) bool { return f.key == p.key })
		if i < 0 {
			d.errorf(p.keyN, joinPath(path, p.key), "unknown field %q%s", p.key, suggest(p.key, fieldKeys(fields)))
			continue
		}
		given[p.key] = p.keyN
		fields[i].decode(p.value, joinPath(path, p.key))
	}
	return given
}

func fieldKeys(fields []field) []string {
	keys := make([]string, len(fields))
	for i, f := range fields {
		keys[i] = f.key
	}
	return keys
}

// sequence calls each for every item of a list.
func (d *decoder) sequence(n *yaml.Node, path string, each func(item *yaml.Node, path string)) {
	n = deref(n)
	if isNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, path, "want a list, got %s", kindName(n))
		return
	}
	for i, item := range n.Content {
		each(deref(item), indexPath(path, i))
	}
}

func (d *decoder) scalar(n *yaml.Node, path, want string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, path, "want %s, got %s", want, kindName(n))
		return "", false
	}
	return n.Value, true
}

func (d *decoder) str(dst *string) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		if s, ok := d.scalar(n, path, "a string"); ok {
			*dst = strings.TrimSpace(s)
		}
	}
}

// token decodes a string in which whitespace is always a mistake: a
// reference to a name, an environment variable name. Whitespace anywhere is
// reported, saying where and which, and the value is kept trimmed so that
// checks further on do not report the same mistake again.
func (d *decoder) token(dst *string, what string) func(*yaml.Node, string) {
	return d.trimmed(dst, what, strayWhitespace)
}

// nameToken decodes a room, row, rack or server name: leading or trailing
// whitespace is reported here, whitespace inside by name.
func (d *decoder) nameToken(dst *string, what string) func(*yaml.Node, string) {
	return d.trimmed(dst, what, edgeWhitespace)
}

func (d *decoder) trimmed(dst *string, what string, check func(what, s string) string) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		s, ok := d.scalar(n, path, "a string")
		if !ok {
			return
		}
		if msg := check(what, s); msg != "" {
			d.errorf(n, path, "%s", msg)
		}
		*dst = strings.TrimSpace(s)
	}
}

// raw decodes a string as written, for values checked later in full
// (bmc.address, by ParseAddress).
func (d *decoder) raw(dst *string) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		if s, ok := d.scalar(n, path, "a string"); ok {
			*dst = s
		}
	}
}

func (d *decoder) integer(dst *int, min int) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		s, ok := d.scalar(n, path, "an integer")
		if !ok {
			return
		}
		v, err := strconv.Atoi(s)
		if err != nil {
			d.errorf(n, path, "want an integer, got %s", kindName(n))
			return
		}
		if v < min {
			d.errorf(n, path, "must be at least %d, got %d", min, v)
			return
		}
		*dst = v
	}
}

// port decodes a UDP or TCP port number, 1 to 65535.
func (d *decoder) port(dst *int) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		s, ok := d.scalar(n, path, "a port number")
		if !ok {
			return
		}
		v, err := strconv.Atoi(s)
		if err != nil || n.Tag != "!!int" {
			d.errorf(n, path, "want a port number from 1 to 65535, got %s", numberKind(n))
			return
		}
		if v < 1 || v > 65535 {
			d.errorf(n, path, "port %d is not a number from 1 to 65535", v)
			return
		}
		*dst = v
	}
}

// watts decodes a power figure; positive demands more than zero.
func (d *decoder) watts(dst *float64, positive bool) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		s, ok := d.scalar(n, path, "a number of watts")
		if !ok {
			return
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			d.errorf(n, path, "want a number of watts, got %s", kindName(n))
			return
		}
		switch {
		case v < 0:
			d.errorf(n, path, "must not be negative, got %s", s)
			return
		case v == 0 && positive:
			d.errorf(n, path, "must be more than 0")
			return
		}
		*dst = v
	}
}

func (d *decoder) boolean(dst **bool) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
			d.errorf(n, path, "want true or false, got %s", kindName(n))
			return
		}
		var v bool
		if err := n.Decode(&v); err != nil {
			d.errorf(n, path, "want true or false, got %q", n.Value)
			return
		}
		*dst = &v
	}
}

func (d *decoder) duration(dst *time.Duration) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		s, ok := d.scalar(n, path, "a duration")
		if !ok {
			return
		}
		v, err := time.ParseDuration(s)
		if err != nil {
			d.errorf(n, path, "want a duration like 30s or 5m, got %s", kindName(n))
			return
		}
		if v <= 0 {
			d.errorf(n, path, "must be more than 0, got %s", s)
			return
		}
		*dst = v
	}
}

// name decodes a required name: no spaces, commas or slashes, so that it
// can be used in --racks lists, metric labels and file names.
func (d *decoder) name(n *yaml.Node, given map[string]*yaml.Node, path, what, value string) {
	if value == "" {
		if k, ok := given["name"]; ok {
			d.errorf(k, joinPath(path, "name"), "%s name is empty", what)
		} else {
			d.errorf(n, path, "%s has no name", what)
		}
		return
	}
	if strings.ContainsFunc(value, func(r rune) bool { return unicode.IsSpace(r) || r == ',' || r == '/' }) {
		d.errorf(given["name"], joinPath(path, "name"), "%s name %q must not contain spaces, commas or slashes", what, value)
	}
}

// localPath resolves a path relative to the inventory file's directory.
func (d *decoder) localPath(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(d.dir, p)
}

func (d *decoder) document(root *yaml.Node) (*Inventory, Source) {
	inv := &Inventory{Files: []string{d.file}}
	var siteSrc Source
	doc := root
	if doc.Kind == yaml.DocumentNode {
		if len(doc.Content) == 0 {
			d.errorf(nil, "", "empty file")
			return inv, siteSrc
		}
		doc = doc.Content[0]
	}
	given := d.mapping(doc, "", []field{
		{"site", d.token(&inv.Site, "site name")},
		{"credentials", func(n *yaml.Node, path string) { inv.Credentials = d.credentials(n, path) }},
		{"defaults", func(n *yaml.Node, path string) { inv.Defaults = d.defaults(n, path) }},
		{"rooms", func(n *yaml.Node, path string) { inv.Rooms = d.rooms(n, path) }},
	})
	if k, ok := given["site"]; ok {
		siteSrc = d.source(k, "site")
	}
	if inv.Site == "" {
		if k, ok := given["site"]; ok {
			d.errorf(k, "site", "site name is empty")
		} else {
			d.errorf(deref(doc), "", "missing site: name the site (site: dc1)")
		}
	}
	return inv, siteSrc
}

func (d *decoder) credentials(n *yaml.Node, path string) map[string]CredentialProfile {
	profiles := map[string]CredentialProfile{}
	n = deref(n)
	if isNull(n) {
		return profiles
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "want a mapping of profile names to profiles, got %s", kindName(n))
		return profiles
	}
	for _, p := range d.pairs(n, path) {
		pp := joinPath(path, p.key)
		if p.key == "" {
			d.errorf(p.keyN, pp, "credential profile name is empty")
			continue
		}
		// Kept trimmed, as references to it are (token): one mistake, one
		// problem.
		name := strings.TrimSpace(p.key)
		if msg := strayWhitespace("credential profile name", p.key); msg != "" {
			d.errorf(p.keyN, pp, "%s", msg)
		}
		profiles[name] = d.profile(p.keyN, p.value, name, pp)
	}
	return profiles
}

func (d *decoder) profile(keyN, n *yaml.Node, name, path string) CredentialProfile {
	c := CredentialProfile{Name: name, Source: d.source(keyN, path)}
	var password string
	given := d.mapping(n, path, append([]field{
		{"username", d.str(&c.Username)},
		{"password_env", d.token(&c.PasswordEnv, "environment variable name")},
		{"password_file", d.str(&c.PasswordFile)},
		{"password", func(n *yaml.Node, path string) {
			if s, ok := d.scalar(n, path, "a string"); ok {
				password = s
			}
		}},
		{"max_in_flight", d.integer(&c.MaxInFlight, 1)},
		{"cipher_suite", func(n *yaml.Node, path string) {
			var suite int
			d.integer(&suite, 0)(n, path)
			switch {
			case suite == 0 && n.Value == "0":
				d.errorf(n, path, "cipher suite 0 authenticates nothing and is not supported; use 3 or 17")
			case suite > 17:
				d.errorf(n, path, "unknown IPMI cipher suite %d (want 1 to 17)", suite)
			default:
				c.CipherSuite = suite
			}
		}},
		{"privilege", func(n *yaml.Node, path string) {
			s, ok := d.scalar(n, path, "a privilege level")
			if !ok {
				return
			}
			if msg := strayWhitespace("privilege", s); msg != "" {
				d.errorf(n, path, "%s", msg)
				return
			}
			switch up := strings.ToUpper(s); up {
			case "USER", "OPERATOR", "ADMINISTRATOR":
				c.Privilege = up
			default:
				d.errorf(n, path, "unknown privilege %q (want USER, OPERATOR or ADMINISTRATOR)", s)
			}
		}},
	}, d.tlsFields(&c.TLS)...))
	c.Password = bmc.Secret(password)
	if c.Username == "" {
		d.errorf(keyN, path, "credential profile %q has no username", name)
	}
	d.checkTLS(c.TLS, given, path)
	c.TLS.CAFile = d.localPath(c.TLS.CAFile)

	var sources []string
	for _, k := range []string{"password", "password_env", "password_file"} {
		if _, ok := given[k]; ok {
			sources = append(sources, k)
		}
	}
	switch {
	case len(sources) == 0:
		d.errorf(keyN, path, "credential profile %q has no password: set password_env or password_file", name)
	case len(sources) > 1:
		d.errorf(given[sources[1]], joinPath(path, sources[1]), "set only one of %s", strings.Join(sources, ", "))
	}
	if k, ok := given["password"]; ok {
		d.warnf(k, joinPath(path, "password"), "inline password; prefer password_env or password_file")
	}
	if k, ok := given["password_env"]; ok {
		d.checkPasswordEnv(k, joinPath(path, "password_env"), c.PasswordEnv)
	}
	if k, ok := given["password_file"]; ok {
		c.PasswordFile = d.localPath(c.PasswordFile)
		d.checkPasswordFile(k, joinPath(path, "password_file"), c.PasswordFile)
	}
	return c
}

func (d *decoder) checkPasswordEnv(k *yaml.Node, path, name string) {
	if name == "" {
		d.errorf(k, path, "%s is empty: name an environment variable", lastKey(path))
		return
	}
	v, ok := d.lookupEnv(name)
	switch {
	case !ok:
		d.errorf(k, path, "environment variable %s is not set", name)
	case v == "":
		d.errorf(k, path, "environment variable %s is empty", name)
	}
}

// checkPasswordFile checks that the file can be opened for reading. It never
// reads or reports the contents.
func (d *decoder) checkPasswordFile(k *yaml.Node, path, file string) {
	if file == "" {
		d.errorf(k, path, "%s is empty: name a file", lastKey(path))
		return
	}
	fi, err := os.Stat(file)
	if err != nil {
		d.errorf(k, path, "%s is not readable: %v", lastKey(path), err)
		return
	}
	if fi.IsDir() {
		d.errorf(k, path, "%s %s is a directory", lastKey(path), file)
		return
	}
	if _, err := readRegularFile(file, maxPasswordFileBytes); err != nil {
		d.errorf(k, path, "%s is not readable: %v", lastKey(path), err)
		return
	}
	if fi.Mode().Perm()&0o004 != 0 {
		d.warnf(k, path, "%s %s is readable by everyone (mode %04o)", lastKey(path), file, fi.Mode().Perm())
	}
}

func (d *decoder) tlsFields(t *TLS) []field {
	return []field{
		{"ca_file", d.str(&t.CAFile)},
		{"tls_fingerprint", d.str(&t.Fingerprint)},
		{"insecure_skip_verify", d.boolean(&t.InsecureSkipVerify)},
	}
}

// checkTLS checks one block's TLS keys: a readable CA bundle, a well-formed
// fingerprint, and no verification switched off next to a CA or a pin. It
// resolves ca_file against the file's directory in place.
func (d *decoder) checkTLS(t TLS, given map[string]*yaml.Node, path string) {
	if k, ok := given["ca_file"]; ok {
		d.checkCAFile(k, joinPath(path, "ca_file"), d.localPath(t.CAFile))
	}
	if k, ok := given["tls_fingerprint"]; ok {
		if _, err := ParseFingerprint(t.Fingerprint); err != nil {
			d.errorf(k, joinPath(path, "tls_fingerprint"), "%v", err)
		}
	}
	k, ok := given["insecure_skip_verify"]
	if !ok || t.InsecureSkipVerify == nil || !*t.InsecureSkipVerify {
		return
	}
	var pins []string
	for _, key := range []string{"ca_file", "tls_fingerprint"} {
		if _, set := given[key]; set {
			pins = append(pins, key)
		}
	}
	if len(pins) > 0 {
		d.errorf(k, joinPath(path, "insecure_skip_verify"), "insecure_skip_verify contradicts %s in the same block: verification is either off or pinned", strings.Join(pins, " and "))
		return
	}
	d.warnf(k, joinPath(path, "insecure_skip_verify"), "TLS certificate verification is off")
}

func (d *decoder) checkCAFile(k *yaml.Node, path, file string) {
	if file == "" {
		d.errorf(k, path, "ca_file is empty: name a PEM file")
		return
	}
	pem, err := readRegularFile(file, maxCAFileBytes)
	if err != nil {
		d.errorf(k, path, "ca_file is not readable: %v", err)
		return
	}
	if !x509.NewCertPool().AppendCertsFromPEM(pem) {
		d.errorf(k, path, "ca_file %s holds no PEM certificate", file)
	}
}

// ParseFingerprint decodes a tls_fingerprint: the SHA-256 of the BMC's leaf
// certificate (DER), in hex, with or without colons.
func ParseFingerprint(s string) ([]byte, error) {
	raw, err := hex.DecodeString(strings.ReplaceAll(strings.TrimSpace(s), ":", ""))
	if err != nil {
		return nil, fmt.Errorf("tls_fingerprint %q is not hex (want 32 bytes like AB:CD:...)", s)
	}
	if len(raw) != 32 {
		return nil, fmt.Errorf("tls_fingerprint has %d bytes; a SHA-256 has 32", len(raw))
	}
	return raw, nil
}

func (d *decoder) defaults(n *yaml.Node, path string) Defaults {
	def := Defaults{Source: d.source(n, path)}
	d.mapping(n, path, []field{
		{"bmc", func(n *yaml.Node, path string) { def.BMC = d.bmcConfig(n, path, false) }},
		{"alerts", func(n *yaml.Node, path string) {
			var given map[string]*yaml.Node
			def.Alerts, given = d.alertSettings(n, path, false)
			def.alertLines = keyLines(given)
		}},
		{"agent", func(n *yaml.Node, path string) { def.Agent = d.agentAuth(n, path) }},
	})
	return def
}

func keyLines(given map[string]*yaml.Node) map[string]int {
	lines := make(map[string]int, len(given))
	for k, n := range given {
		lines[k] = n.Line
	}
	return lines
}

// bmcConfig decodes a bmc block: a server's (perServer) or a defaults one,
// where address is not allowed.
func (d *decoder) bmcConfig(n *yaml.Node, path string, perServer bool) BMCConfig {
	c := BMCConfig{Source: d.source(n, path), keyLines: map[string]int{}}
	given := d.mapping(n, path, append([]field{
		{"address", func(n *yaml.Node, path string) {
			if !perServer {
				d.errorf(n, path, "address belongs in a server's bmc block, not in defaults")
				return
			}
			// Kept as written: ParseAddress reports whitespace.
			d.raw(&c.Address)(n, path)
		}},
		{"protocol", func(n *yaml.Node, path string) {
			s, ok := d.scalar(n, path, "a protocol")
			if !ok {
				return
			}
			if msg := strayWhitespace("protocol", s); msg != "" {
				d.errorf(n, path, "%s", msg)
				return
			}
			p, err := bmc.ParseProtocol(s)
			if err != nil || s == "" {
				d.errorf(n, path, "unknown protocol %q (want redfish, ipmi or auto)", s)
				return
			}
			c.Protocol = p
		}},
		{"credentials", d.token(&c.Credentials, "credential profile name")},
		{"poll_interval", d.duration(&c.PollInterval)},
		{"slow_interval", d.duration(&c.SlowInterval)},
		{"static_interval", d.duration(&c.StaticInterval)},
		{"request_timeout", d.duration(&c.RequestTimeout)},
		{"ipmi_port", d.port(&c.IPMIPort)},
	}, d.tlsFields(&c.TLS)...))
	for k, kn := range given {
		c.keyLines[k] = kn.Line
	}
	if k, ok := given["credentials"]; ok && c.Credentials == "" {
		d.errorf(k, joinPath(path, "credentials"), "credentials is empty: name a credential profile")
	}
	d.checkTLS(c.TLS, given, path)
	c.TLS.CAFile = d.localPath(c.TLS.CAFile)
	return c
}

func (d *decoder) rooms(n *yaml.Node, path string) []Room {
	var rooms []Room
	seen := map[string]int{}
	d.sequence(n, path, func(item *yaml.Node, path string) {
		room := Room{Source: d.source(item, path)}
		given := d.mapping(item, path, []field{
			{"name", d.nameToken(&room.Name, "room name")},
			{"defaults", func(n *yaml.Node, path string) { room.Defaults = d.defaults(n, path) }},
			{"rows", func(n *yaml.Node, path string) { room.Rows = d.rows(n, path) }},
		})
		d.name(item, given, path, "room", room.Name)
		d.unique(seen, item, path, "room", room.Name)
		rooms = append(rooms, room)
	})
	return rooms
}

// unique reports a name given twice among siblings of one file.
func (d *decoder) unique(seen map[string]int, n *yaml.Node, path, what, name string) {
	if name == "" {
		return
	}
	if line, dup := seen[name]; dup {
		d.errorf(n, joinPath(path, "name"), "%s %q already defined at line %d", what, name, line)
		return
	}
	seen[name] = n.Line
}

func (d *decoder) rows(n *yaml.Node, path string) []Row {
	var rows []Row
	seen := map[string]int{}
	d.sequence(n, path, func(item *yaml.Node, path string) {
		row := Row{Source: d.source(item, path)}
		given := d.mapping(item, path, []field{
			{"name", d.nameToken(&row.Name, "row name")},
			{"defaults", func(n *yaml.Node, path string) { row.Defaults = d.defaults(n, path) }},
			{"racks", func(n *yaml.Node, path string) { row.Racks = d.racks(n, path) }},
		})
		d.name(item, given, path, "row", row.Name)
		d.unique(seen, item, path, "row", row.Name)
		rows = append(rows, row)
	})
	return rows
}

func (d *decoder) racks(n *yaml.Node, path string) []Rack {
	var racks []Rack
	d.sequence(n, path, func(item *yaml.Node, path string) {
		rack := Rack{Source: d.source(item, path), HeightUnits: DefaultHeightUnits}
		var psuFeedNodes []pair
		given := d.mapping(item, path, []field{
			{"name", d.nameToken(&rack.Name, "rack name")},
			{"power_budget_watts", d.watts(&rack.PowerBudgetWatts, false)},
			{"height_units", d.integer(&rack.HeightUnits, 1)},
			{"feeds", func(n *yaml.Node, path string) { rack.Feeds = d.feeds(n, path) }},
			{"psu_feeds", func(n *yaml.Node, path string) { rack.PSUFeeds, psuFeedNodes = d.psuFeeds(n, path) }},
			{"defaults", func(n *yaml.Node, path string) { rack.Defaults = d.defaults(n, path) }},
			{"servers", func(n *yaml.Node, path string) { rack.Servers = d.servers(n, path) }},
		})
		d.name(item, given, path, "rack", rack.Name)
		for _, p := range psuFeedNodes {
			feed := rack.PSUFeeds[p.key]
			if _, ok := rack.Feeds[feed]; ok || feed == "" {
				continue
			}
			known := "no feeds are defined"
			if len(rack.Feeds) > 0 {
				known = "defined: " + strings.Join(rack.FeedNames(), ", ")
			}
			d.errorf(p.value, joinPath(joinPath(path, "psu_feeds"), p.key), "PSU bay %s is wired to feed %q, which is not in feeds (%s)", p.key, feed, known)
		}
		racks = append(racks, rack)
	})
	return racks
}

func (d *decoder) feeds(n *yaml.Node, path string) map[string]Feed {
	feeds := map[string]Feed{}
	n = deref(n)
	if isNull(n) {
		return feeds
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "want a mapping of feed names to feeds, got %s", kindName(n))
		return feeds
	}
	for _, p := range d.pairs(n, path) {
		pp := joinPath(path, p.key)
		if msg := strayWhitespace("feed name", p.key); msg != "" {
			d.errorf(p.keyN, pp, "%s", msg)
		}
		var f Feed
		given := d.mapping(p.value, pp, []field{
			{"capacity_watts", d.watts(&f.CapacityWatts, true)},
		})
		if _, ok := given["capacity_watts"]; !ok {
			d.errorf(p.keyN, pp, "feed %s has no capacity_watts", p.key)
		}
		feeds[p.key] = f
	}
	return feeds
}

func (d *decoder) psuFeeds(n *yaml.Node, path string) (map[string]string, []pair) {
	wiring := map[string]string{}
	n = deref(n)
	if isNull(n) {
		return wiring, nil
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "want a mapping of PSU bays to feed names, got %s", kindName(n))
		return wiring, nil
	}
	ps := d.pairs(n, path)
	for _, p := range ps {
		if msg := strayWhitespace("PSU bay", p.key); msg != "" {
			d.errorf(p.keyN, joinPath(path, p.key), "%s", msg)
		}
		var feed string
		d.token(&feed, "feed name")(p.value, joinPath(path, p.key))
		if feed == "" {
			d.errorf(p.value, joinPath(path, p.key), "PSU bay %s: feed name is empty", p.key)
		}
		wiring[p.key] = feed
	}
	return wiring, ps
}

func (d *decoder) servers(n *yaml.Node, path string) []Server {
	var servers []Server
	d.sequence(n, path, func(item *yaml.Node, path string) {
		s := Server{Source: d.source(item, path), Height: 1}
		given := d.mapping(item, path, []field{
			{"name", d.nameToken(&s.Name, "server name")},
			{"position", d.integer(&s.Position, 1)},
			{"height", d.integer(&s.Height, 1)},
			{"model", d.str(&s.Model)},
			{"asset_tag", d.str(&s.AssetTag)},
			{"bmc", func(n *yaml.Node, path string) { s.BMC = d.bmcConfig(n, path, true) }},
			{"alerts", func(n *yaml.Node, path string) {
				var given map[string]*yaml.Node
				s.AlertOverrides, given = d.alertSettings(n, path, true)
				s.alertLines = keyLines(given)
			}},
			{"agent", func(n *yaml.Node, path string) { s.AgentAuth = d.agentAuth(n, path) }},
		})
		d.name(item, given, path, "server", s.Name)
		what := strings.TrimSpace("server " + s.Name)
		if _, ok := given["position"]; !ok {
			d.errorf(item, path, "%s has no position (the lowest rack unit it occupies)", what)
		}
		if _, ok := given["bmc"]; !ok {
			d.errorf(item, path, "%s has no bmc block", what)
		}
		servers = append(servers, s)
	})
	// Without append's spare room: a running poller keeps every rack's
	// list, and a server is about a kilobyte.
	return slices.Clip(slices.Clone(servers))
}
