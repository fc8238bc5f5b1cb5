package storage

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/influxdb-client-go/v2/api/write"

	"github.com/rackpulse/rackpulse/bmc"
)

func fp(v float64) *float64 { return &v }
func ip(v int64) *int64     { return &v }

// typicalSnapshot is a two-socket server as a Redfish BMC reports it: 16
// DIMMs, 2 PSUs, 4 drives, temperatures, fans, voltages and power sensors.
func typicalSnapshot(server string, t time.Time) *bmc.Snapshot {
	s := &bmc.Snapshot{
		Server: server, Rack: "r12", Protocol: bmc.ProtocolRedfish, Time: t,
		Systems: []bmc.System{{ID: "1", Health: bmc.HealthOK, HealthRollup: bmc.HealthOK, PowerState: "On"}},
		Chassis: []bmc.Chassis{{ID: "1", Health: bmc.HealthOK}},
		Poll: bmc.PollReport{Started: t, Duration: 420 * time.Millisecond, Requests: 14, Bytes: 180_000,
			Read: []bmc.Part{bmc.PartSystems, bmc.PartChassis, bmc.PartPower, bmc.PartThermal}},
		Power: []bmc.PowerReading{{Source: bmc.PowerFromPowerControl, Watts: 412}},
	}
	for i := 1; i <= 2; i++ {
		s.Sensors = append(s.Sensors, bmc.Sensor{Kind: bmc.KindTemperature, Name: fmt.Sprintf("CPU%d Temp", i),
			Context: bmc.ContextCPU, Value: fp(55 + float64(i)), Unit: bmc.UnitCelsius, Health: bmc.HealthOK,
			Thresholds: bmc.Thresholds{UpperWarning: fp(85), UpperCritical: fp(95)}})
		s.CPUs = append(s.CPUs, bmc.CPU{Socket: fmt.Sprintf("CPU%d", i), Model: "Xeon Gold 6338", Cores: 32,
			TemperatureC: fp(55 + float64(i)), Health: bmc.HealthOK, State: "Enabled"})
		s.PSUs = append(s.PSUs, bmc.PSU{Bay: fmt.Sprint(i), Serial: fmt.Sprintf("PSU-SN-%d", i), InputWatts: fp(210),
			OutputWatts: fp(195), CapacityWatts: fp(800), InputVolts: fp(230), Health: bmc.HealthOK, State: "Enabled",
			LineInputStatus: "Normal"})
	}
	for _, n := range []string{"Inlet Temp", "Exhaust Temp", "System Board Temp", "PCH Temp"} {
		s.Sensors = append(s.Sensors, bmc.Sensor{Kind: bmc.KindTemperature, Name: n, Context: bmc.ContextSystemBoard,
			Value: fp(30), Unit: bmc.UnitCelsius, Health: bmc.HealthOK, Thresholds: bmc.Thresholds{UpperCritical: fp(70)}})
	}
	for i := 1; i <= 6; i++ {
		s.Sensors = append(s.Sensors, bmc.Sensor{Kind: bmc.KindFan, Name: fmt.Sprintf("Fan%d", i), Context: bmc.ContextFan,
			Value: fp(7200), Unit: bmc.UnitRPM, Health: bmc.HealthOK, Thresholds: bmc.Thresholds{LowerCritical: fp(600)}})
	}
	for i, v := range []float64{12, 5, 3.3, 1.8, 1.05, 0.9} {
		s.Sensors = append(s.Sensors, bmc.Sensor{Kind: bmc.KindVoltage, Name: fmt.Sprintf("VR %d", i),
			Context: bmc.ContextVoltageReg, Value: fp(v), Unit: bmc.UnitVolt, Health: bmc.HealthOK})
	}
	s.Sensors = append(s.Sensors, bmc.Sensor{Kind: bmc.KindPower, Name: "Total Power", Context: bmc.ContextChassis,
		Value: fp(412), Unit: bmc.UnitWatt, Health: bmc.HealthOK})
	// Absent: no reading, not zero.
	s.Sensors = append(s.Sensors, bmc.Sensor{Kind: bmc.KindTemperature, Name: "GPU1 Temp", Context: bmc.ContextGPU, Unit: bmc.UnitCelsius, State: "Absent"})
	for _, bank := range "ABCDEFGH" {
		for j := 1; j <= 2; j++ {
			s.DIMMs = append(s.DIMMs, bmc.DIMM{Slot: fmt.Sprintf("DIMM %c%d", bank, j), SizeMiB: 32768, Health: bmc.HealthOK,
				State: "Enabled", Serial: "S" + string(bank), CorrectableErrors: ip(0), UncorrectableErrors: ip(0)})
		}
	}
	for i := range 4 {
		s.Drives = append(s.Drives, bmc.Drive{Bay: fmt.Sprint(i), Media: "SSD", CapacityBytes: 960_000_000_000,
			Health: bmc.HealthOK, State: "Enabled", LifeLeftPercent: fp(97)})
	}
	return s
}

func lineOf(p *write.Point) string { return write.PointToLineProtocol(p, time.Nanosecond) }

func TestSnapshotPointsSchema(t *testing.T) {
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	s := typicalSnapshot("srv-1", t0)
	s.DIMMs[3].Health = bmc.HealthCritical
	s.DIMMs[3].UncorrectableErrors = ip(2)
	loc := Location{Site: "dc1", Room: "hall-a", Row: "r1", Rack: "r12", Server: "srv-1"}
	pts := SnapshotPoints(s, loc, ServerPowerPoint{Watts: fp(412), Source: "PowerControl", Suspect: 1})

	byMeas := map[string][]*write.Point{}
	for _, p := range pts {
		byMeas[p.Name()] = append(byMeas[p.Name()], p)
		if !p.Time().Equal(t0) {
			t.Errorf("%s has time %v, want the snapshot's %v", p.Name(), p.Time(), t0)
		}
		tags := map[string]string{}
		for _, tg := range p.TagList() {
			tags[tg.Key] = tg.Value
		}
		for k, v := range map[string]string{"site": "dc1", "room": "hall-a", "row": "r1", "rack": "r12", "server": "srv-1"} {
			if tags[k] != v {
				t.Errorf("%s: tag %s = %q, want %q", p.Name(), k, tags[k], v)
			}
		}
		if _, ok := tags["serial"]; ok {
			t.Errorf("%s: serial is a tag; it must be a field", p.Name())
		}
	}
	want := map[string]int{"sensor": len(s.Sensors), "psu": 2, "dimm": 16, "cpu": 2, "drive": 4,
		"server_health": 7, "poll": 1, "server_power": 1}
	for m, n := range want {
		if len(byMeas[m]) != n {
			t.Errorf("%s: %d points, want %d", m, len(byMeas[m]), n)
		}
	}
	for _, p := range byMeas["sensor"] {
		l := lineOf(p)
		if strings.Contains(l, "sensor=GPU1\\ Temp") && strings.Contains(l, "value=") {
			t.Errorf("absent sensor written with a value: %s", l)
		}
		if strings.Contains(l, "sensor=CPU1\\ Temp") && (!strings.Contains(l, "unit=Cel") || !strings.Contains(l, "value=56") || !strings.Contains(l, "upper_critical=95")) {
			t.Errorf("CPU1 Temp line lacks unit, value or threshold: %s", l)
		}
	}
	var dimmHealth string
	for _, p := range byMeas["server_health"] {
		if l := lineOf(p); strings.Contains(l, "component=dimm") {
			dimmHealth = l
		}
	}
	if !strings.Contains(dimmHealth, "critical=1i") || !strings.Contains(dimmHealth, `health="Critical"`) || !strings.Contains(dimmHealth, "total=16i") {
		t.Errorf("server_health dimm: %s", dimmHealth)
	}
	if l := lineOf(byMeas["server_power"][0]); !strings.Contains(l, "watts=412") || !strings.Contains(l, `source="PowerControl"`) || !strings.Contains(l, "suspect=1i") {
		t.Errorf("server_power: %s", l)
	}
}

func TestRollupPointTags(t *testing.T) {
	p := RollupPoint{Level: LevelRow, Site: "dc1", Room: "hall-a", Row: "r1", Watts: fp(1200), ServersTotal: 3,
		Faults: ComponentFaults{DIMM: 1}, Time: time.Unix(100, 0)}.Point()
	l := lineOf(p)
	for _, s := range []string{"rollup,level=row,site=dc1,room=hall-a,row=r1 ", "watts=1200", "servers_total=3i", "fault_dimm=1i", "silent=false"} {
		if !strings.Contains(l, s) {
			t.Errorf("rollup line %q lacks %q", l, s)
		}
	}
	if strings.Contains(l, "rack=") || strings.Contains(l, "budget_watts") {
		t.Errorf("rollup line %q has a rack tag or an absent budget", l)
	}
}
