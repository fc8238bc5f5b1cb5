package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/rackpulse/rackpulse/alert"
	"github.com/rackpulse/rackpulse/fleet"
	"github.com/rackpulse/rackpulse/rollup"
	"github.com/rackpulse/rackpulse/storage"
	"github.com/rackpulse/rackpulse/web"
)

func newRollupCmd(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rollup",
		Short: "Site role: roll the rack pollers' stored rack totals up to rows, rooms and the site",
		Long: `rollup is the site role of a multi-poller deployment. Every interval it
reads the latest rack totals the rack pollers (serve --racks ...) stored in
InfluxDB within the freshness window, and writes row, room and site totals.
A rack whose poller fell silent (nothing stored within the window) is marked
silent: its servers are not counted as reporting, and its last watts are an
estimate, never summed as live.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			alerts, err := readAlertConfig(v)
			if err != nil {
				return err
			}
			cfg := siteRollupConfig{
				inventoryPath: v.GetString("inventory"),
				interval:      v.GetDuration("interval"),
				freshness:     v.GetDuration("freshness"),
				lookback:      v.GetDuration("lookback"),
				once:          v.GetBool("once"),
				storage:       storageConfig(cmd, v),
				stateDir:      v.GetString("state-dir"),
				alerts:        alerts,
				listen:        v.GetString("listen"),
				webAuthFile:   v.GetString("web-auth-file"),
			}
			return runSiteRollup(cmd.Context(), cfg, newLogger(v, cmd.ErrOrStderr()))
		},
	}
	f := cmd.Flags()
	f.Duration("interval", 30*time.Second, "how often to roll up; RACKPULSE_INTERVAL")
	f.Duration("freshness", 90*time.Second, "rack totals older than this mark the rack silent; RACKPULSE_FRESHNESS")
	f.Duration("lookback", time.Hour, "how far back a silent rack's last totals are looked for (its estimate); RACKPULSE_LOOKBACK")
	f.Bool("once", false, "roll up once and exit")
	f.String("state-dir", "var/state", "directory for the alert state kept across restarts; RACKPULSE_STATE_DIR")
	f.String("listen", "127.0.0.1:9291", "address of the site dashboard (/), /api/alerts, /metrics and /healthz; empty: none; RACKPULSE_LISTEN")
	f.String("web-auth-file", "", "protect the dashboard and /api with the users and bearer tokens in this file (see serve); RACKPULSE_WEB_AUTH_FILE")
	addStorageFlags(cmd)
	addAlertFlags(cmd)
	return cmd
}

type siteRollupConfig struct {
	inventoryPath       string
	interval, freshness time.Duration
	lookback            time.Duration
	once                bool
	storage             storage.Config
	stateDir            string
	alerts              alertConfig
	listen, webAuthFile string
}

func runSiteRollup(ctx context.Context, cfg siteRollupConfig, log *slog.Logger) error {
	if !cfg.storage.Enabled() {
		return fmt.Errorf("rollup reads the rack pollers' totals from InfluxDB: set --influx-url (RACKPULSE_INFLUX_URL)")
	}
	inv, err := loadValidInventory(cfg.inventoryPath, log)
	if err != nil {
		return err
	}
	engine := rollup.NewEngine(inv, rollup.Options{Interval: cfg.interval, Freshness: cfg.freshness})
	reader, err := storage.NewReader(cfg.storage)
	if err != nil {
		return fmt.Errorf("influx: %w", err)
	}
	defer reader.Close()
	writer, err := storage.NewWriter(cfg.storage, storage.WithLogger(log))
	if err != nil {
		return fmt.Errorf("influx: %w", err)
	}
	// The site role evaluates the rack rules (RackOverBudget,
	// FeedFailoverUnsafe) of every rack it rolls up, from the stored rack
	// totals and feeds.
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	externalURL := cfg.alerts.externalURL
	if externalURL == "" && cfg.listen != "" {
		externalURL = "http://" + cfg.listen
	}
	alerts, am, err := newAlertEngine(cfg.alerts, cfg.stateDir, externalURL, cfg.interval, writer, reg, log)
	if err != nil {
		return err
	}
	alerts.SetInventory(inv, nil, cfg.interval)
	site := fleet.NewSiteState(cfg.interval)
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	if cfg.listen != "" && !cfg.once {
		stopHTTP, err := serveSiteDashboard(cfg, site, alerts, reader, reg, log)
		if err != nil {
			return err
		}
		defer stopHTTP()
	}
	writerDone := make(chan error, 1)
	go func() { writerDone <- writer.Run(runCtx) }()
	amDone := make(chan struct{})
	go func() {
		defer close(amDone)
		if am != nil {
			am.Run(runCtx)
		}
	}()
	defer func() {
		stop()
		<-amDone
		if err := alerts.Close(); err != nil {
			log.Warn("alert state not saved", "err", err)
		}
		<-writerDone
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := writer.Close(closeCtx); err != nil {
			log.Warn("storage: points not written are kept in the spool", "err", err)
		}
	}()

	log.Info("site rollup", "site", inv.Site, "racks", len(inv.Racks()), "interval", cfg.interval, "freshness", cfg.freshness)
	tick := time.NewTicker(cfg.interval)
	defer tick.Stop()
	for {
		now := time.Now()
		// Look back further than the freshness window: a silent rack's last
		// totals are its estimate; ComputeFromRacks marks it silent.
		points, err := reader.LatestRacks(ctx, inv.Site, max(cfg.lookback, cfg.freshness))
		if err != nil {
			log.Error("reading rack totals", "err", err)
		} else {
			totals := fleet.RackTotals(points)
			res := engine.ComputeFromRacks(now, totals, cfg.freshness)
			writer.Write(storage.RollupPoints(fleet.RollupPoints(inv.Site, res, true, false)...)...)
			// Feeds are judged from fresh points only: a silent rack's
			// feed alerts are held.
			feeds, ferr := reader.LatestFeeds(ctx, inv.Site, cfg.freshness)
			if ferr != nil {
				log.Error("reading rack feeds", "err", ferr)
			}
			racks := fleet.RackFeeds(inv, feeds, totals)
			alerts.EvaluateRacks(now, res, racks)
			site.Update(now, cfg.interval, inv, res, racks)
			log.Info("site rolled up", "watts", res.Site.Watts, "estimated_watts", res.Site.EstimatedWatts,
				"racks", res.Site.Racks, "silent_racks", res.Site.SilentRacks, "servers", res.Site.Servers, "reporting", res.Site.Reporting)
		}
		if cfg.once {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// serveSiteDashboard serves the site role's dashboard, /api/alerts,
// /metrics and /healthz on cfg.listen until the returned stop is called.
func serveSiteDashboard(cfg siteRollupConfig, site *fleet.SiteState, alerts *alert.Engine, reader *storage.Reader, reg *prometheus.Registry, log *slog.Logger) (func(), error) {
	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", cfg.listen, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
	})
	web.NewAPI(nil, alerts, log).Register(mux)
	ui, err := web.NewUI(web.UIOptions{Live: site, Alerts: alerts, History: fleet.StoredHistory{Reader: reader},
		InventoryPath: cfg.inventoryPath, Role: "site rollup", Logger: log})
	if err != nil {
		ln.Close()
		return nil, err
	}
	ui.Register(mux)
	var handler http.Handler = mux
	if cfg.webAuthFile != "" {
		auth, err := web.LoadAuth(cfg.webAuthFile)
		if err != nil {
			ln.Close()
			return nil, err
		}
		handler = auth.Protect(mux, "/metrics", "/healthz")
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	log.Info("site dashboard", "url", "http://"+ln.Addr().String()+"/")
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("site dashboard", "err", err)
		}
	}, nil
}
