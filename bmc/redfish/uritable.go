package redfish

import (
	"slices"
	"strings"
)

// uriTable maps resource URIs to values, for what a collector keeps per
// member of its BMC (a few dozen each, held by every collector of a
// fleet): a slice sorted by URI, about half the size of a map of them,
// grown by a quarter at a time since members arrive one by one and their
// number then stays. The zero value is empty; it is not safe for
// concurrent use.
type uriTable[V any] struct {
	entries []uriEntry[V]
}

type uriEntry[V any] struct {
	uri   string
	value V
}

// find returns where uri's entry is, or would be inserted, and whether it
// is there.
func (t *uriTable[V]) find(uri string) (int, bool) {
	return slices.BinarySearchFunc(t.entries, uri, func(e uriEntry[V], uri string) int { return strings.Compare(e.uri, uri) })
}

// get returns uri's value, if there is one.
func (t *uriTable[V]) get(uri string) (V, bool) {
	if i, ok := t.find(uri); ok {
		return t.entries[i].value, true
	}
	var zero V
	return zero, false
}

// put sets uri's value, adding an entry only while there are fewer than
// limit (0: no limit); it reports whether the value is held.
func (t *uriTable[V]) put(uri string, v V, limit int) bool {
	i, found := t.find(uri)
	if found {
		t.entries[i].value = v
		return true
	}
	if limit > 0 && len(t.entries) >= limit {
		return false
	}
	if len(t.entries) == cap(t.entries) {
		grown := make([]uriEntry[V], len(t.entries), len(t.entries)+1+len(t.entries)/4)
		copy(grown, t.entries)
		t.entries = grown
	}
	t.entries = slices.Insert(t.entries, i, uriEntry[V]{uri: uri, value: v})
	return true
}

// delete removes uri's entry.
func (t *uriTable[V]) delete(uri string) {
	if i, ok := t.find(uri); ok {
		t.entries = slices.Delete(t.entries, i, i+1)
	}
}
