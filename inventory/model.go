package inventory

import (
	"slices"
	"time"

	"github.com/rackpulse/rackpulse/bmc"
)

// DefaultHeightUnits is a rack's height when height_units is not given.
const DefaultHeightUnits = 42

// Source is where a node of the inventory was defined.
type Source struct {
	File string `json:"file"`
	Line int    `json:"line"`
	// Path is the YAML path within File.
	Path string `json:"path"`
}

// Inventory is a site: its rooms, credential profiles and site-wide
// defaults, merged from one or more files.
type Inventory struct {
	Site        string                       `yaml:"site"`
	Credentials map[string]CredentialProfile `yaml:"credentials,omitempty"`
	Defaults    Defaults                     `yaml:"defaults,omitempty"`
	Rooms       []Room                       `yaml:"rooms"`
	// Files are the files the inventory was read from, in merge order.
	Files []string `yaml:"-"`
}

// CredentialProfile is a named set of credentials and per-BMC limits that
// servers refer to by name. The password is given by reference: an
// environment variable or a file, read when endpoints are resolved.
type CredentialProfile struct {
	Name     string `yaml:"-"`
	Username string `yaml:"username"`
	// PasswordEnv names the environment variable holding the password.
	PasswordEnv string `yaml:"password_env,omitempty"`
	// PasswordFile is a file holding the password (trailing newline ignored).
	PasswordFile string `yaml:"password_file,omitempty"`
	// Password is an inline password: accepted, with a warning.
	Password bmc.Secret `yaml:"password,omitempty"`
	// MaxInFlight bounds concurrent Redfish requests to one BMC.
	MaxInFlight int `yaml:"max_in_flight,omitempty"`
	// CipherSuite is the IPMI RMCP+ cipher suite.
	CipherSuite int `yaml:"cipher_suite,omitempty"`
	// Privilege is the IPMI privilege level: USER, OPERATOR or ADMINISTRATOR.
	Privilege string `yaml:"privilege,omitempty"`
	// TLS settings used when no bmc block on the way to a server sets any.
	TLS    TLS    `yaml:",inline"`
	Source Source `yaml:"-"`
}

// TLS says how a BMC's certificate is checked. The three keys are inherited
// as one group: the nearest block that sets any of them decides all three.
type TLS struct {
	CAFile             string `yaml:"ca_file,omitempty"`
	Fingerprint        string `yaml:"tls_fingerprint,omitempty"`
	InsecureSkipVerify *bool  `yaml:"insecure_skip_verify,omitempty"`
}

// IsSet reports whether any TLS key was given.
func (t TLS) IsSet() bool {
	return t.CAFile != "" || t.Fingerprint != "" || t.InsecureSkipVerify != nil
}

func (t TLS) config() bmc.TLSConfig {
	return bmc.TLSConfig{
		CAFile:             t.CAFile,
		Fingerprint:        t.Fingerprint,
		InsecureSkipVerify: t.InsecureSkipVerify != nil && *t.InsecureSkipVerify,
	}
}

// Defaults are settings inherited by every server below the level that
// declares them (site, room, row or rack); the nearest level wins.
type Defaults struct {
	BMC BMCConfig `yaml:"bmc,omitempty"`
	// Alerts tune the alert rules for the racks and servers below.
	Alerts AlertSettings `yaml:"alerts,omitempty"`
	// Agent is the token the in-band agents of the servers below present
	// (a shared secret, by reference).
	Agent AgentAuth `yaml:"agent,omitempty"`
	// Source is where the defaults block was written (zero when it was not).
	Source Source `yaml:"-"`
	// alertLines holds the line of each key given in Alerts.
	alertLines map[string]int
}

// BMCConfig is how a server's BMC is reached and polled. In a defaults
// block every key but Address may be set; zero values mean "inherit".
type BMCConfig struct {
	// Address is host[:port] or https://host[:port].
	Address  string       `yaml:"address,omitempty"`
	Protocol bmc.Protocol `yaml:"protocol,omitempty"`
	// Credentials names a credential profile.
	Credentials    string        `yaml:"credentials,omitempty"`
	TLS            TLS           `yaml:",inline"`
	PollInterval   time.Duration `yaml:"poll_interval,omitempty"`
	SlowInterval   time.Duration `yaml:"slow_interval,omitempty"`
	StaticInterval time.Duration `yaml:"static_interval,omitempty"`
	RequestTimeout time.Duration `yaml:"request_timeout,omitempty"`
	// IPMIPort is the UDP port protocol auto falls back to IPMI on (0:
	// DefaultIPMIPort).
	IPMIPort int `yaml:"ipmi_port,omitempty"`

	// Source is where this block was written (zero when it was not).
	Source Source `yaml:"-"`
	// keyLines holds the line of each key given in the block.
	keyLines map[string]int
}

// Room is a hall of the site.
type Room struct {
	Name     string   `yaml:"name"`
	Defaults Defaults `yaml:"defaults,omitempty"`
	Rows     []Row    `yaml:"rows"`
	Source   Source   `yaml:"-"`
}

// Row is a row of racks in a room.
type Row struct {
	Name     string   `yaml:"name"`
	Defaults Defaults `yaml:"defaults,omitempty"`
	Racks    []Rack   `yaml:"racks"`
	// Room is filled on load.
	Room   string `yaml:"-"`
	Source Source `yaml:"-"`
}

// Rack is one rack: its power budget, feeds, PSU wiring and servers.
type Rack struct {
	Name string `yaml:"name"`
	// PowerBudgetWatts is the rack's power budget; 0 when none is set.
	PowerBudgetWatts float64 `yaml:"power_budget_watts,omitempty"`
	// HeightUnits is the rack's height in rack units (default 42).
	HeightUnits int `yaml:"height_units,omitempty"`
	// Feeds are the rack's power feeds by name (A, B).
	Feeds map[string]Feed `yaml:"feeds,omitempty"`
	// PSUFeeds maps a PSU bay to the feed it is plugged into; see FeedOf.
	PSUFeeds map[string]string `yaml:"psu_feeds,omitempty"`
	Defaults Defaults          `yaml:"defaults,omitempty"`
	Servers  []Server          `yaml:"servers"`
	// Room and Row are filled on load.
	Room string `yaml:"-"`
	Row  string `yaml:"-"`
	// Alerts are the alert settings of the rack's own rules (RackOverBudget,
	// FeedFailoverUnsafe): the site's, room's, row's and rack's
	// defaults.alerts overlaid in that order, nearest winning field by
	// field. Fields set nowhere stay nil. Filled on load.
	Alerts AlertSettings `yaml:"-"`
	Source Source        `yaml:"-"`
}

// Feed is one power feed of a rack.
type Feed struct {
	CapacityWatts float64 `yaml:"capacity_watts"`
}

// Server is one server and its BMC.
type Server struct {
	Name string `yaml:"name"`
	// Position is the lowest rack unit the server occupies (1-based).
	Position int `yaml:"position"`
	// Height is the number of rack units it occupies (default 1).
	Height   int       `yaml:"height,omitempty"`
	Model    string    `yaml:"model,omitempty"`
	AssetTag string    `yaml:"asset_tag,omitempty"`
	BMC      BMCConfig `yaml:"bmc"`
	// AgentAuth is the server's own agent token block; Agent the one in
	// force after inheritance (the nearest defaults block otherwise).
	AgentAuth AgentAuth `yaml:"agent,omitempty"`
	Agent     AgentAuth `yaml:"-"`
	// AlertOverrides are the alert settings of the server's own alerts
	// block, as written.
	AlertOverrides AlertSettings `yaml:"alerts,omitempty"`
	// Room, Row and Rack are filled on load.
	Room string `yaml:"-"`
	Row  string `yaml:"-"`
	Rack string `yaml:"-"`
	// Effective is the BMC configuration after inheritance (server, rack,
	// row, room, site defaults; TLS from the credential profile last), with
	// the protocol defaulted to redfish. Filled on load.
	Effective BMCConfig `yaml:"-"`
	// Alerts are the server's alert settings after inheritance: the site's,
	// room's, row's and rack's defaults.alerts, then AlertOverrides,
	// overlaid in that order, nearest winning field by field. Fields set
	// nowhere stay nil: the config file's values and the engine's defaults
	// apply to them. Filled on load.
	Alerts AlertSettings `yaml:"-"`
	Source Source        `yaml:"-"`
	// alertLines holds the line of each key given in AlertOverrides.
	alertLines map[string]int
}

// TopUnit is the highest rack unit the server occupies.
func (s *Server) TopUnit() int { return s.Position + max(s.Height, 1) - 1 }

// Stats counts what an inventory holds.
type Stats struct {
	Rooms, Rows, Racks, Servers int
}

// Stats counts the rooms, rows, racks and servers.
func (inv *Inventory) Stats() Stats {
	var st Stats
	for _, room := range inv.Rooms {
		st.Rooms++
		for _, row := range room.Rows {
			st.Rows++
			for _, rack := range row.Racks {
				st.Racks++
				st.Servers += len(rack.Servers)
			}
		}
	}
	return st
}

// Racks returns every rack in file order, with Room and Row filled. The
// pointers point into the inventory.
func (inv *Inventory) Racks() []*Rack {
	var racks []*Rack
	for i := range inv.Rooms {
		for j := range inv.Rooms[i].Rows {
			row := &inv.Rooms[i].Rows[j]
			for k := range row.Racks {
				racks = append(racks, &row.Racks[k])
			}
		}
	}
	return racks
}

// Rack finds a rack by name.
func (inv *Inventory) Rack(name string) (*Rack, bool) {
	for _, r := range inv.Racks() {
		if r.Name == name {
			return r, true
		}
	}
	return nil, false
}

// Server finds a server by name.
func (inv *Inventory) Server(name string) (*Server, bool) {
	for _, r := range inv.Racks() {
		for i := range r.Servers {
			if r.Servers[i].Name == name {
				return &r.Servers[i], true
			}
		}
	}
	return nil, false
}

// FeedOf returns the feed a PSU bay is plugged into: the rack's psu_feeds
// entry for the bay, else the default wiring (bay 1 → A, bay 2 → B) when the
// rack defines no feeds or defines that feed; "" when the bay is not wired.
func (r *Rack) FeedOf(psuBay string) string {
	if f, ok := r.PSUFeeds[psuBay]; ok {
		return f
	}
	f := defaultFeed(psuBay)
	if f == "" {
		return ""
	}
	if _, defined := r.Feeds[f]; len(r.Feeds) == 0 || defined {
		return f
	}
	return ""
}

// FeedNames returns the rack's feed names, sorted.
func (r *Rack) FeedNames() []string {
	names := make([]string, 0, len(r.Feeds))
	for n := range r.Feeds {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// defaultFeed is the wiring of a bay that psu_feeds does not name: bay 1 on
// feed A, bay 2 on feed B.
func defaultFeed(psuBay string) string {
	switch psuBay {
	case "1":
		return "A"
	case "2":
		return "B"
	}
	return ""
}
