package ipmi

import (
	"fmt"
	"reflect"
	"slices"
	"testing"

	"github.com/rackpulse/rackpulse/bmc"
)

// TestRedundancyGroupFromStates: each redundancy state (and a worst one
// among several) gives the group the Redfish collector would report for
// the same condition: its health, and mode NotRedundant where the BMC
// says the supplies are not redundant.
func TestRedundancyGroupFromStates(t *testing.T) {
	rec := &sdrRecord{Name: "PS Redundancy", SensorType: sensorPowerSupply, EventType: eventRedundancy, EntityID: entityPowerUnit, EntityInstance: 1}
	bays := []string{"1", "2"}
	for _, tc := range []struct {
		name    string
		offsets []uint8
		ok      bool
		health  bmc.Health
		mode    string
	}{
		{"Fully Redundant", []uint8{0x00}, true, bmc.HealthOK, ""},
		{"Redundancy Lost", []uint8{0x01}, true, bmc.HealthCritical, ""},
		{"Redundancy Degraded", []uint8{0x02}, true, bmc.HealthWarning, ""},
		{"Non-redundant: Sufficient from Redundant", []uint8{0x03}, true, bmc.HealthOK, "NotRedundant"},
		{"Non-redundant: Sufficient from Insufficient", []uint8{0x04}, true, bmc.HealthOK, "NotRedundant"},
		{"Non-redundant: Insufficient Resources", []uint8{0x05}, true, bmc.HealthCritical, ""},
		{"Degraded from Fully Redundant", []uint8{0x06}, true, bmc.HealthWarning, ""},
		{"Degraded from Non-redundant", []uint8{0x07}, true, bmc.HealthWarning, ""},
		{"lost and non-redundant: lost", []uint8{0x01, 0x03}, true, bmc.HealthCritical, ""},
		{"degraded and non-redundant: degraded", []uint8{0x02, 0x04}, true, bmc.HealthWarning, ""},
		{"no state asserted", nil, false, "", ""},
		{"an offset past the table only", []uint8{0x09}, false, "", ""},
	} {
		var states uint16
		for _, o := range tc.offsets {
			states |= 1 << o
		}
		g, ok := redundancyGroup(rec, sensorReading{rec: rec, ok: true, reading: reading{states: states, hasStates: true}}, bays)
		if ok != tc.ok {
			t.Errorf("%s: group %v, want %v", tc.name, ok, tc.ok)
			continue
		}
		if !ok {
			continue
		}
		want := bmc.RedundancyGroup{Name: "PS Redundancy", Mode: tc.mode, Bays: []string{"1", "2"}, Health: tc.health, State: "Enabled"}
		if !reflect.DeepEqual(g, want) {
			t.Errorf("%s: %+v, want %+v", tc.name, g, want)
		}
	}
	if _, ok := redundancyGroup(rec, sensorReading{rec: rec, ok: false, reading: reading{states: 1}}, bays); ok {
		t.Error("a sensor without a reading gave a group")
	}
	for _, other := range []*sdrRecord{
		{Name: "Fan Redundancy", SensorType: sensorFan, EventType: eventRedundancy, EntityID: 0x1d},
		{Name: "PSU1 Status", SensorType: sensorPowerSupply, EventType: eventSensorSpecific, EntityID: entityPowerSupply},
	} {
		if isPSURedundancy(other) {
			t.Errorf("%s taken for PSU redundancy", other.Name)
		}
	}
	for _, psu := range []*sdrRecord{
		rec,
		{Name: "PS Redundancy", SensorType: sensorPowerSupply, EventType: eventRedundancy, EntityID: 0x07}, // on the system board (Dell)
		{Name: "PSU Redundancy", SensorType: sensorPowerUnit, EventType: eventRedundancy, EntityID: entityPowerUnit},
		{Name: "Power Redundancy", SensorType: 0x0b, EventType: eventRedundancy, EntityID: entityPowerSupply},
	} {
		if !isPSURedundancy(psu) {
			t.Errorf("%+v not taken for PSU redundancy", psu)
		}
	}
}

// TestRedundancySensor (ipmi_sim and ipmitool): the PSU redundancy sensor
// of the test BMC feeds one redundancy group over both supplies' bays,
// following each state set on the console, with the states ipmitool
// prints; it is no PSU of its own.
func TestRedundancySensor(t *testing.T) {
	s := startSim(t)
	c := newCollector(t, s.endpoint(""), bmc.CollectorOptions{})
	set := -1 // the state set on the console; -1: the emulator file's (Redundancy Lost)
	for _, tc := range []struct {
		offset int
		states []string
		health bmc.Health
		mode   string
	}{
		{-1, []string{"Redundancy Lost"}, bmc.HealthCritical, ""},
		{0, []string{"Fully Redundant"}, bmc.HealthOK, ""},
		{2, []string{"Redundancy Degraded"}, bmc.HealthWarning, ""},
		{3, []string{"Non-Redundant: Sufficient from Redundant"}, bmc.HealthOK, "NotRedundant"},
		{4, []string{"Non-Redundant: Sufficient from Insufficient"}, bmc.HealthOK, "NotRedundant"},
		{5, []string{"Non-Redundant: Insufficient Resources"}, bmc.HealthCritical, ""},
		{6, []string{"Redundancy Degraded from Fully Redundant"}, bmc.HealthWarning, ""},
		{7, []string{"Redundancy Degraded from Non-Redundant"}, bmc.HealthWarning, ""},
	} {
		if tc.offset >= 0 {
			old := set
			if old < 0 {
				old = 1
			}
			s.consoleCmd(fmt.Sprintf("sensor_set_bit 0x20 0 20 %d 0 0", old), fmt.Sprintf("sensor_set_bit 0x20 0 20 %d 1 0", tc.offset))
			set = tc.offset
		}
		snap := mustPoll(t, c)
		assertMatchesIpmitool(t, s, snap)
		if got := mustSensor(t, snap, "PS Redundancy").States; !slices.Equal(got, tc.states) {
			t.Errorf("state %d: sensor states %q, want %q", tc.offset, got, tc.states)
		}
		want := []bmc.RedundancyGroup{{Name: "PS Redundancy", Mode: tc.mode, Bays: []string{"1", "2"}, Health: tc.health, State: "Enabled"}}
		if !reflect.DeepEqual(snap.RedundancyGroups, want) {
			t.Errorf("state %d (%s): groups %+v, want %+v", tc.offset, tc.states, snap.RedundancyGroups, want)
		}
		if len(snap.PSUs) != 2 || snap.PSUs[0].Bay != "1" || snap.PSUs[1].Bay != "2" {
			t.Errorf("state %d: PSUs %+v, want bays 1 and 2 only", tc.offset, snap.PSUs)
		}
	}
}
