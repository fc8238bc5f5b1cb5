package fleet

import (
	"context"
	"time"

	"github.com/influxdata/influxdb-client-go/v2/api/write"

	"github.com/rackpulse/rackpulse/inventory"
	"github.com/rackpulse/rackpulse/power"
	"github.com/rackpulse/rackpulse/rollup"
	"github.com/rackpulse/rackpulse/storage"
)

// PointWriter queues points for InfluxDB without blocking
// (storage.Writer).
type PointWriter interface {
	Write(points ...*write.Point)
}

// Store is the sink that writes every good poll (the Snapshot's points,
// the server's power and energy, its new BMC log entries as events) and
// every rollup cycle (rack and, for a whole-site poller, row, room and site
// totals; rack feeds) to InfluxDB.
type Store struct {
	w PointWriter
}

var _ Sink = (*Store)(nil)

// NewStore builds the storage sink over a writer.
func NewStore(w PointWriter) *Store { return &Store{w: w} }

// SetInventory needs nothing: polls and cycles carry their inventory.
func (s *Store) SetInventory(*inventory.Inventory, Scope, time.Duration) {}

// ObservePoll writes a good poll's points and its new log entries.
func (s *Store) ObservePoll(p *Poll) {
	if p.Snapshot == nil {
		return
	}
	loc := Location(p.Site, p.Server)
	s.w.Write(serverPoints(p, loc)...)
	if logs := p.Snapshot.Logs; len(logs) > 0 {
		points := make([]*write.Point, 0, len(logs))
		for _, e := range logs {
			points = append(points, storage.EventPoint(e, loc, p.Snapshot.Time))
		}
		s.w.Write(points...)
	}
}

// ObserveCycle writes the cycle's rollup and feed points.
func (s *Store) ObserveCycle(c *Cycle) {
	points := RollupPoints(c.Inventory.Site, c.Result, c.Scope.WholeSite(), true)
	energy := make(map[string]float64, len(c.Racks))
	for _, rp := range c.Racks {
		energy[rp.Rack] = rp.Energy.Wh
	}
	for i := range points {
		if wh, ok := energy[points[i].Rack]; ok && points[i].Level == storage.LevelRack {
			points[i].EnergyWh = &wh
		}
	}
	s.w.Write(storage.RollupPoints(points...)...)
	s.w.Write(feedPoints(c.Inventory, c.Racks, c.Time)...)
}

// Location is where a server sits, as storage tags it.
func Location(site string, srv *inventory.Server) storage.Location {
	return storage.Location{Site: site, Room: srv.Room, Row: srv.Row, Rack: srv.Rack, Server: srv.Name}
}

// serverPoints turns one good poll into the server's points, with the power
// the power model chose.
func serverPoints(p *Poll, loc storage.Location) []*write.Point {
	st, s := &p.State, p.Snapshot
	sp := storage.ServerPowerPoint{Source: string(st.Power.Source), IntervalMin: st.Power.IntervalMin, Age: st.Power.Age,
		Suspect: len(st.Power.SetAside), Redundancy: string(st.PSU.Redundancy), Time: s.Time}
	if st.Power.Known {
		w := st.Power.Watts
		sp.Watts = &w
	}
	if p.HasEnergy {
		wh := p.Energy.Wh
		sp.EnergyWh = &wh
	}
	return storage.SnapshotPoints(s, loc, sp)
}

// RollupPoints turns a rollup into points: its racks (withRacks), and when
// the result covers the whole site (or comes from rack totals), rows,
// rooms and site (aboveRacks).
func RollupPoints(site string, res *rollup.Result, aboveRacks bool, withRacks bool) []storage.RollupPoint {
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
		Silent: n.Silent, SilentRacks: n.SilentRacks,
		Redundancy: storage.RedundancyCounts{Lost: n.RedundancyLost, Degraded: n.RedundancyDegraded, NotRedundant: n.RedundancyNotRedundant},
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

// RackTotals turns stored rack points back into rollup rack totals (the
// site role's input).
func RackTotals(points []storage.RackPoint) map[string]rollup.RackTotals {
	out := make(map[string]rollup.RackTotals, len(points))
	for _, p := range points {
		var t rollup.RackTotals
		t.Time = p.Time
		t.Watts, t.EstimatedWatts = deref(p.Watts), deref(p.EstimatedWatts)
		t.BudgetWatts, t.UtilizationPct = deref(p.BudgetWatts), deref(p.UtilizationPct)
		t.Servers, t.Reporting = p.ServersTotal, p.ServersReporting
		t.RedundancyLost, t.RedundancyDegraded, t.RedundancyNotRedundant = p.Redundancy.Lost, p.Redundancy.Degraded, p.Redundancy.NotRedundant
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
func feedPoints(inv *inventory.Inventory, racks []RackPower, t time.Time) []*write.Point {
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

// RackFeeds turns stored feed points back into each rack's failover
// state (the site role's input for FeedFailoverUnsafe), with each rack's
// servers reporting from its stored totals. A rack with no fresh feed
// points is absent.
func RackFeeds(inv *inventory.Inventory, points []storage.FeedPoint, totals map[string]rollup.RackTotals) []RackPower {
	byRack := map[string]*RackPower{}
	var out []*RackPower
	for _, f := range points {
		rp := byRack[f.Rack]
		if rp == nil {
			rp = &RackPower{Rack: f.Rack}
			rp.Feeds.Servers = totals[f.Rack].Reporting
			byRack[f.Rack] = rp
			out = append(out, rp)
		}
		rp.Feeds.Feeds = append(rp.Feeds.Feeds, power.Feed{Name: f.Feed, Watts: f.Watts, CapacityWatts: deref(f.CapacityWatts), UtilizationPct: deref(f.UtilizationPct)})
		fo := power.Failover{Failed: f.Feed, LoadWatts: f.FailoverLoadWatts, Overloaded: f.FailoverOverloaded, ServersDropped: f.ServersDropped}
		if f.FailoverHeadroomWatts != nil {
			fo.HeadroomWatts = *f.FailoverHeadroomWatts
			fo.CapacityWatts = fo.LoadWatts + fo.HeadroomWatts
			if fo.CapacityWatts > 0 {
				fo.HeadroomPct = 100 * fo.HeadroomWatts / fo.CapacityWatts
			}
		}
		if rack, ok := inv.Rack(f.Rack); ok {
			if names := rack.FeedNames(); len(names) == 2 {
				fo.Survivor = names[0]
				if fo.Survivor == f.Feed {
					fo.Survivor = names[1]
				}
			}
		}
		rp.Feeds.Failover = append(rp.Feeds.Failover, fo)
	}
	racks := make([]RackPower, len(out))
	for i, rp := range out {
		racks[i] = *rp
	}
	return racks
}

// StoredHistory reads charts' power history from InfluxDB (the web UI's
// PowerHistory): the storage reader's series, as fleet series.
type StoredHistory struct {
	Reader *storage.Reader
}

// PowerHistory reads a server's, a rack's (with its feeds) or the site's
// power over span, downsampled to about points points.
func (h StoredHistory) PowerHistory(ctx context.Context, site string, what HistoryOf, span time.Duration, points int) ([]Series, error) {
	got, err := h.Reader.PowerHistory(ctx, storage.HistoryQuery{Site: site, Rack: what.Rack, Server: what.Server, Span: span, Points: points})
	if err != nil {
		return nil, err
	}
	out := make([]Series, len(got))
	for i, s := range got {
		out[i].Name = s.Name
		out[i].Samples = make([]Sample, len(s.Points))
		for j, p := range s.Points {
			out[i].Samples[j] = Sample{T: p.Time, W: p.Watts}
		}
	}
	return out, nil
}

// ObserveAgent writes an agent's report as host_* points.
func (s *Store) ObserveAgent(r *AgentReport) {
	s.w.Write(storage.HostPoints(r.Report, Location(r.Site, r.Server), r.At, r.Reconciliation.Identity, len(r.Reconciliation.Differences))...)
}
