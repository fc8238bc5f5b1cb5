package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/rackpulse/rackpulse/bmc/sim"
)

// repoRoot is the repository's root directory.
func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// readmeTour returns the commands of the README's shell block that
// follows the marker <!-- tour: NAME -->, one per line, comments kept.
func readmeTour(t *testing.T, name string) []string {
	t.Helper()
	f, err := os.Open(filepath.Join(repoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	marker := "<!-- tour: " + name + " -->"
	var lines []string
	state := 0 // 0: before the marker, 1: before the block, 2: in it
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case state == 0 && strings.TrimSpace(line) == marker:
			state = 1
		case state == 1 && strings.HasPrefix(line, "```"):
			state = 2
		case state == 2 && strings.HasPrefix(line, "```"):
			return lines
		case state == 2 && strings.TrimSpace(line) != "":
			lines = append(lines, line)
		}
	}
	t.Fatalf("README.md has no shell block after %s", marker)
	return nil
}

// runTour runs the tour's commands with bash -e in dir, as a new user
// would from the clone's root: bin/rackpulse is the binary under test.
// `make build` lines are what built it and are not run again.
func runTour(t *testing.T, dir string, lines []string) string {
	t.Helper()
	var script []string
	for _, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "make ") {
			continue
		}
		script = append(script, l)
	}
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", strings.Join(script, "\n"))
	cmd.Dir = dir
	// A fresh user's environment: none of the variables the tour exports.
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the README's tour fails: %v\n--- commands\n%s\n--- output\n%s", err, strings.Join(script, "\n"), out)
	}
	return string(out)
}

// tourDir is a directory laid out like a fresh clone for the tour: the
// configs and bin/rackpulse built from this tree.
func tourDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin", "rackpulse")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	src := filepath.Join(repoRoot(t), "configs")
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "configs"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.IsDir() || e.Name() == "inventory.yaml" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "configs", e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// The README's tour works as written from a fresh clone: the inventory
// commands on the example inventory, and probe on the simulated fleet of
// `make run` (started here as make run starts it, on free ports).
func TestReadmeTour(t *testing.T) {
	dir := tourDir(t)

	out := runTour(t, dir, readmeTour(t, "offline"))
	if !strings.Contains(out, "ok: 1 site") || !strings.Contains(out, "rack") {
		t.Errorf("inventory validate and show printed:\n%s", out)
	}

	// make run's fleet: its size, mix and password (.ci/demo, Makefile).
	t.Setenv(sim.PasswordEnv, "sim-password")
	startSimCommand(t, "--count", "40", "--mix", "modern=40,legacy=30,ipmi=30",
		"--base-port", "0", "--ipmi-base-port", "0", "--admin", "127.0.0.1:0", "--out", filepath.Join(dir, "var", "sim"))
	out = runTour(t, dir, readmeTour(t, "with make run"))
	for _, want := range []string{"rack-01-u01", `"server": "rack-01-u01"`, "rack-02-u03", "ipmi"} {
		if !strings.Contains(out, want) {
			t.Errorf("the probe commands' output lacks %q:\n%s", want, out)
		}
	}
}
