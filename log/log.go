package log

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"sync"
	"sync/atomic"
)

// Log is one partition's segmented log. See the package documentation for
// the concurrency contract: one writer, any number of readers.
type Log struct {
	dir    string
	cfg    Config // with defaults applied
	fsys   FS
	logger *slog.Logger

	// wmu serialises the writer methods (Append, AppendRaw, Roll, MaybeRoll,
	// ApplyRetention, TruncateTo, TruncateCorrupt, Reset, Sync, Close).
	// Callers are expected to call them from one goroutine at a time; the
	// mutex makes misuse safe, not fast.
	wmu sync.Mutex
	// Guarded by wmu.
	dirDirty bool // files were created, removed or renamed since SyncDir
	rp       *recoveryPoint

	// mu guards the segment list. Readers hold it shared while they find a
	// segment and search its indexes; the writer holds it exclusively while
	// it changes the list (roll, retention, truncation, reset, close).
	// Append takes neither side: it publishes through atomics.
	mu struct {
		sync.RWMutex
		segments []*segment // sorted by base offset; the last one is active
	}

	maxBatch atomic.Int64 // cfg.MaxBatchBytes, for readers outside wmu
	start    atomic.Int64 // published: first offset held
	end      atomic.Int64 // published after the segment's size: next offset to assign
	size     atomic.Int64 // published: bytes of all .log files
	closed   atomic.Bool

	recovery Recovery // what Open found; set before Open returns
}

// AppendInfo describes what an append added.
type AppendInfo struct {
	FirstOffset  int64 // base offset of the first batch appended
	LastOffset   int64 // last offset of the last batch appended
	MaxTimestamp int64 // largest batch MaxTimestamp
	Batches      int
	Records      int
	Bytes        int
}

// SegmentInfo describes one segment.
type SegmentInfo struct {
	BaseOffset   int64
	NextOffset   int64 // offset after its last batch
	Size         int64 // bytes in its .log file
	Sealed       bool  // false for the active segment only
	MaxTimestamp int64 // largest batch MaxTimestamp, math.MinInt64 if empty
	IndexEntries int64
}

// StartOffset is the first offset in the log (the log start offset).
func (l *Log) StartOffset() int64 { return l.start.Load() }

// EndOffset is the offset the next appended record gets (the log end
// offset). Every offset below it is readable once this returns it.
func (l *Log) EndOffset() int64 { return l.end.Load() }

// Size is the number of bytes of all .log files.
func (l *Log) Size() int64 { return l.size.Load() }

// Dir is the partition directory.
func (l *Log) Dir() string { return l.dir }

// Segments describes the segments, oldest first.
func (l *Log) Segments() []SegmentInfo {
	l.mu.RLock()
	defer l.mu.RUnlock()
	out := make([]SegmentInfo, 0, len(l.mu.segments))
	for i, s := range l.mu.segments {
		out = append(out, SegmentInfo{
			BaseOffset:   s.base,
			NextOffset:   s.next.Load(),
			Size:         s.size.Load(),
			Sealed:       i < len(l.mu.segments)-1, // s.sealed is the writer's
			MaxTimestamp: s.maxTs.Load(),
			IndexEntries: s.index.entries(),
		})
	}
	return out
}

// active returns the active segment. Writer only.
func (l *Log) active() *segment { return l.mu.segments[len(l.mu.segments)-1] }

// Append validates batches, a concatenation of one or more Kafka v2 record
// batches, in full and appends them, numbering their offsets from EndOffset.
//
// It rewrites, in the caller's buffer, each batch's baseOffset (to the
// offsets assigned) and partitionLeaderEpoch (to leaderEpoch); both lie
// outside the CRC, which stays valid. batches is not kept after the call.
// If any batch is invalid nothing is written or rewritten, and the error is
// a *BatchError wrapping ErrCorrupt or ErrBatchTooLarge. The active segment
// rolls first if the append would take it past MaxSegmentBytes.
func (l *Log) Append(batches []byte, leaderEpoch int32) (AppendInfo, error) {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if l.closed.Load() {
		return AppendInfo{}, ErrClosed
	}
	sum, err := ValidateBatches(batches, l.cfg.MaxBatchBytes)
	if err != nil {
		return AppendInfo{}, err
	}
	if err := l.checkAppendSize(len(batches)); err != nil {
		return AppendInfo{}, err
	}
	first := l.end.Load()
	if first > maxOffset-sum.OffsetCount {
		return AppendInfo{}, fmt.Errorf("append at %d: %w: offsets would overflow", first, ErrOffsetOutOfRange)
	}
	rewriteBatches(batches, first, leaderEpoch)
	return l.appendValidated(batches, first, sum)
}

// AppendRaw appends batches that already carry their final offsets, as a
// replica copying a peer's log does: it validates them in full like Append,
// requires the first base offset to be EndOffset and every batch to follow
// the previous one (else ErrOffsetMismatch), and changes nothing in them.
func (l *Log) AppendRaw(batches []byte) (AppendInfo, error) {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if l.closed.Load() {
		return AppendInfo{}, ErrClosed
	}
	sum, err := ValidateBatches(batches, l.cfg.MaxBatchBytes)
	if err != nil {
		return AppendInfo{}, err
	}
	if err := l.checkAppendSize(len(batches)); err != nil {
		return AppendInfo{}, err
	}
	first := l.end.Load()
	if sum.FirstOffset != first || !sum.Contiguous {
		return AppendInfo{}, fmt.Errorf("append raw at %d: first base offset %d, contiguous %t: %w",
			first, sum.FirstOffset, sum.Contiguous, ErrOffsetMismatch)
	}
	return l.appendValidated(batches, first, sum)
}

func (l *Log) checkAppendSize(n int) error {
	if int64(n) > math.MaxInt32 {
		return &BatchError{Err: fmt.Errorf("%w: append of %d bytes", ErrBatchTooLarge, n)}
	}
	return nil
}

// appendValidated writes batches whose offsets start at first. wmu held.
func (l *Log) appendValidated(batches []byte, first int64, sum BatchSummary) (AppendInfo, error) {
	n := int64(len(batches))
	last := first + sum.OffsetCount - 1
	if s := l.active(); s.size.Load() > 0 &&
		(s.size.Load()+n > l.cfg.MaxSegmentBytes || last-s.base > maxRelOffset || s.indexFull(n, l.cfg.IndexIntervalBytes)) {
		if err := l.roll(); err != nil {
			return AppendInfo{}, err
		}
	}
	s := l.active()
	if err := s.append(batches, l.cfg.IndexIntervalBytes, l.cfg.Now); err != nil {
		return AppendInfo{}, err
	}
	l.size.Add(n)
	l.end.Store(last + 1)
	return AppendInfo{
		FirstOffset:  first,
		LastOffset:   last,
		MaxTimestamp: sum.MaxTimestamp,
		Batches:      sum.Batches,
		Records:      sum.Records,
		Bytes:        len(batches),
	}, nil
}

// Roll seals the active segment and starts a new one at EndOffset. It does
// nothing when the active segment is empty.
func (l *Log) Roll() error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if l.closed.Load() {
		return ErrClosed
	}
	if l.active().size.Load() == 0 {
		return nil
	}
	return l.roll()
}

// MaybeRoll rolls the active segment if it received its first batch more
// than MaxSegmentAge ago. The owner calls it periodically; the log has no
// timers of its own.
func (l *Log) MaybeRoll() error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if l.closed.Load() {
		return ErrClosed
	}
	s := l.active()
	if s.size.Load() == 0 || l.cfg.Now().Sub(s.rollAt) < l.cfg.MaxSegmentAge {
		return nil
	}
	return l.roll()
}

// roll seals the active segment and appends a fresh one. wmu held.
func (l *Log) roll() error {
	old := l.active()
	if err := old.seal(); err != nil {
		return err
	}
	s, err := openSegmentFiles(l.fsys, l.dir, l.end.Load(), true, true, l.cfg.MaxIndexBytes)
	if err != nil {
		return err
	}
	s.next.Store(s.base)
	s.dirty = true
	l.dirDirty = true
	l.mu.Lock()
	l.mu.segments = append(l.mu.segments, s)
	l.refreshPrefixMaxLocked()
	l.mu.Unlock()
	l.logger.Debug("segment rolled", "offset", s.base)
	return nil
}

// refreshPrefixMaxLocked recomputes the running timestamp maxima of the
// sealed segments that OffsetForTimestamp binary-searches. mu held.
func (l *Log) refreshPrefixMaxLocked() {
	m := int64(noTimestamp)
	for _, s := range l.mu.segments {
		m = max(m, s.maxTs.Load())
		s.prefixMaxTs = m
	}
}

// findSegmentLocked returns the index of the segment holding offset: the
// last one whose base is at most offset. mu held (either side).
func (l *Log) findSegmentLocked(offset int64) int {
	segs := l.mu.segments
	return sort.Search(len(segs), func(i int) bool { return segs[i].base > offset }) - 1
}

// Sync makes everything appended so far durable: each segment changed since
// the last Sync (log file, then its indexes), the directory, then the
// recovery point. The log never syncs on its own otherwise.
func (l *Log) Sync() error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if l.closed.Load() {
		return ErrClosed
	}
	return l.sync()
}

func (l *Log) sync() error {
	for _, s := range l.mu.segments {
		if err := s.sync(); err != nil {
			return err
		}
	}
	if l.dirDirty {
		if err := l.fsys.SyncDir(l.dir); err != nil {
			return fmt.Errorf("sync dir: %w", err)
		}
		l.dirDirty = false
	}
	return l.rp.store(l.end.Load())
}

// Close syncs, trims the active indexes, writes the clean-shutdown marker
// and releases the files. Chunks still open keep their files until they are
// closed. Later calls return ErrClosed.
func (l *Log) Close() error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if l.closed.Load() {
		return ErrClosed
	}
	err := l.sync()
	if err == nil {
		err = l.writeCleanMarker()
	}
	l.mu.Lock()
	l.closed.Store(true)
	segs := l.mu.segments
	l.mu.segments = nil
	l.mu.Unlock()
	errs := []error{err, l.rp.close()}
	for _, s := range segs {
		errs = append(errs, s.close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close log %s: %w", l.dir, err)
	}
	return nil
}
