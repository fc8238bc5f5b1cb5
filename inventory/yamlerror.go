package inventory

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// YAML syntax errors and their lines.
//
// gopkg.in/yaml.v3 reports a syntax error as "yaml: line N: PROBLEM" with
// one line number, chosen in its parser.fail as follows. The parser keeps
// two 0-based marks: the problem mark (where it stopped) and, for some
// errors, a context mark (where the construct it was reading began: the
// block mapping or list, the flow collection, the quoted or plain scalar).
// It prints the context mark when that is not 0, else the problem mark,
// and it adds 1 for scanner errors only. So:
//
//   - a parser error (did not find expected key, '-' indicator, ',' or ']',
//     node content) is printed 0-based: one line early;
//   - a parser error inside a block prints where the block began, 0-based,
//     not where the parser stopped: a bad indent on line 74 of a list that
//     began on line 30 is "line 29";
//   - a scanner error with a context prints where the scalar began: a tab
//     indenting line 35 under a plain value on line 34 is "line 34";
//   - a mark on the first line (0) is never printed as context, and an
//     error on the first line has no line at all.
//
// yamlProblem recovers both lines. The line where the parser stopped is the
// shortest prefix of the file (in whole lines) that fails with the same
// error; the context line follows from the printed one once the kind of
// error is known. The problem is placed on the line of the mistake (where
// the parser stopped, except for an unclosed quote or bracket and a key
// without ':', where the mistake is where the construct began), and the
// message names the other line.

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlParserProblems are the problems gopkg.in/yaml.v3's parser (as
// against its scanner) reports; it prints their lines 0-based.
var yamlParserProblems = []string{
	"did not find expected <stream-start>",
	"did not find expected <document start>",
	"did not find expected node content",
	"did not find expected key",
	"did not find expected '-' indicator",
	"did not find expected ',' or ']'",
	"did not find expected ',' or '}'",
	"found undefined tag handle",
	"found duplicate %YAML directive",
	"found duplicate %TAG directive",
	"found incompatible YAML document",
}

// yamlError is the first error decoding every document of data.
func yamlError(data []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		if err := dec.Decode(&n); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// yamlProblem turns the YAML error err of the file's data into a Problem
// at the line of the mistake.
func yamlProblem(file string, data []byte, err error) Problem {
	msg := err.Error()
	printed, problem := 0, strings.TrimPrefix(msg, "yaml: ")
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		printed, _ = strconv.Atoi(m[1])
		problem = m[2]
	}
	stop, lines := stopLine(data, msg)
	if stop == 0 {
		// Not reproduced on a prefix: keep what the parser printed.
		return Problem{File: file, Line: printed, Message: "invalid YAML: " + problem}
	}
	context := 0
	parser := isParserProblem(problem)
	switch {
	case parser && printed > 0 && printed+1 != stop && printed+1 <= lines:
		context = printed + 1
	case !parser && printed > 0 && printed != stop:
		context = printed
	}
	if q := unclosedQuote(data, stop); q > 0 && q < stop {
		return Problem{File: file, Line: q, Message: fmt.Sprintf(
			"invalid YAML: the quoted value that starts on this line does not end on it; the parser read on to line %d and stopped: %s", stop, problem)}
	}
	// The mistake is where the construct began (unclosed, or a key without
	// its colon) or where the parser stopped.
	began, line := context, stop
	stopped := ""
	if context != 0 {
		stopped = fmt.Sprintf("; the parser stopped on line %d", stop)
	} else {
		began = stop
	}
	text := "invalid YAML: " + problem
	switch {
	case problem == "found unexpected end of stream":
		line, text = began, "invalid YAML: the quoted value that starts on this line is not closed before the end of the file"
	case problem == "could not find expected ':'":
		line, text = began, "invalid YAML: could not find expected ':' after the key on this line"+stopped
	case problem == "did not find expected ',' or ']'":
		line, text = began, "invalid YAML: the list opened with [ on this line is not closed with ]"+stopped
	case problem == "did not find expected ',' or '}'":
		line, text = began, "invalid YAML: the mapping opened with { on this line is not closed with }"+stopped
	case strings.HasPrefix(problem, "found a tab character"):
		// The context is the value before the tab, of no help.
		text += " (indent with spaces, not tabs)"
	case context == 0:
	case problem == "did not find expected key":
		text += fmt.Sprintf(" (this line is not indented like the mapping that began on line %d)", context)
	case problem == "did not find expected '-' indicator":
		text += fmt.Sprintf(" (this line is not indented like the list that began on line %d)", context)
	default:
		text += fmt.Sprintf(" (in what began on line %d)", context)
	}
	return Problem{File: file, Line: line, Message: text}
}

func isParserProblem(problem string) bool {
	for _, p := range yamlParserProblems {
		if problem == p {
			return true
		}
	}
	return false
}

// stopLine is the line where the parser stopped with the error msg: the
// number of lines of the shortest prefix of data that fails with msg. It
// is 0 when no prefix does, or when prefixes do not fail in order. lines
// is the number of lines of data.
func stopLine(data []byte, msg string) (stop, lines int) {
	var ends []int // ends[i]: the end of line i+1, its newline included
	for i, b := range data {
		if b == '\n' {
			ends = append(ends, i+1)
		}
	}
	if len(ends) == 0 || ends[len(ends)-1] != len(data) {
		ends = append(ends, len(data))
	}
	fails := func(lines int) bool {
		err := yamlError(data[:ends[lines-1]])
		return err != nil && err.Error() == msg
	}
	// Parsing reads forward and stops at the first mistake: every prefix
	// holding the line it stopped on fails the same way, and none shorter.
	lo, hi := 1, len(ends)
	if !fails(hi) {
		return 0, len(ends)
	}
	for lo < hi {
		mid := lo + (hi-lo)/2
		if fails(mid) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	if lo > 1 && fails(lo-1) {
		return 0, len(ends)
	}
	return lo, len(ends)
}

// unclosedQuote finds a quoted value that opens on one line and closes on
// line stop, where the parser stopped: a missing closing quote that YAML
// read on to the next quote in the file. It returns the line the value
// opened on, or 0. Values spanning lines are allowed in YAML, but never
// needed in an inventory; one that ends where the parser failed is the
// likely mistake.
func unclosedQuote(data []byte, stop int) int {
	lines := strings.Split(string(data), "\n")
	var quote byte // the quote of a value still open at the end of a line
	opened := 0
	block := -1 // indentation of a block scalar's key line, -1 when none
	for i, line := range lines {
		n := i + 1
		if n > stop {
			break
		}
		start := 0
		if quote != 0 {
			end := closingQuote(line, 0, quote)
			if end < 0 {
				continue
			}
			if n == stop && opened < stop {
				return opened
			}
			quote, start = 0, end+1
		} else {
			indent := len(line) - len(strings.TrimLeft(line, " "))
			if block >= 0 && (strings.TrimSpace(line) == "" || indent > block) {
				continue
			}
			block = -1
			start = indent
		}
		q, isBlock := openQuote(line, start)
		if isBlock {
			block = len(line) - len(strings.TrimLeft(line, " "))
		}
		if q != 0 {
			quote, opened = q, n
		}
	}
	return 0
}

// openQuote scans line from start for a quoted value left open at the end
// of the line, returning its quote character; isBlock reports a block
// scalar indicator (| or >) as the value.
func openQuote(line string, start int) (quote byte, isBlock bool) {
	valueStart := true
	for i := start; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '#' && (i == 0 || line[i-1] == ' ' || line[i-1] == '\t'):
			return 0, false
		case valueStart && (c == '"' || c == '\''):
			end := closingQuote(line, i+1, c)
			if end < 0 {
				return c, false
			}
			i = end
			valueStart = false
		case valueStart && (c == '|' || c == '>'):
			return 0, true
		case c == ' ' || c == '\t':
		case c == '[' || c == '{' || c == ',':
			valueStart = true
		case (c == ':' || c == '-' || c == '?') && (i+1 == len(line) || line[i+1] == ' '):
			valueStart = true
		default:
			valueStart = false
		}
	}
	return 0, false
}

// closingQuote is the index of the quote closing a value quoted with q,
// searching line from i, or -1. Within single quotes two quotes stand for
// one; within double quotes a backslash escapes the next character.
func closingQuote(line string, i int, q byte) int {
	for ; i < len(line); i++ {
		switch {
		case q == '"' && line[i] == '\\':
			i++
		case line[i] == q && q == '\'' && i+1 < len(line) && line[i+1] == '\'':
			i++
		case line[i] == q:
			return i
		}
	}
	return -1
}
