package log

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// File name suffixes; a segment's files are its base offset in 20 digits
// plus one of these.
const (
	logSuffix       = ".log"
	indexSuffix     = ".index"
	timeIndexSuffix = ".timeindex"
	swapSuffix      = ".swap" // a truncated copy being put in place
)

func segmentPath(dir string, base int64, suffix string) string {
	return filepath.Join(dir, fmt.Sprintf("%020d%s", base, suffix))
}

// parseSegmentName returns the base offset of a file named
// <20 digits><suffix>, or ok false.
func parseSegmentName(name, suffix string) (base int64, ok bool) {
	digits, found := strings.CutSuffix(name, suffix)
	if !found || len(digits) != 20 {
		return 0, false
	}
	base, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || base < 0 {
		return 0, false
	}
	return base, true
}

// logFile is an open .log file shared by its segment and by the Chunks that
// read it. It is closed when the last reference is released, so deleting or
// replacing a segment never breaks a Chunk that still reads it.
type logFile struct {
	f    File
	path string
	refs atomic.Int64
	// verified is a prefix of the file, in bytes, whose batches were checked
	// in full (length, magic, CRC, offsets) since the log was opened: by
	// Append, by recovery, or by a read. Reads check the rest before serving
	// it; see Chunk.
	verified atomic.Int64
}

func newLogFile(f File, path string) *logFile {
	lf := &logFile{f: f, path: path}
	lf.refs.Store(1)
	return lf
}

func (lf *logFile) acquire() { lf.refs.Add(1) }

func (lf *logFile) release() error {
	switch n := lf.refs.Add(-1); {
	case n == 0:
		return lf.f.Close()
	case n < 0:
		panic(fmt.Sprintf("log: %s released %d times too often", lf.path, -n))
	}
	return nil
}

// segment is one .log file with its two indexes.
//
// Fields marked "published" are written by the writer only after the bytes
// they describe are in the file, and read by readers without locks. Fields
// marked "writer" belong to the goroutine holding Log.wmu. Fields marked
// "list" change only under Log.mu's write lock.
type segment struct {
	base      int64
	log       *logFile // list: replaced by a truncation copy
	index     *offsetIndex
	timeIndex *timeIndex

	size  atomic.Int64 // published: bytes of whole batches
	next  atomic.Int64 // published: offset after the last batch
	maxTs atomic.Int64 // published after size: largest MaxTimestamp, noTimestamp if none

	prefixMaxTs int64 // list: largest maxTs of the sealed segments up to this one

	sealed          bool      // writer
	dirty           bool      // writer: holds data or index changes not yet synced
	bytesSinceIndex int64     // writer: bytes appended since the last index entry
	rollAt          time.Time // writer: when it received its first batch (or was opened non-empty)
}

// openSegmentFiles opens the .log and both indexes of a segment. fresh
// truncates whatever was there.
func openSegmentFiles(fsys FS, dir string, base int64, active, fresh bool, maxIndexBytes int) (s *segment, err error) {
	flag := os.O_RDWR | os.O_CREATE
	if fresh {
		flag |= os.O_TRUNC
	}
	path := segmentPath(dir, base, logSuffix)
	f, err := fsys.OpenFile(path, flag, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open segment %d: %w", base, err)
	}
	s = &segment{base: base, log: newLogFile(f, path)}
	s.maxTs.Store(noTimestamp)
	defer func() {
		if err != nil {
			err = errors.Join(err, s.close())
		}
	}()
	if fresh {
		for _, suffix := range []string{indexSuffix, timeIndexSuffix} {
			if err := truncateIfExists(fsys, segmentPath(dir, base, suffix)); err != nil {
				return nil, fmt.Errorf("open segment %d: %w", base, err)
			}
		}
	}
	s.index = &offsetIndex{base: base}
	if err := s.index.open(fsys, segmentPath(dir, base, indexSuffix), offsetIndexEntrySize, active, maxIndexBytes); err != nil {
		s.index = nil
		return nil, fmt.Errorf("open segment %d index: %w", base, err)
	}
	s.timeIndex = &timeIndex{base: base}
	if err := s.timeIndex.open(fsys, segmentPath(dir, base, timeIndexSuffix), timeIndexEntrySize, active, maxIndexBytes); err != nil {
		s.timeIndex = nil
		return nil, fmt.Errorf("open segment %d time index: %w", base, err)
	}
	return s, nil
}

func truncateIfExists(fsys FS, path string) error {
	f, err := fsys.OpenFile(path, os.O_RDWR|os.O_TRUNC, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return f.Close()
}

// indexBatch records the batch of size bytes at pos, last offset lastOffset
// and MaxTimestamp ts, in the indexes; runningMax is the segment's largest
// timestamp before it and is updated. It is the one rule used by both
// Append and recovery, so a rebuilt index equals the one written live.
func (s *segment) indexBatch(lastOffset, pos, size, ts int64, runningMax *int64, intervalBytes int) {
	m := max(*runningMax, ts)
	if s.bytesSinceIndex > int64(intervalBytes) && s.index.entries() < s.index.capacity() {
		s.index.append(lastOffset, pos)
		s.timeIndex.maybeAppend(m, lastOffset)
		s.bytesSinceIndex = 0
	}
	s.bytesSinceIndex += size
	*runningMax = m
}

// indexFull reports whether an append of n bytes could overflow an index.
func (s *segment) indexFull(n int64, intervalBytes int) bool {
	need := n/int64(max(intervalBytes, 1)) + 1
	return s.index.entries()+need > s.index.capacity() || s.timeIndex.entries()+need > s.timeIndex.capacity()
}

// append writes validated batches b (offsets already final: first base is
// s.next) at the end of the segment, indexes them and publishes them.
func (s *segment) append(b []byte, intervalBytes int, now func() time.Time) error {
	pos := s.size.Load()
	if _, err := s.log.f.WriteAt(b, pos); err != nil {
		// Nothing was published; cut any partial write so the file stays a
		// sequence of whole batches.
		return errors.Join(fmt.Errorf("write segment %d: %w", s.base, err), s.log.f.Truncate(pos))
	}
	if pos == 0 {
		s.rollAt = now()
	}
	running := s.maxTs.Load()
	var next int64
	for p := 0; p < len(b); {
		h := decodeHeader(b[p:])
		size := int64(h.Size())
		s.indexBatch(h.LastOffset(), pos+int64(p), size, h.MaxTimestamp, &running, intervalBytes)
		next = h.LastOffset() + 1
		p += int(size)
	}
	end := pos + int64(len(b))
	// The bytes were validated in full before this call.
	s.log.verified.CompareAndSwap(pos, end)
	s.dirty = true
	s.next.Store(next)
	s.size.Store(end)
	s.maxTs.Store(running)
	return nil
}

// seal makes the segment read-only: a final time index entry for the
// largest timestamp (as Kafka does on roll) and indexes trimmed to their
// entries.
func (s *segment) seal() error {
	if s.sealed {
		return nil
	}
	if s.size.Load() > 0 {
		s.timeIndex.maybeAppend(s.maxTs.Load(), s.next.Load()-1)
	}
	if err := s.index.trim(); err != nil {
		return fmt.Errorf("seal segment %d: %w", s.base, err)
	}
	if err := s.timeIndex.trim(); err != nil {
		return fmt.Errorf("seal segment %d: %w", s.base, err)
	}
	s.sealed = true
	s.dirty = true
	return nil
}

// sync makes the segment durable: log first, then the indexes that point
// into it. A synced sealed segment lets go of its index descriptors.
func (s *segment) sync() error {
	if !s.dirty {
		return nil
	}
	if err := s.log.f.Sync(); err != nil {
		return fmt.Errorf("sync segment %d: %w", s.base, err)
	}
	if err := s.index.sync(); err != nil {
		return err
	}
	if err := s.timeIndex.sync(); err != nil {
		return err
	}
	s.dirty = false
	if s.sealed {
		return errors.Join(s.index.closeFile(), s.timeIndex.closeFile())
	}
	return nil
}

// close releases the segment's resources; the log file stays open while
// Chunks hold it. Only once no reader can reach the segment.
func (s *segment) close() error {
	var errs []error
	if s.index != nil {
		errs = append(errs, s.index.close())
	}
	if s.timeIndex != nil {
		errs = append(errs, s.timeIndex.close())
	}
	if s.log != nil {
		errs = append(errs, s.log.release())
		s.log = nil
	}
	return errors.Join(errs...)
}

// remove closes the segment and deletes its files.
func (s *segment) remove(fsys FS, dir string) error {
	errs := []error{s.close()}
	for _, suffix := range []string{logSuffix, indexSuffix, timeIndexSuffix} {
		if err := fsys.Remove(segmentPath(dir, s.base, suffix)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("remove segment %d: %w", s.base, err)
	}
	return nil
}
