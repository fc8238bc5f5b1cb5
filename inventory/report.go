package inventory

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
)

// WriteReport writes what `rackpulse inventory validate` prints: every
// problem on its own line, then the Summary line.
func WriteReport(w io.Writer, inv *Inventory, ps Problems) error {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString(p.String())
		b.WriteByte('\n')
	}
	b.WriteString(Summary(inv, ps))
	b.WriteByte('\n')
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteTree writes the inventory as a tree, site → rooms → rows → racks →
// servers, with counts at every level, the alert settings each level's
// defaults give, rack budgets and feeds, and each server's rack units, BMC
// protocol, address, credential profile name and own alert settings.
// With racks given, only those racks (and the levels holding them) are
// written and counted. No password is ever written.
func WriteTree(w io.Writer, inv *Inventory, racks []string) error {
	selected, err := inv.selectRacks(racks)
	if err != nil {
		return err
	}
	keep := map[*Rack]bool{}
	for _, r := range selected {
		keep[r] = true
	}
	tally := func(rooms []Room) Stats {
		var st Stats
		for i := range rooms {
			var roomHas bool
			for j := range rooms[i].Rows {
				var rowHas bool
				for k := range rooms[i].Rows[j].Racks {
					if r := &rooms[i].Rows[j].Racks[k]; keep[r] {
						st.Racks++
						st.Servers += len(r.Servers)
						rowHas = true
					}
				}
				if rowHas {
					st.Rows++
					roomHas = true
				}
			}
			if roomHas {
				st.Rooms++
			}
		}
		return st
	}

	var b strings.Builder
	st := tally(inv.Rooms)
	fmt.Fprintf(&b, "site %s: %s%s\n", inv.Site, counts(st, true, true, true), alertsNote(inv.Defaults.Alerts))
	for i := range inv.Rooms {
		room := &inv.Rooms[i]
		rst := tally(inv.Rooms[i : i+1])
		if rst.Racks == 0 {
			continue
		}
		fmt.Fprintf(&b, "  room %s: %s%s\n", room.Name, counts(rst, false, true, true), alertsNote(room.Defaults.Alerts))
		for j := range room.Rows {
			row := &room.Rows[j]
			wst := tally([]Room{{Rows: room.Rows[j : j+1]}})
			if wst.Racks == 0 {
				continue
			}
			fmt.Fprintf(&b, "    row %s: %s%s\n", row.Name, counts(wst, false, false, true), alertsNote(row.Defaults.Alerts))
			for k := range row.Racks {
				if rack := &row.Racks[k]; keep[rack] {
					writeRack(&b, rack)
				}
			}
		}
	}
	_, err = io.WriteString(w, b.String())
	return err
}

func counts(st Stats, rooms, rows, racks bool) string {
	var parts []string
	if rooms {
		parts = append(parts, plural(st.Rooms, "room", "rooms"))
	}
	if rows {
		parts = append(parts, plural(st.Rows, "row", "rows"))
	}
	if racks {
		parts = append(parts, plural(st.Racks, "rack", "racks"))
	}
	parts = append(parts, plural(st.Servers, "server", "servers"))
	return strings.Join(parts, ", ")
}

func writeRack(b *strings.Builder, r *Rack) {
	parts := []string{plural(len(r.Servers), "server", "servers"), strconv.Itoa(r.HeightUnits) + "U"}
	if r.PowerBudgetWatts > 0 {
		parts = append(parts, "budget "+watts(r.PowerBudgetWatts))
	}
	if len(r.Feeds) > 0 {
		var feeds []string
		for _, name := range r.FeedNames() {
			feeds = append(feeds, name+" "+watts(r.Feeds[name].CapacityWatts))
		}
		parts = append(parts, "feeds "+strings.Join(feeds, ", "))
	}
	if len(r.PSUFeeds) > 0 {
		var wiring []string
		for _, bay := range sortedKeys(r.PSUFeeds) {
			wiring = append(wiring, "bay "+bay+"→"+r.PSUFeeds[bay])
		}
		parts = append(parts, "psu "+strings.Join(wiring, " "))
	}
	fmt.Fprintf(b, "      rack %s: %s%s\n", r.Name, strings.Join(parts, ", "), alertsNote(r.Defaults.Alerts))

	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	for i := range r.Servers {
		s := &r.Servers[i]
		e := s.Effective
		fmt.Fprintf(tw, "        %s\t%s\t%s\t%s\tcredentials %s\t%s\t%s",
			units(s), s.Name, orDash(string(e.Protocol)), orDash(e.Address), orDash(e.Credentials),
			orDash(s.Model), orDash(s.AssetTag))
		if note := alertsNote(s.AlertOverrides); note != "" {
			fmt.Fprintf(tw, "\t%s", strings.TrimPrefix(note, ", "))
		}
		fmt.Fprintln(tw)
	}
	_ = tw.Flush()
}

// alertsNote is ", alerts key=value ..." for the settings an alerts block
// gives, or "" when it gives none.
func alertsNote(s AlertSettings) string {
	entries := alertEntries(s)
	if len(entries) == 0 {
		return ""
	}
	return ", alerts " + strings.Join(entries, " ")
}

func watts(w float64) string {
	return strconv.FormatFloat(w, 'f', -1, 64) + " W"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
