package agent

import (
	"context"
	"os"
	"slices"
	"time"
)

// Cadences of the agent's parts.
const (
	// DefaultInterval is how often EDAC, hwmon and the host's load are
	// read, and a report sent.
	DefaultInterval = 30 * time.Second
	// DefaultSMARTEvery is how often disks' SMART data is read.
	DefaultSMARTEvery = 5 * time.Minute
	// DefaultInventoryEvery is how often the hardware inventory and the
	// identity are read.
	DefaultInventoryEvery = time.Hour
)

// Options configure an Agent.
type Options struct {
	// Root is the directory /sys, /proc, /dev and the firmware tables are
	// read under: "" or / on the host, /host in a container, a fixture
	// tree in tests.
	Root string
	// Server is the inventory name the agent reports as; Hostname the
	// host's own name (default: os.Hostname).
	Server, Hostname string
	Interval         time.Duration
	SMARTEvery       time.Duration
	InventoryEvery   time.Duration
	// SMART runs smartctl (its Root defaults to Root).
	SMART SMART
	// Now is the clock; nil: time.Now.
	Now func() time.Time
}

// Agent collects the host's reports: every part on its cadence, the slow
// ones (SMART, inventory) carried over between their reads. An Agent is
// used by one goroutine at a time.
type Agent struct {
	opts   Options
	vitals *VitalsReader

	identity     Identity
	inventory    *Inventory
	slots        []DIMMSlot
	invProblems  []Problem
	inventoryAt  time.Time
	drives       []Drive
	smartProbs   []Problem
	smartAt      time.Time
	inventoryDue bool
}

// New builds an agent; it reads nothing until Collect.
func New(opts Options) *Agent {
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	if opts.SMARTEvery <= 0 {
		opts.SMARTEvery = DefaultSMARTEvery
	}
	if opts.InventoryEvery <= 0 {
		opts.InventoryEvery = DefaultInventoryEvery
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Hostname == "" {
		opts.Hostname, _ = os.Hostname()
	}
	if opts.Server == "" {
		opts.Server = opts.Hostname
	}
	if opts.SMART.Root == "" {
		opts.SMART.Root = opts.Root
	}
	return &Agent{opts: opts, vitals: &VitalsReader{Root: opts.Root}, inventoryDue: true}
}

// Interval is how often the agent reports.
func (a *Agent) Interval() time.Duration { return a.opts.Interval }

// RefreshInventory makes the next Collect read the inventory again (on
// demand, as after a hardware change).
func (a *Agent) RefreshInventory() { a.inventoryDue = true }

// Collect builds a report now: EDAC, hwmon and the host's load every
// time; SMART and the inventory when their cadence has come round (else
// carried over and listed in Cached). What could not be read is in
// Problems.
func (a *Agent) Collect(ctx context.Context) *Report {
	now := a.opts.Now()
	rep := &Report{Version: ReportVersion, Server: a.opts.Server, Hostname: a.opts.Hostname, Time: now.UTC(), Interval: a.opts.Interval}
	if a.opts.Root != "" && a.opts.Root != "/" {
		rep.Root = a.opts.Root
	}
	if a.inventoryDue || now.Sub(a.inventoryAt) >= a.opts.InventoryEvery {
		inv, id, probs := ReadInventory(a.opts.Root)
		a.inventory, a.identity, a.invProblems, a.inventoryAt, a.inventoryDue = inv, id, probs, now, false
		if inv != nil {
			a.slots = inv.DIMMSlots
		}
	} else {
		rep.Cached = append(rep.Cached, PartInventory, PartIdentity)
	}
	rep.Identity, rep.Inventory = a.identity, a.inventory
	rep.Problems = append(rep.Problems, a.invProblems...)

	dimms, probs := ReadEDAC(a.opts.Root, a.slots)
	rep.DIMMs = nonNil(dimms)
	rep.Problems = append(rep.Problems, probs...)

	sensors, probs := ReadHwmon(a.opts.Root)
	rep.Sensors = nonNil(sensors)
	rep.Problems = append(rep.Problems, probs...)

	if a.smartAt.IsZero() || now.Sub(a.smartAt) >= a.opts.SMARTEvery {
		a.drives, a.smartProbs = a.readSMART(ctx)
		a.smartAt = now
	} else {
		rep.Cached = append(rep.Cached, PartSMART)
	}
	rep.Drives = nonNil(slices.Clone(a.drives))
	rep.Problems = append(rep.Problems, a.smartProbs...)

	vitals, probs := a.vitals.Read(now)
	rep.Vitals = vitals
	rep.Problems = append(rep.Problems, probs...)
	return rep
}

func (a *Agent) readSMART(ctx context.Context) ([]Drive, []Problem) {
	devices, probs := a.opts.SMART.Scan(ctx)
	if len(devices) == 0 {
		return nil, probs
	}
	drives, more := a.opts.SMART.Read(ctx, devices)
	return drives, append(probs, more...)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
