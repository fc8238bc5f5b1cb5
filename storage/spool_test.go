package storage

import (
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
