package fleet

import (
	"errors"
	"fmt"
	"time"

	"github.com/rackpulse/rackpulse/agent"
	"github.com/rackpulse/rackpulse/bmc"
	"github.com/rackpulse/rackpulse/inventory"
)

// AgentReport is one report of a host's agent as the fleet saw it: the
// report, when it arrived, and how it reconciles with the BMC's view.
type AgentReport struct {
	Site   string
	Server *inventory.Server
	// At is when the report arrived.
	At     time.Time
	Report *agent.Report
	// Snapshot is the BMC's last good Snapshot (nil before one), which
	// the reconciliation compared the report with.
	Snapshot       *bmc.Snapshot
	Reconciliation Reconciliation
}

// agentState is what the fleet keeps of a server's agent.
type agentState struct {
	last *AgentReport
}

// StaleAfterIntervals is how many of its intervals an agent report is
// current for: older, it is stale (shown as such, never as zeros).
const StaleAfterIntervals = 3

// Stale reports whether the report is older at now than
// StaleAfterIntervals of the agent's interval (at least floor each).
func (ar *AgentReport) Stale(now time.Time, floor time.Duration) bool {
	interval := floor
	if ar.Report != nil {
		interval = max(interval, ar.Report.Interval)
	}
	return interval > 0 && now.Sub(ar.At) > StaleAfterIntervals*interval
}

// ErrUnknownServer is an agent report for a server this poller does not
// poll.
var ErrUnknownServer = errors.New("server not in this poller's inventory")

// ObserveAgent records an agent's report for a server, reconciles it with
// the server's BMC, and hands it to the sinks.
func (f *Fleet) ObserveAgent(server string, rep *agent.Report, at time.Time) (*AgentReport, error) {
	f.mu.Lock()
	srv, ok := f.servers[server]
	if !ok {
		f.mu.Unlock()
		return nil, fmt.Errorf("%w: %s", ErrUnknownServer, server)
	}
	snap := f.states[server].Snapshot
	ar := &AgentReport{Site: f.inv.Site, Server: srv, At: at, Report: rep, Snapshot: snap, Reconciliation: Reconcile(snap, rep)}
	if ar.Reconciliation.IdentityDiffers() {
		ar.Reconciliation.OtherServer = f.serverWithIdentity(rep.Identity, server)
	}
	f.agents[server] = &agentState{last: ar}
	sinks := f.sinks
	f.mu.Unlock()
	for _, s := range sinks {
		s.ObserveAgent(ar)
	}
	return ar, nil
}

// serverWithIdentity finds the server (other than self) whose BMC reports
// the agent's system UUID or serial. Called with f.mu held.
func (f *Fleet) serverWithIdentity(id agent.Identity, self string) string {
	uuid, serial := normID(id.SystemUUID), normID(id.SystemSerial)
	for name, st := range f.states {
		if name == self || st.Snapshot == nil {
			continue
		}
		for _, s := range st.Snapshot.Systems {
			if (uuid != "" && normID(s.UUID) == uuid) || (serial != "" && normID(s.Serial) == serial) {
				return name
			}
		}
	}
	return ""
}

// Agent returns a server's last agent report as the fleet saw it.
func (f *Fleet) Agent(server string) (*AgentReport, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a := f.agents[server]
	if a == nil {
		return nil, false
	}
	return a.last, true
}
