package fleet

import (
	"time"

	"github.com/rackpulse/rackpulse/bmc"
)

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

// pollsPerServer bounds the poll outcomes kept per server.
const pollsPerServer = 10

// PollOutcome is how one poll of a server went, in brief.
type PollOutcome struct {
	At       time.Time     `json:"at"`
	OK       bool          `json:"ok"`
	Duration time.Duration `json:"duration_ns,omitempty"`
	Requests int           `json:"requests,omitempty"`
	// PartErrors names the parts that failed in a poll that read
	// something; Err is why a poll read nothing.
	PartErrors []string `json:"part_errors,omitempty"`
	Err        string   `json:"error,omitempty"`
}

// addOutcome adds o to a server's last outcomes, dropping the oldest past
// pollsPerServer. The list is made with room for exactly that many and
// shifted in place after: a fleet keeps one per server.
func addOutcome(polls []PollOutcome, o PollOutcome) []PollOutcome {
	if polls == nil {
		polls = make([]PollOutcome, 0, pollsPerServer)
	}
	if len(polls) < pollsPerServer {
		return append(polls, o)
	}
	copy(polls, polls[1:])
	polls[len(polls)-1] = o
	return polls
}

func outcomeOf(at time.Time, snap *bmc.Snapshot, err error) PollOutcome {
	o := PollOutcome{At: at, OK: snap != nil}
	if err != nil {
		o.Err = err.Error()
	}
	if snap != nil {
		o.Duration, o.Requests = snap.Poll.Duration, snap.Poll.Requests
		for _, pe := range snap.Poll.Errors {
			o.PartErrors = append(o.PartErrors, string(pe.Part)+": "+string(pe.Kind))
		}
	}
	return o
}
