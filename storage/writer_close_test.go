package storage

import (
	"context"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/influxdb-client-go/v2/api/write"
)

// unreachableInfluxURL is an InfluxDB URL nothing listens on: writes to
// it fail at once (connection refused).
func unreachableInfluxURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

func closeTestPoints(n int) []*write.Point {
	pts := make([]*write.Point, n)
	for i := range pts {
		pts[i] = write.NewPoint("close_test", map[string]string{"i": strings.Repeat("x", i%3)},
			map[string]any{"v": float64(i)}, time.Unix(1700000000, int64(i)))
	}
	return pts
}

// Points Close cannot send but can spool are kept for the next start: not
// an error.
func TestWriterCloseSpoolingUnsentPointsIsNotAnError(t *testing.T) {
	cfg := Config{URL: unreachableInfluxURL(t), SpoolDir: t.TempDir(), WriteTimeout: 5 * time.Second}
	w, err := NewWriter(cfg)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(closeTestPoints(10)...)
	if err := w.Close(t.Context()); err != nil {
		t.Fatalf("Close with InfluxDB unreachable and the points spooled: %v, want nil", err)
	}
	again, err := NewWriter(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close(context.Background())
	if got := again.Stats().SpoolPoints; got != 10 {
		t.Errorf("the next start finds %d points in the spool, want the 10 written", got)
	}
}

// Points Close can neither send nor spool are lost: Close says so.
func TestWriterCloseReturnsASpoolThatCannotTakeThePoints(t *testing.T) {
	dir := t.TempDir()
	spool := dir + "/spool"
	w, err := NewWriter(Config{URL: unreachableInfluxURL(t), SpoolDir: spool, WriteTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	// The spool directory is gone and a file sits in its place: no
	// segment can be created in it (whoever runs the test, root included).
	if err := os.RemoveAll(spool); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(spool, []byte("not a directory"), 0o600); err != nil {
		t.Fatal(err)
	}
	w.Write(closeTestPoints(10)...)
	err = w.Close(t.Context())
	if err == nil {
		t.Fatal("Close lost 10 points (InfluxDB unreachable, the spool unwritable) and returned nil")
	}
	if !strings.Contains(err.Error(), spool) {
		t.Errorf("Close error %q does not name the spool %s", err, spool)
	}
	if err := w.Close(t.Context()); err != nil {
		t.Errorf("a second Close: %v, want nil", err)
	}
}
