package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/rackpulse/rackpulse/fleet"
	"github.com/rackpulse/rackpulse/rollup"
	"github.com/rackpulse/rackpulse/storage"
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
			}
			return runSiteRollup(cmd.Context(), cfg, newLogger(v))
		},
	}
	f := cmd.Flags()
	f.Duration("interval", 30*time.Second, "how often to roll up; RACKPULSE_INTERVAL")
	f.Duration("freshness", 90*time.Second, "rack totals older than this mark the rack silent; RACKPULSE_FRESHNESS")
	f.Duration("lookback", time.Hour, "how far back a silent rack's last totals are looked for (its estimate); RACKPULSE_LOOKBACK")
	f.Bool("once", false, "roll up once and exit")
	f.String("state-dir", "var/state", "directory for the alert state kept across restarts; RACKPULSE_STATE_DIR")
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
	alerts, am, err := newAlertEngine(cfg.alerts, cfg.stateDir, cfg.alerts.externalURL, cfg.interval, writer, nil, log)
	if err != nil {
		return err
	}
	alerts.SetInventory(inv, nil, cfg.interval)
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
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
			alerts.EvaluateRacks(now, res, fleet.RackFeeds(inv, feeds, totals))
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
