package power

import (
	"slices"
	"strings"

	"github.com/rackpulse/rackpulse/bmc"
	"github.com/rackpulse/rackpulse/inventory"
)

// Server is one server's latest state as the feed model needs it.
type Server struct {
	Name     string
	Snapshot *bmc.Snapshot
	Power    Reading
}

// FeedLoad is the load on a rack's power feeds and what each feed failing
// would do to the others.
type FeedLoad struct {
	// Feeds are the rack's feeds (those it defines, and any a PSU is wired
	// to), sorted by name.
	Feeds []Feed `json:"feeds"`
	// Failover has one entry per feed: what the surviving feeds carry when
	// that feed fails.
	Failover []Failover `json:"failover"`
	// Servers counts the servers with a power reading, whose load is here.
	Servers int `json:"servers"`
	// UnwiredWatts is load drawn through PSU bays wired to no feed;
	// UnattributedWatts the load of servers whose working PSUs are unknown.
	// Neither is in a feed's Watts; both are counted on every surviving
	// feed in Failover.
	UnwiredWatts      float64 `json:"unwired_watts"`
	UnattributedWatts float64 `json:"unattributed_watts"`
	// SetAside lists the servers given whose load is not here because they
	// have no usable power reading, each with why (the readings the power
	// model set aside, or a reading that is not a plausible server's).
	SetAside []ServerSetAside `json:"set_aside,omitempty"`
}

// ServerSetAside is a server left out of a sum, and why.
type ServerSetAside struct {
	Server string `json:"server"`
	Reason string `json:"reason"`
}

// Unusable says why a server's power reading cannot be summed, or "" when
// it can: unknown (with the reasons its readings were set aside), or a
// value that is not a plausible server reading (bmc.ServerWattsBound).
func Unusable(r Reading) string {
	if !r.Known {
		if len(r.SetAside) == 0 {
			return "no power reading"
		}
		reasons := make([]string, 0, len(r.SetAside))
		for _, a := range r.SetAside {
			reasons = append(reasons, string(a.Source)+": "+a.Reason)
		}
		return "no usable power reading: " + strings.Join(reasons, "; ")
	}
	if why := bmc.ServerWattsBound().Check(r.Watts); why != "" {
		return "power " + why
	}
	return ""
}

// Feed is one feed's load now.
type Feed struct {
	Name string `json:"name"`
	// CapacityWatts is 0 when the inventory gives none.
	CapacityWatts float64 `json:"capacity_watts"`
	Watts         float64 `json:"watts"`
	// UtilizationPct is Watts over CapacityWatts, 0 without a capacity.
	UtilizationPct float64 `json:"utilization_pct"`
}

// Failover is the state of the rack after one feed fails: each server's load
// moves to its working PSUs on the other feeds.
type Failover struct {
	Failed string `json:"failed"`
	// Survivor is the surviving feed with the least headroom (the most
	// loaded relative to its capacity).
	Survivor      string  `json:"survivor,omitempty"`
	LoadWatts     float64 `json:"load_watts"`
	CapacityWatts float64 `json:"capacity_watts"`
	// HeadroomWatts is CapacityWatts − LoadWatts (negative: overloaded);
	// HeadroomPct the same as a share of CapacityWatts. Both 0 when the
	// survivor's capacity is unknown.
	HeadroomWatts float64 `json:"headroom_watts"`
	HeadroomPct   float64 `json:"headroom_pct"`
	Overloaded    bool    `json:"overloaded"`
	// ServersDropped counts servers with no working PSU on a surviving
	// feed: they go dark, and their load is not carried.
	ServersDropped int `json:"servers_dropped"`
}

// psuShare is one working PSU's share of its server's load.
type psuShare struct {
	feed  string
	watts float64
}

// RackFeeds returns the load on each of the rack's feeds from the servers
// given (pass the live ones), using the rack's PSU-to-feed wiring. A
// server's load is split over its working PSUs in proportion to their input
// watts where every working PSU publishes one, else in equal shares.
func RackFeeds(rack *inventory.Rack, servers []Server) FeedLoad {
	var out FeedLoad
	names := rack.FeedNames()
	perServer := make([][]psuShare, 0, len(servers))
	for i := range servers {
		s := &servers[i]
		if why := Unusable(s.Power); why != "" {
			if s.Power.Known || len(s.Power.SetAside) > 0 {
				out.SetAside = append(out.SetAside, ServerSetAside{Server: s.Name, Reason: why})
			}
			continue
		}
		out.Servers++
		shares := split(rack, s)
		if shares == nil {
			out.UnattributedWatts += s.Power.Watts
			continue
		}
		for _, sh := range shares {
			if sh.feed == "" {
				out.UnwiredWatts += sh.watts
			} else if !slices.Contains(names, sh.feed) {
				names = append(names, sh.feed)
			}
		}
		perServer = append(perServer, shares)
	}
	slices.Sort(names)
	load := map[string]float64{}
	for _, shares := range perServer {
		for _, sh := range shares {
			if sh.feed != "" {
				load[sh.feed] += sh.watts
			}
		}
	}
	for _, n := range names {
		f := Feed{Name: n, CapacityWatts: feedCapacity(rack, n), Watts: load[n]}
		if f.CapacityWatts > 0 {
			f.UtilizationPct = 100 * f.Watts / f.CapacityWatts
		}
		out.Feeds = append(out.Feeds, f)
	}
	if len(names) > 1 {
		for _, failed := range names {
			out.Failover = append(out.Failover, failover(rack, names, failed, perServer, out.UnwiredWatts+out.UnattributedWatts))
		}
	}
	return out
}

// split returns the server's load per working PSU, or nil when the
// snapshot lists no working PSU.
func split(rack *inventory.Rack, s *Server) []psuShare {
	if s.Snapshot == nil {
		return nil
	}
	var shares []psuShare
	var inputSum float64
	allInputs := true
	for i := range s.Snapshot.PSUs {
		p := &s.Snapshot.PSUs[i]
		if !Present(p) || !Working(p) {
			continue
		}
		shares = append(shares, psuShare{feed: rack.FeedOf(p.Bay)})
		if p.InputWatts == nil || bmc.PSUWattsBound().Check(*p.InputWatts) != "" {
			allInputs = false
		} else {
			inputSum += *p.InputWatts
			shares[len(shares)-1].watts = *p.InputWatts
		}
	}
	if len(shares) == 0 {
		return nil
	}
	for i := range shares {
		if allInputs && inputSum > 0 {
			shares[i].watts = s.Power.Watts * shares[i].watts / inputSum
		} else {
			shares[i].watts = s.Power.Watts / float64(len(shares))
		}
	}
	return shares
}

// failover moves every server's load off the failed feed onto its PSUs on
// the surviving feeds, in proportion to their current shares (equally when
// those are all zero, as for a standby spare), and returns the tightest
// survivor. Load of unknown feed (unwired, unattributed) is counted on every
// survivor: the cautious assumption.
func failover(rack *inventory.Rack, names []string, failed string, perServer [][]psuShare, unknownWatts float64) Failover {
	out := Failover{Failed: failed}
	load := map[string]float64{}
	for _, shares := range perServer {
		var total, surviving float64
		var survivors int
		for _, sh := range shares {
			if sh.feed == "" {
				continue // in unknownWatts already
			}
			total += sh.watts
			if sh.feed != failed {
				surviving += sh.watts
				survivors++
			}
		}
		if survivors == 0 {
			out.ServersDropped++
			continue
		}
		for _, sh := range shares {
			if sh.feed == failed || sh.feed == "" {
				continue
			}
			if surviving > 0 {
				load[sh.feed] += total * sh.watts / surviving
			} else {
				load[sh.feed] += total / float64(survivors)
			}
		}
	}
	first := true
	for _, n := range names {
		if n == failed {
			continue
		}
		l := load[n] + unknownWatts
		c := feedCapacity(rack, n)
		cand := Failover{Failed: failed, Survivor: n, LoadWatts: l, CapacityWatts: c, ServersDropped: out.ServersDropped}
		if c > 0 {
			cand.HeadroomWatts = c - l
			cand.HeadroomPct = 100 * cand.HeadroomWatts / c
			cand.Overloaded = l > c
		}
		if first || tighter(cand, out) {
			out = cand
			first = false
		}
	}
	return out
}

// feedCapacity is a feed's capacity from the inventory, 0 (unknown) when
// it is not a plausible number.
func feedCapacity(rack *inventory.Rack, feed string) float64 {
	c := rack.Feeds[feed].CapacityWatts
	if !bmc.Finite(c) || c < 0 {
		return 0
	}
	return c
}

// tighter reports whether survivor a is closer to overload than b: by
// headroom share where both capacities are known, else by load.
func tighter(a, b Failover) bool {
	if a.CapacityWatts > 0 && b.CapacityWatts > 0 {
		return a.HeadroomPct < b.HeadroomPct
	}
	if (a.CapacityWatts > 0) != (b.CapacityWatts > 0) {
		return a.CapacityWatts > 0
	}
	return a.LoadWatts > b.LoadWatts
}
