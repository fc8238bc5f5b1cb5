package web

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// Route is one endpoint: its method and path, the query parameters it
// takes and what it answers. Every handler of this package is registered
// through routeTable (handle refuses a pattern that is not in it), and
// GET /api lists the table's routes that are registered on its mux, so
// the index cannot drift from what is served.
type Route struct {
	Method string `json:"method"`
	// Path is the mux pattern's path: {name} is a path segment, a
	// trailing / a subtree, {$} the exact path ("/{$}" is shown as "/").
	Path    string  `json:"path"`
	Params  []Param `json:"params"`
	Answers string  `json:"answers"`
	// Example is a request to try, when the route takes parameters.
	Example string `json:"example,omitempty"`
	// strict rejects query parameters that are not in Params (every
	// /api route: a typo must not be ignored in silence).
	strict bool
}

// Param is one query parameter of a route.
type Param struct {
	Name     string `json:"name"`
	Means    string `json:"means"`
	Required bool   `json:"required,omitempty"`
}

func (rt *Route) pattern() string { return rt.Method + " " + rt.Path }

// shownPath is the path as a client writes it.
func (rt *Route) shownPath() string {
	if rt.Path == "/api/" {
		return "/api/*"
	}
	return strings.TrimSuffix(rt.Path, "{$}")
}

// partParams are the parameters that select a part of the site.
func partParams(of string) []Param {
	return []Param{
		{Name: "rack", Means: "only this rack's " + of},
		{Name: "row", Means: "only this row's " + of + " (with room= when rooms share the row's name)"},
		{Name: "room", Means: "only this room's " + of},
	}
}

var fragmentParam = []Param{{Name: "fragment", Means: "1: only the page's live part (what the page fetches every interval)"}}

// routeTable is every route the package (and the command, for /healthz
// and /metrics) serves. It is built on each call: nothing shares it.
func routeTable() []Route {
	indexAnswers := "this index: every endpoint, its query parameters and what it answers (JSON; text when the Accept header asks for text/plain)"
	return []Route{
		{Method: "GET", Path: "/api", strict: true, Answers: indexAnswers},
		{Method: "GET", Path: "/api/{$}", strict: true, Answers: indexAnswers},
		{Method: "GET", Path: "/api/servers", strict: true,
			Params:  append([]Param{{Name: "server", Means: "that server's whole last Snapshot instead of the list (alone)"}}, partParams("servers")...),
			Answers: "the latest poll of every polled server in brief (server, rack, time, health, requests, errors), by name",
			Example: "/api/servers?rack=r12"},
		{Method: "GET", Path: "/api/rollup", strict: true, Params: partParams("nodes, servers and totals"),
			Answers: "the last rollup: site, rooms, rows, racks and servers with power, budget, coverage and faults; with rack=, row= or room= that part's nodes and servers and its totals; 503 before the first rollup, saying when it is due",
			Example: "/api/rollup?row=row-a"},
		{Method: "GET", Path: "/api/power", strict: true, Params: partParams("racks"),
			Answers: "each rack's feed load, failover headroom and energy at the last rollup; 503 before the first rollup, saying when it is due",
			Example: "/api/power?room=hall-1"},
		{Method: "GET", Path: "/api/events", strict: true,
			Params:  []Param{{Name: "server", Means: "the server", Required: true}},
			Answers: "the server's recent BMC log entries, newest first",
			Example: "/api/events?server=r12-u01"},
		{Method: "GET", Path: "/api/agent", strict: true,
			Params:  []Param{{Name: "server", Means: "the server", Required: true}},
			Answers: "the server's last agent report, when it arrived, whether it is stale and how it reconciles with the BMC",
			Example: "/api/agent?server=r12-u01"},
		{Method: "GET", Path: "/api/alerts", strict: true,
			Params: []Param{
				{Name: "state", Means: "pending, firing or resolved only"},
				{Name: "server", Means: "only this server's alerts"},
				{Name: "rack", Means: "only this rack's alerts"},
			},
			Answers: "the pending and firing alerts and those resolved in the last 24 hours",
			Example: "/api/alerts?state=firing"},
		{Method: "GET", Path: "/api/history", strict: true,
			Params: []Param{
				{Name: "rack", Means: "this rack's power and its feeds' (default: the site's)"},
				{Name: "server", Means: "this server's power"},
				{Name: "range", Means: "1h (default), 24h or 7d; beyond the last hour from InfluxDB when configured"},
			},
			Answers: "a chart's power series: unix seconds and watts (null where nothing was measured)",
			Example: "/api/history?rack=r12&range=24h"},
		{Method: "POST", Path: "/api/agents/{server}/report", strict: true,
			Answers: "takes a server's agent report (JSON body, Authorization: Bearer the server's agent token); 4xx with the reason when refused"},
		{Method: "GET", Path: "/api/", strict: true,
			Answers: "any other path under /api/: 404 naming GET /api (405 when the path takes another method)"},
		{Method: "GET", Path: "/{$}", Params: fragmentParam, Answers: "the site page (HTML)"},
		{Method: "GET", Path: "/racks/{rack}", Params: fragmentParam, Answers: "a rack's page (HTML)"},
		{Method: "GET", Path: "/servers/{server}", Params: fragmentParam, Answers: "a server's page (HTML)"},
		{Method: "GET", Path: "/alerts", Params: fragmentParam, Answers: "the alerts page (HTML)"},
		{Method: "GET", Path: "/static/", Answers: "the pages' scripts, styles and fonts"},
		{Method: "GET", Path: "/healthz", Answers: "liveness: {\"status\":\"ok\"} (a poller adds its BMC count and how many report); never behind --web-auth-file"},
		{Method: "GET", Path: "/metrics", Answers: "Prometheus metrics; never behind --web-auth-file"},
	}
}

// lookupRoute finds a pattern in the route table.
func lookupRoute(pattern string) (Route, bool) {
	for _, rt := range routeTable() {
		if rt.pattern() == pattern {
			return rt, true
		}
	}
	return Route{}, false
}

// Handle registers a handler for one of the route table's patterns (the
// command's /healthz and /metrics, so that they are registered the way
// the package's own routes are). It panics on a pattern the table does
// not have: a route the index would not list is a programming error.
func Handle(mux *http.ServeMux, pattern string, h http.Handler) {
	rt, ok := lookupRoute(pattern)
	if !ok {
		panic("web: route " + pattern + " is not in the route table (web/routes.go)")
	}
	if rt.strict {
		h = rt.checkQuery(h)
	}
	mux.Handle(pattern, h)
}

func handle(mux *http.ServeMux, pattern string, h http.HandlerFunc) { Handle(mux, pattern, h) }

// checkQuery answers 400 to a query parameter the route does not take, or
// one given twice, listing the parameters it takes.
func (rt *Route) checkQuery(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for name, values := range r.URL.Query() {
			if !slices.ContainsFunc(rt.Params, func(p Param) bool { return p.Name == name }) {
				http.Error(w, fmt.Sprintf("%s %s takes no parameter %q; %s (GET /api lists every endpoint)",
					rt.Method, rt.shownPath(), name, rt.takes()), http.StatusBadRequest)
				return
			}
			if len(values) > 1 {
				http.Error(w, fmt.Sprintf("give %s once", name), http.StatusBadRequest)
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

// takes says which parameters the route takes.
func (rt *Route) takes() string {
	if len(rt.Params) == 0 {
		return "it takes none"
	}
	names := make([]string, len(rt.Params))
	for i, p := range rt.Params {
		names[i] = p.Name + "="
	}
	return "it takes " + strings.Join(names, ", ")
}

// registered lists the table's routes that are served on mux: those whose
// pattern the mux picks for a request to the route's own path.
func registered(mux *http.ServeMux) []Route {
	var out []Route
	for _, rt := range routeTable() {
		if patternOf(mux, rt.Method, probePath(rt.Path)) == rt.pattern() {
			out = append(out, rt)
		}
	}
	return out
}

// probePath is a path the route's pattern matches (and, for a subtree,
// no more precise pattern of the table does).
func probePath(path string) string {
	if strings.HasSuffix(path, "/") {
		path += "x"
	}
	path = strings.TrimSuffix(path, "{$}")
	for {
		i := strings.Index(path, "{")
		j := strings.Index(path, "}")
		if i < 0 || j < i {
			return path
		}
		path = path[:i] + "x" + path[j+1:]
	}
}

func patternOf(mux *http.ServeMux, method, path string) string {
	req, err := http.NewRequest(method, path, nil)
	if err != nil {
		return ""
	}
	_, pattern := mux.Handler(req)
	return pattern
}
