package inventory

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Problem is one thing wrong with an inventory, located by file, line and
// YAML path (rooms[0].rows[1].racks[3].servers[7].bmc.address).
type Problem struct {
	File string `json:"file"`
	// Line is 1-based; 0 when the problem concerns the whole file.
	Line int `json:"line,omitempty"`
	// Path is the YAML path of the offending node; empty for the document.
	Path    string `json:"path,omitempty"`
	Message string `json:"message"`
	// Warning marks a problem that does not stop the inventory being used.
	Warning bool `json:"warning,omitempty"`
}

// String formats the problem as "FILE:LINE: PATH: MESSAGE", prefixed with
// "warning: " for warnings. Parts that are not known are left out.
func (p Problem) String() string {
	var b strings.Builder
	if p.Warning {
		b.WriteString("warning: ")
	}
	if p.File != "" {
		b.WriteString(p.File)
		if p.Line > 0 {
			b.WriteString(":")
			b.WriteString(strconv.Itoa(p.Line))
		}
		b.WriteString(": ")
	}
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// Problems is every problem found in an inventory. As an error it holds the
// errors only (see Load).
type Problems []Problem

// Error lists the problems, one per line.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Errors returns the problems that are errors.
func (ps Problems) Errors() Problems {
	return ps.filter(false)
}

// Warnings returns the problems that are warnings.
func (ps Problems) Warnings() Problems {
	return ps.filter(true)
}

func (ps Problems) filter(warning bool) Problems {
	var out Problems
	for _, p := range ps {
		if p.Warning == warning {
			out = append(out, p)
		}
	}
	return out
}

// Files returns the distinct files the problems are in, sorted.
func (ps Problems) Files() []string {
	var files []string
	for _, p := range ps {
		if p.File != "" && !slices.Contains(files, p.File) {
			files = append(files, p.File)
		}
	}
	slices.Sort(files)
	return files
}

// sort orders problems by file and line; problems on one line keep the
// order in which they were found.
func (ps Problems) sort() {
	slices.SortStableFunc(ps, func(a, b Problem) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line))
	})
}

// Summary is the closing line of `rackpulse inventory validate`: the counts
// of errors and warnings and the files they are in, or, for a usable
// inventory, what it holds.
func Summary(inv *Inventory, ps Problems) string {
	errs, warns := len(ps.Errors()), len(ps.Warnings())
	if errs > 0 {
		s := plural(errs, "error", "errors")
		if warns > 0 {
			s += ", " + plural(warns, "warning", "warnings")
		}
		return s + " in " + plural(len(ps.Files()), "file", "files")
	}
	var st Stats
	if inv != nil {
		st = inv.Stats()
	}
	s := fmt.Sprintf("ok: 1 site, %s, %s, %s, %s",
		plural(st.Rooms, "room", "rooms"), plural(st.Rows, "row", "rows"),
		plural(st.Racks, "rack", "racks"), plural(st.Servers, "server", "servers"))
	if warns > 0 {
		s += " (" + plural(warns, "warning", "warnings") + ")"
	}
	return s
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}
