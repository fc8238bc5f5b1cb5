package redfish

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stmcginnis/gofish/schemas"
)

// BenchmarkDecodeReadings decodes the bodies a poll reads every interval,
// from real BMC trees: an HPE XL675d's ComputerSystem, Chassis, legacy
// Thermal and Power, and a DMTF rackmount's Sensor. "wire" is what the
// collector does (its own shapes, one decode each); "gofish" is what it
// did before, into gofish's schema types (with a second pass for the links
// gofish keeps private), kept here as the yardstick.
//
//	go test -run '^$' -bench BenchmarkDecodeReadings -benchmem ./bmc/redfish/
func BenchmarkDecodeReadings(b *testing.B) {
	vendor := filepath.Join(repoRoot(b), "..", "shared", "fixtures", "redfish-vendor", "XL675d_A100")
	dmtf := filepath.Join(repoRoot(b), "..", "shared", "fixtures", "redfish", "public-rackmount1")
	read := func(path string) []byte {
		body, err := os.ReadFile(path)
		if err != nil {
			b.Skipf("fixture: %v", err)
		}
		return body
	}
	system := read(filepath.Join(vendor, "Systems", "1", "index.json"))
	chassis := read(filepath.Join(vendor, "Chassis", "1", "index.json"))
	thermal := read(filepath.Join(vendor, "Chassis", "1", "Thermal", "index.json"))
	power := read(filepath.Join(vendor, "Chassis", "1", "Power", "index.json"))
	sensor := read(filepath.Join(dmtf, "Chassis", "1U", "Sensors", "CPU1Temp", "index.json"))
	bytes := int64(len(system) + len(chassis) + len(thermal) + len(power) + len(sensor))

	b.Run("wire", func(b *testing.B) {
		b.SetBytes(bytes)
		b.ReportAllocs()
		for b.Loop() {
			var sys wireSystem
			var ch wireChassis
			var th wireThermal
			var s wireSensor
			must(b, decodeInto(system, &sys), decodeInto(chassis, &ch), decodeInto(thermal, &th), decodeInto(sensor, &s))
			if _, _, err := decodeLegacyPower(nil, "Power", power); err != nil {
				b.Fatal(err)
			}
			if len(th.Temperatures) == 0 || sys.ID == "" || ch.ID == "" || s.Reading == nil {
				b.Fatal("decoded nothing")
			}
		}
	})
	b.Run("gofish", func(b *testing.B) {
		b.SetBytes(bytes)
		b.ReportAllocs()
		for b.Loop() {
			var sys schemas.ComputerSystem
			var ch schemas.Chassis
			var th schemas.Thermal
			var pw schemas.Power
			var s schemas.Sensor
			var sysLinks, chLinks navLinks
			var rel struct {
				Temperatures []struct{ RelatedItem []odataID }
			}
			var sensorRel struct{ RelatedItem []odataID }
			var groups struct{ Redundancy []legacyRedundancy }
			must(b, decodeInto(system, &sys), decodeInto(system, &sysLinks), decodeInto(chassis, &ch), decodeInto(chassis, &chLinks),
				decodeInto(thermal, &th), json.Unmarshal(thermal, &rel), decodeInto(power, &pw), json.Unmarshal(power, &groups),
				decodeInto(sensor, &s), json.Unmarshal(sensor, &sensorRel))
			if len(th.Temperatures) == 0 || sys.ID == "" || ch.ID == "" || s.Reading == nil {
				b.Fatal("decoded nothing")
			}
		}
	})
}

func decodeInto(body []byte, v any) error {
	_, err := decodeTolerant(body, v)
	return err
}

func must(b *testing.B, errs ...error) {
	b.Helper()
	for _, err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
}
