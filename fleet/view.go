package fleet

import (
	"slices"
	"time"

	"github.com/rackpulse/rackpulse/inventory"
	"github.com/rackpulse/rackpulse/rollup"
)

// View is what one rollup cycle published, for pages to read: the rollup
// of the site's tree, each rack's feeds and energy, and the energy since
// local midnight. It is built once per cycle and never changed after, so
// readers share it without a lock.
type View struct {
	Time     time.Time
	Interval time.Duration
	// Inventory is the inventory the cycle rolled up; Scope the racks
	// published (nil: the whole site).
	Inventory *inventory.Inventory
	Scope     Scope
	// Result is a copy of the cycle's rollup. FromRacks results (the site
	// role's) have no Servers.
	Result rollup.Result
	// Racks are the published racks' feeds and energy, by rack name.
	Racks map[string]RackPower
	// EnergyToday is each rack's energy since local midnight (or since
	// the poller started, if later), in Wh; SiteEnergyToday their sum.
	EnergyToday     map[string]float64
	SiteEnergyToday float64
	// TodayFrom is when "today" starts for these figures.
	TodayFrom time.Time
}

// newView copies a cycle's rollup and rack power into a View.
func newView(now time.Time, interval time.Duration, inv *inventory.Inventory, scope Scope, res *rollup.Result, racks []RackPower, today *dayEnergy) *View {
	v := &View{Time: now, Interval: interval, Inventory: inv, Scope: scope, Result: *res,
		Racks: make(map[string]RackPower, len(racks)), EnergyToday: make(map[string]float64, len(racks))}
	v.Result.Rooms = slices.Clone(res.Rooms)
	v.Result.Rows = slices.Clone(res.Rows)
	v.Result.Racks = slices.Clone(res.Racks)
	v.Result.Servers = slices.Clone(res.Servers)
	for _, rp := range racks {
		v.Racks[rp.Rack] = rp
	}
	if today != nil {
		v.TodayFrom = today.from
		for _, rp := range racks {
			wh := today.since(rp.Rack, rp.Energy.Wh)
			v.EnergyToday[rp.Rack] = wh
			v.SiteEnergyToday += wh
		}
	}
	return v
}

// Rack returns a rack's node in the view's rollup.
func (v *View) Rack(name string) (*rollup.Node, bool) {
	for i := range v.Result.Racks {
		if v.Result.Racks[i].Name == name {
			return &v.Result.Racks[i], true
		}
	}
	return nil, false
}

// Server returns a server's result in the view's rollup.
func (v *View) Server(name string) (*rollup.ServerResult, bool) {
	for i := range v.Result.Servers {
		if v.Result.Servers[i].Name == name {
			return &v.Result.Servers[i], true
		}
	}
	return nil, false
}

// dayEnergy remembers each rack's energy meter reading at the start of the
// local day, so that "today" is the difference.
type dayEnergy struct {
	from time.Time          // start of the day (or of the meters, if later)
	at   map[string]float64 // each rack's Wh at from
	day  int                // the day's ordinal, to notice midnight
}

// roll starts a new day at now's local midnight when the day changed;
// racks' readings at the start are taken from the meters' values now.
func (d *dayEnergy) roll(now time.Time, racks []RackPower) {
	y, m, dd := now.Date()
	day := y*400 + int(m)*32 + dd
	if d.at != nil && d.day == day {
		return
	}
	first := d.at == nil
	d.day, d.at = day, make(map[string]float64, len(racks))
	d.from = time.Date(y, m, dd, 0, 0, 0, 0, now.Location())
	if first {
		// The meters started with this process: today is since then.
		d.from = now
		return
	}
	for _, rp := range racks {
		d.at[rp.Rack] = rp.Energy.Wh
	}
}

// since is a rack's energy today given its meter's reading now.
func (d *dayEnergy) since(rack string, wh float64) float64 {
	return max(0, wh-d.at[rack])
}
