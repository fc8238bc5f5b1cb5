package web

import (
	"strconv"
	"time"

	"github.com/rackpulse/rackpulse/agent"
	"github.com/rackpulse/rackpulse/bmc"
)

// setAsideImplausibleHost applies the BMC readings' plausibility bounds
// (bmc.UnitBound) to an agent report's host readings, in place, and
// returns how many it set aside: a hwmon sensor whose value lies outside
// its unit's bound is left out of the report (its value is not optional);
// a threshold, a drive's temperature or an error counter that is negative
// becomes absent. Each is listed in the report's Problems with the reason,
// as anything else of the host that could not be read.
func setAsideImplausibleHost(rep *agent.Report) int {
	n := 0
	problem := func(part, path, what, why string) {
		n++
		rep.Problems = append(rep.Problems, agent.Problem{Part: part, Path: path, Message: what + " " + why + ": set aside as implausible"})
	}
	kept := rep.Sensors[:0:0]
	for _, s := range rep.Sensors {
		b, _ := bmc.UnitBound(s.Unit)
		where := s.Path
		if where == "" {
			where = s.Chip + " " + s.Name
		}
		if why := b.Check(s.Value); why != "" {
			problem(agent.PartHwmon, where, "sensor "+s.Chip+" "+s.Name+" value", why)
			continue
		}
		for _, t := range []struct {
			v    **float64
			name string
		}{{&s.Max, "max"}, {&s.Crit, "crit"}} {
			if *t.v == nil {
				continue
			}
			if why := b.Check(**t.v); why != "" {
				problem(agent.PartHwmon, where, "sensor "+s.Chip+" "+s.Name+" "+t.name, why)
				*t.v = nil
			}
		}
		kept = append(kept, s)
	}
	if len(kept) != len(rep.Sensors) {
		rep.Sensors = kept
	}
	celsius, _ := bmc.UnitBound(bmc.UnitCelsius)
	for i := range rep.Drives {
		d := &rep.Drives[i]
		if d.TemperatureC != nil {
			if why := celsius.Check(*d.TemperatureC); why != "" {
				problem(agent.PartSMART, d.Device, "drive temperature_c", why)
				d.TemperatureC = nil
			}
		}
		for _, c := range []struct {
			v    **int64
			name string
		}{
			{&d.PowerOnHours, "power_on_hours"}, {&d.ReallocatedSectors, "reallocated_sectors"}, {&d.PendingSectors, "pending_sectors"},
			{&d.OfflineUncorrectable, "offline_uncorrectable"}, {&d.CommandTimeouts, "command_timeouts"}, {&d.ErrorLogCount, "error_log_count"},
			{&d.MediaErrors, "media_errors"}, {&d.GrownDefects, "grown_defects"},
		} {
			if *c.v != nil && **c.v < 0 {
				problem(agent.PartSMART, d.Device, "drive "+c.name, strconv.FormatInt(**c.v, 10)+" is negative")
				*c.v = nil
			}
		}
	}
	for i := range rep.DIMMs {
		d := &rep.DIMMs[i]
		for _, c := range []struct {
			v    **int64
			name string
		}{{&d.CorrectableErrors, "correctable_errors"}, {&d.UncorrectableErrors, "uncorrectable_errors"}} {
			if *c.v != nil && **c.v < 0 {
				problem(agent.PartEDAC, d.Slot, "DIMM "+c.name, strconv.FormatInt(**c.v, 10)+" is negative")
				*c.v = nil
			}
		}
	}
	return n
}

// noteImplausible logs that a server's report had readings set aside,
// once per server every rejectionLogEvery.
func (a *AgentReceiver) noteImplausible(server string, n int, problems []agent.Problem) {
	key := server + "\x00implausible"
	a.mu.Lock()
	last, seen := a.logged[key]
	if !seen || time.Since(last) > rejectionLogEvery {
		a.logged[key] = time.Now()
		seen = false
	}
	a.mu.Unlock()
	if seen {
		return
	}
	first := ""
	if len(problems) > 0 {
		first = problems[len(problems)-n].Message
	}
	a.log.Warn("agent report readings set aside as implausible; the rest of the report is used", "server", server, "set_aside", n, "first", first)
}
