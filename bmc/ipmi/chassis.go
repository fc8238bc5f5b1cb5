package ipmi

import (
	"context"
	"fmt"

	"github.com/rackpulse/rackpulse/bmc"
)

// systemID names the one system an IPMI BMC manages.
const systemID = "system"

// readPowerState reads Get Chassis Status: "On" or "Off".
func (c *Collector) readPowerState(ctx context.Context) (string, error) {
	b, err := c.sess.exchange(ctx, cmdGetChassisStatus, nil)
	if err != nil {
		return "", fmt.Errorf("reading chassis status: %w", err)
	}
	if len(b) < 1 {
		return "", bmc.NewError(bmc.ErrKindMalformed, cmdGetChassisStatus.Name, fmt.Errorf("empty answer"))
	}
	if b[0]&0x01 != 0 {
		return "On", nil
	}
	return "Off", nil
}

// worstSensorHealth is the system's health: the worst of its sensors.
func worstSensorHealth(sensors []bmc.Sensor) bmc.Health {
	h := bmc.HealthUnknown
	for _, s := range sensors {
		h = h.Worse(s.Health)
	}
	return h
}
