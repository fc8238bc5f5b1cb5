package power

import (
	"math"
	"testing"
	"time"
)

func TestEnergyMeter(t *testing.T) {
	t0 := time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	type sample struct {
		t     time.Time
		watts float64
		used  bool
	}
	tests := []struct {
		name          string
		samples       []sample
		wantWh        float64
		wantCovered   time.Duration
		wantUncovered time.Duration
		wantGaps      int
	}{
		{
			name:        "steady 600 W over 90 s",
			samples:     []sample{{at(0), 600, true}, {at(30), 600, true}, {at(60), 600, true}, {at(90), 600, true}},
			wantWh:      15,
			wantCovered: 90 * time.Second,
		},
		{
			name:        "ramp integrated as a trapezoid",
			samples:     []sample{{at(0), 300, true}, {at(60), 600, true}},
			wantWh:      7.5,
			wantCovered: time.Minute,
		},
		{
			name:        "the same snapshot fed twice counts once",
			samples:     []sample{{at(0), 600, true}, {at(30), 600, true}, {at(30), 600, false}, {at(60), 600, true}},
			wantWh:      10,
			wantCovered: time.Minute,
		},
		{
			name:        "a missed poll within the max gap is bridged",
			samples:     []sample{{at(0), 600, true}, {at(90), 600, true}},
			wantWh:      15,
			wantCovered: 90 * time.Second,
		},
		{
			name:          "a gap over the max is not bridged, and reported",
			samples:       []sample{{at(0), 600, true}, {at(30), 600, true}, {at(630), 900, true}, {at(660), 900, true}},
			wantWh:        5 + 7.5,
			wantCovered:   time.Minute,
			wantUncovered: 10 * time.Minute,
			wantGaps:      1,
		},
		{
			name:        "out of order, negative and NaN readings are ignored",
			samples:     []sample{{at(0), 600, true}, {at(30), -40, false}, {at(30), math.NaN(), false}, {at(60), 600, true}, {at(45), 100, false}},
			wantWh:      10,
			wantCovered: time.Minute,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewEnergyMeter(90 * time.Second)
			prev := 0.0
			for i, s := range tt.samples {
				added, used := m.Add(s.t, s.watts)
				if used != s.used {
					t.Errorf("sample %d used = %v, want %v", i, used, s.used)
				}
				e := m.Energy()
				if added < 0 || e.Wh < prev || !near(e.Wh-prev, added) {
					t.Errorf("sample %d: energy went from %g to %g Wh, reported +%g", i, prev, e.Wh, added)
				}
				prev = e.Wh
			}
			e := m.Energy()
			if !near(e.Wh, tt.wantWh) || e.Covered != tt.wantCovered || e.Uncovered != tt.wantUncovered || e.Gaps != tt.wantGaps {
				t.Errorf("got %+v, want %g Wh, covered %v, uncovered %v, %d gaps", e, tt.wantWh, tt.wantCovered, tt.wantUncovered, tt.wantGaps)
			}
		})
	}
}

func TestEnergyPlus(t *testing.T) {
	t0 := time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)
	a := Energy{Wh: 10, Covered: time.Minute, Last: t0}
	b := Energy{Wh: 5, Covered: 30 * time.Second, Uncovered: time.Hour, Gaps: 1, Last: t0.Add(time.Second)}
	got := a.Plus(b)
	if got.Wh != 15 || got.Covered != 90*time.Second || got.Uncovered != time.Hour || got.Gaps != 1 || !got.Last.Equal(b.Last) {
		t.Errorf("got %+v", got)
	}
}
