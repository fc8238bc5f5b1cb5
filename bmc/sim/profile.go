package sim

import (
	"fmt"
	"path"
	"sort"
	"strings"
	"time"
)

// obj is a JSON object as served.
type obj = map[string]any

// renderFunc builds one resource of a machine from its current readings;
// nil when the machine has no such resource in its present state (a bay
// the server was built without).
type renderFunc func(m *machine, r *readings) obj

// profile is a kind of simulated server: its hardware layout, the model
// and vendor it reports, how its firmware behaves ($expand, Basic auth) and
// the resources it serves. A profile is built once per fleet and shared,
// read-only, by every BMC of that kind.
type profile struct {
	name         string
	model        string
	manufacturer string
	// serialPrefix starts the system's (and chassis's) serial number.
	serialPrefix string
	expand       ExpandMode
	allowBasic   bool
	layout       layout
	routes       map[string]renderFunc
	// quirks names the vendor quirks the profile shows, for the docs and
	// the admin API.
	quirks []string
}

// Profile names.
const (
	ProfileModern = "modern"
	ProfileLegacy = "legacy"
	ProfileMockup = "mockup"
)

// SyntheticProfiles lists the profiles built in code.
func SyntheticProfiles() []string { return []string{ProfileModern, ProfileLegacy} }

func newProfile(name string) (*profile, error) {
	switch name {
	case ProfileModern:
		return newModernProfile(), nil
	case ProfileLegacy:
		return newLegacyProfile(), nil
	}
	return nil, fmt.Errorf("unknown profile %q (want %s)", name, strings.Join(SyntheticProfiles(), " or "))
}

func (p *profile) add(uri string, f renderFunc) {
	if p.routes == nil {
		p.routes = make(map[string]renderFunc)
	}
	p.routes[uri] = f
}

// paths lists the served resource paths, sorted.
func (p *profile) paths() []string {
	out := make([]string, 0, len(p.routes))
	for k := range p.routes {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// resource implements resourceSource for a machine.
func (m *machine) resource(uri string) (map[string]any, bool) {
	render, ok := m.profile.routes[uri]
	if !ok {
		return m.logEntry(uri)
	}
	o := render(m, m.read())
	if o == nil { // not there in the machine's present state
		return nil, false
	}
	if _, ok := o["@odata.id"]; !ok {
		o["@odata.id"] = uri
	}
	return o, true
}

// Helpers shared by the profiles.

func status(health string) obj {
	if health == "" {
		health = "OK"
	}
	return obj{"State": "Enabled", "Health": health, "HealthRollup": health}
}

func absent() obj { return obj{"State": "Absent"} }

func collection(uri, odataType, name string, members []string) renderFunc {
	return func(*machine, *readings) obj {
		refs := make([]any, len(members))
		for i, m := range members {
			refs[i] = odataID(m)
		}
		return obj{
			"@odata.id":           uri,
			"@odata.type":         odataType,
			"Name":                name,
			"Members@odata.count": len(refs),
			"Members":             refs,
		}
	}
}

func (m *machine) uuid() string {
	s := m.seed
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", uint32(s>>32), uint16(s>>16), 0x4000|uint16(s)&0x0fff, 0x8000|uint16(s>>48)&0x3fff, s&0xffffffffffff)
}

func (m *machine) serial(prefix string, i int) string {
	return fmt.Sprintf("%s%08X%02d", prefix, uint32(m.seed), i)
}

// systemUUIDChannel picks the bits of the seed the system UUID is made of,
// so that it differs from the BMC's own UUID (uuid) and GUID.
const systemUUIDChannel = 0x53595355554944 // "SYSUUID"

// systemUUIDBytes is the UUID of the machine's system (what SMBIOS type 1
// holds and dmidecode prints), in print order: a random-based (version 4)
// UUID whose randomness is the seed's, so the same on every run.
func (m *machine) systemUUIDBytes() [16]byte {
	var u [16]byte
	hi := mix64(m.seed ^ systemUUIDChannel)
	lo := mix64(hi ^ m.seed)
	for i := range 8 {
		u[i], u[8+i] = byte(hi>>(56-8*i)), byte(lo>>(56-8*i))
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return u
}

// systemUUID is systemUUIDBytes as text, lower case 8-4-4-4-12.
func (m *machine) systemUUID() string {
	u := m.systemUUIDBytes()
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// systemSerial is the serial number of the machine's system and chassis.
func (m *machine) systemSerial() string { return m.serial(m.profile.serialPrefix, 0) }

func redfishTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// addServiceRoot serves the service root, advertising $expand up to
// maxLevels, and the Chassis, Systems and Managers collections of one
// chassis, system and manager.
func (p *profile) addServiceRoot(maxLevels int, chassis, system, manager string) {
	const root = ServiceRootPath
	p.add(root, func(m *machine, _ *readings) obj {
		return serviceRoot(m, "Contoso", obj{"ExpandAll": true, "Levels": true, "MaxLevels": maxLevels, "Links": true, "NoLinks": true})
	})
	p.add(root+"/Chassis", collection(root+"/Chassis", "#ChassisCollection.ChassisCollection", "Chassis Collection", []string{chassis}))
	p.add(root+"/Systems", collection(root+"/Systems", "#ComputerSystemCollection.ComputerSystemCollection", "Computer System Collection", []string{system}))
	p.add(root+"/Managers", collection(root+"/Managers", "#ManagerCollection.ManagerCollection", "Manager Collection", []string{manager}))
}

func serviceRoot(m *machine, vendor string, expand obj) obj {
	return obj{
		"@odata.id":      ServiceRootPath,
		"@odata.type":    "#ServiceRoot.v1_15_0.ServiceRoot",
		"Id":             "RootService",
		"Name":           "Root Service",
		"RedfishVersion": "1.17.0",
		"UUID":           m.uuid(),
		"Vendor":         vendor,
		"ProtocolFeaturesSupported": obj{
			"ExpandQuery":     expand,
			"SelectQuery":     false,
			"FilterQuery":     false,
			"OnlyMemberQuery": true,
			"ExcerptQuery":    false,
		},
		"Systems":        odataID(ServiceRootPath + "/Systems"),
		"Chassis":        odataID(ServiceRootPath + "/Chassis"),
		"Managers":       odataID(ServiceRootPath + "/Managers"),
		"SessionService": odataID(sessionServicePath),
		"Links":          obj{"Sessions": odataID(sessionsPath)},
	}
}

// logEntries renders a machine's log: the profile's boot-time entries, then
// what happened while it ran.
func logEntries(entriesURI string, base []logEvent, r *readings, entryType string) []any {
	all := append(append([]logEvent(nil), base...), r.events...)
	out := make([]any, 0, len(all))
	for i, e := range all {
		id := fmt.Sprint(i + 1)
		created := redfishTime(e.created)
		if e.created.IsZero() {
			created = "0000-00-00T00:00:00Z"
		}
		entry := obj{
			"@odata.id":   entriesURI + "/" + id,
			"@odata.type": "#LogEntry.v1_15_0.LogEntry",
			"Id":          id,
			"Name":        "Log Entry " + id,
			"EntryType":   entryType,
			"Severity":    e.severity,
			"Created":     created,
			"Message":     e.message,
			"MessageId":   e.code,
		}
		if entryType == "SEL" {
			entry["SensorType"] = selSensorType(e.code)
			entry["EntryCode"] = "Assert"
		}
		out = append(out, entry)
	}
	return out
}

func selSensorType(code string) string {
	switch {
	case strings.HasPrefix(code, "MEM"):
		return "Memory"
	case strings.HasPrefix(code, "TMP"):
		return "Temperature"
	case strings.HasPrefix(code, "PSU"):
		return "Power Supply"
	case strings.HasPrefix(code, "FAN"):
		return "Fan"
	case strings.HasPrefix(code, "PDR"):
		return "Drive Slot (Bay)"
	case strings.HasPrefix(code, "PWR"):
		return "Power Unit"
	}
	return "System Event"
}

func logEntryCollection(entriesURI string, base func(m *machine) []logEvent, entryType string) renderFunc {
	return func(m *machine, r *readings) obj {
		members := logEntries(entriesURI, base(m), r, entryType)
		return obj{
			"@odata.id":           entriesURI,
			"@odata.type":         "#LogEntryCollection.LogEntryCollection",
			"Name":                "Log Service Collection",
			"Members@odata.count": len(members),
			"Members":             members,
		}
	}
}

// logEntry finds one entry of a log entry collection, served inline in the
// collection and also at its own URI.
func (m *machine) logEntry(uri string) (map[string]any, bool) {
	parent := path.Dir(uri)
	render, ok := m.profile.routes[parent]
	if !ok || path.Base(parent) != "Entries" {
		return nil, false
	}
	members, _ := render(m, m.read())["Members"].([]any)
	for _, e := range members {
		if entry, ok := e.(obj); ok && entry["@odata.id"] == uri {
			return entry, true
		}
	}
	return nil, false
}
