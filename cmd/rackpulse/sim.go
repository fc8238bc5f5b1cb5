package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/rackpulse/rackpulse/bmc/sim"
)

func newSimCmd(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Serve a fleet of simulated BMCs: Redfish over HTTPS, IPMI over UDP",
		Long: `sim serves --count virtual BMCs, each on its own loopback port: Redfish
BMCs over HTTPS from --base-port, with a certificate from a CA it generates
at start, and IPMI BMCs over UDP (RMCP+) from --ipmi-base-port. A base port
of 0 picks a free range of ports (and --admin with port 0 a free port); the
ports taken are in the inventory and the "simulator ready" log line. It writes
ca.pem and an inventory.yaml for the fleet into --out, and serves an admin
API on --admin to list the BMCs and inject or clear faults.

Profiles: modern (PowerSubsystem, ThermalSubsystem, Sensors, metrics
resources), legacy (Power and Thermal with real vendor quirks), ipmi (IPMI
2.0: SDRs, sensors, SEL, DCMI power reading, chassis status), or --mockup
DIR to serve a DMTF mockup as it is. The BMCs' password is read from
$` + sim.PasswordEnv + ` ("` + sim.DefaultPassword + `" when unset).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts, admin, err := simOptionsFrom(v)
			if err != nil {
				return &exitError{code: 2, msg: err.Error()}
			}
			opts.Logger = newLogger(v, cmd.ErrOrStderr())
			return runSim(cmd.Context(), opts, admin, v.GetBool("pprof"))
		},
	}
	f := cmd.Flags()
	f.Int("count", 20, "number of simulated BMCs; RACKPULSE_COUNT")
	f.String("profile", sim.ProfileModern, "profile of every BMC: modern, legacy or ipmi; RACKPULSE_PROFILE")
	f.String("mix", "", "profile mix instead of --profile, e.g. modern=40,legacy=30,ipmi=30; RACKPULSE_MIX")
	f.String("mockup", "", "serve this DMTF mockup directory from every BMC instead of a profile; RACKPULSE_MOCKUP")
	f.Int("base-port", sim.DefaultBasePort, "TCP port of the first Redfish BMC; the others follow; 0 picks free ones; RACKPULSE_BASE_PORT")
	f.Int("ipmi-base-port", sim.DefaultIPMIBasePort, "UDP port of the first IPMI BMC; the others follow; 0 picks free ones; RACKPULSE_IPMI_BASE_PORT")
	f.String("admin", "127.0.0.1:18080", "address of the admin API; RACKPULSE_ADMIN")
	f.String("out", "var/sim", "directory for ca.pem and inventory.yaml; RACKPULSE_OUT")
	f.String("latency", "", "per-request delay, e.g. 50ms-200ms or 80ms; RACKPULSE_LATENCY")
	f.String("scenario", "", "YAML file of faults to play from the start; RACKPULSE_SCENARIO")
	f.Int("max-sessions", sim.DefaultMaxSessions, "session slots per BMC; RACKPULSE_MAX_SESSIONS")
	f.Duration("session-timeout", sim.DefaultSessionTimeout, "idle expiry of a session; RACKPULSE_SESSION_TIMEOUT")
	f.Int("per-rack", sim.DefaultPerRack, "servers per rack in the inventory; RACKPULSE_PER_RACK")
	f.Bool("pprof", false, "serve Go profiles under /debug/pprof/ on the admin API; RACKPULSE_PPROF")
	return cmd
}

// simOptionsFrom checks the flags and builds the fleet options and the
// admin address.
func simOptionsFrom(v *viper.Viper) (sim.FleetOptions, string, error) {
	opts := sim.FleetOptions{
		Count:          v.GetInt("count"),
		MockupDir:      v.GetString("mockup"),
		BasePort:       v.GetInt("base-port"),
		IPMIBasePort:   v.GetInt("ipmi-base-port"),
		OutDir:         v.GetString("out"),
		Username:       sim.DefaultUsername,
		Password:       os.Getenv(sim.PasswordEnv),
		PerRack:        v.GetInt("per-rack"),
		MaxSessions:    v.GetInt("max-sessions"),
		SessionTimeout: v.GetDuration("session-timeout"),
	}
	if opts.Count < 1 {
		return opts, "", fmt.Errorf("--count %d: want at least 1", opts.Count)
	}
	// A base port of 0 is picked below floor+span: the fleet must fit there too.
	highestBase := opts.BasePort
	if highestBase == 0 {
		highestBase = freeBasePortFloor + freeBasePortSpan - 1
	}
	if opts.BasePort < 0 || highestBase+opts.Count-1 > 65535 {
		return opts, "", fmt.Errorf("--base-port %d with --count %d: ports must lie within 1-65535 (0: free ones)", opts.BasePort, opts.Count)
	}
	if opts.IPMIBasePort < 0 || opts.IPMIBasePort > 65535 ||
		opts.IPMIBasePort == 0 && freeIPMIBasePortFloor+freeBasePortSpan-1+opts.Count-1 > 65535 {
		return opts, "", fmt.Errorf("--ipmi-base-port %d: want a port within 1-65535 (0: free ones)", opts.IPMIBasePort)
	}
	mix := v.GetString("mix")
	if mix == "" {
		mix = v.GetString("profile")
	}
	if opts.MockupDir == "" {
		m, err := sim.ParseMix(mix)
		if err != nil {
			return opts, "", err
		}
		opts.Mix = m
	}
	lat, err := sim.ParseLatency(v.GetString("latency"))
	if err != nil {
		return opts, "", fmt.Errorf("--latency: %w", err)
	}
	opts.Latency = lat
	if file := v.GetString("scenario"); file != "" {
		events, err := sim.LoadScenario(file)
		if err != nil {
			return opts, "", err
		}
		opts.Scenario = events
	}
	admin := v.GetString("admin")
	if _, _, err := net.SplitHostPort(admin); err != nil {
		return opts, "", fmt.Errorf("--admin %q: %w", admin, err)
	}
	return opts, admin, nil
}

// runSim starts the fleet and the admin API, and serves until ctx is done.
func runSim(ctx context.Context, opts sim.FleetOptions, adminAddr string, goProfiles bool) error {
	log := opts.Logger
	adminLn, err := (&net.ListenConfig{}).Listen(ctx, "tcp", adminAddr)
	if err != nil {
		return fmt.Errorf("admin API: %w", err)
	}
	fleet, err := startSimulatedFleet(ctx, opts)
	if err != nil {
		_ = adminLn.Close()
		return err
	}
	handler := fleet.AdminHandler()
	if goProfiles {
		mux := http.NewServeMux()
		mux.Handle("/", handler)
		registerProfiles(mux)
		handler = mux
	}
	admin := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	adminDone := make(chan error, 1)
	go func() {
		if err := admin.Serve(adminLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			adminDone <- err
		}
		close(adminDone)
	}()

	bmcs := fleet.BMCs()
	profiles := map[string]int{}
	for _, b := range bmcs {
		profiles[b.Info().Profile]++
	}
	log.Info("simulator ready",
		"bmcs", len(bmcs),
		"first", bmcs[0].URL(),
		"last", bmcs[len(bmcs)-1].URL(),
		"profiles", profileSummary(profiles),
		"admin", "http://"+adminLn.Addr().String(),
		"ca_file", fleet.CAFile(),
		"inventory", fleet.InventoryFile(),
		"password_env", sim.PasswordEnv,
		"scenario_events", len(opts.Scenario),
	)

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-adminDone:
		serveErr = fmt.Errorf("admin API: %w", serveErr)
	}
	stopStart := time.Now()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := admin.Shutdown(shutdownCtx); err != nil {
		log.Warn("admin API shutdown", "err", err)
	}
	<-adminDone
	if err := fleet.Close(); err != nil && serveErr == nil {
		serveErr = err
	}
	log.Info("simulator stopped", "took", time.Since(stopStart).Round(time.Millisecond))
	return serveErr
}

// Where a base port of 0 picks from: a base in [floor, floor+span), below
// the ephemeral range (as sim.StartOnFreePorts does).
const (
	freeBasePortFloor     = 10000
	freeBasePortSpan      = 10000
	freeIPMIBasePortFloor = 20000
)

// startSimulatedFleet starts the fleet on its base ports; a base port of 0
// is picked at random, and other ranges are tried while one is taken.
func startSimulatedFleet(ctx context.Context, opts sim.FleetOptions) (*sim.Fleet, error) {
	pickRedfish, pickIPMI := opts.BasePort == 0, opts.IPMIBasePort == 0
	attempts := 1
	if pickRedfish || pickIPMI {
		attempts = 10
	}
	var err error
	for range attempts {
		if pickRedfish {
			opts.BasePort = freeBasePortFloor + rand.IntN(freeBasePortSpan)
		}
		if pickIPMI {
			opts.IPMIBasePort = freeIPMIBasePortFloor + rand.IntN(freeBasePortSpan)
		}
		var fleet *sim.Fleet
		if fleet, err = sim.NewFleet(opts); err != nil {
			return nil, err
		}
		if err = fleet.Start(ctx); err == nil {
			return fleet, nil
		}
	}
	if attempts > 1 {
		return nil, fmt.Errorf("no free port range for %d BMCs: %w", opts.Count, err)
	}
	return nil, err
}

func profileSummary(counts map[string]int) string {
	var parts []string
	for _, name := range append(sim.SyntheticProfiles(), sim.ProfileIPMI, sim.ProfileMockup) {
		if n := counts[name]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", name, n))
		}
	}
	return strings.Join(parts, ",")
}
