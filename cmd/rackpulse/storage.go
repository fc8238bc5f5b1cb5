package main

import (
	"time"

	"github.com/influxdata/influxdb-client-go/v2/api/write"
	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/rackpulse/rackpulse/bmc"
	"github.com/rackpulse/rackpulse/inventory"
	"github.com/rackpulse/rackpulse/power"
	"github.com/rackpulse/rackpulse/rollup"
	"github.com/rackpulse/rackpulse/storage"
)

// addStorageFlags adds the InfluxDB settings to a command. Each is also a
// config-file key (influx.url, ...) and an environment variable
// (RACKPULSE_INFLUX_URL, ...).
func addStorageFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.String("influx-url", "", "InfluxDB URL (empty: no storage); RACKPULSE_INFLUX_URL")
	f.String("influx-token", "", "InfluxDB token (for 1.8: user:password); prefer RACKPULSE_INFLUX_TOKEN")
	f.String("influx-org", "", "InfluxDB organization (ignored by 1.8); RACKPULSE_INFLUX_ORG")
	f.String("influx-bucket", "rackpulse", "InfluxDB bucket (for 1.8: database[/retention policy]); RACKPULSE_INFLUX_BUCKET")
	f.String("influx-spool-dir", "var/spool", "directory of the on-disk spool kept while InfluxDB is unreachable; RACKPULSE_INFLUX_SPOOL_DIR")
	f.Int64("influx-spool-max-bytes", 1<<30, "bound of the spool; the oldest points are dropped past it; RACKPULSE_INFLUX_SPOOL_MAX_BYTES")
}

// storageConfig reads the InfluxDB settings of the command being run: its
// flags are bound to the influx.* keys now, since several commands define
// the same flags on one viper.
func storageConfig(cmd *cobra.Command, v *viper.Viper) storage.Config {
	for _, name := range []string{"url", "token", "org", "bucket", "spool-dir", "spool-max-bytes"} {
		_ = v.BindPFlag("influx."+name, cmd.Flags().Lookup("influx-"+name))
	}
	return storage.Config{
		URL:           v.GetString("influx.url"),
		Token:         bmc.Secret(v.GetString("influx.token")),
		Org:           v.GetString("influx.org"),
		Bucket:        v.GetString("influx.bucket"),
		SpoolDir:      v.GetString("influx.spool-dir"),
		SpoolMaxBytes: v.GetInt64("influx.spool-max-bytes"),
	}
}

// serverPoints turns one poll into the server's points, with the power the
// power model chose.
func serverPoints(inv *inventory.Inventory, st rollup.ServerState, energy *power.EnergyMeter) []*write.Point {
	s := st.Snapshot
	loc := storage.Location{Site: inv.Site, Rack: s.Rack, Server: s.Server}
	if srv, ok := inv.Server(s.Server); ok {
		loc.Room, loc.Row, loc.Rack = srv.Room, srv.Row, srv.Rack
	}
	p := storage.ServerPowerPoint{Source: string(st.Power.Source), IntervalMin: st.Power.IntervalMin, Age: st.Power.Age,
		Suspect: len(st.Power.SetAside), Redundancy: string(st.PSU.Redundancy), Time: s.Time}
	if st.Power.Known {
		w := st.Power.Watts
		p.Watts = &w
	}
	if energy != nil {
		wh := energy.Energy().Wh
		p.EnergyWh = &wh
	}
	return storage.SnapshotPoints(s, loc, p)
}

// rollupPoints turns a rollup into points: its racks, and when the result
// covers the whole site (or comes from rack totals), rows, rooms and site.
func rollupPoints(site string, res *rollup.Result, aboveRacks bool, withRacks bool) []storage.RollupPoint {
	var out []storage.RollupPoint
	if withRacks {
		for i := range res.Racks {
			n := &res.Racks[i]
			out = append(out, nodePoint(storage.LevelRack, site, n.Room, n.Row, n.Name, n, res.Time))
		}
	}
	if !aboveRacks {
		return out
	}
	for i := range res.Rows {
		n := &res.Rows[i]
		out = append(out, nodePoint(storage.LevelRow, site, n.Room, n.Name, "", n, res.Time))
	}
	for i := range res.Rooms {
		n := &res.Rooms[i]
		out = append(out, nodePoint(storage.LevelRoom, site, n.Name, "", "", n, res.Time))
	}
	return append(out, nodePoint(storage.LevelSite, site, "", "", "", &res.Site, res.Time))
}

func nodePoint(level storage.RollupLevel, site, room, row, rack string, n *rollup.Node, t time.Time) storage.RollupPoint {
	f := func(x float64) *float64 { return &x }
	p := storage.RollupPoint{
		Level: level, Site: site, Room: room, Row: row, Rack: rack, Time: t,
		Watts: f(n.Watts), EstimatedWatts: f(n.EstimatedWatts), BudgetWatts: f(n.BudgetWatts),
		UtilizationPct: f(n.UtilizationPct), ServersTotal: n.Servers, ServersReporting: n.Reporting,
		CoveragePct:   f(n.Coverage() * 100),
		FaultsWarning: n.Faults.Total(rollup.SeverityWarning), FaultsCritical: n.Faults.Total(rollup.SeverityCritical),
		Silent: n.Silent,
	}
	count := func(c rollup.Component) (all, critical int) {
		crit := n.Faults.Count(c, rollup.SeverityCritical)
		return n.Faults.Count(c, rollup.SeverityWarning) + crit, crit
	}
	p.Faults.DIMM, p.Critical.DIMM = count(rollup.ComponentDIMM)
	p.Faults.CPU, p.Critical.CPU = count(rollup.ComponentCPU)
	p.Faults.PSU, p.Critical.PSU = count(rollup.ComponentPSU)
	p.Faults.Fan, p.Critical.Fan = count(rollup.ComponentFan)
	p.Faults.Drive, p.Critical.Drive = count(rollup.ComponentDrive)
	p.Faults.BMC, p.Critical.BMC = count(rollup.ComponentBMC)
	return p
}

// rackTotals turns stored rack points back into rollup rack totals.
func rackTotals(points []storage.RackPoint) map[string]rollup.RackTotals {
	out := make(map[string]rollup.RackTotals, len(points))
	for _, p := range points {
		var t rollup.RackTotals
		t.Time = p.Time
		t.Watts, t.EstimatedWatts = deref(p.Watts), deref(p.EstimatedWatts)
		t.BudgetWatts, t.UtilizationPct = deref(p.BudgetWatts), deref(p.UtilizationPct)
		t.Servers, t.Reporting = p.ServersTotal, p.ServersReporting
		set := func(c rollup.Component, all, critical int) {
			t.Faults.Set(c, rollup.SeverityCritical, critical)
			t.Faults.Set(c, rollup.SeverityWarning, all-critical)
		}
		set(rollup.ComponentDIMM, p.Faults.DIMM, p.Critical.DIMM)
		set(rollup.ComponentCPU, p.Faults.CPU, p.Critical.CPU)
		set(rollup.ComponentPSU, p.Faults.PSU, p.Critical.PSU)
		set(rollup.ComponentFan, p.Faults.Fan, p.Critical.Fan)
		set(rollup.ComponentDrive, p.Faults.Drive, p.Critical.Drive)
		set(rollup.ComponentBMC, p.Faults.BMC, p.Critical.BMC)
		out[p.Rack] = t
	}
	return out
}

func deref(p *float64) float64 {
	if p == nil {
		return 0
	}
	return *p
}

// feedPoints turns each rack's feed load and failover state into points.
func feedPoints(inv *inventory.Inventory, racks []rackPower, t time.Time) []*write.Point {
	var out []*write.Point
	for _, rp := range racks {
		rack, ok := inv.Rack(rp.Rack)
		if !ok {
			continue
		}
		for _, fd := range rp.Feeds.Feeds {
			p := storage.FeedPoint{Site: inv.Site, Room: rack.Room, Row: rack.Row, Rack: rack.Name, Feed: fd.Name, Time: t, Watts: fd.Watts}
			if fd.CapacityWatts > 0 {
				capacity, util := fd.CapacityWatts, fd.UtilizationPct
				p.CapacityWatts, p.UtilizationPct = &capacity, &util
			}
			for _, fo := range rp.Feeds.Failover {
				if fo.Failed != fd.Name {
					continue
				}
				p.FailoverLoadWatts, p.FailoverOverloaded, p.ServersDropped = fo.LoadWatts, fo.Overloaded, fo.ServersDropped
				if fo.CapacityWatts > 0 {
					headroom := fo.HeadroomWatts
					p.FailoverHeadroomWatts = &headroom
				}
			}
			out = append(out, p.Point())
		}
	}
	return out
}
