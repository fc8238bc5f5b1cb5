package ipmi

import (
	"encoding/binary"
	"fmt"

	"github.com/bougou/go-ipmi/pkg/types"
)

// rawRequest is a command whose data bytes this package builds itself.
type rawRequest struct {
	cmd  types.Command
	data []byte
}

func (r *rawRequest) Pack() []byte           { return r.data }
func (r *rawRequest) Command() types.Command { return r.cmd }

// rawResponse keeps a response's data bytes (after the completion code) for
// this package to decode.
type rawResponse struct {
	data []byte
}

func (r *rawResponse) Unpack(b []byte) error {
	r.data = append([]byte(nil), b...)
	return nil
}

func (r *rawResponse) Format() string { return fmt.Sprintf("% x", r.data) }

// Commands this package sends. The DCMI ones use the group extension
// network function with the DCMI group byte first.
var (
	cmdGetSDRRepoInfo       = types.CommandGetSDRRepoInfo
	cmdReserveSDRRepo       = types.CommandReserveSDRRepo
	cmdGetSDR               = types.CommandGetSDR
	cmdGetSensorReading     = types.CommandGetSensorReading
	cmdGetSensorThresholds  = types.CommandGetSensorThresholds
	cmdGetSELInfo           = types.CommandGetSELInfo
	cmdGetSELEntry          = types.CommandGetSELEntry
	cmdGetChassisStatus     = types.CommandGetChassisStatus
	cmdGetDCMICapabilities  = types.CommandGetDCMICapParam
	cmdGetDCMIPowerReading  = types.CommandGetDCMIPowerReading
	cmdGetSystemGUID        = types.CommandGetSystemGUID
	cmdGetFRUAreaInfo       = types.CommandGetFRUInventoryAreaInfo
	cmdReadFRUData          = types.CommandReadFRUData
	dcmiGroupExtension      = types.GroupExtensionDCMI
	completionInvalidCmd    = types.CompletionCode(0xc1)
	completionNotPresent    = types.CompletionCode(0xcb)
	completionCannotReturn  = types.CompletionCode(0xca)
	completionResCanceled   = types.CompletionCode(0xc5)
	completionNotInState    = types.CompletionCode(0xd5)
	completionInsufficePriv = types.CompletionCode(0xd4)
	completionInvalidData   = types.CompletionCode(0xcc)
	completionInvalidCmdLUN = types.CompletionCode(0xc2)
)

// Record ids with special meaning in Get SDR and Get SEL Entry.
const (
	firstRecordID uint16 = 0x0000
	lastRecordID  uint16 = 0xffff
)

func le16(b []byte) uint16 { return binary.LittleEndian.Uint16(b) }
func le32(b []byte) uint32 { return binary.LittleEndian.Uint32(b) }

func putLE16(v uint16) []byte {
	return binary.LittleEndian.AppendUint16(nil, v)
}
