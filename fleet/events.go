package fleet

import "github.com/rackpulse/rackpulse/bmc"

// DefaultEventsPerServer bounds the BMC log entries kept per server.
const DefaultEventsPerServer = 100

// eventRing keeps a server's most recent log entries, oldest first, up to
// a bound.
type eventRing struct {
	entries []bmc.LogEntry
	next    int // where the next entry goes once full
	full    bool
}

func (r *eventRing) add(bound int, es []bmc.LogEntry) {
	for _, e := range es {
		if !r.full {
			r.entries = append(r.entries, e)
			if len(r.entries) == bound {
				r.full = true
			}
			continue
		}
		r.entries[r.next] = e
		r.next = (r.next + 1) % bound
	}
}

// list returns the entries, newest first.
func (r *eventRing) list() []bmc.LogEntry {
	out := make([]bmc.LogEntry, 0, len(r.entries))
	n := len(r.entries)
	for i := range n {
		out = append(out, r.entries[(r.next+n-1-i)%n])
	}
	return out
}
