package inventory

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Load reads and validates an inventory: one YAML file, or a directory whose
// *.yaml and *.yml files (not those starting with a dot, not
// subdirectories) are merged in name order. It never does network I/O; it
// reads the files, checks that password_env variables are set and that
// password and CA files are readable.
//
// It returns the inventory and every problem found, sorted by file and line.
// err is non-nil, a Problems holding the errors, when any problem is an
// error; the inventory is then returned for display only and must not be
// polled. Load keeps no state: calling it again on a changed file is a
// fresh, independent read.
func Load(path string) (*Inventory, Problems, error) {
	return load(path, os.LookupEnv)
}

func load(path string, lookupEnv func(string) (string, bool)) (*Inventory, Problems, error) {
	files, problems := listFiles(path)
	var frags []fragment
	for _, file := range files {
		frag, ps := loadFile(file, lookupEnv)
		problems = append(problems, ps...)
		if frag != nil {
			frags = append(frags, *frag)
		}
	}
	var inv *Inventory
	if len(frags) > 0 {
		var ps Problems
		inv, ps = merge(frags)
		problems = append(problems, ps...)
		problems = append(problems, check(inv)...)
	}
	problems.sort()
	if errs := problems.Errors(); len(errs) > 0 {
		return inv, problems, errs
	}
	return inv, problems, nil
}

// listFiles returns the inventory files under path.
func listFiles(path string) ([]string, Problems) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, Problems{{File: path, Message: fmt.Sprintf("cannot read inventory: %v", unwrapPathError(err))}}
	}
	if !fi.IsDir() {
		return []string{path}, nil
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, Problems{{File: path, Message: fmt.Sprintf("cannot list inventory directory: %v", unwrapPathError(err))}}
	}
	var files []string
	for _, e := range entries {
		name := e.Name()
		ext := filepath.Ext(name)
		if e.IsDir() || strings.HasPrefix(name, ".") || (ext != ".yaml" && ext != ".yml") {
			continue
		}
		files = append(files, filepath.Join(path, name))
	}
	slices.Sort(files)
	if len(files) == 0 {
		return nil, Problems{{File: path, Message: "inventory directory holds no *.yaml or *.yml file"}}
	}
	return files, nil
}

func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// fragment is what one file contributed, before merging.
type fragment struct {
	inv  *Inventory
	site Source
}

func loadFile(file string, lookupEnv func(string) (string, bool)) (*fragment, Problems) {
	data, err := readRegularFile(file, maxInventoryFileBytes)
	if err != nil {
		return nil, Problems{{File: file, Message: fmt.Sprintf("cannot read: %v", unwrapPathError(err))}}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, Problems{{File: file, Message: "file is empty"}}
		}
		return nil, Problems{yamlProblem(file, data, err)}
	}
	d := &decoder{file: file, dir: filepath.Dir(file), lookupEnv: lookupEnv}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		d.errorf(&extra, "", "more than one YAML document; put one inventory document per file")
	case !errors.Is(err, io.EOF):
		// A broken document after the first is still a broken file.
		d.problems = append(d.problems, yamlProblem(file, data, err))
	}
	inv, site := d.document(&root)
	return &fragment{inv: inv, site: site}, d.problems
}

// merge joins the fragments of a directory inventory: one site name, rooms
// merged by name, rows by name within a room, credential profiles and racks
// each defined once, site defaults in one file only.
func merge(frags []fragment) (*Inventory, Problems) {
	var ps Problems
	errorAt := func(src Source, format string, args ...any) {
		ps = append(ps, Problem{File: src.File, Line: src.Line, Path: src.Path, Message: fmt.Sprintf(format, args...)})
	}
	out := &Inventory{Credentials: map[string]CredentialProfile{}}
	var siteSrc Source
	for _, f := range frags {
		in := f.inv
		out.Files = append(out.Files, in.Files...)
		switch {
		case in.Site == "":
		case out.Site == "":
			out.Site, siteSrc = in.Site, f.site
		case in.Site != out.Site:
			errorAt(f.site, "site %q differs from site %q in %s; every file of an inventory names the same site", in.Site, out.Site, siteSrc.File)
		}
		for _, name := range sortedKeys(in.Credentials) {
			c := in.Credentials[name]
			if prev, dup := out.Credentials[name]; dup {
				errorAt(c.Source, "credential profile %q already defined at %s", name, where(prev.Source, c.Source))
				continue
			}
			out.Credentials[name] = c
		}
		mergeDefaults(&out.Defaults, in.Defaults, "site", errorAt)
		for _, room := range in.Rooms {
			i := slices.IndexFunc(out.Rooms, func(r Room) bool { return r.Name == room.Name })
			if i < 0 || room.Source.File == out.Rooms[i].Source.File {
				// New room, or a name repeated within one file (reported).
				out.Rooms = append(out.Rooms, room)
				continue
			}
			dst := &out.Rooms[i]
			mergeDefaults(&dst.Defaults, room.Defaults, "room "+room.Name, errorAt)
			for _, row := range room.Rows {
				j := slices.IndexFunc(dst.Rows, func(r Row) bool { return r.Name == row.Name })
				if j < 0 || row.Source.File == dst.Rows[j].Source.File {
					dst.Rows = append(dst.Rows, row)
					continue
				}
				mergeDefaults(&dst.Rows[j].Defaults, row.Defaults, "row "+row.Name, errorAt)
				dst.Rows[j].Racks = append(dst.Rows[j].Racks, row.Racks...)
			}
		}
	}
	fillNames(out)
	return out, ps
}

// mergeDefaults takes src's defaults into dst unless dst has some already.
func mergeDefaults(dst *Defaults, src Defaults, level string, errorAt func(Source, string, ...any)) {
	if src.Source.File == "" {
		return
	}
	if dst.Source.File != "" {
		errorAt(src.Source, "defaults for %s already set at %s; set them in one file only", level, where(dst.Source, src.Source))
		return
	}
	*dst = src
}

// where names a location: "line N" within the same file, "FILE:N" across
// files.
func where(at, from Source) string {
	if at.File == from.File {
		return "line " + strconv.Itoa(at.Line)
	}
	return at.File + ":" + strconv.Itoa(at.Line)
}

func fillNames(inv *Inventory) {
	for i := range inv.Rooms {
		room := &inv.Rooms[i]
		for j := range room.Rows {
			row := &room.Rows[j]
			row.Room = room.Name
			for k := range row.Racks {
				rack := &row.Racks[k]
				rack.Room, rack.Row = room.Name, row.Name
				for l := range rack.Servers {
					s := &rack.Servers[l]
					s.Room, s.Row, s.Rack = room.Name, row.Name, rack.Name
				}
			}
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
