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
	"github.com/rackpulse/rackpulse/inventory"
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
				http:          readHTTPLimits(v),
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
	addHTTPFlags(cmd)
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
	http                httpLimits
	// runHook, when set, wraps each component's run (tests make one fail).
	runHook func(name string, run func(context.Context) error) func(context.Context) error
}

// wrapRun returns run, wrapped by the test hook when one is set.
func (c siteRollupConfig) wrapRun(name string, run func(context.Context) error) func(context.Context) error {
	if c.runHook == nil {
		return run
	}
	return c.runHook(name, run)
}

// runSiteRollup runs the site role until ctx is done (or once, with
// --once). Its components start in this order and stop in reverse: the
// dashboard's listener (bound first), the storage reader and writer, the
// alert engine (its state saved at stop), the Alertmanager sender, the
// rollup loop, and the dashboard's HTTP server. A component that returns
// or panics takes the role down with an error naming it; under --once the
// loop's end is the role's end.
func runSiteRollup(ctx context.Context, cfg siteRollupConfig, log *slog.Logger) (err error) {
	secretURLs := append([]string{cfg.storage.URL, cfg.alerts.externalURL}, cfg.alerts.alertmanagers...)
	defer func() { err = redactErr(err, secretURLs...) }()

	if !cfg.storage.Enabled() {
		return fmt.Errorf("rollup reads the rack pollers' totals from InfluxDB: set --influx-url (RACKPULSE_INFLUX_URL)")
	}
	inv, err := loadValidInventory(cfg.inventoryPath, log)
	if err != nil {
		return err
	}
	serveHTTP := cfg.listen != "" && !cfg.once
	var auth *web.Auth
	if serveHTTP && cfg.webAuthFile != "" {
		if auth, err = web.LoadAuth(cfg.webAuthFile); err != nil {
			return err
		}
	}
	engine := rollup.NewEngine(inv, rollup.Options{Interval: cfg.interval, Freshness: cfg.freshness})
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	life := newLifecycle(log)
	var ln net.Listener
	if serveHTTP {
		if ln, err = net.Listen("tcp", cfg.listen); err != nil {
			return fmt.Errorf("listen %s: %w", cfg.listen, err)
		}
		life.add(component{name: "http listener", stop: func(context.Context) error {
			if err := ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("closing %s: %w", cfg.listen, err)
			}
			return nil
		}})
	}
	reader, err := storage.NewReader(cfg.storage)
	if err != nil {
		return life.abort(fmt.Errorf("influx %s: %w", redactURL(cfg.storage.URL), err))
	}
	life.add(component{name: "storage reader", stop: func(context.Context) error { reader.Close(); return nil }})
	writer, err := storage.NewWriter(cfg.storage, storage.WithLogger(log))
	if err != nil {
		return life.abort(fmt.Errorf("influx %s: %w", redactURL(cfg.storage.URL), err))
	}
	life.add(component{name: "storage writer", run: cfg.wrapRun("storage writer", writer.Run), stop: writer.Close})
	// The site role evaluates the rack rules (RackOverBudget,
	// FeedFailoverUnsafe) of every rack it rolls up, from the stored rack
	// totals and feeds.
	externalURL := withoutUserinfo(cfg.alerts.externalURL)
	if externalURL == "" && ln != nil {
		externalURL = "http://" + ln.Addr().String()
	}
	alerts, am, err := newAlertEngine(cfg.alerts, cfg.stateDir, externalURL, cfg.interval, writer, reg, log)
	if err != nil {
		return life.abort(err)
	}
	alerts.SetInventory(inv, nil, cfg.interval)
	addAlertComponents(life, alerts, am, cfg.wrapRun)
	site := fleet.NewSiteState(cfg.interval)
	loop := func(ctx context.Context) error {
		return siteRollupLoop(ctx, cfg, inv, engine, reader, writer, alerts, site, log)
	}
	life.add(component{name: "rollup loop", run: cfg.wrapRun("rollup loop", loop), final: cfg.once})
	if serveHTTP {
		srv, err := siteDashboard(cfg, ln, auth, site, alerts, reader, reg, log)
		if err != nil {
			return life.abort(err)
		}
		web := httpComponent("http server", srv.server, srv.listener)
		web.run = cfg.wrapRun("http server", web.run)
		web.stop = nil // the listener's own component closes it
		life.add(web)
	}

	log.Info("site rollup", "site", inv.Site, "racks", len(inv.Racks()), "interval", cfg.interval, "freshness", cfg.freshness,
		"influx", redactURL(cfg.storage.URL))
	return life.run(ctx, func() {
		if ln != nil {
			log.Info("site dashboard", "url", "http://"+ln.Addr().String()+"/")
		}
	})
}

// siteRollupLoop rolls the stored rack totals up every interval until ctx
// is done (once, with --once: then it returns the cycle's error).
func siteRollupLoop(ctx context.Context, cfg siteRollupConfig, inv *inventory.Inventory, engine *rollup.Engine, reader *storage.Reader,
	writer *storage.Writer, alerts *alert.Engine, site *fleet.SiteState, log *slog.Logger) error {
	tick := time.NewTicker(cfg.interval)
	defer tick.Stop()
	for {
		now := time.Now()
		// Look back further than the freshness window: a silent rack's last
		// totals are its estimate; ComputeFromRacks marks it silent.
		points, err := reader.LatestRacks(ctx, inv.Site, max(cfg.lookback, cfg.freshness))
		if err != nil {
			err = redactErr(err, cfg.storage.URL)
			log.Error("reading rack totals", "err", err)
		} else {
			totals := fleet.RackTotals(points)
			res := engine.ComputeFromRacks(now, totals, cfg.freshness)
			writer.Write(storage.RollupPoints(fleet.RollupPoints(inv.Site, res, true, false)...)...)
			// Feeds are judged from fresh points only: a silent rack's
			// feed alerts are held.
			feeds, ferr := reader.LatestFeeds(ctx, inv.Site, cfg.freshness)
			if ferr != nil {
				log.Error("reading rack feeds", "err", redactErr(ferr, cfg.storage.URL))
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

// siteHTTP is the site dashboard's server and the listener bounding it.
type siteHTTP struct {
	server   *http.Server
	listener net.Listener
}

// siteDashboard builds the site role's server on ln: the dashboard,
// /api/alerts, /metrics and /healthz.
func siteDashboard(cfg siteRollupConfig, ln net.Listener, auth *web.Auth, site *fleet.SiteState, alerts *alert.Engine, reader *storage.Reader,
	reg *prometheus.Registry, log *slog.Logger) (siteHTTP, error) {
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
		return siteHTTP{}, err
	}
	ui.Register(mux)
	var handler http.Handler = mux
	if auth != nil {
		handler = auth.Protect(mux, "/metrics", "/healthz")
	}
	srv, bounded := newHTTPServer(ln, handler, cfg.http, reg, log)
	return siteHTTP{server: srv, listener: bounded}, nil
}
