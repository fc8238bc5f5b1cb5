package fleet

import (
	"testing"
	"time"
)

// A server's poll outcomes are its last pollsPerServer, oldest first, in a
// list with room for exactly that many.
func TestPollOutcomesKeepTheLastFew(t *testing.T) {
	var polls []PollOutcome
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for i := range 25 {
		polls = addOutcome(polls, PollOutcome{At: start.Add(time.Duration(i) * time.Second), OK: true})
		if want := min(i+1, pollsPerServer); len(polls) != want {
			t.Fatalf("after %d polls %d outcomes, want %d", i+1, len(polls), want)
		}
	}
	for i, o := range polls {
		if want := start.Add(time.Duration(25-pollsPerServer+i) * time.Second); !o.At.Equal(want) {
			t.Errorf("outcome %d at %v, want %v", i, o.At, want)
		}
	}
	if cap(polls) != pollsPerServer {
		t.Errorf("room for %d outcomes, want %d", cap(polls), pollsPerServer)
	}
}
