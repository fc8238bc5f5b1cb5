package ipmi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"time"

	"github.com/rackpulse/rackpulse/bmc"
)

// selCursor is where the collector is in a BMC's SEL (the last record
// read and the SEL's last-addition and erase timestamps and entry count
// when it was read), with what it derived from the records read up to
// there: the memory errors counted per DIMM. Both are saved together, so
// that a record is counted exactly when the position moves past it.
type selCursor struct {
	// Valid is false until the SEL position is first recorded.
	Valid        bool      `json:"valid"`
	LastRecordID uint16    `json:"last_record_id"`
	Empty        bool      `json:"empty,omitempty"` // the SEL had no records
	Addition     uint32    `json:"last_addition"`
	Erase        uint32    `json:"last_erase"`
	Entries      uint16    `json:"entries"`
	Updated      time.Time `json:"updated"`
	// Partial: the last read was cut short after LastRecordID; Addition
	// and Entries are those of the read before, and the next read goes on
	// after LastRecordID whatever Get SEL Info says.
	Partial bool `json:"partial,omitempty"`
	// DIMMErrors counts, per DIMM (as the events name it), the memory
	// errors asserted in the SEL records read since the position was first
	// recorded or the SEL last cleared.
	DIMMErrors map[string]dimmErrors `json:"dimm_errors,omitempty"`
	// BankSensors are the memory sensors whose events name the module in
	// event data 3: each covers several DIMMs, and is no DIMM itself.
	BankSensors []string `json:"bank_sensors,omitempty"`
}

// dimmErrors are the memory errors the SEL logged for one DIMM.
type dimmErrors struct {
	// Correctable: correctable ECC (memory offset 00h).
	Correctable int64 `json:"correctable"`
	// Uncorrectable: uncorrectable ECC (01h) and parity (02h) errors.
	Uncorrectable int64 `json:"uncorrectable"`
}

// Memory sensor offsets (sensor type 0Ch) that count as errors.
const (
	memCorrectableECC   = 0x00
	memUncorrectableECC = 0x01
	memParity           = 0x02
)

// clone copies the cursor with its own map and slice.
func (c selCursor) clone() selCursor {
	out := c
	out.DIMMErrors = maps.Clone(c.DIMMErrors)
	out.BankSensors = slices.Clone(c.BankSensors)
	return out
}

// count adds a SEL record's memory error to its DIMM's counts: an
// asserted correctable ECC, uncorrectable ECC or parity error of a memory
// sensor, whose event names a DIMM (by the sensor's name, the module in
// event data 3, or the sensor's memory device entity). A sensor whose
// events name modules in event data 3 is remembered as covering a bank.
// Deassertions, other memory states ("logging limit reached", presence)
// and events that name no DIMM count nothing.
func (c *selCursor) count(r selRecord, sdr *sdrRecord) {
	if r.Type != 0x02 || r.SensorType != sensorMemory || r.Deassert || r.EventType != eventSensorSpecific {
		return
	}
	slot, naming := eventDIMM(r, sdr)
	if naming == dimmUnnamed {
		return
	}
	if naming == dimmByEventData && sdr != nil && !slices.Contains(c.BankSensors, sdr.Name) {
		c.BankSensors = append(c.BankSensors, sdr.Name)
		slices.Sort(c.BankSensors)
	}
	var add dimmErrors
	switch r.Data[0] & 0x0f {
	case memCorrectableECC:
		add.Correctable = 1
	case memUncorrectableECC, memParity:
		add.Uncorrectable = 1
	default:
		return
	}
	if c.DIMMErrors == nil {
		c.DIMMErrors = map[string]dimmErrors{}
	}
	n := c.DIMMErrors[slot]
	n.Correctable += add.Correctable
	n.Uncorrectable += add.Uncorrectable
	c.DIMMErrors[slot] = n
}

// renameModules moves counts kept under a bank sensor's module number
// ("CPU2 Memory DIMM 4", as events were named before the SDR's slot
// labels were read) to the slot the SDR now names for that module.
func (c *selCursor) renameModules(sdr *sdrCache) {
	if len(c.DIMMErrors) == 0 || sdr == nil {
		return
	}
	for _, rec := range sdr.records {
		for n, slot := range rec.Modules {
			old := fmt.Sprintf("%s DIMM %d", rec.Name, n)
			was, ok := c.DIMMErrors[old]
			if !ok || old == slot {
				continue
			}
			delete(c.DIMMErrors, old)
			now := c.DIMMErrors[slot]
			now.Correctable += was.Correctable
			now.Uncorrectable += was.Uncorrectable
			c.DIMMErrors[slot] = now
		}
	}
}

// selStore keeps a cursor in memory and, when dir is set, in a JSON file
// per server under dir, replaced atomically on every change.
type selStore struct {
	path string
}

var unsafeFileChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func newSELStore(dir, server string) selStore {
	if dir == "" {
		return selStore{}
	}
	name := unsafeFileChars.ReplaceAllString(server, "_")
	return selStore{path: filepath.Join(dir, "ipmi-sel-"+name+".json")}
}

// load returns the stored cursor; a missing file is no cursor.
func (s selStore) load() (selCursor, error) {
	if s.path == "" {
		return selCursor{}, nil
	}
	b, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return selCursor{}, nil
	}
	if err != nil {
		return selCursor{}, fmt.Errorf("reading SEL state %s: %w", s.path, err)
	}
	var c selCursor
	if err := json.Unmarshal(b, &c); err != nil {
		return selCursor{}, fmt.Errorf("decoding SEL state %s: %w", s.path, err)
	}
	return c, nil
}

// save writes the cursor to a temporary file and renames it into place
// (bmc.WriteStateFile).
func (s selStore) save(c selCursor) error {
	if s.path == "" {
		return nil
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding SEL state: %w", err)
	}
	return bmc.WriteStateFile(s.path, append(b, '\n'))
}
