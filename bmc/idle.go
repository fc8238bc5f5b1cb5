package bmc

import "sync/atomic"

// IdleConnBudget bounds how many BMCs keep a connection open between
// polls. A kept connection spares the next poll a TCP and TLS handshake
// (the largest share of a poll's CPU after decoding) but holds memory on
// both sides (a few tens of KiB here) and one of the BMC's few connection
// slots; past the budget a collector closes its connections after each
// poll and relies on TLS session resumption instead. It is shared by the
// collectors of one poller (CollectorOptions.IdleConns).
type IdleConnBudget struct {
	max  int64
	held atomic.Int64
}

// NewIdleConnBudget returns a budget of max BMCs (0: none keeps one).
func NewIdleConnBudget(max int) *IdleConnBudget {
	return &IdleConnBudget{max: int64(max)}
}

// TryTake takes a place in the budget, reporting whether there was one.
func (b *IdleConnBudget) TryTake() bool {
	if b == nil {
		return false
	}
	for {
		n := b.held.Load()
		if n >= b.max {
			return false
		}
		if b.held.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// Give returns a place taken with TryTake.
func (b *IdleConnBudget) Give() {
	if b != nil {
		b.held.Add(-1)
	}
}

// Held is how many places are taken.
func (b *IdleConnBudget) Held() int {
	if b == nil {
		return 0
	}
	return int(b.held.Load())
}

// Max is the budget's size.
func (b *IdleConnBudget) Max() int {
	if b == nil {
		return 0
	}
	return int(b.max)
}
