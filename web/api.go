// Package web serves the HTTP API (/api/*) over the fleet's live state
// and the alert engine's alerts. It knows fleet and alert; it does not
// know protocols or storage.
package web

import (
	"encoding/json"
	"log/slog"
	"net/http"

	"github.com/rackpulse/rackpulse/fleet"
)

// API serves /api/* for one fleet.
type API struct {
	fleet *fleet.Fleet
	log   *slog.Logger
}

// NewAPI builds the API over a fleet.
func NewAPI(f *fleet.Fleet, log *slog.Logger) *API {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &API{fleet: f, log: log}
}

// Register adds the API's routes to a mux.
func (a *API) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/servers", a.servers)
	mux.HandleFunc("GET /api/rollup", a.rollup)
	mux.HandleFunc("GET /api/power", a.power)
	mux.HandleFunc("GET /api/events", a.events)
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
