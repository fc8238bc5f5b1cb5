package fleet

import (
	"math"
	"slices"
	"strings"
	"time"
)

// HistoryWindow is how far back the in-memory history reaches: what the
// charts show without InfluxDB.
const HistoryWindow = time.Hour

// maxHistorySamples bounds each series's ring whatever the interval.
const maxHistorySamples = 720

// Sample is one point of a power series: when, and how many watts (NaN
// where nothing was measured then).
type Sample struct {
	T time.Time
	W float64
}

// sample is a Sample as a ring keeps it: 8 bytes.
type sample struct {
	unix  uint32
	watts float32
}

// ring keeps a series's last samples, oldest first.
type ring struct {
	buf  []sample
	next int
	full bool
}

func (r *ring) add(capacity int, t time.Time, watts float64) {
	s := sample{unix: uint32(t.Unix()), watts: float32(watts)}
	if !r.full {
		r.buf = append(r.buf, s)
		if len(r.buf) >= capacity {
			r.full = true
		}
		return
	}
	r.buf[r.next] = s
	r.next = (r.next + 1) % len(r.buf)
}

// since lists the samples at or after from, oldest first.
func (r *ring) since(from time.Time) []Sample {
	out := make([]Sample, 0, len(r.buf))
	n := len(r.buf)
	for i := range n {
		s := r.buf[(r.next+i)%n]
		t := time.Unix(int64(s.unix), 0)
		if t.Before(from) {
			continue
		}
		out = append(out, Sample{T: t, W: float64(s.watts)})
	}
	return out
}

// history keeps the last hour of power: per server at every good poll,
// per rack, per rack feed and for the site at every cycle.
type history struct {
	capacity int
	servers  map[string]*ring
	racks    map[string]*ring
	feeds    map[[2]string]*ring
	site     ring
}

func newHistory(interval time.Duration) *history {
	return &history{
		capacity: historyCapacity(interval),
		servers:  map[string]*ring{}, racks: map[string]*ring{}, feeds: map[[2]string]*ring{},
	}
}

// historyCapacity is how many samples at interval cover HistoryWindow.
func historyCapacity(interval time.Duration) int {
	if interval <= 0 {
		interval = 30 * time.Second
	}
	return min(maxHistorySamples, int(HistoryWindow/interval)+2)
}

func (h *history) addTo(m map[string]*ring, key string, t time.Time, watts float64) {
	r := m[key]
	if r == nil {
		r = &ring{}
		m[key] = r
	}
	r.add(h.capacity, t, watts)
}

// cycle records a rollup cycle's racks, feeds and site.
func (h *history) cycle(v *View) {
	for i := range v.Result.Racks {
		n := &v.Result.Racks[i]
		w := n.Watts
		if n.Reporting == 0 {
			w = math.NaN() // nothing measured: a gap, not 0 W
		}
		h.addTo(h.racks, n.Name, v.Time, w)
	}
	for _, rp := range v.Racks {
		for _, f := range rp.Feeds.Feeds {
			k := [2]string{rp.Rack, f.Name}
			r := h.feeds[k]
			if r == nil {
				r = &ring{}
				h.feeds[k] = r
			}
			r.add(h.capacity, v.Time, f.Watts)
		}
	}
	// The site's series; a poller of some racks has no site total: its
	// racks' sum stands for it.
	site := v.Result.Site.Watts
	if v.Result.Site.Name == "" {
		site = 0
		for i := range v.Result.Racks {
			site += v.Result.Racks[i].Watts
		}
	}
	h.site.add(h.capacity, v.Time, site)
}

// forget drops the series of servers and racks no longer published.
func (h *history) forget(servers map[string]bool, racks Scope) {
	for name := range h.servers {
		if !servers[name] {
			delete(h.servers, name)
		}
	}
	for name := range h.racks {
		if !racks.Has(name) {
			delete(h.racks, name)
		}
	}
	for k := range h.feeds {
		if !racks.Has(k[0]) {
			delete(h.feeds, k)
		}
	}
}

// Series is a named power series.
type Series struct {
	Name    string   `json:"name"`
	Samples []Sample `json:"-"`
}

// HistoryOf is the history of one thing: a server, a rack (with its
// feeds) or, with neither set, the site.
type HistoryOf struct {
	Server, Rack string
}

// series returns the history of what, since from.
func (h *history) series(what HistoryOf, from time.Time) []Series {
	switch {
	case what.Server != "":
		if r := h.servers[what.Server]; r != nil {
			return []Series{{Name: what.Server, Samples: r.since(from)}}
		}
		return nil
	case what.Rack != "":
		var out []Series
		if r := h.racks[what.Rack]; r != nil {
			out = append(out, Series{Name: what.Rack, Samples: r.since(from)})
		}
		for k, r := range h.feeds {
			if k[0] == what.Rack {
				out = append(out, Series{Name: "feed " + k[1], Samples: r.since(from)})
			}
		}
		feeds := out[min(1, len(out)):]
		slices.SortFunc(feeds, func(a, b Series) int { return strings.Compare(a.Name, b.Name) })
		return out
	}
	return []Series{{Name: "site", Samples: h.site.since(from)}}
}
