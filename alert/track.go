package alert

import (
	"strings"
	"time"

	"github.com/rackpulse/rackpulse/bmc"
)

// maxIncrements bounds the increments a DIMM's counter keeps within its
// window; past it the two oldest are merged (their sum is kept).
const maxIncrements = 48

// dimmTrack follows one DIMM slot's correctable-error counter across
// polls, so that errors are counted per window from deltas: a counter that
// goes down was reset (by the BMC or a new DIMM) and its new value is all
// new errors; a new serial number is a new DIMM and starts afresh.
type dimmTrack struct {
	Slot   string `json:"slot"`
	Serial string `json:"serial,omitempty"`
	// Last is the counter's last value; Known whether there is one.
	Last  int64 `json:"last"`
	Known bool  `json:"known"`
	// Increments within the window, oldest first.
	Increments []increment `json:"increments,omitempty"`
	// Replaced is when the DIMM's serial last changed.
	Replaced time.Time `json:"replaced,omitzero"`
}

type increment struct {
	At time.Time `json:"at"`
	N  int64     `json:"n"`
}

// observe takes the DIMM's reading at at; fromZero says the counter
// started at 0 when its collector began counting (bmc.DIMM.CountsFromZero).
// It reports whether the DIMM was replaced (its serial changed).
func (t *dimmTrack) observe(serial string, count *int64, fromZero bool, at time.Time) (replaced bool) {
	if serial != "" && t.Serial != "" && serial != t.Serial {
		*t = dimmTrack{Slot: t.Slot, Replaced: at}
		replaced = true
	}
	if serial != "" {
		t.Serial = serial
	}
	if count == nil {
		return replaced
	}
	c := *count
	if !t.Known && !fromZero {
		// The first reading is a baseline: errors counted before it are
		// not dated, so they are not per window.
		t.Last, t.Known = c, true
		return replaced
	}
	if !t.Known {
		// A count from 0 (the SEL's, the log's): all of it is new.
		t.Last, t.Known = 0, true
	}
	n := c - t.Last
	if c < t.Last {
		n = c // reset: everything counted since is new
	}
	t.Last = c
	if n > 0 {
		t.Increments = append(t.Increments, increment{At: at, N: n})
		if len(t.Increments) > maxIncrements {
			t.Increments[1].N += t.Increments[0].N
			t.Increments = append(t.Increments[:0], t.Increments[1:]...)
		}
	}
	return replaced
}

// inWindow sums the increments within window before now, dropping older
// ones.
func (t *dimmTrack) inWindow(now time.Time, window time.Duration) int64 {
	cut := 0
	for cut < len(t.Increments) && now.Sub(t.Increments[cut].At) >= window {
		cut++
	}
	if cut > 0 {
		t.Increments = append(t.Increments[:0], t.Increments[cut:]...)
	}
	var sum int64
	for _, in := range t.Increments {
		sum += in.N
	}
	return sum
}

// eventCondition is a condition a BMC log entry raised: it holds until its
// hold runs out, or until a later entry says the component is OK again.
type eventCondition struct {
	Rule    rule     `json:"rule"`
	Subject string   `json:"subject"`
	Sev     Severity `json:"severity"`
	At      time.Time
	Until   time.Time
	What    string `json:"what"`
	Source  string `json:"source"`
}

// eventVerdict classifies a log entry for a rule: the severity it raises
// and what it says, clears when it says the component is OK again.
type eventVerdict struct {
	rule   rule
	sev    Severity
	clears bool
	what   string
}

// classifyEvent reads a BMC log entry (Redfish log or IPMI SEL) for the
// rules that take events: DIMM memory events and CPU thermal events. An
// entry must name its component's subject (the slot, the socket).
func classifyEvent(e *bmc.LogEntry) (eventVerdict, bool) {
	if e.Subject == "" {
		return eventVerdict{}, false
	}
	var r rule
	switch e.Component {
	case "DIMM":
		r = ruleDIMM
	case "CPU":
		r = ruleCPU
	default:
		return eventVerdict{}, false
	}
	if e.Severity == bmc.HealthOK {
		// A deassertion, or "returned to normal".
		return eventVerdict{rule: r, clears: true}, true
	}
	m := strings.ToLower(e.Message + " " + e.MessageID)
	has := func(words ...string) bool {
		for _, w := range words {
			if strings.Contains(m, w) {
				return true
			}
		}
		return false
	}
	switch r {
	case ruleDIMM:
		switch {
		case has("uncorrectable", "multi-bit", "multibit", "multi bit"):
			return eventVerdict{rule: r, sev: SeverityCritical, what: "uncorrectable memory error logged"}, true
		case has("logging limit", "logging disabled", "rate exceeded", "threshold exceeded", "limit reached"):
			return eventVerdict{rule: r, sev: SeverityWarning, what: "correctable error logging limit reached"}, true
		case has("disabled", "deconfigured", "mapped out"):
			return eventVerdict{rule: r, sev: SeverityCritical, what: "DIMM disabled"}, true
		}
	case ruleCPU:
		switch {
		case has("thermal trip", "thermtrip"):
			return eventVerdict{rule: r, sev: SeverityCritical, what: "thermal trip logged"}, true
		case has("throttl", "prochot"):
			return eventVerdict{rule: r, sev: SeverityWarning, what: "thermal throttling logged"}, true
		}
	}
	return eventVerdict{}, false
}

// cpuLabel names a CPU socket the way every source agrees on: "CPU" and
// its number ("CPU 1", "CPU1 Temp", "Processor 1", "CPU.Socket.1" are all
// "CPU1"); a name with no number stays as it is.
func cpuLabel(name string) string {
	if n := cpuNumber(name); n != "" {
		return "CPU" + n
	}
	return name
}

// cpuNumber finds the number after "cpu", "processor", "proc" or "socket"
// in a name, without leading zeros; "" when there is none.
func cpuNumber(name string) string {
	lower := strings.ToLower(name)
	for _, word := range []string{"cpu", "processor", "proc", "socket"} {
		from := 0
		for {
			i := strings.Index(lower[from:], word)
			if i < 0 {
				break
			}
			j := from + i + len(word)
			for j < len(lower) && strings.IndexByte(" #._-", lower[j]) >= 0 {
				j++
			}
			k := j
			for k < len(lower) && lower[k] >= '0' && lower[k] <= '9' {
				k++
			}
			if k > j {
				n := strings.TrimLeft(lower[j:k], "0")
				if n == "" {
					n = "0"
				}
				return n
			}
			from = j
		}
	}
	return ""
}
