package inventory

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// An inventory being edited can hold anything: Load must report it, never
// panic, and an inventory it accepts must resolve into endpoints.
func FuzzLoad(f *testing.F) {
	for _, name := range []string{"typos.yaml", "units.yaml", "tls.yaml", "addresses.yaml", "inherit.yaml", "syntax.yaml", "alerts.yaml", "alerts-inherit.yaml"} {
		if b, err := os.ReadFile(filepath.Join("testdata", name)); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("site: x\nrooms: [{name: r, rows: [{name: a, racks: [{name: k, servers: [{name: s, bmc: {address: 10.0.0.1, credentials: c}}]}]}]}]\ncredentials: {c: {username: u, password: p}}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(t.TempDir(), "inventory.yaml")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		inv, problems, err := Load(path)
		if err != nil {
			if len(problems.Errors()) == 0 {
				t.Fatalf("Load failed without an error problem: %v", err)
			}
			return
		}
		if _, err := inv.Endpoints(nil); err != nil {
			t.Fatalf("a valid inventory does not resolve: %v", err)
		}
	})
}

// A password or CA file that is a FIFO (or a device) is refused at once: a
// reload must never block on it.
func TestSpecialFilesAreRefusedNotRead(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "pw.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	inv := filepath.Join(dir, "inventory.yaml")
	body := "site: x\ncredentials:\n  c: {username: u, password_file: " + fifo + ", ca_file: /dev/zero}\n" +
		"rooms: [{name: r, rows: [{name: a, racks: [{name: k, servers: [{name: s, bmc: {address: 10.0.0.1, credentials: c}}]}]}]}]\n"
	if err := os.WriteFile(inv, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan Problems, 1)
	go func() { _, problems, _ := Load(inv); done <- problems }()
	select {
	case problems := <-done:
		var pw, ca bool
		for _, p := range problems.Errors() {
			pw = pw || strings.Contains(p.Message, "password_file") && strings.Contains(p.Message, "not a regular file")
			ca = ca || strings.Contains(p.Message, "ca_file") && strings.Contains(p.Message, "not a regular file")
		}
		if !pw || !ca {
			t.Errorf("problems %v; want the FIFO password file and the /dev/zero CA file refused as not regular files", problems)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Load blocked on a FIFO or device file")
	}
}
