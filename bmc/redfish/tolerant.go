package redfish

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/rackpulse/rackpulse/bmc"
)

// Tolerant decoding. A BMC that publishes one property in another shape
// than the schema says (Links.ContainedBy as an array where the schema
// says one object, a capacity as the string "5500", a PowerState as a
// boolean) must not cost the whole resource. decodeTolerant decodes as
// encoding/json does; when a property's shape does not fit its Go type
// (a *json.UnmarshalTypeError, which names the property's path), that
// property alone is coerced to the shape the type wants where that is
// unambiguous, or left out, and the resource is decoded again. It works the
// same for gofish's schema types and the collector's own, since both
// decode with encoding/json, and every change is returned as a deviation
// for the poll report.

// maxDeviations bounds the properties fixed in one resource: past it the
// resource is malformed, not quirky.
const maxDeviations = 32

// deviation is one property decoded other than as published.
type deviation struct {
	Property, Seen, Action string
}

// shape is a JSON value's kind as a Go type wants it.
type shape int

const (
	shapeOther shape = iota
	shapeObject
	shapeArray
	shapeString
	shapeNumber
	shapeInteger
	shapeBool
)

// shapeOf is the JSON shape a Go type decodes from.
func shapeOf(t reflect.Type) shape {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return shapeOther
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return shapeObject
	case reflect.Slice, reflect.Array:
		return shapeArray
	case reflect.String:
		return shapeString
	case reflect.Float32, reflect.Float64:
		return shapeNumber
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return shapeInteger
	case reflect.Bool:
		return shapeBool
	}
	return shapeOther
}

// decodeTolerant decodes body into v (a pointer), coercing or leaving out
// the properties whose shape does not fit. It returns what it changed; an
// error means the body could not be decoded even so.
func decodeTolerant(body []byte, v any) ([]deviation, error) {
	err := json.Unmarshal(body, v)
	if err == nil {
		return nil, nil
	}
	var doc any
	var devs []deviation
	for len(devs) < maxDeviations {
		var ute *json.UnmarshalTypeError
		if !errors.As(err, &ute) || strings.Trim(ute.Field, ".") == "" {
			return devs, err
		}
		if doc == nil {
			dec := json.NewDecoder(bytes.NewReader(body))
			dec.UseNumber()
			if dec.Decode(&doc) != nil {
				return devs, err
			}
		}
		fixed := fixShape(doc, fieldPath(ute.Field), shapeOf(ute.Type), ute.Type, "")
		if len(fixed) == 0 {
			return devs, err
		}
		devs = append(devs, fixed...)
		patched, merr := json.Marshal(doc)
		if merr != nil {
			return devs, err
		}
		// Decode afresh: the failed attempt may have filled part of v.
		rv := reflect.ValueOf(v)
		if rv.Kind() == reflect.Pointer && !rv.IsNil() {
			rv.Elem().SetZero()
		}
		if err = json.Unmarshal(patched, v); err == nil {
			return devs, nil
		}
	}
	return devs, fmt.Errorf("%w (and %d more properties of unexpected shapes)", err, len(devs))
}

// fieldPath splits an UnmarshalTypeError's Field ("Links.ContainedBy";
// nested custom decoders may leave empty segments) into its keys.
func fieldPath(field string) []string {
	var out []string
	for _, k := range strings.Split(field, ".") {
		if k != "" {
			out = append(out, k)
		}
	}
	return out
}

// fixShape walks node along path (arrays on the way apply to each of
// their elements, as the error's path does not name indices) and fixes
// the property at its end. where is the path walked so far, for the
// deviation's name.
func fixShape(node any, path []string, want shape, t reflect.Type, where string) []deviation {
	switch n := node.(type) {
	case []any:
		var out []deviation
		for _, el := range n {
			out = append(out, fixShape(el, path, want, t, where)...)
		}
		return merge(out)
	case map[string]any:
		if len(path) == 0 {
			return nil
		}
		key, ok := lookupKey(n, path[0])
		if !ok {
			// Not a key: the name of an embedded struct (gofish decodes
			// through `struct{ temp; ... }`), whose fields are this
			// object's.
			if len(path) > 1 {
				return fixShape(n, path[1:], want, t, where)
			}
			return nil
		}
		name := joinProperty(where, key)
		if len(path) > 1 {
			return fixShape(n[key], path[1:], want, t, name)
		}
		val, dev, keep := coerce(n[key], want, t, key)
		if dev == nil {
			return nil
		}
		dev.Property = name
		if keep {
			n[key] = val
		} else {
			delete(n, key)
		}
		return []deviation{*dev}
	}
	return nil
}

// lookupKey finds a key as encoding/json does: exactly, else ignoring case.
func lookupKey(m map[string]any, name string) (string, bool) {
	if _, ok := m[name]; ok {
		return name, true
	}
	for k := range m {
		if strings.EqualFold(k, name) {
			return k, true
		}
	}
	return "", false
}

func joinProperty(where, key string) string {
	if where == "" {
		return key
	}
	return where + "." + key
}

// merge folds the deviations of one property in several elements of an
// array into one, naming what was seen in each.
func merge(devs []deviation) []deviation {
	var out []deviation
	seen := map[[2]string][]string{}
	for _, d := range devs {
		k := [2]string{d.Property, d.Action}
		if _, ok := seen[k]; !ok {
			out = append(out, deviation{Property: d.Property, Action: d.Action})
		}
		if !slices.Contains(seen[k], d.Seen) {
			seen[k] = append(seen[k], d.Seen)
		}
	}
	for i := range out {
		all := seen[[2]string{out[i].Property, out[i].Action}]
		if len(all) > 3 {
			all = append(all[:3:3], fmt.Sprintf("and %d more", len(all)-3))
		}
		out[i].Seen = strings.Join(all, ", ")
	}
	return out
}

// coerce turns a value into the shape wanted where that is unambiguous. It
// returns the new value, the deviation (nil when the value already fits),
// and whether to keep the property (false: leave it out).
func coerce(val any, want shape, t reflect.Type, key string) (any, *deviation, bool) {
	if fits(val, want) {
		// Another element of the same property (the error's path names no
		// index) was the one that did not fit.
		return val, nil, true
	}
	seen := describe(val)
	left := func() (any, *deviation, bool) { return nil, &deviation{Seen: seen, Action: "left out"}, false }
	switch v := val.(type) {
	case nil:
		return nil, nil, true
	case []any:
		return coerceArray(v, want, t, seen)
	case map[string]any:
		if want == shapeArray {
			return []any{v}, &deviation{Seen: seen, Action: "read as a list of one"}, true
		}
		return left()
	case string:
		switch want {
		case shapeArray:
			return []any{v}, &deviation{Seen: seen, Action: "read as a list of one"}, true
		case shapeNumber, shapeInteger:
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
				return left()
			}
			if want == shapeInteger {
				if f != math.Trunc(f) {
					return left()
				}
			}
			return json.Number(strconv.FormatFloat(f, 'f', -1, 64)), &deviation{Seen: seen, Action: "read as " + strconv.FormatFloat(f, 'f', -1, 64)}, true
		case shapeBool:
			switch strings.ToLower(strings.TrimSpace(v)) {
			case "true":
				return true, &deviation{Seen: seen, Action: "read as true"}, true
			case "false":
				return false, &deviation{Seen: seen, Action: "read as false"}, true
			}
		}
		return left()
	case json.Number:
		switch want {
		case shapeString:
			return v.String(), &deviation{Seen: seen, Action: fmt.Sprintf("read as %q", v.String())}, true
		case shapeArray:
			return []any{v}, &deviation{Seen: seen, Action: "read as a list of one"}, true
		case shapeInteger:
			// 12.0 is 12; a fraction, or out of range, is not a whole number.
			f, err := v.Float64()
			if err == nil && f == math.Trunc(f) && math.Abs(f) < 1<<53 {
				n := strconv.FormatInt(int64(f), 10)
				return json.Number(n), &deviation{Seen: seen, Action: "read as " + n}, true
			}
		}
		return left()
	case bool:
		switch want {
		case shapeString:
			// Enumerations published as booleans: only PowerState has an
			// unambiguous reading (true is On).
			if strings.EqualFold(key, "PowerState") {
				state := map[bool]string{true: "On", false: "Off"}[v]
				return state, &deviation{Seen: seen, Action: fmt.Sprintf("read as %q", state)}, true
			}
		case shapeArray:
			return []any{v}, &deviation{Seen: seen, Action: "read as a list of one"}, true
		}
		return left()
	}
	return left()
}

// coerceArray handles an array where the type wants another shape. The
// error names the element's type when an element is wrong, so an array
// whose elements partly fit is a list with bad elements (each fixed or
// left out); one whose elements all fit is an array where one value is
// wanted (its first object, its one value).
func coerceArray(v []any, want shape, t reflect.Type, seen string) (any, *deviation, bool) {
	left := func() (any, *deviation, bool) { return nil, &deviation{Seen: seen, Action: "left out"}, false }
	fit := 0
	for _, el := range v {
		if fits(el, want) {
			fit++
		}
	}
	switch {
	case fit == len(v) && want == shapeObject && len(v) > 0:
		return v[0], &deviation{Seen: seen, Action: "read the first object"}, true
	case fit == len(v) && len(v) == 1:
		return v[0], &deviation{Seen: seen, Action: "read its one element"}, true
	case fit == len(v):
		return left()
	}
	return coerceElements(v, want, t, seen)
}

// fits reports whether a JSON value decodes into the shape without error.
func fits(val any, want shape) bool {
	switch v := val.(type) {
	case nil:
		return true
	case map[string]any:
		return want == shapeObject
	case []any:
		return want == shapeArray
	case string:
		return want == shapeString
	case json.Number:
		if want == shapeInteger {
			_, err := strconv.ParseInt(v.String(), 10, 64)
			return err == nil
		}
		return want == shapeNumber
	case bool:
		return want == shapeBool
	}
	return false
}

// coerceElements fixes each element of an array that does not fit the
// element type, leaving out those that cannot be.
func coerceElements(v []any, want shape, elem reflect.Type, seen string) (any, *deviation, bool) {
	out := make([]any, 0, len(v))
	dropped, changed := 0, 0
	for _, el := range v {
		if fits(el, want) {
			out = append(out, el)
			continue
		}
		nv, dev, keep := coerce(el, want, elem, "")
		switch {
		case dev == nil:
			out = append(out, el)
		case keep:
			out = append(out, nv)
			changed++
		default:
			dropped++
		}
	}
	if dropped == 0 && changed == 0 {
		return nil, &deviation{Seen: seen, Action: "left out"}, false
	}
	action := fmt.Sprintf("%d elements read as %s", changed, shapeName(want))
	if dropped > 0 {
		action = fmt.Sprintf("%d elements left out", dropped)
		if changed > 0 {
			action = fmt.Sprintf("%d elements read as %s, %d left out", changed, shapeName(want), dropped)
		}
	}
	return out, &deviation{Seen: seen, Action: action}, true
}

func shapeName(s shape) string {
	switch s {
	case shapeObject:
		return "objects"
	case shapeArray:
		return "lists"
	case shapeString:
		return "strings"
	case shapeNumber, shapeInteger:
		return "numbers"
	case shapeBool:
		return "booleans"
	}
	return "values"
}

// describe says what a JSON value is, briefly: `string "5500"`, `array of
// 2 objects`, `boolean true`, `object`.
func describe(val any) string {
	switch v := val.(type) {
	case nil:
		return "null"
	case string:
		if len(v) > 40 {
			v = v[:40] + "..."
		}
		return fmt.Sprintf("string %q", v)
	case json.Number:
		return "number " + v.String()
	case bool:
		return fmt.Sprintf("boolean %t", v)
	case map[string]any:
		if len(v) == 0 {
			return "empty object"
		}
		return "object"
	case []any:
		kinds := map[string]int{}
		for _, el := range v {
			kinds[kindWord(el)]++
		}
		if len(kinds) == 1 {
			for k := range kinds {
				return fmt.Sprintf("array of %d %s", len(v), plural(len(v), k))
			}
		}
		return fmt.Sprintf("array of %d", len(v))
	}
	return fmt.Sprintf("%T", val)
}

// kindWord names a JSON value's kind in one word.
func kindWord(val any) string {
	switch val.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case json.Number:
		return "number"
	case bool:
		return "boolean"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	}
	return "value"
}

func plural(n int, s string) string {
	if n == 1 {
		return s
	}
	return s + "s"
}

// quirkLog collects a poll's quirks, each once. It is safe for concurrent
// use: members are read concurrently.
type quirkLog struct {
	mu   sync.Mutex
	list []bmc.Quirk
}

func (l *quirkLog) add(q bmc.Quirk) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !slices.Contains(l.list, q) {
		l.list = append(l.list, q)
	}
}

// record adds the deviations of one resource as quirks of the part. A nil
// log records nothing.
func (l *quirkLog) record(part bmc.Part, uri string, devs []deviation) {
	if l == nil {
		return
	}
	for _, d := range devs {
		l.add(bmc.Quirk{Part: part, Resource: uri, Property: d.Property, Seen: d.Seen, Action: d.Action})
	}
}

// take returns the quirks collected and starts afresh.
func (l *quirkLog) take() []bmc.Quirk {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.list
	l.list = nil
	return out
}

// decode unmarshals a part's resource tolerantly (decodeTolerant),
// recording each property it coerced or left out as a quirk of the part;
// a body it cannot decode even so is malformed. A nil log records
// nothing.
func (l *quirkLog) decode(part bmc.Part, uri string, body []byte, v any) error {
	_, err := l.decodeDeviations(part, uri, body, v)
	return err
}

// decodeDeviations is decode returning the deviations it recorded.
func (l *quirkLog) decodeDeviations(part bmc.Part, uri string, body []byte, v any) ([]deviation, error) {
	devs, err := decodeTolerant(body, v)
	l.record(part, uri, devs)
	if err != nil {
		return devs, &bmc.Error{Kind: bmc.ErrKindMalformed, Resource: uri, Err: fmt.Errorf("decoding %s: %w", uri, err)}
	}
	return devs, nil
}
