package main

import (
	"context"
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

	"github.com/rackpulse/rackpulse/bmc"
	"github.com/rackpulse/rackpulse/inventory"
)

func newProbeCmd(v *viper.Viper) *cobra.Command {
	var o probeOptions
	cmd := &cobra.Command{
		Use:   "probe SERVER|ADDRESS",
		Short: "Poll one BMC once and show what the poller sees",
		Long: `probe polls one BMC once and prints what the poller sees: a table by
default, the Snapshot as JSON with --json, and every request with its status
and timing (on stderr) with -v.

SERVER is a server name from the inventory. A bare ADDRESS (host[:port] or
URL) takes --protocol, --user, a password from --password-env VAR or
--password-file FILE, and --ca-file, --tls-fingerprint or
--insecure-skip-verify.

Exit status: 0 when every part of the poll worked; 2 when the poll read the
BMC but some parts failed (listed under ERRORS); 1 when it could not read the
BMC at all (the reason is printed).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.inventoryPath = v.GetString("inventory")
			ep, err := o.endpoint(args[0])
			if err != nil {
				return err
			}
			return runProbe(cmd.Context(), ep, o, newLogger(v, cmd.ErrOrStderr()), cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.json, "json", false, "print the Snapshot as JSON")
	f.BoolVarP(&o.verbose, "verbose", "v", false, "print every request with its status and timing to stderr")
	f.StringVar(&o.protocol, "protocol", "redfish", "protocol for a bare address: redfish, ipmi or auto")
	f.StringVar(&o.user, "user", "", "user name for a bare address")
	f.StringVar(&o.passwordEnv, "password-env", "", "environment variable holding the password")
	f.StringVar(&o.passwordFile, "password-file", "", "file holding the password")
	f.StringVar(&o.caFile, "ca-file", "", "PEM CA bundle that signs the BMC's certificate")
	f.StringVar(&o.fingerprint, "tls-fingerprint", "", "pinned SHA-256 fingerprint of the BMC's certificate")
	f.BoolVar(&o.insecure, "insecure-skip-verify", false, "do not verify the BMC's certificate")
	f.DurationVar(&o.timeout, "timeout", time.Minute, "deadline for the whole poll")
	f.IntVar(&o.recentLogs, "logs", 10, "how many of the newest BMC log (or SEL) entries to show")
	return cmd
}

type probeOptions struct {
	inventoryPath                     string
	json, verbose, insecure           bool
	protocol, user, passwordEnv       string
	passwordFile, caFile, fingerprint string
	timeout                           time.Duration
	recentLogs                        int
}

// endpoint resolves SERVER from the inventory, or builds one from ADDRESS
// and the flags.
func (o probeOptions) endpoint(arg string) (bmc.Endpoint, error) {
	if !looksLikeAddress(arg) {
		inv, problems, err := inventory.LoadForServer(o.inventoryPath, arg)
		if err != nil {
			return bmc.Endpoint{}, fmt.Errorf("inventory %s is invalid:\n%s", o.inventoryPath, problems.Errors().Error())
		}
		if _, ok := inv.Server(arg); !ok {
			return bmc.Endpoint{}, fmt.Errorf("no server %q in inventory %s (give a host[:port] or URL to probe an address)", arg, o.inventoryPath)
		}
		// Only this server's credentials are read: a profile of other
		// servers whose password is not set here does not stop a probe.
		ep, err := inv.Endpoint(arg)
		if err != nil {
			return bmc.Endpoint{}, fmt.Errorf("inventory %s: %w", o.inventoryPath, err)
		}
		ep.PollTimeout = o.timeout
		return ep.WithDefaults(), nil
	}
	proto, err := bmc.ParseProtocol(o.protocol)
	if err != nil {
		return bmc.Endpoint{}, fmt.Errorf("--protocol: %w", err)
	}
	ep := bmc.Endpoint{
		Server: arg, Protocol: proto, Address: arg, Username: o.user,
		TLS:         bmc.TLSConfig{CAFile: o.caFile, Fingerprint: o.fingerprint, InsecureSkipVerify: o.insecure},
		PollTimeout: o.timeout,
	}
	switch {
	case o.passwordEnv != "" && o.passwordFile != "":
		return ep, errors.New("give --password-env or --password-file, not both")
	case o.passwordEnv != "":
		pw, ok := os.LookupEnv(o.passwordEnv)
		if !ok {
			return ep, fmt.Errorf("--password-env: environment variable %s is not set", o.passwordEnv)
		}
		ep.Password = bmc.Secret(pw)
	case o.passwordFile != "":
		b, err := os.ReadFile(o.passwordFile)
		if err != nil {
			return ep, fmt.Errorf("--password-file: %w", err)
		}
		ep.Password = bmc.Secret(strings.TrimRight(string(b), "\r\n"))
	}
	return ep.WithDefaults(), nil
}

// looksLikeAddress tells a bare address from an inventory server name.
func looksLikeAddress(s string) bool {
	return strings.Contains(s, "://") || strings.Contains(s, ":") || strings.Count(s, ".") == 3 || s == "localhost"
}

func runProbe(ctx context.Context, ep bmc.Endpoint, o probeOptions, log *slog.Logger, stdout, stderr io.Writer) error {
	opts := bmc.CollectorOptions{Logger: log.With("server", ep.Server), RecentLogs: o.recentLogs}
	if o.verbose {
		opts.Trace = func(t bmc.RequestTrace) { fmt.Fprintln(stderr, formatTrace(t)) }
	}
	collector, err := newCollector(ep, opts)
	if err != nil {
		return err
	}
	pollCtx, cancel := context.WithTimeout(ctx, ep.PollTimeout)
	snap, pollErr := collector.Poll(pollCtx)
	cancel()

	closeCtx, cancelClose := context.WithTimeout(context.WithoutCancel(ctx), ep.RequestTimeout)
	closeErr := collector.Close(closeCtx)
	cancelClose()
	if closeErr != nil {
		fmt.Fprintf(stderr, "warning: logging out of %s: %v\n", ep.Address, closeErr)
	}

	if pollErr != nil {
		return &exitError{code: 1, msg: fmt.Sprintf("probe %s (%s): %s: %v", ep.Server, ep.Address, bmc.KindOf(pollErr), pollErr)}
	}
	snap.Server = ep.Server
	// What serve would set aside as implausible, probe sets aside too, and
	// shows with the reasons (under QUIRKS, and SET ASIDE in the table).
	bmc.SetAsideImplausible(snap)
	chosen := newProbePower(snap, time.Now())
	if o.json {
		// Encoded whole before anything is printed: an error is the exit
		// status with the reason, never half a document.
		b, err := json.MarshalIndent(probeJSON{Snapshot: snap, Power: chosen}, "", "  ")
		if err != nil {
			return &exitError{code: 1, msg: fmt.Sprintf("probe %s: the snapshot cannot be printed as JSON: %v", ep.Server, err)}
		}
		if _, err := stdout.Write(append(b, '\n')); err != nil {
			return err
		}
	} else {
		writeProbeTable(stdout, ep, snap, chosen)
	}
	if !snap.Poll.OK() {
		return &exitError{code: 2, msg: fmt.Sprintf("probe %s: %d part(s) of the poll failed", ep.Server, len(snap.Poll.Errors))}
	}
	return nil
}

func formatTrace(t bmc.RequestTrace) string {
	status := fmt.Sprint(t.Status)
	if t.Err != "" {
		status = "ERR " + t.Err
	}
	return fmt.Sprintf("%-6s %-70s %s %v %s", t.Method, t.URL, status, t.Duration.Round(time.Millisecond), formatBytes(t.Bytes))
}
