package redfish

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rackpulse/rackpulse/bmc"
	"github.com/rackpulse/rackpulse/bmc/sim"
)

// simProfile is what one synthetic profile of the simulator is expected to
// show for its first DIMM, CPU, PSU, fan and drive (the fault targets).
type simProfile struct {
	name string
	// dimmSlot is the first DIMM's slot as the Snapshot names it.
	dimmSlot string
	// eccCounters: the profile publishes MemoryMetrics ECC counters.
	eccCounters bool
	cpuSocket   string
	cpuSensor   string
	fanSensor   string
	fanUnit     string
	driveName   string
	// lineInputStatus: the profile publishes PSU LineInputStatus.
	lineInputStatus bool
}

var simProfiles = []simProfile{
	{
		name:        sim.ProfileModern,
		dimmSlot:    "PROC 1 DIMM 1",
		eccCounters: true,
		cpuSocket:   "CPU 1",
		cpuSensor:   "CPU 1 Temperature",
		fanSensor:   "Fan 1 Speed",
		fanUnit:     bmc.UnitPercent,
		driveName:   "NVMe Bay 1",
		// PowerSubsystem PowerSupply.LineInputStatus.
		lineInputStatus: true,
	},
	{
		name:        sim.ProfileLegacy,
		dimmSlot:    "A1",
		eccCounters: true,
		cpuSocket:   "CPU.Socket.1",
		cpuSensor:   "CPU1 Temp",
		fanSensor:   "System Board Fan1",
		fanUnit:     bmc.UnitRPM,
		driveName:   "Disk 0 in Backplane 1",
	},
}

// Faults exercised on each profile, one BMC each.
var simFaultCases = []string{"dimm-ecc", "cpu-hot", "psu-fail", "fan-fail", "drive-predicted-failure", "transport"}

// startSimFleet starts a fleet of both synthetic profiles, enough BMCs for
// every fault case of every profile, on free consecutive loopback ports.
func startSimFleet(t *testing.T) *sim.Fleet {
	t.Helper()
	f, err := sim.StartOnFreePorts(context.Background(), sim.FleetOptions{
		Count:    len(simProfiles) * len(simFaultCases),
		Mix:      []sim.ProfileShare{{Profile: sim.ProfileModern, Weight: 1}, {Profile: sim.ProfileLegacy, Weight: 1}},
		OutDir:   t.TempDir(),
		Username: testUser,
		Password: testPassword,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := f.Close(); err != nil {
			t.Errorf("closing fleet: %v", err)
		}
	})
	return f
}

// simCollector builds a real collector (real clock) for one simulated BMC,
// trusting only the fleet's CA. The slow cadence is short so that memory,
// drives and logs are read on every poll; the static one stays at its
// default, so that nothing here relies on the static refresh.
func simCollector(t *testing.T, f *sim.Fleet, b *sim.SimBMC, pollTimeout time.Duration) *Collector {
	t.Helper()
	ep := bmc.Endpoint{
		Server:         b.Name(),
		Address:        b.URL(),
		Username:       testUser,
		Password:       bmc.Secret(testPassword),
		TLS:            bmc.TLSConfig{CAFile: f.CAFile()},
		Cadence:        bmc.Cadence{Readings: 30 * time.Second, Slow: time.Millisecond},
		RequestTimeout: pollTimeout,
		PollTimeout:    pollTimeout,
	}
	c, err := New(ep, bmcOpts(t))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

// closeAndCheck closes the collector and checks that it left no session.
func closeAndCheck(t *testing.T, c *Collector, b *sim.SimBMC) {
	t.Helper()
	if err := c.Close(context.Background()); err != nil {
		t.Errorf("Close: %v", err)
	}
	if n := b.Handler().ActiveSessions(); n != 0 {
		t.Errorf("%s: %d sessions left after Close, want 0", b.Name(), n)
	}
}

// basePoll is the first poll of a fault case: it must be clean.
func basePoll(t *testing.T, c *Collector) *bmc.Snapshot {
	t.Helper()
	snap := mustPoll(t, c)
	if !snap.Poll.OK() {
		t.Fatalf("poll before any fault has errors: %+v", snap.Poll.Errors)
	}
	return snap
}

// pollUntil polls every 30ms until done says so, and returns every
// snapshot taken. It gives up (failing the test) after 10s.
func pollUntil(t *testing.T, c *Collector, done func(*bmc.Snapshot) bool) []*bmc.Snapshot {
	t.Helper()
	var snaps []*bmc.Snapshot
	deadline := time.Now().Add(10 * time.Second)
	for {
		snap := mustPoll(t, c)
		snaps = append(snaps, snap)
		if done(snap) {
			return snaps
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not reached after %d polls; last snapshot: DIMMs %+v CPUs %+v errors %+v", len(snaps), snap.DIMMs, snap.CPUs, snap.Poll.Errors)
		}
		time.Sleep(30 * time.Millisecond)
	}
}

func inject(t *testing.T, b *sim.SimBMC, spec sim.FaultSpec) {
	t.Helper()
	if err := b.Inject(spec); err != nil {
		t.Fatalf("inject %s: %v", spec.Fault, err)
	}
}

func findDIMM(s *bmc.Snapshot, slot string) *bmc.DIMM {
	for i := range s.DIMMs {
		if s.DIMMs[i].Slot == slot {
			return &s.DIMMs[i]
		}
	}
	return nil
}

func findCPU(s *bmc.Snapshot, socket string) *bmc.CPU {
	for i := range s.CPUs {
		if s.CPUs[i].Socket == socket {
			return &s.CPUs[i]
		}
	}
	return nil
}

func findDrive(s *bmc.Snapshot, name string) *bmc.Drive {
	for i := range s.Drives {
		if s.Drives[i].Name == name {
			return &s.Drives[i]
		}
	}
	return nil
}

func findSensorNamed(s *bmc.Snapshot, name string) *bmc.Sensor {
	for i := range s.Sensors {
		if s.Sensors[i].Name == name {
			return &s.Sensors[i]
		}
	}
	return nil
}

// findLog finds a new log entry about component/subject among snapshots.
func findLog(snaps []*bmc.Snapshot, component, subject string, severity bmc.Health) *bmc.LogEntry {
	for _, s := range snaps {
		for i := range s.Logs {
			e := &s.Logs[i]
			if e.Component == component && e.Subject == subject && e.Severity == severity {
				return e
			}
		}
	}
	return nil
}

func allLogs(snaps []*bmc.Snapshot) []bmc.LogEntry {
	var out []bmc.LogEntry
	for _, s := range snaps {
		out = append(out, s.Logs...)
	}
	return out
}

func TestSimFaults(t *testing.T) {
	fleet := startSimFleet(t)
	byProfile := map[string][]*sim.SimBMC{}
	for _, b := range fleet.BMCs() {
		p := b.Info().Profile
		byProfile[p] = append(byProfile[p], b)
	}
	for _, prof := range simProfiles {
		bmcs := byProfile[prof.name]
		if len(bmcs) < len(simFaultCases) {
			t.Fatalf("fleet has %d %s BMCs, want %d", len(bmcs), prof.name, len(simFaultCases))
		}
		t.Run(prof.name, func(t *testing.T) {
			for i, fc := range simFaultCases {
				b := bmcs[i]
				t.Run(fc, func(t *testing.T) {
					t.Parallel()
					switch fc {
					case "dimm-ecc":
						testDIMMECC(t, fleet, b, prof)
					case "cpu-hot":
						testCPUHot(t, fleet, b, prof)
					case "psu-fail":
						testPSUFail(t, fleet, b, prof)
					case "fan-fail":
						testFanFail(t, fleet, b, prof)
					case "drive-predicted-failure":
						testDrivePredictedFailure(t, fleet, b, prof)
					case "transport":
						testTransportFaults(t, fleet, b)
					}
				})
			}
		})
	}
}

func testDIMMECC(t *testing.T, f *sim.Fleet, b *sim.SimBMC, prof simProfile) {
	c := simCollector(t, f, b, 10*time.Second)
	base := basePoll(t, c)
	d := findDIMM(base, prof.dimmSlot)
	if d == nil {
		t.Fatalf("no DIMM in slot %q: %+v", prof.dimmSlot, base.DIMMs)
	}
	if d.Health != bmc.HealthOK {
		t.Fatalf("DIMM %s before the fault: %+v", prof.dimmSlot, d)
	}
	if prof.eccCounters && (d.CorrectableErrors == nil || *d.CorrectableErrors != 0) {
		t.Fatalf("DIMM %s before the fault: correctable %v, want 0", prof.dimmSlot, d.CorrectableErrors)
	}

	inject(t, b, sim.FaultSpec{Fault: sim.FaultDIMMECC, Target: "0", Every: 250 * time.Millisecond})
	snaps := pollUntil(t, c, func(s *bmc.Snapshot) bool {
		d := findDIMM(s, prof.dimmSlot)
		return d != nil && d.Health == bmc.HealthCritical
	})

	firstWarning, firstCritical := -1, -1
	var counts []int64
	for i, s := range snaps {
		if !hasPart(s.Poll.Read, bmc.PartMemory) {
			t.Errorf("poll %d did not read memory (read %v, cached %v)", i, s.Poll.Read, s.Poll.Cached)
		}
		d := findDIMM(s, prof.dimmSlot)
		if d == nil {
			t.Fatalf("poll %d lost DIMM %s", i, prof.dimmSlot)
		}
		switch {
		case d.Health == bmc.HealthWarning && firstWarning < 0:
			firstWarning = i
		case d.Health == bmc.HealthCritical && firstCritical < 0:
			firstCritical = i
		}
		if prof.eccCounters {
			if d.CorrectableErrors == nil {
				t.Fatalf("poll %d: DIMM %s has no correctable count", i, prof.dimmSlot)
			}
			if n := len(counts); n > 0 && *d.CorrectableErrors < counts[n-1] {
				t.Errorf("poll %d: correctable count fell from %d to %d", i, counts[n-1], *d.CorrectableErrors)
			}
			counts = append(counts, *d.CorrectableErrors)
		}
		for _, other := range s.DIMMs {
			if other.Slot != prof.dimmSlot && other.Health != bmc.HealthOK {
				t.Errorf("poll %d: DIMM %s is %s, only %s has the fault", i, other.Slot, other.Health, prof.dimmSlot)
			}
		}
	}
	if firstWarning < 0 || firstCritical < firstWarning {
		t.Errorf("DIMM health went Warning at poll %d and Critical at poll %d; want Warning first, then Critical", firstWarning, firstCritical)
	}
	if prof.eccCounters {
		if counts[len(counts)-1] <= counts[0] {
			t.Errorf("correctable count did not climb: %v", counts)
		}
		last := findDIMM(snaps[len(snaps)-1], prof.dimmSlot)
		if last.UncorrectableErrors == nil || *last.UncorrectableErrors < 1 {
			t.Errorf("critical DIMM has uncorrectable count %v, want at least 1", last.UncorrectableErrors)
		}
	}
	if e := findLog(snaps, "DIMM", prof.dimmSlot, bmc.HealthWarning); e == nil {
		t.Errorf("no Warning log entry about DIMM %s; new entries: %+v", prof.dimmSlot, allLogs(snaps))
	}
	if e := findLog(snaps, "DIMM", prof.dimmSlot, bmc.HealthCritical); e == nil {
		t.Errorf("no Critical log entry about DIMM %s; new entries: %+v", prof.dimmSlot, allLogs(snaps))
	}
	closeAndCheck(t, c, b)
}

func testCPUHot(t *testing.T, f *sim.Fleet, b *sim.SimBMC, prof simProfile) {
	c := simCollector(t, f, b, 10*time.Second)
	base := basePoll(t, c)
	cpu := findCPU(base, prof.cpuSocket)
	if cpu == nil || cpu.Health != bmc.HealthOK || cpu.TemperatureC == nil {
		t.Fatalf("CPU %s before the fault: %+v (all: %+v)", prof.cpuSocket, cpu, base.CPUs)
	}
	s := findSensorNamed(base, prof.cpuSensor)
	if s == nil || s.Context != bmc.ContextCPU || s.Kind != bmc.KindTemperature ||
		!ptrEq(s.Thresholds.UpperWarning, 85) || !ptrEq(s.Thresholds.UpperCritical, 95) {
		t.Fatalf("CPU sensor %q before the fault: %+v", prof.cpuSensor, s)
	}

	inject(t, b, sim.FaultSpec{Fault: sim.FaultCPUHot, Target: "0", Every: 300 * time.Millisecond})
	snaps := pollUntil(t, c, func(s *bmc.Snapshot) bool {
		sensor := findSensorNamed(s, prof.cpuSensor)
		cpu := findCPU(s, prof.cpuSocket)
		return sensor != nil && sensor.Health == bmc.HealthCritical && cpu != nil && cpu.Health == bmc.HealthCritical
	})

	var temps []float64
	sensorWarning, sensorCritical, cpuWarning, cpuCritical := -1, -1, -1, -1
	for i, snap := range snaps {
		sensor := findSensorNamed(snap, prof.cpuSensor)
		cpu := findCPU(snap, prof.cpuSocket)
		if sensor == nil || sensor.Value == nil || cpu == nil {
			t.Fatalf("poll %d: sensor %+v, CPU %+v", i, sensor, cpu)
		}
		v := *sensor.Value
		// The fault only adds heat; the simulated load may move the base
		// reading by a few degrees.
		if n := len(temps); n > 0 && v < temps[n-1]-4 {
			t.Errorf("poll %d: CPU temperature fell from %g to %g", i, temps[n-1], v)
		}
		temps = append(temps, v)
		// The sensor's health agrees with its thresholds.
		want := bmc.HealthOK
		switch {
		case v >= 95:
			want = bmc.HealthCritical
		case v >= 85:
			want = bmc.HealthWarning
		}
		if sensor.Health != want {
			t.Errorf("poll %d: sensor at %g C is %s, want %s", i, v, sensor.Health, want)
		}
		// The CPU carries a temperature and a health on every poll, never
		// better than its sensor's.
		if cpu.TemperatureC == nil {
			t.Errorf("poll %d: CPU %s has no temperature", i, prof.cpuSocket)
		} else if d := *cpu.TemperatureC - v; d < -9 || d > 9 {
			// Two reads of one poll may straddle a fault step of 5 C
			// and a change of the simulated load.
			t.Errorf("poll %d: CPU temperature %g, its sensor %g", i, *cpu.TemperatureC, v)
		}
		if cpu.Health.Worse(sensor.Health) != cpu.Health {
			t.Errorf("poll %d: CPU is %s while its sensor is %s", i, cpu.Health, sensor.Health)
		}
		if sensor.Health == bmc.HealthWarning && sensorWarning < 0 {
			sensorWarning = i
		}
		if sensor.Health == bmc.HealthCritical && sensorCritical < 0 {
			sensorCritical = i
		}
		if cpu.Health == bmc.HealthWarning && cpuWarning < 0 {
			cpuWarning = i
		}
		if cpu.Health == bmc.HealthCritical && cpuCritical < 0 {
			cpuCritical = i
		}
		for _, other := range snap.CPUs {
			if other.Socket != prof.cpuSocket && other.Health != bmc.HealthOK {
				t.Errorf("poll %d: CPU %s is %s, only %s has the fault", i, other.Socket, other.Health, prof.cpuSocket)
			}
		}
	}
	if temps[len(temps)-1] <= temps[0] {
		t.Errorf("CPU temperature did not rise: %v", temps)
	}
	if sensorWarning < 0 || sensorCritical < sensorWarning {
		t.Errorf("sensor went Warning at poll %d, Critical at poll %d; temperatures %v", sensorWarning, sensorCritical, temps)
	}
	if cpuWarning < 0 || cpuCritical < cpuWarning {
		t.Errorf("CPU went Warning at poll %d, Critical at poll %d; temperatures %v", cpuWarning, cpuCritical, temps)
	}
	if e := findLog(snaps, "CPU", prof.cpuSocket, bmc.HealthWarning); e == nil {
		t.Errorf("no log entry about CPU %s; new entries: %+v", prof.cpuSocket, allLogs(snaps))
	}

	// Once the fault clears, the CPU's health comes back without waiting
	// for the static refresh.
	b.Clear(sim.FaultCPUHot)
	after := mustPoll(t, c)
	if cpu := findCPU(after, prof.cpuSocket); cpu == nil || cpu.Health != bmc.HealthOK {
		t.Errorf("CPU after the fault cleared: %+v", cpu)
	}
	closeAndCheck(t, c, b)
}

func testPSUFail(t *testing.T, f *sim.Fleet, b *sim.SimBMC, prof simProfile) {
	c := simCollector(t, f, b, 10*time.Second)
	base := basePoll(t, c)
	other := findPSU(base, base.Chassis[0].ID, "2")
	if other == nil || other.OutputWatts == nil || *other.OutputWatts <= 0 {
		t.Fatalf("PSU 2 before the fault: %+v", other)
	}
	before := *other.OutputWatts

	inject(t, b, sim.FaultSpec{Fault: sim.FaultPSUFail, Target: "0"})
	snap := mustPoll(t, c)
	failed := findPSU(snap, snap.Chassis[0].ID, "1")
	if failed == nil {
		t.Fatalf("no PSU in bay 1: %+v", snap.PSUs)
	}
	if failed.Health != bmc.HealthCritical {
		t.Errorf("failed PSU health %s, want Critical", failed.Health)
	}
	if !ptrEq(failed.InputWatts, 0) || !ptrEq(failed.OutputWatts, 0) {
		t.Errorf("failed PSU in %v out %v, want 0 and 0", failed.InputWatts, failed.OutputWatts)
	}
	// The supply itself failed; its AC input is still there (psu-input-loss
	// is the fault that takes the input away).
	if failed.InputVolts == nil || *failed.InputVolts < 200 {
		t.Errorf("failed PSU input voltage %v, want its live line's", failed.InputVolts)
	}
	if prof.lineInputStatus && failed.LineInputStatus != "Normal" {
		t.Errorf("failed PSU LineInputStatus %q, want Normal", failed.LineInputStatus)
	}
	other = findPSU(snap, snap.Chassis[0].ID, "2")
	if other == nil || other.Health != bmc.HealthOK || other.OutputWatts == nil {
		t.Fatalf("PSU 2 with PSU 1 failed: %+v", other)
	}
	// It carries the whole load: about twice what it delivered sharing it.
	if *other.OutputWatts < 1.5*before {
		t.Errorf("PSU 2 delivers %g W with PSU 1 failed, %g W before: it does not carry the load", *other.OutputWatts, before)
	}
	if e := findLog([]*bmc.Snapshot{snap}, "PSU", "1", bmc.HealthCritical); e == nil {
		t.Errorf("no log entry about PSU bay 1; new entries: %+v", snap.Logs)
	}
	closeAndCheck(t, c, b)
}

func testFanFail(t *testing.T, f *sim.Fleet, b *sim.SimBMC, prof simProfile) {
	c := simCollector(t, f, b, 10*time.Second)
	base := basePoll(t, c)
	fan := findSensorNamed(base, prof.fanSensor)
	if fan == nil || fan.Kind != bmc.KindFan || fan.Unit != prof.fanUnit || fan.Value == nil || *fan.Value <= 0 || fan.Health != bmc.HealthOK {
		t.Fatalf("fan %q before the fault: %+v", prof.fanSensor, fan)
	}

	inject(t, b, sim.FaultSpec{Fault: sim.FaultFanFail, Target: "0"})
	snap := mustPoll(t, c)
	fan = findSensorNamed(snap, prof.fanSensor)
	if fan == nil || !ptrEq(fan.Value, 0) || fan.Unit != prof.fanUnit || fan.Health != bmc.HealthCritical {
		t.Errorf("failed fan: %+v, want 0 %s and Critical", fan, prof.fanUnit)
	}
	for _, s := range snap.Sensors {
		if s.Kind == bmc.KindFan && s.Name != prof.fanSensor && (s.Value == nil || *s.Value <= 0 || s.Health != bmc.HealthOK) {
			t.Errorf("fan %s: %+v, only %s has failed", s.Name, s, prof.fanSensor)
		}
	}
	if e := findLog([]*bmc.Snapshot{snap}, "Fan", prof.fanSensor, bmc.HealthCritical); e == nil {
		t.Errorf("no log entry about fan %s; new entries: %+v", prof.fanSensor, snap.Logs)
	}
	closeAndCheck(t, c, b)
}

func testDrivePredictedFailure(t *testing.T, f *sim.Fleet, b *sim.SimBMC, prof simProfile) {
	c := simCollector(t, f, b, 10*time.Second)
	base := basePoll(t, c)
	d := findDrive(base, prof.driveName)
	if d == nil || d.FailurePredicted || d.Health != bmc.HealthOK || d.LifeLeftPercent == nil || *d.LifeLeftPercent < 50 {
		t.Fatalf("drive %q before the fault: %+v (all %+v)", prof.driveName, d, base.Drives)
	}

	inject(t, b, sim.FaultSpec{Fault: sim.FaultDrivePredictedFailure, Target: "0"})
	snap := mustPoll(t, c)
	if !hasPart(snap.Poll.Read, bmc.PartStorage) {
		t.Fatalf("storage not read: read %v cached %v", snap.Poll.Read, snap.Poll.Cached)
	}
	d = findDrive(snap, prof.driveName)
	if d == nil || !d.FailurePredicted || d.Health != bmc.HealthWarning || d.LifeLeftPercent == nil || *d.LifeLeftPercent > 10 {
		t.Errorf("drive with a predicted failure: %+v, want FailurePredicted, Warning, little life left", d)
	}
	for _, other := range snap.Drives {
		if other.Name != prof.driveName && (other.FailurePredicted || other.Health != bmc.HealthOK) {
			t.Errorf("drive %s: %+v, only %s has the fault", other.Name, other, prof.driveName)
		}
	}
	if d != nil {
		if e := findLog([]*bmc.Snapshot{snap}, "Drive", d.Bay, bmc.HealthWarning); e == nil {
			t.Errorf("no log entry about drive %s; new entries: %+v", d.Bay, snap.Logs)
		}
	}
	closeAndCheck(t, c, b)
}

// readingPart reports whether part holds readings (or their Metrics), the
// resources FaultMalformedJSON breaks.
func readingPart(part bmc.Part) bool {
	switch part {
	case bmc.PartPower, bmc.PartThermal, bmc.PartSensors, bmc.PartCPU, bmc.PartMemory:
		return true
	}
	return false
}

func testTransportFaults(t *testing.T, f *sim.Fleet, b *sim.SimBMC) {
	c := simCollector(t, f, b, time.Second)
	basePoll(t, c)
	h := b.Handler()

	t.Run("timeout", func(t *testing.T) {
		inject(t, b, sim.FaultSpec{Fault: sim.FaultTimeout})
		snap, err := c.Poll(context.Background())
		b.Clear(sim.FaultTimeout)
		if err == nil {
			t.Fatalf("poll of a BMC that never answers succeeded: %+v", snap.Poll)
		}
		if k := bmc.KindOf(err); k != bmc.ErrKindTimeout {
			t.Errorf("poll error kind %s, want timeout: %v", k, err)
		}
		if snap := mustPoll(t, c); !snap.Poll.OK() {
			t.Errorf("poll after the timeout cleared: %+v", snap.Poll.Errors)
		}
	})

	t.Run("http-500", func(t *testing.T) {
		inject(t, b, sim.FaultSpec{Fault: sim.FaultServerError})
		snap, err := c.Poll(context.Background())
		b.Clear(sim.FaultServerError)
		switch {
		case err != nil:
			if k := bmc.KindOf(err); k != bmc.ErrKindServer {
				t.Errorf("poll error kind %s, want server_error: %v", k, err)
			}
		case len(snap.Poll.Errors) == 0:
			t.Errorf("every request answered 500 and the poll reports no error")
		default:
			for _, e := range snap.Poll.Errors {
				if e.Kind != bmc.ErrKindServer {
					t.Errorf("part error %+v, want kind server_error", e)
				}
			}
		}
		if snap := mustPoll(t, c); !snap.Poll.OK() {
			t.Errorf("poll after the 500s cleared: %+v", snap.Poll.Errors)
		}
	})

	t.Run("session-loss", func(t *testing.T) {
		if n := h.ActiveSessions(); n != 1 {
			t.Fatalf("%d sessions before the loss, want 1", n)
		}
		logins := c.session.loginCount()
		inject(t, b, sim.FaultSpec{Fault: sim.FaultSessionLoss})
		if n := h.ActiveSessions(); n != 0 {
			t.Fatalf("%d sessions after the BMC dropped them, want 0", n)
		}
		snap := mustPoll(t, c)
		if !snap.Poll.OK() {
			t.Errorf("poll after the session loss: %+v", snap.Poll.Errors)
		}
		if n := c.session.loginCount() - logins; n != 1 {
			t.Errorf("%d logins after the session loss, want 1", n)
		}
		if n := h.ActiveSessions(); n != 1 {
			t.Errorf("%d sessions after the re-login, want 1", n)
		}
	})

	t.Run("malformed-json", func(t *testing.T) {
		inject(t, b, sim.FaultSpec{Fault: sim.FaultMalformedJSON})
		snap, err := c.Poll(context.Background())
		b.Clear(sim.FaultMalformedJSON)
		if err != nil {
			t.Fatalf("poll with malformed readings failed entirely: %v", err)
		}
		if len(snap.Poll.Errors) == 0 {
			t.Fatal("malformed readings reported no error")
		}
		for _, e := range snap.Poll.Errors {
			if e.Kind != bmc.ErrKindMalformed || !readingPart(e.Part) {
				t.Errorf("part error %+v, want kind malformed on a reading part", e)
			}
		}
		for _, part := range []bmc.Part{bmc.PartSystems, bmc.PartChassis, bmc.PartStorage, bmc.PartLogs} {
			if !hasPart(snap.Poll.Read, part) || len(partErrors(snap, part)) > 0 {
				t.Errorf("part %s not read intact: read %v, errors %+v", part, snap.Poll.Read, partErrors(snap, part))
			}
		}
		if len(snap.Systems) == 0 || len(snap.Chassis) == 0 || len(snap.Drives) == 0 || len(snap.DIMMs) == 0 || len(snap.CPUs) == 0 {
			t.Errorf("inventory lost to malformed readings: %d systems, %d chassis, %d drives, %d DIMMs, %d CPUs",
				len(snap.Systems), len(snap.Chassis), len(snap.Drives), len(snap.DIMMs), len(snap.CPUs))
		}
		if snap := mustPoll(t, c); !snap.Poll.OK() {
			t.Errorf("poll after malformed JSON cleared: %+v", snap.Poll.Errors)
		}
	})

	t.Run("truncated-json", func(t *testing.T) {
		inject(t, b, sim.FaultSpec{Fault: sim.FaultTruncatedJSON})
		snap, err := c.Poll(context.Background())
		b.Clear(sim.FaultTruncatedJSON)
		switch {
		case err != nil:
			if bmc.KindOf(err) == "" {
				t.Errorf("poll error without a kind: %v", err)
			}
			t.Logf("truncated bodies: poll error %s: %v", bmc.KindOf(err), err)
		case len(snap.Poll.Errors) == 0:
			t.Error("truncated bodies reported no error")
		default:
			for _, e := range snap.Poll.Errors {
				if e.Kind == "" || e.Resource == "" || !strings.HasPrefix(e.Resource, "/redfish/v1") {
					t.Errorf("part error %+v does not name its kind and resource", e)
				}
			}
		}
		if snap := mustPoll(t, c); !snap.Poll.OK() {
			t.Errorf("poll after truncation cleared: %+v", snap.Poll.Errors)
		}
	})

	closeAndCheck(t, c, b)
}
