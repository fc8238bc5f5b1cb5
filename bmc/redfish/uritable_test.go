package redfish

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// A uriTable answers as a map would, through inserts in any order,
// replacements and deletes, keeps its entries sorted, refuses new entries
// past its limit, and grows by about a quarter, not double.
func TestURITableActsAsAMap(t *testing.T) {
	var table uriTable[int]
	want := map[string]int{}
	r := rand.New(rand.NewPCG(1, 2))
	for step := range 2000 {
		uri := fmt.Sprintf("/redfish/v1/Systems/1/Memory/%d", r.IntN(60))
		switch r.IntN(4) {
		case 0:
			table.delete(uri)
			delete(want, uri)
		default:
			if !table.put(uri, step, 0) {
				t.Fatalf("put %s refused without a limit", uri)
			}
			want[uri] = step
		}
		if len(table.entries) != len(want) {
			t.Fatalf("step %d: %d entries, want %d", step, len(table.entries), len(want))
		}
	}
	for uri, v := range want {
		if got, ok := table.get(uri); !ok || got != v {
			t.Errorf("get(%s) = %d, %v; want %d", uri, got, ok, v)
		}
	}
	if _, ok := table.get("/redfish/v1/Systems/1/Memory/absent"); ok {
		t.Error("get of a URI never put found a value")
	}
	for i := 1; i < len(table.entries); i++ {
		if table.entries[i-1].uri >= table.entries[i].uri {
			t.Fatalf("entries out of order: %q before %q", table.entries[i-1].uri, table.entries[i].uri)
		}
	}

	var limited uriTable[int]
	for i := range 40 {
		limited.put(fmt.Sprintf("/m/%02d", i), i, 33)
	}
	if len(limited.entries) != 33 {
		t.Errorf("%d entries held under a limit of 33", len(limited.entries))
	}
	if !limited.put("/m/05", 99, 33) {
		t.Error("replacing a held entry at the limit was refused")
	}
	if v, _ := limited.get("/m/05"); v != 99 {
		t.Errorf("replaced value %d, want 99", v)
	}
	if c := cap(limited.entries); c > 42 {
		t.Errorf("33 entries hold room for %d: grown by more than a quarter", c)
	}
}
