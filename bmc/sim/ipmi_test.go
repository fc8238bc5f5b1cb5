package sim

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bougou/go-ipmi/pkg/client"
	"github.com/bougou/go-ipmi/pkg/types"
)

// ipmiClock is a settable clock the machines of a test fleet read, safe
// for the servers' goroutines.
type ipmiClock struct{ ns atomic.Int64 }

func newIPMIClock(t time.Time) *ipmiClock {
	c := &ipmiClock{}
	c.ns.Store(t.UnixNano())
	return c
}

func (c *ipmiClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *ipmiClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// startIPMIFleet starts a fleet on free loopback ports (TCP and UDP), its
// machines reading clock when it is not nil.
func startIPMIFleet(t *testing.T, opts FleetOptions, clock *ipmiClock) *Fleet {
	t.Helper()
	opts.OutDir = t.TempDir()
	if opts.Username == "" {
		opts.Username, opts.Password = "admin", "pw"
	}
	var lastErr error
	for range 10 {
		opts.BasePort = 20000 + rand.IntN(20000)
		opts.IPMIBasePort = 40000 + rand.IntN(20000)
		f, err := NewFleet(opts)
		if err != nil {
			t.Fatal(err)
		}
		if clock != nil {
			for _, b := range f.BMCs() {
				if b.machine != nil {
					b.machine.now = clock.Now
				}
			}
		}
		if lastErr = f.Start(t.Context()); lastErr == nil {
			t.Cleanup(func() {
				if err := f.Close(); err != nil {
					t.Errorf("closing fleet: %v", err)
				}
			})
			return f
		}
	}
	t.Fatalf("no free ports for the fleet: %v", lastErr)
	return nil
}

// nightClock is a fake clock at 03:00 UTC, when the simulated load is low
// and a hot CPU climbs from 70 °C exactly.
func nightClock() *ipmiClock {
	return newIPMIClock(time.Date(2026, 3, 4, 3, 0, 0, 0, time.UTC))
}

func ipmitool(t *testing.T, b *SimBMC, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath("ipmitool"); err != nil {
		t.Skip("ipmitool not installed")
	}
	base := []string{"-I", "lanplus", "-C", "3", "-H", b.host, "-p", strconv.Itoa(b.port), "-U", "admin", "-P", "pw", "-N", "1", "-R", "3"}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ipmitool", append(base, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("ipmitool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// table parses ipmitool's "a | b | c" lines by their first column.
func table(out string) map[string][]string {
	rows := map[string][]string{}
	for _, line := range strings.Split(out, "\n") {
		cols := strings.Split(line, "|")
		if len(cols) < 2 {
			continue
		}
		for i := range cols {
			cols[i] = strings.TrimSpace(cols[i])
		}
		rows[cols[0]] = cols[1:]
	}
	return rows
}

func oneIPMIBMC(t *testing.T, clock *ipmiClock) *SimBMC {
	t.Helper()
	f := startIPMIFleet(t, FleetOptions{Count: 1, Mix: []ProfileShare{{ProfileIPMI, 1}}}, clock)
	return f.BMCs()[0]
}

func TestIPMIToolSDRList(t *testing.T) {
	clock := nightClock()
	b := oneIPMIBMC(t, clock)
	r := b.machine.read()
	rows := table(ipmitool(t, b, "sdr", "list"))
	want := map[string]string{
		"CPU1 Temp":        fmt.Sprintf("%.0f degrees C", math.Round(r.cpus[0].celsius)),
		"CPU2 Temp":        fmt.Sprintf("%.0f degrees C", math.Round(r.cpus[1].celsius)),
		"Inlet Temp":       fmt.Sprintf("%.0f degrees C", math.Round(r.inletC)),
		"Exhaust Temp":     fmt.Sprintf("%.0f degrees C", math.Round(r.exhaustC)),
		"Fan1":             fmt.Sprintf("%.0f RPM", math.Round(r.fans[0].rpm/100)*100),
		"Total Power":      fmt.Sprintf("%.0f Watts", math.Round(r.inputWatts/5)*5),
		"PSU1 Input Power": fmt.Sprintf("%.0f Watts", math.Round(r.psus[0].inputWatts/5)*5),
		"PSU1 Status":      "0x01",
		"CPU1 Memory":      "0x40",
		"CPU1 Status":      "0x80",
	}
	for name, value := range want {
		row, ok := rows[name]
		if !ok {
			t.Errorf("sdr list has no %s: %v", name, rows)
			continue
		}
		if row[0] != value || row[1] != "ok" {
			t.Errorf("%s: %q %q, want %q ok", name, row[0], row[1], value)
		}
	}
	for _, name := range []string{"CPU2 DIMM Temp", "Fan6", "12V", "5V", "3.3V", "PSU2 Input Power", "PSU2 Status", "CPU2 Memory", "CPU2 Status", "Drive1 Status"} {
		if _, ok := rows[name]; !ok {
			t.Errorf("sdr list has no %s", name)
		}
	}
	if len(rows) != len(b.ipmi.profile.sensors) {
		t.Errorf("sdr list shows %d sensors, the BMC has %d", len(rows), len(b.ipmi.profile.sensors))
	}

	// The full record of a CPU temperature: entity, thresholds, nominal.
	get := ipmitool(t, b, "sdr", "get", "CPU1 Temp")
	for _, line := range []string{
		`Entity ID\s+: 3\.1 \(Processor\)`,
		`Sensor Type \(Threshold\)\s+: Temperature \(0x01\)`,
		`Upper non-critical\s+: 85\.000`,
		`Upper critical\s+: 95\.000`,
		`Upper non-recoverable\s+: 100\.000`,
	} {
		if !regexp.MustCompile(line).MatchString(get) {
			t.Errorf("sdr get CPU1 Temp lacks %q:\n%s", line, get)
		}
	}
	if inlet := ipmitool(t, b, "sdr", "get", "Inlet Temp"); !strings.Contains(inlet, "55.1 (Air Inlet)") {
		t.Errorf("inlet entity:\n%s", inlet)
	}
}

func TestIPMIToolSensorListThresholdsAndMovingReadings(t *testing.T) {
	clock := nightClock()
	b := oneIPMIBMC(t, clock)
	rows := table(ipmitool(t, b, "sensor", "list"))
	// name | value | units | status | lnr | lcr | lnc | unc | ucr | unr
	for name, want := range map[string][]string{
		"CPU1 Temp": {"degrees C", "ok", "na", "na", "na", "85.000", "95.000", "100.000"},
		"Fan3":      {"RPM", "ok", "300.000", "600.000", "1000.000", "na", "na", "na"},
		"12V":       {"Volts", "ok", "na", "10.800", "11.400", "12.600", "13.200", "na"},
		"3.3V":      {"Volts", "ok", "na", "2.970", "3.135", "3.465", "3.630", "na"},
	} {
		row := rows[name]
		if len(row) < 9 || strings.Join(row[1:9], ",") != strings.Join(want, ",") {
			t.Errorf("sensor list %s: %q, want %q", name, row, want)
		}
	}

	// A hot CPU climbs a step at a time through its thresholds.
	if err := b.Inject(FaultSpec{Fault: FaultCPUHot, Target: "CPU1", Every: time.Minute}); err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		reading, status string
	}{{"75", "ok"}, {"80", "ok"}, {"85", "nc"}, {"90", "nc"}, {"95", "cr"}, {"100", "nr"}} {
		row := table(ipmitool(t, b, "sdr", "list"))["CPU1 Temp"]
		if row[0] != step.reading+" degrees C" || row[1] != step.status {
			t.Errorf("at %s: CPU1 Temp %q, want %s degrees C %s", clock.Now().Format(time.TimeOnly), row, step.reading, step.status)
		}
		clock.Advance(time.Minute)
	}
	// The processor sensor asserts its thermal trip at the critical step.
	if row := table(ipmitool(t, b, "sdr", "list"))["CPU1 Status"]; row[0] != "0x82" {
		t.Errorf("CPU1 Status after the climb: %q, want thermal trip and presence (0x82)", row)
	}

	// A failed fan reads 0 RPM, below its non-recoverable threshold; a
	// failed PSU's input power is unavailable.
	for _, spec := range []FaultSpec{{Fault: FaultFanFail, Target: "Fan3"}, {Fault: FaultPSUFail, Target: "PSU2"}} {
		if err := b.Inject(spec); err != nil {
			t.Fatal(err)
		}
	}
	rows = table(ipmitool(t, b, "sdr", "list"))
	if row := rows["Fan3"]; row[0] != "0 RPM" || row[1] != "nr" {
		t.Errorf("failed fan: %q", row)
	}
	if row := rows["PSU2 Input Power"]; row[0] != "no reading" && row[0] != "disabled" {
		t.Errorf("failed PSU input power: %q, want no reading", row)
	}
	if row := rows["PSU2 Status"]; row[0] != "0x03" {
		t.Errorf("failed PSU status: %q, want presence and failure (0x03)", row)
	}
	r := b.machine.read()
	if row := rows["PSU1 Input Power"]; row[0] != fmt.Sprintf("%.0f Watts", math.Round(r.psus[0].inputWatts/5)*5) {
		t.Errorf("remaining PSU: %q, machine says %.1f W", row, r.psus[0].inputWatts)
	}

	// The SEL tells the same story, in time order.
	sel := ipmitool(t, b, "sel", "elist")
	for _, w := range []string{
		`CPU1 Temp \| Upper Non-critical going high \| Asserted \| Reading 85 > Threshold 85 degrees C`,
		`CPU1 Temp \| Upper Critical going high \| Asserted`,
		`CPU1 Status \| Thermal Trip \| Asserted`,
		`CPU1 Temp \| Upper Non-recoverable going high \| Asserted`,
		`Fan3 \| Lower Non-recoverable going low  \| Asserted`,
		`PSU2 Status \| Failure detected \| Asserted`,
	} {
		if !regexp.MustCompile(w).MatchString(sel) {
			t.Errorf("sel elist lacks %q:\n%s", w, sel)
		}
	}
	var last time.Time
	for _, line := range strings.Split(strings.TrimSpace(sel), "\n") {
		cols := strings.Split(line, "|")
		at, err := time.Parse("01/02/06 15:04:05 MST", strings.TrimSpace(cols[1])+" "+strings.TrimSpace(cols[2]))
		if err != nil {
			t.Fatalf("SEL line %q: %v", line, err)
		}
		if at.Before(last) {
			t.Errorf("SEL out of time order at %q", line)
		}
		last = at
	}
}

func TestIPMIToolDCMIAndChassis(t *testing.T) {
	clock := nightClock()
	b := oneIPMIBMC(t, clock)
	r := b.machine.read()
	out := ipmitool(t, b, "dcmi", "power", "reading")
	for _, want := range []string{
		fmt.Sprintf(`Instantaneous power reading:\s+%d Watts`, int(math.Round(r.inputWatts))),
		fmt.Sprintf(`Minimum during sampling period:\s+%d Watts`, int(math.Round(r.minWatts))),
		fmt.Sprintf(`Maximum during sampling period:\s+%d Watts`, int(math.Round(r.maxWatts))),
		fmt.Sprintf(`Average power reading over sample period:\s+%d Watts`, int(math.Round(r.inputWatts))),
		`Sampling period:\s+0*60 Seconds`,
		`Power reading state is:\s+activated`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("dcmi power reading lacks %q:\n%s", want, out)
		}
	}
	if out := ipmitool(t, b, "chassis", "status"); !regexp.MustCompile(`System Power\s+: on`).MatchString(out) {
		t.Errorf("chassis status:\n%s", out)
	}
}

func TestIPMIToolSEL(t *testing.T) {
	clock := nightClock()
	b := oneIPMIBMC(t, clock)
	if out := ipmitool(t, b, "sel", "list"); !strings.Contains(out, "SEL has no entries") {
		t.Errorf("a new BMC's SEL:\n%s", out)
	}
	if err := b.Inject(FaultSpec{Fault: FaultDIMMECC, Target: "DIMM A2", Every: time.Minute}); err != nil {
		t.Fatal(err)
	}
	out := ipmitool(t, b, "sel", "elist")
	if !regexp.MustCompile(`CPU1 Memory \| Correctable ECC \| Asserted`).MatchString(out) {
		t.Errorf("sel elist after dimm-ecc:\n%s", out)
	}
	if strings.Contains(out, "Uncorrectable") {
		t.Errorf("uncorrectable before the critical step:\n%s", out)
	}
	// Past the critical count the errors are uncorrectable.
	clock.Advance(time.Duration(eccCriticalCount/eccPerStep) * time.Minute)
	out = ipmitool(t, b, "sel", "list")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	want := []string{"Correctable ECC | Asserted", "Correctable ECC logging limit reached | Asserted", "Uncorrectable ECC | Asserted"}
	if len(lines) != len(want) {
		t.Fatalf("sel list: %d records, want %d:\n%s", len(lines), len(want), out)
	}
	for i, w := range want {
		if !strings.Contains(lines[i], "Memory #0x50 | "+w) {
			t.Errorf("record %d: %q, want %q", i+1, lines[i], w)
		}
	}
	info := ipmitool(t, b, "sel", "info")
	if !regexp.MustCompile(`Entries\s+: 3`).MatchString(info) {
		t.Errorf("sel info:\n%s", info)
	}
	if regexp.MustCompile(`Last Add Time\s+: Not Available`).MatchString(info) {
		t.Errorf("sel info has no addition time:\n%s", info)
	}

	// A PSU failure logs the failure, and its end; the AC input was never
	// lost.
	if err := b.Inject(FaultSpec{Fault: FaultPSUFail, Target: "PSU1"}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute)
	b.Clear(FaultPSUFail)
	out = ipmitool(t, b, "sel", "elist")
	for _, w := range []string{
		`PSU1 Status \| Failure detected \| Asserted`,
		`PSU1 Status \| Failure detected \| Deasserted`,
	} {
		if !regexp.MustCompile(w).MatchString(out) {
			t.Errorf("sel elist lacks %q:\n%s", w, out)
		}
	}
	if strings.Contains(out, "AC lost") {
		t.Errorf("psu-fail logged an AC loss:\n%s", out)
	}
}

// goIPMIClient connects go-ipmi's client to a simulated BMC.
func goIPMIClient(t *testing.T, b *SimBMC, suite types.CipherSuiteID) *client.Client {
	t.Helper()
	c, err := client.NewClient(b.host, b.port, "admin", "pw")
	if err != nil {
		t.Fatal(err)
	}
	c = c.WithInterface(client.InterfaceLanplus).WithCipherSuiteID(suite).WithTimeout(2 * time.Second).WithRetry(2)
	if err := c.Connect(t.Context()); err != nil {
		t.Fatalf("connect with cipher suite %d: %v", suite, err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

func TestIPMIGoClient(t *testing.T) {
	clock := nightClock()
	b := oneIPMIBMC(t, clock)
	for _, suite := range []types.CipherSuiteID{types.CipherSuiteID3, types.CipherSuiteID17} {
		t.Run(fmt.Sprintf("suite %d", suite), func(t *testing.T) {
			c := goIPMIClient(t, b, suite)
			ctx := t.Context()
			sdrs, err := c.GetSDRs(ctx, types.SDRRecordTypeFullSensor)
			if err != nil {
				t.Fatal(err)
			}
			if len(sdrs) != len(b.ipmi.profile.sensors) {
				t.Errorf("%d full sensor records, want %d", len(sdrs), len(b.ipmi.profile.sensors))
			}
			r := b.machine.read()
			found := 0
			for _, sdr := range sdrs {
				full := sdr.Full
				name := string(full.IDStringBytes)
				switch name {
				case "Total Power":
					found++
					if full.SensorUnit.BaseUnit != types.SensorUnitType_Watts || full.M != 5 {
						t.Errorf("Total Power units %v M %d", full.SensorUnit.BaseUnit, full.M)
					}
					rd, err := c.GetSensorReading(ctx, uint8(full.SensorNumber))
					if err != nil {
						t.Fatal(err)
					}
					if got := full.ConvertReading(rd.Reading); math.Abs(got-r.inputWatts) > 2.5 {
						t.Errorf("Total Power %.1f W, machine %.1f W", got, r.inputWatts)
					}
				case "Inlet Temp":
					found++
					if full.SensorEntityID != 0x37 || full.SensorType != types.SensorTypeTemperature {
						t.Errorf("Inlet Temp entity %v type %v", full.SensorEntityID, full.SensorType)
					}
					th, err := c.GetSensorThresholds(ctx, uint8(full.SensorNumber))
					if err != nil {
						t.Fatal(err)
					}
					if full.ConvertReading(th.UCR_Raw) != 42 || !th.UCR_Readable {
						t.Errorf("Inlet Temp UCR %d readable %v", th.UCR_Raw, th.UCR_Readable)
					}
				}
			}
			if found != 2 {
				t.Errorf("found %d of Total Power and Inlet Temp", found)
			}
			pr, err := c.GetDCMIPowerReading(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if int(pr.CurrentPower) != int(math.Round(r.inputWatts)) || !pr.PowerMeasurementActive || pr.ReportingPeriod != 60000 {
				t.Errorf("DCMI power reading %+v, machine %.1f W", pr, r.inputWatts)
			}
			cs, err := c.GetChassisStatus(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !cs.PowerIsOn {
				t.Error("chassis reports power off")
			}
		})
	}

	// The SEL record of a DIMM error names the DIMM in event data 3.
	c := goIPMIClient(t, b, types.CipherSuiteID3)
	if err := b.Inject(FaultSpec{Fault: FaultDIMMECC, Target: "DIMM B5"}); err != nil {
		t.Fatal(err)
	}
	sels, err := c.GetSELEntries(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(sels) != 1 || sels[0].Standard == nil {
		t.Fatalf("SEL entries: %+v", sels)
	}
	ev := sels[0].Standard
	if ev.SensorType != types.SensorTypeMemory || ev.SensorNumber != 0x51 || ev.EventData.EventData1&0x0F != offMemCorrectable || ev.EventData.EventData3 != 4 {
		t.Errorf("DIMM B5 ECC record: %+v", ev)
	}
	if got := time.Unix(int64(ev.Timestamp.Unix()), 0); !got.Equal(clock.Now().Truncate(time.Second)) {
		t.Errorf("record dated %s, fault injected at %s", got, clock.Now())
	}
}

// rmcpPing sends an RMCP/ASF presence ping and reports whether a pong came
// back: the ping is tried a few times, each waiting up to wait.
func rmcpPing(t *testing.T, b *SimBMC, tries int, wait time.Duration) bool {
	t.Helper()
	c, err := net.Dial("udp", net.JoinHostPort(b.host, strconv.Itoa(b.port)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ping := []byte{0x06, 0x00, 0xff, 0x06, 0x00, 0x00, 0x11, 0xbe, 0x80, 0x01, 0x00, 0x00}
	buf := make([]byte, 64)
	for range tries {
		if _, err := c.Write(ping); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(wait))
		if n, err := c.Read(buf); err == nil && n >= 9 && buf[8] == 0x40 {
			return true
		}
	}
	return false
}

// answers and silent wrap rmcpPing for an answer expected (patient) and
// for silence expected (one try).
func answers(t *testing.T, b *SimBMC) bool { return rmcpPing(t, b, 5, time.Second) }
func silent(t *testing.T, b *SimBMC) bool  { return !rmcpPing(t, b, 1, 500*time.Millisecond) }

func TestIPMITransportFaults(t *testing.T) {
	f := startIPMIFleet(t, FleetOptions{Count: 2, Mix: []ProfileShare{{ProfileIPMI, 1}}}, nil)
	b := f.BMCs()[0]
	if !answers(t, b) {
		t.Fatal("no answer to a presence ping before any fault")
	}
	if err := b.Inject(FaultSpec{Fault: FaultTimeout}); err != nil {
		t.Fatal(err)
	}
	before := b.ipmi.Requests()
	if !silent(t, b) {
		t.Error("timeout fault: the BMC answered")
	}
	if b.ipmi.Requests() == before {
		t.Error("timeout fault: the datagram was not received")
	}
	if info := b.Info(); strings.Join(info.Faults, ",") != "timeout" || info.Protocol != "ipmi" {
		t.Errorf("info during timeout: %+v", info)
	}
	if !answers(t, f.BMCs()[1]) {
		t.Error("the other BMC stopped answering")
	}
	if !b.Clear(FaultTimeout) {
		t.Error("clearing timeout: it was not on")
	}
	if !answers(t, b) {
		t.Error("no answer after the timeout fault ended")
	}

	// Session loss forgets the client's session: its next command fails.
	c := goIPMIClient(t, b, types.CipherSuiteID3)
	if _, err := c.GetChassisStatus(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := b.ipmi.ActiveSessions(); n != 1 {
		t.Errorf("%d sessions, want 1", n)
	}
	if err := b.Inject(FaultSpec{Fault: FaultSessionLoss}); err != nil {
		t.Fatal(err)
	}
	if n := b.ipmi.ActiveSessions(); n != 0 {
		t.Errorf("%d sessions after session-loss, want 0", n)
	}
	c = c.WithTimeout(300 * time.Millisecond).WithRetry(0)
	if _, err := c.GetChassisStatus(t.Context()); err == nil {
		t.Error("a command on a forgotten session succeeded")
	}
	// A fresh session works.
	c2 := goIPMIClient(t, b, types.CipherSuiteID3)
	if _, err := c2.GetChassisStatus(t.Context()); err != nil {
		t.Errorf("new session after session-loss: %v", err)
	}
	if err := b.Inject(FaultSpec{Fault: FaultServerError}); err == nil {
		t.Error("http-500 accepted on an IPMI BMC")
	}
}
