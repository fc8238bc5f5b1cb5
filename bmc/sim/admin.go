package sim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// AdminHandler serves the fleet's admin API:
//
//	GET    /bmcs                        every BMC: name, address, port, profile, faults, sessions
//	GET    /bmcs/{name}                 one BMC
//	POST   /bmcs/{name}/faults          {"fault": "dimm-ecc", "target": "DIMM3", "every": "30s", "count": 8}
//	                                    (count: dimm-ecc only; "swing": 2 for cpu-oscillate only)
//	DELETE /bmcs/{name}/faults/{fault}  end a fault
func (f *Fleet) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /bmcs", func(w http.ResponseWriter, _ *http.Request) {
		out := make([]BMCInfo, len(f.bmcs))
		for i, b := range f.bmcs {
			out[i] = b.Info()
		}
		writeAdminJSON(w, http.StatusOK, out)
	})
	mux.HandleFunc("GET /bmcs/{name}", func(w http.ResponseWriter, r *http.Request) {
		b, ok := f.adminBMC(w, r)
		if ok {
			writeAdminJSON(w, http.StatusOK, b.Info())
		}
	})
	mux.HandleFunc("POST /bmcs/{name}/faults", func(w http.ResponseWriter, r *http.Request) {
		b, ok := f.adminBMC(w, r)
		if !ok {
			return
		}
		var req struct {
			Fault  string   `json:"fault"`
			Target string   `json:"target"`
			Every  string   `json:"every"`
			Count  *int     `json:"count"`
			Swing  *float64 `json:"swing"`
		}
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			adminError(w, http.StatusBadRequest, fmt.Errorf("fault request: %w", err))
			return
		}
		fault, err := ParseFault(req.Fault)
		if err != nil {
			adminError(w, http.StatusBadRequest, err)
			return
		}
		spec := FaultSpec{Fault: fault, Target: req.Target}
		if req.Every != "" {
			if spec.Every, err = time.ParseDuration(req.Every); err != nil || spec.Every <= 0 {
				adminError(w, http.StatusBadRequest, fmt.Errorf("every: want a positive duration, got %q", req.Every))
				return
			}
		}
		if req.Count != nil {
			if *req.Count <= 0 {
				adminError(w, http.StatusBadRequest, fmt.Errorf("count: want a positive number of errors per step, got %d", *req.Count))
				return
			}
			spec.Count = *req.Count
		}
		if req.Swing != nil {
			if *req.Swing <= 0 {
				adminError(w, http.StatusBadRequest, fmt.Errorf("swing: want a positive number of °C, got %g", *req.Swing))
				return
			}
			spec.Swing = *req.Swing
		}
		if err := b.Inject(spec); err != nil {
			adminError(w, http.StatusBadRequest, err)
			return
		}
		f.log.Info("fault injected", "bmc", b.name, "fault", fault, "target", spec.Target)
		writeAdminJSON(w, http.StatusCreated, b.Info())
	})
	mux.HandleFunc("DELETE /bmcs/{name}/faults/{fault}", func(w http.ResponseWriter, r *http.Request) {
		b, ok := f.adminBMC(w, r)
		if !ok {
			return
		}
		fault, err := ParseFault(r.PathValue("fault"))
		if err != nil {
			adminError(w, http.StatusBadRequest, err)
			return
		}
		if !b.Clear(fault) {
			adminError(w, http.StatusNotFound, fmt.Errorf("BMC %s has no active fault %s", b.name, fault))
			return
		}
		f.log.Info("fault cleared", "bmc", b.name, "fault", fault)
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}

func (f *Fleet) adminBMC(w http.ResponseWriter, r *http.Request) (*SimBMC, bool) {
	name := r.PathValue("name")
	b, ok := f.byName[name]
	if !ok {
		adminError(w, http.StatusNotFound, fmt.Errorf("no BMC named %q", name))
	}
	return b, ok
}

func writeAdminJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func adminError(w http.ResponseWriter, status int, err error) {
	writeAdminJSON(w, status, map[string]string{"error": err.Error()})
}
