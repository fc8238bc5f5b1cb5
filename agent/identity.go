package agent

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/jaypipes/ghw/pkg/baseboard"
	"github.com/jaypipes/ghw/pkg/bios"
	"github.com/jaypipes/ghw/pkg/chassis"
	"github.com/jaypipes/ghw/pkg/product"
)

// dmiIDDir is where the kernel publishes the SMBIOS strings of types 0-3,
// one file each. The serial numbers and the UUID are readable by root only.
const dmiIDDir = "/sys/class/dmi/id"

// ReadIdentity reads what ties the host to its BMC: the system UUID and
// serial, vendor and product (SMBIOS type 1), the board serial (type 2)
// and the chassis serial (type 3), through ghw's product, baseboard and
// chassis packages under root. Fields the firmware leaves at a placeholder
// ("To Be Filled By O.E.M.", an all-zero UUID) are empty; a field that
// could not be read (not root, no DMI) is empty and said in a Problem.
func ReadIdentity(root string) (Identity, []Problem) {
	root = rootOrSlash(root)
	warnings := &ghwWarnings{}
	ctx := ghwContext(root, warnings, nil)
	d := readDMI(ctx, root)
	return d.identity, append(d.problems, warnings.problems(PartIdentity, root)...)
}

// dmiData is what ghw's DMI-backed packages read, in the report's types.
type dmiData struct {
	identity  Identity
	bios      BIOS
	baseboard Baseboard
	chassis   Chassis
	problems  []Problem
}

// readDMI reads SMBIOS types 0-3 through ghw under root.
func readDMI(ctx context.Context, root string) dmiData {
	var d dmiData
	if _, err := os.Stat(filepath.Join(root, dmiIDDir)); err != nil {
		d.problems = append(d.problems, problemFrom(PartIdentity, dmiIDDir, "reading the firmware's DMI (SMBIOS) strings", err))
		return d
	}
	// field reads one DMI string ghw returned, and says why it is missing
	// when it is.
	field := func(part, file, got string) string {
		if v := dmiValue(got); v != "" {
			return v
		}
		rel := dmiIDDir + "/" + file
		b, err := os.ReadFile(filepath.Join(root, rel))
		switch {
		case err != nil:
			if errors.Is(err, fs.ErrNotExist) && part != PartIdentity {
				return "" // an optional string this kernel or firmware does not publish
			}
			d.problems = append(d.problems, problemFrom(part, rel, "reading "+file, err))
		case part == PartIdentity && dmiValue(strings.TrimSpace(string(b))) == "":
			d.problems = append(d.problems, Problem{Part: part, Path: rel,
				Message: fmt.Sprintf("the firmware gives no %s (%q)", strings.ReplaceAll(file, "_", " "), strings.TrimSpace(string(b)))})
		}
		return ""
	}

	if p, err := ghwCall(func() (*product.Info, error) { return product.New(ctx) }); err != nil {
		d.problems = append(d.problems, Problem{Part: PartIdentity, Path: dmiIDDir, Message: fmt.Sprintf("reading the system (SMBIOS type 1): %v", err)})
	} else {
		d.identity.SystemUUID = strings.ToLower(field(PartIdentity, "product_uuid", p.UUID))
		d.identity.SystemSerial = field(PartIdentity, "product_serial", p.SerialNumber)
		d.identity.Vendor = field(PartIdentity, "sys_vendor", p.Vendor)
		d.identity.Product = field(PartIdentity, "product_name", p.Name)
	}
	if b, err := ghwCall(func() (*baseboard.Info, error) { return baseboard.New(ctx) }); err != nil {
		d.problems = append(d.problems, Problem{Part: PartInventory, Path: dmiIDDir, Message: fmt.Sprintf("reading the baseboard (SMBIOS type 2): %v", err)})
	} else {
		d.identity.BoardSerial = field(PartIdentity, "board_serial", b.SerialNumber)
		d.baseboard = Baseboard{
			Vendor:  field(PartInventory, "board_vendor", b.Vendor),
			Product: field(PartInventory, "board_name", b.Product),
			Serial:  d.identity.BoardSerial,
		}
	}
	if c, err := ghwCall(func() (*chassis.Info, error) { return chassis.New(ctx) }); err != nil {
		d.problems = append(d.problems, Problem{Part: PartInventory, Path: dmiIDDir, Message: fmt.Sprintf("reading the chassis (SMBIOS type 3): %v", err)})
	} else {
		d.identity.ChassisSerial = field(PartIdentity, "chassis_serial", c.SerialNumber)
		typ := dmiValue(c.TypeDescription)
		if typ == "" {
			typ = field(PartInventory, "chassis_type", c.Type)
		}
		d.chassis = Chassis{
			Type:   typ,
			Vendor: field(PartInventory, "chassis_vendor", c.Vendor),
			Serial: d.identity.ChassisSerial,
		}
	}
	if b, err := ghwCall(func() (*bios.Info, error) { return bios.New(ctx) }); err != nil {
		d.problems = append(d.problems, Problem{Part: PartInventory, Path: dmiIDDir, Message: fmt.Sprintf("reading the BIOS (SMBIOS type 0): %v", err)})
	} else {
		d.bios = BIOS{
			Vendor:  field(PartInventory, "bios_vendor", b.Vendor),
			Version: field(PartInventory, "bios_version", b.Version),
			Date:    field(PartInventory, "bios_date", b.Date),
		}
	}
	return d
}

// dmiValue is s trimmed, or "" for ghw's "unknown" and for the
// placeholders firmware leaves in SMBIOS strings it was never given
// (quirk "oem-placeholder": AMI's "To Be Filled By O.E.M." and "Default
// string", "System Serial Number", AMI's default UUID
// 03000200-0400-0500-0006-000700080009, all-zero and all-one UUIDs). A
// placeholder must not tie two hosts to one BMC.
func dmiValue(s string) string {
	s = strings.TrimSpace(s)
	switch strings.ToLower(s) {
	case "", "unknown", "to be filled by o.e.m.", "default string", "not specified",
		"not applicable", "none", "n/a", "na", "0", "0123456789", "1234567890",
		"system serial number", "system product name", "system manufacturer",
		"system version", "chassis serial number", "base board serial number",
		"type2 - board serial number", "type1 - system serial number", "oem", "o.e.m.",
		"00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff",
		"03000200-0400-0500-0006-000700080009":
		return ""
	}
	return s
}
