package redfish

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/stmcginnis/gofish/schemas"

	"github.com/rackpulse/rackpulse/bmc"
)

// A fault shows first in the statuses read every poll (a system's Health
// or HealthRollup, its MemorySummary or ProcessorSummary, a chassis), and
// the part that failed only in the parts read on the slow and static
// cadences (a DIMM in Memory, a drive in Storage, the log entry naming
// it, the processor's own Status). A change of one of those statuses
// since the previous poll therefore reads the slow parts and the
// processors at once, whatever their cadence, so that the poll that shows
// a system turning Warning also names the part. Comparing costs no
// request: the statuses come with the systems and chassis read anyway.

// healthPair is one resource's Status.Health and Status.HealthRollup.
type healthPair struct {
	health, rollup bmc.Health
}

func healthPairOf(st schemas.Status) healthPair {
	return healthPair{health: healthOf(st.Health), rollup: healthOf(st.HealthRollup)}
}

// earlyParts are the parts a health change reads before their cadence.
func earlyParts() []bmc.Part {
	return []bmc.Part{bmc.PartMemory, bmc.PartStorage, bmc.PartLogs, bmc.PartCPU}
}

// healthWatch remembers the statuses the previous polls read and the parts
// a change of one of them made due.
type healthWatch struct {
	// last holds each watched status by key ("system 1", "system 1
	// MemorySummary", "system 1 ProcessorSummary", "chassis 1"); nil until
	// the first poll. A member not read in a poll keeps its last status.
	last map[string]healthPair
	// pending are the parts still to be read because of a change, and
	// reason what changed; a part leaves pending once it was read in
	// full, so that a read deferred by a busy BMC or failed is done at
	// the next poll that may read it.
	pending map[bmc.Part]bool
	reason  string
}

// observe compares the statuses read this poll with the previous ones and
// remembers them. It returns what changed, in key order; a change makes
// every early part pending. The first poll only records the statuses
// (without spreading, it reads every part anyway); with notOKFirst, a
// status that is not OK at the first poll makes the early parts pending,
// so that a BMC with a fault at start-up names the part at once.
func (w *healthWatch) observe(cur map[string]healthPair, notOKFirst bool) []string {
	if w.last == nil {
		w.last = make(map[string]healthPair, len(cur))
		maps.Copy(w.last, cur)
		if !notOKFirst {
			return nil
		}
		var notOK []string
		for _, key := range slices.Sorted(maps.Keys(cur)) {
			if h := cur[key]; notOKHealth(h.health) || notOKHealth(h.rollup) {
				notOK = append(notOK, fmt.Sprintf("%s not OK at the first poll (Health %s, HealthRollup %s)", key, healthName(h.health), healthName(h.rollup)))
			}
		}
		if len(notOK) > 0 {
			w.markPending(notOK)
		}
		return notOK
	}
	var changes []string
	for _, key := range slices.Sorted(maps.Keys(cur)) {
		now := cur[key]
		was, seen := w.last[key]
		switch {
		case !seen:
			changes = append(changes, fmt.Sprintf("%s appeared (Health %s, HealthRollup %s)", key, healthName(now.health), healthName(now.rollup)))
		case was != now:
			var d []string
			if was.health != now.health {
				d = append(d, fmt.Sprintf("Health %s->%s", healthName(was.health), healthName(now.health)))
			}
			if was.rollup != now.rollup {
				d = append(d, fmt.Sprintf("HealthRollup %s->%s", healthName(was.rollup), healthName(now.rollup)))
			}
			changes = append(changes, key+" "+strings.Join(d, ", "))
		}
		w.last[key] = now
	}
	if len(changes) == 0 {
		return nil
	}
	w.markPending(changes)
	return changes
}

// notOKHealth is Warning or Critical.
func notOKHealth(h bmc.Health) bool { return h == bmc.HealthWarning || h == bmc.HealthCritical }

// markPending makes every early part pending, for the reasons given.
func (w *healthWatch) markPending(reasons []string) {
	if w.pending == nil {
		w.pending = make(map[bmc.Part]bool, 4)
	}
	for _, part := range earlyParts() {
		w.pending[part] = true
	}
	w.reason = strings.Join(reasons, "; ")
}

// due reports whether a health change makes part due.
func (w *healthWatch) due(part bmc.Part) bool { return w.pending[part] }

// parts lists the pending parts in a fixed order.
func (w *healthWatch) parts() []bmc.Part {
	var out []bmc.Part
	for _, part := range earlyParts() {
		if w.pending[part] {
			out = append(out, part)
		}
	}
	return out
}

// done drops the parts read in full this poll from pending.
func (w *healthWatch) done(complete []bmc.Part) {
	for _, part := range complete {
		delete(w.pending, part)
	}
	if len(w.pending) == 0 {
		w.reason = ""
	}
}

func healthName(h bmc.Health) string {
	if h == bmc.HealthUnknown {
		return "none"
	}
	return string(h)
}

// watch records the status of one resource read this poll.
func (p *poll) watch(key string, st schemas.Status) {
	if p.health == nil {
		p.health = map[string]healthPair{}
	}
	p.health[key] = healthPairOf(st)
}

// complete records that a slow or static part was read in full this poll
// (its cache stored), which settles a pending early read of it.
func (p *poll) complete(part bmc.Part) {
	if !slices.Contains(p.completed, part) {
		p.completed = append(p.completed, part)
	}
}
