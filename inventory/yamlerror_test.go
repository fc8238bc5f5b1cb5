package inventory

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// realisticInventory is a valid inventory of some 130 lines, as an
// operator writes one: comments, credential profiles, defaults at three
// levels, two racks of ten servers each in block style. Line numbers the
// tests rely on are checked by lineNumber.
func realisticInventory() []string {
	lines := strings.Split(strings.TrimPrefix(`
# dc1 inventory: hall 1, row A
site: dc1

credentials:
  default:
    username: admin
    password_env: BMC_PASSWORD
  ipmi:
    username: ADMIN
    password_env: BMC_PASSWORD
    cipher_suite: 17

defaults:
  bmc:
    credentials: default
    protocol: redfish
    poll_interval: 30s

rooms:
  - name: hall-1
    defaults:
      bmc:
        request_timeout: 10s
    rows:
      - name: row-a
        defaults:
          bmc: {slow_interval: 5m}
        racks:
          - name: r12
            power_budget_watts: 12000
            height_units: 42
            servers:
`, "\n"), "\n")
	lines = lines[:len(lines)-1] // the text ends with a newline
	server := func(rack, subnet, u int, quoted bool) {
		model := "PowerEdge R650"
		if quoted {
			model = `"PowerEdge R650"`
		}
		lines = append(lines,
			fmt.Sprintf("              - name: r%d-u%02d", rack, u),
			fmt.Sprintf("                position: %d", u),
			fmt.Sprintf("                model: %s", model),
			"                bmc:",
			fmt.Sprintf("                  address: 10.0.%d.%d", subnet, u),
			"                  poll_interval: 30s",
		)
	}
	for u := 1; u <= 10; u++ {
		server(12, 12, u, u == 2)
	}
	lines = append(lines,
		"          - name: r13",
		"            power_budget_watts: 9000",
		"            defaults:",
		"              bmc: {credentials: ipmi, protocol: ipmi}",
		"            servers:",
	)
	for u := 1; u <= 10; u++ {
		server(13, 13, u, false)
	}
	return lines
}

// lineNumber returns the 1-based line number of the line equal to text.
func lineNumber(t *testing.T, lines []string, text string) int {
	t.Helper()
	for i, l := range lines {
		if l == text {
			return i + 1
		}
	}
	t.Fatalf("no line %q", text)
	return 0
}

func writeLines(t *testing.T, lines []string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "dc1.yaml")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRealisticInventoryIsValid(t *testing.T) {
	lines := realisticInventory()
	if got := lineNumber(t, lines, "          - name: r12"); got != 29 {
		t.Fatalf("rack r12 begins on line %d, the tests want 29", got)
	}
	if got := lineNumber(t, lines, "                model: PowerEdge R650"); got != 35 {
		t.Fatalf("server r12-u01's model is on line %d, the tests want 35", got)
	}
	if got := lineNumber(t, lines, "                  address: 10.0.12.7"); got != 73 {
		t.Fatalf("server r12-u07's address is on line %d, the tests want 73", got)
	}
	_, problems, err := load(writeLines(t, lines), testEnv)
	if err != nil {
		t.Fatalf("the unbroken inventory has errors: %v", err)
	}
	if len(problems) != 0 {
		t.Fatalf("the unbroken inventory has problems: %v", problems)
	}
}

// TestYAMLErrorLines breaks the realistic inventory at known lines and
// checks that the one problem reported is on the line of the mistake and
// names the other line involved.
func TestYAMLErrorLines(t *testing.T) {
	tests := []struct {
		name string
		// edit changes lines (0-based index = line - 1).
		edit func(lines []string) []string
		// yamlSays is the line yaml.v3's own message gives (0: none).
		yamlSays int
		wantLine int
		want     string
	}{
		{
			// yaml.v3 says line 34: the value before the tab.
			name: "tab indenting line 35",
			edit: func(l []string) []string {
				l[34] = "\t\t" + strings.TrimPrefix(l[34], strings.Repeat(" ", 16))
				return l
			},
			yamlSays: 34,
			wantLine: 35,
			want:     "invalid YAML: found a tab character that violates indentation (indent with spaces, not tabs)",
		},
		{
			name: "tab after the indentation of line 35",
			edit: func(l []string) []string {
				l[34] = strings.Repeat(" ", 14) + "\t" + strings.TrimLeft(l[34], " ")
				return l
			},
			yamlSays: 34,
			wantLine: 35,
			want:     "invalid YAML: found a tab character that violates indentation (indent with spaces, not tabs)",
		},
		{
			// The quote runs on to the next quote in the file, on line 41,
			// where the parser stops.
			name: "unclosed quote on line 35 closed by a later quote",
			edit: func(l []string) []string {
				l[34] = `                model: "PowerEdge R650`
				return l
			},
			yamlSays: 32,
			wantLine: 35,
			want:     "invalid YAML: the quoted value that starts on this line does not end on it; the parser read on to line 41 and stopped: ",
		},
		{
			name: "unclosed quote on line 35 running to the end of the file",
			edit: func(l []string) []string {
				l[34] = `                model: 'PowerEdge R650`
				return l
			},
			yamlSays: 35,
			wantLine: 35,
			want:     "invalid YAML: the quoted value that starts on this line is not closed before the end of the file",
		},
		{
			// yaml.v3 says line 28: where the racks list began, 0-based.
			name: "bad indent on line 74 in the list that began on line 29",
			edit: func(l []string) []string {
				l[73] = "           poll_interval: 30s"
				return l
			},
			yamlSays: 28,
			wantLine: 74,
			want:     "invalid YAML: did not find expected '-' indicator (this line is not indented like the list that began on line 29)",
		},
		{
			// yaml.v3 says line 68: where server r12-u07 began, 0-based.
			name: "bad indent on line 74 in the mapping that began on line 69",
			edit: func(l []string) []string {
				l[73] = "                 poll_interval: 30s"
				return l
			},
			yamlSays: 68,
			wantLine: 74,
			want:     "invalid YAML: did not find expected key (this line is not indented like the mapping that began on line 69)",
		},
		{
			// yaml.v3 says line 32: where server r12-u01 began, 0-based.
			name: "list item among mapping keys on line 35",
			edit: func(l []string) []string {
				l[34] = "                - model: PowerEdge R650"
				return l
			},
			yamlSays: 32,
			wantLine: 35,
			want:     "invalid YAML: ",
		},
		{
			name: "key without a colon on line 35",
			edit: func(l []string) []string {
				l[34] = "                model PowerEdge R650"
				return l
			},
			yamlSays: 35,
			wantLine: 35,
			want:     "invalid YAML: could not find expected ':' after the key on this line",
		},
		{
			name: "unclosed flow list on line 35",
			edit: func(l []string) []string {
				l[34] = "                model: [PowerEdge R650"
				return l
			},
			yamlSays: 34,
			wantLine: 35,
			want:     "invalid YAML: the list opened with [ on this line is not closed with ]",
		},
		{
			name: "value indented too deep on line 35",
			edit: func(l []string) []string {
				l[34] = "                  model: PowerEdge R650"
				return l
			},
			yamlSays: 35,
			wantLine: 35,
			want:     "invalid YAML: mapping values are not allowed in this context",
		},
		{
			name: "unknown anchor on line 35",
			edit: func(l []string) []string {
				l[34] = "                model: *r650"
				return l
			},
			yamlSays: 0,
			wantLine: 35,
			want:     "invalid YAML: unknown anchor 'r650' referenced",
		},
		{
			name: "broken second document",
			edit: func(l []string) []string {
				return append(l, "---", "site: dc2", "rooms: [")
			},
			yamlSays: 160,
			wantLine: 160, // the last line: 157 + 3
			want:     "invalid YAML: did not find expected node content",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeLines(t, tt.edit(realisticInventory()))
			_, problems, err := load(path, testEnv)
			if err == nil {
				t.Fatal("load accepted the broken inventory")
			}
			var yamlProblems Problems
			for _, p := range problems {
				if strings.HasPrefix(p.Message, "invalid YAML") {
					yamlProblems = append(yamlProblems, p)
				}
			}
			if len(yamlProblems) != 1 {
				t.Fatalf("want one YAML problem, got:\n%v", problems)
			}
			p := yamlProblems[0]
			if said := yamlSays(t, path); said != tt.yamlSays {
				t.Errorf("yaml.v3 printed line %d, the test expects it to print %d", said, tt.yamlSays)
			}
			if p.File != path || p.Line != tt.wantLine || !strings.HasPrefix(p.Message, tt.want) {
				t.Errorf("got  %s\nwant %s:%d: %s…", p, path, tt.wantLine, tt.want)
			}
		})
	}
}

// TestYAMLErrorFirstLine: yaml.v3 prints no line for a mistake on line 1.
func TestYAMLErrorFirstLine(t *testing.T) {
	path := writeLines(t, []string{`site: "dc1\q"`, "rooms: []"})
	_, problems, _ := load(path, testEnv)
	if len(problems) != 1 || problems[0].Line != 1 {
		t.Fatalf("want one problem on line 1, got %v", problems)
	}
}

// yamlSays is the line number in yaml.v3's own error for the file, 0 when
// it gives none.
func yamlSays(t *testing.T, path string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	yerr := yamlError(data)
	if yerr == nil {
		t.Fatal("yaml.v3 parses the file")
	}
	var line int
	if m := yamlLine.FindStringSubmatch(yerr.Error()); m != nil {
		fmt.Sscan(m[1], &line)
	}
	return line
}
