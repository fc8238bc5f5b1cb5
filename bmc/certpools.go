package bmc

import (
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"os"
	"sync"
)

// CertPools shares the CA pools read from CA files among the collectors of
// one poller (CollectorOptions.CertPools): a fleet whose BMCs all trust
// one CA file holds its certificates once, not once per BMC (a few KiB
// each, 30 MiB at 10,000 BMCs). A file is read again for every collector
// made, so an edited file gives the collectors made after the edit a new
// pool. A nil *CertPools reads and parses every time.
type CertPools struct {
	mu     sync.Mutex
	byFile map[string]certPool
}

type certPool struct {
	sum  [sha256.Size]byte
	pool *x509.CertPool
}

// NewCertPools returns an empty set of shared pools.
func NewCertPools() *CertPools { return &CertPools{byFile: map[string]certPool{}} }

// Pool returns the pool of the PEM certificates in file.
func (p *CertPools) Pool(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading CA file %s: %w", file, err)
	}
	sum := sha256.Sum256(pem)
	if p != nil {
		p.mu.Lock()
		defer p.mu.Unlock()
		if e, ok := p.byFile[file]; ok && e.sum == sum {
			return e.pool, nil
		}
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("CA file %s holds no PEM certificate", file)
	}
	if p != nil {
		p.byFile[file] = certPool{sum: sum, pool: pool}
	}
	return pool, nil
}
