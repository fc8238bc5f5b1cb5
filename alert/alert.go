package alert

import (
	"strconv"
	"time"
)

// rule identifies one alert rule.
type rule uint8

// The rules. Their names and labels are an interface (docs/alerts.md).
const (
	ruleDIMM rule = iota
	ruleCPU
	rulePSUFailed
	rulePSURedundancy
	ruleFan
	ruleDrive
	ruleInlet
	ruleUnreachable
	ruleRackBudget
	ruleFeedFailover
	ruleDiskSlow
	ruleNICErrors
	ruleInventoryMismatch
	ruleAgentSilent
	numRules
)

// ruleSet is a set of rules, one bit each.
type ruleSet uint16

// ruleInfo is what is fixed about a rule: its alert name and the label
// that names the component it is about ("" for one per server or rack).
type ruleInfo struct {
	name      string
	component string
	rackLevel bool
}

func (r rule) info() ruleInfo {
	switch r {
	case ruleDIMM:
		return ruleInfo{"DIMMFailing", "slot", false}
	case ruleCPU:
		return ruleInfo{"CPUHot", "cpu", false}
	case rulePSUFailed:
		return ruleInfo{"PSUFailed", "psu", false}
	case rulePSURedundancy:
		return ruleInfo{"PSURedundancyLost", "", false}
	case ruleFan:
		return ruleInfo{"FanFailed", "fan", false}
	case ruleDrive:
		return ruleInfo{"DriveFailing", "drive", false}
	case ruleInlet:
		return ruleInfo{"InletHot", "sensor", false}
	case ruleUnreachable:
		return ruleInfo{"BMCUnreachable", "", false}
	case ruleRackBudget:
		return ruleInfo{"RackOverBudget", "", true}
	case ruleFeedFailover:
		return ruleInfo{"FeedFailoverUnsafe", "feed", true}
	case ruleDiskSlow:
		return ruleInfo{"DiskSlow", "drive", false}
	case ruleNICErrors:
		return ruleInfo{"NICErrors", "nic", false}
	case ruleInventoryMismatch:
		return ruleInfo{"InventoryMismatch", "", false}
	case ruleAgentSilent:
		return ruleInfo{"AgentSilent", "", false}
	}
	return ruleInfo{}
}

func (r rule) String() string { return r.info().name }

// Names lists every alert name, in rule order.
func Names() []string {
	out := make([]string, numRules)
	for r := range numRules {
		out[r] = r.String()
	}
	return out
}

func ruleNamed(name string) (rule, bool) {
	for r := range numRules {
		if r.String() == name {
			return r, true
		}
	}
	return 0, false
}

// Severity is how bad a condition is.
type Severity uint8

// Severities, in order.
const (
	SeverityNone Severity = iota
	// SeverityInfo is for what someone should know but need not act on at
	// once (an agent that stopped reporting).
	SeverityInfo
	SeverityWarning
	SeverityCritical
)

func (s Severity) String() string {
	switch s {
	case SeverityInfo:
		return "info"
	case SeverityWarning:
		return "warning"
	case SeverityCritical:
		return "critical"
	}
	return "none"
}

// MarshalText writes the severity's name.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a severity's name.
func (s *Severity) UnmarshalText(b []byte) error {
	switch string(b) {
	case "info":
		*s = SeverityInfo
	case "warning":
		*s = SeverityWarning
	case "critical":
		*s = SeverityCritical
	default:
		*s = SeverityNone
	}
	return nil
}

// State is where an alert is in its life.
type State uint8

// Alert states.
const (
	// StatePending: the condition holds but not yet for the rule's
	// for-duration; nothing is sent.
	StatePending State = iota
	StateFiring
	StateResolved
)

func (s State) String() string {
	switch s {
	case StateFiring:
		return "firing"
	case StateResolved:
		return "resolved"
	}
	return "pending"
}

// MarshalText writes the state's name.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a state's name.
func (s *State) UnmarshalText(b []byte) error {
	switch string(b) {
	case "firing":
		*s = StateFiring
	case "resolved":
		*s = StateResolved
	default:
		*s = StatePending
	}
	return nil
}

// Alert is one alert as the engine holds it and the API, Alertmanager and
// storage see it.
type Alert struct {
	Name     string   `json:"alertname"`
	Severity Severity `json:"severity"`
	State    State    `json:"state"`
	// Labels are every label sent to Alertmanager, alertname and severity
	// included.
	Labels      map[string]string `json:"labels"`
	Annotations Annotations       `json:"annotations"`
	// GeneratorURL links to rackpulse's view of the server or rack.
	GeneratorURL string `json:"generator_url,omitempty"`
	// ActiveAt is when the condition was first seen; StartsAt when the
	// alert fired; EndsAt when it resolved.
	ActiveAt time.Time `json:"active_at"`
	StartsAt time.Time `json:"starts_at,omitzero"`
	EndsAt   time.Time `json:"ends_at,omitzero"`
	// Value and Threshold are what the condition compared, where it
	// compares numbers.
	Value     *float64 `json:"value,omitempty"`
	Threshold *float64 `json:"threshold,omitempty"`
}

// Annotations explain an alert to the person who gets it.
type Annotations struct {
	// Summary is one line a technician can act on.
	Summary string `json:"summary"`
	// Description gives the value, threshold and source (Redfish resource
	// or SEL entry), and the part's serial and part number where known.
	Description string `json:"description"`
}

// key identifies an alert within its server or rack: the rule, the
// component it is about, and the view it comes from ("" for the BMC's
// and the rollup's, "agent" for the host agent's): the two views alert
// apart, so that one never resolves what the other sees.
type key struct {
	rule    rule
	subject string
	from    string
}

// fromAgent marks alerts raised from an agent's report.
const fromAgent = "agent"

// finding is a rule's verdict on one component in one evaluation: a
// condition that holds (Severity above none), with what explains it.
type finding struct {
	key
	sev Severity
	// fromReading: a reading (not only a log event) shows the condition,
	// so only a reading can show recovery.
	fromReading bool
	value       float64
	threshold   float64
	hasValue    bool
	hasThresh   bool
	// what says what is wrong ("14 correctable errors in 24 h"); source
	// where it was seen; serial and part of the component where known.
	what, source, serial, part string
}

func formatFloat(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
