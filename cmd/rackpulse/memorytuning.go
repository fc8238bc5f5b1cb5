package main

import (
	"fmt"
	"log/slog"
	"math"
	"runtime/debug"

	"github.com/KimMachineGun/automemlimit/memlimit"
	"github.com/spf13/viper"
)

// serve's memory tuning: how far the heap grows between collections
// (--gc-percent), and the Go runtime's soft memory limit, which follows
// the container's or systemd unit's memory limit (--memory-limit-ratio).

// defaultGCPercent is serve's garbage collection target when neither
// --gc-percent nor Go's own GOGC says otherwise: the heap may grow 75 %
// over the live heap between collections, where Go's default lets it
// double. serve's live heap is mostly what it keeps per BMC; at 10,000
// BMCs 75 holds the process under 1 GiB for a few percent more CPU
// (docs/performance.md).
const defaultGCPercent = 75

// gcPercent is the target serve runs at, and whether to set it: an
// explicit --gc-percent (flag, RACKPULSE_GC_PERCENT or the config file)
// first, then a GOGC in the environment (which the Go runtime has
// already applied), then defaultGCPercent.
func gcPercent(v *viper.Viper, getenv func(string) string) (percent int, set bool, err error) {
	if v.IsSet("gc-percent") {
		p := v.GetInt("gc-percent")
		if p < 10 || p > 1000 {
			return 0, false, fmt.Errorf("--gc-percent %d (RACKPULSE_GC_PERCENT, config gc-percent): want 10 to 1000, the heap's growth over the live heap between collections, as Go's GOGC", p)
		}
		return p, true, nil
	}
	if getenv("GOGC") != "" {
		return 0, false, nil
	}
	return defaultGCPercent, true, nil
}

// applyGCPercent sets serve's garbage collection target (gcPercent).
func applyGCPercent(v *viper.Viper, getenv func(string) string, log *slog.Logger) error {
	p, set, err := gcPercent(v, getenv)
	if err != nil || !set {
		return err
	}
	debug.SetGCPercent(p)
	log.Debug("garbage collection target set", "gc_percent", p)
	return nil
}

// defaultMemoryLimitRatio is the share of a cgroup memory limit (a
// container's, a systemd unit's MemoryMax) that serve takes as the Go
// runtime's soft limit when GOMEMLIMIT is not set: near it the runtime
// collects harder instead of the kernel killing the process, with room
// left for what the runtime does not count.
const defaultMemoryLimitRatio = 0.9

// applyMemoryLimit sets the Go runtime's soft memory limit to ratio times
// the memory limit limitOf finds (the process's cgroup), unless ratio is 0
// or GOMEMLIMIT (or AUTOMEMLIMIT=off) is set. Where there is no limit, or
// none can be read (no cgroup memory controller, not Linux), the runtime
// keeps Go's default: none.
func applyMemoryLimit(ratio float64, limitOf memlimit.Provider, log *slog.Logger) error {
	if ratio == 0 {
		return nil
	}
	if math.IsNaN(ratio) || ratio < 0 || ratio > 1 {
		return fmt.Errorf("--memory-limit-ratio %g (RACKPULSE_MEMORY_LIMIT_RATIO, config memory-limit-ratio): want a share of the memory limit above 0 and at most 1, or 0 for no soft limit", ratio)
	}
	before := debug.SetMemoryLimit(-1)
	limit, err := memlimit.Set(memlimit.WithRatio(ratio), memlimit.WithProvider(limitOf))
	switch {
	case err != nil:
		log.Info("no memory limit read to set the Go runtime's soft limit from; none set", "err", err)
	case limit != before && limit < math.MaxInt64:
		// Not when GOMEMLIMIT (or AUTOMEMLIMIT=off) left the limit as it was.
		log.Info("Go runtime's soft memory limit set from the memory limit", "limit_mib", limit>>20, "ratio", ratio)
	}
	return nil
}
