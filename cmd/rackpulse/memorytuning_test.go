package main

import (
	"bytes"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/KimMachineGun/automemlimit/memlimit"
	"github.com/spf13/viper"
)

// serveViper is serve's configuration as the command builds it from args,
// the RACKPULSE_* environment and the config file.
func serveViper(t *testing.T, args ...string) *viper.Viper {
	t.Helper()
	v := viper.New()
	cmd := newServeCmd(v)
	cmd.Flags().String("config", "", "")
	if err := cmd.Flags().Parse(args); err != nil {
		t.Fatal(err)
	}
	if err := loadConfig(cmd, v); err != nil {
		t.Fatal(err)
	}
	return v
}

// serve collects garbage at 75 % unless told otherwise: an explicit
// setting (flag, environment, config file) first, then Go's own GOGC.
func TestGCPercentOrder(t *testing.T) {
	config := filepath.Join(t.TempDir(), "rackpulse.yaml")
	if err := os.WriteFile(config, []byte("gc-percent: 90\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		args    []string
		env     string // RACKPULSE_GC_PERCENT
		gogc    string
		want    int
		wantSet bool
	}{
		{name: "default", want: defaultGCPercent, wantSet: true},
		{name: "GOGC", gogc: "200", wantSet: false},
		{name: "flag over GOGC", args: []string{"--gc-percent", "50"}, gogc: "200", want: 50, wantSet: true},
		{name: "environment", env: "60", gogc: "200", want: 60, wantSet: true},
		{name: "config file", args: []string{"--config", config}, gogc: "200", want: 90, wantSet: true},
		{name: "flag over config file", args: []string{"--config", config, "--gc-percent", "120"}, want: 120, wantSet: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("RACKPULSE_GC_PERCENT", c.env)
			if c.env == "" {
				os.Unsetenv("RACKPULSE_GC_PERCENT")
			}
			got, set, err := gcPercent(serveViper(t, c.args...), func(k string) string {
				if k == "GOGC" {
					return c.gogc
				}
				return ""
			})
			if err != nil || set != c.wantSet || (set && got != c.want) {
				t.Errorf("gcPercent = %d, %v, %v; want %d, %v", got, set, err, c.want, c.wantSet)
			}
		})
	}
}

func TestGCPercentOutOfRange(t *testing.T) {
	for _, p := range []string{"0", "5", "-1", "5000"} {
		_, _, err := gcPercent(serveViper(t, "--gc-percent", p), func(string) string { return "" })
		if err == nil || !strings.Contains(err.Error(), "--gc-percent "+p) || !strings.Contains(err.Error(), "10 to 1000") {
			t.Errorf("--gc-percent %s: error %v; want one naming the flag, the value and the range", p, err)
		}
	}
}

// `rackpulse serve` sets the target before it starts (here it stops at
// the missing inventory), and refuses a bad one before anything else.
func TestServeAppliesGCPercent(t *testing.T) {
	t.Setenv("GOGC", "")
	withoutMemoryLimitEnv(t)
	before := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(before) })
	missing := filepath.Join(t.TempDir(), "absent.yaml")

	root := newRootCmd()
	root.SetArgs([]string{"serve", "--inventory", missing, "--listen", "127.0.0.1:0", "--log-level", "error"})
	if err := root.Execute(); err == nil {
		t.Fatal("serve started without an inventory")
	}
	if got := debug.SetGCPercent(100); got != defaultGCPercent {
		t.Errorf("serve ran at GC percent %d, want %d", got, defaultGCPercent)
	}

	root = newRootCmd()
	root.SetArgs([]string{"serve", "--inventory", missing, "--gc-percent", "1"})
	err := root.Execute()
	if err == nil || !strings.Contains(err.Error(), "--gc-percent 1") {
		t.Errorf("serve --gc-percent 1: %v; want the flag's error", err)
	}
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("a refused --gc-percent changed the target to %d", got)
	}
}

// withoutMemoryLimitEnv runs the test with GOMEMLIMIT and AUTOMEMLIMIT
// unset and the runtime's soft limit restored after it.
func withoutMemoryLimitEnv(t *testing.T) {
	t.Helper()
	for _, k := range []string{"GOMEMLIMIT", "AUTOMEMLIMIT"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	before := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(before) })
}

// serve's soft memory limit is 90 % of the memory limit it finds (the
// cgroup's), a share set by --memory-limit-ratio; a GOMEMLIMIT of the
// operator's stands, and without a limit there is none.
func TestMemoryLimitFollowsTheCgroup(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	withoutMemoryLimitEnv(t)
	const cgroup = 1000 << 20
	if err := applyMemoryLimit(defaultMemoryLimitRatio, memlimit.Limit(cgroup), log); err != nil {
		t.Fatal(err)
	}
	if got, want := debug.SetMemoryLimit(-1), int64(cgroup*9/10); got != want {
		t.Errorf("soft limit %d, want %d (90 %% of the cgroup's)", got, want)
	}
	if err := applyMemoryLimit(0.5, memlimit.Limit(cgroup), log); err != nil {
		t.Fatal(err)
	}
	if got := debug.SetMemoryLimit(-1); got != cgroup/2 {
		t.Errorf("soft limit %d at ratio 0.5, want %d", got, cgroup/2)
	}

	debug.SetMemoryLimit(math.MaxInt64)
	if err := applyMemoryLimit(0, memlimit.Limit(cgroup), log); err != nil || debug.SetMemoryLimit(-1) != math.MaxInt64 {
		t.Errorf("ratio 0 set a limit (err %v)", err)
	}
	noLimit := func() (uint64, error) { return 0, memlimit.ErrNoLimit }
	if err := applyMemoryLimit(0.9, noLimit, log); err != nil || debug.SetMemoryLimit(-1) != math.MaxInt64 {
		t.Errorf("a process without a memory limit got a soft one (err %v)", err)
	}
	unreadable := func() (uint64, error) { return 0, memlimit.ErrCgroupsNotSupported }
	if err := applyMemoryLimit(0.9, unreadable, log); err != nil || debug.SetMemoryLimit(-1) != math.MaxInt64 {
		t.Errorf("no cgroup to read: err %v, limit %d; want neither", err, debug.SetMemoryLimit(-1))
	}

	t.Setenv("GOMEMLIMIT", "700MiB")
	debug.SetMemoryLimit(700 << 20) // as the runtime read it at start
	var logged bytes.Buffer
	if err := applyMemoryLimit(0.9, memlimit.Limit(cgroup), slog.New(slog.NewTextHandler(&logged, nil))); err != nil || debug.SetMemoryLimit(-1) != 700<<20 {
		t.Errorf("GOMEMLIMIT=700MiB: limit %d (err %v); want the operator's kept", debug.SetMemoryLimit(-1), err)
	}
	if logged.Len() != 0 {
		t.Errorf("GOMEMLIMIT=700MiB: logged %q; want nothing said of a limit not set", logged.String())
	}
}

func TestMemoryLimitRatioOutOfRange(t *testing.T) {
	for _, r := range []float64{-0.1, 1.5, math.NaN()} {
		err := applyMemoryLimit(r, memlimit.Limit(1<<30), slog.New(slog.DiscardHandler))
		if err == nil || !strings.Contains(err.Error(), "--memory-limit-ratio") {
			t.Errorf("ratio %g: error %v; want one naming the flag", r, err)
		}
	}
}
