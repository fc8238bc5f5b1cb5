package redfish

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"

	"github.com/rackpulse/rackpulse/bmc"
)

// navLinks are the navigation properties the collector follows. gofish keeps
// them private, so they are decoded from the same body alongside the
// schemas type.
type navLinks struct {
	ID                 string `json:"Id"`
	ODataID            string `json:"@odata.id"`
	Processors         odataID
	Memory             odataID
	Storage            odataID
	SimpleStorage      odataID
	LogServices        odataID
	Power              odataID
	PowerSubsystem     odataID
	Thermal            odataID
	ThermalSubsystem   odataID
	EnvironmentMetrics odataID
	Sensors            odataID
	PowerSupplies      odataID
	ThermalMetrics     odataID
	Fans               odataID
	Metrics            odataID
	Entries            odataID
	Drives             json.RawMessage // a collection link (Chassis) or an array (Storage)
	Links              struct {
		ContainedBy odataID
		Drives      []odataID
		// Chassis is a list on a ComputerSystem and one link on Memory,
		// Processor and Drive (both per the schema).
		Chassis linkList
		// Contains (Chassis) lists the chassis inside this one;
		// ComputerSystems (Chassis) the systems it holds.
		Contains        []odataID
		ComputerSystems []odataID
	}
}

// linkList is a navigation property the schema defines as one link on some
// resources and as a list on others: it reads both.
type linkList []odataID

func (l *linkList) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '{' {
		var one odataID
		if err := json.Unmarshal(b, &one); err != nil {
			return err
		}
		*l = linkList{one}
		return nil
	}
	var many []odataID
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*l = many
	return nil
}

// drivesLinks returns the drive URIs of a Storage resource.
func (n *navLinks) drivesLinks() []string {
	var list []odataID
	if json.Unmarshal(n.Drives, &list) != nil {
		return nil
	}
	out := make([]string, 0, len(list))
	for _, l := range list {
		if l.ID != "" {
			out = append(out, l.ID)
		}
	}
	return out
}

// systemRef is one ComputerSystem and where its parts live.
type systemRef struct {
	ID, URI string
	links   navLinks
}

// chassisRef is one Chassis and where its parts live.
type chassisRef struct {
	ID, URI string
	links   navLinks
}

// eachMember reads a collection (across its pages, within the bounds of
// readCollection) and calls fn for every member that could be read. A
// failed member becomes a part error of its own (QuirkMissingMember for a
// 404), and so does a read cut short (too_large, or malformed for a page
// link leading back), with the members read kept; it reports whether the
// collection itself was read.
func (p *poll) eachMember(ctx context.Context, part bmc.Part, uri string, fn func(uri string, raw []byte) error) bool {
	return p.eachMemberExpanded(ctx, part, uri, 1, fn)
}

// eachMemberExpanded is eachMember asking the service to expand each
// member's subordinate resources up to levels deep.
func (p *poll) eachMemberExpanded(ctx context.Context, part bmc.Part, uri string, levels int, fn func(uri string, raw []byte) error) bool {
	return p.eachMemberRead(ctx, part, uri, levels, func(m member) error { return fn(m.URI, m.Raw) })
}

// eachMemberRead is eachMemberExpanded handing fn each member as read.
func (p *poll) eachMemberRead(ctx context.Context, part bmc.Part, uri string, levels int, fn func(m member) error) bool {
	members, err := p.c.membersExpanded(ctx, part, uri, levels)
	if err != nil {
		p.fail(part, err)
		if members == nil {
			return false
		}
	}
	for _, m := range members {
		if m.Err != nil {
			if m.Gone {
				p.c.log.Debug("collection member not served", "quirk", QuirkMissingMember, "uri", m.URI)
			}
			p.fail(part, m.Err)
			continue
		}
		if err := fn(m); err != nil {
			if bmc.KindOf(err) == bmc.ErrKindMalformed {
				p.c.log.Debug("member failed to decode", "quirk", QuirkUndecodableMember, "uri", m.URI, "err", err)
			}
			p.fail(part, err)
		}
	}
	return true
}

// readSystems reads every ComputerSystem with its identity (UUID, serial
// number), status and power state, and notes the statuses of the system and of its MemorySummary and
// ProcessorSummary for the health watch.
func (p *poll) readSystems(ctx context.Context) []systemRef {
	if p.c.root.Systems.ID == "" {
		return nil
	}
	var refs []systemRef
	ok := eachTaggedMember(ctx, p, bmc.PartSystems, p.c.root.Systems.ID, func(uri string, sys *wireSystem) error {
		uri = firstNonEmpty(sys.ODataID, uri)
		id := firstNonEmpty(sys.ID, lastSegment(uri))
		refs = append(refs, systemRef{ID: id, URI: uri, links: sys.navLinks})
		p.watch("system "+id, sys.Status)
		// The summaries' Status is deprecated in the schema, and what
		// firmware publishes.
		p.watch("system "+id+" MemorySummary", sys.MemorySummary.Status)
		p.watch("system "+id+" ProcessorSummary", sys.ProcessorSummary.Status)
		p.snap.Systems = append(p.snap.Systems, bmc.System{
			ID:           id,
			Name:         sys.Name,
			Model:        sys.Model,
			Manufacturer: sys.Manufacturer,
			Serial:       strings.TrimSpace(sys.SerialNumber),
			UUID:         normalizeUUID(sys.UUID),
			Health:       healthOf(sys.Status.Health),
			HealthRollup: healthOf(sys.Status.HealthRollup),
			PowerState:   string(sys.PowerState),
		})
		return nil
	})
	if ok {
		p.read(bmc.PartSystems)
	}
	return refs
}

// readChassis reads every Chassis with its status and power state, and
// notes the status for the health watch.
func (p *poll) readChassis(ctx context.Context) []chassisRef {
	if p.c.root.Chassis.ID == "" {
		return nil
	}
	var refs []chassisRef
	ok := eachTaggedMember(ctx, p, bmc.PartChassis, p.c.root.Chassis.ID, func(uri string, ch *wireChassis) error {
		uri = firstNonEmpty(ch.ODataID, uri)
		id := firstNonEmpty(ch.ID, lastSegment(uri))
		refs = append(refs, chassisRef{ID: id, URI: uri, links: ch.navLinks})
		p.watch("chassis "+id, ch.Status)
		p.snap.Chassis = append(p.snap.Chassis, bmc.Chassis{
			ID:           id,
			Name:         ch.Name,
			ChassisType:  string(ch.ChassisType),
			Model:        ch.Model,
			Serial:       ch.SerialNumber,
			Health:       healthOf(ch.Status.Health),
			HealthRollup: healthOf(ch.Status.HealthRollup),
			PowerState:   string(ch.PowerState),
			ContainedBy:  lastSegment(ch.Links.ContainedBy.ID),
		})
		return nil
	})
	if ok {
		p.read(bmc.PartChassis)
	}
	p.placeContainedChassis(refs)
	return refs
}

// placeContainedChassis completes the chassis tree from the containing
// side: a chassis listed in another's Links.Contains is inside it, where it
// does not say so itself (GPU trays and their GPUs, enclosures and
// blades). The power package counts an enclosure's reading, not its
// contents' as well.
func (p *poll) placeContainedChassis(refs []chassisRef) {
	index := map[string]int{}
	for i, c := range p.snap.Chassis {
		index[c.ID] = i
	}
	for _, ref := range refs {
		for _, l := range ref.links.Links.Contains {
			if i, ok := index[lastSegment(l.ID)]; ok && p.snap.Chassis[i].ContainedBy == "" && p.snap.Chassis[i].ID != ref.ID {
				p.snap.Chassis[i].ContainedBy = ref.ID
			}
		}
	}
}
