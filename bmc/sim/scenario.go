package sim

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"time"

	"gopkg.in/yaml.v3"
)

// ScenarioEvent is one fault of a scenario: which BMCs, which fault, when
// from the fleet's start and for how long.
type ScenarioEvent struct {
	// BMC is a BMC name, its 0-based index in the inventory, or "*" for
	// every BMC.
	BMC   string
	Fault FaultSpec
	At    time.Duration
	// For is how long the fault lasts; 0: until the simulator stops.
	For time.Duration
	// File and Line locate the event in its scenario file.
	File string
	Line int
}

func (e ScenarioEvent) where() string {
	if e.File == "" {
		return "scenario event"
	}
	return fmt.Sprintf("scenario %s line %d", e.File, e.Line)
}

// LoadScenario reads a scenario file: a YAML list of
// {bmc, fault, at, for, target, every, count, swing}.
func LoadScenario(file string) ([]ScenarioEvent, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading scenario: %w", err)
	}
	return ParseScenario(file, data)
}

// ParseScenario parses a scenario; file names it in errors.
func ParseScenario(file string, data []byte) ([]ScenarioEvent, error) {
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, fmt.Errorf("scenario %s: %w", file, err)
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	list := doc.Content[0]
	if list.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("scenario %s line %d: want a list of events ({bmc, fault, at, for})", file, list.Line)
	}
	events := make([]ScenarioEvent, 0, len(list.Content))
	for i, item := range list.Content {
		ev, err := parseScenarioEvent(file, item)
		if err != nil {
			return nil, fmt.Errorf("scenario %s event %d: %w", file, i+1, err)
		}
		events = append(events, ev)
	}
	return events, nil
}

func parseScenarioEvent(file string, item *yaml.Node) (ScenarioEvent, error) {
	ev := ScenarioEvent{File: file, Line: item.Line}
	if item.Kind != yaml.MappingNode {
		return ev, fmt.Errorf("line %d: want a mapping {bmc, fault, at, for}", item.Line)
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(item.Content); i += 2 {
		key, val := item.Content[i], item.Content[i+1]
		field := key.Value
		if seen[field] {
			return ev, fmt.Errorf("line %d: field %s given twice", key.Line, field)
		}
		seen[field] = true
		if val.Kind != yaml.ScalarNode {
			return ev, fmt.Errorf("line %d: field %s: want a single value", val.Line, field)
		}
		var err error
		switch field {
		case "bmc":
			ev.BMC = val.Value
		case "fault":
			ev.Fault.Fault, err = ParseFault(val.Value)
		case "target":
			ev.Fault.Target = val.Value
		case "at":
			ev.At, err = parseOffset(val.Value)
		case "for":
			ev.For, err = parseOffset(val.Value)
		case "every":
			ev.Fault.Every, err = parseOffset(val.Value)
		case "count":
			ev.Fault.Count, err = strconv.Atoi(val.Value)
			if err != nil || ev.Fault.Count <= 0 {
				err = fmt.Errorf("want a positive number of errors per step, got %q", val.Value)
			}
		case "swing":
			ev.Fault.Swing, err = strconv.ParseFloat(val.Value, 64)
			if err != nil || ev.Fault.Swing <= 0 {
				err = fmt.Errorf("want a positive number of °C, got %q", val.Value)
			}
		default:
			return ev, fmt.Errorf("line %d: unknown field %s (want bmc, fault, at, for, target, every, count, swing)", key.Line, field)
		}
		if err != nil {
			return ev, fmt.Errorf("line %d: field %s: %w", val.Line, field, err)
		}
	}
	for _, required := range []string{"bmc", "fault"} {
		if !seen[required] {
			return ev, fmt.Errorf("line %d: field %s is required", item.Line, required)
		}
	}
	if ev.BMC == "" {
		return ev, fmt.Errorf("line %d: field bmc: empty (want a name, an index or \"*\")", item.Line)
	}
	if ev.Fault.Fault.IsData() {
		if err := ev.Fault.check(); err != nil {
			return ev, fmt.Errorf("line %d: %w", item.Line, err)
		}
	}
	return ev, nil
}

func parseOffset(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("want a duration like 90s or 5m, got %q", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("negative duration %q", s)
	}
	return d, nil
}

// resolve turns a scenario BMC selector into BMCs.
func (f *Fleet) resolve(selector string) ([]*SimBMC, error) {
	if selector == "*" {
		return f.bmcs, nil
	}
	if b, ok := f.byName[selector]; ok {
		return []*SimBMC{b}, nil
	}
	if i, err := strconv.Atoi(selector); err == nil {
		if i < 0 || i >= len(f.bmcs) {
			return nil, fmt.Errorf("field bmc: index %d outside the fleet (0-%d)", i, len(f.bmcs)-1)
		}
		return []*SimBMC{f.bmcs[i]}, nil
	}
	return nil, fmt.Errorf("field bmc: no BMC named %q", selector)
}

// scenarioAction is one step of a scenario's timeline.
type scenarioAction struct {
	at    time.Duration
	start bool
	ev    ScenarioEvent
}

// playScenario injects and clears the scenario's faults at their offsets
// from the fleet's start, until ctx is done.
func (f *Fleet) playScenario(ctx context.Context, events []ScenarioEvent) {
	var timeline []scenarioAction
	for _, ev := range events {
		timeline = append(timeline, scenarioAction{at: ev.At, start: true, ev: ev})
		if ev.For > 0 && ev.Fault.Fault != FaultSessionLoss {
			timeline = append(timeline, scenarioAction{at: ev.At + ev.For, ev: ev})
		}
	}
	slices.SortStableFunc(timeline, func(a, b scenarioAction) int { return cmp.Compare(a.at, b.at) })
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	for _, act := range timeline {
		if wait := time.Until(f.start.Add(act.at)); wait > 0 {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				return
			case <-timer.C:
			}
		}
		if ctx.Err() != nil {
			return
		}
		bmcs, err := f.resolve(act.ev.BMC)
		if err != nil {
			f.log.Error("scenario event", "where", act.ev.where(), "err", err)
			continue
		}
		for _, b := range bmcs {
			if b.ipmi != nil && act.ev.Fault.Fault.IsTransport() && !ipmiFault(act.ev.Fault.Fault) {
				continue // an HTTP fault for "*" passes the IPMI BMCs by
			}
			if b.ipmi != nil && act.ev.Fault.Fault.RedfishOnly() {
				continue // so does a PSU redundancy fault
			}
			if act.start {
				if err := b.Inject(act.ev.Fault); err != nil {
					f.log.Error("scenario fault", "bmc", b.name, "fault", act.ev.Fault.Fault, "err", err)
					continue
				}
			} else {
				b.Clear(act.ev.Fault.Fault)
			}
		}
		f.log.Info("scenario", "fault", act.ev.Fault.Fault, "bmc", act.ev.BMC, "bmcs", len(bmcs), "start", act.start, "at", act.at)
	}
}
