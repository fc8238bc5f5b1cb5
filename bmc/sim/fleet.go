package sim

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Defaults for FleetOptions left zero.
const (
	DefaultBasePort    = 18443
	DefaultHost        = "127.0.0.1"
	DefaultPerRack     = 20
	DefaultRacksPerRow = 10
)

// ProfileShare is one profile's share of a mixed fleet.
type ProfileShare struct {
	Profile string
	Weight  int
}

// ParseMix parses "modern=60,legacy=40" (a bare name means weight 1).
func ParseMix(s string) ([]ProfileShare, error) {
	var out []ProfileShare
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, weight, hasWeight := strings.Cut(item, "=")
		share := ProfileShare{Profile: strings.TrimSpace(name), Weight: 1}
		if hasWeight {
			w, err := strconv.Atoi(strings.TrimSpace(weight))
			if err != nil || w < 0 {
				return nil, fmt.Errorf("profile mix %q: weight of %s must be a whole number, got %q", s, share.Profile, weight)
			}
			share.Weight = w
		}
		if err := checkProfile(share.Profile); err != nil {
			return nil, fmt.Errorf("profile mix %q: %w", s, err)
		}
		out = append(out, share)
	}
	total := 0
	for _, sh := range out {
		total += sh.Weight
	}
	if total == 0 {
		return nil, fmt.Errorf("profile mix %q: no profile with a weight above 0", s)
	}
	return out, nil
}

// checkProfile reports whether name is a profile a fleet can mix.
func checkProfile(name string) error {
	if name == ProfileIPMI {
		return nil
	}
	if _, err := newProfile(name); err != nil {
		return fmt.Errorf("%w (or %s)", err, ProfileIPMI)
	}
	return nil
}

// ParseLatency parses "50ms-200ms" (uniform in the range) or "80ms" (fixed);
// "" or "0" means none.
func ParseLatency(s string) (func() time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "0" {
		return nil, nil
	}
	lo, hi, isRange := strings.Cut(s, "-")
	least, err := time.ParseDuration(strings.TrimSpace(lo))
	if err != nil {
		return nil, fmt.Errorf("latency %q: %w", s, err)
	}
	most := least
	if isRange {
		if most, err = time.ParseDuration(strings.TrimSpace(hi)); err != nil {
			return nil, fmt.Errorf("latency %q: %w", s, err)
		}
	}
	if least < 0 || most < least {
		return nil, fmt.Errorf("latency %q: want MIN-MAX with 0 <= MIN <= MAX", s)
	}
	if most == least {
		return func() time.Duration { return least }, nil
	}
	return func() time.Duration { return least + rand.N(most-least+1) }, nil
}

// FleetOptions configure a simulated fleet.
type FleetOptions struct {
	// Count is the number of BMCs.
	Count int
	// Mix gives each synthetic profile's share. Ignored with MockupDir.
	// Empty: all modern.
	Mix []ProfileShare
	// MockupDir, when set, makes every BMC serve this DMTF mockup as it is.
	MockupDir string
	// Host and BasePort: the i-th Redfish BMC listens on Host:BasePort+i
	// (TCP), the i-th IPMI BMC on Host:IPMIBasePort+i (UDP).
	Host         string
	BasePort     int
	IPMIBasePort int
	// OutDir receives ca.pem and inventory.yaml.
	OutDir string
	// Username and Password are every BMC's credentials.
	Username string
	Password string
	// PerRack servers per rack and RacksPerRow racks per row, for the
	// names and the inventory.
	PerRack     int
	RacksPerRow int
	// Session limits and latency of each BMC.
	MaxSessions    int
	SessionTimeout time.Duration
	Latency        func() time.Duration
	// Scenario is a fault timeline to play from the start.
	Scenario []ScenarioEvent
	Logger   *slog.Logger
}

// StartOnFreePorts builds and starts a fleet on consecutive loopback ports
// picked at random below the ephemeral range (TCP for Redfish BMCs, UDP for
// IPMI ones), trying other ranges while one is taken: for tests and
// benchmarks that run beside others. opts' ports are overwritten.
func StartOnFreePorts(ctx context.Context, opts FleetOptions) (*Fleet, error) {
	var lastErr error
	for range 10 {
		opts.BasePort, opts.IPMIBasePort = 10000+rand.IntN(10000), 20000+rand.IntN(10000)
		f, err := NewFleet(opts)
		if err != nil {
			return nil, err
		}
		if lastErr = f.Start(ctx); lastErr == nil {
			return f, nil
		}
	}
	return nil, fmt.Errorf("no free port range for %d BMCs: %w", opts.Count, lastErr)
}

// SimBMC is one virtual BMC of a fleet.
type SimBMC struct {
	name      string
	rack      string
	rackIndex int
	position  int
	profile   string
	model     string
	host      string
	port      int
	handler   *RedfishBMC // nil for IPMI BMCs
	ipmi      *IPMIBMC    // nil for Redfish BMCs
	machine   *machine    // nil for mockup BMCs
}

// Name is the BMC's (and its server's) inventory name.
func (b *SimBMC) Name() string { return b.name }

// URL is the BMC's address as the inventory gives it: the base URL of a
// Redfish BMC, host:port of an IPMI one.
func (b *SimBMC) URL() string {
	addr := net.JoinHostPort(b.host, strconv.Itoa(b.port))
	if b.ipmi != nil {
		return addr
	}
	return "https://" + addr
}

// Protocol is "redfish" or "ipmi".
func (b *SimBMC) Protocol() string {
	if b.ipmi != nil {
		return "ipmi"
	}
	return "redfish"
}

// Handler is the BMC's Redfish handler; nil for an IPMI BMC.
func (b *SimBMC) Handler() *RedfishBMC { return b.handler }

// IPMI is the BMC's IPMI server; nil for a Redfish BMC.
func (b *SimBMC) IPMI() *IPMIBMC { return b.ipmi }

// Warm reports whether the BMC's server runs warm: its CPUs peak a few °C
// below their caution threshold and its inlet sits a few °C below its own,
// never reaching them. About one server in ten is, picked by its name.
func (b *SimBMC) Warm() bool { return b.machine != nil && b.machine.warm }

// BMCInfo describes a BMC for the admin API.
type BMCInfo struct {
	Name           string   `json:"name"`
	Rack           string   `json:"rack"`
	Position       int      `json:"position"`
	Protocol       string   `json:"protocol"`
	Address        string   `json:"address"`
	Port           int      `json:"port"`
	Profile        string   `json:"profile"`
	Model          string   `json:"model"`
	Faults         []string `json:"faults"`
	ActiveSessions int      `json:"active_sessions"`
	Requests       int64    `json:"requests"`
	// Warm: the server runs warm (CPUs and inlet a few °C below their
	// caution thresholds at peak, never at them).
	Warm bool `json:"warm"`
}

// Info describes the BMC now.
func (b *SimBMC) Info() BMCInfo {
	info := BMCInfo{
		Name: b.name, Rack: b.rack, Position: b.position, Protocol: b.Protocol(), Address: b.URL(), Port: b.port,
		Profile: b.profile, Model: b.model, Faults: []string{}, Warm: b.Warm(),
	}
	var transport []Fault
	if b.ipmi != nil {
		info.ActiveSessions, info.Requests = b.ipmi.ActiveSessions(), b.ipmi.Requests()
		transport = b.ipmi.Faults()
	} else {
		info.ActiveSessions, info.Requests = b.handler.ActiveSessions(), b.handler.Requests()
		transport = b.handler.Faults()
	}
	if b.machine != nil {
		for _, f := range b.machine.activeFaults() {
			info.Faults = append(info.Faults, string(f.Fault))
		}
	}
	for _, f := range transport {
		info.Faults = append(info.Faults, string(f))
	}
	return info
}

// Inject starts a fault: a data fault on the simulated hardware or a
// transport fault on the HTTP exchange.
func (b *SimBMC) Inject(spec FaultSpec) error {
	switch {
	case spec.Fault.IsTransport() && b.ipmi != nil:
		if err := b.ipmi.SetFault(spec.Fault); err != nil {
			return fmt.Errorf("BMC %s: %w", b.name, err)
		}
		return nil
	case spec.Fault.IsTransport():
		b.handler.SetFault(spec.Fault)
		return nil
	case spec.Fault.IsData():
		if b.machine == nil {
			return fmt.Errorf("BMC %s serves a mockup: data fault %s needs a synthetic profile", b.name, spec.Fault)
		}
		if spec.Fault.RedfishOnly() && b.ipmi != nil {
			return fmt.Errorf("BMC %s speaks IPMI: fault %s applies to the Redfish profiles (%s) only", b.name, spec.Fault, strings.Join(SyntheticProfiles(), ", "))
		}
		if b.ipmi != nil {
			// The SEL logs what the fault being replaced did, then the new one.
			b.ipmi.syncSEL()
			defer b.ipmi.syncSEL()
		}
		return b.machine.inject(spec)
	}
	_, err := ParseFault(string(spec.Fault))
	return err
}

// Clear ends a fault; it reports whether the fault was on.
func (b *SimBMC) Clear(f Fault) bool {
	if f.IsTransport() && b.ipmi != nil {
		return b.ipmi.ClearFault(f)
	}
	if f.IsTransport() {
		on := false
		for _, a := range b.handler.Faults() {
			on = on || a == f
		}
		b.handler.ClearFault(f)
		return on
	}
	if b.machine == nil {
		return false
	}
	if b.ipmi != nil {
		// The SEL logs what the fault did, then its end.
		b.ipmi.syncSEL()
		defer b.ipmi.syncSEL()
	}
	return b.machine.clear(f)
}

// Fleet is a set of virtual BMCs served from one process, each on its own
// loopback port: Redfish over HTTPS, IPMI over UDP. Profiles are shared between BMCs; each BMC
// holds only its sessions, counters and fault state, and its readings are
// computed when asked for.
type Fleet struct {
	opts      FleetOptions
	log       *slog.Logger
	bmcs      []*SimBMC
	byName    map[string]*SimBMC
	byPort    map[int]*SimBMC
	start     time.Time
	caFile    string
	inventory string

	server    *http.Server
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
	serveErr  chan error
}

// NewFleet builds a fleet's BMCs without binding any port or writing any
// file.
func NewFleet(opts FleetOptions) (*Fleet, error) {
	if opts.Count <= 0 {
		return nil, fmt.Errorf("fleet size %d: want at least one BMC", opts.Count)
	}
	if opts.Host == "" {
		opts.Host = DefaultHost
	}
	if opts.BasePort <= 0 {
		opts.BasePort = DefaultBasePort
	}
	if opts.IPMIBasePort <= 0 {
		opts.IPMIBasePort = DefaultIPMIBasePort
	}
	if opts.PerRack <= 0 {
		opts.PerRack = DefaultPerRack
	}
	if opts.RacksPerRow <= 0 {
		opts.RacksPerRow = DefaultRacksPerRow
	}
	if opts.Username == "" {
		opts.Username = DefaultUsername
	}
	if opts.Password == "" {
		opts.Password = DefaultPassword
	}
	if len(opts.Mix) == 0 {
		opts.Mix = []ProfileShare{{Profile: ProfileModern, Weight: 1}}
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	f := &Fleet{
		opts:   opts,
		log:    log,
		byName: make(map[string]*SimBMC, opts.Count),
		byPort: make(map[int]*SimBMC, opts.Count),
		start:  time.Now(),
	}

	var mockup *Tree
	mockupModel := ""
	if opts.MockupDir != "" {
		t, err := LoadMockup(opts.MockupDir)
		if err != nil {
			return nil, err
		}
		mockup = t
		mockupModel = "mockup " + filepath.Base(filepath.Clean(opts.MockupDir))
	}
	profiles := make(map[string]*profile)
	var ipmiShared *ipmiShared
	for _, sh := range opts.Mix {
		if sh.Profile == ProfileIPMI {
			if mockup == nil && sh.Weight > 0 {
				ipmiShared = newIPMIShared()
				profiles[sh.Profile] = ipmiShared.profile.profile
			}
			continue
		}
		p, err := newProfile(sh.Profile)
		if err != nil {
			return nil, err
		}
		profiles[sh.Profile] = p
	}
	pick := newWeightedPicker(opts.Mix)

	redfishIndex, ipmiIndex := 0, 0
	for i := range opts.Count {
		rackIndex := i / opts.PerRack
		rack := fmt.Sprintf("rack-%02d", rackIndex+1)
		pos := i%opts.PerRack + 1
		b := &SimBMC{
			name:      fmt.Sprintf("%s-u%02d", rack, pos),
			rack:      rack,
			rackIndex: rackIndex,
			position:  pos,
			host:      opts.Host,
		}
		hopts := RedfishOptions{
			Username:       opts.Username,
			Password:       opts.Password,
			MaxSessions:    opts.MaxSessions,
			SessionTimeout: opts.SessionTimeout,
			Latency:        opts.Latency,
			Logger:         log.With("bmc", b.name),
		}
		var p *profile
		if mockup == nil {
			p = profiles[pick()]
		}
		switch {
		case p != nil && p.name == ProfileIPMI:
			b.port = opts.IPMIBasePort + ipmiIndex
			ipmiIndex++
			b.profile, b.model = p.name, p.model
			b.machine = newMachine(b.name, p, f.start, time.Now)
			ib, err := newIPMIBMC(b.machine, ipmiShared, IPMIOptions{Username: opts.Username, Password: opts.Password, Latency: opts.Latency, Logger: hopts.Logger})
			if err != nil {
				return nil, fmt.Errorf("BMC %s: %w", b.name, err)
			}
			b.ipmi = ib
		case mockup != nil:
			b.port = opts.BasePort + redfishIndex
			redfishIndex++
			b.profile, b.model = ProfileMockup, mockupModel
			hopts.AllowBasicAuth = true
			b.handler = NewRedfishBMC(mockup, hopts)
		default:
			b.port = opts.BasePort + redfishIndex
			redfishIndex++
			b.profile, b.model = p.name, p.model
			hopts.AllowBasicAuth = p.allowBasic
			hopts.Expand = p.expand
			b.machine = newMachine(b.name, p, f.start, time.Now)
			b.handler = newRedfishBMC(b.machine, hopts)
		}
		f.bmcs = append(f.bmcs, b)
		f.byName[b.name] = b
		if b.handler != nil {
			f.byPort[b.port] = b
		}
	}
	if last := opts.BasePort + redfishIndex - 1; redfishIndex > 0 && last > 65535 {
		return nil, fmt.Errorf("fleet of %d Redfish BMCs from port %d runs past port 65535", redfishIndex, opts.BasePort)
	}
	if last := opts.IPMIBasePort + ipmiIndex - 1; ipmiIndex > 0 && last > 65535 {
		return nil, fmt.Errorf("fleet of %d IPMI BMCs from port %d runs past port 65535", ipmiIndex, opts.IPMIBasePort)
	}
	for _, ev := range opts.Scenario {
		bmcs, err := f.resolve(ev.BMC)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", ev.where(), err)
		}
		if ev.BMC != "*" && len(bmcs) == 1 && bmcs[0].ipmi != nil && ev.Fault.Fault.IsTransport() && !ipmiFault(ev.Fault.Fault) {
			return nil, fmt.Errorf("%s: BMC %s speaks IPMI: transport fault %s does not apply (want %s or %s)", ev.where(), bmcs[0].name, ev.Fault.Fault, FaultTimeout, FaultSessionLoss)
		}
		if ev.BMC != "*" && len(bmcs) == 1 && bmcs[0].ipmi != nil && ev.Fault.Fault.RedfishOnly() {
			return nil, fmt.Errorf("%s: BMC %s speaks IPMI: fault %s applies to the Redfish profiles (%s) only", ev.where(), bmcs[0].name, ev.Fault.Fault, strings.Join(SyntheticProfiles(), ", "))
		}
		if ev.Fault.Fault.IsData() && mockup != nil {
			return nil, fmt.Errorf("%s: data fault %s needs a synthetic profile, not a mockup", ev.where(), ev.Fault.Fault)
		}
	}
	return f, nil
}

// newWeightedPicker returns profile names in proportion to their weights,
// interleaved (smooth weighted round robin), the same on every run.
func newWeightedPicker(mix []ProfileShare) func() string {
	current := make([]int, len(mix))
	total := 0
	for _, sh := range mix {
		total += sh.Weight
	}
	return func() string {
		best := 0
		for i, sh := range mix {
			current[i] += sh.Weight
			if current[i] > current[best] {
				best = i
			}
		}
		current[best] -= total
		return mix[best].Profile
	}
}

// BMCs lists the fleet's BMCs in inventory order.
func (f *Fleet) BMCs() []*SimBMC { return f.bmcs }

// BMC finds a BMC by name.
func (f *Fleet) BMC(name string) (*SimBMC, bool) {
	b, ok := f.byName[name]
	return b, ok
}

// CAFile is the path of the written ca.pem (after Start).
func (f *Fleet) CAFile() string { return f.caFile }

// InventoryFile is the path of the written inventory.yaml (after Start).
func (f *Fleet) InventoryFile() string { return f.inventory }

// Start generates the TLS material, binds every BMC's port (TCP for
// Redfish, UDP for IPMI), writes ca.pem and inventory.yaml into OutDir and serves until ctx is done or Close is
// called. If any port cannot be bound, nothing is left listening.
func (f *Fleet) Start(ctx context.Context) error {
	if f.opts.OutDir == "" {
		return errors.New("fleet: no output directory for ca.pem and inventory.yaml")
	}
	outDir, err := filepath.Abs(f.opts.OutDir)
	if err != nil {
		return fmt.Errorf("output directory %s: %w", f.opts.OutDir, err)
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return fmt.Errorf("creating output directory %s: %w", outDir, err)
	}
	ca, err := newCertAuthority(time.Now(), []string{"127.0.0.1", "::1", "localhost"})
	if err != nil {
		return err
	}

	var lc net.ListenConfig
	listeners := make([]net.Listener, 0, len(f.bmcs))
	type ipmiSocket struct {
		b    *SimBMC
		conn net.PacketConn
	}
	var sockets []ipmiSocket
	closeAll := func() {
		for _, l := range listeners {
			_ = l.Close()
		}
		for _, s := range sockets {
			_ = s.conn.Close()
		}
	}
	for _, b := range f.bmcs {
		addr := net.JoinHostPort(b.host, strconv.Itoa(b.port))
		if b.ipmi != nil {
			conn, err := lc.ListenPacket(ctx, "udp", addr)
			if err != nil {
				closeAll()
				return fmt.Errorf("listening for IPMI BMC %s: %w", b.name, err)
			}
			sockets = append(sockets, ipmiSocket{b, conn})
			continue
		}
		l, err := lc.Listen(ctx, "tcp", addr)
		if err != nil {
			closeAll()
			return fmt.Errorf("listening for BMC %s: %w", b.name, err)
		}
		listeners = append(listeners, l)
	}

	f.caFile = filepath.Join(outDir, "ca.pem")
	if err := os.WriteFile(f.caFile, ca.caPEM, 0o644); err != nil {
		closeAll()
		return fmt.Errorf("writing CA certificate %s: %w", f.caFile, err)
	}
	if f.inventory, err = f.writeInventory(outDir, f.caFile); err != nil {
		closeAll()
		return err
	}

	runCtx, cancel := context.WithCancel(ctx)
	f.cancel = cancel
	f.server = &http.Server{
		Handler:           http.HandlerFunc(f.route),
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{ca.server}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(f.log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return runCtx },
	}
	f.serveErr = make(chan error, len(listeners)+len(sockets))
	for _, s := range sockets {
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			if err := s.b.ipmi.Serve(runCtx, s.conn); err != nil {
				f.serveErr <- fmt.Errorf("BMC %s: %w", s.b.name, err)
			}
		}()
	}
	for _, l := range listeners {
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			if err := f.server.ServeTLS(l, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
				f.serveErr <- fmt.Errorf("serving %s: %w", l.Addr(), err)
			}
		}()
	}
	if len(f.opts.Scenario) > 0 {
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			f.playScenario(runCtx, f.opts.Scenario)
		}()
	}
	// The stopper: shuts the servers down when the context ends.
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		<-runCtx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := f.server.Shutdown(shutdownCtx); err != nil {
			f.log.Warn("fleet shutdown", "err", err)
			_ = f.server.Close()
		}
	}()
	return nil
}

// route hands a request to the BMC that owns the port it arrived on.
func (f *Fleet) route(w http.ResponseWriter, r *http.Request) {
	addr, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if tcp, ok := addr.(*net.TCPAddr); ok {
		if b, ok := f.byPort[tcp.Port]; ok {
			b.handler.ServeHTTP(w, r)
			return
		}
	}
	http.NotFound(w, r)
}

// Close stops serving and waits for every goroutine of the fleet to end.
// It returns the first serving error, if any.
func (f *Fleet) Close() error {
	f.closeOnce.Do(func() {
		if f.cancel != nil {
			f.cancel()
		}
	})
	f.wg.Wait()
	if f.serveErr == nil {
		return nil
	}
	select {
	case err := <-f.serveErr:
		return err
	default:
		return nil
	}
}

// Wait blocks until ctx (the one given to Start) is done and the fleet has
// stopped.
func (f *Fleet) Wait() error {
	f.wg.Wait()
	return f.Close()
}
