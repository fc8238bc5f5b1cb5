package sim

import (
	"fmt"
	"strings"
)

// newModernProfile is a current 1U server whose BMC serves only the new
// schemas: PowerSubsystem, ThermalSubsystem, EnvironmentMetrics, Sensors,
// MemoryMetrics and ProcessorMetrics. It honours $expand up to three levels
// and refuses Basic auth, as current firmware does by default.
func newModernProfile() *profile {
	p := &profile{
		name:         ProfileModern,
		model:        "Contoso RS110 Gen5",
		manufacturer: "Contoso",
		serialPrefix: "CZ",
		expand:       ExpandHonor,
		layout: layout{
			cpus:              []part{{"CPU1", "CPU 1"}, {"CPU2", "CPU 2"}},
			psus:              []part{{"PSU1", "PSU 1"}, {"PSU2", "PSU 2"}},
			fans:              []part{{"Fan1", "Fan 1"}, {"Fan2", "Fan 2"}, {"Fan3", "Fan 3"}, {"Fan4", "Fan 4"}, {"Fan5", "Fan 5"}, {"Fan6", "Fan 6"}},
			drives:            []part{{"NVMe1", "NVMe Bay 1"}, {"NVMe2", "NVMe Bay 2"}},
			psuCapacityWatts:  800,
			idleWatts:         180,
			peakWatts:         450,
			inletCautionC:     42,
			inletCriticalC:    47,
			dimmSerialPrefix:  "8034",
			driveSerialPrefix: "S6",
		},
	}
	for cpu := 1; cpu <= 2; cpu++ {
		for slot := 1; slot <= 4; slot++ {
			p.layout.dimms = append(p.layout.dimms, part{fmt.Sprintf("DIMM%d", (cpu-1)*4+slot), fmt.Sprintf("PROC %d DIMM %d", cpu, slot)})
		}
	}
	l := &p.layout
	const (
		root     = ServiceRootPath
		chassis  = root + "/Chassis/1"
		system   = root + "/Systems/1"
		manager  = root + "/Managers/1"
		powerSub = chassis + "/PowerSubsystem"
		thermSub = chassis + "/ThermalSubsystem"
		sensors  = chassis + "/Sensors"
		storage  = system + "/Storage/1"
		logSvc   = system + "/LogServices/Log1"
	)

	p.addServiceRoot(3, chassis, system, manager)

	p.add(chassis, func(m *machine, r *readings) obj {
		return obj{
			"@odata.type":        "#Chassis.v1_25_0.Chassis",
			"Id":                 "1",
			"Name":               "Computer System Chassis",
			"ChassisType":        "RackMount",
			"Manufacturer":       p.manufacturer,
			"Model":              p.model,
			"SerialNumber":       m.systemSerial(),
			"PartNumber":         "P58452-B21",
			"PowerState":         "On",
			"Status":             status(r.health),
			"PowerSubsystem":     odataID(powerSub),
			"ThermalSubsystem":   odataID(thermSub),
			"EnvironmentMetrics": odataID(chassis + "/EnvironmentMetrics"),
			"Sensors":            odataID(sensors),
			"Links": obj{
				"ComputerSystems": []any{odataID(system)},
				"ManagedBy":       []any{odataID(manager)},
			},
		}
	})

	// Power.
	psuURIs := make([]string, len(l.psus))
	for i, ps := range l.psus {
		psuURIs[i] = powerSub + "/PowerSupplies/" + ps.id
	}
	p.add(powerSub, func(_ *machine, r *readings) obj {
		o := obj{
			"@odata.type":   "#PowerSubsystem.v1_1_0.PowerSubsystem",
			"Id":            "PowerSubsystem",
			"Name":          "Power Subsystem",
			"CapacityWatts": l.psuCapacityWatts,
			"Allocation":    obj{"RequestedWatts": l.peakWatts, "AllocatedWatts": l.psuCapacityWatts},
			"Status":        status(psuRedundancyHealth(r)),
			"PowerSupplies": odataID(powerSub + "/PowerSupplies"),
		}
		if !r.psuSingle { // one supply: nothing to be redundant with
			mode := "Failover"
			if r.psuNotRedundant {
				mode = "NotRedundant"
			}
			o["PowerSupplyRedundancy"] = []any{obj{
				"RedundancyType": mode, "MinNeededInGroup": 2, // members needed to be redundant
				"RedundancyGroup": []any{odataID(psuURIs[0]), odataID(psuURIs[1])},
				"Status":          status(psuRedundancyHealth(r)),
			}}
		}
		return o
	})
	p.add(powerSub+"/PowerSupplies", func(m *machine, r *readings) obj {
		return collection(powerSub+"/PowerSupplies", "#PowerSupplyCollection.PowerSupplyCollection", "Power Supply Collection", listedPSUs(psuURIs, r))(m, r)
	})
	for i, ps := range l.psus {
		uri := psuURIs[i]
		p.add(uri, func(m *machine, r *readings) obj {
			pr := r.psus[i]
			location := obj{"PartLocation": obj{"ServiceLabel": ps.label, "LocationType": "Bay", "LocationOrdinalValue": i}}
			switch {
			case pr.unlisted:
				return nil // not fitted: the BMC knows no such bay
			case pr.removed:
				return obj{
					"@odata.type": "#PowerSupply.v1_6_0.PowerSupply",
					"Id":          ps.id,
					"Name":        ps.label,
					"Status":      absent(),
					"Location":    location,
				}
			}
			return obj{
				"@odata.type":        "#PowerSupply.v1_6_0.PowerSupply",
				"Id":                 ps.id,
				"Name":               ps.label,
				"Status":             psuStatus(pr),
				"LineInputStatus":    pr.lineInputStatus(),
				"PowerSupplyType":    "AC",
				"Model":              "865414-B21",
				"Manufacturer":       "Contoso Power",
				"SerialNumber":       m.serial("5WBXK", i),
				"FirmwareVersion":    "1.02",
				"PowerCapacityWatts": l.psuCapacityWatts,
				"HotPluggable":       true,
				"InputRanges":        []any{obj{"NominalVoltageType": "AC200To240V", "CapacityWatts": l.psuCapacityWatts}},
				"EfficiencyRatings":  []any{obj{"LoadPercent": 50, "EfficiencyPercent": psuEfficiency * 100}},
				"Location":           location,
				"Metrics":            odataID(uri + "/Metrics"),
			}
		})
		p.add(uri+"/Metrics", func(_ *machine, r *readings) obj {
			pr := r.psus[i]
			if pr.absent() {
				return nil // an empty bay has no metrics
			}
			return obj{
				"@odata.type":      "#PowerSupplyMetrics.v1_1_0.PowerSupplyMetrics",
				"Id":               "Metrics",
				"Name":             ps.label + " Metrics",
				"Status":           psuStatus(pr),
				"InputVoltage":     obj{"Reading": pr.inputVolts},
				"InputPowerWatts":  obj{"Reading": pr.inputWatts, "DataSourceUri": sensors + "/" + ps.id + "InputPower"},
				"OutputPowerWatts": obj{"Reading": pr.outputWatts},
			}
		})
	}
	p.add(chassis+"/EnvironmentMetrics", func(_ *machine, r *readings) obj {
		return obj{
			"@odata.type":        "#EnvironmentMetrics.v1_3_0.EnvironmentMetrics",
			"Id":                 "EnvironmentMetrics",
			"Name":               "Chassis Environment Metrics",
			"PowerWatts":         obj{"Reading": r.inputWatts, "DataSourceUri": sensors + "/TotalPower"},
			"TemperatureCelsius": obj{"Reading": r.inletC, "DataSourceUri": sensors + "/InletTemp"},
		}
	})

	// Thermal.
	fanURIs := make([]string, len(l.fans))
	for i, f := range l.fans {
		fanURIs[i] = thermSub + "/Fans/" + f.id
	}
	p.add(thermSub, func(_ *machine, r *readings) obj {
		return obj{
			"@odata.type":    "#ThermalSubsystem.v1_3_0.ThermalSubsystem",
			"Id":             "ThermalSubsystem",
			"Name":           "Thermal Subsystem",
			"Status":         status(fansHealth(r)),
			"Fans":           odataID(thermSub + "/Fans"),
			"ThermalMetrics": odataID(thermSub + "/ThermalMetrics"),
		}
	})
	p.add(thermSub+"/Fans", collection(thermSub+"/Fans", "#FanCollection.FanCollection", "Fan Collection", fanURIs))
	for i, f := range l.fans {
		p.add(fanURIs[i], func(_ *machine, r *readings) obj {
			fr := r.fans[i]
			return obj{
				"@odata.type":  "#Fan.v1_5_0.Fan",
				"Id":           f.id,
				"Name":         f.label,
				"Status":       status(fr.health),
				"HotPluggable": true,
				"SpeedPercent": obj{"Reading": fr.percent, "SpeedRPM": fr.rpm, "DataSourceUri": sensors + "/" + f.id},
				"Location":     obj{"PartLocation": obj{"ServiceLabel": f.label, "LocationType": "Bay", "LocationOrdinalValue": i}},
			}
		})
	}
	p.add(thermSub+"/ThermalMetrics", func(_ *machine, r *readings) obj {
		temps := []any{
			obj{"DataSourceUri": sensors + "/InletTemp", "DeviceName": "Inlet", "PhysicalContext": "Intake", "Reading": r.inletC},
			obj{"DataSourceUri": sensors + "/ExhaustTemp", "DeviceName": "Exhaust", "PhysicalContext": "Exhaust", "Reading": r.exhaustC},
		}
		for i, c := range l.cpus {
			temps = append(temps, obj{"DataSourceUri": sensors + "/" + c.id + "Temp", "DeviceName": c.label, "PhysicalContext": "CPU", "Reading": r.cpus[i].celsius})
		}
		return obj{
			"@odata.type":                "#ThermalMetrics.v1_3_0.ThermalMetrics",
			"Id":                         "ThermalMetrics",
			"Name":                       "Chassis Thermal Metrics",
			"TemperatureReadingsCelsius": temps,
		}
	})

	// Sensors: one resource per reading, with thresholds.
	type sensorDef struct {
		id, name, readingType, units, context string
		value                                 func(r *readings) (float64, string)
		thresholds                            obj
		// psu is the index of the supply the sensor is on; -1 for none.
		psu int
	}
	defs := []sensorDef{
		{"InletTemp", "Inlet Temperature", "Temperature", "Cel", "Intake", func(r *readings) (float64, string) { return r.inletC, r.inlet },
			obj{"UpperCaution": obj{"Reading": l.inletCautionC}, "UpperCritical": obj{"Reading": l.inletCriticalC}}, -1},
		{"ExhaustTemp", "Exhaust Temperature", "Temperature", "Cel", "Exhaust", func(r *readings) (float64, string) { return r.exhaustC, "OK" },
			obj{"UpperCaution": obj{"Reading": 70}, "UpperCritical": obj{"Reading": 75}}, -1},
		{"TotalPower", "Total Input Power", "Power", "W", "PowerSupply", func(r *readings) (float64, string) { return r.inputWatts, "OK" }, nil, -1},
	}
	for i, c := range l.cpus {
		defs = append(defs, sensorDef{c.id + "Temp", c.label + " Temperature", "Temperature", "Cel", "CPU",
			func(r *readings) (float64, string) { return r.cpus[i].celsius, r.cpus[i].health },
			obj{"UpperCaution": obj{"Reading": cpuCautionCelsius}, "UpperCritical": obj{"Reading": cpuCriticalC}}, -1})
	}
	for i, f := range l.fans {
		defs = append(defs, sensorDef{f.id, f.label + " Speed", "Percent", "%", "Fan",
			func(r *readings) (float64, string) { return r.fans[i].percent, r.fans[i].health },
			obj{"LowerCritical": obj{"Reading": 5}}, -1})
	}
	for i, ps := range l.psus {
		defs = append(defs, sensorDef{ps.id + "InputPower", ps.label + " Input Power", "Power", "W", "PowerSupply",
			func(r *readings) (float64, string) { return r.psus[i].inputWatts, r.psus[i].health }, nil, i})
	}
	sensorURIs := make([]string, len(defs))
	for i, d := range defs {
		sensorURIs[i] = sensors + "/" + d.id
		p.add(sensorURIs[i], func(_ *machine, r *readings) obj {
			v, health := d.value(r)
			st := status(health)
			var reading any = v
			if d.psu >= 0 {
				switch pr := r.psus[d.psu]; {
				case pr.unlisted:
					return nil // no such supply, no such sensor
				case pr.removed:
					st, reading = absent(), nil // an empty bay reads nothing
				}
			}
			o := obj{
				"@odata.type":     "#Sensor.v1_7_0.Sensor",
				"Id":              d.id,
				"Name":            d.name,
				"ReadingType":     d.readingType,
				"ReadingUnits":    d.units,
				"Reading":         reading,
				"PhysicalContext": d.context,
				"Status":          st,
			}
			if d.thresholds != nil {
				o["Thresholds"] = d.thresholds
			}
			return o
		})
	}
	p.add(sensors, func(m *machine, r *readings) obj {
		listed := make([]string, 0, len(sensorURIs))
		for i, uri := range sensorURIs {
			if psu := defs[i].psu; psu < 0 || !r.psus[psu].unlisted {
				listed = append(listed, uri)
			}
		}
		return collection(sensors, "#SensorCollection.SensorCollection", "Sensors", listed)(m, r)
	})

	// System.
	p.add(system, func(m *machine, r *readings) obj {
		return obj{
			"@odata.type":  "#ComputerSystem.v1_20_0.ComputerSystem",
			"Id":           "1",
			"Name":         "Computer System",
			"SystemType":   "Physical",
			"Manufacturer": p.manufacturer,
			"Model":        p.model,
			"SerialNumber": m.systemSerial(),
			"UUID":         strings.ToUpper(m.systemUUID()), // this firmware writes it in capitals
			"HostName":     m.name,
			"PowerState":   "On",
			"Status":       status(r.health),
			"ProcessorSummary": obj{
				"Count": len(l.cpus), "Model": "Contoso Xeon-class 32-core", "Status": status(cpusHealth(r)),
			},
			"MemorySummary": obj{
				"TotalSystemMemoryGiB": 32 * len(l.dimms), "Status": status(dimmsHealth(r)),
			},
			"Processors":  odataID(system + "/Processors"),
			"Memory":      odataID(system + "/Memory"),
			"Storage":     odataID(system + "/Storage"),
			"LogServices": odataID(system + "/LogServices"),
			"Links":       obj{"Chassis": []any{odataID(chassis)}, "ManagedBy": []any{odataID(manager)}},
		}
	})
	cpuURIs := make([]string, len(l.cpus))
	for i, c := range l.cpus {
		cpuURIs[i] = system + "/Processors/" + c.id
		p.add(cpuURIs[i], func(m *machine, r *readings) obj {
			return obj{
				"@odata.type":           "#Processor.v1_18_0.Processor",
				"Id":                    c.id,
				"Name":                  c.label,
				"Socket":                c.label,
				"ProcessorType":         "CPU",
				"ProcessorArchitecture": "x86",
				"InstructionSet":        "x86-64",
				"Manufacturer":          "Intel(R) Corporation",
				"Model":                 "Contoso Xeon-class 32-core",
				"TotalCores":            32,
				"TotalThreads":          64,
				"MaxSpeedMHz":           3800,
				"Status":                status(r.cpus[i].health),
				"Metrics":               odataID(cpuURIs[i] + "/ProcessorMetrics"),
			}
		})
		p.add(cpuURIs[i]+"/ProcessorMetrics", func(_ *machine, r *readings) obj {
			return obj{
				"@odata.type":        "#ProcessorMetrics.v1_6_0.ProcessorMetrics",
				"Id":                 "ProcessorMetrics",
				"Name":               c.label + " Metrics",
				"TemperatureCelsius": r.cpus[i].celsius,
				"BandwidthPercent":   round1(20 + 60*r.load),
			}
		})
	}
	p.add(system+"/Processors", collection(system+"/Processors", "#ProcessorCollection.ProcessorCollection", "Processors Collection", cpuURIs))

	dimmURIs := make([]string, len(l.dimms))
	for i, d := range l.dimms {
		dimmURIs[i] = system + "/Memory/" + d.id
		p.add(dimmURIs[i], func(m *machine, r *readings) obj {
			return obj{
				"@odata.type":       "#Memory.v1_17_0.Memory",
				"Id":                d.id,
				"Name":              d.label,
				"DeviceLocator":     d.label,
				"MemoryDeviceType":  "DDR5",
				"MemoryType":        "DRAM",
				"CapacityMiB":       32768,
				"OperatingSpeedMhz": 4800,
				"Manufacturer":      "Contoso Memory",
				"PartNumber":        "M321R4GA3BB6-CQK",
				"SerialNumber":      m.partSerial(l.dimmSerialPrefix, partSlot{partDIMM, i}, r.dimms[i].generation),
				"ErrorCorrection":   "MultiBitECC",
				"Location": obj{"PartLocation": obj{
					"ServiceLabel": d.label, "LocationType": "Slot", "LocationOrdinalValue": i,
				}},
				"Status":  status(r.dimms[i].health),
				"Metrics": odataID(dimmURIs[i] + "/MemoryMetrics"),
			}
		})
		p.add(dimmURIs[i]+"/MemoryMetrics", func(_ *machine, r *readings) obj {
			dr := r.dimms[i]
			counts := obj{"CorrectableECCErrorCount": dr.correctable, "UncorrectableECCErrorCount": dr.uncorrectable}
			return obj{
				"@odata.type":   "#MemoryMetrics.v1_7_0.MemoryMetrics",
				"Id":            "MemoryMetrics",
				"Name":          d.label + " Metrics",
				"CurrentPeriod": counts,
				"LifeTime":      obj{"CorrectableECCErrorCount": dr.correctable, "UncorrectableECCErrorCount": dr.uncorrectable},
				"HealthData":    obj{"AlarmTrips": obj{"CorrectableECCError": dr.correctable > eccWarnCount, "UncorrectableECCError": dr.uncorrectable > 0}},
			}
		})
	}
	p.add(system+"/Memory", collection(system+"/Memory", "#MemoryCollection.MemoryCollection", "Memory Module Collection", dimmURIs))

	driveURIs := make([]string, len(l.drives))
	for i, d := range l.drives {
		driveURIs[i] = storage + "/Drives/" + d.id
		p.add(driveURIs[i], func(m *machine, r *readings) obj {
			dr := r.drives[i]
			return obj{
				"@odata.type":                   "#Drive.v1_17_0.Drive",
				"Id":                            d.id,
				"Name":                          d.label,
				"MediaType":                     "SSD",
				"Protocol":                      "NVMe",
				"CapacityBytes":                 1920383410176,
				"Manufacturer":                  "Contoso Storage",
				"Model":                         "CS-NVME-1T9",
				"SerialNumber":                  m.partSerial(l.driveSerialPrefix, partSlot{partDrive, i}, dr.generation),
				"FailurePredicted":              dr.predicted,
				"PredictedMediaLifeLeftPercent": dr.lifeLeftPercent,
				"Status":                        status(dr.health),
				"PhysicalLocation":              obj{"PartLocation": obj{"ServiceLabel": d.label, "LocationType": "Bay", "LocationOrdinalValue": i}},
			}
		})
	}
	p.add(system+"/Storage", collection(system+"/Storage", "#StorageCollection.StorageCollection", "Storage Collection", []string{storage}))
	p.add(storage, func(_ *machine, r *readings) obj {
		drives := make([]any, len(driveURIs))
		for i, u := range driveURIs {
			drives[i] = odataID(u)
		}
		return obj{
			"@odata.type":                    "#Storage.v1_15_0.Storage",
			"Id":                             "1",
			"Name":                           "NVMe Storage",
			"Status":                         status(drivesHealth(r)),
			"Drives@odata.count":             len(drives),
			"Drives":                         drives,
			"StorageControllers@odata.count": 0,
		}
	})

	// Logs.
	boot := func(m *machine) []logEvent {
		return []logEvent{{created: m.start, severity: "OK", message: "The system was powered on.", code: "SYS1001"}}
	}
	p.add(system+"/LogServices", collection(system+"/LogServices", "#LogServiceCollection.LogServiceCollection", "Log Service Collection", []string{logSvc}))
	p.add(logSvc, func(m *machine, r *readings) obj {
		return obj{
			"@odata.type":        "#LogService.v1_5_0.LogService",
			"Id":                 "Log1",
			"Name":               "System Event Log",
			"LogEntryType":       "Event",
			"OverWritePolicy":    "WrapsWhenFull",
			"MaxNumberOfRecords": 1000,
			"DateTime":           redfishTime(r.now),
			"Status":             status("OK"),
			"Entries":            odataID(logSvc + "/Entries"),
		}
	})
	p.add(logSvc+"/Entries", logEntryCollection(logSvc+"/Entries", boot, "Event"))

	p.add(manager, func(m *machine, r *readings) obj {
		return obj{
			"@odata.type":     "#Manager.v1_19_0.Manager",
			"Id":              "1",
			"Name":            "Manager",
			"ManagerType":     "BMC",
			"FirmwareVersion": "2.10",
			"Model":           "Contoso BMC 6",
			"UUID":            m.uuid(),
			"DateTime":        redfishTime(r.now),
			"Status":          status("OK"),
			"Links":           obj{"ManagerForServers": []any{odataID(system)}, "ManagerForChassis": []any{odataID(chassis)}},
		}
	})
	return p
}

// psuRedundancyHealth is the health of the supplies' redundancy group:
// Warning when a supply failed, lost its input or was removed. A hot spare
// standing by and bays the server was built without are not failures.
func psuRedundancyHealth(r *readings) string {
	for _, p := range r.psus {
		if p.failed || p.inputLost || p.removed {
			return "Warning"
		}
	}
	return "OK"
}

// psuStatus is a fitted supply's Status: a hot spare standing by is
// StandbySpare ("part of a redundancy set and awaits a failover").
func psuStatus(p psuReading) obj {
	st := status(p.health)
	if p.spare {
		st["State"] = "StandbySpare"
	}
	return st
}

// listedPSUs are the URIs of the supplies the BMC lists: every bay but
// those the server was built without.
func listedPSUs(uris []string, r *readings) []string {
	out := make([]string, 0, len(uris))
	for i, uri := range uris {
		if !r.psus[i].unlisted {
			out = append(out, uri)
		}
	}
	return out
}

func worstOf[T any](items []T, health func(T) string) string {
	h := "OK"
	for _, it := range items {
		if healthRank(health(it)) > healthRank(h) {
			h = health(it)
		}
	}
	return h
}

func fansHealth(r *readings) string {
	return worstOf(r.fans, func(f fanReading) string { return f.health })
}
func cpusHealth(r *readings) string {
	return worstOf(r.cpus, func(c cpuReading) string { return c.health })
}
func dimmsHealth(r *readings) string {
	return worstOf(r.dimms, func(d dimmReading) string { return d.health })
}
func drivesHealth(r *readings) string {
	return worstOf(r.drives, func(d driveReading) string { return d.health })
}
