package sim

import (
	"fmt"
	"slices"
	"time"
)

// Vendor quirks the legacy profile shows, by name. Each is something real
// firmware does that a collector must survive.
const (
	// QuirkPSUInputIsRating: PSU 2 reports its rating as PowerInputWatts
	// (the reading equals PowerCapacityWatts).
	QuirkPSUInputIsRating = "psu-input-is-rating"
	// QuirkNullReadings: a voltage and a temperature report null readings.
	QuirkNullReadings = "null-readings"
	// QuirkAbsentSensorZero: an absent sensor ("State": "Absent") reports
	// ReadingCelsius 0.
	QuirkAbsentSensorZero = "absent-sensor-zero"
	// QuirkZeroDate: the oldest log entries are dated 0000-00-00T00:00:00Z.
	QuirkZeroDate = "zero-date-log-entries"
	// QuirkDriveWithoutID: a drive resource has no "Id".
	QuirkDriveWithoutID = "drive-without-id"
	// QuirkExpandIgnored: $expand is advertised (MaxLevels 1) but ignored.
	QuirkExpandIgnored = "expand-advertised-ignored"
)

// newLegacyProfile is an older 1U server whose BMC serves only the
// deprecated Power and Thermal resources, shaped and named as a common
// vendor's firmware of that generation, with that firmware's quirks. It
// accepts Basic auth.
func newLegacyProfile() *profile {
	p := &profile{
		name:         ProfileLegacy,
		model:        "Contoso RS640 Gen2",
		manufacturer: "Contoso",
		serialPrefix: "CN",
		expand:       ExpandIgnore,
		allowBasic:   true,
		layout: layout{
			cpus:              []part{{"CPU.Socket.1", "CPU1"}, {"CPU.Socket.2", "CPU2"}},
			psus:              []part{{"PSU.Slot.1", "PS1"}, {"PSU.Slot.2", "PS2"}},
			drives:            []part{{"Disk.Bay.0:Enclosure.Internal.0-1:RAID.Integrated.1-1", "Disk 0 in Backplane 1"}, {"Disk.Bay.1:Enclosure.Internal.0-1:RAID.Integrated.1-1", "Disk 1 in Backplane 1"}},
			psuCapacityWatts:  750,
			idleWatts:         190,
			peakWatts:         430,
			inletCautionC:     42,
			inletCriticalC:    47,
			dimmSerialPrefix:  "3",
			driveSerialPrefix: "WFJ",
		},
		quirks: []string{QuirkPSUInputIsRating, QuirkNullReadings, QuirkAbsentSensorZero, QuirkZeroDate, QuirkDriveWithoutID, QuirkExpandIgnored},
	}
	for _, bank := range []string{"A", "B"} {
		for slot := 1; slot <= 4; slot++ {
			p.layout.dimms = append(p.layout.dimms, part{fmt.Sprintf("DIMM.Socket.%s%d", bank, slot), fmt.Sprintf("DIMM.Socket.%s%d", bank, slot)})
		}
	}
	for i := 1; i <= 6; i++ {
		p.layout.fans = append(p.layout.fans, part{fmt.Sprintf("Fan.Embedded.%d", i), fmt.Sprintf("System Board Fan%d", i)})
	}
	l := &p.layout
	const (
		root    = ServiceRootPath
		chassis = root + "/Chassis/System.Embedded.1"
		system  = root + "/Systems/System.Embedded.1"
		manager = root + "/Managers/iDRAC.Embedded.1"
		storage = system + "/Storage/RAID.Integrated.1-1"
		sel     = manager + "/LogServices/Sel"
	)

	p.addServiceRoot(1, chassis, system, manager)

	p.add(chassis, func(m *machine, r *readings) obj {
		return obj{
			"@odata.type":  "#Chassis.v1_6_0.Chassis",
			"Id":           "System.Embedded.1",
			"Name":         "Computer System Chassis",
			"ChassisType":  "StandAlone",
			"Manufacturer": p.manufacturer,
			"Model":        p.model,
			"SKU":          m.serial("", 0)[:7],
			"SerialNumber": m.systemSerial(),
			"PowerState":   "On",
			"Status":       status(r.health),
			"Power":        odataID(chassis + "/Power"),
			"Thermal":      odataID(chassis + "/Thermal"),
			"Links": obj{
				"ComputerSystems": []any{odataID(system)},
				"ManagedBy":       []any{odataID(manager)},
			},
		}
	})

	p.add(chassis+"/Power", func(m *machine, r *readings) obj {
		psus := make([]any, 0, len(l.psus))
		for i, ps := range l.psus {
			pr := r.psus[i]
			entry := fmt.Sprintf("%s/Power#/PowerSupplies/%d", chassis, i)
			switch {
			case pr.unlisted:
				continue // the server was built without this supply
			case pr.removed:
				// An empty bay: its name and place, no readings, no part.
				psus = append(psus, obj{
					"@odata.id": entry, "MemberId": ps.id, "Name": ps.label,
					"PowerSupplyType": "Unknown", "LineInputVoltage": nil, "PowerCapacityWatts": nil,
					"LastPowerOutputWatts": nil, "PowerInputWatts": nil, "PowerOutputWatts": nil,
					"Status": absent(),
				})
				continue
			}
			input := any(pr.inputWatts)
			if i == 1 {
				input = l.psuCapacityWatts // QuirkPSUInputIsRating
			}
			o := obj{
				"@odata.id":            entry,
				"MemberId":             ps.id,
				"Name":                 ps.label,
				"PowerSupplyType":      "AC",
				"LineInputVoltage":     pr.inputVolts,
				"LineInputVoltageType": "ACMidLine",
				"PowerCapacityWatts":   l.psuCapacityWatts,
				"LastPowerOutputWatts": pr.outputWatts,
				"PowerInputWatts":      input,
				"PowerOutputWatts":     pr.outputWatts,
				"Model":                "PWR SPLY,750W,RDNT,LTON",
				"Manufacturer":         "Contoso",
				"SerialNumber":         m.serial("CNLOD", i),
				"PartNumber":           "0D1VNXA02",
				"FirmwareVersion":      "00.1D.7D",
				"SparePartNumber":      "0D1VNXA02",
				"InputRanges": []any{obj{
					"InputType": "AC", "MinimumVoltage": 180, "MaximumVoltage": 264, "OutputWattage": l.psuCapacityWatts,
				}},
				"Redundancy": []any{odataID(chassis + "/Power#/Redundancy/0")},
				"Status":     psuStatus(pr),
			}
			if r.psuSingle {
				delete(o, "Redundancy") // no group to be a member of
			}
			psus = append(psus, o)
		}
		voltages := []any{}
		for i, v := range []struct{ id, name string }{{"PS1Voltage1", "PS1 Voltage 1"}, {"PS2Voltage2", "PS2 Voltage 2"}} {
			pr := r.psus[i]
			if pr.unlisted {
				continue
			}
			st := status(pr.health)
			var reading any = pr.inputVolts
			if i == 1 {
				reading = nil // QuirkNullReadings
			}
			if pr.removed {
				st, reading = absent(), nil
			}
			voltages = append(voltages, obj{
				"@odata.id": fmt.Sprintf("%s/Power#/Voltages/%d", chassis, i), "MemberId": "iDRAC.Embedded.1#" + v.id,
				"Name": v.name, "PhysicalContext": "PowerSupply", "ReadingVolts": reading, "Status": st,
			})
		}
		o := obj{
			"@odata.type": "#Power.v1_5_0.Power",
			"Id":          "Power",
			"Name":        "Power",
			"PowerControl": []any{obj{
				"@odata.id":           chassis + "/Power#/PowerControl/0",
				"MemberId":            "PowerControl",
				"Name":                "System Power Control",
				"PowerConsumedWatts":  r.inputWatts,
				"PowerRequestedWatts": l.peakWatts,
				"PowerAvailableWatts": 0,
				"PowerAllocatedWatts": l.peakWatts,
				"PowerCapacityWatts":  l.psuCapacityWatts,
				"PowerMetrics": obj{
					"IntervalInMin":        1,
					"MinConsumedWatts":     r.minWatts,
					"MaxConsumedWatts":     r.maxWatts,
					"AverageConsumedWatts": r.inputWatts,
				},
				"PowerLimit": obj{
					"LimitInWatts": nil, "LimitException": "HardPowerOff", "CorrectionInMs": nil,
				},
				"RelatedItem": []any{odataID(system), odataID(chassis)},
				"Status":      status("OK"),
			}},
			"PowerSupplies": psus,
			"Voltages":      voltages,
		}
		if !r.psuSingle { // one supply: nothing to be redundant with
			mode := "N+m"
			switch {
			case r.psuNotRedundant:
				mode = "NotRedundant"
			case slices.ContainsFunc(r.psus, func(p psuReading) bool { return p.spare }):
				mode = "Failover" // a hot spare takes over when an active supply fails
			}
			o["Redundancy"] = []any{obj{
				"@odata.id":       chassis + "/Power#/Redundancy/0",
				"MemberId":        "PSRedundancy",
				"Name":            "System Board PS Redundancy",
				"Mode":            mode,
				"MaxNumSupported": 4,
				"MinNumNeeded":    2,
				"RedundancySet":   []any{odataID(chassis + "/Power#/PowerSupplies/0"), odataID(chassis + "/Power#/PowerSupplies/1")},
				"Status":          status(psuRedundancyHealth(r)),
			}}
		}
		return o
	})

	p.add(chassis+"/Thermal", func(_ *machine, r *readings) obj {
		temp := func(i int, id, name, ctx string, reading any, st obj, nonCrit, crit float64) obj {
			return obj{
				"@odata.id":                 fmt.Sprintf("%s/Thermal#/Temperatures/%d", chassis, i),
				"MemberId":                  "iDRAC.Embedded.1#" + id,
				"Name":                      name,
				"SensorNumber":              i + 1,
				"PhysicalContext":           ctx,
				"ReadingCelsius":            reading,
				"UpperThresholdNonCritical": nonCrit,
				"UpperThresholdCritical":    crit,
				"LowerThresholdCritical":    3,
				"MinReadingRangeTemp":       -128,
				"MaxReadingRangeTemp":       127,
				"Status":                    st,
			}
		}
		temps := []any{
			temp(0, "SystemBoardInletTemp", "System Board Inlet Temp", "Intake", r.inletC, status(r.inlet), l.inletCautionC, l.inletCriticalC),
			temp(1, "SystemBoardExhaustTemp", "System Board Exhaust Temp", "Exhaust", r.exhaustC, status("OK"), 70, 75),
		}
		for i, c := range l.cpus {
			temps = append(temps, temp(2+i, c.label+"Temp", c.label+" Temp", "CPU", r.cpus[i].celsius, status(r.cpus[i].health), cpuCautionCelsius, cpuCriticalC))
		}
		// QuirkAbsentSensorZero and QuirkNullReadings.
		temps = append(temps,
			temp(len(temps), "GPU1Temp", "GPU1 Temp", "GPU", 0, absent(), 90, 95),
			temp(len(temps)+1, "NVMeBackplaneTemp", "NVMe Backplane Temp", "Backplane", nil, status("OK"), 60, 65),
		)
		fans := make([]any, len(l.fans))
		for i, f := range l.fans {
			fr := r.fans[i]
			fans[i] = obj{
				"@odata.id":                 fmt.Sprintf("%s/Thermal#/Fans/%d", chassis, i),
				"MemberId":                  "0x17||" + f.id,
				"Name":                      f.label,
				"FanName":                   f.label,
				"PhysicalContext":           "SystemBoard",
				"Reading":                   fr.rpm,
				"ReadingUnits":              "RPM",
				"LowerThresholdCritical":    600,
				"LowerThresholdNonCritical": 960,
				"MinReadingRange":           360,
				"MaxReadingRange":           fanMaxRPM,
				"Status":                    status(fr.health),
			}
		}
		return obj{
			"@odata.type":  "#Thermal.v1_4_0.Thermal",
			"Id":           "Thermal",
			"Name":         "Thermal",
			"Temperatures": temps,
			"Fans":         fans,
		}
	})

	p.add(system, func(m *machine, r *readings) obj {
		return obj{
			"@odata.type":  "#ComputerSystem.v1_5_0.ComputerSystem",
			"Id":           "System.Embedded.1",
			"Name":         "System",
			"SystemType":   "Physical",
			"Manufacturer": p.manufacturer,
			"Model":        p.model,
			"SerialNumber": m.systemSerial(),
			"UUID":         m.systemUUID(),
			"HostName":     m.name,
			"PowerState":   "On",
			"Status":       status(r.health),
			"ProcessorSummary": obj{
				"Count": len(l.cpus), "Model": "Contoso Xeon-class 14-core", "Status": status(cpusHealth(r)),
			},
			"MemorySummary": obj{
				"TotalSystemMemoryGiB": 16 * len(l.dimms), "Status": status(dimmsHealth(r)),
			},
			"Processors": odataID(system + "/Processors"),
			"Memory":     odataID(system + "/Memory"),
			"Storage":    odataID(system + "/Storage"),
			"Links":      obj{"Chassis": []any{odataID(chassis)}, "ManagedBy": []any{odataID(manager)}},
		}
	})
	cpuURIs := make([]string, len(l.cpus))
	for i, c := range l.cpus {
		cpuURIs[i] = system + "/Processors/" + c.id
		p.add(cpuURIs[i], func(_ *machine, r *readings) obj {
			return obj{
				"@odata.type":   "#Processor.v1_3_0.Processor",
				"Id":            c.id,
				"Name":          c.label,
				"Socket":        c.id,
				"ProcessorType": "CPU",
				"Manufacturer":  "Intel",
				"Model":         "Contoso Xeon-class 14-core",
				"TotalCores":    14,
				"TotalThreads":  28,
				"MaxSpeedMHz":   4000,
				"Status":        status(r.cpus[i].health),
			}
		})
	}
	p.add(system+"/Processors", collection(system+"/Processors", "#ProcessorCollection.ProcessorCollection", "Processors Collection", cpuURIs))

	dimmURIs := make([]string, len(l.dimms))
	for i, d := range l.dimms {
		dimmURIs[i] = system + "/Memory/" + d.id
		p.add(dimmURIs[i], func(m *machine, r *readings) obj {
			return obj{
				"@odata.type":       "#Memory.v1_6_0.Memory",
				"Id":                d.id,
				"Name":              "DIMM " + d.id[len("DIMM.Socket."):],
				"DeviceLocator":     d.id[len("DIMM.Socket."):],
				"MemoryDeviceType":  "DDR4",
				"MemoryType":        "DRAM",
				"CapacityMiB":       16384,
				"OperatingSpeedMhz": 2666,
				"Manufacturer":      "Contoso Memory",
				"PartNumber":        "HMA82GR7CJR8N-VK",
				"SerialNumber":      m.partSerial(l.dimmSerialPrefix, partSlot{partDIMM, i}, r.dimms[i].generation),
				"ErrorCorrection":   "MultiBitECC",
				"Status":            status(r.dimms[i].health),
				"Metrics":           odataID(dimmURIs[i] + "/MemoryMetrics"),
			}
		})
		p.add(dimmURIs[i]+"/MemoryMetrics", func(_ *machine, r *readings) obj {
			dr := r.dimms[i]
			return obj{
				"@odata.type":   "#MemoryMetrics.v1_1_0.MemoryMetrics",
				"Id":            "MemoryMetrics",
				"Name":          "Memory Metrics",
				"CurrentPeriod": obj{"CorrectableECCErrorCount": dr.correctable, "UncorrectableECCErrorCount": dr.uncorrectable},
				"LifeTime":      obj{"CorrectableECCErrorCount": dr.correctable, "UncorrectableECCErrorCount": dr.uncorrectable},
			}
		})
	}
	p.add(system+"/Memory", collection(system+"/Memory", "#MemoryCollection.MemoryCollection", "Memory Collection", dimmURIs))

	driveURIs := make([]string, len(l.drives))
	for i, d := range l.drives {
		driveURIs[i] = storage + "/Drives/" + d.id
		p.add(driveURIs[i], func(m *machine, r *readings) obj {
			dr := r.drives[i]
			o := obj{
				"@odata.type":                   "#Drive.v1_4_0.Drive",
				"Id":                            d.id,
				"Name":                          d.label,
				"MediaType":                     "HDD",
				"Protocol":                      "SAS",
				"CapacityBytes":                 599550590976,
				"Manufacturer":                  "Contoso Storage",
				"Model":                         "ST600MM0099",
				"SerialNumber":                  m.partSerial(l.driveSerialPrefix, partSlot{partDrive, i}, dr.generation),
				"FailurePredicted":              dr.predicted,
				"PredictedMediaLifeLeftPercent": dr.lifeLeftPercent,
				"Status":                        status(dr.health),
			}
			if i == 1 {
				delete(o, "Id") // QuirkDriveWithoutID
			}
			return o
		})
	}
	p.add(system+"/Storage", collection(system+"/Storage", "#StorageCollection.StorageCollection", "Storage Collection", []string{storage}))
	p.add(storage, func(_ *machine, r *readings) obj {
		drives := make([]any, len(driveURIs))
		for i, u := range driveURIs {
			drives[i] = odataID(u)
		}
		return obj{
			"@odata.type":        "#Storage.v1_4_0.Storage",
			"Id":                 "RAID.Integrated.1-1",
			"Name":               "PERC H730P Mini",
			"Status":             status(drivesHealth(r)),
			"Drives@odata.count": len(drives),
			"Drives":             drives,
		}
	})

	p.add(manager, func(m *machine, r *readings) obj {
		return obj{
			"@odata.type":     "#Manager.v1_3_3.Manager",
			"Id":              "iDRAC.Embedded.1",
			"Name":            "Manager",
			"ManagerType":     "BMC",
			"FirmwareVersion": "2.70.70.70",
			"Model":           "13G Monolithic",
			"UUID":            m.uuid(),
			"DateTime":        r.now.UTC().Format("2006-01-02T15:04:05-07:00"),
			"Status":          status("OK"),
			"LogServices":     odataID(manager + "/LogServices"),
			"Links":           obj{"ManagerForServers": []any{odataID(system)}, "ManagerForChassis": []any{odataID(chassis)}},
		}
	})
	p.add(manager+"/LogServices", collection(manager+"/LogServices", "#LogServiceCollection.LogServiceCollection", "Log Service Collection", []string{sel}))
	p.add(sel, func(_ *machine, r *readings) obj {
		return obj{
			"@odata.type":        "#LogService.v1_1_0.LogService",
			"Id":                 "SEL",
			"Name":               "SEL Log Service",
			"LogEntryType":       "SEL",
			"OverWritePolicy":    "WrapsWhenFull",
			"MaxNumberOfRecords": 1024,
			"DateTime":           r.now.UTC().Format("2006-01-02T15:04:05-07:00"),
			"Status":             status("OK"),
			"Entries":            odataID(sel + "/Entries"),
		}
	})
	boot := func(m *machine) []logEvent {
		// QuirkZeroDate: entries logged before the BMC had its clock.
		return []logEvent{
			{severity: "OK", message: "Log cleared.", code: "SEL0001"},
			{severity: "OK", message: "The chassis is closed while the power is off.", code: "SEC0033"},
			{created: m.start.Add(-time.Minute), severity: "OK", message: "The system was powered on.", code: "SYS1001"},
		}
	}
	p.add(sel+"/Entries", logEntryCollection(sel+"/Entries", boot, "SEL"))
	return p
}
