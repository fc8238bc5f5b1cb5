package storage

import (
	"slices"
	"strings"
	"time"

	"github.com/influxdata/influxdb-client-go/v2/api/write"

	"github.com/rackpulse/rackpulse/bmc"
)

// Measurement names. docs/schema.md describes every tag and field.
const (
	MeasurementSensor       = "sensor"
	MeasurementPSU          = "psu"
	MeasurementDIMM         = "dimm"
	MeasurementCPU          = "cpu"
	MeasurementDrive        = "drive"
	MeasurementServerPower  = "server_power"
	MeasurementPoll         = "poll"
	MeasurementServerHealth = "server_health"
	MeasurementRollup       = "rollup"
	MeasurementFeed         = "feed"
	MeasurementEvent        = "event"
	MeasurementAlert        = "alert"
)

// Location is where a server sits in the inventory: the path tags of every
// server-level point.
type Location struct {
	Site   string
	Room   string
	Row    string
	Rack   string
	Server string
}

func (l Location) tags(p *write.Point) *write.Point {
	addTag(p, "site", l.Site)
	addTag(p, "room", l.Room)
	addTag(p, "row", l.Row)
	addTag(p, "rack", l.Rack)
	addTag(p, "server", l.Server)
	return p
}

// addTag adds a tag unless its value is empty (InfluxDB has no empty tags).
func addTag(p *write.Point, k, v string) {
	if v != "" {
		p.AddTag(k, v)
	}
}

// addFloat adds a float field when v is present: missing is not zero. A
// value that is not a number (NaN, ±Inf) is left to the Writer, which
// leaves it out of the point, never written, and counts and logs it.
func addFloat(p *write.Point, k string, v *float64) {
	if v != nil {
		p.AddField(k, *v)
	}
}

func addInt(p *write.Point, k string, v *int64) {
	if v != nil {
		p.AddField(k, *v)
	}
}

func addString(p *write.Point, k, v string) {
	if v != "" {
		p.AddField(k, v)
	}
}

// HealthLevel maps a health to the number stored in health_level fields:
// 0 unknown, 1 OK, 2 Warning, 3 Critical.
func HealthLevel(h bmc.Health) int64 {
	switch h {
	case bmc.HealthOK:
		return 1
	case bmc.HealthWarning:
		return 2
	case bmc.HealthCritical:
		return 3
	}
	return 0
}

// addHealth adds health (string, when known) and health_level (always), so
// every point has at least one field.
func addHealth(p *write.Point, h bmc.Health) {
	addString(p, "health", string(h))
	p.AddField("health_level", HealthLevel(h))
}

// Extra is more data about a server's poll that belongs with its Snapshot's
// points but is computed elsewhere (for example ServerPowerPoint).
type Extra interface {
	points(loc Location, t time.Time) []*write.Point
}

// ServerPowerPoint is a server's input power as the power package computed
// it, with provenance. Watts is nil when no plausible reading was found.
type ServerPowerPoint struct {
	Watts *float64
	// Source is where Watts came from (a bmc.PowerSource name, or a
	// fallback such as "estimate").
	Source string
	// IntervalMin is the BMC's averaging window, where it publishes one.
	IntervalMin *float64
	// Age is how old the reading is when written (0 when fresh).
	Age time.Duration
	// Suspect counts readings set aside as implausible.
	Suspect int
	// Redundancy is the server's PSU redundancy verdict as the power
	// package judged it: redundant, degraded, lost (a failure took
	// redundancy away), not_redundant (none by configuration) or unknown.
	Redundancy string
	// EnergyWh is the energy integrated since the poller started, over the
	// time covered by readings (gaps are not bridged).
	EnergyWh *float64
	// Time overrides the Snapshot's time when set.
	Time time.Time
}

func (sp ServerPowerPoint) points(loc Location, t time.Time) []*write.Point {
	if !sp.Time.IsZero() {
		t = sp.Time
	}
	p := loc.tags(write.NewPointWithMeasurement(MeasurementServerPower))
	addFloat(p, "watts", sp.Watts)
	addString(p, "source", sp.Source)
	addFloat(p, "interval_min", sp.IntervalMin)
	p.AddField("age_s", sp.Age.Seconds())
	p.AddField("suspect", int64(sp.Suspect))
	addFloat(p, "energy_wh", sp.EnergyWh)
	addString(p, "psu_redundancy", sp.Redundancy)
	p.SetTime(t)
	return []*write.Point{p}
}

// SnapshotPoints turns one server's Snapshot into points: one per sensor,
// PSU, DIMM, CPU and drive, one per component of server_health, one poll
// point, and the points of every extra (server_power). All carry the
// Snapshot's time and loc's path tags. Absent readings are absent fields,
// never zeros.
func SnapshotPoints(s *bmc.Snapshot, loc Location, extra ...Extra) []*write.Point {
	if loc.Server == "" {
		loc.Server = s.Server
	}
	if loc.Rack == "" {
		loc.Rack = s.Rack
	}
	t := s.Time
	if t.IsZero() {
		t = s.Poll.Started
	}
	n := len(s.Sensors) + len(s.PSUs) + len(s.DIMMs) + len(s.CPUs) + len(s.Drives) + 8 + len(extra)
	out := make([]*write.Point, 0, n)
	add := func(p *write.Point) { out = append(out, p.SetTime(t)) }

	for i := range s.Sensors {
		sn := &s.Sensors[i]
		p := loc.tags(write.NewPointWithMeasurement(MeasurementSensor))
		addTag(p, "sensor", sn.Name)
		addTag(p, "kind", string(sn.Kind))
		addTag(p, "context", sn.Context)
		addTag(p, "unit", sn.Unit)
		addTag(p, "chassis", sn.Chassis)
		addFloat(p, "value", sn.Value)
		addFloat(p, "lower_critical", sn.Thresholds.LowerCritical)
		addFloat(p, "lower_warning", sn.Thresholds.LowerWarning)
		addFloat(p, "upper_warning", sn.Thresholds.UpperWarning)
		addFloat(p, "upper_critical", sn.Thresholds.UpperCritical)
		addHealth(p, sn.Health)
		addString(p, "state", sn.State)
		if len(sn.States) > 0 {
			p.AddField("states", strings.Join(sn.States, ","))
		}
		add(p)
	}
	for i := range s.PSUs {
		ps := &s.PSUs[i]
		p := loc.tags(write.NewPointWithMeasurement(MeasurementPSU))
		addTag(p, "bay", ps.Bay)
		addTag(p, "chassis", ps.Chassis)
		addFloat(p, "input_watts", ps.InputWatts)
		addFloat(p, "output_watts", ps.OutputWatts)
		addFloat(p, "capacity_watts", ps.CapacityWatts)
		addFloat(p, "input_volts", ps.InputVolts)
		addHealth(p, ps.Health)
		addString(p, "state", ps.State)
		p.AddField("failure_predicted", ps.FailurePredicted)
		addString(p, "line_input_status", ps.LineInputStatus)
		p.AddField("suspect", int64(len(ps.Suspect)))
		addString(p, "model", ps.Model)
		addString(p, "serial", ps.Serial)
		add(p)
	}
	for i := range s.DIMMs {
		d := &s.DIMMs[i]
		p := loc.tags(write.NewPointWithMeasurement(MeasurementDIMM))
		addTag(p, "slot", d.Slot)
		addTag(p, "system", d.System)
		addInt(p, "correctable_errors", d.CorrectableErrors)
		addInt(p, "uncorrectable_errors", d.UncorrectableErrors)
		addHealth(p, d.Health)
		addString(p, "state", d.State)
		if d.SizeMiB > 0 {
			p.AddField("size_mib", d.SizeMiB)
		}
		addString(p, "part_number", d.PartNumber)
		addString(p, "serial", d.Serial)
		add(p)
	}
	for i := range s.CPUs {
		c := &s.CPUs[i]
		p := loc.tags(write.NewPointWithMeasurement(MeasurementCPU))
		addTag(p, "socket", c.Socket)
		addTag(p, "system", c.System)
		addFloat(p, "temperature_c", c.TemperatureC)
		addHealth(p, c.Health)
		addString(p, "state", c.State)
		if c.Cores > 0 {
			p.AddField("cores", int64(c.Cores))
		}
		addString(p, "model", c.Model)
		add(p)
	}
	for i := range s.Drives {
		d := &s.Drives[i]
		p := loc.tags(write.NewPointWithMeasurement(MeasurementDrive))
		addTag(p, "bay", d.Bay)
		addTag(p, "system", d.System)
		addHealth(p, d.Health)
		addString(p, "state", d.State)
		p.AddField("failure_predicted", d.FailurePredicted)
		addFloat(p, "life_left_pct", d.LifeLeftPercent)
		addInt(p, "correctable_errors", d.CorrectableErrors)
		addInt(p, "uncorrectable_errors", d.UncorrectableErrors)
		addInt(p, "media_errors", d.MediaErrors)
		if d.CapacityBytes > 0 {
			p.AddField("capacity_bytes", d.CapacityBytes)
		}
		addString(p, "media", d.Media)
		addString(p, "model", d.Model)
		addString(p, "serial", d.Serial)
		add(p)
	}
	for _, p := range healthPoints(s, loc) {
		add(p)
	}
	add(pollPoint(s, loc))
	for _, e := range extra {
		if e != nil {
			out = append(out, e.points(loc, t)...)
		}
	}
	return out
}

// Components of server_health, in the order they are written.
const (
	ComponentServer = "server"
	ComponentDIMM   = "dimm"
	ComponentCPU    = "cpu"
	ComponentPSU    = "psu"
	ComponentFan    = "fan"
	ComponentDrive  = "drive"
	ComponentBMC    = "bmc"
)

type healthTally struct {
	total, warning, critical int64
	worst                    bmc.Health
}

func (h *healthTally) add(x bmc.Health) {
	h.total++
	h.worst = h.worst.Worse(x)
	switch x {
	case bmc.HealthWarning:
		h.warning++
	case bmc.HealthCritical:
		h.critical++
	}
}

// healthPoints writes one server_health point per component: how many of
// that component the server has, how many are Warning or Critical, and the
// worst health. The server component is Snapshot.Health(); bmc is how the
// poll went (Warning when a part of it failed).
func healthPoints(s *bmc.Snapshot, loc Location) []*write.Point {
	var srv, dimm, cpu, psu, fan, drive, bmcT healthTally
	srv.total = int64(len(s.Systems) + len(s.Chassis))
	srv.worst = s.Health()
	for _, sys := range s.Systems {
		srv.count(sys.Health.Worse(sys.HealthRollup))
	}
	for _, c := range s.Chassis {
		srv.count(c.Health)
	}
	for _, d := range s.DIMMs {
		dimm.add(d.Health)
	}
	for _, c := range s.CPUs {
		cpu.add(c.Health)
	}
	for _, p := range s.PSUs {
		h := p.Health
		if p.FailurePredicted {
			h = h.Worse(bmc.HealthWarning)
		}
		psu.add(h)
	}
	for _, sn := range s.Sensors {
		if sn.Kind == bmc.KindFan {
			fan.add(sn.Health)
		}
	}
	for _, d := range s.Drives {
		h := d.Health
		if d.FailurePredicted {
			h = h.Worse(bmc.HealthWarning)
		}
		drive.add(h)
	}
	if s.Poll.OK() {
		bmcT.add(bmc.HealthOK)
	} else {
		bmcT.add(bmc.HealthWarning)
	}
	tallies := []struct {
		component string
		t         *healthTally
	}{
		{ComponentServer, &srv}, {ComponentDIMM, &dimm}, {ComponentCPU, &cpu}, {ComponentPSU, &psu},
		{ComponentFan, &fan}, {ComponentDrive, &drive}, {ComponentBMC, &bmcT},
	}
	out := make([]*write.Point, 0, len(tallies))
	for _, c := range tallies {
		p := loc.tags(write.NewPointWithMeasurement(MeasurementServerHealth))
		p.AddTag("component", c.component)
		p.AddField("total", c.t.total)
		p.AddField("warning", c.t.warning)
		p.AddField("critical", c.t.critical)
		addHealth(p, c.t.worst)
		out = append(out, p)
	}
	return out
}

// count tallies a health without adding to total (used where the total is
// known up front).
func (h *healthTally) count(x bmc.Health) {
	switch x {
	case bmc.HealthWarning:
		h.warning++
	case bmc.HealthCritical:
		h.critical++
	}
}

func pollPoint(s *bmc.Snapshot, loc Location) *write.Point {
	r := &s.Poll
	p := loc.tags(write.NewPointWithMeasurement(MeasurementPoll))
	p.AddField("duration_s", r.Duration.Seconds())
	p.AddField("requests", int64(r.Requests))
	p.AddField("bytes", r.Bytes)
	p.AddField("ok", r.OK())
	p.AddField("part_errors", int64(len(r.Errors)))
	p.AddField("parts_read", int64(len(r.Read)))
	p.AddField("parts_cached", int64(len(r.Cached)))
	addString(p, "protocol", string(s.Protocol))
	if len(r.Errors) > 0 {
		parts := make([]string, 0, len(r.Errors))
		for _, e := range r.Errors {
			parts = append(parts, string(e.Part))
		}
		slices.Sort(parts)
		p.AddField("failed_parts", strings.Join(slices.Compact(parts), ","))
	}
	return p
}

// RollupLevel is the level of a rollup point.
type RollupLevel string

// Rollup levels.
const (
	LevelRack RollupLevel = "rack"
	LevelRow  RollupLevel = "row"
	LevelRoom RollupLevel = "room"
	LevelSite RollupLevel = "site"
)

// ComponentFaults counts servers with a fault in each component.
type ComponentFaults struct {
	DIMM  int
	CPU   int
	PSU   int
	Fan   int
	Drive int
	BMC   int
}

// RedundancyCounts counts live servers by PSU redundancy verdict
// (docs/power.md): Lost (a failure took redundancy away: PSURedundancyLost
// fires), Degraded (it holds, but a supply failed or warns), NotRedundant
// (none by configuration: never an alert). Redundant and unknown servers
// are not counted.
type RedundancyCounts struct {
	Lost         int
	Degraded     int
	NotRedundant int
}

// RollupPoint is one level's totals at one time, as the rollup package
// computes them. Path names below the level stay empty (a row point has
// Site, Room and Row). Missing is not zero: nil watts are not written.
type RollupPoint struct {
	Level RollupLevel
	Site  string
	Room  string
	Row   string
	Rack  string
	Time  time.Time

	// Watts is the measured total; EstimatedWatts the total including
	// estimates for servers without a reading.
	Watts          *float64
	EstimatedWatts *float64
	BudgetWatts    *float64
	UtilizationPct *float64

	ServersTotal     int
	ServersReporting int
	CoveragePct      *float64

	FaultsWarning  int
	FaultsCritical int
	// Faults counts faults by component, of either severity; Critical the
	// critical ones among them.
	Faults   ComponentFaults
	Critical ComponentFaults
	// Redundancy counts the level's live servers by PSU redundancy
	// verdict, on every level.
	Redundancy RedundancyCounts
	// Silent is true on a rack rolled up from totals older than the
	// freshness window; SilentRacks counts such racks below a row, room or
	// the site.
	Silent      bool
	SilentRacks int
	// EnergyWh is the energy the level's servers drew since their poller
	// started (racks written by a poller; absent above).
	EnergyWh *float64
}

// Point turns the rollup into a rollup point.
func (r RollupPoint) Point() *write.Point {
	p := write.NewPointWithMeasurement(MeasurementRollup)
	p.AddTag("level", string(r.Level))
	addTag(p, "site", r.Site)
	addTag(p, "room", r.Room)
	addTag(p, "row", r.Row)
	addTag(p, "rack", r.Rack)
	addFloat(p, "watts", r.Watts)
	addFloat(p, "estimated_watts", r.EstimatedWatts)
	addFloat(p, "budget_watts", r.BudgetWatts)
	addFloat(p, "utilization_pct", r.UtilizationPct)
	p.AddField("servers_total", int64(r.ServersTotal))
	p.AddField("servers_reporting", int64(r.ServersReporting))
	addFloat(p, "coverage_pct", r.CoveragePct)
	p.AddField("faults_warning", int64(r.FaultsWarning))
	p.AddField("faults_critical", int64(r.FaultsCritical))
	p.AddField("fault_dimm", int64(r.Faults.DIMM))
	p.AddField("fault_cpu", int64(r.Faults.CPU))
	p.AddField("fault_psu", int64(r.Faults.PSU))
	p.AddField("fault_fan", int64(r.Faults.Fan))
	p.AddField("fault_drive", int64(r.Faults.Drive))
	p.AddField("fault_bmc", int64(r.Faults.BMC))
	p.AddField("fault_dimm_critical", int64(r.Critical.DIMM))
	p.AddField("fault_cpu_critical", int64(r.Critical.CPU))
	p.AddField("fault_psu_critical", int64(r.Critical.PSU))
	p.AddField("fault_fan_critical", int64(r.Critical.Fan))
	p.AddField("fault_drive_critical", int64(r.Critical.Drive))
	p.AddField("fault_bmc_critical", int64(r.Critical.BMC))
	p.AddField("psu_redundancy_lost", int64(r.Redundancy.Lost))
	p.AddField("psu_redundancy_degraded", int64(r.Redundancy.Degraded))
	p.AddField("psu_redundancy_not_redundant", int64(r.Redundancy.NotRedundant))
	p.AddField("silent", r.Silent)
	p.AddField("silent_racks", int64(r.SilentRacks))
	addFloat(p, "energy_wh", r.EnergyWh)
	p.SetTime(r.Time)
	return p
}

// FeedPoint is one rack power feed's load, and the rack's state if the
// other feed fails, as the power package computes them.
type FeedPoint struct {
	Site, Room, Row, Rack string
	Feed                  string
	Time                  time.Time
	Watts                 float64
	// CapacityWatts and UtilizationPct are absent when the inventory gives
	// the feed no capacity.
	CapacityWatts  *float64
	UtilizationPct *float64
	// When this feed fails: the load the tightest surviving feed carries,
	// the headroom left on it (negative: overloaded), and servers that go
	// dark (no working PSU on another feed).
	FailoverLoadWatts     float64
	FailoverHeadroomWatts *float64
	FailoverOverloaded    bool
	ServersDropped        int
}

// Point turns the feed into a feed point.
func (f FeedPoint) Point() *write.Point {
	p := write.NewPointWithMeasurement(MeasurementFeed)
	addTag(p, "site", f.Site)
	addTag(p, "room", f.Room)
	addTag(p, "row", f.Row)
	addTag(p, "rack", f.Rack)
	addTag(p, "feed", f.Feed)
	p.AddField("watts", f.Watts)
	addFloat(p, "capacity_watts", f.CapacityWatts)
	addFloat(p, "utilization_pct", f.UtilizationPct)
	p.AddField("failover_load_watts", f.FailoverLoadWatts)
	addFloat(p, "failover_headroom_watts", f.FailoverHeadroomWatts)
	p.AddField("failover_overloaded", f.FailoverOverloaded)
	p.AddField("servers_dropped", int64(f.ServersDropped))
	p.SetTime(f.Time)
	return p
}

// RollupPoints turns rollups into points.
func RollupPoints(rs ...RollupPoint) []*write.Point {
	out := make([]*write.Point, 0, len(rs))
	for _, r := range rs {
		out = append(out, r.Point())
	}
	return out
}

// EventPoint is one BMC log entry (Redfish log or IPMI SEL) new in a poll.
// It is dated when the BMC logged it, or when it was read where the BMC's
// clock gave no date.
func EventPoint(e bmc.LogEntry, loc Location, polled time.Time) *write.Point {
	p := loc.tags(write.NewPointWithMeasurement(MeasurementEvent))
	addTag(p, "component", e.Component)
	addTag(p, "subject", e.Subject)
	addTag(p, "severity", string(e.Severity))
	p.AddField("message", e.Message)
	p.AddField("severity_level", HealthLevel(e.Severity))
	addString(p, "entry_id", e.ID)
	addString(p, "message_id", e.MessageID)
	addString(p, "source", e.Source)
	t := e.Time
	if t.IsZero() {
		t = polled
	}
	p.SetTime(t)
	return p
}

// AlertPoint is one change of an alert's state: it started firing, changed
// severity, or resolved.
type AlertPoint struct {
	Name     string
	Severity string
	// State is "firing" or "resolved".
	State string
	// Location holds the alert's site, room, row, rack and (for
	// server-level alerts) server tags.
	Location Location
	// Component and Subject name what the alert is about: the component
	// label's name (slot, cpu, psu, fan, drive, sensor, feed) and value.
	Component, Subject string
	Summary            string
	Value, Threshold   *float64
	Time               time.Time
}

// Point turns the change into an alert point.
func (a AlertPoint) Point() *write.Point {
	p := a.Location.tags(write.NewPointWithMeasurement(MeasurementAlert))
	addTag(p, "alertname", a.Name)
	addTag(p, "severity", a.Severity)
	addTag(p, "component", a.Component)
	addTag(p, "subject", a.Subject)
	p.AddField("state", a.State)
	firing := int64(0)
	if a.State == "firing" {
		firing = 1
	}
	p.AddField("firing", firing)
	addString(p, "summary", a.Summary)
	addFloat(p, "value", a.Value)
	addFloat(p, "threshold", a.Threshold)
	p.SetTime(a.Time)
	return p
}
