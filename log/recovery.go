package log

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

const (
	// cleanShutdownFile exists only between a successful Close and the next
	// Open; while it exists the files are known to be whole and synced.
	cleanShutdownFile = ".cairn-clean-shutdown"
	// recoveryPointFile holds the log end offset at the last Sync: every
	// batch below it, and every index entry for such a batch, is durable.
	recoveryPointFile = "recovery-point"
	recoveryPointSize = 16 // version u32, offset u64, CRC-32C u32 of the first 12 bytes
)

// recoveryPoint is the open recovery-point file.
type recoveryPoint struct {
	f    File
	last int64
	buf  [recoveryPointSize]byte
}

// openRecoveryPoint opens the file and returns the offset it holds, or -1
// when it is missing or unreadable (then nothing is trusted).
func openRecoveryPoint(fsys FS, dir string) (*recoveryPoint, int64, error) {
	f, err := fsys.OpenFile(filepath.Join(dir, recoveryPointFile), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, 0, fmt.Errorf("open recovery point: %w", err)
	}
	rp := &recoveryPoint{f: f, last: -1}
	if _, err := f.ReadAt(rp.buf[:], 0); err != nil {
		return rp, -1, nil
	}
	b := rp.buf[:]
	if binary.BigEndian.Uint32(b) != 1 || crc32.Checksum(b[:12], castagnoli) != binary.BigEndian.Uint32(b[12:]) {
		return rp, -1, nil
	}
	off := int64(binary.BigEndian.Uint64(b[4:]))
	if off < 0 {
		return rp, -1, nil
	}
	rp.last = off
	return rp, off, nil
}

// store durably records offset. The record is one 16-byte write: a torn one
// fails its CRC and reads back as "nothing trusted", which is safe.
func (rp *recoveryPoint) store(offset int64) error {
	if offset == rp.last {
		return nil
	}
	b := rp.buf[:]
	binary.BigEndian.PutUint32(b, 1)
	binary.BigEndian.PutUint64(b[4:], uint64(offset))
	binary.BigEndian.PutUint32(b[12:], crc32.Checksum(b[:12], castagnoli))
	if _, err := rp.f.WriteAt(b, 0); err != nil {
		return fmt.Errorf("write recovery point: %w", err)
	}
	if err := rp.f.Sync(); err != nil {
		return fmt.Errorf("sync recovery point: %w", err)
	}
	rp.last = offset
	return nil
}

func (rp *recoveryPoint) close() error { return rp.f.Close() }

// writeCleanMarker trims the active indexes and records a clean shutdown.
// Called by Close after a successful sync.
func (l *Log) writeCleanMarker() error {
	s := l.active()
	for _, x := range []*mappedIndex{&s.index.mappedIndex, &s.timeIndex.mappedIndex} {
		if err := x.trim(); err != nil {
			return err
		}
		if err := x.sync(); err != nil {
			return err
		}
	}
	f, err := l.fsys.OpenFile(filepath.Join(l.dir, cleanShutdownFile), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("write clean shutdown marker: %w", err)
	}
	err = errors.Join(f.Sync(), f.Close())
	if err == nil {
		err = l.fsys.SyncDir(l.dir)
	}
	if err != nil {
		return fmt.Errorf("write clean shutdown marker: %w", err)
	}
	return nil
}

// Open opens the log in dir, creating dir and an empty log at offset 0 if
// needed, and recovers it (see the package documentation). logger may be
// nil. The returned Log is open for writing: the clean-shutdown marker is
// removed before Open returns.
func Open(dir string, cfg Config, logger *slog.Logger) (*Log, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	l := &Log{dir: dir, cfg: cfg, fsys: cfg.FS, logger: logger}
	l.maxBatch.Store(int64(cfg.MaxBatchBytes))
	if err := l.open(); err != nil {
		return nil, fmt.Errorf("open log %s: %w", dir, err)
	}
	return l, nil
}

func (l *Log) open() (err error) {
	fsys, dir := l.fsys, l.dir
	if err := fsys.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	names, err := fsys.ReadDir(dir)
	if err != nil {
		return err
	}
	clean := slices.Contains(names, cleanShutdownFile)
	rp, rpOffset, err := openRecoveryPoint(fsys, dir)
	if err != nil {
		return err
	}
	l.rp = rp
	var segs []*segment
	defer func() {
		if err != nil {
			errs := []error{err, rp.close()}
			for _, s := range segs {
				errs = append(errs, s.close())
			}
			err = errors.Join(errs...)
		}
	}()

	bases, err := l.sweepDir(names)
	if err != nil {
		return err
	}
	trusted := rpOffset
	if clean {
		trusted = math.MaxInt64
	}
	for i, base := range bases {
		if n := len(segs); n > 0 && segs[n-1].next.Load() != base {
			l.logger.Warn("segments not contiguous, dropping the rest",
				"offset", segs[n-1].next.Load(), "next_segment", base)
			if err := l.removeBases(bases[i:]); err != nil {
				return err
			}
			break
		}
		s, truncated, err := l.loadSegment(base, i == len(bases)-1, clean, trusted)
		if err != nil {
			return err
		}
		segs = append(segs, s)
		if truncated && i < len(bases)-1 {
			l.logger.Warn("segment truncated, dropping the segments after it", "offset", s.next.Load())
			if err := l.removeBases(bases[i+1:]); err != nil {
				return err
			}
			break
		}
	}
	if len(segs) == 0 {
		s, err := openSegmentFiles(fsys, dir, 0, true, true, l.cfg.MaxIndexBytes)
		if err != nil {
			return err
		}
		s.next.Store(0)
		segs = append(segs, s)
		l.dirDirty = true
	}
	last := segs[len(segs)-1]
	if last.sealed {
		// Its successors were dropped: it becomes the active segment again.
		if err := last.reopenIndexes(fsys, dir, l.cfg.MaxIndexBytes); err != nil {
			return err
		}
		last.sealed = false
	}
	for _, s := range segs[:len(segs)-1] {
		if err := s.seal(); err != nil {
			return err
		}
	}
	var size int64
	for _, s := range segs {
		size += s.size.Load()
	}
	l.mu.segments = segs
	l.refreshPrefixMaxLocked()
	l.start.Store(segs[0].base)
	l.end.Store(last.next.Load())
	l.size.Store(size)

	// Make the marker's removal durable before any write, so a crash from
	// now on is recovered as unclean.
	if clean {
		if err := fsys.Remove(filepath.Join(dir, cleanShutdownFile)); err != nil {
			return fmt.Errorf("remove clean shutdown marker: %w", err)
		}
		l.dirDirty = true
	}
	if l.dirDirty {
		if err := fsys.SyncDir(dir); err != nil {
			return err
		}
		l.dirDirty = false
	}
	// Recovery lost data the recovery point promised (a corrupt synced
	// batch): lower the point so it never vouches for offsets written anew.
	if rpOffset > l.end.Load() || rpOffset < 0 {
		if err := rp.store(l.end.Load()); err != nil {
			return err
		}
	}
	l.recovery = Recovery{Clean: clean, RecoveryPoint: rpOffset, EndOffset: l.end.Load()}
	if l.recovery.LostSynced() {
		l.logger.Warn("log lost synced batches at open", "offset", l.end.Load(), "recovery_point", rpOffset, "clean", clean)
	}
	l.logger.Debug("log opened", "offset", l.end.Load(), "clean", clean, "segments", len(segs))
	return nil
}

// sweepDir removes leftovers (index files without a log, unfinished
// truncation copies) and returns the sorted base offsets of the segments.
func (l *Log) sweepDir(names []string) ([]int64, error) {
	var bases []int64
	logs := map[int64]bool{}
	for _, name := range names {
		if base, ok := parseSegmentName(name, logSuffix); ok {
			bases = append(bases, base)
			logs[base] = true
		}
	}
	for _, name := range names {
		stray := strings.HasSuffix(name, swapSuffix)
		for _, suffix := range []string{indexSuffix, timeIndexSuffix} {
			if base, ok := parseSegmentName(name, suffix); ok && !logs[base] {
				stray = true
			}
		}
		if stray {
			if err := l.fsys.Remove(filepath.Join(l.dir, name)); err != nil {
				return nil, err
			}
			l.dirDirty = true
		}
	}
	slices.Sort(bases)
	return bases, nil
}

func (l *Log) removeBases(bases []int64) error {
	for _, base := range bases {
		for _, suffix := range []string{logSuffix, indexSuffix, timeIndexSuffix} {
			if err := l.fsys.Remove(segmentPath(l.dir, base, suffix)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
		l.dirDirty = true
	}
	return nil
}

// loadSegment opens one segment and establishes its size, next offset and
// largest timestamp.
//
// The indexes are trusted up to the last entry for a batch below trusted
// (all of them after a clean shutdown), after a cheap check; the log is
// then walked from the batch of that entry to the end of the file. After a
// clean shutdown the walk reads headers only; otherwise it checks every
// batch in full. The file is truncated at the first bad byte (truncated
// reports that). An index that fails its check, or whose last entry does
// not name the batch found at its position, is rebuilt from a full scan.
// Unclean loads open the indexes writable so that entries can be added;
// Open seals all but the last segment afterwards.
func (l *Log) loadSegment(base int64, last, clean bool, trusted int64) (s *segment, truncated bool, err error) {
	writable := last || !clean
	s, err = openSegmentFiles(l.fsys, l.dir, base, writable, false, l.cfg.MaxIndexBytes)
	if err != nil {
		return nil, false, err
	}
	opened := s // the returns below set s to nil
	defer func() {
		if err != nil {
			err = errors.Join(err, opened.close())
			s = nil
		}
	}()
	logSize, err := s.log.f.Size()
	if err != nil {
		return nil, false, err
	}
	ix, tx := s.index, s.timeIndex
	ok := ix.fileSize%offsetIndexEntrySize == 0 && tx.fileSize%timeIndexEntrySize == 0 &&
		(logSize == 0 || !ix.created && !tx.created)
	if clean {
		n, tn := ix.fileSize/offsetIndexEntrySize, tx.fileSize/timeIndexEntrySize
		ok = ok && n <= ix.slots() && tn <= tx.slots() && ix.validPrefix(1, logSize) == min(n, 1)
		if ok && n > 0 {
			ix.n.Store(n)
			_, p := ix.at(n - 1)
			ok = p < logSize
		}
		if ok {
			ix.n.Store(n)
			tx.n.Store(tn)
		}
	} else {
		ix.n.Store(ix.validPrefix(ix.fileSize/offsetIndexEntrySize, logSize))
		ix.truncateFrom(trusted, false)
		minOffset := base
		if last {
			minOffset = base + 1 // only a sealed segment's final entry may name its base
		}
		tx.n.Store(tx.validPrefix(tx.fileSize/timeIndexEntrySize, minOffset, trusted-1))
	}
	verify := !clean
	var scanned int64
	var indexBad bool
	if ok {
		scanned, indexBad, err = l.scanSegment(s, logSize, verify)
	}
	if !ok || indexBad {
		l.logger.Warn("index corrupt, rebuilding", "offset", base, "err", err)
		if !writable {
			writable = true
			if err := s.reopenIndexes(l.fsys, l.dir, l.cfg.MaxIndexBytes); err != nil {
				return nil, false, err
			}
			ix, tx = s.index, s.timeIndex
		}
		ix.n.Store(0)
		tx.n.Store(0)
		scanned, _, err = l.scanSegment(s, logSize, true)
	}
	if err != nil && !errors.Is(err, ErrCorrupt) {
		return nil, false, err
	}
	if scanned < logSize {
		l.logger.Warn("truncating segment at first invalid batch",
			"offset", s.next.Load(), "segment", base, "position", scanned, "size", logSize, "err", err)
		if err := s.log.f.Truncate(scanned); err != nil {
			return nil, false, err
		}
		s.dirty = true
		truncated = true
		if _, lastTimeOffset, ok := tx.last(); ok && lastTimeOffset >= s.next.Load() {
			// A kept time entry names a batch that is gone (corruption
			// below the recovery point): rebuild both indexes.
			if !writable {
				writable = true
				if err := s.reopenIndexes(l.fsys, l.dir, l.cfg.MaxIndexBytes); err != nil {
					return nil, false, err
				}
				ix, tx = s.index, s.timeIndex
			}
			ix.n.Store(0)
			tx.n.Store(0)
			// A header walk (clean shutdown) can pass a batch whose CRC
			// fails, even one whose damaged length made the walk skip
			// ahead: the full check then cuts further back.
			valid, _, err := l.scanSegment(s, scanned, true)
			if err != nil && !errors.Is(err, ErrCorrupt) {
				return nil, false, err
			}
			if valid < scanned {
				l.logger.Warn("truncating segment at first invalid batch",
					"offset", s.next.Load(), "segment", base, "position", valid, "size", scanned, "err", err)
				if err := s.log.f.Truncate(valid); err != nil {
					return nil, false, err
				}
			}
		}
	}
	if writable {
		// Zero whatever lies past the kept entries (stale or torn entries
		// of an unclean shutdown) without touching the preallocated pages.
		for _, x := range []*mappedIndex{&ix.mappedIndex, &tx.mappedIndex} {
			if err := x.resetTail(); err != nil {
				return nil, false, err
			}
		}
	} else {
		s.sealed = true
		if err := errors.Join(ix.closeFile(), tx.closeFile()); err != nil {
			return nil, false, err
		}
	}
	if s.size.Load() > 0 {
		s.rollAt = l.cfg.Now()
	}
	return s, truncated, nil
}

// scanSegment walks the segment's log from its last index entry (or from
// the start) to logSize, checking every batch in full if verify, adding the
// index entries the walk passes, and publishes size, next offset and
// largest timestamp. It returns how far the log is valid and, if short of
// logSize, why. indexBad reports that the batch the last index entry names
// is not at its position: the caller rebuilds.
func (l *Log) scanSegment(s *segment, logSize int64, verify bool) (valid int64, indexBad bool, err error) {
	start, expect, expectLast := int64(0), s.base, int64(-1)
	if o, p, ok := s.index.lookup(math.MaxInt64); ok {
		start, expect, expectLast = p, -1, o
	}
	running := int64(noTimestamp)
	if ts, _, ok := s.timeIndex.last(); ok {
		running = ts
	}
	next := s.base
	s.bytesSinceIndex = 0
	first := true
	var mismatch error
	visit := func(h *BatchHeader, pos int64) bool {
		if mismatch != nil {
			return false
		}
		if first && expectLast >= 0 && h.LastOffset() != expectLast {
			mismatch = corruptf("index names offset %d at %d, the batch there ends at %d", expectLast, pos, h.LastOffset())
			return false
		}
		first = false
		s.indexBatch(h.LastOffset(), pos, int64(h.Size()), h.MaxTimestamp, &running, l.cfg.IndexIntervalBytes)
		next = h.LastOffset() + 1
		return true
	}
	var end int64
	if verify {
		end, err = scanBatches(s.log.f, start, logSize, expect, func(h *BatchHeader, pos int64) { visit(h, pos) })
	} else {
		end, err = walkHeaders(s.log.f, start, logSize, expect, visit)
	}
	if mismatch != nil {
		return start, true, mismatch
	}
	if err != nil && end == start && start > 0 {
		return start, true, err // the indexed batch itself is bad
	}
	if verify && start == 0 {
		s.log.verified.Store(end)
	}
	s.size.Store(end)
	s.next.Store(next)
	s.maxTs.Store(running)
	return end, false, err
}

// resetTail drops everything in the file past the published entries and
// restores the preallocation, as zeros.
func (x *mappedIndex) resetTail() error {
	if x.file == nil {
		return nil
	}
	keep := x.n.Load() * int64(x.entrySize)
	if err := x.file.Truncate(keep); err != nil {
		return err
	}
	return x.file.Truncate(int64(len(x.buf)))
}

// reopenIndexes maps a sealed segment's indexes writable again, for a
// segment that becomes active once more.
func (s *segment) reopenIndexes(fsys FS, dir string, maxIndexBytes int) error {
	n, tn := s.index.entries(), s.timeIndex.entries()
	if err := errors.Join(s.index.close(), s.timeIndex.close()); err != nil {
		return err
	}
	s.index = &offsetIndex{base: s.base}
	s.timeIndex = &timeIndex{base: s.base}
	if err := s.index.open(fsys, segmentPath(dir, s.base, indexSuffix), offsetIndexEntrySize, true, maxIndexBytes); err != nil {
		return err
	}
	if err := s.timeIndex.open(fsys, segmentPath(dir, s.base, timeIndexSuffix), timeIndexEntrySize, true, maxIndexBytes); err != nil {
		return err
	}
	s.index.n.Store(min(n, s.index.slots()))
	s.timeIndex.n.Store(min(tn, s.timeIndex.slots()))
	return errors.Join(s.index.resetTail(), s.timeIndex.resetTail())
}
