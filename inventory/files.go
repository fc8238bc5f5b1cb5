package inventory

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// File size bounds: an inventory, CA bundle or password file larger than
// this is a mistake (a log, a device), and reading it must not stall a
// reload.
const (
	maxInventoryFileBytes = 64 << 20
	maxCAFileBytes        = 4 << 20
	maxPasswordFileBytes  = 64 << 10
)

// readRegularFile reads a regular file of at most limit bytes. A FIFO, a
// device or a directory is refused before it is opened: opening or reading
// one could block forever (a FIFO with no writer) or never end (/dev/zero).
func readRegularFile(path string, limit int64) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	if fi.Size() > limit {
		return nil, fmt.Errorf("%s is %d bytes, more than the %d allowed", path, fi.Size(), limit)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, errors.New(path + " grew past its size limit while being read")
	}
	return data, nil
}
