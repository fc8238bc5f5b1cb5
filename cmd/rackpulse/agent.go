package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/rackpulse/rackpulse/agent"
	"github.com/rackpulse/rackpulse/bmc"
)

func newAgentCmd(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Read this host's own view of its hardware and send it to its poller",
		Long: `agent runs on each server. It reads the hardware inventory (ghw and the
SMBIOS tables), DIMM error counters (EDAC), temperatures, fans and power
(hwmon), disks' SMART data (smartctl) and the host's load, and sends a
report to the server's poller every interval. It reads what it can: run as
root for the SMBIOS tables and SMART; what it could not read is said in
the report.

  rackpulse agent --once --json              print one report and exit
  rackpulse agent --poller http://poller:9290 --token-file /etc/rackpulse/agent.token`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg := agentConfig{
				once: v.GetBool("once"), json: v.GetBool("json"),
				root: v.GetString("root"), smartctl: v.GetString("smartctl"),
				poller: v.GetString("poller"), server: v.GetString("server"), tokenFile: v.GetString("token-file"),
				interval: v.GetDuration("interval"), smartEvery: v.GetDuration("smart-every"), inventoryEvery: v.GetDuration("inventory-every"),
			}
			return runAgent(cmd, cfg, newLogger(v, cmd.ErrOrStderr()))
		},
	}
	f := cmd.Flags()
	f.Bool("once", false, "read once, print the report and exit (and send it when --poller is set)")
	f.Bool("json", false, "with --once: print the report as JSON")
	f.String("root", "/", "directory /sys, /proc, /dev and the firmware tables are read under (/host in a container); RACKPULSE_ROOT")
	f.String("smartctl", "", "smartctl binary (default: smartctl on PATH); RACKPULSE_SMARTCTL")
	f.String("poller", "", "the poller's URL (http://poller:9290); RACKPULSE_POLLER")
	f.String("server", "", "the inventory name this host reports as (default: the host name); RACKPULSE_SERVER")
	f.String("token-file", "", "file holding this host's agent token (the inventory names the same token); RACKPULSE_TOKEN_FILE")
	f.Duration("interval", agent.DefaultInterval, "how often to read EDAC, hwmon and the load and send a report; RACKPULSE_INTERVAL")
	f.Duration("smart-every", agent.DefaultSMARTEvery, "how often to read SMART; RACKPULSE_SMART_EVERY")
	f.Duration("inventory-every", agent.DefaultInventoryEvery, "how often to read the hardware inventory; RACKPULSE_INVENTORY_EVERY")
	return cmd
}

type agentConfig struct {
	once, json                           bool
	root, smartctl                       string
	poller, server, tokenFile            string
	interval, smartEvery, inventoryEvery time.Duration
}

func runAgent(cmd *cobra.Command, cfg agentConfig, log *slog.Logger) error {
	if !cfg.once && cfg.poller == "" {
		return errors.New("agent: name the poller (--poller http://poller:9290), or print one report with --once --json")
	}
	var sender *agent.Sender
	if cfg.poller != "" {
		if cfg.tokenFile == "" {
			return errors.New("agent: --token-file is required to send to a poller (the token the inventory names for this server)")
		}
		token, err := readTokenFile(cfg.tokenFile)
		if err != nil {
			return err
		}
		sender = &agent.Sender{Poller: cfg.poller, Token: token, Logger: log}
	}
	a := agent.New(agent.Options{Root: cfg.root, Server: cfg.server, Interval: cfg.interval, SMARTEvery: cfg.smartEvery,
		InventoryEvery: cfg.inventoryEvery, SMART: agent.SMART{Binary: cfg.smartctl}})
	ctx := cmd.Context()
	if cfg.once {
		rep := a.Collect(ctx)
		if err := printReport(cmd.OutOrStdout(), rep, cfg.json); err != nil {
			return err
		}
		if sender != nil {
			return sender.Send(ctx, rep)
		}
		return nil
	}
	log.Info("agent reporting", "poller", redactURL(cfg.poller), "server", a.Collect(ctx).Server, "interval", cfg.interval, "root", cfg.root)
	return agent.Run(ctx, a, sender)
}

// readTokenFile reads a token, refusing a file others can read; the
// token is never printed.
func readTokenFile(path string) (bmc.Secret, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("agent token file: %w", err)
	}
	if !fi.Mode().IsRegular() || fi.Size() > 4096 {
		return "", fmt.Errorf("agent token file %s: want a small regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return "", fmt.Errorf("agent token file %s: mode %04o lets others read the token; chmod 600 it", path, perm)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("agent token file: %w", err)
	}
	tok := strings.TrimSpace(string(raw))
	if tok == "" {
		return "", fmt.Errorf("agent token file %s is empty", path)
	}
	return bmc.Secret(tok), nil
}

func printReport(w io.Writer, rep *agent.Report, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	fmt.Fprintf(w, "host %s (server %s) at %s\n", rep.Hostname, rep.Server, rep.Time.Format(time.RFC3339))
	fmt.Fprintf(w, "identity: UUID %s, serial %s, %s %s\n", orDash(rep.Identity.SystemUUID), orDash(rep.Identity.SystemSerial), rep.Identity.Vendor, rep.Identity.Product)
	if inv := rep.Inventory; inv != nil {
		fmt.Fprintf(w, "inventory: %d CPUs, %d MiB memory, %d DIMM slots, %d disks, %d NICs, %d PCI devices, %d GPUs\n",
			len(inv.CPUs), inv.MemoryBytes>>20, len(inv.DIMMSlots), len(inv.Disks), len(inv.NICs), len(inv.PCI), len(inv.GPUs))
	}
	fmt.Fprintf(w, "EDAC DIMMs: %d, hwmon sensors: %d, SMART drives: %d\n", len(rep.DIMMs), len(rep.Sensors), len(rep.Drives))
	for _, d := range rep.DIMMs {
		if (d.CorrectableErrors != nil && *d.CorrectableErrors > 0) || (d.UncorrectableErrors != nil && *d.UncorrectableErrors > 0) {
			fmt.Fprintf(w, "  DIMM %s: %d correctable, %d uncorrectable errors\n", d.Slot, deref64(d.CorrectableErrors), deref64(d.UncorrectableErrors))
		}
	}
	for _, p := range rep.Problems {
		fmt.Fprintf(w, "not read: %s %s: %s\n", p.Part, p.Path, p.Message)
	}
	return nil
}

func deref64(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}
