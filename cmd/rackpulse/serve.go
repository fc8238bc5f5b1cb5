package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

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
			cfg := serveConfig{
				inventoryPath: v.GetString("inventory"),
				racks:         splitList(v.GetString("racks")),
				listen:        v.GetString("listen"),
				workers:       v.GetInt("workers"),
				reloadCheck:   v.GetDuration("reload-check"),
				stateDir:      v.GetString("state-dir"),
				pprof:         v.GetBool("pprof"),
				webAuthFile:   v.GetString("web-auth-file"),
				storage:       storageConfig(cmd, v),
				alerts:        alerts,
			}
			return runServe(cmd.Context(), cfg, newLogger(v, cmd.ErrOrStderr()), nil)
		},
	}
	f := cmd.Flags()
	f.String("racks", "", "comma-separated racks to poll (default all); RACKPULSE_RACKS")
	f.String("listen", "127.0.0.1:9290", "address for /metrics, /healthz and /api; RACKPULSE_LISTEN")
	f.Int("workers", 256, "polls in flight across the fleet; RACKPULSE_WORKERS")
	f.Duration("reload-check", 2*time.Second, "how often to look for inventory changes; RACKPULSE_RELOAD_CHECK")
	f.Bool("pprof", false, "serve Go profiles under /debug/pprof/ on the listen address; RACKPULSE_PPROF")
	f.String("web-auth-file", "", "protect the dashboard and /api with the users (user:bcrypt-hash) and bearer tokens (bearer:bcrypt-hash) in this file; /metrics and /healthz stay open; RACKPULSE_WEB_AUTH_FILE")
	addStorageFlags(cmd)
	addAlertFlags(cmd)
	f.String("state-dir", "var/state", "directory for small state files kept across restarts (log positions, alert state); RACKPULSE_STATE_DIR")
	return cmd
}

type serveConfig struct {
	inventoryPath string
	racks         []string
	listen        string
	workers       int
	reloadCheck   time.Duration
	stateDir      string
	pprof         bool
	webAuthFile   string
	storage       storage.Config
	alerts        alertConfig
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// runServe runs the poller until ctx is done. ready, when set, receives the
// bound listen address once the HTTP server is up (for tests).
func runServe(ctx context.Context, cfg serveConfig, log *slog.Logger, ready chan<- string) error {
	inv, err := loadValidInventory(cfg.inventoryPath, log)
	if err != nil {
		return err
	}
	eps, err := inv.Endpoints(cfg.racks)
	if err != nil {
		return fmt.Errorf("inventory %s: %w", cfg.inventoryPath, err)
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

	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.listen, err)
	}
	externalURL := cfg.alerts.externalURL
	if externalURL == "" {
		externalURL = "http://" + ln.Addr().String()
	}

	interval := fleetInterval(eps)
	live := fleet.New(inv, fleet.NewScope(cfg.racks), interval, fleet.Options{Registerer: reg, Logger: log})
	var store *storage.Writer
	if cfg.storage.Enabled() {
		store, err = storage.NewWriter(cfg.storage, storage.WithLogger(log), storage.WithRegisterer(reg))
		if err != nil {
			ln.Close()
			return fmt.Errorf("influx: %w", err)
		}
		live.AddSink(fleet.NewStore(store))
		log.Info("storing to InfluxDB", "url", cfg.storage.URL, "bucket", cfg.storage.Bucket, "spool", cfg.storage.SpoolDir)
	} else {
		log.Info("no InfluxDB configured (--influx-url): readings are served but not stored")
	}
	alerts, am, err := newAlertEngine(cfg.alerts, cfg.stateDir, externalURL, interval, store, reg, log)
	if err != nil {
		ln.Close()
		return err
	}
	live.AddSink(alerts)
	sched := bmc.NewScheduler(bmc.SchedulerConfig{
		NewCollector:     newCollector,
		CollectorOptions: bmc.CollectorOptions{StateDir: cfg.stateDir},
		OnPoll:           live.Observe,
		Workers:          cfg.workers,
		Observer:         bmc.NewPollMetrics(reg),
		Logger:           log,
	})
	added, _, _ := sched.Update(eps)
	targets.Set(float64(added))
	log.Info("polling", "inventory", cfg.inventoryPath, "racks", rackList(cfg.racks), "bmcs", added, "workers", cfg.workers)

	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"status": "ok", "bmcs": len(sched.Targets()), "reporting": live.Reporting()})
	})
	web.NewAPI(live, alerts, log).Register(mux)
	agents := web.NewAgentReceiver(live, reg, log)
	if tokens, err := inv.AgentTokens(cfg.racks); err != nil {
		log.Error("agent tokens not read: agent reports are refused until a reload reads them", "err", err)
	} else {
		agents.SetTokens(tokens)
	}
	agents.Register(mux)
	uiOpts := web.UIOptions{Live: live, Alerts: alerts, InventoryPath: cfg.inventoryPath, Role: "poller " + rackList(cfg.racks), Logger: log}
	if cfg.storage.Enabled() {
		reader, err := storage.NewReader(cfg.storage)
		if err != nil {
			ln.Close()
			return fmt.Errorf("influx: %w", err)
		}
		defer reader.Close()
		uiOpts.History = fleet.StoredHistory{Reader: reader}
	}
	ui, err := web.NewUI(uiOpts)
	if err != nil {
		ln.Close()
		return err
	}
	ui.Register(mux)
	if cfg.pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	}
	var handler http.Handler = mux
	if cfg.webAuthFile != "" {
		auth, err := web.LoadAuth(cfg.webAuthFile)
		if err != nil {
			ln.Close()
			return err
		}
		handler = auth.Protect(mux, "/metrics", "/healthz")
		log.Info("dashboard and API protected", "auth_file", cfg.webAuthFile)
	} else if !isLoopback(ln.Addr()) {
		log.Warn("the dashboard and API are open to the network (no --web-auth-file)", "addr", ln.Addr().String())
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second}
	httpDone := make(chan error, 1)
	go func() { httpDone <- srv.Serve(ln) }()
	log.Info("serving", "dashboard", "http://"+ln.Addr().String()+"/", "paths", "/metrics /healthz /api/servers /api/rollup /api/power /api/events /api/alerts")
	if ready != nil {
		ready <- ln.Addr().String()
	}

	runCtx, stopAll := context.WithCancel(ctx)
	defer stopAll()
	var wg sync.WaitGroup
	wg.Go(func() {
		watchInventory(runCtx, cfg.inventoryPath, cfg.reloadCheck, log, func() {
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
		})
	})

	wg.Go(func() { live.Run(runCtx) })
	if am != nil {
		wg.Go(func() { am.Run(runCtx) })
	}
	if store != nil {
		wg.Go(func() {
			if err := store.Run(runCtx); err != nil && runCtx.Err() == nil {
				log.Error("storage writer stopped", "err", err)
			}
		})
	}

	runErr := sched.Run(runCtx)
	stopAll()
	wg.Wait()
	if store != nil {
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		if err := store.Close(closeCtx); err != nil {
			log.Warn("storage: points not written are kept in the spool", "err", err)
		}
		cancel()
	}
	if err := alerts.Close(); err != nil {
		log.Warn("alert state not saved", "err", err)
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		log.Warn("http shutdown", "err", err)
	}
	if err := <-httpDone; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http server: %w", err)
	}
	log.Info("stopped; every BMC session logged out")
	return runErr
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
