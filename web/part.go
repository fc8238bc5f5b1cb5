package web

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/rackpulse/rackpulse/fleet"
	"github.com/rackpulse/rackpulse/inventory"
	"github.com/rackpulse/rackpulse/rollup"
)

// part is the part of the site that ?rack=, ?row= and ?room= select: the
// racks of the inventory in force (those this poller polls) that match
// every name given.
type part struct {
	Room string `json:"room,omitempty"`
	Row  string `json:"row,omitempty"`
	Rack string `json:"rack,omitempty"`
	// racks are the selected racks in inventory order; nil for the whole
	// site.
	racks []*inventory.Rack
}

func (p *part) whole() bool { return p.Room == "" && p.Row == "" && p.Rack == "" }

func (p *part) has(rack string) bool {
	return p.whole() || slices.ContainsFunc(p.racks, func(r *inventory.Rack) bool { return r.Name == rack })
}

// partError is why a part cannot be selected, with its status.
type partError struct {
	status int
	msg    string
}

func (e *partError) write(w http.ResponseWriter) { http.Error(w, e.msg, e.status) }

// selectPart reads ?rack=, ?row= and ?room= against the inventory's racks
// in scope. A name no rack in scope carries is a 404 with the closest
// known name, or the known names when none is close; a rack of the
// inventory that another poller polls is a 404 saying so; names that
// exist but select no rack together are a 404 saying why.
func selectPart(q url.Values, inv *inventory.Inventory, scope fleet.Scope) (*part, *partError) {
	p := &part{Room: q.Get("room"), Row: q.Get("row"), Rack: q.Get("rack")}
	if p.whole() {
		return p, nil
	}
	var inScope []*inventory.Rack
	for _, r := range inv.Racks() {
		if scope.Has(r.Name) {
			inScope = append(inScope, r)
		}
	}
	levels := []struct {
		what, name string
		of         func(*inventory.Rack) string
	}{
		{"room", p.Room, func(r *inventory.Rack) string { return r.Room }},
		{"row", p.Row, func(r *inventory.Rack) string { return r.Row }},
		{"rack", p.Rack, func(r *inventory.Rack) string { return r.Name }},
	}
	for _, l := range levels {
		if l.name == "" {
			continue
		}
		var known []string
		for _, r := range inScope {
			if n := l.of(r); !slices.Contains(known, n) {
				known = append(known, n)
			}
		}
		if slices.Contains(known, l.name) {
			continue
		}
		if slices.ContainsFunc(inv.Racks(), func(r *inventory.Rack) bool { return l.of(r) == l.name }) {
			return nil, &partError{http.StatusNotFound, fmt.Sprintf("%s %q is not polled here: this poller polls %ss %s",
				l.what, l.name, l.what, strings.Join(known, ", "))}
		}
		return nil, &partError{http.StatusNotFound, fmt.Sprintf("no %s %q%s", l.what, l.name, suggestName(l.what, l.name, known))}
	}
	if p.Row != "" && p.Room == "" && p.Rack == "" {
		var rooms []string
		for _, r := range inScope {
			if r.Row == p.Row && !slices.Contains(rooms, r.Room) {
				rooms = append(rooms, r.Room)
			}
		}
		if len(rooms) > 1 {
			return nil, &partError{http.StatusBadRequest, fmt.Sprintf("rooms %s each have a row %q: add room=", strings.Join(rooms, ", "), p.Row)}
		}
	}
	for _, r := range inScope {
		if (p.Room == "" || r.Room == p.Room) && (p.Row == "" || r.Row == p.Row) && (p.Rack == "" || r.Name == p.Rack) {
			p.racks = append(p.racks, r)
		}
	}
	if len(p.racks) == 0 {
		return nil, &partError{http.StatusNotFound, "no rack is in " + p.describe()}
	}
	return p, nil
}

// describe names the part: rack r12, row row-a of room hall-1.
func (p *part) describe() string {
	var s []string
	if p.Rack != "" {
		s = append(s, "rack "+p.Rack)
	}
	if p.Row != "" {
		s = append(s, "row "+p.Row)
	}
	if p.Room != "" {
		s = append(s, "room "+p.Room)
	}
	return strings.Join(s, " and ")
}

// suggestName is ` (did you mean "r12"?)` when one known name is closest
// to a mistyped one and close enough, else the known names.
func suggestName(what, name string, known []string) string {
	if len(known) == 0 {
		return ": this poller polls none"
	}
	best, bestDist, ties := "", -1, 0
	for _, k := range known {
		switch d := inventory.EditDistance(strings.ToLower(name), strings.ToLower(k)); {
		case bestDist < 0 || d < bestDist:
			best, bestDist, ties = k, d, 1
		case d == bestDist:
			ties++
		}
	}
	if ties == 1 && bestDist <= max(1, len(name)/3) {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	return fmt.Sprintf(" (known %ss: %s)", what, strings.Join(known, ", "))
}

// partRollup is /api/rollup for a part of the site: the rollup's shape,
// with the part and its totals in place of the site.
type partRollup struct {
	Time      time.Time     `json:"time"`
	Freshness time.Duration `json:"freshness_ns"`
	FromRacks bool          `json:"from_racks"`
	Part      *part         `json:"part"`
	// Totals is the part's node (rack, row or room); null when the
	// rollup has none, with Note saying why.
	Totals  *rollup.Node          `json:"totals"`
	Note    string                `json:"note,omitempty"`
	Rooms   []rollup.Node         `json:"rooms"`
	Rows    []rollup.Node         `json:"rows"`
	Racks   []rollup.Node         `json:"racks"`
	Servers []rollup.ServerResult `json:"servers"`
}

// partRollupOf cuts a cycle's rollup to a part: its rooms (a room
// selected), rows (a row or room selected), racks and servers, and the
// totals of the most precise level named.
func partRollupOf(v *fleet.View, p *part) *partRollup {
	res := &v.Result
	out := &partRollup{Time: res.Time, Freshness: res.Freshness, FromRacks: res.FromRacks, Part: p,
		Rooms: []rollup.Node{}, Rows: []rollup.Node{}, Racks: []rollup.Node{}, Servers: []rollup.ServerResult{}}
	room := p.racks[0].Room // the selected racks share one room: a row named alone is in one room
	for i := range res.Rooms {
		if p.Rack == "" && p.Row == "" && res.Rooms[i].Name == p.Room {
			out.Rooms = append(out.Rooms, res.Rooms[i])
			out.Totals = &out.Rooms[len(out.Rooms)-1]
		}
	}
	for i := range res.Rows {
		n := &res.Rows[i]
		if p.Rack == "" && n.Room == room && (p.Row == "" || n.Name == p.Row) {
			out.Rows = append(out.Rows, *n)
			if p.Row != "" {
				out.Totals = &out.Rows[len(out.Rows)-1]
			}
		}
	}
	for i := range res.Racks {
		if p.has(res.Racks[i].Name) {
			out.Racks = append(out.Racks, res.Racks[i])
			if p.Rack != "" {
				out.Totals = &out.Racks[len(out.Racks)-1]
			}
		}
	}
	for i := range res.Servers {
		if p.has(res.Servers[i].Rack) {
			out.Servers = append(out.Servers, res.Servers[i])
		}
	}
	if out.Totals == nil {
		out.Note = "this rollup has no node for " + p.describe() + ": a poller of some racks publishes racks only, the site rollup (rackpulse rollup) sums rows and rooms"
	}
	return out
}
