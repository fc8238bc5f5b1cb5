package web

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rackpulse/rackpulse/agent"
	"github.com/rackpulse/rackpulse/bmc"
	"github.com/rackpulse/rackpulse/fleet"
)

// DefaultMaxReportBytes bounds an agent report's body.
const DefaultMaxReportBytes = 4 << 20

// rejectionLogEvery is how often the same rejection (server and reason) is
// logged again: an agent retrying with a bad token must not fill the log.
const rejectionLogEvery = 10 * time.Minute

// AgentReceiver accepts agents' reports on POST /api/agents/{server}/report,
// each authenticated by its server's token (Authorization: Bearer), and
// hands them to the fleet. A rejection is a 4xx with the reason, logged
// once per server and reason; nothing else is affected.
type AgentReceiver struct {
	fleet    *fleet.Fleet
	log      *slog.Logger
	maxBytes int64
	results  *prometheus.CounterVec

	mu     sync.Mutex
	tokens map[string]bmc.Secret
	logged map[string]time.Time
}

// NewAgentReceiver builds the receiver; SetTokens gives it the inventory's
// agent tokens.
func NewAgentReceiver(f *fleet.Fleet, reg prometheus.Registerer, log *slog.Logger) *AgentReceiver {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &AgentReceiver{fleet: f, log: log, maxBytes: DefaultMaxReportBytes, tokens: map[string]bmc.Secret{}, logged: map[string]time.Time{},
		results: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rackpulse_agent_reports_total", Help: "Agent reports received, by result (accepted, unknown_server, no_token, bad_token, too_large, malformed).",
		}, []string{"result"})}
	if reg != nil {
		reg.MustRegister(r.results)
	}
	return r
}

// SetTokens replaces the agent tokens (at start and on every inventory
// reload): server name to token.
func (a *AgentReceiver) SetTokens(tokens map[string]bmc.Secret) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.tokens = tokens
}

// Register adds the report endpoint to a mux.
func (a *AgentReceiver) Register(mux *http.ServeMux) {
	handle(mux, "POST /api/agents/{server}/report", a.receive)
}

func (a *AgentReceiver) receive(w http.ResponseWriter, r *http.Request) {
	server := r.PathValue("server")
	a.mu.Lock()
	token, known := a.tokens[server]
	a.mu.Unlock()
	presented, hasBearer := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	switch {
	case !a.polled(server):
		a.reject(w, server, "unknown_server", http.StatusNotFound, "server "+server+" is not polled by this poller")
		return
	case !known:
		a.reject(w, server, "no_token", http.StatusUnauthorized, "no agent token is configured for server "+server+" (inventory: agent.token_env or agent.token_file)")
		return
	case !hasBearer || subtle.ConstantTimeCompare([]byte(presented), []byte(token.Reveal())) != 1:
		a.reject(w, server, "bad_token", http.StatusUnauthorized, "bad or missing agent token for server "+server)
		return
	}
	body := http.MaxBytesReader(w, r.Body, a.maxBytes)
	var rep agent.Report
	dec := json.NewDecoder(body)
	if err := dec.Decode(&rep); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			a.reject(w, server, "too_large", http.StatusRequestEntityTooLarge, fmt.Sprintf("report larger than %d bytes", a.maxBytes))
			return
		}
		a.reject(w, server, "malformed", http.StatusBadRequest, "report is not valid JSON: "+err.Error())
		return
	}
	switch {
	case rep.Version != agent.ReportVersion:
		a.reject(w, server, "malformed", http.StatusBadRequest, fmt.Sprintf("report version %d, this poller reads version %d", rep.Version, agent.ReportVersion))
		return
	case rep.Server != "" && rep.Server != server:
		a.reject(w, server, "malformed", http.StatusBadRequest, "report names server "+rep.Server+", posted for "+server)
		return
	}
	rep.Server = server
	if n := setAsideImplausibleHost(&rep); n > 0 {
		a.noteImplausible(server, n, rep.Problems)
	}
	ar, err := a.fleet.ObserveAgent(server, &rep, time.Now())
	if err != nil {
		a.reject(w, server, "unknown_server", http.StatusNotFound, err.Error())
		return
	}
	a.results.WithLabelValues("accepted").Inc()
	(&API{log: a.log}).writeJSON(w, struct {
		Accepted       bool                 `json:"accepted"`
		Reconciliation fleet.Reconciliation `json:"reconciliation"`
	}{true, ar.Reconciliation})
}

// polled reports whether the server is in the inventory this poller polls.
func (a *AgentReceiver) polled(server string) bool {
	inv, scope := a.fleet.Inventory()
	srv, ok := inv.Server(server)
	return ok && scope.Has(srv.Rack)
}

// reject answers a 4xx with the reason and logs it, once per server and
// reason every rejectionLogEvery.
func (a *AgentReceiver) reject(w http.ResponseWriter, server, result string, status int, reason string) {
	a.results.WithLabelValues(result).Inc()
	key := server + "\x00" + result
	a.mu.Lock()
	last, seen := a.logged[key]
	if !seen || time.Since(last) > rejectionLogEvery {
		a.logged[key] = time.Now()
		seen = false
	}
	if len(a.logged) > 10000 {
		clear(a.logged)
	}
	a.mu.Unlock()
	if !seen {
		a.log.Warn("agent report rejected", "server", server, "status", status, "reason", reason)
	}
	http.Error(w, reason, status)
}
