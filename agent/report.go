package agent

import "time"

// ReportVersion is the report format's version.
const ReportVersion = 1

// Report is what an agent sends to its poller: the host's own view of its
// hardware. Parts read on a slower cadence (SMART, inventory) are carried
// over between collections and listed in Cached; a part that could not be
// read is absent (never zero) and says why in Problems.
type Report struct {
	Version int `json:"version"`
	// Server is the inventory name the agent reports as; Hostname the
	// host's own name.
	Server   string    `json:"server"`
	Hostname string    `json:"hostname"`
	Time     time.Time `json:"time"`
	// Interval is how often the agent reports: a poller marks it silent
	// after three intervals without a report.
	Interval time.Duration `json:"interval_ns"`
	// Root is the directory /sys, /proc, /dev and the firmware tables were
	// read under, when not /.
	Root     string   `json:"root,omitempty"`
	Identity Identity `json:"identity"`
	// Inventory is the host's hardware (hourly); nil before it was read.
	Inventory *Inventory `json:"inventory,omitempty"`
	// DIMMs are the memory modules with their EDAC error counters, each
	// joined to its SMBIOS slot.
	DIMMs []DIMM `json:"dimms"`
	// Sensors are hwmon's temperatures, fans and power readings.
	Sensors []Sensor `json:"sensors"`
	// Drives are the disks as SMART reports them.
	Drives []Drive  `json:"drives"`
	Vitals *Vitals  `json:"vitals,omitempty"`
	Cached []string `json:"cached,omitempty"`
	// Problems are what could not be read, and why.
	Problems []Problem `json:"problems,omitempty"`
}

// Parts of a report, as Cached and Problem.Part name them.
const (
	PartIdentity  = "identity"
	PartInventory = "inventory"
	PartSMBIOS    = "smbios"
	PartEDAC      = "edac"
	PartHwmon     = "hwmon"
	PartSMART     = "smart"
	PartVitals    = "vitals"
)

// Problem is a part of the host that could not be read.
type Problem struct {
	Part string `json:"part"`
	// Path is what was read (a file, a device, a command), where known.
	Path    string `json:"path,omitempty"`
	Message string `json:"message"`
}

// Identity is what ties a host to its BMC: the firmware's system UUID and
// serial numbers (SMBIOS types 1, 2 and 3).
type Identity struct {
	SystemUUID    string `json:"system_uuid,omitempty"`
	SystemSerial  string `json:"system_serial,omitempty"`
	Vendor        string `json:"vendor,omitempty"`
	Product       string `json:"product,omitempty"`
	BoardSerial   string `json:"board_serial,omitempty"`
	ChassisSerial string `json:"chassis_serial,omitempty"`
}

// Inventory is the host's hardware as ghw and the SMBIOS tables describe
// it.
type Inventory struct {
	BIOS      BIOS      `json:"bios"`
	Baseboard Baseboard `json:"baseboard"`
	Chassis   Chassis   `json:"chassis"`
	CPUs      []CPU     `json:"cpus"`
	// MemoryBytes is the usable physical memory.
	MemoryBytes int64 `json:"memory_bytes"`
	// DIMMSlots are the SMBIOS type 17 records: every slot, populated or
	// not.
	DIMMSlots []DIMMSlot  `json:"dimm_slots"`
	Disks     []Disk      `json:"disks"`
	NICs      []NIC       `json:"nics"`
	PCI       []PCIDevice `json:"pci"`
	GPUs      []PCIDevice `json:"gpus"`
	ReadAt    time.Time   `json:"read_at"`
}

// BIOS is the firmware's vendor, version and date.
type BIOS struct {
	Vendor  string `json:"vendor,omitempty"`
	Version string `json:"version,omitempty"`
	Date    string `json:"date,omitempty"`
}

// Baseboard is the mainboard.
type Baseboard struct {
	Vendor  string `json:"vendor,omitempty"`
	Product string `json:"product,omitempty"`
	Serial  string `json:"serial,omitempty"`
}

// Chassis is the enclosure.
type Chassis struct {
	Type   string `json:"type,omitempty"`
	Vendor string `json:"vendor,omitempty"`
	Serial string `json:"serial,omitempty"`
}

// CPU is one processor package.
type CPU struct {
	// Socket is the package id (0-based, as the kernel numbers it).
	Socket  int    `json:"socket"`
	Model   string `json:"model,omitempty"`
	Cores   int    `json:"cores"`
	Threads int    `json:"threads"`
}

// DIMMSlot is one memory slot from SMBIOS type 17.
type DIMMSlot struct {
	// Locator is the slot as printed on the board ("DIMM_A1", "CPU1_DIMM_B2").
	Locator     string `json:"locator"`
	BankLocator string `json:"bank_locator,omitempty"`
	// SizeMiB is 0 for an empty slot.
	SizeMiB      int64  `json:"size_mib"`
	SpeedMTs     int    `json:"speed_mts,omitempty"`
	Type         string `json:"type,omitempty"`
	Manufacturer string `json:"manufacturer,omitempty"`
	PartNumber   string `json:"part_number,omitempty"`
	Serial       string `json:"serial,omitempty"`
}

// Disk is one block device.
type Disk struct {
	Name       string `json:"name"` // sda, nvme0n1
	Model      string `json:"model,omitempty"`
	Serial     string `json:"serial,omitempty"`
	WWN        string `json:"wwn,omitempty"`
	SizeBytes  int64  `json:"size_bytes"`
	Type       string `json:"type,omitempty"`       // HDD, SSD, NVMe, ...
	Controller string `json:"controller,omitempty"` // the storage controller or bus (SCSI, NVMe, virtio, ...)
}

// NIC is one network interface.
type NIC struct {
	Name      string `json:"name"`
	MAC       string `json:"mac,omitempty"`
	SpeedMbps int    `json:"speed_mbps,omitempty"`
	Virtual   bool   `json:"virtual,omitempty"`
}

// PCIDevice is one PCI function.
type PCIDevice struct {
	Address string `json:"address"`
	Vendor  string `json:"vendor,omitempty"`
	Product string `json:"product,omitempty"`
	Class   string `json:"class,omitempty"`
}

// DIMM is one memory module's EDAC error counters, joined to its SMBIOS
// slot so that an error names the slot a technician swaps.
type DIMM struct {
	// Slot is the SMBIOS locator where the join found one, else EDAC's
	// label.
	Slot string `json:"slot"`
	// Label is EDAC's dimm_label (or the csrow's channel label);
	// Controller the memory controller (mc0) and Location the EDAC
	// location (csrow/channel/slot).
	Label      string `json:"label,omitempty"`
	Controller string `json:"controller,omitempty"`
	Location   string `json:"location,omitempty"`
	SizeMiB    int64  `json:"size_mib,omitempty"`
	PartNumber string `json:"part_number,omitempty"`
	Serial     string `json:"serial,omitempty"`
	// Error counters since the driver loaded (boot).
	CorrectableErrors   *int64 `json:"correctable_errors,omitempty"`
	UncorrectableErrors *int64 `json:"uncorrectable_errors,omitempty"`
}

// Sensor kinds of hwmon.
const (
	SensorTemperature = "temperature"
	SensorFan         = "fan"
	SensorPower       = "power"
)

// Sensor is one hwmon reading.
type Sensor struct {
	// Chip is the hwmon driver (coretemp, k10temp, nvme, ...); Name the
	// sensor's label ("Package id 0", "Tctl", "Core 3") or its file name.
	Chip string `json:"chip"`
	// Device is the chip's device (coretemp.0, nvme0, 0000:00:18.3): it
	// tells apart the chips of one driver, whose sensors share names.
	Device string `json:"device,omitempty"`
	Name   string `json:"name"`
	Kind   string `json:"kind"`
	// CPUPackage marks a processor package temperature. Socket names the
	// processor ("CPU1" for package 0) a CPU chip's sensors belong to.
	CPUPackage bool    `json:"cpu_package,omitempty"`
	Socket     string  `json:"socket,omitempty"`
	Value      float64 `json:"value"`
	Unit       string  `json:"unit"` // Cel, RPM, W
	// Max and Crit are the sensor's own thresholds, where it has them.
	Max  *float64 `json:"max,omitempty"`
	Crit *float64 `json:"crit,omitempty"`
	Path string   `json:"path,omitempty"`
}

// Drive is one disk as smartctl reports it. Counters are absent where the
// device does not publish them.
type Drive struct {
	Device string `json:"device"` // /dev/sda
	// DeviceType is the smartctl device type the disk was read with
	// (-d megaraid,0), else the one smartctl detected (sat, nvme, scsi).
	// Disks behind a RAID controller share a Device (/dev/bus/0) and
	// differ by it (megaraid,0, megaraid,1).
	DeviceType string `json:"device_type,omitempty"`
	Model      string `json:"model,omitempty"`
	Serial     string `json:"serial,omitempty"`
	WWN        string `json:"wwn,omitempty"`
	Protocol   string `json:"protocol,omitempty"` // ATA, NVMe, SCSI
	// Passed is SMART's overall health verdict; nil when not read.
	Passed       *bool    `json:"passed,omitempty"`
	TemperatureC *float64 `json:"temperature_c,omitempty"`
	PowerOnHours *int64   `json:"power_on_hours,omitempty"`
	// ATA.
	ReallocatedSectors   *int64 `json:"reallocated_sectors,omitempty"`
	PendingSectors       *int64 `json:"pending_sectors,omitempty"`
	OfflineUncorrectable *int64 `json:"offline_uncorrectable,omitempty"`
	CommandTimeouts      *int64 `json:"command_timeouts,omitempty"`
	ErrorLogCount        *int64 `json:"error_log_count,omitempty"`
	// NVMe.
	CriticalWarning         *int64 `json:"critical_warning,omitempty"`
	MediaErrors             *int64 `json:"media_errors,omitempty"`
	AvailableSpare          *int64 `json:"available_spare,omitempty"`
	AvailableSpareThreshold *int64 `json:"available_spare_threshold,omitempty"`
	PercentageUsed          *int64 `json:"percentage_used,omitempty"`
	// SCSI.
	GrownDefects *int64 `json:"grown_defects,omitempty"`
	// ExitStatus is smartctl's exit status and ExitBits what its set bits
	// mean ("device open failed", "SMART status: disk failing", ...).
	ExitStatus int      `json:"exit_status"`
	ExitBits   []string `json:"exit_bits,omitempty"`
	// Standby: the disk was asleep and was not woken: nothing was read.
	Standby bool      `json:"standby,omitempty"`
	ReadAt  time.Time `json:"read_at"`
}

// Vitals are the host's load: CPU, memory, and per disk and NIC, the
// rates since the previous collection.
type Vitals struct {
	// Interval is the time the rates are over.
	Interval   time.Duration `json:"interval_ns"`
	CPUUsedPct float64       `json:"cpu_used_pct"`
	Load1      float64       `json:"load1"`
	Load5      float64       `json:"load5"`
	Load15     float64       `json:"load15"`
	MemTotal   int64         `json:"mem_total_bytes"`
	MemAvail   int64         `json:"mem_available_bytes"`
	Disks      []DiskIO      `json:"disks"`
	NICs       []NICStats    `json:"nics"`
}

// DiskIO is one disk's I/O over the interval, from /proc/diskstats deltas.
type DiskIO struct {
	Device string `json:"device"`
	// Rotational is the kernel's queue/rotational (an HDD).
	Rotational bool `json:"rotational"`
	// IOPS and the mean latency of a completed I/O (await), the mean
	// queue depth and the share of time busy.
	ReadIOPS       float64 `json:"read_iops"`
	WriteIOPS      float64 `json:"write_iops"`
	AvgLatencyMs   float64 `json:"avg_latency_ms"`
	AvgQueue       float64 `json:"avg_queue"`
	UtilizationPct float64 `json:"utilization_pct"`
}

// NICStats are one interface's cumulative error and drop counters.
type NICStats struct {
	Name      string `json:"name"`
	RxErrors  int64  `json:"rx_errors"`
	TxErrors  int64  `json:"tx_errors"`
	RxDropped int64  `json:"rx_dropped"`
	TxDropped int64  `json:"tx_dropped"`
}
