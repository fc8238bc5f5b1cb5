package storage

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/rackpulse/rackpulse/agent"
	"github.com/rackpulse/rackpulse/storage/influxtest"
)

// A report an agent collected from a fixture host (EDAC, hwmon, SMART
// through the stand-in smartctl) lands in InfluxDB as the host_*
// measurements docs/schema.md describes, and reads back by slot, device
// and sensor.
func TestHostPointsReadBack(t *testing.T) {
	d := needInflux(t)
	db := d.CreateDB(t)
	w, err := NewWriter(testConfig(t, d.URL(), db), WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	startWriter(t, w)

	smartRoot, _ := filepath.Abs("../agent/testdata/smartctl/root")
	a := agent.New(agent.Options{
		Root: "../agent/testdata/supermicro-x11dpi", Server: "r12-u07", Hostname: "node07",
		SMART: agent.SMART{Binary: "../agent/testdata/smartctl/smartctl", Root: smartRoot},
	})
	rep := a.Collect(context.Background())
	// The disks: a healthy one and two failing ones, as smartctl reads them.
	smart := agent.SMART{Binary: "../agent/testdata/smartctl/smartctl"}
	rep.Drives, _ = smart.Read(context.Background(), []agent.SMARTDevice{{Name: "/dev/sda"}, {Name: "/dev/sdg", Type: "usbjmicron"}, {Name: "/dev/nvme2", Type: "nvme"},
		{Name: "/dev/bus/0", Type: "megaraid,0"}, {Name: "/dev/bus/0", Type: "megaraid,1"}})
	if len(rep.DIMMs) == 0 || len(rep.Drives) != 5 || len(rep.Sensors) == 0 {
		t.Fatalf("the fixture host's report has %d DIMMs, %d drives, %d sensors; problems %+v", len(rep.DIMMs), len(rep.Drives), len(rep.Sensors), rep.Problems)
	}
	// The NaN-free report is taken as is; one counter is made to stand out.
	ce := int64(17)
	rep.DIMMs[0].CorrectableErrors = &ce
	at := time.Now().Add(-time.Minute).Truncate(time.Second).UTC()
	pts := HostPoints(rep, Location{Site: "dc1", Room: "hall-a", Row: "r1", Rack: "r12", Server: "r12-u07"}, at, "matched", 0)
	w.Write(pts...)
	waitFor(t, "host points written", func() bool { return w.Stats().Written >= int64(len(pts)) })

	r := d.Query(t, db, `SELECT correctable_errors FROM host_dimm WHERE server='r12-u07' AND rack='r12' AND slot='`+rep.DIMMs[0].Slot+`'`)
	if s := r.Results[0].Series; len(s) != 1 || s[0].Values[0][1].(float64) != 17 {
		t.Errorf("host_dimm for slot %s: %+v", rep.DIMMs[0].Slot, s)
	}
	r = d.Query(t, db, `SELECT identity, differences FROM host_vitals WHERE server='r12-u07'`)
	if s := r.Results[0].Series; len(s) != 1 || s[0].Values[0][1] != "matched" || s[0].Values[0][2].(float64) != 0 {
		t.Errorf("host_vitals identity: %+v", s)
	}
	failed := 0
	for _, dr := range rep.Drives {
		if dr.Passed != nil && !*dr.Passed {
			failed++
		}
	}
	r = d.Query(t, db, `SELECT count(passed) FROM host_drive WHERE server='r12-u07' AND passed = false`)
	if got := countOf(r); got != failed || failed == 0 {
		t.Errorf("host_drive points with passed=false: %d, want the report's %d failed drives (more than none)", got, failed)
	}
	// Two disks behind one RAID controller are two series.
	r = d.Query(t, db, `SELECT count(exit_status) FROM host_drive WHERE device='/dev/bus/0' GROUP BY device_type`)
	if s := r.Results[0].Series; len(s) != 2 {
		t.Errorf("disks behind /dev/bus/0: %+v; want megaraid,0 and megaraid,1 apart", s)
	}
	r = d.Query(t, db, `SHOW TAG VALUES FROM host_sensor WITH KEY = "kind"`)
	if s := r.Results[0].Series; len(s) != 1 || len(s[0].Values) == 0 {
		t.Errorf("host_sensor kinds: %+v", s)
	}
	r = d.Query(t, db, `SELECT count(value) FROM host_sensor WHERE server='r12-u07'`)
	if got := countOf(r); got != len(rep.Sensors) {
		t.Errorf("host_sensor values: %d, want the report's %d sensors", got, len(rep.Sensors))
	}
}

// countOf is the single count an InfluxQL count() query answered (0 when
// it found nothing).
func countOf(r influxtest.Result) int {
	if len(r.Results) == 0 || len(r.Results[0].Series) == 0 {
		return 0
	}
	return int(r.Results[0].Series[0].Values[0][1].(float64))
}
