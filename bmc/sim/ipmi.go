package sim

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bougou/go-ipmi/pkg/bmc"
	"github.com/bougou/go-ipmi/pkg/hal"
	"github.com/bougou/go-ipmi/pkg/handlers"
	"github.com/bougou/go-ipmi/pkg/server"
	"github.com/bougou/go-ipmi/pkg/types"
)

// Defaults of the IPMI BMCs.
const (
	// DefaultIPMIBasePort is the UDP port of a fleet's first IPMI BMC.
	DefaultIPMIBasePort = 16230
	// ipmiManufacturerID is the IANA enterprise number Get Device ID
	// reports: 32473, the one set aside for documentation (RFC 5612), so
	// that no client applies a vendor's OEM decoding.
	ipmiManufacturerID = 32473
	// ipmiBufferSize bounds one datagram; IPMI messages without SOL fit.
	ipmiBufferSize = 1024
)

// IPMIFaults lists the transport faults an IPMI BMC shows: timeout drops
// every datagram, session-loss forgets every session once. The HTTP and
// JSON faults mean nothing on RMCP+.
func IPMIFaults() []Fault { return []Fault{FaultTimeout, FaultSessionLoss} }

func ipmiFault(f Fault) bool { return f == FaultTimeout || f == FaultSessionLoss }

// ipmiShared is what every IPMI BMC of a fleet shares: the profile (sensors
// and SDR records) and the command handler registry, which finds the BMC a
// request is for through the go-ipmi BMC's HAL.
type ipmiShared struct {
	profile  *ipmiProfile
	registry *handlers.Registry
}

func newIPMIShared() *ipmiShared {
	return &ipmiShared{profile: newIPMIProfile(), registry: newIPMIRegistry()}
}

// IPMIOptions configure one IPMI BMC.
type IPMIOptions struct {
	Username string
	Password string
	// Latency, when set, is called per request for the delay before its
	// answer is sent (as RedfishOptions.Latency: the fleet's --latency).
	Latency func() time.Duration
	Logger  *slog.Logger
}

// IPMIBMC is a virtual IPMI 2.0 BMC: go-ipmi's reference BMC (RMCP+ with
// cipher suites 3 and 17, one ADMINISTRATOR user) with the sensor, SDR,
// SEL, DCMI and chassis commands answered from a simulated machine.
type IPMIBMC struct {
	machine *machine
	profile *ipmiProfile
	shared  *ipmiShared
	bmc     *bmc.BMC
	sel     *selLog
	start   time.Time
	log     *slog.Logger
	// latency is the delay before each answer; nil: none.
	latency func() time.Duration
	// fru is FRU device 0: chassis and product info with the system's
	// serial number.
	fru []byte

	timeout        atomic.Bool
	requests       atomic.Int64
	sdrReservation atomic.Uint32
	selReservation atomic.Uint32

	mu       sync.Mutex
	sessions map[uint32]struct{} // sessions seen in use, to drop on session-loss
}

func newIPMIBMC(m *machine, shared *ipmiShared, opts IPMIOptions) (*IPMIBMC, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	b := &IPMIBMC{
		machine: m, profile: shared.profile, shared: shared,
		sel: newSELLog(m.start), start: m.start, log: log, latency: opts.Latency,
		sessions: make(map[uint32]struct{}),
	}
	fru, err := buildFRU(m)
	if err != nil {
		return nil, err
	}
	b.fru = fru
	info := bmc.DeviceInfo{
		DeviceID:       0x20,
		DeviceRevision: 0x01,
		FirmwareMajor:  3,
		FirmwareMinor:  0x21,
		IPMIVersion:    0x02,
		ManufacturerID: ipmiManufacturerID,
		ProductID:      0x0220,
		// Chassis, SEL, SDR repository and sensor device; go-ipmi adds the
		// FRU inventory device bit (08h) since the storage HAL has FRU 0.
		AdditionalDeviceSupport: 0x87,
	}
	var guid [16]byte
	binary.BigEndian.PutUint64(guid[:8], m.seed)
	binary.BigEndian.PutUint64(guid[8:], ^m.seed)
	b.bmc = bmc.New(info, guid, &ipmiHAL{b: b},
		bmc.WithCipherSuites([]types.CipherSuiteID{types.CipherSuiteID3, types.CipherSuiteID17}),
		bmc.WithV15Disabled())
	user, err := b.bmc.Users.Add(2, opts.Username)
	if err != nil {
		return nil, fmt.Errorf("IPMI user %q: %w", opts.Username, err)
	}
	user.SetPassword([]byte(opts.Password))
	user.Enabled = true
	user.ChannelAccess[1] = bmc.UserChannelAccess{MaxPrivilege: bmc.PrivilegeLevelAdministrator, Enabled: true}
	sol := b.bmc.SOL
	b.bmc.Sessions.SetOnRemove(func(id uint32) {
		sol.DeactivateBySession(id)
		b.mu.Lock()
		delete(b.sessions, id)
		b.mu.Unlock()
	})
	return b, nil
}

// Requests is the number of datagrams received so far, dropped ones too.
func (b *IPMIBMC) Requests() int64 { return b.requests.Load() }

// ActiveSessions is the number of RMCP+ sessions the BMC holds.
func (b *IPMIBMC) ActiveSessions() int { return b.bmc.Sessions.Count() }

// SELEntries is how many records the SEL holds now (the faults' stages
// due so far logged first).
func (b *IPMIBMC) SELEntries() int {
	b.syncSEL()
	b.sel.mu.Lock()
	defer b.sel.mu.Unlock()
	return len(b.sel.entries)
}

// SetFault turns a transport fault on: timeout drops every datagram until
// cleared; session-loss forgets every session at once and does not stay on.
func (b *IPMIBMC) SetFault(f Fault) error {
	switch f {
	case FaultTimeout:
		b.timeout.Store(true)
	case FaultSessionLoss:
		b.dropSessions()
	default:
		return fmt.Errorf("transport fault %s does not apply to an IPMI BMC (want %s or %s)", f, FaultTimeout, FaultSessionLoss)
	}
	return nil
}

// ClearFault turns a transport fault off; it reports whether it was on.
func (b *IPMIBMC) ClearFault(f Fault) bool {
	if f == FaultTimeout {
		return b.timeout.Swap(false)
	}
	return false
}

// Faults lists the transport faults that are on.
func (b *IPMIBMC) Faults() []Fault {
	if b.timeout.Load() {
		return []Fault{FaultTimeout}
	}
	return nil
}

func (b *IPMIBMC) dropSessions() {
	b.mu.Lock()
	ids := make([]uint32, 0, len(b.sessions))
	for id := range b.sessions {
		ids = append(ids, id)
	}
	b.mu.Unlock()
	for _, id := range ids {
		_ = b.bmc.Sessions.Close(id) // already gone is fine
	}
}

// Serve answers IPMI datagrams on conn until ctx is done, then closes conn.
func (b *IPMIBMC) Serve(ctx context.Context, conn net.PacketConn) error {
	srv := server.NewServer(b.bmc, &ipmiConn{conn: conn, b: b, done: ctx.Done()},
		server.WithHandlerRegistry(b.shared.registry), server.WithServerBufferSize(ipmiBufferSize))
	stop := context.AfterFunc(ctx, func() { _ = srv.Close() })
	defer stop()
	err := srv.Serve(ctx)
	_ = srv.Close()
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("serving IPMI on %s: %w", conn.LocalAddr(), err)
	}
	return nil
}

// ipmiConn is the BMC's UDP socket as go-ipmi's server reads it: it counts
// datagrams, drops them all while the timeout fault is on, and holds each
// answer for the BMC's latency.
type ipmiConn struct {
	conn net.PacketConn
	b    *IPMIBMC
	// done is closed when the BMC stops serving: an answer still held
	// for its latency is dropped.
	done <-chan struct{}
}

func (c *ipmiConn) ReadFrom(buf []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.conn.ReadFrom(buf)
		if err != nil {
			return n, addr, err
		}
		c.b.requests.Add(1)
		if !c.b.timeout.Load() {
			return n, addr, nil
		}
	}
}

// WriteTo sends an answer after the BMC's latency. go-ipmi's server
// handles each request on its own goroutine, so the delay is per request,
// as the Redfish BMCs' is, and requests in flight together are delayed
// together.
func (c *ipmiConn) WriteTo(data []byte, addr net.Addr) (int, error) {
	if c.b.timeout.Load() {
		return len(data), nil // a reply to a request taken before the fault
	}
	if !c.b.delay(c.done) {
		return len(data), nil // the BMC stopped while the answer was held
	}
	if c.b.timeout.Load() {
		return len(data), nil // the fault came on while it was held
	}
	return c.conn.WriteTo(data, addr)
}

// delay waits the latency of one answer. It reports false when done is
// closed first.
func (b *IPMIBMC) delay(done <-chan struct{}) bool {
	if b.latency == nil {
		return true
	}
	d := b.latency()
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-done:
		return false
	}
}

func (c *ipmiConn) Close() error        { return c.conn.Close() }
func (c *ipmiConn) LocalAddr() net.Addr { return c.conn.LocalAddr() }

// ipmiHAL is the go-ipmi hardware layer of one BMC. It carries the BMC so
// that the shared handlers find it; the chassis is always powered on.
type ipmiHAL struct{ b *IPMIBMC }

func (h *ipmiHAL) Chassis() hal.ChassisHAL { return ipmiChassis{} }
func (h *ipmiHAL) Sensors() hal.SensorHAL  { return nil }
func (h *ipmiHAL) Storage() hal.StorageHAL { return ipmiStorage{b: h.b} }
func (h *ipmiHAL) Network() hal.NetworkHAL { return nil }
func (h *ipmiHAL) GPIO() hal.GPIOHAL       { return nil }
func (h *ipmiHAL) I2C() hal.I2CHAL         { return nil }
func (h *ipmiHAL) Console() hal.ConsoleHAL { return nil }
func (h *ipmiHAL) Close() error            { return nil }
func (h *ipmiHAL) bmcFor() *IPMIBMC        { return h.b }
func ipmiFrom(hctx *handlers.HandlerContext) *IPMIBMC {
	if hctx == nil || hctx.BMC == nil {
		return nil
	}
	if h, ok := hctx.BMC.HAL().(*ipmiHAL); ok {
		return h.bmcFor()
	}
	return nil
}

// ipmiChassis is a chassis that is on and stays on: power control is not
// simulated.
type ipmiChassis struct{}

func (ipmiChassis) PowerState(context.Context) (bool, error) { return true, nil }
func (ipmiChassis) SetPower(context.Context, bool) error     { return hal.ErrNotSupported }
func (ipmiChassis) PowerCycle(context.Context) error         { return hal.ErrNotSupported }
func (ipmiChassis) ColdReset(context.Context) error          { return hal.ErrNotSupported }
func (ipmiChassis) WarmReset(context.Context) error          { return hal.ErrNotSupported }
func (ipmiChassis) Identify(context.Context, uint8) error    { return nil }
func (ipmiChassis) IntrusionState(context.Context) (bool, error) {
	return false, nil
}
func (ipmiChassis) SetBootFlags(context.Context, *types.BootOptionParam_BootFlags) error {
	return hal.ErrNotSupported
}
func (ipmiChassis) GetBootFlags(context.Context) (*types.BootOptionParam_BootFlags, error) {
	return nil, hal.ErrNotSupported
}
func (ipmiChassis) SetBootInfoAcknowledge(context.Context, *types.BootOptionParam_BootInfoAcknowledge) error {
	return hal.ErrNotSupported
}
func (ipmiChassis) GetBootInfoAcknowledge(context.Context) (*types.BootOptionParam_BootInfoAcknowledge, error) {
	return nil, hal.ErrNotSupported
}

// errNotIPMIBMC means a handler ran on a go-ipmi BMC that is not one of
// the simulator's.
var errNotIPMIBMC = errors.New("request for a BMC the simulator does not own")
