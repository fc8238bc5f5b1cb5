package bmc

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// countingCollector sends perPoll requests every poll; every other poll
// fails after sending them.
type countingCollector struct {
	perPoll int64
	sent    atomic.Int64
	polls   atomic.Int64
}

func (c *countingCollector) Poll(context.Context) (*Snapshot, error) {
	c.sent.Add(c.perPoll)
	if c.polls.Add(1)%2 == 0 {
		return nil, NewError(ErrKindTimeout, "/redfish/v1/Chassis", errors.New("timed out"))
	}
	s := NewSnapshot("srv", "r1", ProtocolRedfish, time.Now())
	s.Poll.Requests = int(c.perPoll)
	s.Poll.MarkRead(PartPower)
	return s, nil
}

func (c *countingCollector) Close(context.Context) error { return nil }
func (c *countingCollector) RequestsTotal() int64        { return c.sent.Load() }

// rackpulse_bmc_requests_total counts every request a BMC was sent, the
// failed polls' included (the last poll's gauge cannot be averaged into
// it: it knows neither the failed polls nor the polls between scrapes).
func TestRequestsTotalCountsEveryPoll(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := prometheus.NewRegistry()
		metrics := NewPollMetrics(reg)
		c := &countingCollector{perPoll: 7}
		s := NewScheduler(SchedulerConfig{
			NewCollector: func(Endpoint, CollectorOptions) (Collector, error) { return c, nil },
			Observer:     metrics,
			MaxBackoff:   30 * time.Second,
		})
		ep := Endpoint{Server: "srv", Rack: "r1", Address: "srv.bmc", Cadence: Cadence{Readings: 30 * time.Second}}
		s.Update([]Endpoint{ep})
		runFor(t, s, 10*time.Minute)
		polls := c.polls.Load()
		if polls < 10 {
			t.Fatalf("%d polls in 10 minutes", polls)
		}
		got := seriesValue(t, reg, "rackpulse_bmc_requests_total", "srv", "r1")
		if want := float64(7 * polls); got != want {
			t.Errorf("rackpulse_bmc_requests_total = %v after %d polls of 7 requests (half failed), want %v", got, polls, want)
		}
	})
}
