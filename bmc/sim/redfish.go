package sim

import (
	"bytes"
	"cmp"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ExpandMode says what a BMC does with a $expand query.
type ExpandMode int

const (
	// ExpandHonor expands as the service root's
	// ProtocolFeaturesSupported.ExpandQuery advertises, clamping $levels to
	// its MaxLevels. Queries it does not advertise are ignored.
	ExpandHonor ExpandMode = iota
	// ExpandIgnore advertises whatever the root says but always returns the
	// unexpanded resource, as some real firmware does.
	ExpandIgnore
	// ExpandRefuse advertises whatever the root says but answers any
	// $expand query with an error (RedfishOptions.ExpandRefusal: 400
	// QueryNotSupported by default; some firmware says 404 or 501).
	ExpandRefuse
)

// Fault is a transport-level fault a RedfishBMC can be told to show.
type Fault string

// Transport faults.
const (
	// FaultTimeout: every request hangs until the client gives up.
	FaultTimeout Fault = "timeout"
	// FaultServerError: every request gets HTTP 500.
	FaultServerError Fault = "http-500"
	// FaultBusy: every request gets HTTP 503 with Retry-After.
	FaultBusy Fault = "http-503"
	// FaultSessionLoss drops every session once (as a BMC reset does): the
	// next requests with those tokens get 401. It does not stay active.
	FaultSessionLoss Fault = "session-loss"
	// FaultMalformedJSON: reading resources (Power, Thermal, Sensors,
	// PowerSubsystem, ThermalSubsystem, EnvironmentMetrics, *Metrics) are
	// served as invalid JSON.
	FaultMalformedJSON Fault = "malformed-json"
	// FaultTruncatedJSON: resource bodies are cut off halfway and the
	// connection dropped, as when a BMC web server dies mid-response.
	FaultTruncatedJSON Fault = "truncated-json"
)

// TransportFaults lists every transport fault.
func TransportFaults() []Fault {
	return []Fault{FaultTimeout, FaultServerError, FaultBusy, FaultSessionLoss, FaultMalformedJSON, FaultTruncatedJSON}
}

func (f Fault) bit() uint32 {
	for i, k := range TransportFaults() {
		if k == f {
			return 1 << i
		}
	}
	return 0
}

// Defaults for RedfishOptions left zero.
const (
	DefaultMaxSessions    = 8
	DefaultSessionTimeout = 30 * time.Minute
)

// RedfishOptions configure a RedfishBMC.
type RedfishOptions struct {
	// Username and Password are the accepted credentials.
	Username string
	Password string
	// MaxSessions is the number of session slots (default 8). Creating one
	// more gets HTTP 503 with MessageId Base.1.15.SessionLimitExceeded.
	MaxSessions int
	// SessionTimeout is the idle expiry of a session token (default 30m).
	SessionTimeout time.Duration
	// AllowBasicAuth accepts HTTP Basic auth besides session tokens.
	AllowBasicAuth bool
	// NoSessions serves no SessionService (as DMTF public-cxl): Basic auth
	// is the only way in, whatever AllowBasicAuth says.
	NoSessions bool
	// Expand says what to do with $expand queries.
	Expand ExpandMode
	// ExpandRefusal is the HTTP status of an ExpandRefuse answer
	// (default 400).
	ExpandRefusal int
	// Latency, when set, is called per request for the delay before it is
	// answered.
	Latency func() time.Duration
	Logger  *slog.Logger
}

// resourceSource yields resources by normalized path. Each call returns a
// fresh object that the caller may change.
type resourceSource interface {
	resource(uri string) (map[string]any, bool)
}

// RedfishBMC is one virtual Redfish BMC: an http.Handler serving a resource
// source with sessions, auth, $expand and faults.
type RedfishBMC struct {
	src    resourceSource
	opts   RedfishOptions
	expand expandSupport
	log    *slog.Logger

	requests atomic.Int64
	faults   atomic.Uint32

	mu       sync.Mutex
	sessions map[string]*session // by token
	nextID   int
	now      func() time.Time
}

// NewRedfishBMC serves tree as a Redfish BMC. The expand capabilities are
// read from the tree's service root once, here.
func NewRedfishBMC(tree *Tree, opts RedfishOptions) *RedfishBMC {
	return newRedfishBMC(tree, opts)
}

func newRedfishBMC(src resourceSource, opts RedfishOptions) *RedfishBMC {
	if opts.MaxSessions <= 0 {
		opts.MaxSessions = DefaultMaxSessions
	}
	if opts.SessionTimeout <= 0 {
		opts.SessionTimeout = DefaultSessionTimeout
	}
	if opts.NoSessions {
		opts.AllowBasicAuth = true
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	b := &RedfishBMC{
		src:      src,
		opts:     opts,
		log:      log,
		sessions: make(map[string]*session),
		now:      time.Now,
	}
	if root, ok := src.resource(ServiceRootPath); ok {
		b.expand = expandSupportOf(root)
	}
	return b
}

// Requests is the number of requests served so far.
func (b *RedfishBMC) Requests() int64 { return b.requests.Load() }

// SetFault turns a transport fault on. FaultSessionLoss acts at once and
// does not stay on.
func (b *RedfishBMC) SetFault(f Fault) {
	if f == FaultSessionLoss {
		b.dropSessions()
		return
	}
	bit := f.bit()
	for {
		old := b.faults.Load()
		if b.faults.CompareAndSwap(old, old|bit) {
			return
		}
	}
}

// ClearFault turns a transport fault off.
func (b *RedfishBMC) ClearFault(f Fault) {
	bit := f.bit()
	for {
		old := b.faults.Load()
		if b.faults.CompareAndSwap(old, old&^bit) {
			return
		}
	}
}

// Faults lists the transport faults that are on.
func (b *RedfishBMC) Faults() []Fault {
	var out []Fault
	on := b.faults.Load()
	for _, f := range TransportFaults() {
		if on&f.bit() != 0 {
			out = append(out, f)
		}
	}
	return out
}

func (b *RedfishBMC) faultOn(f Fault) bool { return b.faults.Load()&f.bit() != 0 }

// ServeHTTP implements http.Handler.
func (b *RedfishBMC) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.requests.Add(1)
	ctx := r.Context()
	if b.opts.Latency != nil {
		if d := b.opts.Latency(); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return
			}
		}
	}
	switch {
	case b.faultOn(FaultTimeout):
		<-ctx.Done()
		return
	case b.faultOn(FaultServerError):
		writeError(w, http.StatusInternalServerError, msgInternalError, "The request failed due to an internal service error.")
		return
	case b.faultOn(FaultBusy):
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, msgServiceTemporarilyUnavailable, "The service is temporarily unavailable. Retry in 5 seconds.")
		return
	}

	uri := normalizePath(r.URL.Path)
	switch {
	case uri == "/redfish":
		if !allowMethods(w, r, http.MethodGet, http.MethodHead) {
			return
		}
		b.writeObject(w, r, uri, map[string]any{"v1": "/redfish/v1/"})
		return
	case uri == ServiceRootPath || uri == ServiceRootPath+"/odata" || uri == ServiceRootPath+"/$metadata":
		if !allowMethods(w, r, http.MethodGet, http.MethodHead) {
			return
		}
		b.serveResource(w, r, uri)
		return
	case uri == sessionsPath && r.Method == http.MethodPost && !b.opts.NoSessions:
		b.createSession(w, r)
		return
	}

	if !b.authenticate(w, r) {
		return
	}
	if !b.opts.NoSessions && (uri == sessionsPath || strings.HasPrefix(uri, sessionsPath+"/")) {
		b.serveSessions(w, r, uri)
		return
	}
	if !allowMethods(w, r, http.MethodGet, http.MethodHead) {
		return
	}
	b.serveResource(w, r, uri)
}

func allowMethods(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	for _, m := range methods {
		if r.Method == m {
			return true
		}
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	writeError(w, http.StatusMethodNotAllowed, msgActionNotSupported, "The action "+r.Method+" is not supported by the resource.")
	return false
}

// serveResource answers a GET of a resource from the source, with $expand
// and the payload faults applied.
func (b *RedfishBMC) serveResource(w http.ResponseWriter, r *http.Request, uri string) {
	obj, ok := b.lookup(uri)
	if !ok {
		writeError(w, http.StatusNotFound, msgResourceMissingAtURI, "The resource at the URI "+r.URL.Path+" was not found.")
		return
	}
	if q := r.URL.Query().Get("$expand"); q != "" && b.opts.Expand == ExpandRefuse {
		status := cmp.Or(b.opts.ExpandRefusal, http.StatusBadRequest)
		writeError(w, status, msgQueryNotSupported, "Querying is not supported by the implementation.")
		return
	}
	if q := r.URL.Query().Get("$expand"); q != "" && b.opts.Expand == ExpandHonor {
		kind, levels, err := parseExpand(q)
		if err != nil {
			writeError(w, http.StatusBadRequest, msgQueryParameterValueFormatError, "The value "+q+" for the parameter $expand is of a different format than the parameter can accept.")
			return
		}
		if levels, ok := b.expand.allows(kind, levels); ok {
			b.expandObject(obj, kind, levels, false)
		}
	}
	b.writeObject(w, r, uri, obj)
}

// lookup returns the resource at uri as served: the root gets its session
// links fixed to match the options, and a SessionService is made up when the
// source has none.
func (b *RedfishBMC) lookup(uri string) (map[string]any, bool) {
	switch uri {
	case ServiceRootPath:
		root, ok := b.src.resource(uri)
		if !ok {
			return nil, false
		}
		links, _ := root["Links"].(map[string]any)
		if b.opts.NoSessions {
			delete(root, "SessionService")
			if links != nil {
				delete(links, "Sessions")
			}
			return root, true
		}
		root["SessionService"] = odataID(sessionServicePath)
		if links == nil {
			links = map[string]any{}
			root["Links"] = links
		}
		links["Sessions"] = odataID(sessionsPath)
		return root, true
	case sessionServicePath:
		if b.opts.NoSessions {
			return nil, false
		}
		if svc, ok := b.src.resource(uri); ok {
			svc["SessionTimeout"] = int(b.opts.SessionTimeout / time.Second)
			return svc, true
		}
		return b.sessionService(), true
	}
	return b.src.resource(uri)
}

// writeObject encodes obj and writes it, applying the payload faults.
func (b *RedfishBMC) writeObject(w http.ResponseWriter, r *http.Request, uri string, obj map[string]any) {
	body, err := appendJSON(make([]byte, 0, 2048), obj)
	if err != nil {
		b.log.Error("encoding resource", "uri", uri, "err", err)
		writeError(w, http.StatusInternalServerError, msgInternalError, "The resource could not be encoded.")
		return
	}
	body = append(body, '\n')
	truncate := false
	if uri != ServiceRootPath && uri != "/redfish" {
		if b.faultOn(FaultMalformedJSON) && isReadingResource(uri) {
			body = malformed(body)
		}
		truncate = b.faultOn(FaultTruncatedJSON)
	}
	h := w.Header()
	h.Set("OData-Version", "4.0")
	h.Set("Cache-Control", "no-cache")
	if !truncate {
		// An entity tag of the body as served; a client holding it gets
		// 304 Not Modified and no body while the resource is unchanged.
		tag := entityTag(body)
		h.Set("ETag", tag)
		if etagMatches(r.Header.Get("If-None-Match"), tag) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	if truncate {
		// Fewer bytes than Content-Length: the server closes the
		// connection and the client reads an unexpected EOF.
		_, _ = w.Write(body[:len(body)/2])
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		panic(http.ErrAbortHandler)
	}
	_, _ = w.Write(body)
}

// entityTag is a strong entity tag of body: its FNV-1a hash.
func entityTag(body []byte) string {
	h := fnv.New64a()
	_, _ = h.Write(body)
	return fmt.Sprintf("%q", strconv.FormatUint(h.Sum64(), 16))
}

// etagMatches applies If-None-Match (RFC 9110 13.1.2): "*" or any listed
// tag equal to tag, weakly compared.
func etagMatches(ifNoneMatch, tag string) bool {
	for _, t := range strings.Split(ifNoneMatch, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t != "" && t == strings.TrimPrefix(tag, "W/") {
			return true
		}
	}
	return false
}

// malformed turns a JSON object into what broken firmware sends: a NaN
// reading and a trailing comma.
func malformed(body []byte) []byte {
	body = bytes.TrimRight(body, "\n")
	if len(body) < 2 {
		return []byte("{,")
	}
	out := append([]byte{}, body[:len(body)-1]...)
	return append(out, []byte(`,"ReadingCelsius": NaN,}`)...)
}

// isReadingResource reports whether uri is a resource that carries readings,
// one that FaultMalformedJSON breaks.
func isReadingResource(uri string) bool {
	for _, seg := range strings.Split(uri, "/") {
		switch seg {
		case "Power", "Thermal", "Sensors", "PowerSubsystem", "ThermalSubsystem",
			"EnvironmentMetrics", "ThermalMetrics", "Metrics", "MemoryMetrics",
			"ProcessorMetrics", "PowerSupplies", "Fans":
			return true
		}
	}
	return false
}

func odataID(uri string) map[string]any { return map[string]any{"@odata.id": uri} }

// drainBody reads at most limit bytes of a request body.
func drainBody(r io.Reader, limit int64) ([]byte, error) {
	return io.ReadAll(io.LimitReader(r, limit))
}
