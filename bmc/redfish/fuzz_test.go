package redfish

import (
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"testing"

	"github.com/rackpulse/rackpulse/bmc"
	"github.com/rackpulse/rackpulse/bmc/sim"
)

// FuzzShapeDeviation changes the shape of one property of one resource of
// a real tree the way vendors do (a value into a list of one, a list of
// one into its value, a number into a string) and checks that the poll
// loses no resource over it: no malformed part, and as many systems,
// chassis, sensors, PSUs, DIMMs, CPUs and drives as the unchanged tree.
//
//	go test -run '^$' -fuzz FuzzShapeDeviation ./bmc/redfish/
func FuzzShapeDeviation(f *testing.F) {
	var trees []string
	for _, dir := range []string{fuzzTreeDir(f, "redfish"), fuzzTreeDir(f, "redfish-vendor")} {
		entries, err := os.ReadDir(dir)
		if err != nil {
			f.Fatal(err)
		}
		for _, e := range entries {
			if e.IsDir() {
				trees = append(trees, filepath.Join(dir, e.Name()))
			}
		}
	}
	sort.Strings(trees)
	for i := range trees {
		for _, seed := range []struct{ resource, property, kind uint16 }{{3, 1, 0}, {17, 2, 1}, {29, 0, 2}, {41, 5, 0}, {53, 3, 1}} {
			f.Add(uint16(i), seed.resource, seed.property, seed.kind)
		}
	}
	baselines := map[string]entityCounts{}
	f.Fuzz(func(t *testing.T, treeIdx, resourceIdx, propertyIdx, kind uint16) {
		dir := trees[int(treeIdx)%len(trees)]
		tree, err := sim.LoadMockup(dir)
		if err != nil {
			t.Fatal(err)
		}
		base, ok := baselines[dir]
		if !ok {
			base = countEntities(pollTree(t, tree))
			baselines[dir] = base
		}
		uri, path, how, ok := mutateShape(tree, int(resourceIdx), int(propertyIdx), int(kind))
		if !ok {
			t.Skip("no property of a shape to change there")
		}
		snap := pollTree(t, tree)
		for _, pe := range snap.Poll.Errors {
			if pe.Kind == bmc.ErrKindMalformed {
				t.Errorf("%s of %s (%s): malformed %+v", path, uri, how, pe)
			}
		}
		if got := countEntities(snap); got != base {
			t.Errorf("%s of %s (%s): read %+v, the unchanged tree %+v", path, uri, how, got, base)
		}
	})
}

func fuzzTreeDir(f *testing.F, name string) string {
	dir := filepath.Join(repoRoot(f), "..", "shared", "fixtures", name)
	if _, err := os.Stat(dir); err != nil {
		if os.Getenv("RACKPULSE_REQUIRE_INTEGRATION") == "1" {
			f.Fatalf("Redfish trees not found at %s (required by RACKPULSE_REQUIRE_INTEGRATION=1): %v", dir, err)
		}
		f.Skipf("Redfish trees not found at %s", dir)
	}
	return dir
}

func pollTree(t *testing.T, tree *sim.Tree) *bmc.Snapshot {
	t.Helper()
	_, ep := simBMC(t, tree, sim.RedfishOptions{})
	c, _ := newCollector(t, ep, bmc.CollectorOptions{})
	return mustPoll(t, c)
}

type entityCounts struct {
	Systems, Chassis, Sensors, PSUs, DIMMs, CPUs, Drives int
}

func countEntities(s *bmc.Snapshot) entityCounts {
	return entityCounts{len(s.Systems), len(s.Chassis), len(s.Sensors), len(s.PSUs), len(s.DIMMs), len(s.CPUs), len(s.Drives)}
}

// mutateShape changes one property of one resource (not a collection, not
// the service root): kind 0 wraps a value or object into a list of one,
// 1 unwraps a list of one into its element, 2 writes a number as a string.
// It reports the resource, the property's path and what was done.
func mutateShape(tree *sim.Tree, resourceIdx, propertyIdx, kind int) (string, string, string, bool) {
	var uris []string
	for _, u := range tree.Paths() {
		r, _ := tree.Get(u)
		if _, isCollection := r["Members"]; !isCollection && u != sim.ServiceRootPath && !slices.Contains([]string{"/redfish/v1/SessionService", "/redfish/v1/AccountService"}, u) {
			uris = append(uris, u)
		}
	}
	if len(uris) == 0 {
		return "", "", "", false
	}
	sort.Strings(uris)
	uri := uris[resourceIdx%len(uris)]
	res, _ := tree.Get(uri)
	type site struct {
		holder map[string]any
		key    string
		path   string
	}
	var sites []site
	var walk func(m map[string]any, prefix string, depth int)
	walk = func(m map[string]any, prefix string, depth int) {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if len(k) > 0 && (k[0] == '@' || k == "Oem" || k == "Actions") {
				continue
			}
			v := m[k]
			fits := false
			switch x := v.(type) {
			case []any:
				fits = kind == 1 && len(x) == 1
			case map[string]any:
				fits = kind == 0
				if depth < 3 {
					walk(x, prefix+k+".", depth+1)
				}
			case float64:
				fits = kind == 0 || kind == 2
			case string:
				fits = kind == 0
			}
			if fits {
				sites = append(sites, site{m, k, prefix + k})
			}
		}
	}
	walk(res, "", 0)
	if len(sites) == 0 {
		return "", "", "", false
	}
	s := sites[propertyIdx%len(sites)]
	var how string
	switch v := s.holder[s.key].(type) {
	case []any:
		s.holder[s.key], how = v[0], "list of one into its element"
	case float64:
		if kind == 2 {
			s.holder[s.key], how = formatFuzzNumber(v), "number into a string"
		} else {
			s.holder[s.key], how = []any{v}, "number into a list of one"
		}
	default:
		s.holder[s.key], how = []any{v}, "value into a list of one"
	}
	if err := tree.Set(uri, res); err != nil {
		return "", "", "", false
	}
	return uri, s.path, how, true
}

func formatFuzzNumber(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
