package redfish

import (
	"strings"
	"testing"
	"testing/iotest"
)

// readAll reads what io.ReadAll reads, whatever the announced size says.
func TestReadAllMatchesIOReadAll(t *testing.T) {
	body := strings.Repeat("0123456789", 700)
	for _, announced := range []int64{-1, 0, 1, 6999, 7000, 7001, 70000, presizeLimit + 1} {
		got, err := readAll(iotest.OneByteReader(strings.NewReader(body)), announced)
		if err != nil || string(got) != body {
			t.Errorf("announced %d: %d bytes, %v; want all %d", announced, len(got), err, len(body))
		}
	}
	if _, err := readAll(iotest.TimeoutReader(strings.NewReader(body)), 7000); err == nil {
		t.Error("a failing read returned no error")
	}
}
