package bmc

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeCA(t *testing.T, file, name string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// Collectors sharing CertPools get one pool per CA file; an edited file a
// new one; a bad file an error naming it; nil pools parse every time.
func TestCertPoolsShareOnePoolPerFile(t *testing.T) {
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	writeCA(t, ca, "first")
	pools := NewCertPools()
	a, err := pools.Pool(ca)
	if err != nil {
		t.Fatal(err)
	}
	b, err := pools.Pool(ca)
	if err != nil || a != b {
		t.Fatalf("second read: %p, %v; want the first pool %p", b, err, a)
	}
	writeCA(t, ca, "second")
	c, err := pools.Pool(ca)
	if err != nil || c == a || c.Equal(a) {
		t.Fatalf("after the file changed: %p (equal %v), %v; want a new pool", c, c != nil && c.Equal(a), err)
	}
	var none *CertPools
	d, err := none.Pool(ca)
	if err != nil || d == c || !d.Equal(c) {
		t.Errorf("nil pools: %p, %v; want a pool of its own with the same certificates", d, err)
	}
	bad := filepath.Join(dir, "bad.pem")
	if err := os.WriteFile(bad, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := pools.Pool(bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("bad CA file: %v, want an error naming %s", err, bad)
	}
	if _, err := pools.Pool(filepath.Join(dir, "missing.pem")); err == nil || !strings.Contains(err.Error(), "missing.pem") {
		t.Errorf("missing CA file: %v", err)
	}
}
