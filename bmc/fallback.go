package bmc

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// Candidate is one way to reach a BMC, tried in order by a fallback
// collector: a protocol name and how to build its collector.
type Candidate struct {
	Protocol Protocol
	New      func() (Collector, error)
}

// FallbackCollector serves `protocol: auto`: it tries each candidate in
// order (Redfish, then IPMI) until one polls successfully, then keeps to that
// one. A BMC whose first candidate answers but fails for a reason other than
// not speaking the protocol (wrong password, a session limit) does not fall
// through: that is reported, since the next protocol would not fix it.
type FallbackCollector struct {
	server     string
	candidates []Candidate

	mu       sync.Mutex
	chosen   Collector
	protocol Protocol
	tried    []Collector
}

var (
	_ Collector      = (*FallbackCollector)(nil)
	_ RequestCounter = (*FallbackCollector)(nil)
)

// RequestCounter is a Collector that counts every request it sends
// (Redfish requests, IPMI datagrams), failed polls' included: the
// scheduler turns the count into a cumulative per-BMC metric.
type RequestCounter interface {
	RequestsTotal() int64
}

// RequestObserver is a PollObserver that also takes the requests each
// poll sent (PollMetrics: rackpulse_bmc_requests_total).
type RequestObserver interface {
	ObserveRequests(ep Endpoint, requests int64)
}

// NewFallbackCollector returns a collector trying candidates in order.
func NewFallbackCollector(server string, candidates ...Candidate) *FallbackCollector {
	return &FallbackCollector{server: server, candidates: candidates}
}

// Protocol returns the protocol settled on, or "" before the first success.
func (f *FallbackCollector) Protocol() Protocol {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.protocol
}

// Poll implements Collector.
func (f *FallbackCollector) Poll(ctx context.Context) (*Snapshot, error) {
	f.mu.Lock()
	chosen := f.chosen
	f.mu.Unlock()
	if chosen != nil {
		return chosen.Poll(ctx)
	}
	var errs []error
	for i, cand := range f.candidates {
		c, err := f.collector(i)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", cand.Protocol, err))
			continue
		}
		snap, err := c.Poll(ctx)
		if err == nil {
			f.mu.Lock()
			f.chosen, f.protocol = c, cand.Protocol
			f.mu.Unlock()
			return snap, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", cand.Protocol, err))
		if !fallsThrough(err) || ctx.Err() != nil {
			break
		}
	}
	joined := errors.Join(errs...)
	return nil, &Error{Kind: KindOf(errs[len(errs)-1]), Err: fmt.Errorf("server %s: no protocol answered: %w", f.server, joined)}
}

// fallsThrough reports whether an error means "this protocol is not spoken
// here", so that the next one is worth trying.
func fallsThrough(err error) bool {
	switch KindOf(err) {
	case ErrKindUnreachable, ErrKindTimeout, ErrKindNotFound, ErrKindTLS, ErrKindMalformed, ErrKindOther:
		return true
	}
	return false
}

func (f *FallbackCollector) collector(i int) (Collector, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if i < len(f.tried) && f.tried[i] != nil {
		return f.tried[i], nil
	}
	c, err := f.candidates[i].New()
	if err != nil {
		return nil, err
	}
	for len(f.tried) <= i {
		f.tried = append(f.tried, nil)
	}
	f.tried[i] = c
	return c, nil
}

// RequestsTotal sums the requests of every candidate built.
func (f *FallbackCollector) RequestsTotal() int64 {
	f.mu.Lock()
	tried := f.tried
	f.mu.Unlock()
	var n int64
	for _, c := range tried {
		if rc, ok := c.(RequestCounter); ok {
			n += rc.RequestsTotal()
		}
	}
	return n
}

// Close closes every candidate collector that was built.
func (f *FallbackCollector) Close(ctx context.Context) error {
	f.mu.Lock()
	tried := f.tried
	f.mu.Unlock()
	var errs []error
	for _, c := range tried {
		if c != nil {
			errs = append(errs, c.Close(ctx))
		}
	}
	return errors.Join(errs...)
}
