package sim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// ServiceRootPath is the URI of the Redfish service root, without the
// trailing slash.
const ServiceRootPath = "/redfish/v1"

// Tree is a Redfish resource tree: URI path ("/redfish/v1/Chassis/1U") ->
// JSON object. Paths are kept without a trailing slash. Safe for concurrent
// use.
type Tree struct {
	mu        sync.RWMutex
	resources map[string][]byte
}

// NewTree returns an empty tree.
func NewTree() *Tree {
	return &Tree{resources: make(map[string][]byte)}
}

// LoadMockup reads a DMTF mockup directory: every <dir>/<sub path>/index.json
// becomes the resource /redfish/v1/<sub path>. Files other than index.json
// ($metadata XML, registry files) are not served.
func LoadMockup(dir string) (*Tree, error) {
	info, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("reading mockup %s: %w", dir, err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("reading mockup %s: not a directory", dir)
	}
	t := NewTree()
	err = filepath.WalkDir(dir, func(file string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || d.Name() != "index.json" {
			return nil
		}
		rel, err := filepath.Rel(dir, filepath.Dir(file))
		if err != nil {
			return err
		}
		data, err := os.ReadFile(file)
		if err != nil {
			return fmt.Errorf("reading mockup resource %s: %w", file, err)
		}
		var obj map[string]any
		if err := decodeJSON(data, &obj); err != nil {
			return fmt.Errorf("reading mockup resource %s: %w", file, err)
		}
		uri := ServiceRootPath
		if rel != "." {
			uri += "/" + filepath.ToSlash(rel)
		}
		t.resources[normalizePath(uri)] = compactJSON(data)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading mockup %s: %w", dir, err)
	}
	if _, ok := t.resources[ServiceRootPath]; !ok {
		return nil, fmt.Errorf("reading mockup %s: no service root (index.json)", dir)
	}
	return t, nil
}

// Set stores obj (anything that marshals to a JSON object) at uri.
func (t *Tree) Set(uri string, obj any) error {
	data, err := json.Marshal(obj)
	if err != nil {
		return fmt.Errorf("encoding resource %s: %w", uri, err)
	}
	if len(data) == 0 || data[0] != '{' {
		return fmt.Errorf("encoding resource %s: not a JSON object", uri)
	}
	t.mu.Lock()
	t.resources[normalizePath(uri)] = data
	t.mu.Unlock()
	return nil
}

// Get returns a fresh copy of the resource at uri, which the caller may
// change.
func (t *Tree) Get(uri string) (map[string]any, bool) {
	t.mu.RLock()
	data, ok := t.resources[normalizePath(uri)]
	t.mu.RUnlock()
	if !ok {
		return nil, false
	}
	var obj map[string]any
	if err := decodeJSON(data, &obj); err != nil {
		// Only valid objects are ever stored.
		return nil, false
	}
	return obj, true
}

// Delete removes the resource at uri.
func (t *Tree) Delete(uri string) {
	t.mu.Lock()
	delete(t.resources, normalizePath(uri))
	t.mu.Unlock()
}

// Paths lists every resource path, sorted.
func (t *Tree) Paths() []string {
	t.mu.RLock()
	paths := make([]string, 0, len(t.resources))
	for p := range t.resources {
		paths = append(paths, p)
	}
	t.mu.RUnlock()
	sort.Strings(paths)
	return paths
}

// Len is the number of resources.
func (t *Tree) Len() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.resources)
}

// resource implements resourceSource.
func (t *Tree) resource(uri string) (map[string]any, bool) { return t.Get(uri) }

// normalizePath cleans a URI path and drops any trailing slash.
func normalizePath(p string) string {
	if p == "" {
		return "/"
	}
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return path.Clean(p)
}

// decodeJSON decodes keeping numbers exact, so that a mockup's values are
// served as they were written.
func decodeJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after JSON value")
	}
	return nil
}

func compactJSON(data []byte) []byte {
	var buf bytes.Buffer
	if err := json.Compact(&buf, data); err != nil {
		return data
	}
	return buf.Bytes()
}
