package inventory

import (
	"fmt"
	"strings"

	"github.com/rackpulse/rackpulse/bmc"
)

// check runs the validations that span files: names unique site-wide, rack
// units, credentials, addresses and alert thresholds after inheritance. It
// fills each server's Effective configuration and Alerts, and each rack's
// Alerts.
func check(inv *Inventory) Problems {
	c := &checker{
		inv:       inv,
		racks:     map[string]Source{},
		servers:   map[string]Source{},
		addresses: map[string]*Server{},
		reported:  map[Source]bool{},
		used:      map[string]bool{},

		reportedAlerts: map[string]bool{},
	}
	for i := range inv.Rooms {
		room := &inv.Rooms[i]
		for j := range room.Rows {
			row := &room.Rows[j]
			for k := range row.Racks {
				rack := &row.Racks[k]
				c.rack(rack)
				chain := []alertBlock{
					{rack.Defaults.Alerts, rack.Defaults.alertLines},
					{row.Defaults.Alerts, row.Defaults.alertLines},
					{room.Defaults.Alerts, room.Defaults.alertLines},
					{inv.Defaults.Alerts, inv.Defaults.alertLines},
				}
				rack.Alerts = inheritAlerts(chain)
				c.inheritedThresholds(chain, "rack_budget_critical_percent")
				for l := range rack.Servers {
					s := &rack.Servers[l]
					c.server(s)
					s.Alerts = rack.Alerts.Overlay(s.AlertOverrides)
					for _, a := range []AgentAuth{s.AgentAuth, rack.Defaults.Agent, row.Defaults.Agent, room.Defaults.Agent, inv.Defaults.Agent} {
						if a.IsSet() {
							s.Agent = a
							break
						}
					}
					c.inheritedThresholds(append([]alertBlock{{s.AlertOverrides, s.alertLines}}, chain...), "cpu_critical_celsius", "inlet_critical_celsius")
					s.Effective = effective([]*BMCConfig{&s.BMC, &rack.Defaults.BMC, &row.Defaults.BMC, &room.Defaults.BMC, &inv.Defaults.BMC}, inv.Credentials)
					c.credentials(s, []*BMCConfig{&s.BMC, &rack.Defaults.BMC, &row.Defaults.BMC, &room.Defaults.BMC, &inv.Defaults.BMC})
					c.address(s)
				}
			}
		}
	}
	for _, name := range sortedKeys(inv.Credentials) {
		if !c.used[name] {
			p := inv.Credentials[name]
			c.warn(p.Source, "", "credential profile %q is not used by any server", name)
		}
	}
	return c.problems
}

type checker struct {
	inv       *Inventory
	problems  Problems
	racks     map[string]Source
	servers   map[string]Source
	addresses map[string]*Server
	// reported holds the blocks whose credentials reference was reported.
	reported map[Source]bool
	used     map[string]bool
	// reportedAlerts holds the alert keys whose inherited threshold was
	// reported.
	reportedAlerts map[string]bool
}

// inheritAlerts overlays alerts blocks given nearest first, farthest first:
// each field from the nearest block that sets it.
func inheritAlerts(blocks []alertBlock) AlertSettings {
	var out AlertSettings
	for i := len(blocks) - 1; i >= 0; i-- {
		out = out.Overlay(blocks[i].settings)
	}
	return out
}

func (c *checker) add(src Source, key string, warning bool, format string, args ...any) {
	path := src.Path
	if key != "" {
		path = joinPath(path, key)
	}
	c.problems = append(c.problems, Problem{File: src.File, Line: src.Line, Path: path, Message: fmt.Sprintf(format, args...), Warning: warning})
}

func (c *checker) errorf(src Source, key, format string, args ...any) {
	c.add(src, key, false, format, args...)
}

func (c *checker) warn(src Source, key, format string, args ...any) {
	c.add(src, key, true, format, args...)
}

func (c *checker) rack(r *Rack) {
	if r.Name != "" {
		if prev, dup := c.racks[r.Name]; dup {
			c.errorf(r.Source, "name", "rack %q already defined at %s; rack names are unique site-wide", r.Name, where(prev, r.Source))
		} else {
			c.racks[r.Name] = r.Source
		}
	}
	// A/B feeds: when one fails, the other carries the whole rack, so a
	// budget above a feed's capacity is not failover-safe.
	if len(r.Feeds) > 1 && r.PowerBudgetWatts > 0 {
		for _, name := range r.FeedNames() {
			if capacity := r.Feeds[name].CapacityWatts; capacity > 0 && r.PowerBudgetWatts > capacity {
				c.warn(r.Source, "power_budget_watts", "rack %s budget %g W exceeds feed %s's capacity %g W: with the other feed down, %s cannot carry the rack at its budget",
					r.Name, r.PowerBudgetWatts, name, capacity, name)
			}
		}
	}
	// Rack units: inside the rack, and not shared.
	for i := range r.Servers {
		s := &r.Servers[i]
		if s.Position < 1 {
			continue
		}
		if s.TopUnit() > r.HeightUnits {
			c.errorf(s.Source, "position", "server %s occupies %s, outside the rack's %d units", s.Name, units(s), r.HeightUnits)
			continue
		}
		for j := range i {
			o := &r.Servers[j]
			if o.Position >= 1 && s.Position <= o.TopUnit() && o.Position <= s.TopUnit() {
				c.errorf(s.Source, "position", "server %s at %s overlaps server %s at %s", s.Name, units(s), o.Name, units(o))
				break
			}
		}
	}
}

func units(s *Server) string {
	if s.TopUnit() == s.Position {
		return fmt.Sprintf("U%d", s.Position)
	}
	return fmt.Sprintf("U%d-U%d", s.Position, s.TopUnit())
}

func (c *checker) server(s *Server) {
	if s.Name == "" {
		return
	}
	if prev, dup := c.servers[s.Name]; dup {
		c.errorf(s.Source, "name", "server %q already defined at %s; server names are unique site-wide", s.Name, where(prev, s.Source))
		return
	}
	c.servers[s.Name] = s.Source
}

// effective resolves a server's BMC configuration from its bmc blocks,
// nearest first: each key from the nearest block that sets it, the TLS keys
// as one group, then the credential profile's TLS when no block set any.
func effective(blocks []*BMCConfig, profiles map[string]CredentialProfile) BMCConfig {
	e := BMCConfig{Address: blocks[0].Address, Source: blocks[0].Source}
	for _, b := range blocks {
		e.Protocol = cmpOr(e.Protocol, b.Protocol)
		e.Credentials = cmpOr(e.Credentials, b.Credentials)
		if !e.TLS.IsSet() {
			e.TLS = b.TLS
		}
		e.PollInterval = cmpOr(e.PollInterval, b.PollInterval)
		e.SlowInterval = cmpOr(e.SlowInterval, b.SlowInterval)
		e.StaticInterval = cmpOr(e.StaticInterval, b.StaticInterval)
		e.RequestTimeout = cmpOr(e.RequestTimeout, b.RequestTimeout)
		e.IPMIPort = cmpOr(e.IPMIPort, b.IPMIPort)
	}
	e.Protocol = cmpOr(e.Protocol, bmc.ProtocolRedfish)
	if p, ok := profiles[e.Credentials]; ok && !e.TLS.IsSet() {
		e.TLS = p.TLS
	}
	return e
}

func cmpOr[T comparable](a, b T) T {
	var zero T
	if a != zero {
		return a
	}
	return b
}

// credentials checks that a server's credentials name a known profile,
// reporting an unknown name once, at the block that gives it.
func (c *checker) credentials(s *Server, blocks []*BMCConfig) {
	name := s.Effective.Credentials
	if name == "" {
		src := s.Source
		if s.BMC.Source.File != "" {
			src = s.BMC.Source
		}
		c.errorf(src, "", "server %s has no credentials: set bmc.credentials here or in a defaults block above it", s.Name)
		return
	}
	if _, ok := c.inv.Credentials[name]; ok {
		c.used[name] = true
		return
	}
	for _, b := range blocks {
		if b.Credentials != name {
			continue
		}
		if c.reported[b.Source] {
			return
		}
		c.reported[b.Source] = true
		src := b.Source
		src.Line = b.keyLines["credentials"]
		c.errorf(src, "credentials", "unknown credential profile %q%s", name, knownProfiles(name, c.inv.Credentials))
		return
	}
}

func knownProfiles(name string, profiles map[string]CredentialProfile) string {
	known := sortedKeys(profiles)
	if len(known) == 0 {
		return " (no credential profiles are defined)"
	}
	if s := suggest(name, known); strings.Contains(s, "did you mean") {
		return s
	}
	return " (defined: " + strings.Join(known, ", ") + ")"
}

// address checks a server's BMC address with its effective protocol and
// that no other server reaches the same BMC.
func (c *checker) address(s *Server) {
	if s.BMC.Source.File == "" {
		return // no bmc block: reported with the server
	}
	src := s.BMC.Source
	if line, ok := s.BMC.keyLines["address"]; ok {
		src.Line = line
	} else {
		c.errorf(src, "", "server %s has no BMC address", s.Name)
		return
	}
	addr, err := ParseAddress(s.BMC.Address, s.Effective.Protocol)
	if err != nil {
		c.errorf(src, "address", "%v", err)
		return
	}
	if line, ok := s.BMC.keyLines["ipmi_port"]; ok && s.Effective.Protocol != bmc.ProtocolAuto {
		at := s.BMC.Source
		at.Line = line
		c.warn(at, "ipmi_port", "ipmi_port is used by protocol auto only; with protocol %s it is ignored (for IPMI give the port in the address)", s.Effective.Protocol)
	}
	keys := addr.KeysWithIPMIPort(s.Effective.Protocol, s.Effective.IPMIPort)
	for _, key := range keys {
		if prev, dup := c.addresses[key]; dup {
			at := prev.BMC.Source
			at.Line = prev.BMC.keyLines["address"]
			c.errorf(src, "address", "duplicate BMC address: %s is also used by server %s (%s)", key, prev.Name, where(at, src))
			return
		}
	}
	for _, key := range keys {
		c.addresses[key] = s
	}
}
