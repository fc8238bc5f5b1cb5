package redfish

import (
	"context"

	"github.com/stmcginnis/gofish/schemas"

	"github.com/rackpulse/rackpulse/bmc"
)

// processorFacts is a processor's static inventory and where its metrics are.
type processorFacts struct {
	cpu        bmc.CPU
	metricsURI string
}

// readProcessors emits the CPUs. Their inventory (model, cores, socket,
// status) is read on the static cadence and cached; their temperature
// (ProcessorMetrics TemperatureCelsius) every poll, where published.
func (p *poll) readProcessors(ctx context.Context, systems []systemRef, inventoryDue bool) {
	facts := p.c.processors.value
	if inventoryDue {
		if fresh, ok := p.readProcessorInventory(ctx, systems); ok {
			facts = fresh
			p.c.processors.store(fresh, p.snap.Time)
		}
	} else if p.c.processors.ok {
		p.snap.Poll.Cached = append(p.snap.Poll.Cached, bmc.PartCPU)
	}
	metricsRead := false
	for _, f := range facts {
		cpu := f.cpu
		if f.metricsURI != "" {
			var m schemas.ProcessorMetrics
			if err := p.c.getInto(ctx, f.metricsURI, &m); err != nil {
				p.fail(bmc.PartCPU, err)
			} else {
				cpu.TemperatureC = m.TemperatureCelsius
				metricsRead = true
			}
		}
		p.snap.CPUs = append(p.snap.CPUs, cpu)
	}
	if metricsRead && !inventoryDue {
		p.read(bmc.PartCPU)
	}
}

// readProcessorInventory reads every system's central processors; GPUs,
// FPGAs and other accelerators are not CPUs and are left out.
func (p *poll) readProcessorInventory(ctx context.Context, systems []systemRef) ([]processorFacts, bool) {
	var facts []processorFacts
	anyRead := false
	for _, sys := range systems {
		if sys.links.Processors.ID == "" {
			continue
		}
		ok := p.eachMember(ctx, bmc.PartCPU, sys.links.Processors.ID, func(uri string, raw []byte) error {
			var proc schemas.Processor
			var links navLinks
			if err := decode(uri, raw, &proc); err != nil {
				return err
			}
			if err := decode(uri, raw, &links); err != nil {
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
			f := processorFacts{cpu: cpu}
			if !isAbsentState(proc.Status.State) {
				f.metricsURI = links.Metrics.ID
			}
			facts = append(facts, f)
			return nil
		})
		anyRead = anyRead || ok
	}
	if anyRead {
		p.read(bmc.PartCPU)
	}
	return facts, anyRead || len(systems) == 0
}
