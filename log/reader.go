package log

import (
	"fmt"
	"math"
	"sort"
)

// Read returns the batches from the one holding offset on, whole, at most
// maxBytes of them, except that the first batch is returned whole even if it
// is larger (Kafka fetch semantics, so that a consumer always progresses).
// A chunk never spans two segments: callers continue at NextOffset.
//
// offset must be in [StartOffset, EndOffset]; EndOffset returns an empty
// chunk, anything else outside is ErrOffsetOutOfRange. The caller must Close
// the chunk. Structural damage found on the way is an error wrapping
// ErrCorrupt, and the chunk's own reads check CRCs before serving bytes.
// Safe to call concurrently with everything.
func (l *Log) Read(offset int64, maxBytes int) (*Chunk, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed.Load() {
		return nil, ErrClosed
	}
	end := l.end.Load()
	start := l.start.Load()
	if offset == end {
		return &Chunk{first: end, next: end}, nil
	}
	if offset < start || offset > end {
		return nil, fmt.Errorf("read at %d, log holds [%d, %d): %w", offset, start, end, ErrOffsetOutOfRange)
	}
	i := l.findSegmentLocked(offset)
	if i < 0 {
		return nil, fmt.Errorf("read at %d: %w", offset, ErrOffsetOutOfRange)
	}
	s := l.mu.segments[i]
	size := s.size.Load() // loaded after end: covers every offset below end
	pos, first, err := s.locate(offset, size)
	if err != nil {
		return nil, fmt.Errorf("read at %d in segment %d: %w", offset, s.base, err)
	}
	chunkEnd, next, err := s.chunkEnd(first, pos, size, maxBytes)
	if err != nil {
		return nil, fmt.Errorf("read at %d in segment %d: %w", offset, s.base, err)
	}
	s.log.acquire()
	return &Chunk{lf: s.log, pos: pos, n: chunkEnd - pos, first: first.BaseOffset, next: next}, nil
}

// locate finds the batch holding offset among the first size bytes of s.
func (s *segment) locate(offset, size int64) (int64, BatchHeader, error) {
	from, expect, expectLast := int64(0), s.base, int64(-1)
	if o, p, ok := s.index.lookup(offset); ok {
		from, expect, expectLast = p, -1, o
	}
	var found BatchHeader
	var at int64 = -1
	var mismatch bool
	_, err := walkHeaders(s.log.f, from, size, expect, func(h *BatchHeader, pos int64) bool {
		if expectLast >= 0 {
			if h.LastOffset() != expectLast {
				mismatch = true
				return false
			}
			expectLast = -1
		}
		if h.LastOffset() >= offset {
			found, at = *h, pos
			return false
		}
		return true
	})
	switch {
	case err != nil:
		return 0, found, err
	case mismatch:
		return 0, found, corruptf("index entry at %d does not match its batch", from)
	case at < 0:
		return 0, found, corruptf("offset %d not found before byte %d", offset, size)
	case found.BaseOffset > offset:
		return 0, found, corruptf("offset %d missing: next batch starts at %d", offset, found.BaseOffset)
	}
	return at, found, nil
}

// chunkEnd returns where a read starting with batch first at pos ends, and
// the offset after it: whole batches up to maxBytes, at least first.
func (s *segment) chunkEnd(first BatchHeader, pos, size int64, maxBytes int) (end, next int64, err error) {
	end, next = pos+int64(first.Size()), first.LastOffset()+1
	limit := pos + int64(max(maxBytes, 0))
	if limit < 0 { // overflow
		limit = math.MaxInt64
	}
	limit = min(limit, size)
	if end >= limit {
		return end, next, nil
	}
	from, expect := end, next
	jumped, entryOffset := false, int64(0)
	if o, p, ok := s.index.lookupPos(limit); ok && p > from {
		from, expect, jumped, entryOffset = p, -1, true, o
	}
	var bad error
	_, err = walkHeaders(s.log.f, from, size, expect, func(h *BatchHeader, p int64) bool {
		if jumped {
			// The batches before from fit: resume the count here, once the
			// entry proves to name this batch and to lie after the first.
			if h.LastOffset() != entryOffset || h.BaseOffset < next {
				bad = corruptf("index entry (%d, %d) does not match its batch", entryOffset, p)
				return false
			}
			end, next, jumped = p, h.BaseOffset, false
		}
		if p+int64(h.Size()) > limit {
			return false
		}
		end, next = p+int64(h.Size()), h.LastOffset()+1
		return true
	})
	if err == nil {
		err = bad
	}
	if err != nil {
		return 0, 0, err
	}
	return end, next, nil
}

// OffsetForTimestamp returns the base offset of the first batch whose
// MaxTimestamp is at least ts (milliseconds), or ErrNotFound when there is
// none. It finds the segment by binary search over running maxima kept in
// memory, then uses that segment's time and offset indexes.
func (l *Log) OffsetForTimestamp(ts int64) (int64, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed.Load() {
		return 0, ErrClosed
	}
	segs := l.mu.segments
	last := len(segs) - 1
	// The active segment's maximum is published after its size: load it first.
	activeMax := segs[last].maxTs.Load()
	i := sort.Search(len(segs), func(i int) bool {
		if i == last {
			return max(activeMax, segs[i].prefixMaxTs) >= ts
		}
		return segs[i].prefixMaxTs >= ts
	})
	for ; i < len(segs); i++ {
		s := segs[i]
		offset, ok, err := s.findTimestamp(ts, s.size.Load())
		if err != nil {
			return 0, fmt.Errorf("offset for timestamp %d in segment %d: %w", ts, s.base, err)
		}
		if ok {
			return offset, nil
		}
	}
	return 0, fmt.Errorf("offset for timestamp %d: %w", ts, ErrNotFound)
}

// findTimestamp returns the base offset of the segment's first batch with
// MaxTimestamp >= ts among its first size bytes.
func (s *segment) findTimestamp(ts, size int64) (int64, bool, error) {
	from, expect := int64(0), s.base
	if _, o, ok := s.timeIndex.lookupBefore(ts); ok {
		// Every batch up to o is older than ts; start at o's batch.
		if _, p, ok := s.index.lookup(o); ok {
			from, expect = p, -1
		}
	}
	var offset int64
	found := false
	_, err := walkHeaders(s.log.f, from, size, expect, func(h *BatchHeader, _ int64) bool {
		if h.MaxTimestamp >= ts {
			offset, found = h.BaseOffset, true
			return false
		}
		return true
	})
	return offset, found, err
}
