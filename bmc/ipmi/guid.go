package ipmi

import "fmt"

// guidOrder names the byte order a BMC sent a GUID in.
type guidOrder string

// The two byte orders of a GUID seen from BMCs (docs/ipmi.md, "System
// UUID").
const (
	// guidSMBIOS: time_low, time_mid and time_hi_and_version each least
	// significant byte first, clock_seq and node as they print. SMBIOS
	// type 1 stores the system UUID so (since SMBIOS 2.6), dmidecode and
	// the kernel's product_uuid decode it so, and most BMCs hand the
	// host's SMBIOS bytes back unchanged in Get System GUID.
	guidSMBIOS guidOrder = "SMBIOS"
	// guidIPMI: the whole 16 bytes least significant first, node first and
	// time_low last (IPMI 2.0 section 20.8, table 20-10), as some BMCs
	// (OpenBMC's among them) send it.
	guidIPMI guidOrder = "IPMI"
)

// systemUUID turns the 16 bytes of Get System GUID into the UUID as
// dmidecode prints it for the same machine, lower case 8-4-4-4-12, and
// says which byte order it read them in. It returns "" for a GUID that
// says there is none (all 00h, or all FFh: "not present, can be set").
//
// The bytes are read in SMBIOS order unless that does not give an RFC 4122
// UUID (version 1 to 7, variant 10b) while the IPMI order does. The two
// tests cannot both pass for one set of bytes: in SMBIOS order byte 7 holds
// the version nibble (10h-7Fh), in IPMI order it holds the variant bits
// (80h-BFh). A UUID that is not RFC 4122 either way is read in SMBIOS
// order.
func systemUUID(raw [16]byte) (string, guidOrder) {
	if allBytes(raw, 0x00) || allBytes(raw, 0xff) {
		return "", ""
	}
	smbios := fromSMBIOSOrder(raw)
	if rfc4122(smbios) {
		return formatUUID(smbios), guidSMBIOS
	}
	if ipmi := fromIPMIOrder(raw); rfc4122(ipmi) {
		return formatUUID(ipmi), guidIPMI
	}
	return formatUUID(smbios), guidSMBIOS
}

// fromSMBIOSOrder returns the UUID's bytes in print (RFC 4122 network)
// order from SMBIOS order: the first three fields byte-swapped.
func fromSMBIOSOrder(raw [16]byte) [16]byte {
	u := raw
	u[0], u[1], u[2], u[3] = raw[3], raw[2], raw[1], raw[0]
	u[4], u[5] = raw[5], raw[4]
	u[6], u[7] = raw[7], raw[6]
	return u
}

// fromIPMIOrder returns the UUID's bytes in print order from IPMI order:
// all 16 reversed.
func fromIPMIOrder(raw [16]byte) [16]byte {
	var u [16]byte
	for i := range raw {
		u[i] = raw[15-i]
	}
	return u
}

// rfc4122 reports whether u (in print order) has the RFC 4122 variant and
// a version of 1 to 7.
func rfc4122(u [16]byte) bool {
	v := u[6] >> 4
	return v >= 1 && v <= 7 && u[8]&0xc0 == 0x80
}

func formatUUID(u [16]byte) string {
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

func allBytes(b [16]byte, v byte) bool {
	for _, x := range b {
		if x != v {
			return false
		}
	}
	return true
}
