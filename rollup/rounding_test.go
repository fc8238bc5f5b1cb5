package rollup

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// Sums keep the decimals of what they sum: 104.8 W three times is 314.4 W
// at the rack, and 104.8 × 3 + 0.1 + 0.2 reads 314.7 at the site, in the
// Result and in its JSON, not 314.40000000000003.
func TestSumsKeepTheReadingsDecimals(t *testing.T) {
	states := map[string]ServerState{
		"r12-u01": observed("r12-u01", now, rackmount("r12-u01", 104.8)),
		"r12-u03": observed("r12-u03", now, rackmount("r12-u03", 104.8)),
		"r12-u05": observed("r12-u05", now, rackmount("r12-u05", 104.8)),
		"r13-u01": observed("r13-u01", now, rackmount("r13-u01", 0.1)),
		"r13-u03": observed("r13-u03", now, rackmount("r13-u03", 0.2)),
		"r21-u01": observed("r21-u01", now, rackmount("r21-u01", 1000)),
	}
	res := NewEngine(testInventory(), Options{}).Compute(now.Add(time.Second), states)
	r12, _ := res.Rack("r12")
	r13, _ := res.Rack("r13")
	row, _ := res.Row("hall-1", "row-a")
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"r12", r12.Watts, 314.4},
		{"r13", r13.Watts, 0.3},
		{"row-a", row.Watts, 314.7},
		{"site", res.Site.Watts, 1314.7},
		{"r12 utilization", r12.UtilizationPct, 15.72}, // 314.4 of 2000 W
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	b, err := json.Marshal(res.Site)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"watts":1314.7,`) {
		t.Errorf("site JSON %s, want watts 1314.7", b)
	}
}

func TestDecimalsOf(t *testing.T) {
	for v, want := range map[float64]int{0: 0, 118: 0, 104.8: 1, 0.25: 2, 1.125: 3, 1.0 / 3: 3, -40.5: 1} {
		if got := decimalsOf(v); got != want {
			t.Errorf("decimalsOf(%v) = %d, want %d", v, got, want)
		}
	}
}
