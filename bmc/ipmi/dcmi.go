package ipmi

import (
	"context"
	"errors"
	"fmt"

	"github.com/rackpulse/rackpulse/bmc"
)

// dcmiSupport is what the collector learned about DCMI on this BMC.
type dcmiSupport int

const (
	dcmiUnknown dcmiSupport = iota
	dcmiSupported
	dcmiUnsupported
)

// dcmiPower is a decoded Get Power Reading (mode 01h, system power
// statistics).
type dcmiPower struct {
	current, min, max, avg uint16
	periodMs               uint32
	active                 bool
}

func parseDCMIPower(b []byte) (dcmiPower, error) {
	if len(b) < 18 {
		return dcmiPower{}, fmt.Errorf("answer to Get Power Reading of %d bytes, want 18", len(b))
	}
	if b[0] != dcmiGroupExtension {
		return dcmiPower{}, fmt.Errorf("answer to Get Power Reading for group 0x%02x, want DCMI (0x%02x)", b[0], dcmiGroupExtension)
	}
	return dcmiPower{
		current:  le16(b[1:3]),
		min:      le16(b[3:5]),
		max:      le16(b[5:7]),
		avg:      le16(b[7:9]),
		periodMs: le32(b[13:17]),
		active:   b[17]&0x40 != 0,
	}, nil
}

// reading returns the power reading, or false when the BMC says power
// measurement is not active.
func (p dcmiPower) reading() (bmc.PowerReading, bool) {
	if !p.active {
		return bmc.PowerReading{}, false
	}
	r := bmc.PowerReading{Source: bmc.PowerFromDCMI, Watts: float64(p.current), Resource: cmdGetDCMIPowerReading.Name}
	if p.periodMs > 0 {
		m := roundTo(float64(p.periodMs)/60000, 3)
		r.IntervalMin = &m
	}
	return r, true
}

// answeredNo reports whether err is the BMC answering that it does not do
// the command (as opposed to not answering at all).
func answeredNo(err error) bool {
	cc, ok := completionCode(err)
	if !ok {
		var be *bmc.Error
		return errors.As(err, &be) && be.Kind == bmc.ErrKindMalformed
	}
	switch cc {
	case completionInvalidCmd, completionInvalidCmdLUN, completionNotPresent, completionInvalidData,
		completionNotInState, completionInsufficePriv, 0xc9, 0xd6:
		return true
	}
	return false
}

// readDCMIPower probes DCMI once (Get DCMI Capabilities) and then reads
// the power reading each poll while the BMC supports it. It returns
// (nil, nil) when DCMI is not supported: the sensors are the source then.
func (c *Collector) readDCMIPower(ctx context.Context) (*bmc.PowerReading, error) {
	if c.dcmi == dcmiUnsupported {
		return nil, nil
	}
	if c.dcmi == dcmiUnknown {
		b, err := c.sess.exchange(ctx, cmdGetDCMICapabilities, []byte{dcmiGroupExtension, 0x01})
		switch {
		case err == nil && len(b) >= 1 && b[0] == dcmiGroupExtension:
			c.dcmi = dcmiSupported
		case err == nil || answeredNo(err):
			c.dcmi = dcmiUnsupported
			c.log.Info("BMC does not support DCMI; power comes from sensors", "err", err)
			return nil, nil
		default:
			return nil, fmt.Errorf("probing DCMI: %w", err)
		}
	}
	b, err := c.sess.exchange(ctx, cmdGetDCMIPowerReading, []byte{dcmiGroupExtension, 0x01, 0x00, 0x00})
	if err != nil {
		if answeredNo(err) {
			c.dcmi = dcmiUnsupported
			c.log.Info("BMC has no DCMI power reading; power comes from sensors", "err", err)
			return nil, nil
		}
		return nil, fmt.Errorf("reading DCMI power: %w", err)
	}
	p, err := parseDCMIPower(b)
	if err != nil {
		return nil, bmc.NewError(bmc.ErrKindMalformed, cmdGetDCMIPowerReading.Name, err)
	}
	if r, ok := p.reading(); ok {
		return &r, nil
	}
	return nil, nil
}
