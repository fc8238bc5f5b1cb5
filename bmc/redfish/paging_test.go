package redfish

import (
	"fmt"
	"slices"
	"testing"

	"github.com/rackpulse/rackpulse/bmc"
	"github.com/rackpulse/rackpulse/bmc/sim"
)

// splitCollection rewrites the collection at uri into pages of one member
// each, linked by Members@odata.nextLink: the second page's link is a
// path, the later ones absolute URLs naming another host (a BMC behind NAT
// names its inside address), which are read as paths on the BMC. It
// returns the member URIs.
func splitCollection(t *testing.T, tree *sim.Tree, uri string) []string {
	t.Helper()
	col, ok := tree.Get(uri)
	if !ok {
		t.Fatalf("no collection %s", uri)
	}
	members := col["Members"].([]any)
	if len(members) < 2 {
		t.Fatalf("%s has %d members, want several to page", uri, len(members))
	}
	page := func(i int) string {
		if i == 0 {
			return uri
		}
		return fmt.Sprintf("%sPage%d", uri, i+1)
	}
	var ids []string
	for i, m := range members {
		id := m.(map[string]any)["@odata.id"].(string)
		ids = append(ids, id)
		p := map[string]any{}
		for k, v := range col {
			p[k] = v
		}
		p["@odata.id"], p["Members"], p["Members@odata.count"] = page(i), []any{map[string]any{"@odata.id": id}}, len(members)
		delete(p, "Members@odata.nextLink")
		switch {
		case i+1 == len(members):
		case i == 0:
			p["Members@odata.nextLink"] = page(i + 1)
		default:
			p["Members@odata.nextLink"] = "https://10.99.0.1" + page(i+1)
		}
		if err := tree.Set(page(i), p); err != nil {
			t.Fatal(err)
		}
	}
	return ids
}

// Every collection is read across its pages, not only logs: the Memory,
// Processors and PowerSupplies of a modern tree split into one member a
// page give the same Snapshot parts as the whole collections, the pages
// counted in the poll report.
func TestCollectionsReadAcrossPages(t *testing.T) {
	whole := loadMockup(t, "public-rackmount1")
	_, wholeEP := simBMC(t, whole, sim.RedfishOptions{})
	wc, _ := newCollector(t, wholeEP, bmcOpts(t))
	want := mustPoll(t, wc)

	tree := loadMockup(t, "public-rackmount1")
	dimms := splitCollection(t, tree, "/redfish/v1/Systems/437XR1138R2/Memory")
	cpus := splitCollection(t, tree, "/redfish/v1/Systems/437XR1138R2/Processors")
	psus := splitCollection(t, tree, "/redfish/v1/Chassis/1U/PowerSubsystem/PowerSupplies")
	_, ep := simBMC(t, tree, sim.RedfishOptions{})
	c, _ := newCollector(t, ep, bmcOpts(t))
	got := mustPoll(t, c)

	if len(got.Poll.Errors) != 0 {
		t.Fatalf("part errors reading paged collections: %+v", got.Poll.Errors)
	}
	if len(got.DIMMs) != len(dimms) || len(got.DIMMs) != len(want.DIMMs) {
		t.Errorf("read %d DIMMs from %d pages, want %d (as from the whole collection)", len(got.DIMMs), len(dimms), len(want.DIMMs))
	}
	var gotSlots, wantSlots []string
	for _, d := range got.DIMMs {
		gotSlots = append(gotSlots, d.Slot)
	}
	for _, d := range want.DIMMs {
		wantSlots = append(wantSlots, d.Slot)
	}
	slices.Sort(gotSlots)
	slices.Sort(wantSlots)
	if !slices.Equal(gotSlots, wantSlots) {
		t.Errorf("DIMM slots %v, want %v", gotSlots, wantSlots)
	}
	if len(got.PSUs) != len(psus) || len(got.PSUs) != len(want.PSUs) || len(got.CPUs) != len(want.CPUs) {
		t.Errorf("paged: %d PSUs and %d CPUs, want %d and %d", len(got.PSUs), len(got.CPUs), len(want.PSUs), len(want.CPUs))
	}
	if wantPages := len(dimms) - 1 + len(cpus) - 1 + len(psus) - 1; got.Poll.NextPages != wantPages {
		t.Errorf("poll report counts %d next pages, want %d", got.Poll.NextPages, wantPages)
	}
	if want.Poll.NextPages != 0 {
		t.Errorf("whole collections counted %d next pages", want.Poll.NextPages)
	}
	if got.Poll.Requests <= want.Poll.Requests {
		t.Errorf("%d requests for paged collections, %d for whole ones: the pages are not counted as requests", got.Poll.Requests, want.Poll.Requests)
	}
}

// A collection longer than one read takes is read in part: the members of
// the pages read are kept and the cut is a too_large part error naming
// the collection.
func TestCollectionPagesBounded(t *testing.T) {
	tree := loadMockup(t, "public-rackmount1")
	const uri = "/redfish/v1/Systems/437XR1138R2/Memory"
	col, _ := tree.Get(uri)
	first := col["Members"].([]any)[0].(map[string]any)["@odata.id"].(string)
	for i := range maxCollectionPages + 5 {
		p := map[string]any{"@odata.id": fmt.Sprintf("%s?page=%d", uri, i), "Name": "Memory",
			"Members": []any{map[string]any{"@odata.id": first}}}
		p["Members@odata.nextLink"] = fmt.Sprintf("%sPage%d", uri, i+1)
		path := uri
		if i > 0 {
			path = fmt.Sprintf("%sPage%d", uri, i)
		}
		if err := tree.Set(path, p); err != nil {
			t.Fatal(err)
		}
	}
	_, ep := simBMC(t, tree, sim.RedfishOptions{})
	c, _ := newCollector(t, ep, bmcOpts(t))
	snap := mustPoll(t, c)
	var cut *bmc.PartError
	for i, pe := range snap.Poll.Errors {
		if pe.Kind == bmc.ErrKindTooLarge && pe.Resource == uri {
			cut = &snap.Poll.Errors[i]
		}
	}
	if cut == nil {
		t.Fatalf("no too_large part error naming %s: %+v", uri, snap.Poll.Errors)
	}
	if len(snap.DIMMs) == 0 {
		t.Error("the members of the pages read were dropped")
	}
	if snap.Poll.NextPages != maxCollectionPages-1 {
		t.Errorf("%d next pages read, want %d", snap.Poll.NextPages, maxCollectionPages-1)
	}
}
