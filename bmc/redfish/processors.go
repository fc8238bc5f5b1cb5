package redfish

import (
	"context"
	"regexp"
	"slices"
	"strings"

	"github.com/stmcginnis/gofish/schemas"

	"github.com/rackpulse/rackpulse/bmc"
)

// processorFacts is a processor's static inventory, where its metrics are,
// and what identifies its temperature sensor.
type processorFacts struct {
	cpu        bmc.CPU
	uri        string
	metricsURI string
	// names are the Socket, location label, Name and Id, to match the
	// processor with its temperature sensor.
	names []string
	// chassis are the ids of the chassis of the processor's system, where
	// they are known (chassisOfSystem); unplaced is set when they are not
	// and the BMC has several systems: then only a sensor that links the
	// processor is its own, never one found by name in another node.
	chassis  []string
	unplaced bool
	// sensorHealth is the health of the processor's temperature sensor
	// when the inventory was read.
	sensorHealth bmc.Health
}

// readProcessors emits the CPUs. Their inventory (model, cores, socket,
// status) is read on the static cadence and cached; it is read again at
// once when the health of a processor's temperature sensor changes, so that
// the processor's own Status follows. Every poll, each CPU gets its
// temperature (ProcessorMetrics TemperatureCelsius, else its temperature
// sensor) and a health no better than its temperature sensor's.
func (p *poll) readProcessors(ctx context.Context, systems []systemRef, chassis []chassisRef, inventoryDue, mayRefresh bool) {
	facts := p.c.processors.value
	if !inventoryDue && mayRefresh && p.c.processors.ok {
		for _, f := range facts {
			if s := p.cpuSensor(f, facts); s != nil && s.Health != f.sensorHealth {
				p.c.log.Debug("CPU temperature health changed, reading processors again",
					"socket", f.cpu.Socket, "was", f.sensorHealth, "now", s.Health)
				inventoryDue = true
				break
			}
		}
	}
	if inventoryDue {
		if fresh, ok := p.readProcessorInventory(ctx, systems, chassis); ok {
			for i := range fresh {
				if s := p.cpuSensor(fresh[i], fresh); s != nil {
					fresh[i].sensorHealth = s.Health
				}
			}
			facts = fresh
			p.c.processors.store(fresh, p.snap.Time)
			p.complete(bmc.PartCPU)
		} else {
			inventoryDue = false
		}
	}
	if !inventoryDue && p.c.processors.ok {
		p.snap.Poll.Cached = append(p.snap.Poll.Cached, bmc.PartCPU)
	}
	metricsRead := false
	for _, f := range facts {
		cpu := f.cpu
		sensor := p.cpuSensor(f, facts)
		// ProcessorMetrics is read only for a processor with no temperature
		// sensor of its own: the sensors are read every poll anyway.
		if f.metricsURI != "" && (sensor == nil || sensor.Value == nil) {
			var m schemas.ProcessorMetrics
			if err := p.c.getInto(ctx, bmc.PartCPU, f.metricsURI, &m); err != nil {
				p.fail(bmc.PartCPU, err)
			} else {
				//lint:ignore SA1019 the deprecated property is what firmware publishes
				cpu.TemperatureC = m.TemperatureCelsius
				metricsRead = true
			}
		}
		if sensor != nil {
			if cpu.TemperatureC == nil {
				cpu.TemperatureC = sensor.Value
			}
			cpu.Health = cpu.Health.Worse(sensor.Health)
		}
		p.snap.CPUs = append(p.snap.CPUs, cpu)
	}
	if metricsRead && !inventoryDue {
		p.read(bmc.PartCPU)
	}
}

// cpuNumberRe finds the processor number in a socket label, processor name
// or sensor name: "CPU 1", "CPU1", "CPU #1 Temperature", "CPU.Socket.1",
// "Processor 2", "Socket 0".
var cpuNumberRe = regexp.MustCompile(`(?i)(?:cpu|processor|proc|socket)[\s#._-]*(\d+)|^p(\d+)\s`)

// cpuNumber returns the first processor number found in ss, or "".
func cpuNumber(ss ...string) string {
	for _, s := range ss {
		if m := cpuNumberRe.FindStringSubmatch(s); m != nil {
			return strings.TrimLeft(m[1]+m[2], "0") + "#"
		}
	}
	return ""
}

// cpuSensor finds this poll's temperature sensor of a processor: a
// temperature sensor whose PhysicalContext is CPU, in the chassis of the
// processor's system, that links the processor (RelatedItem), else whose
// name carries the processor's number ("CPU1 Temp" for socket "CPU 1" or
// Id "CPU.Socket.1"), else the only such sensor of a one-processor system.
func (p *poll) cpuSensor(f processorFacts, all []processorFacts) *bmc.Sensor {
	var candidates []int
	for i, s := range p.snap.Sensors {
		if s.Kind != bmc.KindTemperature || !strings.EqualFold(s.Context, bmc.ContextCPU) {
			continue
		}
		if (len(f.chassis) > 0 || f.unplaced) && !slices.Contains(f.chassis, s.Chassis) && !slices.Contains(p.related[i], f.uri) {
			continue
		}
		candidates = append(candidates, i)
	}
	if f.uri != "" {
		for _, i := range candidates {
			if slices.Contains(p.related[i], f.uri) {
				return &p.snap.Sensors[i]
			}
		}
	}
	if n := cpuNumber(f.names...); n != "" {
		for _, i := range candidates {
			if len(p.related[i]) == 0 && cpuNumber(p.snap.Sensors[i].Name) == n {
				return &p.snap.Sensors[i]
			}
		}
	}
	siblings := 0
	for _, o := range all {
		if o.cpu.System == f.cpu.System {
			siblings++
		}
	}
	if siblings == 1 && len(candidates) == 1 {
		return &p.snap.Sensors[candidates[0]]
	}
	return nil
}

// chassisOfSystem finds the chassis a system lives in: the ones it links
// (Links.Chassis), else the ones that link it (a chassis's
// Links.ComputerSystems), else the one whose Id is the system's (a blade
// controller's Node0 system in its Node0 chassis). None when nothing says:
// chassis are never matched by position.
func chassisOfSystem(sys systemRef, chassis []chassisRef) []string {
	same := func(a, b string) bool { return strings.TrimSuffix(a, "/") == strings.TrimSuffix(b, "/") }
	var out []string
	for _, l := range sys.links.Links.Chassis {
		for _, ch := range chassis {
			if same(l.ID, ch.URI) {
				out = append(out, ch.ID)
			}
		}
	}
	if len(out) > 0 {
		return out
	}
	for _, ch := range chassis {
		if slices.ContainsFunc(ch.links.Links.ComputerSystems, func(l odataID) bool { return same(l.ID, sys.URI) }) {
			out = append(out, ch.ID)
		}
	}
	if len(out) > 0 {
		return out
	}
	for _, ch := range chassis {
		if strings.EqualFold(ch.ID, sys.ID) {
			out = append(out, ch.ID)
		}
	}
	return out
}

// withContained adds to ids the chassis inside them, at any depth (the
// baseboard inside the rack-mount chassis a system links, whose sensors
// are the system's).
func withContained(ids []string, all []bmc.Chassis) []string {
	out := slices.Clone(ids)
	for grew := true; grew; {
		grew = false
		for _, c := range all {
			if c.ContainedBy != "" && slices.Contains(out, c.ContainedBy) && !slices.Contains(out, c.ID) {
				out = append(out, c.ID)
				grew = true
			}
		}
	}
	return out
}

// readProcessorInventory reads every system's central processors; GPUs,
// FPGAs and other accelerators are not CPUs and are left out.
func (p *poll) readProcessorInventory(ctx context.Context, systems []systemRef, chassis []chassisRef) ([]processorFacts, bool) {
	var facts []processorFacts
	anyRead := false
	for _, sys := range systems {
		if sys.links.Processors.ID == "" {
			continue
		}
		sysChassis := withContained(chassisOfSystem(sys, chassis), p.snap.Chassis)
		unplaced := len(sysChassis) == 0 && len(systems) > 1
		ok := p.eachMember(ctx, bmc.PartCPU, sys.links.Processors.ID, func(uri string, raw []byte) error {
			var proc schemas.Processor
			var links navLinks
			if err := p.decode(bmc.PartCPU, uri, raw, &proc); err != nil {
				return err
			}
			if err := p.decode(bmc.PartCPU, uri, raw, &links); err != nil {
				return err
			}
			if proc.ProcessorType != "" && proc.ProcessorType != schemas.CPUProcessorType {
				return nil
			}
			cpu := bmc.CPU{
				System: sys.ID,
				Socket: firstNonEmpty(proc.Socket, proc.Location.PartLocation.ServiceLabel, proc.ID, lastSegment(uri)),
				Model:  proc.Model,
				Health: healthOf(proc.Status.Health),
				State:  string(proc.Status.State),
			}
			if proc.TotalCores != nil {
				cpu.Cores = *proc.TotalCores
			}
			f := processorFacts{
				cpu:      cpu,
				uri:      firstNonEmpty(links.ODataID, uri),
				names:    []string{proc.Socket, proc.Location.PartLocation.ServiceLabel, proc.Name, proc.ID, lastSegment(uri)},
				chassis:  sysChassis,
				unplaced: unplaced,
			}
			if !isAbsentState(proc.Status.State) {
				f.metricsURI = links.Metrics.ID
			}
			facts = append(facts, f)
			p.c.remember(f.uri, "CPU", cpu.Socket)
			return nil
		})
		anyRead = anyRead || ok
	}
	if anyRead {
		p.read(bmc.PartCPU)
	}
	return facts, anyRead || len(systems) == 0
}
