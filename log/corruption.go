package log

import (
	"errors"
	"fmt"
)

// Recovery describes what Open found, so that the owner can tell a crash
// that lost unsynced writes (expected) from damage to synced data (a corrupt
// or truncated segment, which its replica must repair from a healthy copy).
type Recovery struct {
	// Clean reports that the log was closed cleanly before this Open.
	Clean bool
	// RecoveryPoint is the log end offset at the last Sync before this
	// Open, -1 when the recovery point was missing or unreadable.
	RecoveryPoint int64
	// EndOffset is the log end offset Open recovered.
	EndOffset int64
}

// LostSynced reports whether Open cut away batches that had been synced:
// everything below the recovery point was durable, so losing any of it
// means a segment was corrupted or truncated behind the log's back.
func (r Recovery) LostSynced() bool { return r.RecoveryPoint > r.EndOffset }

// Recovery returns what Open found.
func (l *Log) Recovery() Recovery { return l.recovery }

// TruncateCorrupt checks in full the segment holding offset, from its first
// batch to its end (length, magic, CRC-32C, contiguous offsets, and that
// every offset index entry names a batch), and when it is damaged truncates
// the log at the damage: at its first invalid batch, or at the segment's
// base when its batches are sound but its index is not (the index is
// rebuilt by appending again). Everything after the cut, including every
// later segment, is dropped as by TruncateTo: Chunks already returned keep
// reading the old bytes, the recovery point is lowered at once, and the cut
// is durable after the next Sync.
//
// It returns the log end offset after the call and whether it truncated; a
// sound segment is left alone. offset must be in [StartOffset, EndOffset)
// (else ErrOffsetOutOfRange). The owner calls it when a read reports
// ErrCorrupt, then appends the lost batches again from a healthy copy with
// AppendRaw. It is a writer method (see the package documentation).
func (l *Log) TruncateCorrupt(offset int64) (end int64, truncated bool, err error) {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if l.closed.Load() {
		return 0, false, ErrClosed
	}
	start, end := l.start.Load(), l.end.Load()
	if offset < start || offset >= end {
		return end, false, fmt.Errorf("check at %d, log holds [%d, %d): %w", offset, start, end, ErrOffsetOutOfRange)
	}
	i := l.findSegmentLocked(offset)
	s := l.mu.segments[i]
	size := s.size.Load()
	next := s.base
	k, entries := int64(0), s.index.entries()
	indexBad := false
	valid, scanErr := scanBatches(s.log.f, 0, size, s.base, func(h *BatchHeader, pos int64) {
		next = h.LastOffset() + 1
		for ; k < entries && !indexBad; k++ {
			o, p := s.index.at(k)
			if p > pos {
				break
			}
			indexBad = p < pos || o != h.LastOffset()
		}
	})
	switch {
	case scanErr != nil && !errors.Is(scanErr, ErrCorrupt):
		return end, false, fmt.Errorf("check segment %d: %w", s.base, scanErr)
	case scanErr == nil && k == entries && !indexBad:
		return end, false, nil
	case scanErr == nil:
		// Sound batches, unsound index: drop the segment, so that appending
		// its batches again writes a correct one.
		l.logger.Warn("segment index corrupt, truncating the log at the segment",
			"offset", s.base, "segment", s.base)
		next, valid = s.base, 0
	default:
		l.logger.Warn("segment corrupt, truncating the log at the first invalid batch",
			"offset", next, "segment", s.base, "position", valid, "size", size, "err", scanErr)
	}
	if err := l.truncate(i, next, valid); err != nil {
		return l.end.Load(), true, fmt.Errorf("truncate corrupt segment %d at %d: %w", s.base, next, err)
	}
	return next, true, nil
}
