package sim

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// fakeClock is a settable clock for machines.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newTestMachine(t *testing.T, profileName string) (*machine, *fakeClock) {
	t.Helper()
	p, err := newProfile(profileName)
	if err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{t: time.Date(2026, 3, 4, 14, 0, 0, 0, time.UTC)}
	return newMachine("rack-01-u01", p, clock.t, clock.now), clock
}

// collectRefs gathers every hyperlink in a resource.
func collectRefs(v any, out *[]string) {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if k == "@odata.id" {
				continue
			}
			if ref, ok := e.(map[string]any); ok {
				if uri, ok := referenceOf(ref); ok {
					*out = append(*out, uri)
					continue
				}
			}
			collectRefs(e, out)
		}
	case []any:
		for _, e := range v {
			collectRefs(e, out)
		}
	}
}

func TestProfilesServeConsistentTrees(t *testing.T) {
	for _, name := range SyntheticProfiles() {
		t.Run(name, func(t *testing.T) {
			m, _ := newTestMachine(t, name)
			for _, uri := range m.profile.paths() {
				o, ok := m.resource(uri)
				if !ok {
					t.Fatalf("%s: listed but not served", uri)
				}
				if o["@odata.id"] != uri {
					t.Errorf("%s: @odata.id %v", uri, o["@odata.id"])
				}
				if _, err := json.Marshal(o); err != nil {
					t.Errorf("%s: %v", uri, err)
				}
				var refs []string
				collectRefs(o, &refs)
				for _, ref := range refs {
					if strings.HasPrefix(ref, sessionServicePath) {
						continue // served by the handler
					}
					if _, ok := m.resource(ref); !ok {
						t.Errorf("%s links to %s, which is not served", uri, ref)
					}
				}
			}
		})
	}
}

func TestUnknownProfile(t *testing.T) {
	if _, err := newProfile("vintage"); err == nil || !strings.Contains(err.Error(), "vintage") {
		t.Errorf("error %v should name the profile", err)
	}
}
