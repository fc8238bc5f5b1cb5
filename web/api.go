// Package web serves the HTTP API (/api/*) over the fleet's live state
// and the alert engine's alerts. It knows fleet and alert; it does not
// know protocols or storage.
package web

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
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
	// started is when the first rollup's interval began (the API is built
	// in the same start-up as the fleet's rollup loop); now is the clock.
	started time.Time
	now     func() time.Time
}

// NewAPI builds the API over a fleet and its alerts (either may be nil:
// the site role has no fleet). Build it when the fleet's rollup loop is
// started: the 503 before the first rollup counts the first interval
// from here.
func NewAPI(f *fleet.Fleet, alerts AlertLister, log *slog.Logger) *API {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &API{fleet: f, alerts: alerts, log: log, started: time.Now(), now: time.Now}
}

// Register adds the API's routes to a mux: the index (GET /api) and the
// 404 naming it under /api/, the fleet's (servers, rollup, power, events,
// agent) when there is a fleet, the alerts when there are alerts. Every
// route comes from routeTable, which the index lists.
func (a *API) Register(mux *http.ServeMux) {
	handle(mux, "GET /api", a.index(mux))
	handle(mux, "GET /api/{$}", a.index(mux))
	handle(mux, "GET /api/", notFound(mux))
	if a.fleet != nil {
		handle(mux, "GET /api/servers", a.servers)
		handle(mux, "GET /api/rollup", a.rollup)
		handle(mux, "GET /api/power", a.power)
		handle(mux, "GET /api/events", a.events)
		handle(mux, "GET /api/agent", a.agentReport)
	}
	if a.alerts != nil {
		handle(mux, "GET /api/alerts", a.listAlerts)
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

// servers lists the latest poll of every server (?rack=, ?row=, ?room=:
// of that part of the site), or with ?server=NAME that server's whole
// Snapshot.
func (a *API) servers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if name := q.Get("server"); name != "" {
		if len(q) > 1 {
			http.Error(w, "server= names one server: give it alone", http.StatusBadRequest)
			return
		}
		snap, ok := a.fleet.Snapshot(name)
		if !ok {
			http.Error(w, "no snapshot for server "+name, http.StatusNotFound)
			return
		}
		a.writeJSON(w, snap)
		return
	}
	p, ok := a.part(w, q)
	if !ok {
		return
	}
	sums := a.fleet.Summaries()
	if !p.whole() {
		in := map[string]bool{}
		for _, rack := range p.racks {
			for _, s := range rack.Servers {
				in[s.Name] = true
			}
		}
		sums = slices.DeleteFunc(sums, func(s fleet.ServerSummary) bool { return !in[s.Server] })
	}
	a.writeJSON(w, sums)
}

// part selects the part of the site the query names, or answers why it
// cannot.
func (a *API) part(w http.ResponseWriter, q url.Values) (*part, bool) {
	inv, scope := a.fleet.Inventory()
	p, err := selectPart(q, inv, scope)
	if err != nil {
		err.write(w)
		return nil, false
	}
	return p, true
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

// rollup serves the last rollup, or with ?rack=, ?row= or ?room= that
// part's nodes, servers and totals.
func (a *API) rollup(w http.ResponseWriter, r *http.Request) {
	p, ok := a.part(w, r.URL.Query())
	if !ok {
		return
	}
	v := a.fleet.View()
	if v == nil {
		a.noRollupYet(w)
		return
	}
	if p.whole() {
		a.writeJSON(w, &v.Result)
		return
	}
	a.writeJSON(w, partRollupOf(v, p))
}

// power serves the racks' feeds and energy at the last rollup, or with
// ?rack=, ?row= or ?room= those of that part's racks.
func (a *API) power(w http.ResponseWriter, r *http.Request) {
	p, ok := a.part(w, r.URL.Query())
	if !ok {
		return
	}
	v := a.fleet.View()
	if v == nil {
		a.noRollupYet(w)
		return
	}
	if p.whole() {
		a.writeJSON(w, a.fleet.RackPower())
		return
	}
	out := []fleet.RackPower{}
	for _, rack := range p.racks {
		if rp, ok := v.Racks[rack.Name]; ok {
			out = append(out, rp)
		}
	}
	a.writeJSON(w, out)
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

// noRollupYet answers 503 before the first rollup, saying when it is
// due: one interval after the start, when every BMC has had its first
// poll (first polls are spread over the first interval). Retry-After
// says the same.
func (a *API) noRollupYet(w http.ResponseWriter) {
	interval := a.fleet.Interval()
	left := a.started.Add(interval).Sub(a.now())
	var msg string
	if left > 0 {
		msg = fmt.Sprintf("no rollup yet: the first is due in about %s, after every BMC's first poll (interval %s)", about(left), interval)
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(left.Seconds()))))
	} else {
		msg = fmt.Sprintf("no rollup yet: the first was due about %s ago, after every BMC's first poll (interval %s); if this lasts, the log says why", about(-left), interval)
		w.Header().Set("Retry-After", "1")
	}
	http.Error(w, msg, http.StatusServiceUnavailable)
}

// about is a duration for people: whole seconds (rounded up) below two
// minutes, whole minutes above.
func about(d time.Duration) string {
	if d < 2*time.Minute {
		return strconv.Itoa(int(math.Ceil(d.Seconds()))) + " s"
	}
	return strconv.Itoa(int(d.Round(time.Minute).Minutes())) + " min"
}
