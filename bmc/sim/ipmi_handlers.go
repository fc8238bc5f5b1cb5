package sim

import (
	"context"
	"encoding/binary"
	"math"
	"time"

	"github.com/bougou/go-ipmi/pkg/handlers"
	"github.com/bougou/go-ipmi/pkg/types"
)

// Completion codes (IPMI 2.0 table 5-2) the handlers answer with.
const (
	ccReservationCanceled = types.CompletionCode(0xC5)
	ccInvalidDataField    = types.CompletionCode(0xCC)
	ccNotPresent          = types.CompletionCode(0xCB)
	ccTruncated           = types.CompletionCode(0xC7)
)

// DCMI (Data Center Manageability Interface 1.5) group extension.
const (
	dcmiGroup         = 0xDC
	dcmiPeriodSeconds = 60
)

// newIPMIRegistry builds the command registry every simulated IPMI BMC
// shares: go-ipmi's standard handlers (sessions, users, channels, device
// ID, chassis, and FRU data from the storage HAL) plus the system GUID, SDR
// repository, sensors, SEL and DCMI answered from the BMC's machine. A middleware remembers the sessions in use, so that
// session-loss can drop them.
func newIPMIRegistry() *handlers.Registry {
	r := handlers.NewRegistry()
	r.Use(func(next handlers.Handler) handlers.Handler {
		return handlers.HandlerFunc(func(ctx context.Context, hctx *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
			if b := ipmiFrom(hctx); b != nil && hctx.Session != nil {
				b.mu.Lock()
				b.sessions[hctx.Session.BMCID] = struct{}{}
				b.mu.Unlock()
			}
			return next.Handle(ctx, hctx, req)
		})
	})
	handlers.RegisterAllHandlers(r)
	reg := func(c types.Command, h func(b *IPMIBMC, req []byte) ([]byte, types.CompletionCode)) {
		r.RegisterFunc(c, func(_ context.Context, hctx *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
			b := ipmiFrom(hctx)
			if b == nil {
				return nil, types.CodeUnspecifiedError, errNotIPMIBMC
			}
			resp, cc := h(b, req)
			return resp, cc, nil
		})
	}
	reg(types.CommandGetSystemGUID, (*IPMIBMC).getSystemGUID)
	reg(types.CommandGetSDRRepoInfo, (*IPMIBMC).getSDRRepoInfo)
	reg(types.CommandReserveSDRRepo, (*IPMIBMC).reserveSDR)
	reg(types.CommandGetSDR, (*IPMIBMC).getSDR)
	reg(types.CommandGetSensorReading, (*IPMIBMC).getSensorReading)
	reg(types.CommandGetSensorThresholds, (*IPMIBMC).getSensorThresholds)
	reg(types.CommandGetSensorHysteresis, (*IPMIBMC).getSensorHysteresis)
	reg(types.CommandGetSELInfo, (*IPMIBMC).getSELInfo)
	reg(types.CommandGetSELAllocInfo, (*IPMIBMC).getSELAllocInfo)
	reg(types.CommandReserveSEL, (*IPMIBMC).reserveSEL)
	reg(types.CommandGetSELEntry, (*IPMIBMC).getSELEntry)
	reg(types.CommandClearSEL, (*IPMIBMC).clearSEL)
	reg(types.CommandGetSELTime, (*IPMIBMC).getSELTime)
	reg(types.CommandGetDCMICapParam, (*IPMIBMC).getDCMICapabilities)
	reg(types.CommandGetDCMIPowerReading, (*IPMIBMC).getDCMIPowerReading)
	return r
}

func ipmiTime(t time.Time) []byte {
	return binary.LittleEndian.AppendUint32(nil, uint32(t.Unix()))
}

func le16(v uint16) []byte { return []byte{byte(v), byte(v >> 8)} }

// nextReservation hands out reservation IDs 1..FFFFh (0 is never valid).
func nextReservation(c interface{ Add(uint32) uint32 }) uint16 {
	for {
		if id := uint16(c.Add(1)); id != 0 {
			return id
		}
	}
}

// getSDRRepoInfo answers Get SDR Repository Info (section 33.9). The
// repository was written when the BMC started and is never changed.
func (b *IPMIBMC) getSDRRepoInfo([]byte) ([]byte, types.CompletionCode) {
	out := []byte{0x51}
	out = append(out, le16(uint16(len(b.profile.sdrs)))...)
	out = append(out, le16(0x0000)...) // no free space: the repository is read-only
	out = append(out, ipmiTime(b.start)...)
	out = append(out, ipmiTime(b.start)...)
	out = append(out, 0x22) // non-modal update, Reserve SDR Repository supported
	return out, types.CodeOK
}

func (b *IPMIBMC) reserveSDR([]byte) ([]byte, types.CompletionCode) {
	return le16(nextReservation(&b.sdrReservation)), types.CodeOK
}

// getSDR answers Get SDR (section 33.12): the whole record or a part of
// it, partial reads checked against the current reservation.
func (b *IPMIBMC) getSDR(req []byte) ([]byte, types.CompletionCode) {
	if len(req) < 6 {
		return nil, ccTruncated
	}
	resID := binary.LittleEndian.Uint16(req[0:])
	id := binary.LittleEndian.Uint16(req[2:])
	offset, count := int(req[4]), int(req[5])
	if offset > 0 && resID != uint16(b.sdrReservation.Load()) {
		return nil, ccReservationCanceled
	}
	sdrs := b.profile.sdrs
	switch id {
	case 0x0000:
		id = 1
	case 0xFFFF:
		id = uint16(len(sdrs))
	}
	if id < 1 || int(id) > len(sdrs) {
		return nil, ccNotPresent
	}
	rec := sdrs[id-1]
	if offset >= len(rec) {
		return nil, ccInvalidDataField
	}
	if count == 0xFF || offset+count > len(rec) {
		count = len(rec) - offset
	}
	next := id + 1
	if int(id) == len(sdrs) {
		next = 0xFFFF
	}
	return append(le16(next), rec[offset:offset+count]...), types.CodeOK
}

func (b *IPMIBMC) sensor(req []byte) (*ipmiSensor, types.CompletionCode) {
	if len(req) < 1 {
		return nil, ccTruncated
	}
	s, ok := b.profile.byNumber[req[0]]
	if !ok {
		return nil, ccNotPresent
	}
	return s, types.CodeOK
}

// getSensorReading answers Get Sensor Reading (section 35.14) from the
// machine's readings now.
func (b *IPMIBMC) getSensorReading(req []byte) ([]byte, types.CompletionCode) {
	s, cc := b.sensor(req)
	if cc != types.CodeOK {
		return nil, cc
	}
	return s.reading(b.machine, b.machine.read()), types.CodeOK
}

// getSensorThresholds answers Get Sensor Thresholds (section 35.9).
func (b *IPMIBMC) getSensorThresholds(req []byte) ([]byte, types.CompletionCode) {
	s, cc := b.sensor(req)
	if cc != types.CodeOK {
		return nil, cc
	}
	if !s.analog() {
		return []byte{0, 0, 0, 0, 0, 0, 0}, types.CodeOK
	}
	out := []byte{s.thrMask}
	for idx := thrLNC; idx <= thrUNR; idx++ {
		out = append(out, s.thresholdRaw(idx))
	}
	return out, types.CodeOK
}

// getSensorHysteresis answers Get Sensor Hysteresis (section 35.7).
func (b *IPMIBMC) getSensorHysteresis(req []byte) ([]byte, types.CompletionCode) {
	s, cc := b.sensor(req)
	if cc != types.CodeOK {
		return nil, cc
	}
	if !s.analog() {
		return []byte{0, 0}, types.CodeOK
	}
	return []byte{1, 1}, types.CodeOK
}

// getSELInfo answers Get SEL Info (section 31.2).
func (b *IPMIBMC) getSELInfo([]byte) ([]byte, types.CompletionCode) {
	b.syncSEL()
	l := b.sel
	l.mu.Lock()
	defer l.mu.Unlock()
	out := []byte{0x51}
	out = append(out, le16(uint16(len(l.entries)))...)
	out = append(out, le16(uint16((selMaxEntries-len(l.entries))*16))...)
	if l.lastAdd.IsZero() {
		out = append(out, 0xFF, 0xFF, 0xFF, 0xFF)
	} else {
		out = append(out, ipmiTime(l.lastAdd)...)
	}
	out = append(out, ipmiTime(l.lastErase)...)
	out = append(out, 0x03) // Reserve SEL and Get SEL Allocation Info supported
	return out, types.CodeOK
}

// getSELAllocInfo answers Get SEL Allocation Info (section 31.3).
func (b *IPMIBMC) getSELAllocInfo([]byte) ([]byte, types.CompletionCode) {
	b.syncSEL()
	b.sel.mu.Lock()
	free := selMaxEntries - len(b.sel.entries)
	b.sel.mu.Unlock()
	out := le16(selMaxEntries)
	out = append(out, le16(16)...)
	out = append(out, le16(uint16(free))...)
	out = append(out, le16(uint16(free))...)
	out = append(out, 16)
	return out, types.CodeOK
}

func (b *IPMIBMC) reserveSEL([]byte) ([]byte, types.CompletionCode) {
	return le16(nextReservation(&b.selReservation)), types.CodeOK
}

// getSELEntry answers Get SEL Entry (section 31.5).
func (b *IPMIBMC) getSELEntry(req []byte) ([]byte, types.CompletionCode) {
	if len(req) < 6 {
		return nil, ccTruncated
	}
	resID := binary.LittleEndian.Uint16(req[0:])
	id := binary.LittleEndian.Uint16(req[2:])
	offset, count := int(req[4]), int(req[5])
	if offset > 0 && resID != uint16(b.selReservation.Load()) {
		return nil, ccReservationCanceled
	}
	if id == 0x0000 {
		b.syncSEL() // a new read of the log
	}
	l := b.sel
	l.mu.Lock()
	defer l.mu.Unlock()
	n := len(l.entries)
	if n == 0 {
		return nil, ccNotPresent
	}
	idx := int(id) - int(l.firstID)
	switch id {
	case 0x0000:
		idx = 0
	case 0xFFFF:
		idx = n - 1
	}
	if idx < 0 || idx >= n {
		return nil, ccNotPresent
	}
	rec := l.entries[idx].pack(l.firstID + uint16(idx))
	if offset >= len(rec) {
		return nil, ccInvalidDataField
	}
	if count == 0xFF || offset+count > len(rec) {
		count = len(rec) - offset
	}
	next := uint16(0xFFFF)
	if idx+1 < n {
		next = l.firstID + uint16(idx+1)
	}
	return append(le16(next), rec[offset:offset+count]...), types.CodeOK
}

// clearSEL answers Clear SEL (section 31.9): erase at once, or report the
// erase done.
func (b *IPMIBMC) clearSEL(req []byte) ([]byte, types.CompletionCode) {
	if len(req) < 6 {
		return nil, ccTruncated
	}
	if binary.LittleEndian.Uint16(req[0:]) != uint16(b.selReservation.Load()) {
		return nil, ccReservationCanceled
	}
	if string(req[2:5]) != "CLR" {
		return nil, ccInvalidDataField
	}
	switch req[5] {
	case 0xAA:
		b.syncSEL()
		l := b.sel
		l.mu.Lock()
		l.firstID += uint16(len(l.entries))
		l.entries = nil
		l.lastErase = b.machine.now()
		l.mu.Unlock()
		b.log.Info("IPMI SEL cleared")
	case 0x00:
	default:
		return nil, ccInvalidDataField
	}
	return []byte{0x01}, types.CodeOK // erasure completed
}

func (b *IPMIBMC) getSELTime([]byte) ([]byte, types.CompletionCode) {
	return ipmiTime(b.machine.now()), types.CodeOK
}

// getDCMICapabilities answers Get DCMI Capabilities Info (DCMI 1.5
// section 6.1.1).
func (b *IPMIBMC) getDCMICapabilities(req []byte) ([]byte, types.CompletionCode) {
	if len(req) < 2 || req[0] != dcmiGroup {
		return nil, ccInvalidDataField
	}
	var data []byte
	switch req[1] {
	case 0x01: // supported capabilities: power management; KCS and primary LAN
		data = []byte{0x00, 0x01, 0x09}
	case 0x02: // mandatory platform attributes: SEL size, temperature sampling
		data = append(le16(selMaxEntries&0x0FFF), 0x00, 0x00, 10)
	case 0x03: // optional attributes: power management by the BMC, channel 0
		data = []byte{0x20, 0x00}
	case 0x04: // manageability access: primary LAN channel 1 only
		data = []byte{0x01, 0xFF, 0xFF}
	case 0x05: // enhanced power statistics: one rolling period of 1 minute
		data = []byte{0x01, 0x40 | 1}
	default:
		return nil, ccInvalidDataField
	}
	out := []byte{dcmiGroup, 0x01, 0x05, 0x02}
	return append(out, data...), types.CodeOK
}

// getDCMIPowerReading answers Get Power Reading (DCMI 1.5 section 6.6.1):
// the system's input power now, its minimum, maximum and average over the
// last minute.
func (b *IPMIBMC) getDCMIPowerReading(req []byte) ([]byte, types.CompletionCode) {
	if len(req) < 2 || req[0] != dcmiGroup {
		return nil, ccInvalidDataField
	}
	if req[1] != 0x01 && req[1] != 0x02 {
		return nil, ccInvalidDataField
	}
	r := b.machine.read()
	w := func(v float64) []byte { return le16(uint16(math.Round(v))) }
	out := []byte{dcmiGroup}
	out = append(out, w(r.inputWatts)...)
	out = append(out, w(r.minWatts)...)
	out = append(out, w(r.maxWatts)...)
	out = append(out, w(r.inputWatts)...)
	out = append(out, ipmiTime(r.now)...)
	out = binary.LittleEndian.AppendUint32(out, dcmiPeriodSeconds*1000)
	out = append(out, 0x40) // power measurement active
	return out, types.CodeOK
}
