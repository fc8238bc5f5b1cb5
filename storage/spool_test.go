package storage

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func lines(from, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("m seq=%di %d", from+i, from+i)
	}
	return out
}

// drain reads the whole spool in batches of max and commits each.
func drain(t *testing.T, sp *spool, max int) []string {
	t.Helper()
	var got []string
	for !sp.empty() {
		b, err := sp.peek(max)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) == 0 {
			t.Fatal("peek returned nothing from a non-empty spool")
		}
		got = append(got, b...)
		if err := sp.commit(b); err != nil {
			t.Fatal(err)
		}
	}
	return got
}

func TestSpoolOrderAcrossSegments(t *testing.T) {
	dir := t.TempDir()
	sp, err := openSpool(dir, 1<<20, 200) // tiny segments: a few batches each
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for b := range 20 {
		batch := lines(b*3, 3)
		want = append(want, batch...)
		if dropped, err := sp.append(batch); err != nil || len(dropped) > 0 {
			t.Fatalf("append: dropped %v, %v", dropped, err)
		}
	}
	pts, _, segs := sp.stats()
	if pts != 60 || segs < 3 {
		t.Fatalf("stats: %d points in %d segments, want 60 in several", pts, segs)
	}
	got := drain(t, sp, 7)
	if !slices.Equal(got, want) {
		t.Fatalf("order:\n got %v\nwant %v", got, want)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("drained spool left files: %v", ents)
	}
}

func TestSpoolReopenResumesAfterAck(t *testing.T) {
	dir := t.TempDir()
	sp, err := openSpool(dir, 1<<20, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sp.append(lines(0, 10)); err != nil {
		t.Fatal(err)
	}
	b, _ := sp.peek(4)
	if err := sp.commit(b); err != nil {
		t.Fatal(err)
	}
	sp.close()

	sp2, err := openSpool(dir, 1<<20, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if pts, _, _ := sp2.stats(); pts != 6 {
		t.Fatalf("reopened spool has %d points, want 6", pts)
	}
	// New appends go after the old ones, in a new segment.
	if _, err := sp2.append(lines(10, 2)); err != nil {
		t.Fatal(err)
	}
	got := drain(t, sp2, 100)
	if want := lines(4, 8); !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestSpoolCutsTornLine(t *testing.T) {
	dir := t.TempDir()
	sp, err := openSpool(dir, 1<<20, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sp.append(lines(0, 3)); err != nil {
		t.Fatal(err)
	}
	sp.close()
	f, err := os.OpenFile(filepath.Join(dir, fmt.Sprintf("%020d.lp", 1)), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteString("m seq=3i 3\nm se") // a crash mid-append
	f.Close()
	sp2, err := openSpool(dir, 1<<20, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := drain(t, sp2, 100), lines(0, 4); !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestSpoolBoundDropsOldest(t *testing.T) {
	dir := t.TempDir()
	one := int64(len(strings.Join(lines(50, 10), "\n")) + 1) // the largest batch
	sp, err := openSpool(dir, 3*one+one/2, one)              // room for 3 batches, one per segment
	if err != nil {
		t.Fatal(err)
	}
	var dropped []droppedSegment
	for b := range 6 {
		d, err := sp.append(lines(b*10, 10))
		if err != nil {
			t.Fatal(err)
		}
		dropped = append(dropped, d...)
	}
	var droppedLines int
	for _, d := range dropped {
		droppedLines += d.lines
	}
	pts, bytes, _ := sp.stats()
	if pts+droppedLines != 60 {
		t.Fatalf("kept %d + dropped %d != 60", pts, droppedLines)
	}
	if bytes > 3*one+one/2 {
		t.Fatalf("spool holds %d bytes over its bound %d", bytes, 3*one+one/2)
	}
	got := drain(t, sp, 1000)
	// What is left is the newest points, in order.
	if want := lines(60-len(got), len(got)); !slices.Equal(got, want) || len(got) < 30 {
		t.Fatalf("kept %v, want the newest (at least 30) %v", got, want)
	}
	if _, err := sp.append(lines(0, 1000)); err == nil {
		t.Fatal("a batch larger than the bound was accepted")
	}
}

// segmentFiles returns the names of the segment files in dir, in name order.
func segmentFiles(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), segmentExt) {
			out = append(out, e.Name())
		}
	}
	return out
}

// TestSpoolReopenReplaysSegmentsInOrder fills several segments, acks the
// whole first segment and part of the second, then drains the spool
// reopening it before every batch, as a writer restarted again and again
// would: the lines come back exactly once each, oldest first, and the acked
// ones never again.
func TestSpoolReopenReplaysSegmentsInOrder(t *testing.T) {
	dir := t.TempDir()
	const segBytes = 200 // a few batches of three lines each
	sp, err := openSpool(dir, 1<<20, segBytes)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for b := range 30 {
		batch := lines(b*3, 3)
		want = append(want, batch...)
		if _, err := sp.append(batch); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, segs := sp.stats(); segs < 5 {
		t.Fatalf("%d segments, want at least 5 for the test to mean anything", segs)
	}
	first := sp.segs[0].seq
	firstLines := sp.segs[0].lines

	// Ack the first segment whole, and two lines of the second.
	b, err := sp.peek(1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != firstLines {
		t.Fatalf("peek(1000) returned %d lines, want the first segment's %d (a batch never spans two segments)", len(b), firstLines)
	}
	if err := sp.commit(b); err != nil {
		t.Fatal(err)
	}
	b, err = sp.peek(2)
	if err != nil {
		t.Fatal(err)
	}
	if err := sp.commit(b); err != nil {
		t.Fatal(err)
	}
	sent := firstLines + 2
	sp.close()
	if slices.Contains(segmentFiles(t, dir), fmt.Sprintf("%020d%s", first, segmentExt)) {
		t.Fatalf("the fully acked segment %d is still on disk", first)
	}

	// Reopen before every batch of 4 lines: each reopen must find the
	// segments in order and resume after the ack.
	var got []string
	for range 1000 {
		sp, err = openSpool(dir, 1<<20, segBytes)
		if err != nil {
			t.Fatal(err)
		}
		if sp.empty() {
			sp.close()
			break
		}
		pts, _, _ := sp.stats()
		if wantPts := len(want) - sent - len(got); pts != wantPts {
			t.Fatalf("reopened spool holds %d points, want %d", pts, wantPts)
		}
		b, err := sp.peek(4)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, b...)
		if err := sp.commit(b); err != nil {
			t.Fatal(err)
		}
		sp.close()
	}
	if want := want[sent:]; !slices.Equal(got, want) {
		t.Fatalf("replay after reopening:\n got %v\nwant %v", got, want)
	}
	if files := segmentFiles(t, dir); len(files) != 0 {
		t.Fatalf("drained spool left segments %v", files)
	}
}

// TestSpoolReopenAppendsAfterOldSegments: a reopened spool with several
// segments appends to a new segment after all of them, and replays the old
// ones first.
func TestSpoolReopenAppendsAfterOldSegments(t *testing.T) {
	dir := t.TempDir()
	sp, err := openSpool(dir, 1<<20, 100)
	if err != nil {
		t.Fatal(err)
	}
	for b := range 10 {
		if _, err := sp.append(lines(b*3, 3)); err != nil {
			t.Fatal(err)
		}
	}
	_, _, segs := sp.stats()
	sp.close()
	for round := 1; round <= 3; round++ {
		sp, err = openSpool(dir, 1<<20, 100)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, n := sp.stats(); n != segs {
			t.Fatalf("round %d: reopened spool has %d segments, want %d", round, n, segs)
		}
		if _, err := sp.append(lines(30*round, 30)); err != nil {
			t.Fatal(err)
		}
		segs++
		sp.close()
	}
	sp, err = openSpool(dir, 1<<20, 100)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := drain(t, sp, 5), lines(0, 120); !slices.Equal(got, want) {
		t.Fatalf("order:\n got %v\nwant %v", got, want)
	}
}

// TestSpoolReopenSkipsFullyAckedSegment: a segment whose ack says it was
// sent to its end (the process died before removing it) is removed on
// open and not replayed; a stale or torn ack replays the segment whole.
func TestSpoolReopenSkipsFullyAckedSegment(t *testing.T) {
	for _, tc := range []struct {
		name string
		ack  func(size int64) []byte
		want []string
	}{
		{"acked to the end", func(size int64) []byte { return ackBytes(size) }, lines(3, 3)},
		{"ack past the end", func(size int64) []byte { return ackBytes(size + 5) }, lines(0, 6)},
		{"ack mid-line", func(size int64) []byte { return ackBytes(size - 2) }, lines(0, 6)},
		{"torn ack", func(int64) []byte { return []byte{0, 0, 0} }, lines(0, 6)},
		{"ack at a line end", func(size int64) []byte { return ackBytes(lineBytes(lines(0, 2))) }, append(lines(2, 1), lines(3, 3)...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			one := lineBytes(lines(0, 3))
			sp, err := openSpool(dir, 1<<20, one) // one batch per segment
			if err != nil {
				t.Fatal(err)
			}
			for b := range 2 {
				if _, err := sp.append(lines(b*3, 3)); err != nil {
					t.Fatal(err)
				}
			}
			head := sp.segs[0]
			sp.close()
			if err := os.WriteFile(sp.path(head.seq, ackExt), tc.ack(head.size), 0o640); err != nil {
				t.Fatal(err)
			}
			sp, err = openSpool(dir, 1<<20, one)
			if err != nil {
				t.Fatal(err)
			}
			if got := drain(t, sp, 100); !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func ackBytes(off int64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(off))
	return b[:]
}

func lineBytes(ls []string) int64 { return int64(len(strings.Join(ls, "\n")) + 1) }
