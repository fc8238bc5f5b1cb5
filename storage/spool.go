package storage

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// The spool is a directory of append-only segment files of line protocol,
// named by a sequence number (00000000000000000001.lp, ...). Batches are
// appended to the newest segment and fsynced; the oldest segment is read
// from its head. How far the head has been written to InfluxDB is kept in a
// small NNN.ack file beside the segment (a byte offset); losing it only means
// re-sending lines InfluxDB already has, which it stores once (a point is
// identified by measurement, tags and time). A segment fully sent is removed.

const (
	segmentExt = ".lp"
	ackExt     = ".ack"
)

type segment struct {
	seq    uint64
	size   int64 // bytes in the file
	offset int64 // bytes already sent (head segment only)
	lines  int   // lines not yet sent
}

func (s *segment) pending() int64 { return s.size - s.offset }

// spool is not safe for concurrent use: the Writer's loop owns it.
type spool struct {
	dir      string
	maxBytes int64
	segBytes int64
	segs     []*segment // oldest first
	tail     *os.File   // open for append: the last segment, when open
}

// openSpool opens (creating) dir and takes stock of the segments in it. A
// torn last line (a crash mid-append) is cut off.
func openSpool(dir string, maxBytes, segBytes int64) (*spool, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("spool %s: %w", dir, err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("spool %s: %w", dir, err)
	}
	sp := &spool{dir: dir, maxBytes: maxBytes, segBytes: segBytes}
	for _, e := range ents {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, segmentExt) {
			continue
		}
		seq, err := strconv.ParseUint(strings.TrimSuffix(name, segmentExt), 10, 64)
		if err != nil {
			continue
		}
		seg, err := sp.load(seq)
		if err != nil {
			return nil, err
		}
		if seg == nil {
			continue
		}
		sp.segs = append(sp.segs, seg)
	}
	slices.SortFunc(sp.segs, func(a, b *segment) int {
		switch {
		case a.seq < b.seq:
			return -1
		case a.seq > b.seq:
			return 1
		}
		return 0
	})
	return sp, nil
}

func (sp *spool) path(seq uint64, ext string) string {
	return filepath.Join(sp.dir, fmt.Sprintf("%020d%s", seq, ext))
}

// load reads a segment's size, ack offset and pending line count, cutting a
// torn last line. It returns nil for a segment with nothing left to send
// (and removes it).
func (sp *spool) load(seq uint64) (*segment, error) {
	p := sp.path(seq, segmentExt)
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("spool segment %s: %w", p, err)
	}
	if i := bytes.LastIndexByte(data, '\n'); i+1 != len(data) {
		data = data[:i+1]
		if err := os.Truncate(p, int64(len(data))); err != nil {
			return nil, fmt.Errorf("spool segment %s: cut torn line: %w", p, err)
		}
	}
	seg := &segment{seq: seq, size: int64(len(data))}
	if b, err := os.ReadFile(sp.path(seq, ackExt)); err == nil && len(b) == 8 {
		off := int64(binary.BigEndian.Uint64(b))
		if off > 0 && off <= seg.size && data[off-1] == '\n' {
			seg.offset = off
		}
	}
	seg.lines = bytes.Count(data[seg.offset:], []byte{'\n'})
	if seg.lines == 0 {
		return nil, sp.remove(seg)
	}
	return seg, nil
}

func (sp *spool) remove(seg *segment) error {
	errA := os.Remove(sp.path(seg.seq, segmentExt))
	errB := os.Remove(sp.path(seg.seq, ackExt))
	if errors.Is(errA, os.ErrNotExist) {
		errA = nil
	}
	if errors.Is(errB, os.ErrNotExist) {
		errB = nil
	}
	if err := errors.Join(errA, errB); err != nil {
		return fmt.Errorf("spool remove segment %d: %w", seg.seq, err)
	}
	return nil
}

// stats returns the points, bytes and segments waiting.
func (sp *spool) stats() (points int, bytes int64, segments int) {
	for _, s := range sp.segs {
		points += s.lines
		bytes += s.pending()
	}
	return points, bytes, len(sp.segs)
}

func (sp *spool) empty() bool { return len(sp.segs) == 0 }

// droppedSegment describes a segment dropped to keep the bound.
type droppedSegment struct {
	seq   uint64
	lines int
	bytes int64
}

// append writes lines (each without its newline) as one batch and fsyncs.
// To stay under the bound it first drops the oldest segments, and returns
// what it dropped. A batch larger than the whole bound is refused.
func (sp *spool) append(lines []string) ([]droppedSegment, error) {
	var buf bytes.Buffer
	for _, l := range lines {
		buf.WriteString(l)
		buf.WriteByte('\n')
	}
	n := int64(buf.Len())
	if n > sp.maxBytes {
		return nil, fmt.Errorf("spool: batch of %d bytes exceeds the spool bound %d", n, sp.maxBytes)
	}
	var dropped []droppedSegment
	for {
		_, total, _ := sp.stats()
		if total+n <= sp.maxBytes || len(sp.segs) == 0 {
			break
		}
		head := sp.segs[0]
		if len(sp.segs) == 1 && sp.tail != nil {
			sp.closeTail()
		}
		if err := sp.remove(head); err != nil {
			return dropped, err
		}
		sp.segs = sp.segs[1:]
		dropped = append(dropped, droppedSegment{seq: head.seq, lines: head.lines, bytes: head.pending()})
	}
	last := sp.last()
	if last == nil || sp.tail == nil || last.size+n > sp.segBytes && last.size > 0 {
		if err := sp.rotate(); err != nil {
			return dropped, err
		}
		last = sp.last()
	}
	if _, err := sp.tail.Write(buf.Bytes()); err != nil {
		// A short write leaves a torn line; cut back to what was there.
		_ = sp.tail.Truncate(last.size)
		return dropped, fmt.Errorf("spool append %s: %w", sp.tail.Name(), err)
	}
	if err := sp.tail.Sync(); err != nil {
		return dropped, fmt.Errorf("spool fsync %s: %w", sp.tail.Name(), err)
	}
	last.size += n
	last.lines += len(lines)
	return dropped, nil
}

func (sp *spool) last() *segment {
	if len(sp.segs) == 0 {
		return nil
	}
	return sp.segs[len(sp.segs)-1]
}

// rotate starts a new segment for appends.
func (sp *spool) rotate() error {
	sp.closeTail()
	var seq uint64 = 1
	if l := sp.last(); l != nil {
		seq = l.seq + 1
	}
	f, err := os.OpenFile(sp.path(seq, segmentExt), os.O_CREATE|os.O_WRONLY|os.O_APPEND|os.O_EXCL, 0o640)
	if err != nil {
		return fmt.Errorf("spool new segment: %w", err)
	}
	if d, err := os.Open(sp.dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	sp.tail = f
	sp.segs = append(sp.segs, &segment{seq: seq})
	return nil
}

func (sp *spool) closeTail() {
	if sp.tail != nil {
		_ = sp.tail.Close()
		sp.tail = nil
	}
}

// peek returns up to max lines from the head of the oldest segment. A batch
// never spans two segments.
func (sp *spool) peek(max int) ([]string, error) {
	if len(sp.segs) == 0 {
		return nil, nil
	}
	head := sp.segs[0]
	f, err := os.Open(sp.path(head.seq, segmentExt))
	if err != nil {
		return nil, fmt.Errorf("spool read segment %d: %w", head.seq, err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(io.NewSectionReader(f, head.offset, head.pending()), 256<<10)
	lines := make([]string, 0, min(max, head.lines))
	for len(lines) < max {
		l, err := r.ReadString('\n')
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("spool read segment %d: %w", head.seq, err)
		}
		lines = append(lines, l[:len(l)-1])
	}
	return lines, nil
}

// commit marks the lines returned by peek as done (written or rejected).
func (sp *spool) commit(lines []string) error {
	if len(sp.segs) == 0 || len(lines) == 0 {
		return nil
	}
	head := sp.segs[0]
	var n int64
	for _, l := range lines {
		n += int64(len(l)) + 1
	}
	head.offset += n
	head.lines -= len(lines)
	if head.offset >= head.size && head.lines <= 0 {
		if len(sp.segs) == 1 {
			sp.closeTail()
		}
		sp.segs = sp.segs[1:]
		return sp.remove(head)
	}
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(head.offset))
	if err := os.WriteFile(sp.path(head.seq, ackExt), b[:], 0o640); err != nil {
		return fmt.Errorf("spool ack segment %d: %w", head.seq, err)
	}
	return nil
}

func (sp *spool) close() { sp.closeTail() }
