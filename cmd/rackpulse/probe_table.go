package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rackpulse/rackpulse/bmc"
)

// writeProbeTable prints a Snapshot for a person: one section per part,
// missing values as "-", never zero.
func writeProbeTable(w io.Writer, ep bmc.Endpoint, s *bmc.Snapshot, chosen probePower) {
	fmt.Fprintf(w, "Server   %s (%s %s)\n", ep.Server, s.Protocol, ep.Address)
	fmt.Fprintf(w, "Polled   %s in %v: %d requests, %s\n", s.Time.UTC().Format(time.RFC3339), s.Poll.Duration.Round(time.Millisecond), s.Poll.Requests, formatBytes(s.Poll.Bytes))
	fmt.Fprintf(w, "Health   %s\n", orDash(string(s.Health())))
	writePowerSummary(w, chosen)
	if len(s.Poll.Cached) > 0 {
		fmt.Fprintf(w, "Cached   %s (read on a slower cadence)\n", joinParts(s.Poll.Cached))
	}

	section(w, "SYSTEMS", len(s.Systems), "ID\tNAME\tMODEL\tSERIAL\tHEALTH\tROLLUP\tPOWER", func(tw io.Writer) {
		for _, x := range s.Systems {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", x.ID, orDash(x.Name), orDash(x.Model), orDash(x.Serial), orDash(string(x.Health)), orDash(string(x.HealthRollup)), orDash(x.PowerState))
		}
	})
	section(w, "CHASSIS", len(s.Chassis), "ID\tNAME\tTYPE\tHEALTH\tROLLUP\tPOWER\tIN", func(tw io.Writer) {
		for _, x := range s.Chassis {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", x.ID, orDash(x.Name), orDash(x.ChassisType), orDash(string(x.Health)), orDash(string(x.HealthRollup)), orDash(x.PowerState), orDash(x.ContainedBy))
		}
	})
	section(w, "POWER READINGS", len(s.Power), "SOURCE\tCHASSIS\tWATTS\tWINDOW\tRESOURCE\tSUSPECT", func(tw io.Writer) {
		for _, x := range s.Power {
			window := "-"
			if x.IntervalMin != nil {
				window = num(*x.IntervalMin) + " min"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", x.Source, orDash(x.Chassis), num(x.Watts), window, orDash(x.Resource), orDash(x.Suspect))
		}
	})
	section(w, "POWER SUPPLIES", len(s.PSUs), "BAY\tCHASSIS\tHEALTH\tSTATE\tIN W\tOUT W\tRATED W\tIN V\tLINE\tNOTES", func(tw io.Writer) {
		for _, x := range s.PSUs {
			notes := x.Suspect
			if x.FailurePredicted {
				notes = append([]string{"failure predicted"}, notes...)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", x.Bay, orDash(x.Chassis), orDash(string(x.Health)), orDash(x.State),
				numPtr(x.InputWatts), numPtr(x.OutputWatts), numPtr(x.CapacityWatts), numPtr(x.InputVolts), orDash(x.LineInputStatus), orDash(strings.Join(notes, "; ")))
		}
	})
	section(w, "SENSORS", len(s.Sensors), "KIND\tNAME\tCONTEXT\tVALUE\tUNIT\tLOW CRIT\tLOW WARN\tHIGH WARN\tHIGH CRIT\tHEALTH", func(tw io.Writer) {
		for _, x := range s.Sensors {
			value := numPtr(x.Value)
			if x.Value == nil && len(x.States) > 0 {
				value = strings.Join(x.States, ",")
			}
			t := x.Thresholds
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", x.Kind, x.Name, orDash(x.Context), value, x.Unit,
				numPtr(t.LowerCritical), numPtr(t.LowerWarning), numPtr(t.UpperWarning), numPtr(t.UpperCritical), orDash(string(x.Health)))
		}
	})
	section(w, "DIMMS", len(s.DIMMs), "SLOT\tSYSTEM\tSIZE\tPART\tSERIAL\tHEALTH\tSTATE\tCORRECTABLE\tUNCORRECTABLE", func(tw io.Writer) {
		for _, x := range s.DIMMs {
			size := "-"
			if x.SizeMiB > 0 {
				size = fmt.Sprintf("%d GiB", x.SizeMiB/1024)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", x.Slot, orDash(x.System), size, orDash(x.PartNumber), orDash(x.Serial), orDash(string(x.Health)), orDash(x.State), intPtr(x.CorrectableErrors), intPtr(x.UncorrectableErrors))
		}
	})
	section(w, "CPUS", len(s.CPUs), "SOCKET\tSYSTEM\tMODEL\tCORES\tTEMP C\tHEALTH\tSTATE", func(tw io.Writer) {
		for _, x := range s.CPUs {
			cores := "-"
			if x.Cores > 0 {
				cores = strconv.Itoa(x.Cores)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", x.Socket, orDash(x.System), orDash(x.Model), cores, numPtr(x.TemperatureC), orDash(string(x.Health)), orDash(x.State))
		}
	})
	section(w, "DRIVES", len(s.Drives), "BAY\tSYSTEM\tMODEL\tMEDIA\tCAPACITY\tHEALTH\tSTATE\tPREDICTED FAILURE\tLIFE LEFT %\tMEDIA ERRORS", func(tw io.Writer) {
		for _, x := range s.Drives {
			capacity := "-"
			if x.CapacityBytes > 0 {
				capacity = fmt.Sprintf("%.0f GB", float64(x.CapacityBytes)/1e9)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%t\t%s\t%s\n", x.Bay, orDash(x.System), orDash(x.Model), orDash(x.Media), capacity, orDash(string(x.Health)), orDash(x.State), x.FailurePredicted, numPtr(x.LifeLeftPercent), intPtr(x.MediaErrors))
		}
	})
	section(w, "LOG ENTRIES", len(s.Logs), "TIME\tSEVERITY\tCOMPONENT\tSUBJECT\tMESSAGE", func(tw io.Writer) {
		for _, x := range s.Logs {
			at := "-"
			if !x.Time.IsZero() {
				at = x.Time.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", at, orDash(string(x.Severity)), orDash(x.Component), orDash(x.Subject), x.Message)
		}
	})
	aside := setAsideRows(s)
	section(w, "SET ASIDE", len(aside), "WHAT\tREASON", func(tw io.Writer) {
		for _, row := range aside {
			fmt.Fprintf(tw, "%s\t%s\n", row[0], row[1])
		}
	})
	section(w, "QUIRKS", len(s.Poll.Quirks), "PART\tRESOURCE\tPROPERTY\tSEEN\tDONE", func(tw io.Writer) {
		for _, x := range s.Poll.Quirks {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", x.Part, x.Resource, orDash(x.Property), x.Seen, x.Action)
		}
	})
	section(w, "ERRORS", len(s.Poll.Errors), "PART\tKIND\tRESOURCE\tMESSAGE", func(tw io.Writer) {
		for _, x := range s.Poll.Errors {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", x.Part, x.Kind, orDash(x.Resource), x.Message)
		}
	})
}

// setAsideRows lists the values set aside as implausible (the sensors',
// CPUs', DIMMs' and drives' Suspect; PSUs show theirs under NOTES and
// power readings under SUSPECT): what, and why.
func setAsideRows(s *bmc.Snapshot) [][2]string {
	var rows [][2]string
	add := func(what string, reasons []string) {
		for _, r := range reasons {
			rows = append(rows, [2]string{what, r})
		}
	}
	for _, x := range s.Sensors {
		add("sensor "+x.Name, x.Suspect)
	}
	for _, x := range s.CPUs {
		add("CPU "+x.Socket, x.Suspect)
	}
	for _, x := range s.DIMMs {
		add("DIMM "+x.Slot, x.Suspect)
	}
	for _, x := range s.Drives {
		add("drive "+x.Bay, x.Suspect)
	}
	return rows
}

func section(w io.Writer, title string, n int, header string, rows func(io.Writer)) {
	if n == 0 {
		return
	}
	fmt.Fprintf(w, "\n%s (%d)\n", title, n)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	rows(tw)
	_ = tw.Flush()
}

func joinParts(parts []bmc.Part) string {
	s := make([]string, len(parts))
	for i, p := range parts {
		s[i] = string(p)
	}
	return strings.Join(s, ", ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func numPtr(f *float64) string {
	if f == nil {
		return "-"
	}
	return num(*f)
}

func intPtr(i *int64) string {
	if i == nil {
		return "-"
	}
	return strconv.FormatInt(*i, 10)
}

func formatBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
