package main

import (
	"fmt"
	"log/slog"
	"runtime/debug"

	"github.com/spf13/viper"
)

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
