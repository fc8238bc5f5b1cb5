package storage

import (
	"strings"
	"time"

	"github.com/influxdata/influxdb-client-go/v2/api/write"

	"github.com/rackpulse/rackpulse/agent"
)

// Measurements of the host's own view (an agent's report). docs/schema.md
// describes every tag and field.
const (
	MeasurementHostVitals = "host_vitals"
	MeasurementHostDIMM   = "host_dimm"
	MeasurementHostSensor = "host_sensor"
	MeasurementHostDrive  = "host_drive"
	MeasurementHostDiskIO = "host_disk_io"
	MeasurementHostNIC    = "host_nic"
)

// HostPoints turns an agent's report into points at t (when the poller
// received it: the host's clock is not trusted), tagged with the server's
// location. identity is the reconciliation's verdict (matched, mismatch,
// unknown) and differences how many differences it found.
func HostPoints(rep *agent.Report, loc Location, t time.Time, identity string, differences int) []*write.Point {
	out := make([]*write.Point, 0, 2+len(rep.DIMMs)+len(rep.Sensors)+len(rep.Drives))
	v := loc.tags(write.NewPointWithMeasurement(MeasurementHostVitals))
	addString(v, "identity", identity)
	v.AddField("differences", int64(differences))
	v.AddField("problems", int64(len(rep.Problems)))
	if vt := rep.Vitals; vt != nil {
		v.AddField("cpu_used_pct", vt.CPUUsedPct)
		v.AddField("load1", vt.Load1)
		v.AddField("load5", vt.Load5)
		v.AddField("load15", vt.Load15)
		v.AddField("mem_total_bytes", vt.MemTotal)
		v.AddField("mem_available_bytes", vt.MemAvail)
	}
	out = append(out, v.SetTime(t))
	for i := range rep.DIMMs {
		d := &rep.DIMMs[i]
		p := loc.tags(write.NewPointWithMeasurement(MeasurementHostDIMM))
		addTag(p, "slot", d.Slot)
		addTag(p, "controller", d.Controller)
		addInt(p, "correctable_errors", d.CorrectableErrors)
		addInt(p, "uncorrectable_errors", d.UncorrectableErrors)
		if d.SizeMiB > 0 {
			p.AddField("size_mib", d.SizeMiB)
		}
		addString(p, "label", d.Label)
		addString(p, "serial", d.Serial)
		addString(p, "part_number", d.PartNumber)
		if len(p.FieldList()) == 0 {
			p.AddField("known", true)
		}
		out = append(out, p.SetTime(t))
	}
	for i := range rep.Sensors {
		s := &rep.Sensors[i]
		p := loc.tags(write.NewPointWithMeasurement(MeasurementHostSensor))
		addTag(p, "chip", s.Chip)
		addTag(p, "device", s.Device)
		addTag(p, "sensor", s.Name)
		addTag(p, "kind", s.Kind)
		addTag(p, "unit", s.Unit)
		addTag(p, "socket", s.Socket)
		v := s.Value
		addFloat(p, "value", &v)
		addFloat(p, "max", s.Max)
		addFloat(p, "crit", s.Crit)
		p.AddField("cpu_package", s.CPUPackage)
		out = append(out, p.SetTime(t))
	}
	for i := range rep.Drives {
		d := &rep.Drives[i]
		p := loc.tags(write.NewPointWithMeasurement(MeasurementHostDrive))
		addTag(p, "device", d.Device)
		if strings.Contains(d.DeviceType, ",") {
			// Disks behind a RAID controller share its device
			// (/dev/bus/0) and differ by their -d type (megaraid,0).
			addTag(p, "device_type", d.DeviceType)
		}
		addTag(p, "protocol", d.Protocol)
		addString(p, "model", d.Model)
		addString(p, "serial", d.Serial)
		if d.Passed != nil {
			p.AddField("passed", *d.Passed)
		}
		addFloat(p, "temperature_c", d.TemperatureC)
		for _, f := range []struct {
			k string
			v *int64
		}{
			{"power_on_hours", d.PowerOnHours}, {"reallocated_sectors", d.ReallocatedSectors}, {"pending_sectors", d.PendingSectors},
			{"offline_uncorrectable", d.OfflineUncorrectable}, {"command_timeouts", d.CommandTimeouts}, {"error_log_count", d.ErrorLogCount},
			{"critical_warning", d.CriticalWarning}, {"media_errors", d.MediaErrors}, {"available_spare", d.AvailableSpare},
			{"available_spare_threshold", d.AvailableSpareThreshold}, {"percentage_used", d.PercentageUsed}, {"grown_defects", d.GrownDefects},
		} {
			addInt(p, f.k, f.v)
		}
		p.AddField("exit_status", int64(d.ExitStatus))
		p.AddField("standby", d.Standby)
		out = append(out, p.SetTime(t))
	}
	if vt := rep.Vitals; vt != nil {
		for _, d := range vt.Disks {
			p := loc.tags(write.NewPointWithMeasurement(MeasurementHostDiskIO))
			addTag(p, "device", d.Device)
			p.AddField("rotational", d.Rotational)
			p.AddField("read_iops", d.ReadIOPS)
			p.AddField("write_iops", d.WriteIOPS)
			p.AddField("avg_latency_ms", d.AvgLatencyMs)
			p.AddField("avg_queue", d.AvgQueue)
			p.AddField("utilization_pct", d.UtilizationPct)
			out = append(out, p.SetTime(t))
		}
		for _, n := range vt.NICs {
			p := loc.tags(write.NewPointWithMeasurement(MeasurementHostNIC))
			addTag(p, "nic", n.Name)
			p.AddField("rx_errors", n.RxErrors)
			p.AddField("tx_errors", n.TxErrors)
			p.AddField("rx_dropped", n.RxDropped)
			p.AddField("tx_dropped", n.TxDropped)
			out = append(out, p.SetTime(t))
		}
	}
	return out
}
