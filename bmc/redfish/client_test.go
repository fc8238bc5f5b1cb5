package redfish

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/rackpulse/rackpulse/bmc"
	"github.com/rackpulse/rackpulse/bmc/sim"
)

// readAll reads what io.ReadAll reads, whatever the announced size says.
func TestReadAllMatchesIOReadAll(t *testing.T) {
	body := strings.Repeat("0123456789", 700)
	for _, announced := range []int64{-1, 0, 1, 6999, 7000, 7001, 70000, presizeLimit + 1} {
		got, err := readAll(iotest.OneByteReader(strings.NewReader(body)), announced)
		if err != nil || string(got) != body {
			t.Errorf("announced %d: %d bytes, %v; want all %d", announced, len(got), err, len(body))
		}
	}
	if _, err := readAll(iotest.TimeoutReader(strings.NewReader(body)), 7000); err == nil {
		t.Error("a failing read returned no error")
	}
}

// A 304 to a request that named no tag is a malformed answer of that
// resource, not a success without a body.
func TestNotModifiedWithoutATagIsMalformed(t *testing.T) {
	tree := sim.NewTree()
	for uri, obj := range map[string]map[string]any{
		"/redfish/v1":         {"Id": "RootService", "Chassis": map[string]any{"@odata.id": "/redfish/v1/Chassis"}},
		"/redfish/v1/Chassis": {"Members": []any{}},
	} {
		obj["@odata.id"] = uri
		if err := tree.Set(uri, obj); err != nil {
			t.Fatal(err)
		}
	}
	b := sim.NewRedfishBMC(tree, sim.RedfishOptions{Username: testUser, Password: testPassword})
	_, ep := tlsServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/redfish/v1/Chassis" {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		b.ServeHTTP(w, r)
	}))
	c, _ := newCollector(t, ep, bmcOpts(t))
	snap := mustPoll(t, c)
	errs := partErrors(snap, bmc.PartChassis)
	if len(errs) != 1 || errs[0].Kind != bmc.ErrKindMalformed || !strings.Contains(errs[0].Message, "304") {
		t.Errorf("chassis errors %+v, want one malformed naming the 304", errs)
	}
}

// Every GET names what it accepts and who asks, carries the session's
// token (never the password), and only a conditional one If-None-Match.
func TestRequestHeaders(t *testing.T) {
	b, _ := simFleetBMC(t, sim.ProfileLegacy)
	var mu sync.Mutex
	seen := map[string]http.Header{}
	_, ep := tlsServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			mu.Lock()
			seen[r.URL.Path+" "+r.Header.Get("If-None-Match")] = r.Header.Clone()
			mu.Unlock()
		}
		b.Handler().ServeHTTP(w, r)
	}))
	c, clock := newCollector(t, ep, bmcOpts(t))
	mustPoll(t, c)
	clock.advance(30 * time.Second)
	mustPoll(t, c)
	mu.Lock()
	defer mu.Unlock()
	conditional := 0
	for key, h := range seen {
		if h.Get("Accept") != "application/json" || h.Get("User-Agent") != userAgent {
			t.Errorf("%s: Accept %q, User-Agent %q", key, h.Get("Accept"), h.Get("User-Agent"))
		}
		if root := strings.TrimSuffix(strings.Fields(key)[0], "/") == "/redfish/v1"; !root && h.Get("X-Auth-Token") == "" {
			t.Errorf("%s: no session token", key)
		}
		if h.Get("Authorization") != "" {
			t.Errorf("%s: credentials sent with a session open", key)
		}
		if h.Get("If-None-Match") != "" {
			conditional++
		}
	}
	if conditional == 0 {
		t.Error("no conditional GET in a steady poll of a legacy BMC")
	}
}

// linkOnlyByMap is linkOnly as it was first written: the member decoded
// into a map of its properties. It is the reference linkOnly must match.
func linkOnlyByMap(raw json.RawMessage) (string, bool) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return "", false
	}
	var id string
	if v, ok := fields["@odata.id"]; ok {
		_ = json.Unmarshal(v, &id)
	}
	return id, len(fields) == 1 && id != ""
}

var linkOnlyCases = []string{
	`{"@odata.id":"/redfish/v1/Systems/1"}`,
	` { "@odata.id" : "/redfish/v1/Systems/1" } `,
	`{"@odata.id":"/redfish/v1/Systems/1","Name":"node"}`,
	`{"Name":"node, with a comma","@odata.id":"/redfish/v1/Systems/1"}`,
	`{"Links":{"@odata.id":"/x","a":[1,{"b":"}"}]},"@odata.id":"/y"}`,
	`{"Reading":{"@odata.id":"/not/the/member"}}`,
	`{"@odata.id":""}`,
	`{"@odata.id":5}`,
	`{"@odata.id":null}`,
	`{"@odata.id":"/a\"b\\c"}`,
	`{"@odata\u002eid":"/escaped/key"}`,
	`{"@odata.idx":"/other"}`,
	`{}`,
	`[]`,
	`"/redfish/v1/Systems/1"`,
	`null`,
	`{"@odata.id":"/redfish/v1/Chassis/1/Sensors/CPU1Temp","@odata.type":"#Sensor.v1_7_0.Sensor","Reading":41.5,"Thresholds":{"UpperCritical":{"Reading":95}},"Status":{"State":"Enabled","Health":"OK"}}`,
}

// linkOnly answers as the map-based reference does, expanded members
// (whole sensors), bare links, odd shapes and escapes included.
func TestLinkOnlyMatchesTheMapDecoding(t *testing.T) {
	for _, c := range linkOnlyCases {
		id, ok := linkOnly(json.RawMessage(c))
		wantID, wantOK := linkOnlyByMap(json.RawMessage(c))
		if id != wantID || ok != wantOK {
			t.Errorf("linkOnly(%s) = %q, %v; want %q, %v", c, id, ok, wantID, wantOK)
		}
	}
}

func FuzzLinkOnly(f *testing.F) {
	for _, c := range linkOnlyCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if !json.Valid(raw) {
			return // members come from a decoded collection: valid JSON
		}
		var fields map[string]json.RawMessage
		if json.Unmarshal(raw, &fields) == nil {
			if n, _ := topLevelProperties(raw, "@odata.id"); n != len(fields) {
				return // a repeated key: the map keeps one, linkOnly counts each
			}
		}
		id, ok := linkOnly(raw)
		wantID, wantOK := linkOnlyByMap(raw)
		if id != wantID || ok != wantOK {
			t.Errorf("linkOnly(%q) = %q, %v; want %q, %v", raw, id, ok, wantID, wantOK)
		}
	})
}
