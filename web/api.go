// Package web serves the HTTP API (/api/*) over the fleet's live state
// and the alert engine's alerts. It knows fleet and alert; it does not
// know protocols or storage.
package web

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/rackpulse/rackpulse/agent"
	"github.com/rackpulse/rackpulse/alert"
	"github.com/rackpulse/rackpulse/fleet"
)

// AlertLister lists the alerts (the alert engine).
type AlertLister interface {
	Alerts() []alert.Alert
}

// API serves /api/* for one fleet and its alerts.
type API struct {
	fleet  *fleet.Fleet
	alerts AlertLister
	log    *slog.Logger
}

// NewAPI builds the API over a fleet and its alerts (either may be nil:
// the site role has no fleet).
func NewAPI(f *fleet.Fleet, alerts AlertLister, log *slog.Logger) *API {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &API{fleet: f, alerts: alerts, log: log}
}

// Register adds the API's routes to a mux: the fleet's (servers, rollup,
// power, events) when there is a fleet, the alerts when there are alerts.
func (a *API) Register(mux *http.ServeMux) {
	if a.fleet != nil {
		mux.HandleFunc("GET /api/servers", a.servers)
		mux.HandleFunc("GET /api/rollup", a.rollup)
		mux.HandleFunc("GET /api/power", a.power)
		mux.HandleFunc("GET /api/events", a.events)
		mux.HandleFunc("GET /api/agent", a.agentReport)
	}
	if a.alerts != nil {
		mux.HandleFunc("GET /api/alerts", a.listAlerts)
	}
}

// listAlerts lists the pending and firing alerts and those resolved in the
// last 24 hours; ?state=firing (pending, resolved) keeps one state,
// ?server= and ?rack= one server's or rack's.
func (a *API) listAlerts(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	state, server, rack := q.Get("state"), q.Get("server"), q.Get("rack")
	switch state {
	case "", "pending", "firing", "resolved":
	default:
		http.Error(w, "state must be pending, firing or resolved", http.StatusBadRequest)
		return
	}
	out := []alert.Alert{}
	for _, al := range a.alerts.Alerts() {
		if (state == "" || al.State.String() == state) && (server == "" || al.Labels["server"] == server) && (rack == "" || al.Labels["rack"] == rack) {
			out = append(out, al)
		}
	}
	a.writeJSON(w, out)
}

// servers lists the latest poll of every server, or with ?server=NAME that
// server's whole Snapshot.
func (a *API) servers(w http.ResponseWriter, r *http.Request) {
	if name := r.URL.Query().Get("server"); name != "" {
		snap, ok := a.fleet.Snapshot(name)
		if !ok {
			http.Error(w, "no snapshot for server "+name, http.StatusNotFound)
			return
		}
		a.writeJSON(w, snap)
		return
	}
	a.writeJSON(w, a.fleet.Summaries())
}

// events lists a server's recent BMC log entries (?server=NAME), newest
// first.
func (a *API) events(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("server")
	if name == "" {
		http.Error(w, "name a server: /api/events?server=NAME", http.StatusBadRequest)
		return
	}
	a.writeJSON(w, a.fleet.Events(name))
}

// agentReport answers a server's last agent report (?server=NAME) with
// when it arrived and how it reconciles with the BMC.
func (a *API) agentReport(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("server")
	if name == "" {
		http.Error(w, "name a server: /api/agent?server=NAME", http.StatusBadRequest)
		return
	}
	ar, ok := a.fleet.Agent(name)
	if !ok {
		http.Error(w, "no agent report for server "+name, http.StatusNotFound)
		return
	}
	a.writeJSON(w, struct {
		Server     string    `json:"server"`
		ReceivedAt time.Time `json:"received_at"`
		// Stale: older than three of the agent's intervals.
		Stale          bool                 `json:"stale"`
		Reconciliation fleet.Reconciliation `json:"reconciliation"`
		Report         *agent.Report        `json:"report"`
	}{name, ar.At, ar.Stale(time.Now(), 0), ar.Reconciliation, ar.Report})
}

func (a *API) rollup(w http.ResponseWriter, _ *http.Request) {
	writeCycleJSON(w, a.fleet.RollupJSON())
}

func (a *API) power(w http.ResponseWriter, _ *http.Request) {
	writeCycleJSON(w, a.fleet.PowerJSON())
}

// writeJSON encodes v whole before answering, so an encoding error is a
// 500 with the reason, never a truncated 200.
func (a *API) writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		a.log.Error("API answer cannot be encoded", "err", err)
		http.Error(w, "encoding the answer: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(append(b, '\n'))
}

// writeCycleJSON serves what the last rollup cycle published, or 503
// before the first one.
func writeCycleJSON(w http.ResponseWriter, b []byte) {
	if b == nil {
		http.Error(w, "no rollup yet", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}
