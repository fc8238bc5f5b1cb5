package alert

import (
	"strconv"
	"strings"
)

// label sets a server alert's labels (anew when its severity changed:
// notifications already handed on keep theirs), annotations and link.
func (e *Engine) label(a *active, st *serverState) {
	info := a.rule.info()
	a.alert.Name = info.name
	srv := st.srv
	if srv == nil {
		return // restored, and not in an inventory yet
	}
	if a.alert.Labels["severity"] != a.alert.Severity.String() || a.alert.Labels["position"] != strconv.Itoa(srv.Position) || a.alert.Labels["rack"] != srv.Rack {
		l := map[string]string{
			"alertname": info.name, "severity": a.alert.Severity.String(),
			"site": e.site, "room": srv.Room, "row": srv.Row, "rack": srv.Rack,
			"server": srv.Name, "position": strconv.Itoa(srv.Position),
		}
		if info.component != "" {
			l[info.component] = a.subject
		}
		if a.from != "" {
			l["source"] = a.from
		}
		a.alert.Labels = l
	}
	where := srv.Name + " (rack " + srv.Rack + ", U" + strconv.Itoa(srv.Position) + ")"
	a.alert.Annotations = Annotations{Summary: serverSummary(a, where), Description: description(&a.last)}
	a.alert.GeneratorURL = e.generatorURL(srv.Name)
}

// labelRack sets a rack alert's labels, annotations and link.
func (e *Engine) labelRack(a *active, rs *rackState) {
	info := a.rule.info()
	a.alert.Name = info.name
	if a.alert.Labels["severity"] != a.alert.Severity.String() {
		l := map[string]string{
			"alertname": info.name, "severity": a.alert.Severity.String(),
			"site": e.site, "room": rs.room, "row": rs.row, "rack": rs.name,
		}
		if info.component != "" {
			l[info.component] = a.subject
		}
		a.alert.Labels = l
	}
	var summary string
	switch a.rule {
	case ruleRackBudget:
		summary = "Rack " + rs.name + " is over its power budget: " + a.last.what
	case ruleFeedFailover:
		summary = "Rack " + rs.name + " is not failover-safe: " + a.last.what
	}
	a.alert.Annotations = Annotations{Summary: summary, Description: description(&a.last)}
	a.alert.GeneratorURL = e.generatorURL("")
}

// serverSummary is the one line a technician acts on, naming the part as
// the board prints it, the server, its rack and its U position.
func serverSummary(a *active, where string) string {
	what := a.last.what
	switch a.rule {
	case ruleDIMM:
		return "Replace DIMM " + a.subject + " in " + where + ": " + what
	case ruleCPU:
		return "Check the cooling of " + a.subject + " in " + where + ": " + what
	case rulePSUFailed:
		if strings.HasPrefix(what, "input lost") {
			return "Restore input to PSU " + a.subject + " in " + where + ": " + what
		}
		return "Replace PSU " + a.subject + " in " + where + ": " + what
	case rulePSURedundancy:
		return where + " runs without PSU redundancy: " + what
	case ruleFan:
		return "Replace fan " + a.subject + " in " + where + ": " + what
	case ruleDrive:
		return "Replace drive " + a.subject + " in " + where + ": " + what
	case ruleInlet:
		return "Check the cold aisle at " + where + ": inlet " + a.subject + " at " + what
	case ruleUnreachable:
		return "BMC of " + where + " is unreachable: " + what
	case ruleDiskSlow:
		return "Check drive " + a.subject + " in " + where + ", it is slow: " + what
	case ruleNICErrors:
		return "Check the cable and port of " + a.subject + " in " + where + ": " + what
	case ruleInventoryMismatch:
		return "The inventory entry " + where + " does not match its host: " + what
	case ruleAgentSilent:
		return "The agent of " + where + " stopped reporting: " + what
	}
	return where + ": " + what
}

// description gives what was seen, where, and the part's identity.
func description(f *finding) string {
	var b strings.Builder
	b.WriteString(f.what)
	if f.source != "" {
		b.WriteString(". Source: ")
		b.WriteString(f.source)
	}
	if f.serial != "" {
		b.WriteString(". Serial number ")
		b.WriteString(f.serial)
	}
	if f.part != "" {
		b.WriteString(". Part number ")
		b.WriteString(f.part)
	}
	b.WriteString(".")
	return b.String()
}
