package sim

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/bougou/go-ipmi/pkg/client"
	"github.com/bougou/go-ipmi/pkg/types"
)

// Sensor numbers of the IPMI profile the fault tests read.
const (
	sensorCPU2Temp   = 0x02
	sensorInletTemp  = 0x03
	sensorPSU1Input  = 0x30
	sensorPSU2Input  = 0x31
	sensorTotalPower = 0x32
	sensorPSU1Status = 0x40
	sensorPSU2Status = 0x41
	sensorCPU1Memory = 0x50
	sensorCPU2Memory = 0x51
	sensorDrive0     = 0x70
)

// selRecord is a system event record as a client decodes it.
type selRecord struct {
	at           time.Time
	sensor       uint8
	deassert     bool
	offset       uint8
	data1        uint8
	data2, data3 uint8
}

func (r selRecord) String() string {
	dir := "asserted"
	if r.deassert {
		dir = "deasserted"
	}
	return fmt.Sprintf("%s sensor %02xh offset %d %s data % x", r.at.UTC().Format(time.TimeOnly), r.sensor, r.offset, dir, []uint8{r.data1, r.data2, r.data3})
}

// readSEL reads the whole SEL with go-ipmi's client.
func readSEL(t *testing.T, c *client.Client) []selRecord {
	t.Helper()
	sels, err := c.GetSELEntries(t.Context(), 0)
	if err != nil {
		t.Fatalf("reading the SEL: %v", err)
	}
	out := make([]selRecord, 0, len(sels))
	for _, s := range sels {
		ev := s.Standard
		if ev == nil {
			t.Fatalf("SEL record of type %v, want system events only", s.RecordType)
		}
		out = append(out, selRecord{
			at: ev.Timestamp, sensor: uint8(ev.SensorNumber), deassert: bool(ev.EventDir),
			offset: ev.EventData.EventData1 & 0x0F, data1: ev.EventData.EventData1,
			data2: ev.EventData.EventData2, data3: ev.EventData.EventData3,
		})
	}
	return out
}

// wantSEL checks records against (sensor, offset, deassert, at) and, where
// given, event data 3.
type wantRecord struct {
	sensor, offset uint8
	deassert       bool
	at             time.Time
	data3          int // -1: any
}

func wantSEL(t *testing.T, got []selRecord, want []wantRecord) {
	t.Helper()
	ok := len(got) == len(want)
	for i := 0; ok && i < len(want); i++ {
		g, w := got[i], want[i]
		ok = g.sensor == w.sensor && g.offset == w.offset && g.deassert == w.deassert && g.at.Equal(w.at.Truncate(time.Second)) &&
			(w.data3 < 0 || int(g.data3) == w.data3)
	}
	if !ok {
		t.Errorf("SEL:\n%v\nwant %d records: %+v", got, len(want), want)
	}
}

// states reads the asserted offsets of a discrete sensor.
func states(t *testing.T, c *client.Client, sensor uint8) []uint8 {
	t.Helper()
	rd, err := c.GetSensorReading(t.Context(), sensor)
	if err != nil {
		t.Fatalf("reading sensor %02xh: %v", sensor, err)
	}
	return rd.ActiveStates.TrueEvents()
}

func wantStates(t *testing.T, c *client.Client, sensor uint8, want ...uint8) {
	t.Helper()
	if got := states(t, c, sensor); !slices.Equal(got, want) {
		t.Errorf("sensor %02xh asserts %v, want %v", sensor, got, want)
	}
}

// TestIPMINewFaults drives each fault on an IPMI BMC and reads it back
// over RMCP+ as a poller does: sensor readings, DCMI and the SEL.
func TestIPMINewFaults(t *testing.T) {
	tests := []struct {
		name  string
		run   func(t *testing.T, b *SimBMC, c *client.Client, clock *ipmiClock)
		after func(t *testing.T, b *SimBMC) // checks on the machine model
	}{
		{name: "dimm-ecc at 20 a step", run: func(t *testing.T, b *SimBMC, c *client.Client, clock *ipmiClock) {
			t0 := clock.Now()
			if err := b.Inject(FaultSpec{Fault: FaultDIMMECC, Target: "DIMM B5", Count: 20, Every: time.Minute}); err != nil {
				t.Fatal(err)
			}
			// 20 errors pass the logging limit (16) at once; the critical
			// count (64) at step 4 (80).
			wantStates(t, c, sensorCPU2Memory, offMemCorrectable, offMemLogLimit, offMemPresence)
			wantSEL(t, readSEL(t, c), []wantRecord{
				{sensorCPU2Memory, offMemCorrectable, false, t0, 4},
				{sensorCPU2Memory, offMemLogLimit, false, t0, 4},
			})
			clock.Advance(3 * time.Minute)
			wantStates(t, c, sensorCPU2Memory, offMemCorrectable, offMemUncorrectable, offMemLogLimit, offMemPresence)
			if !b.Clear(FaultDIMMECC) {
				t.Fatal("dimm-ecc was not on")
			}
			// Replaced: the sensor is clean; the SEL keeps the errors
			// asserted, as real BMCs do.
			wantStates(t, c, sensorCPU2Memory, offMemPresence)
			wantSEL(t, readSEL(t, c), []wantRecord{
				{sensorCPU2Memory, offMemCorrectable, false, t0, 4},
				{sensorCPU2Memory, offMemLogLimit, false, t0, 4},
				{sensorCPU2Memory, offMemUncorrectable, false, t0.Add(3 * time.Minute), 4},
			})
		}},
		{name: "dimm-uncorrectable", run: func(t *testing.T, b *SimBMC, c *client.Client, clock *ipmiClock) {
			t0 := clock.Now()
			if err := b.Inject(FaultSpec{Fault: FaultDIMMUncorrectable, Target: "DIMM A3"}); err != nil {
				t.Fatal(err)
			}
			wantStates(t, c, sensorCPU1Memory, offMemUncorrectable, offMemPresence)
			wantStates(t, c, sensorCPU2Memory, offMemPresence)
			sel := readSEL(t, c)
			wantSEL(t, sel, []wantRecord{{sensorCPU1Memory, offMemUncorrectable, false, t0, 2}})
			if len(sel) == 1 && sel[0].data1 != 0x30|offMemUncorrectable {
				t.Errorf("event data 1 %02xh: want the DIMM named in data 3 (30h) and offset 1", sel[0].data1)
			}
			clock.Advance(time.Minute)
			b.Clear(FaultDIMMUncorrectable)
			wantStates(t, c, sensorCPU1Memory, offMemPresence)
			if got := readSEL(t, c); len(got) != 1 {
				t.Errorf("SEL after the replacement: %v, want the error alone (memory errors stay asserted)", got)
			}
		}},
		{name: "cpu-oscillate", run: func(t *testing.T, b *SimBMC, c *client.Client, clock *ipmiClock) {
			t0 := clock.Now()
			if err := b.Inject(FaultSpec{Fault: FaultCPUOscillate, Target: "CPU2", Every: time.Minute}); err != nil {
				t.Fatal(err)
			}
			var want []wantRecord
			for step := 1; step <= 5; step++ {
				rd, err := c.GetSensorReading(t.Context(), sensorCPU2Temp)
				if err != nil {
					t.Fatal(err)
				}
				hot := step%2 == 1
				reading := uint8(83)
				if hot {
					reading = 87
				}
				if rd.Reading != reading || rd.Above_UNC != hot || rd.Above_UCR {
					t.Errorf("step %d: CPU2 Temp %d (above UNC %v), want %d (%v)", step, rd.Reading, rd.Above_UNC, reading, hot)
				}
				want = append(want, wantRecord{sensorCPU2Temp, offUpperNCGoingHigh, !hot, t0.Add(time.Duration(step-1) * time.Minute), -1})
				if step < 5 {
					clock.Advance(time.Minute)
				}
			}
			sel := readSEL(t, c)
			wantSEL(t, sel, want)
			for _, r := range sel {
				if r.data1 != 0x50|offUpperNCGoingHigh || r.data3 != 85 || (r.data2 != 87 && r.data2 != 83) {
					t.Errorf("record %v: want reading (87 or 83) and threshold 85 in data 2 and 3", r)
				}
			}
			// Cleared above the threshold: the crossing is deasserted.
			clock.Advance(10 * time.Second)
			b.Clear(FaultCPUOscillate)
			want = append(want, wantRecord{sensorCPU2Temp, offUpperNCGoingHigh, true, clock.Now(), 85})
			sel = readSEL(t, c)
			wantSEL(t, sel, want)
			if last := sel[len(sel)-1]; last.data2 >= 85 {
				t.Errorf("deassertion at clearing %v: want the reading now, under the threshold", last)
			}
		}},
		{name: "inlet-hot", run: func(t *testing.T, b *SimBMC, c *client.Client, clock *ipmiClock) {
			t0 := clock.Now()
			if err := b.Inject(FaultSpec{Fault: FaultInletHot, Every: time.Minute}); err != nil {
				t.Fatal(err)
			}
			// From 4 °C under UNC (38), 2 °C a step, to 2 °C past UCR (42).
			for step, want := range []struct {
				reading  uint8
				unc, ucr bool
			}{{36, false, false}, {38, true, false}, {40, true, false}, {42, true, true}, {44, true, true}, {44, true, true}} {
				rd, err := c.GetSensorReading(t.Context(), sensorInletTemp)
				if err != nil {
					t.Fatal(err)
				}
				if rd.Reading != want.reading || rd.Above_UNC != want.unc || rd.Above_UCR != want.ucr || rd.Above_UNR {
					t.Errorf("step %d: Inlet Temp %d (UNC %v, UCR %v), want %+v", step+1, rd.Reading, rd.Above_UNC, rd.Above_UCR, want)
				}
				clock.Advance(time.Minute)
			}
			b.Clear(FaultInletHot)
			sel := readSEL(t, c)
			wantSEL(t, sel, []wantRecord{
				{sensorInletTemp, offUpperNCGoingHigh, false, t0.Add(time.Minute), 38},
				{sensorInletTemp, offUpperCritGoingHi, false, t0.Add(3 * time.Minute), 42},
				{sensorInletTemp, offUpperNCGoingHigh, true, clock.Now(), 38},
				{sensorInletTemp, offUpperCritGoingHi, true, clock.Now(), 42},
			})
			if len(sel) == 4 && (sel[0].data2 != 38 || sel[1].data2 != 42 || sel[3].data2 > 30) {
				t.Errorf("readings in the records: %v", sel)
			}
		}},
		{name: "psu-input-loss and psu-fail", run: func(t *testing.T, b *SimBMC, c *client.Client, clock *ipmiClock) {
			t0 := clock.Now()
			if err := b.Inject(FaultSpec{Fault: FaultPSUInputLoss, Target: "PSU1"}); err != nil {
				t.Fatal(err)
			}
			wantStates(t, c, sensorPSU1Status, offPSUPresence, offPSUACLost)
			in1, err := c.GetSensorReading(t.Context(), sensorPSU1Input)
			if err != nil {
				t.Fatal(err)
			}
			in2, _ := c.GetSensorReading(t.Context(), sensorPSU2Input)
			total, _ := c.GetSensorReading(t.Context(), sensorTotalPower)
			if in1.ReadingUnavailable || in1.Reading != 0 || in2.Reading == 0 || in2.Reading != total.Reading {
				t.Errorf("PSU1 input %d (unavailable %v), PSU2 %d, total %d: want 0 W and PSU2 carrying the total", in1.Reading, in1.ReadingUnavailable, in2.Reading, total.Reading)
			}
			clock.Advance(time.Minute)
			b.Clear(FaultPSUInputLoss)
			wantStates(t, c, sensorPSU1Status, offPSUPresence)
			t1 := clock.Now()
			if err := b.Inject(FaultSpec{Fault: FaultPSUFail, Target: "PSU2"}); err != nil {
				t.Fatal(err)
			}
			wantStates(t, c, sensorPSU2Status, offPSUPresence, offPSUFailure)
			if in2, _ := c.GetSensorReading(t.Context(), sensorPSU2Input); !in2.ReadingUnavailable {
				t.Errorf("failed PSU2's input reads %d, want unavailable", in2.Reading)
			}
			wantSEL(t, readSEL(t, c), []wantRecord{
				{sensorPSU1Status, offPSUACLost, false, t0, -1},
				{sensorPSU1Status, offPSUACLost, true, t1, -1},
				{sensorPSU2Status, offPSUFailure, false, t1, -1},
			})
		}},
		{name: "drive-fail, predicted first, then replaced", run: func(t *testing.T, b *SimBMC, c *client.Client, clock *ipmiClock) {
			t0 := clock.Now()
			for _, f := range []Fault{FaultDrivePredictedFailure, FaultDriveFail} {
				if err := b.Inject(FaultSpec{Fault: f, Target: "Drive0"}); err != nil {
					t.Fatal(err)
				}
			}
			wantStates(t, c, sensorDrive0, offDrivePresence, offDriveFault, offDrivePredictive)
			clock.Advance(time.Minute)
			// The replacement ends both faults of the drive.
			b.Clear(FaultDriveFail)
			wantStates(t, c, sensorDrive0, offDrivePresence)
			t1 := clock.Now()
			wantSEL(t, readSEL(t, c), []wantRecord{
				{sensorDrive0, offDrivePredictive, false, t0, -1},
				{sensorDrive0, offDriveFault, false, t0, -1},
				{sensorDrive0, offDriveFault, true, t1, -1},
				{sensorDrive0, offDrivePredictive, true, t1, -1},
			})
		}},
		{name: "overload", run: func(t *testing.T, b *SimBMC, c *client.Client, clock *ipmiClock) {
			l := &b.machine.profile.layout
			share := float64(rackBudgetWatts([]float64{l.maxInputWatts()}))
			t0 := clock.Now()
			if err := b.Inject(FaultSpec{Fault: FaultOverload}); err != nil {
				t.Fatal(err)
			}
			for range 6 {
				pr, err := c.GetDCMIPowerReading(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				if float64(pr.CurrentPower) <= share {
					t.Errorf("DCMI %d W under overload, want above a one-server rack's %v W budget", pr.CurrentPower, share)
				}
				total, _ := c.GetSensorReading(t.Context(), sensorTotalPower)
				if w := 5 * float64(total.Reading); math.Abs(w-float64(pr.CurrentPower)) > 5 || !total.Above_UNC || total.Above_UCR {
					t.Errorf("Total Power %v W (above UNC %v, UCR %v), DCMI %d W", w, total.Above_UNC, total.Above_UCR, pr.CurrentPower)
				}
				for _, s := range []uint8{sensorPSU1Input, sensorPSU2Input} {
					rd, _ := c.GetSensorReading(t.Context(), s)
					if w := 5 * float64(rd.Reading); w >= l.psuCapacityWatts || rd.Above_UNC || w < float64(pr.CurrentPower)/2-5 {
						t.Errorf("PSU input sensor %02xh %v W, rating %v W, server %d W", s, w, l.psuCapacityWatts, pr.CurrentPower)
					}
				}
				clock.Advance(5 * time.Minute)
			}
			b.Clear(FaultOverload)
			if pr, _ := c.GetDCMIPowerReading(t.Context()); float64(pr.CurrentPower) > l.maxInputWatts() {
				t.Errorf("after clearing: %d W", pr.CurrentPower)
			}
			sel := readSEL(t, c)
			wantSEL(t, sel, []wantRecord{
				{sensorTotalPower, offUpperNCGoingHigh, false, t0, 200},
				{sensorTotalPower, offUpperNCGoingHigh, true, clock.Now(), 200},
			})
		}},
	}
	// One BMC a case, on one clock; the cases run one after the other.
	clock := nightClock()
	f := startIPMIFleet(t, FleetOptions{Count: len(tests), Mix: []ProfileShare{{ProfileIPMI, 1}}}, clock)
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := f.BMCs()[i]
			tc.run(t, b, quickIPMIClient(t, b), clock)
		})
	}
}

// quickIPMIClient is goIPMIClient's connection (cipher suite 3) without
// waiting long on closing: the fleet drops its sessions anyway.
func quickIPMIClient(t *testing.T, b *SimBMC) *client.Client {
	t.Helper()
	c, err := client.NewClient(b.host, b.port, "admin", "pw")
	if err != nil {
		t.Fatal(err)
	}
	c = c.WithInterface(client.InterfaceLanplus).WithCipherSuiteID(types.CipherSuiteID3).WithTimeout(2 * time.Second).WithRetry(2)
	if err := c.Connect(t.Context()); err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		_ = c.Close(ctx)
	})
	return c
}

// TestIPMIToolNamesTheNewFaults: ipmitool reads the new faults' records
// and states by the names the IPMI specification gives them.
func TestIPMIToolNamesTheNewFaults(t *testing.T) {
	clock := nightClock()
	b := oneIPMIBMC(t, clock)
	for _, spec := range []FaultSpec{
		{Fault: FaultDIMMUncorrectable, Target: "DIMM B2"},
		{Fault: FaultPSUInputLoss, Target: "PSU2"},
		{Fault: FaultDriveFail, Target: "Drive1"},
		{Fault: FaultCPUOscillate, Target: "CPU1", Every: time.Minute},
		{Fault: FaultOverload},
	} {
		if err := b.Inject(spec); err != nil {
			t.Fatal(err)
		}
	}
	clock.Advance(time.Minute)
	rows := table(ipmitool(t, b, "sdr", "list"))
	for name, want := range map[string][]string{
		"CPU1 Temp":     {"83 degrees C", "ok"},
		"PSU2 Status":   {"0x09", "ok"}, // presence, AC lost
		"Drive1 Status": {"0x03", "ok"}, // presence, fault
		"CPU2 Memory":   {"0x42", "ok"}, // uncorrectable, presence
		"Total Power":   {fmt.Sprintf("%.0f Watts", math.Round(b.machine.read().inputWatts/5)*5), "nc"},
	} {
		if got := rows[name]; len(got) < 2 || got[0] != want[0] || got[1] != want[1] {
			t.Errorf("sdr list %s: %q, want %q", name, got, want)
		}
	}
	sel := ipmitool(t, b, "sel", "elist")
	for _, w := range []string{
		`CPU2 Memory \| Uncorrectable ECC \| Asserted`,
		`PSU2 Status \| Power Supply AC lost \| Asserted`,
		`Drive1 Status \| Drive Fault \| Asserted`,
		`CPU1 Temp \| Upper Non-critical going high \| Asserted \| Reading 87 > Threshold 85 degrees C`,
		`CPU1 Temp \| Upper Non-critical going high \| Deasserted \| Reading 83 < Threshold 85 degrees C`,
		`Total Power \| Upper Non-critical going high \| Asserted`,
	} {
		if !regexp.MustCompile(w).MatchString(sel) {
			t.Errorf("sel elist lacks %q:\n%s", w, sel)
		}
	}
}

// TestIPMICPUHotSELFollowsReadings: a CPU that is already warm when
// cpu-hot starts crosses its thresholds sooner; the SEL dates each crossing
// at the step where the sensor first reads at or past it.
func TestIPMICPUHotSELFollowsReadings(t *testing.T) {
	shared := newIPMIShared()
	name := warmNames(t, 1, true)[0]
	clock := &fakeClock{t: time.Date(2026, 3, 4, 15, 0, 0, 0, time.UTC)} // afternoon: near the daily peak
	m := newMachine(name, shared.profile.profile, clock.t.Add(-time.Hour), clock.now)
	b, err := newIPMIBMC(m, shared, IPMIOptions{Username: "admin", Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	if c := m.read().cpus[0].celsius; c <= 70 {
		t.Fatalf("warm CPU at %v °C in the afternoon: the test wants it above 70", c)
	}
	spec := FaultSpec{Fault: FaultCPUHot, Target: "CPU1", Every: time.Minute}
	if err := m.inject(spec); err != nil {
		t.Fatal(err)
	}
	clock.advance(10 * time.Minute)
	b.syncSEL()
	s := shared.profile.byPart[partCPU][0]
	var crossed []int
	for _, e := range b.sel.entries {
		if e.sensor != s.number {
			continue
		}
		thr := map[uint8]int{offUpperNCGoingHigh: thrUNC, offUpperCritGoingHi: thrUCR, offUpperNRGoingHigh: thrUNR}[e.data[0]&0x0F]
		now := s.raw(m.readAt(e.at).cpus[0].celsius)
		before := s.raw(m.readAt(e.at.Add(-time.Minute)).cpus[0].celsius)
		if now != e.data[1] || now < s.thresholdRaw(thr) || (e.at.After(m.faults[FaultCPUHot].since) && before >= s.thresholdRaw(thr)) {
			t.Errorf("record at %s: reading %d, sensor %d then, %d a step before; threshold %d", e.at.Format(time.TimeOnly), e.data[1], now, before, s.thresholdRaw(thr))
		}
		crossed = append(crossed, thr)
	}
	if !slices.Equal(crossed, []int{thrUNC, thrUCR, thrUNR}) {
		t.Errorf("threshold records %v, want UNC, UCR, UNR", crossed)
	}
}

// TestIPMIOscillatingSELStaysBounded: an oscillating CPU left unread for
// long fills the SEL and no more, and the sensor's state is still known.
func TestIPMIOscillatingSELStaysBounded(t *testing.T) {
	shared := newIPMIShared()
	clock := &fakeClock{t: time.Date(2026, 3, 4, 3, 0, 0, 0, time.UTC)}
	m := newMachine("rack-01-u01", shared.profile.profile, clock.t, clock.now)
	b, err := newIPMIBMC(m, shared, IPMIOptions{Username: "admin", Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.inject(FaultSpec{Fault: FaultCPUOscillate, Every: time.Second}); err != nil {
		t.Fatal(err)
	}
	clock.advance(24*time.Hour + 500*time.Millisecond) // step 86401: above
	b.syncSEL()
	if n := len(b.sel.entries); n != selMaxEntries {
		t.Errorf("%d SEL records, want a full log of %d", n, selMaxEntries)
	}
	pr := b.sel.progress[FaultCPUOscillate]
	if pr.logged != 86401 || len(pr.asserted) != 1 || pr.asserted[0].data[1] != 87 {
		t.Errorf("progress %d records, asserted %v: want 86401 and the crossing at 87 °C", pr.logged, pr.asserted)
	}
}
