package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/KimMachineGun/automemlimit/memlimit"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/rackpulse/rackpulse/bmc"
	"github.com/rackpulse/rackpulse/fleet"
	"github.com/rackpulse/rackpulse/inventory"
	"github.com/rackpulse/rackpulse/storage"
	"github.com/rackpulse/rackpulse/web"
)

func newServeCmd(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Poll the BMCs of the selected racks and serve /metrics and /healthz",
		Long: `serve loads the inventory, polls every BMC of the selected racks on its
interval, and serves /healthz, /metrics and /api/servers. It reloads the
inventory when a file changes or on SIGHUP; a bad edit is reported and the
running inventory kept.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			alerts, err := readAlertConfig(v)
			if err != nil {
				return err
			}
			log := newLogger(v, cmd.ErrOrStderr())
			if err := applyGCPercent(v, os.Getenv, log); err != nil {
				return err
			}
			if err := applyMemoryLimit(v.GetFloat64("memory-limit-ratio"), memlimit.FromCgroup, log); err != nil {
				return err
			}
			cfg := serveConfig{
				inventoryPath: v.GetString("inventory"),
				racks:         splitList(v.GetString("racks")),
				listen:        v.GetString("listen"),
				workers:       v.GetInt("workers"),
				maxWorkers:    v.GetInt("max-workers"),
				keepConns:     v.GetInt("keep-connections"),
				reloadCheck:   v.GetDuration("reload-check"),
				stateDir:      v.GetString("state-dir"),
				pprof:         v.GetBool("pprof"),
				webAuthFile:   v.GetString("web-auth-file"),
				storage:       storageConfig(cmd, v),
				alerts:        alerts,
				http:          readHTTPLimits(v),
			}
			return runServe(cmd.Context(), cfg, log, nil)
		},
	}
	f := cmd.Flags()
	f.String("racks", "", "comma-separated racks to poll (default all); RACKPULSE_RACKS")
	f.String("listen", "127.0.0.1:9290", "address for /metrics, /healthz and /api; RACKPULSE_LISTEN")
	f.Int("workers", bmc.DefaultWorkers, "least polls in flight across the fleet; the bound grows with the fleet's demand up to --max-workers; RACKPULSE_WORKERS")
	f.Int("keep-connections", defaultKeepConnections, "BMCs that keep one connection open between polls (sparing a TCP and TLS handshake a poll); the others reconnect with TLS session resumption; RACKPULSE_KEEP_CONNECTIONS")
	f.Int("max-workers", bmc.DefaultMaxWorkers, "most polls in flight across the fleet; a fleet that needs more does not fit its interval, and serve says so; RACKPULSE_MAX_WORKERS")
	f.Duration("reload-check", 2*time.Second, "how often to look for inventory changes; RACKPULSE_RELOAD_CHECK")
	f.Bool("pprof", false, "serve Go profiles under /debug/pprof/ on the listen address; RACKPULSE_PPROF")
	f.Int("gc-percent", defaultGCPercent, "how far the heap may grow over the live heap between garbage collections, in percent (Go's GOGC, which applies when this is not set); lower holds less memory for more CPU; RACKPULSE_GC_PERCENT")
	f.Float64("memory-limit-ratio", defaultMemoryLimitRatio, "with a container's or systemd unit's memory limit (cgroup) and no GOMEMLIMIT, the Go runtime's soft memory limit is this share of it; 0: none; RACKPULSE_MEMORY_LIMIT_RATIO")
	f.String("web-auth-file", "", "protect the dashboard and /api with the users (user:bcrypt-hash) and bearer tokens (bearer:bcrypt-hash) in this file; /metrics and /healthz stay open; RACKPULSE_WEB_AUTH_FILE")
	addStorageFlags(cmd)
	addAlertFlags(cmd)
	addHTTPFlags(cmd)
	f.String("state-dir", "var/state", "directory for small state files kept across restarts (log positions, alert state); RACKPULSE_STATE_DIR")
	return cmd
}

type serveConfig struct {
	inventoryPath string
	racks         []string
	listen        string
	workers       int
	maxWorkers    int
	keepConns     int
	reloadCheck   time.Duration
	stateDir      string
	pprof         bool
	webAuthFile   string
	storage       storage.Config
	alerts        alertConfig
	http          httpLimits
	// listener, when set, is served instead of binding listen (tests).
	listener net.Listener
	// runHook, when set, wraps each component's run (tests make one fail).
	runHook func(name string, run func(context.Context) error) func(context.Context) error
}

// wrapRun returns run, wrapped by the test hook when one is set.
func (c serveConfig) wrapRun(name string, run func(context.Context) error) func(context.Context) error {
	if c.runHook == nil {
		return run
	}
	return c.runHook(name, run)
}

// defaultKeepConnections is how many BMCs keep a connection between polls
// by default: an idle TLS connection holds a few tens of KiB here (and a
// connection slot on its BMC), so past a few thousand BMCs TLS session
// resumption is the cheaper trade (docs/performance.md).
const defaultKeepConnections = 2048

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// runServe runs the poller until ctx is done or one of its components
// dies. ready, when set, receives the bound listen address once every
// component has started (for tests).
//
// The components start in this order and stop in reverse: the HTTP
// listener (bound first, so that a port in use fails the start before
// anything else is opened), the storage writer and reader, the alert
// engine (its state saved at stop), the Alertmanager sender, the fleet,
// the scheduler (every BMC session logged out at stop), the inventory
// watcher, and the HTTP server. A component that returns or panics takes
// the daemon down with an error naming it (see docs/architecture.md).
func runServe(ctx context.Context, cfg serveConfig, log *slog.Logger, ready chan<- string) (err error) {
	secretURLs := append([]string{cfg.storage.URL, cfg.alerts.externalURL}, cfg.alerts.alertmanagers...)
	defer func() { err = redactErr(err, secretURLs...) }()

	inv, err := loadValidInventory(cfg.inventoryPath, log)
	if err != nil {
		return err
	}
	eps, err := inv.Endpoints(cfg.racks)
	if err != nil {
		return fmt.Errorf("inventory %s: %w", cfg.inventoryPath, err)
	}
	var auth *web.Auth
	if cfg.webAuthFile != "" {
		if auth, err = web.LoadAuth(cfg.webAuthFile); err != nil {
			return err
		}
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reloads := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rackpulse_inventory_reloads_total", Help: "Inventory reloads by result (ok, invalid).",
	}, []string{"result"})
	targets := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "rackpulse_bmc_targets", Help: "BMCs being polled.",
	})
	reg.MustRegister(reloads, targets)

	life := newLifecycle(log)
	ln := cfg.listener
	if ln == nil {
		if ln, err = net.Listen("tcp", cfg.listen); err != nil {
			return fmt.Errorf("listen %s: %w", cfg.listen, err)
		}
	}
	srv, boundedLn := newHTTPServer(ln, nil, cfg.http, reg, log)
	httpServer := httpComponent("http server", srv, boundedLn)
	life.add(component{name: "http listener", stop: httpServer.stop})
	externalURL := cfg.alerts.externalURL
	if externalURL == "" {
		externalURL = "http://" + ln.Addr().String()
	} else if stripped := withoutUserinfo(externalURL); stripped != externalURL {
		log.Warn("--external-url carries credentials: alert links leave them out", "external_url", redactURL(externalURL))
		externalURL = stripped
	}

	interval := fleetInterval(eps)
	live := fleet.New(inv, fleet.NewScope(cfg.racks), interval, fleet.Options{Registerer: reg, Logger: log})
	var store *storage.Writer
	var history fleet.StoredHistory
	if cfg.storage.Enabled() {
		store, err = storage.NewWriter(cfg.storage, storage.WithLogger(log), storage.WithRegisterer(reg))
		if err != nil {
			return life.abort(fmt.Errorf("influx %s: %w", redactURL(cfg.storage.URL), err))
		}
		life.add(component{name: "storage writer", run: cfg.wrapRun("storage writer", store.Run), stop: store.Close})
		live.AddSink(fleet.NewStore(store))
		reader, err := storage.NewReader(cfg.storage)
		if err != nil {
			return life.abort(fmt.Errorf("influx %s: %w", redactURL(cfg.storage.URL), err))
		}
		life.add(component{name: "storage reader", stop: func(context.Context) error { reader.Close(); return nil }})
		history = fleet.StoredHistory{Reader: reader}
		log.Info("storing to InfluxDB", "url", redactURL(cfg.storage.URL), "bucket", cfg.storage.Bucket, "spool", cfg.storage.SpoolDir)
	} else {
		log.Info("no InfluxDB configured (--influx-url): readings are served but not stored")
	}
	alerts, am, err := newAlertEngine(cfg.alerts, cfg.stateDir, externalURL, interval, store, reg, log)
	if err != nil {
		return life.abort(err)
	}
	addAlertComponents(life, alerts, am, cfg.wrapRun)
	live.AddSink(alerts)
	life.add(component{name: "fleet", run: cfg.wrapRun("fleet", func(ctx context.Context) error { live.Run(ctx); return nil })})

	idle := bmc.NewIdleConnBudget(cfg.keepConns)
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "rackpulse_bmc_kept_connections", Help: "BMCs keeping a connection open between polls (bounded by --keep-connections).",
	}, func() float64 { return float64(idle.Held()) }))
	sched := bmc.NewScheduler(bmc.SchedulerConfig{
		NewCollector:     newCollector,
		CollectorOptions: bmc.CollectorOptions{StateDir: cfg.stateDir, SpreadReads: true, IdleConns: idle, CertPools: bmc.NewCertPools()},
		OnPoll:           live.Observe,
		Workers:          cfg.workers,
		MaxWorkers:       cfg.maxWorkers,
		Registerer:       reg,
		Observer:         bmc.NewPollMetrics(reg),
		Logger:           log,
	})
	added, _, _ := sched.Update(eps)
	targets.Set(float64(added))
	life.add(component{name: "scheduler", run: cfg.wrapRun("scheduler", sched.Run)})

	agents := web.NewAgentReceiver(live, reg, log)
	if tokens, err := inv.AgentTokens(cfg.racks); err != nil {
		log.Error("agent tokens not read: agent reports are refused until a reload reads them", "err", err)
	} else {
		agents.SetTokens(tokens)
	}
	reload := func() {
		next, err := loadValidInventory(cfg.inventoryPath, log)
		if err != nil {
			reloads.WithLabelValues("invalid").Inc()
			log.Error("inventory reload rejected; keeping the running inventory", "inventory", cfg.inventoryPath, "err", err)
			return
		}
		nextEps, err := next.Endpoints(cfg.racks)
		if err != nil {
			reloads.WithLabelValues("invalid").Inc()
			log.Error("inventory reload rejected; keeping the running inventory", "inventory", cfg.inventoryPath, "err", err)
			return
		}
		reloads.WithLabelValues("ok").Inc()
		live.SetInventory(next, fleet.NewScope(cfg.racks), fleetInterval(nextEps))
		if tokens, err := next.AgentTokens(cfg.racks); err != nil {
			log.Error("agent tokens not read; keeping the previous ones", "err", err)
		} else {
			agents.SetTokens(tokens)
		}
		added, changed, removed := sched.Update(nextEps)
		targets.Set(float64(len(nextEps)))
		log.Info("inventory reloaded", "added", added, "changed", changed, "removed", removed, "bmcs", len(nextEps))
	}
	life.add(component{name: "inventory watcher", run: cfg.wrapRun("inventory watcher", func(ctx context.Context) error {
		watchInventory(ctx, cfg.inventoryPath, cfg.reloadCheck, log, reload)
		return nil
	})})

	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"status": "ok", "bmcs": len(sched.Targets()), "reporting": live.Reporting()})
	})
	web.NewAPI(live, alerts, log).Register(mux)
	agents.Register(mux)
	uiOpts := web.UIOptions{Live: live, Alerts: alerts, InventoryPath: cfg.inventoryPath, Role: "poller " + rackList(cfg.racks), Logger: log}
	if history.Reader != nil {
		uiOpts.History = history
	}
	ui, err := web.NewUI(uiOpts)
	if err != nil {
		return life.abort(err)
	}
	ui.Register(mux)
	if cfg.pprof {
		registerProfiles(mux)
	}
	srv.Handler = mux
	if auth != nil {
		srv.Handler = auth.Protect(mux, "/metrics", "/healthz")
		log.Info("dashboard and API protected", "auth_file", cfg.webAuthFile)
	} else if !isLoopback(ln.Addr()) {
		log.Warn("the dashboard and API are open to the network (no --web-auth-file)", "addr", ln.Addr().String())
	}
	httpServer.run = cfg.wrapRun("http server", httpServer.run)
	httpServer.stop = nil // the listener's own component closes it
	life.add(httpServer)

	err = life.run(ctx, func() {
		log.Info("polling", "inventory", cfg.inventoryPath, "racks", rackList(cfg.racks), "bmcs", added, "workers", cfg.workers)
		log.Info("serving", "dashboard", "http://"+ln.Addr().String()+"/", "api", "http://"+ln.Addr().String()+"/api")
		if ready != nil {
			ready <- ln.Addr().String()
		}
	})
	if err != nil {
		return err
	}
	log.Info("stopped; every BMC session logged out")
	return nil
}

func rackList(racks []string) string {
	if len(racks) == 0 {
		return "all"
	}
	return strings.Join(racks, ",")
}

// loadValidInventory loads and validates, logging warnings; errors come back as
// one error listing every problem.
func loadValidInventory(path string, log *slog.Logger) (*inventory.Inventory, error) {
	inv, problems, err := inventory.Load(path)
	for _, p := range problems.Warnings() {
		log.Warn("inventory", "problem", p.String())
	}
	if err != nil {
		return nil, fmt.Errorf("inventory %s is invalid:\n%s", path, problems.Errors().Error())
	}
	return inv, nil
}

// watchInventory calls reload when the inventory's files change (checked
// every interval by name, size and modification time, which also catches
// editors that replace files) or when the process gets SIGHUP.
func watchInventory(ctx context.Context, path string, every time.Duration, log *slog.Logger, reload func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	if every <= 0 {
		every = 2 * time.Second
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	seen := inventoryFingerprint(path)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			log.Info("SIGHUP: reloading inventory", "inventory", path)
			seen = inventoryFingerprint(path)
			reload()
		case <-tick.C:
			if now := inventoryFingerprint(path); now != seen {
				seen = now
				log.Info("inventory changed: reloading", "inventory", path)
				reload()
			}
		}
	}
}

func inventoryFingerprint(path string) [32]byte {
	h := sha256.New()
	_ = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			fmt.Fprintf(h, "%s error %v\n", p, err)
			return nil
		}
		if d.IsDir() {
			return nil
		}
		if info, err := d.Info(); err == nil {
			fmt.Fprintf(h, "%s %d %d\n", p, info.Size(), info.ModTime().UnixNano())
		}
		return nil
	})
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return sum
}

// fleetInterval is the rollup cadence: the shortest readings interval of
// the fleet (30 s by default).
func fleetInterval(eps []bmc.Endpoint) time.Duration {
	interval := bmc.DefaultReadingsInterval
	for i, ep := range eps {
		if d := ep.WithDefaults().Cadence.Readings; i == 0 || d < interval {
			interval = d
		}
	}
	return interval
}

// isLoopback reports whether a listener is on a loopback address.
func isLoopback(addr net.Addr) bool {
	tcp, ok := addr.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}
