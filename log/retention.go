package log

import (
	"errors"
	"fmt"
	"os"
	"slices"
)

// ApplyRetention deletes the oldest sealed segments while either limit
// calls for it: a segment whose largest timestamp is older than
// RetentionAge, or one without which the log still holds at least
// RetentionBytes. The active segment is never deleted. It advances
// StartOffset to the first remaining segment and returns how many segments
// it deleted. Chunks reading a deleted segment keep working until closed.
// The owner calls it periodically; the deletions are durable after Sync.
func (l *Log) ApplyRetention() (deleted int, err error) {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if l.closed.Load() {
		return 0, ErrClosed
	}
	segs := l.mu.segments
	cutoff := l.cfg.Now().Add(-l.cfg.RetentionAge).UnixMilli()
	total := l.size.Load()
	k := 0
	for ; k < len(segs)-1; k++ {
		s := segs[k]
		ts := s.maxTs.Load()
		byTime := l.cfg.RetentionAge >= 0 && ts != noTimestamp && ts < cutoff
		bySize := l.cfg.RetentionBytes >= 0 && total-s.size.Load() >= l.cfg.RetentionBytes
		if !byTime && !bySize {
			break
		}
		total -= s.size.Load()
	}
	if k == 0 {
		return 0, nil
	}
	dropped := segs[:k]
	l.mu.Lock()
	l.mu.segments = slices.Clone(segs[k:])
	l.refreshPrefixMaxLocked()
	l.start.Store(segs[k].base)
	l.size.Store(total)
	l.mu.Unlock()
	l.logger.Info("retention deleted segments", "segments", k, "offset", segs[k].base)
	return k, l.removeSegments(dropped)
}

// removeSegments deletes segments already out of the list.
func (l *Log) removeSegments(segs []*segment) error {
	var errs []error
	for _, s := range segs {
		errs = append(errs, s.remove(l.fsys, l.dir))
	}
	l.dirDirty = true
	return errors.Join(errs...)
}

// TruncateTo drops every batch at or after offset, which must be the base
// offset of a batch or EndOffset (else ErrNotBatchBoundary), and at least
// StartOffset (else ErrOffsetOutOfRange). EndOffset becomes offset. Chunks
// already returned keep reading the old bytes: a segment a Chunk still
// holds is copied up to the cut and the copy renamed into place instead of
// being cut in place. The cut itself is durable after the next Sync; the
// recovery point is lowered at once, so a crash never trusts index entries
// past the cut.
func (l *Log) TruncateTo(offset int64) error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if l.closed.Load() {
		return ErrClosed
	}
	start, end := l.start.Load(), l.end.Load()
	if offset == end {
		return nil
	}
	if offset < start || offset > end {
		return fmt.Errorf("truncate to %d, log holds [%d, %d): %w", offset, start, end, ErrOffsetOutOfRange)
	}
	i := l.findSegmentLocked(offset)
	s := l.mu.segments[i]
	var pos int64
	if offset != s.base {
		p, h, err := s.locate(offset, s.size.Load())
		if err != nil {
			return fmt.Errorf("truncate to %d: %w", offset, err)
		}
		if h.BaseOffset != offset {
			return fmt.Errorf("truncate to %d inside batch [%d, %d]: %w", offset, h.BaseOffset, h.LastOffset(), ErrNotBatchBoundary)
		}
		pos = p
	}
	return l.truncate(i, offset, pos)
}

// truncate drops everything from offset on, where offset is the batch at
// byte pos of segment i (pos 0 when offset is the segment's base). wmu held.
func (l *Log) truncate(i int, offset, pos int64) error {
	segs := l.mu.segments
	s := segs[i]
	keep := i + 1 // segments kept; s is cut at pos
	if offset == s.base {
		keep = i
	}
	if err := l.rp.store(min(l.rp.last, offset)); err != nil {
		return err
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	dropped := slices.Clone(segs[keep:])
	kept := slices.Clone(segs[:keep])
	if keep == i+1 {
		if err := l.cutSegmentLocked(s, offset, pos); err != nil {
			return err
		}
	}
	// Readers wait on mu while the files go: the list must not name them.
	l.mu.segments = kept
	errs := []error{l.removeSegments(dropped)}
	if n := len(kept); n == 0 || kept[n-1].sealed {
		if n > 0 && kept[n-1].size.Load() == 0 {
			panic(fmt.Sprintf("log: empty sealed segment %d kept by truncation", kept[n-1].base))
		}
		ns, err := openSegmentFiles(l.fsys, l.dir, offset, true, true, l.cfg.MaxIndexBytes)
		if err != nil {
			return errors.Join(append(errs, err)...)
		}
		ns.next.Store(offset)
		ns.dirty = true
		l.mu.segments = append(l.mu.segments, ns)
	}
	var size int64
	for _, s := range l.mu.segments {
		size += s.size.Load()
	}
	l.refreshPrefixMaxLocked()
	l.start.Store(l.mu.segments[0].base)
	l.size.Store(size)
	l.end.Store(offset)
	l.logger.Info("log truncated", "offset", offset)
	return errors.Join(errs...)
}

// cutSegmentLocked cuts s at pos, where offset starts. mu held exclusively,
// so no reader can take a new reference meanwhile.
func (l *Log) cutSegmentLocked(s *segment, offset, pos int64) error {
	if s.log.refs.Load() > 1 {
		if err := l.copyPrefix(s, pos); err != nil {
			return err
		}
	} else if err := s.log.f.Truncate(pos); err != nil {
		return fmt.Errorf("truncate segment %d: %w", s.base, err)
	}
	if v := s.log.verified.Load(); v > pos {
		s.log.verified.Store(pos)
	}
	writable := !s.sealed
	s.index.truncateFrom(offset, writable)
	s.timeIndex.truncateFrom(offset, writable)
	if s.sealed {
		if err := errors.Join(s.index.trim(), s.timeIndex.trim()); err != nil {
			return fmt.Errorf("truncate segment %d: %w", s.base, err)
		}
	}
	s.maxTs.Store(noTimestamp)
	s.dirty = true
	if _, _, err := l.scanSegment(s, pos, false); err != nil {
		return fmt.Errorf("truncate segment %d: %w", s.base, err)
	}
	return nil
}

// copyPrefix replaces s's log file by a copy of its first pos bytes, leaving
// the old file (unlinked) to the Chunks that hold it.
func (l *Log) copyPrefix(s *segment, pos int64) (err error) {
	path := segmentPath(l.dir, s.base, logSuffix)
	tmp := path + swapSuffix
	f, err := l.fsys.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("copy segment %d: %w", s.base, err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, f.Close(), l.fsys.Remove(tmp))
		}
	}()
	bp := copyBufPool.Get().(*[]byte)
	defer copyBufPool.Put(bp)
	buf := *bp
	for at := int64(0); at < pos; {
		n := int(min(int64(len(buf)), pos-at))
		if _, err := s.log.f.ReadAt(buf[:n], at); err != nil {
			return fmt.Errorf("copy segment %d: %w", s.base, err)
		}
		if _, err := f.WriteAt(buf[:n], at); err != nil {
			return fmt.Errorf("copy segment %d: %w", s.base, err)
		}
		at += int64(n)
	}
	if err := l.fsys.Rename(tmp, path); err != nil {
		return fmt.Errorf("copy segment %d: %w", s.base, err)
	}
	l.dirDirty = true
	old := s.log
	s.log = newLogFile(f, path)
	s.log.verified.Store(min(old.verified.Load(), pos))
	return old.release()
}

// Reset deletes every segment and starts an empty log at offset: StartOffset
// and EndOffset both become offset. A replica installing a snapshot uses it.
// Chunks already returned keep reading the deleted files. The directory
// change and the recovery point are made durable before Reset returns.
func (l *Log) Reset(offset int64) error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if l.closed.Load() {
		return ErrClosed
	}
	if offset < 0 || offset > maxOffset {
		return fmt.Errorf("reset to %d: %w", offset, ErrOffsetOutOfRange)
	}
	l.mu.Lock()
	old := l.mu.segments
	l.mu.segments = nil
	err := l.removeSegments(old)
	s, oerr := openSegmentFiles(l.fsys, l.dir, offset, true, true, l.cfg.MaxIndexBytes)
	if oerr != nil {
		// Keep the log usable for reads of nothing: there is no segment to
		// hold; fail every later call.
		l.closed.Store(true)
		l.mu.Unlock()
		return fmt.Errorf("reset to %d: %w", offset, errors.Join(err, oerr))
	}
	s.next.Store(offset)
	s.dirty = true
	l.mu.segments = []*segment{s}
	l.refreshPrefixMaxLocked()
	l.start.Store(offset)
	l.end.Store(offset)
	l.size.Store(0)
	l.mu.Unlock()
	if err != nil {
		return fmt.Errorf("reset to %d: %w", offset, err)
	}
	if err := l.fsys.SyncDir(l.dir); err != nil {
		return fmt.Errorf("reset to %d: %w", offset, err)
	}
	l.dirDirty = false
	l.logger.Info("log reset", "offset", offset)
	return l.rp.store(offset)
}
