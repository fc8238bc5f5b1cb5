package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
)

// SMART defaults.
const (
	// DefaultSMARTBinary is the smartctl run when SMART.Binary is empty:
	// smartctl on PATH.
	DefaultSMARTBinary = "smartctl"
	// DefaultSMARTParallel is how many disks are read at once when
	// SMART.Parallel is not set: 24 disks are read in six rounds, and a
	// slow disk holds up one slot, not the collection, while the HBA
	// and the CPUs are left to the host's own work.
	DefaultSMARTParallel = 4
	// DefaultSMARTTimeout bounds one smartctl run when SMART.Timeout is not
	// set. A healthy disk answers in well under a second; a dying one can
	// hang in its error recovery for minutes.
	DefaultSMARTTimeout = 30 * time.Second
	// maxSmartctlOutput bounds what is kept of one run's output (smartctl
	// -x on a disk with full logs is a few hundred KiB).
	maxSmartctlOutput = 8 << 20
)

// SMARTDevice is one device smartctl can address: its path as the host
// names it and, where the scan gave one, the device type to pass with -d
// (sat, nvme, scsi, megaraid,0 for the first disk behind a MegaRAID
// controller at /dev/bus/0).
type SMARTDevice struct {
	Name string `json:"name"`
	Type string `json:"type,omitempty"`
}

// String is the device as smartctl's arguments name it: "/dev/sda",
// "/dev/bus/0 -d megaraid,0".
func (d SMARTDevice) String() string {
	if d.Type == "" {
		return d.Name
	}
	return d.Name + " -d " + d.Type
}

// RunFunc runs a command and returns its standard output and exit status.
// err is set only when the command could not be run or did not exit by
// itself (not found, timed out, killed); a non-zero exit status is not an
// error.
type RunFunc func(ctx context.Context, name string, args ...string) (stdout []byte, status int, err error)

// SMART reads disks' SMART data by running smartctl (smartmontools 7 or
// later, for --json). It never wakes a sleeping disk: every read passes
// -n standby, and a disk in a low-power mode is reported as Standby with
// nothing else read. smartctl's exit status is a bit mask (see
// SmartctlExitBits) and never fatal. The zero value reads the host's
// disks with smartctl on PATH; a SMART is safe for concurrent use if its
// fields are not changed.
type SMART struct {
	// Binary is the smartctl to run; empty: DefaultSMARTBinary.
	Binary string
	// Root is the directory the host's /dev and /sys are under ("" or /
	// on the host, /host in a container). Device paths are the host's
	// (/dev/sda); smartctl is given them under Root.
	Root string
	// Parallel bounds how many smartctl runs go at once; 0:
	// DefaultSMARTParallel.
	Parallel int
	// Timeout bounds one smartctl run; 0: DefaultSMARTTimeout.
	Timeout time.Duration
	// Run runs smartctl; nil: exec it (ExecRun).
	Run RunFunc
}

// ExecRun runs a command with exec.CommandContext: it is killed when ctx
// ends. Its standard output is kept up to 8 MiB.
func ExecRun(ctx context.Context, name string, args ...string) ([]byte, int, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	stdout := &smartctlBuffer{max: maxSmartctlOutput}
	stderr := &smartctlBuffer{max: 4096}
	cmd.Stdout = stdout
	cmd.Stderr = stderr
	// Whatever a killed command left running must not hold its pipes open.
	cmd.WaitDelay = 2 * time.Second
	err := cmd.Run()
	if ctxErr := ctx.Err(); ctxErr != nil {
		return stdout.Bytes(), -1, ctxErr
	}
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr) && exitErr.ExitCode() >= 0:
		return stdout.Bytes(), exitErr.ExitCode(), nil
	case err != nil:
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			err = fmt.Errorf("%w: %s", err, msg)
		}
		return stdout.Bytes(), -1, err
	}
	return stdout.Bytes(), 0, nil
}

// smartctlBuffer keeps the first max bytes written to it and discards the
// rest.
type smartctlBuffer struct {
	bytes.Buffer
	max int
}

func (b *smartctlBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); room > 0 {
		if len(p) > room {
			b.Buffer.Write(p[:room])
		} else {
			b.Buffer.Write(p)
		}
	}
	return len(p), nil
}

func (s *SMART) binary() string {
	if s.Binary != "" {
		return s.Binary
	}
	return DefaultSMARTBinary
}

func (s *SMART) parallel() int {
	if s.Parallel > 0 {
		return s.Parallel
	}
	return DefaultSMARTParallel
}

func (s *SMART) timeout() time.Duration {
	if s.Timeout > 0 {
		return s.Timeout
	}
	return DefaultSMARTTimeout
}

// rooted reports whether the host's tree is under a root other than /.
func (s *SMART) rooted() bool {
	return s.Root != "" && filepath.Clean(s.Root) != "/"
}

// hostPath is a host path (/dev/sda) as seen from here (Root/dev/sda).
func (s *SMART) hostPath(p string) string {
	if !s.rooted() || !filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(s.Root, p)
}

// runner resolves the binary and returns how to run it, or a Problem
// naming the binary when it cannot be found.
func (s *SMART) runner() (RunFunc, string, *Problem) {
	bin := s.binary()
	if s.Run != nil {
		return s.Run, bin, nil
	}
	path, err := exec.LookPath(bin)
	if err != nil {
		return nil, bin, &Problem{Part: PartSMART, Path: bin,
			Message: fmt.Sprintf("smartctl binary %q not found: %v", bin, err)}
	}
	return ExecRun, path, nil
}

// run runs smartctl once under the per-run timeout.
func (s *SMART) run(ctx context.Context, run RunFunc, bin string, args ...string) ([]byte, int, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout())
	defer cancel()
	out, status, err := run(ctx, bin, args...)
	if err != nil && errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("timed out after %s: %w", s.timeout(), err)
	}
	return out, status, err
}

// smartctlScan is what smartctl --scan-open --json prints.
type smartctlScan struct {
	Smartctl smartctlInfo `json:"smartctl"`
	Devices  []struct {
		Name      string `json:"name"`
		InfoName  string `json:"info_name"`
		Type      string `json:"type"`
		Protocol  string `json:"protocol"`
		OpenError string `json:"open_error"`
	} `json:"devices"`
}

// Scan lists the disks to read, with `smartctl --scan-open --json`: each
// device with the type smartctl resolved for it (--scan-open asks the
// device what it is; the kernel answers from what it cached, without
// waking a sleeping disk). A device the scan could not open is a Problem.
//
// smartctl scans the /dev it sees. Under a Root (a container with the
// host at /host), Scan adds the host's whole disks from Root/sys/block
// that smartctl can read (sd*, hd*, and NVMe controllers for nvme*n*)
// and that have a node under Root/dev, named as the host names them.
func (s *SMART) Scan(ctx context.Context) ([]SMARTDevice, []Problem) {
	var problems []Problem
	run, bin, p := s.runner()
	if p != nil {
		return nil, []Problem{*p}
	}
	cmdline := bin + " --scan-open --json"
	out, status, err := s.run(ctx, run, bin, "--scan-open", "--json")
	var devices []SMARTDevice
	seen := map[SMARTDevice]bool{}
	switch {
	case err != nil:
		problems = append(problems, Problem{Part: PartSMART, Path: cmdline,
			Message: fmt.Sprintf("scanning for disks: %v", err)})
	default:
		var scan smartctlScan
		if jerr := json.Unmarshal(out, &scan); jerr != nil {
			problems = append(problems, Problem{Part: PartSMART, Path: cmdline,
				Message: fmt.Sprintf("decoding the scan (exit status %d): %v", status, jerr)})
			break
		}
		if status != 0 {
			problems = append(problems, Problem{Part: PartSMART, Path: cmdline,
				Message: fmt.Sprintf("scan exit status %d (%s)%s", status,
					strings.Join(SmartctlExitBits(status), "; "), messagesSuffix(scan.Smartctl.Messages, ""))})
		}
		for _, d := range scan.Devices {
			dev := SMARTDevice{Name: d.Name, Type: d.Type}
			if d.OpenError != "" {
				problems = append(problems, Problem{Part: PartSMART, Path: dev.String(),
					Message: "scan could not open the device: " + d.OpenError})
				continue
			}
			if d.Name == "" || seen[dev] {
				continue
			}
			seen[dev] = true
			devices = append(devices, dev)
		}
	}
	if s.rooted() {
		named := map[string]bool{}
		for _, d := range devices {
			named[d.Name] = true
		}
		more, p := s.sysBlockDisks(named)
		problems = append(problems, p...)
		devices = append(devices, more...)
	}
	return devices, problems
}

var (
	// sysBlockSMART are the whole-disk names in /sys/block that smartctl
	// reads directly (not virtio, loop, device-mapper, md, optical).
	sysBlockSMART = regexp.MustCompile(`^(sd[a-z]+|hd[a-z]+|nvme[0-9]+n[0-9]+)$`)
	// nvmeNamespace splits a namespace (nvme0n1) into its controller
	// (nvme0), which is what smartctl reads.
	nvmeNamespace = regexp.MustCompile(`^(nvme[0-9]+)n[0-9]+$`)
)

// sysBlockDisks lists the disks in Root/sys/block that are not already
// named and have a device node under Root/dev.
func (s *SMART) sysBlockDisks(named map[string]bool) ([]SMARTDevice, []Problem) {
	dir := filepath.Join(s.Root, "sys", "block")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, []Problem{{Part: PartSMART, Path: dir,
			Message: fmt.Sprintf("listing the host's disks: %v", err)}}
	}
	var (
		devices  []SMARTDevice
		problems []Problem
		seen     = map[string]bool{}
	)
	for _, e := range entries {
		name := e.Name()
		if !sysBlockSMART.MatchString(name) {
			continue
		}
		if m := nvmeNamespace.FindStringSubmatch(name); m != nil {
			name = m[1]
		}
		dev := "/dev/" + name
		if seen[name] || named[dev] {
			continue
		}
		seen[name] = true
		if _, err := os.Stat(s.hostPath(dev)); err != nil {
			problems = append(problems, Problem{Part: PartSMART, Path: s.hostPath(dev),
				Message: fmt.Sprintf("disk %s has no device node: %v", name, err)})
			continue
		}
		devices = append(devices, SMARTDevice{Name: dev})
	}
	sort.Slice(devices, func(i, j int) bool { return devices[i].Name < devices[j].Name })
	return devices, problems
}

// Read runs `smartctl --json=c --all -n standby [-d TYPE] DEVICE` for each
// device, at most Parallel at once, each under Timeout, and decodes what
// it prints. It returns a Drive for each device that answered (in the
// order given) and a Problem for each that could not be read: the binary
// missing (one Problem naming it), a run that failed or timed out, output
// that is not smartctl's JSON, exit bit 0 (the command line did not
// parse) or bit 1 (the device could not be opened). A disk in standby is
// a Drive with Standby set and nothing else read, never a Problem. Exit
// bits 2 to 7 are the disk's state, not failures: the Drive carries them
// in ExitStatus and ExitBits.
func (s *SMART) Read(ctx context.Context, devices []SMARTDevice) ([]Drive, []Problem) {
	if len(devices) == 0 {
		return nil, nil
	}
	run, bin, p := s.runner()
	if p != nil {
		return nil, []Problem{*p}
	}
	type result struct {
		drive   *Drive
		problem *Problem
	}
	results := make([]result, len(devices))
	sem := make(chan struct{}, s.parallel())
	var wg sync.WaitGroup
	for i, dev := range devices {
		notRead := func() {
			results[i].problem = &Problem{Part: PartSMART, Path: dev.String(),
				Message: fmt.Sprintf("not read: %v", ctx.Err())}
		}
		if ctx.Err() != nil {
			notRead()
			continue
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			notRead()
			continue
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			results[i].drive, results[i].problem = s.readOne(ctx, run, bin, dev)
		}()
	}
	wg.Wait()
	var (
		drives   []Drive
		problems []Problem
	)
	for _, r := range results {
		if r.drive != nil {
			drives = append(drives, *r.drive)
		}
		if r.problem != nil {
			problems = append(problems, *r.problem)
		}
	}
	return drives, problems
}

// smartArgs are smartctl's arguments to read one device.
func (s *SMART) smartArgs(dev SMARTDevice) []string {
	args := []string{"--json=c", "--all", "-n", "standby"}
	if dev.Type != "" {
		args = append(args, "-d", dev.Type)
	}
	return append(args, s.hostPath(dev.Name))
}

// readOne reads one device.
func (s *SMART) readOne(ctx context.Context, run RunFunc, bin string, dev SMARTDevice) (*Drive, *Problem) {
	out, status, err := s.run(ctx, run, bin, s.smartArgs(dev)...)
	if err != nil {
		return nil, &Problem{Part: PartSMART, Path: dev.String(),
			Message: fmt.Sprintf("running %s: %v", bin, err)}
	}
	d, err := DecodeSmartctl(out, status)
	if err != nil {
		return nil, &Problem{Part: PartSMART, Path: dev.String(), Message: err.Error()}
	}
	d.Device = dev.Name
	if dev.Type != "" {
		// The type the device was addressed by, so that a Drive maps back
		// to its SMARTDevice (smartctl may resolve megaraid,0 to
		// sat+megaraid,0).
		d.DeviceType = dev.Type
	}
	d.ReadAt = time.Now()
	return d, nil
}

// smartctlInfo is the "smartctl" object of every --json output.
type smartctlInfo struct {
	Messages []smartctlMessage `json:"messages"`
}

type smartctlMessage struct {
	String   string `json:"string"`
	Severity string `json:"severity"`
}

// smartctlOutput is the part of `smartctl --json --all` that a Drive
// carries.
type smartctlOutput struct {
	Smartctl *smartctlInfo `json:"smartctl"`
	Device   struct {
		Name     string `json:"name"`
		Type     string `json:"type"`
		Protocol string `json:"protocol"`
	} `json:"device"`
	ModelName string `json:"model_name"`
	// SCSI: 7.3 and later say scsi_*, earlier versions vendor/product.
	SCSIModelName string `json:"scsi_model_name"`
	SCSIVendor    string `json:"scsi_vendor"`
	SCSIProduct   string `json:"scsi_product"`
	Vendor        string `json:"vendor"`
	Product       string `json:"product"`
	SerialNumber  string `json:"serial_number"`
	WWN           *struct {
		NAA uint64 `json:"naa"`
		OUI uint64 `json:"oui"`
		ID  uint64 `json:"id"`
	} `json:"wwn"`
	LogicalUnitID string `json:"logical_unit_id"`
	SmartStatus   *struct {
		Passed *bool `json:"passed"`
	} `json:"smart_status"`
	Temperature *struct {
		Current *float64 `json:"current"`
	} `json:"temperature"`
	PowerOnTime *struct {
		Hours *int64 `json:"hours"`
	} `json:"power_on_time"`
	ATASmartAttributes *struct {
		Table []struct {
			ID  int `json:"id"`
			Raw struct {
				Value *int64 `json:"value"`
			} `json:"raw"`
		} `json:"table"`
	} `json:"ata_smart_attributes"`
	ATASmartErrorLog *struct {
		Summary *struct {
			Count *int64 `json:"count"`
		} `json:"summary"`
		Extended *struct {
			Count *int64 `json:"count"`
		} `json:"extended"`
	} `json:"ata_smart_error_log"`
	NVMeHealth *struct {
		CriticalWarning         *int64   `json:"critical_warning"`
		Temperature             *float64 `json:"temperature"`
		AvailableSpare          *int64   `json:"available_spare"`
		AvailableSpareThreshold *int64   `json:"available_spare_threshold"`
		PercentageUsed          *int64   `json:"percentage_used"`
		MediaErrors             *int64   `json:"media_errors"`
		PowerOnHours            *int64   `json:"power_on_hours"`
	} `json:"nvme_smart_health_information_log"`
	SCSIGrownDefectList *int64 `json:"scsi_grown_defect_list"`
}

// ATA attribute ids a Drive carries.
const (
	ataReallocatedSectorCt  = 5
	ataCommandTimeout       = 188
	ataCurrentPendingSector = 197
	ataOfflineUncorrectable = 198
)

// standbyMessage is what smartctl says when -n found the device in a
// low-power mode: "Device is in STANDBY mode, exit(2)", "Device is in
// SLEEP mode, exit(2)", "Device is in STANDBY (OS) mode, exit(2)".
var standbyMessage = regexp.MustCompile(`^Device is in (.+) mode, exit\(\d+\)`)

// DecodeSmartctl decodes the output of `smartctl --json --all` for one
// device and its exit status into a Drive (Device and ReadAt are left for
// the caller). It fails when the output is not smartctl's JSON, when exit
// bit 0 is set (the command line did not parse) and when bit 1 is set
// and the device was not in a low-power mode (it could not be opened).
// A device in a low-power mode is a Drive with Standby set and nothing
// else. Other bits are the disk's state and do not fail.
//
// ATA attribute 188 (Command_Timeout): vendors pack up to three 16-bit
// counters into its 48-bit raw value (Seagate: "0 0 0"); CommandTimeouts
// is the low 16 bits, the count of commands that timed out.
func DecodeSmartctl(out []byte, status int) (*Drive, error) {
	var o smartctlOutput
	if err := json.Unmarshal(out, &o); err != nil {
		return nil, fmt.Errorf("decoding smartctl output (exit status %d, %d bytes%s): %w",
			status, len(out), smartSnippet(out), err)
	}
	if o.Smartctl == nil {
		return nil, fmt.Errorf("decoding smartctl output (exit status %d): no \"smartctl\" object: not smartctl --json output%s",
			status, smartSnippet(out))
	}
	d := &Drive{
		DeviceType: o.Device.Type,
		Protocol:   o.Device.Protocol,
		ExitStatus: status,
	}
	if status&exitOpenFailed != 0 {
		if mode := standbyMode(o.Smartctl.Messages); mode != "" {
			d.Standby = true
			d.ExitBits = []string{fmt.Sprintf("device in low-power mode (%s): not woken, not read", mode)}
			return d, nil
		}
	}
	d.ExitBits = SmartctlExitBits(status)
	if status&(exitCommandLine|exitOpenFailed) != 0 {
		return nil, fmt.Errorf("smartctl exit status %d (%s)%s",
			status, strings.Join(d.ExitBits, "; "), messagesSuffix(o.Smartctl.Messages, "error"))
	}

	d.Model = smartFirstNonEmpty(o.ModelName, o.SCSIModelName,
		smartJoin(o.SCSIVendor, o.SCSIProduct), smartJoin(o.Vendor, o.Product))
	d.Serial = o.SerialNumber
	switch {
	case o.WWN != nil:
		// The 64-bit NAA identifier: 4 bits NAA, 24 bits OUI, 36 bits
		// vendor id, as /sys and udev print it.
		d.WWN = fmt.Sprintf("0x%x%06x%09x", o.WWN.NAA&0xf, o.WWN.OUI&0xffffff, o.WWN.ID&0xfffffffff)
	case o.LogicalUnitID != "":
		d.WWN = o.LogicalUnitID
	}
	if o.SmartStatus != nil {
		d.Passed = o.SmartStatus.Passed
	}
	if o.Temperature != nil {
		d.TemperatureC = o.Temperature.Current
	}
	if o.PowerOnTime != nil {
		d.PowerOnHours = o.PowerOnTime.Hours
	}
	if a := o.ATASmartAttributes; a != nil {
		for _, attr := range a.Table {
			raw := attr.Raw.Value
			if raw == nil {
				continue
			}
			switch attr.ID {
			case ataReallocatedSectorCt:
				d.ReallocatedSectors = smartPtr(*raw)
			case ataCurrentPendingSector:
				d.PendingSectors = smartPtr(*raw)
			case ataOfflineUncorrectable:
				d.OfflineUncorrectable = smartPtr(*raw)
			case ataCommandTimeout:
				d.CommandTimeouts = smartPtr(*raw & 0xffff)
			}
		}
	}
	if l := o.ATASmartErrorLog; l != nil {
		switch {
		case l.Summary != nil && l.Summary.Count != nil:
			d.ErrorLogCount = l.Summary.Count
		case l.Extended != nil && l.Extended.Count != nil:
			d.ErrorLogCount = l.Extended.Count
		}
	}
	if h := o.NVMeHealth; h != nil {
		d.CriticalWarning = h.CriticalWarning
		d.MediaErrors = h.MediaErrors
		d.AvailableSpare = h.AvailableSpare
		d.AvailableSpareThreshold = h.AvailableSpareThreshold
		d.PercentageUsed = h.PercentageUsed
		if d.TemperatureC == nil {
			d.TemperatureC = h.Temperature
		}
		if d.PowerOnHours == nil {
			d.PowerOnHours = h.PowerOnHours
		}
	}
	d.GrownDefects = o.SCSIGrownDefectList
	return d, nil
}

// smartctl's exit status bits, as smartctl(8) lists them.
const (
	exitCommandLine = 1 << iota
	exitOpenFailed
	exitCommandFailed
	exitDiskFailing
	exitPrefailBelow
	exitOldAgeBelowInPast
	exitErrorLog
	exitSelfTestLog
)

// exitBitMeanings are smartctl(8)'s words for each exit status bit.
var exitBitMeanings = [8]string{
	"command line did not parse",
	"device open failed, or device in a low-power mode",
	"a SMART or other command to the disk failed, or a SMART data structure checksum error",
	"SMART status: disk failing",
	"prefail attributes at or below their threshold",
	"usage or prefail attributes at or below their threshold in the past",
	"device error log has errors",
	"self-test log has errors",
}

// SmartctlExitBits says what each bit set in a smartctl exit status means, per
// smartctl(8), lowest bit first. A status that did not come from a normal
// exit (negative) or beyond eight bits is said as such.
func SmartctlExitBits(status int) []string {
	if status < 0 {
		return []string{fmt.Sprintf("no exit status (%d)", status)}
	}
	var bits []string
	for i, m := range exitBitMeanings {
		if status&(1<<i) != 0 {
			bits = append(bits, fmt.Sprintf("bit %d: %s", i, m))
		}
	}
	if status > 0xff {
		bits = append(bits, fmt.Sprintf("status %d beyond smartctl's eight bits", status))
	}
	return bits
}

// standbyMode returns the low-power mode smartctl found the device in
// ("STANDBY", "SLEEP"), or "".
func standbyMode(msgs []smartctlMessage) string {
	for _, m := range msgs {
		if sm := standbyMessage.FindStringSubmatch(m.String); sm != nil {
			return sm[1]
		}
	}
	return ""
}

// messagesSuffix is smartctl's messages of a severity (all if ""), as
// ": a; b", or "".
func messagesSuffix(msgs []smartctlMessage, severity string) string {
	var parts []string
	for _, m := range msgs {
		if severity == "" || m.Severity == severity {
			parts = append(parts, strings.TrimSpace(m.String))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return ": " + strings.Join(parts, "; ")
}

// smartSnippet is the start of a command's output, for an error message.
func smartSnippet(out []byte) string {
	out = bytes.TrimSpace(out)
	if len(out) == 0 {
		return ", empty"
	}
	const n = 80
	if len(out) > n {
		return fmt.Sprintf(", starting %q", string(out[:n])+"...")
	}
	return fmt.Sprintf(": %q", out)
}

func smartFirstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func smartJoin(a, b string) string {
	return strings.TrimSpace(a + " " + b)
}

func smartPtr[T any](v T) *T { return &v }
