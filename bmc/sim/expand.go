package sim

import (
	"fmt"
	"strconv"
	"strings"
)

// expandKind is the $expand operator: '*' all hyperlinks, '.' subordinate
// ones (not under Links), '~' only those under Links.
type expandKind byte

// expandSupport is what the service root advertises in
// ProtocolFeaturesSupported.ExpandQuery.
type expandSupport struct {
	all, noLinks, links, levels bool
	maxLevels                   int
}

func expandSupportOf(root map[string]any) expandSupport {
	features, _ := root["ProtocolFeaturesSupported"].(map[string]any)
	q, _ := features["ExpandQuery"].(map[string]any)
	if q == nil {
		return expandSupport{}
	}
	s := expandSupport{
		all:     q["ExpandAll"] == true,
		noLinks: q["NoLinks"] == true,
		links:   q["Links"] == true,
		levels:  q["Levels"] == true,
	}
	s.maxLevels = intOf(q["MaxLevels"])
	return s
}

// allows reports whether the root advertises this query, and the levels to
// expand: 1 unless $levels is advertised, then clamped to MaxLevels.
func (s expandSupport) allows(kind expandKind, levels int) (int, bool) {
	switch kind {
	case '*':
		if !s.all {
			return 0, false
		}
	case '.':
		if !s.noLinks {
			return 0, false
		}
	case '~':
		if !s.links {
			return 0, false
		}
	default:
		return 0, false
	}
	if !s.levels {
		return 1, true
	}
	if s.maxLevels > 0 && levels > s.maxLevels {
		levels = s.maxLevels
	}
	return levels, true
}

// parseExpand parses "*", ".", "~", optionally followed by "($levels=N)".
func parseExpand(q string) (expandKind, int, error) {
	if q == "" {
		return 0, 0, fmt.Errorf("empty $expand")
	}
	kind := expandKind(q[0])
	if kind != '*' && kind != '.' && kind != '~' {
		return 0, 0, fmt.Errorf("unknown $expand operator %q", q[:1])
	}
	rest := q[1:]
	if rest == "" {
		return kind, 1, nil
	}
	inner, ok := strings.CutPrefix(rest, "($levels=")
	if !ok {
		return 0, 0, fmt.Errorf("bad $expand %q", q)
	}
	inner, ok = strings.CutSuffix(inner, ")")
	if !ok {
		return 0, 0, fmt.Errorf("bad $expand %q", q)
	}
	n, err := strconv.Atoi(inner)
	if err != nil || n < 1 {
		return 0, 0, fmt.Errorf("bad $levels in %q", q)
	}
	return kind, n, nil
}

// expandObject replaces, in place, the hyperlinks of obj that kind selects
// with the resources they point at, down to levels.
func (b *RedfishBMC) expandObject(obj map[string]any, kind expandKind, levels int, inLinks bool) {
	for key, v := range obj {
		if key == "@odata.id" {
			continue
		}
		obj[key] = b.expandValue(v, kind, levels, inLinks || key == "Links")
	}
}

func (b *RedfishBMC) expandValue(v any, kind expandKind, levels int, inLinks bool) any {
	switch v := v.(type) {
	case map[string]any:
		if uri, ok := referenceOf(v); ok {
			if !inScope(kind, inLinks) || levels < 1 {
				return v
			}
			target, found := b.lookup(normalizePath(uri))
			if !found {
				return v
			}
			if levels > 1 {
				b.expandObject(target, kind, levels-1, false)
			}
			return target
		}
		b.expandObject(v, kind, levels, inLinks)
		return v
	case []any:
		for i, e := range v {
			v[i] = b.expandValue(e, kind, levels, inLinks)
		}
		return v
	}
	return v
}

// referenceOf reports whether v is a bare hyperlink {"@odata.id": uri} to a
// whole resource (not a fragment).
func referenceOf(v map[string]any) (string, bool) {
	if len(v) != 1 {
		return "", false
	}
	uri, ok := v["@odata.id"].(string)
	if !ok || strings.Contains(uri, "#") || !strings.HasPrefix(uri, "/redfish/") {
		return "", false
	}
	return uri, true
}

func inScope(kind expandKind, inLinks bool) bool {
	switch kind {
	case '*':
		return true
	case '.':
		return !inLinks
	case '~':
		return inLinks
	}
	return false
}

func intOf(v any) int {
	switch n := v.(type) {
	case float64:
		return int(n)
	case int:
		return n
	case interface{ Int64() (int64, error) }:
		i, _ := n.Int64()
		return int(i)
	}
	return 0
}
