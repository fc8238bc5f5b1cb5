package ipmi

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/rackpulse/rackpulse/bmc"
)

// Read FRU Data counts: the first try, and the smallest the collector goes
// down to when the BMC answers that a read is too long.
const (
	fruChunkFirst = 32
	fruChunkMin   = 8
	// fruDeviceBuiltin is the FRU device of the BMC itself (FRU id 0),
	// which on a server describes the system.
	fruDeviceBuiltin = 0
)

// identity is what the BMC says of which machine it manages: the system
// UUID (Get System GUID) and serial number (the product serial of FRU 0).
// Both are read on the static cadence, and again whenever a session is
// opened (a restarted or replaced BMC), and carried between reads.
type identity struct {
	uuid, serial string
	// uuidAt and serialAt are when each was last settled; zero: due.
	uuidAt, serialAt time.Time
	// fruChunk is the Read FRU Data count the BMC accepts.
	fruChunk int
}

// refreshIdentity reads the system UUID and serial when they are due and
// returns the current ones. A BMC without the command or the FRU data
// gives an empty value and no error; any other failure is a part error of
// the systems part, the value read earlier stands, and a transient failure
// is retried in the next poll.
func (c *Collector) refreshIdentity(ctx context.Context, p *poll) (uuid, serial string) {
	id := &c.identity
	now := c.now()
	fresh := c.sess.openedThisPoll || c.sess.reconnected
	due := func(at time.Time) bool {
		return fresh || at.IsZero() || now.Sub(at) >= c.ep.Cadence.Static
	}
	if due(id.uuidAt) {
		u, err := c.readSystemGUID(ctx)
		switch {
		case err == nil:
			id.uuid, id.uuidAt = u, now
		case bmc.KindOf(err) == bmc.ErrKindMalformed:
			id.uuid, id.uuidAt = "", now
			p.fail(bmc.PartSystems, err)
		default:
			p.fail(bmc.PartSystems, err)
		}
	}
	if due(id.serialAt) {
		s, err := c.readFRUSerial(ctx)
		switch {
		case err == nil:
			id.serial, id.serialAt = s, now
		case bmc.KindOf(err) == bmc.ErrKindMalformed:
			id.serial, id.serialAt = "", now
			p.fail(bmc.PartSystems, err)
		default:
			p.fail(bmc.PartSystems, err)
		}
	}
	return id.uuid, id.serial
}

// readSystemGUID reads Get System GUID (App 37h) and returns the system
// UUID as dmidecode prints it; "" when the BMC does not support the
// command or has no GUID.
func (c *Collector) readSystemGUID(ctx context.Context) (string, error) {
	b, err := c.sess.exchange(ctx, cmdGetSystemGUID, nil)
	if err != nil {
		if answeredNo(err) {
			c.log.Debug("BMC has no system GUID", "err", err)
			return "", nil
		}
		return "", fmt.Errorf("reading the system GUID: %w", err)
	}
	if len(b) < 16 {
		return "", bmc.NewError(bmc.ErrKindMalformed, cmdGetSystemGUID.Name, fmt.Errorf("answer of %d bytes, want 16", len(b)))
	}
	uuid, order := systemUUID([16]byte(b[:16]))
	c.log.Debug("system GUID", "uuid", uuid, "byte_order", order, "raw", fmt.Sprintf("% x", b[:16]))
	return uuid, nil
}

// readFRUSerial reads the product serial number of the BMC's own FRU
// (device 0): Get FRU Inventory Area Info, the common header, and the
// product info area only. It returns "" when the BMC has no FRU data, no
// product area, or an empty serial.
func (c *Collector) readFRUSerial(ctx context.Context) (string, error) {
	b, err := c.sess.exchange(ctx, cmdGetFRUAreaInfo, []byte{fruDeviceBuiltin})
	if err != nil {
		if answeredNo(err) {
			c.log.Debug("BMC has no FRU data", "err", err)
			return "", nil
		}
		return "", fmt.Errorf("reading FRU inventory area info: %w", err)
	}
	if len(b) < 3 {
		return "", bmc.NewError(bmc.ErrKindMalformed, cmdGetFRUAreaInfo.Name, fmt.Errorf("answer of %d bytes, want 3", len(b)))
	}
	size := int(le16(b[0:2]))
	if b[2]&0x01 != 0 {
		c.log.Info("FRU is accessed by words, which the collector does not read; no serial")
		return "", nil
	}
	if size < int(types.FRUCommonHeaderSize) {
		return "", nil
	}
	hdr, err := c.readFRU(ctx, 0, int(types.FRUCommonHeaderSize))
	if err != nil {
		return "", err
	}
	off, err := fruProductOffset(hdr, size)
	if err != nil || off == 0 {
		return "", err
	}
	// The area's second byte is its length: read a first chunk, then
	// what is left of the area.
	area, err := c.readFRU(ctx, off, min(c.fruChunk(), size-off))
	if err != nil {
		return "", err
	}
	n := int(area[1]) * 8
	if n < 8 || off+n > size {
		return "", fruMalformed(fmt.Errorf("product info area at %d of %d bytes runs past the FRU's %d", off, n, size))
	}
	if n > len(area) {
		rest, err := c.readFRU(ctx, off+len(area), n-len(area))
		if err != nil {
			return "", err
		}
		area = append(area, rest...)
	}
	return productSerial(area[:n])
}

// fruChunk is the Read FRU Data count to ask for.
func (c *Collector) fruChunk() int {
	if c.identity.fruChunk == 0 {
		c.identity.fruChunk = fruChunkFirst
	}
	return c.identity.fruChunk
}

// readFRU reads n bytes of FRU device 0 from offset, in as many Read FRU
// Data commands as the BMC's answer size allows.
func (c *Collector) readFRU(ctx context.Context, offset, n int) ([]byte, error) {
	out := make([]byte, 0, n)
	for len(out) < n {
		at := offset + len(out)
		want := min(c.fruChunk(), n-len(out))
		b, err := c.sess.exchange(ctx, cmdReadFRUData, []byte{fruDeviceBuiltin, byte(at), byte(at >> 8), byte(want)})
		if err != nil {
			if cc, ok := completionCode(err); ok && (cc == 0xc7 || cc == 0xc8 || cc == 0xca) && c.identity.fruChunk > fruChunkMin {
				c.identity.fruChunk = max(c.identity.fruChunk-8, fruChunkMin)
				continue
			}
			return nil, fmt.Errorf("reading FRU data at %d: %w", at, err)
		}
		if len(b) < 1 || b[0] == 0 || int(b[0]) > want || len(b)-1 < int(b[0]) {
			return nil, bmc.NewError(bmc.ErrKindMalformed, cmdReadFRUData.Name,
				fmt.Errorf("answer at offset %d for %d bytes: % x", at, want, b))
		}
		out = append(out, b[1:1+int(b[0])]...)
	}
	return out, nil
}

func fruMalformed(err error) error {
	return bmc.NewError(bmc.ErrKindMalformed, "FRU data", err)
}

// fruProductOffset checks a FRU common header and returns the byte offset
// of the product info area, 0 when there is none.
func fruProductOffset(hdr []byte, size int) (int, error) {
	var h types.FRUCommonHeader
	if err := h.Unpack(hdr); err != nil {
		return 0, fruMalformed(err)
	}
	if h.FormatVersion&0x0f != types.FRUFormatVersion {
		return 0, fruMalformed(fmt.Errorf("common header format version %#02x, want 1", h.FormatVersion))
	}
	if fruChecksum(hdr[:8]) != 0 {
		return 0, fruMalformed(errors.New("common header checksum does not add up"))
	}
	off := int(h.ProductOffset8B) * 8
	if off != 0 && off+2 > size {
		return 0, fruMalformed(fmt.Errorf("product info area at %d, past the FRU's %d bytes", off, size))
	}
	return off, nil
}

// productSerial decodes a product info area (FRU specification section
// 12) and returns its serial number, trimmed.
func productSerial(area []byte) (string, error) {
	if fruChecksum(area) != 0 {
		return "", fruMalformed(errors.New("product info area checksum does not add up"))
	}
	var pa types.FRUProductInfoArea
	if err := pa.Unpack(area); err != nil {
		return "", fruMalformed(fmt.Errorf("product info area: %w", err))
	}
	s := types.FRUFieldString(pa.SerialNumberTypeLength, pa.SerialNumber)
	return strings.TrimSpace(strings.Trim(s, "\x00")), nil
}

// fruChecksum is the zero checksum of a FRU area: 0 when it adds up.
func fruChecksum(b []byte) byte {
	var sum byte
	for _, x := range b {
		sum += x
	}
	return sum
}
