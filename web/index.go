package web

import (
	"fmt"
	"net/http"
	"strings"
	"text/tabwriter"
)

// apiIndex is GET /api's answer.
type apiIndex struct {
	Endpoints []Route `json:"endpoints"`
}

// index answers GET /api and /api/: the routes registered on mux, as JSON,
// or as one aligned line each when the client asks for text/plain.
func (a *API) index(mux *http.ServeMux) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		routes := registered(mux)
		for i := range routes {
			routes[i].Path = routes[i].shownPath()
			if routes[i].Params == nil {
				routes[i].Params = []Param{}
			}
		}
		if !wantsText(r.Header.Get("Accept")) {
			a.writeJSON(w, apiIndex{Endpoints: routes})
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, rt := range routes {
			_, _ = fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", rt.Method, rt.Path, paramsLine(rt.Params), rt.Answers)
		}
		_ = tw.Flush()
	}
}

// paramsLine is a route's parameters as a client writes them
// (?server= [rack=]): required ones bare, optional ones in brackets.
func paramsLine(ps []Param) string {
	if len(ps) == 0 {
		return "-"
	}
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = p.Name + "="
		if !p.Required {
			parts[i] = "[" + parts[i] + "]"
		}
	}
	return "?" + strings.Join(parts, " ")
}

// wantsText reports whether an Accept header asks for text/plain rather
// than JSON (curl's */* gets JSON).
func wantsText(accept string) bool {
	return strings.Contains(accept, "text/plain") && !strings.Contains(accept, "json")
}

// notFound answers a GET under /api/ that no route serves: 405 when the
// path is served for another method, else 404 naming the index.
func notFound(mux *http.ServeMux) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var allow []string
		for _, rt := range registered(mux) {
			if rt.Method != r.Method && rt.Method != http.MethodGet {
				if p := patternOf(mux, rt.Method, r.URL.Path); p == rt.pattern() {
					allow = append(allow, rt.Method)
				}
			}
		}
		if len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			http.Error(w, r.URL.Path+" takes "+strings.Join(allow, ", "), http.StatusMethodNotAllowed)
			return
		}
		http.Error(w, "no endpoint "+r.URL.Path+": GET /api lists them", http.StatusNotFound)
	}
}
