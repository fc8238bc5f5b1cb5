package sim

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// encodingJSON is what the BMC wrote before appendJSON: encoding/json's
// Encoder with HTML escaping off, without its trailing newline.
func encodingJSON(t *testing.T, v any) ([]byte, error) {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func sameAsEncodingJSON(t *testing.T, name string, v any) {
	t.Helper()
	want, wantErr := encodingJSON(t, v)
	got, err := appendJSON(nil, v)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("%s: error %v, encoding/json's %v", name, err, wantErr)
	}
	if err == nil && !bytes.Equal(got, want) {
		t.Fatalf("%s:\n got %s\nwant %s", name, got, want)
	}
}

// Every resource of every profile, at a few moments and with every fault
// the profiles know, encodes to the bytes encoding/json writes.
func TestAppendJSONMatchesEncodingJSONOnEveryResource(t *testing.T) {
	for _, name := range []string{ProfileModern, ProfileLegacy} {
		m, clock := newTestMachine(t, name)
		for step := range 3 {
			for _, uri := range m.profile.paths() {
				if o, ok := m.resource(uri); ok {
					sameAsEncodingJSON(t, name+" "+uri, o)
				}
			}
			clock.advance(7 * time.Minute)
			if step == 0 {
				for _, f := range []Fault{FaultDIMMUncorrectable, FaultPSUFail, FaultCPUHot, FaultDriveFail} {
					if err := m.inject(FaultSpec{Fault: f}); err != nil {
						t.Fatalf("inject %s: %v", f, err)
					}
				}
			}
		}
	}
}

// The DMTF mockups, decoded as the simulator serves them (numbers kept
// exact), encode to the same bytes too.
func TestAppendJSONMatchesEncodingJSONOnMockups(t *testing.T) {
	dirs, err := os.ReadDir(fixturesDir(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		tree, err := LoadMockup(filepath.Join(fixturesDir(t), d.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for _, uri := range tree.Paths() {
			o, _ := tree.Get(uri)
			sameAsEncodingJSON(t, d.Name()+" "+uri, o)
		}
	}
}

func TestAppendJSONEdgeCases(t *testing.T) {
	cases := map[string]any{
		"escapes":        map[string]any{"s": "a\"b\\c\n\r\t\b\f\x00\x1f<>&'", "é": "ünïcødé ☃"},
		"invalid utf-8":  "a\xffb\xc3",
		"line separator": "x\u2028y\u2029z",
		"floats":         []any{0.0, math.Copysign(0, -1), 1.0, 266.6, 1e-7, 1e-6, 1e20, 1e21, 123456789012345678.0, 1e308, -1e-300, 5e-324, math.MaxFloat64},
		"ints":           []any{0, -1, int64(math.MaxInt64), uint64(math.MaxUint64)},
		"nils":           map[string]any{"m": map[string]any(nil), "a": []any(nil), "s": []string(nil), "n": nil},
		"nested":         map[string]any{"b": []map[string]any{{"z": 1, "a": true}}, "a": []string{"x", "y"}, "c": map[string]any{}},
		"other types":    map[string]any{"n": json.Number("12.50"), "f32": float32(266.6), "i32": int32(-4), "raw": json.RawMessage(`{"b":1, "a":2}`)},
	}
	for name, v := range cases {
		sameAsEncodingJSON(t, name, v)
	}
	for _, bad := range []any{math.NaN(), math.Inf(1), map[string]any{"w": math.Inf(-1)}} {
		if _, err := appendJSON(nil, bad); err == nil {
			t.Errorf("%v encoded without an error", bad)
		}
	}
}
