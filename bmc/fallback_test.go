package bmc

import (
	"context"
	"errors"
	"testing"
)

type scriptedCollector struct {
	errs   []error // one per poll; nil = success
	polls  int
	closed int
}

func (s *scriptedCollector) Poll(context.Context) (*Snapshot, error) {
	i := min(s.polls, len(s.errs)-1)
	s.polls++
	if err := s.errs[i]; err != nil {
		return nil, err
	}
	return &Snapshot{}, nil
}

func (s *scriptedCollector) Close(context.Context) error { s.closed++; return nil }

func candidate(p Protocol, c *scriptedCollector) Candidate {
	return Candidate{Protocol: p, New: func() (Collector, error) { return c, nil }}
}

func TestFallbackCollector(t *testing.T) {
	unreachable := NewError(ErrKindUnreachable, "/redfish/v1", errors.New("connection refused"))
	auth := NewError(ErrKindAuth, "/redfish/v1/SessionService/Sessions", errors.New("401"))
	for _, tc := range []struct {
		name          string
		redfish, ipmi []error
		wantProtocol  Protocol
		wantKind      ErrorKind
		wantIPMIPolls int
	}{
		{"redfish answers", []error{nil}, []error{nil}, ProtocolRedfish, "", 0},
		{"no redfish: falls back to ipmi", []error{unreachable}, []error{nil}, ProtocolIPMI, "", 2},
		{"wrong password is not a reason to try ipmi", []error{auth}, []error{nil}, "", ErrKindAuth, 0},
		{"neither answers", []error{unreachable}, []error{NewError(ErrKindTimeout, "", context.DeadlineExceeded)}, "", ErrKindTimeout, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rf, ip := &scriptedCollector{errs: tc.redfish}, &scriptedCollector{errs: tc.ipmi}
			f := NewFallbackCollector("s1", candidate(ProtocolRedfish, rf), candidate(ProtocolIPMI, ip))
			_, err := f.Poll(t.Context())
			if KindOf(err) != tc.wantKind {
				t.Fatalf("first poll error %v (kind %q), want kind %q", err, KindOf(err), tc.wantKind)
			}
			if tc.wantProtocol != "" {
				// The choice sticks: a second poll goes straight to it.
				if _, err := f.Poll(t.Context()); err != nil {
					t.Fatalf("second poll: %v", err)
				}
			}
			if got := f.Protocol(); got != tc.wantProtocol {
				t.Errorf("settled on %q, want %q", got, tc.wantProtocol)
			}
			if ip.polls != tc.wantIPMIPolls {
				t.Errorf("IPMI polled %d times, want %d", ip.polls, tc.wantIPMIPolls)
			}
			if tc.wantProtocol == ProtocolIPMI && rf.polls != 1 {
				t.Errorf("Redfish polled %d times after falling back, want once", rf.polls)
			}
			if err := f.Close(t.Context()); err != nil {
				t.Fatal(err)
			}
			if rf.closed != 1 || (ip.polls > 0 && ip.closed != 1) {
				t.Errorf("closed redfish %d, ipmi %d times; every collector built must be closed once", rf.closed, ip.closed)
			}
		})
	}
}
