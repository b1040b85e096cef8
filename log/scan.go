package log

import (
	"bufio"
	"errors"
	"hash/crc32"
	"io"
	"sync"
)

// headerWindow is a read-ahead buffer for header walks: one pread serves
// every header within it, so walking the few small batches between two
// index entries costs one system call rather than one per batch.
type headerWindow struct {
	buf        [8 << 10]byte
	start, end int64 // file range held in buf[:end-start]
}

var headerWindowPool = sync.Pool{New: func() any { return new(headerWindow) }}

// readHeader returns the checked header of the batch at pos, which must end
// at or before end.
func (w *headerWindow) readHeader(f File, pos, end int64) (BatchHeader, error) {
	if end-pos < BatchHeaderSize {
		return BatchHeader{}, corruptf("header at %d truncated by end %d", pos, end)
	}
	if pos < w.start || pos+BatchHeaderSize > w.end {
		n := min(int64(len(w.buf)), end-pos)
		m, err := f.ReadAt(w.buf[:n], pos)
		if m < BatchHeaderSize {
			w.start, w.end = 0, 0
			if err == nil || errors.Is(err, io.EOF) {
				return BatchHeader{}, corruptf("header at %d past end of file", pos)
			}
			return BatchHeader{}, err
		}
		w.start, w.end = pos, pos+int64(m)
	}
	h := decodeHeader(w.buf[pos-w.start:])
	if err := checkHeader(&h); err != nil {
		return h, err
	}
	if pos+int64(h.Size()) > end {
		return h, corruptf("batch at %d of %d bytes runs past %d", pos, h.Size(), end)
	}
	return h, nil
}

// walkHeaders calls fn for the header of each batch from pos on, reading
// only headers, until fn returns false or the walk reaches end. expect is
// the base offset the first batch must have, or -1; each later batch must
// start right after the previous one. It returns the position where it
// stopped. Errors wrap ErrCorrupt, or are I/O errors.
func walkHeaders(f File, pos, end, expect int64, fn func(h *BatchHeader, pos int64) bool) (int64, error) {
	w := headerWindowPool.Get().(*headerWindow)
	w.start, w.end = 0, 0
	defer headerWindowPool.Put(w)
	for pos < end {
		h, err := w.readHeader(f, pos, end)
		if err != nil {
			return pos, err
		}
		if expect >= 0 && h.BaseOffset != expect {
			return pos, corruptf("batch at %d has base offset %d, want %d", pos, h.BaseOffset, expect)
		}
		if !fn(&h, pos) {
			return pos, nil
		}
		expect = h.LastOffset() + 1
		pos += int64(h.Size())
	}
	return pos, nil
}

// scanBufSize is the read-ahead of a full scan. Batches larger than it are
// checksummed piecewise, so memory never depends on a length read from disk.
const scanBufSize = 256 << 10

var scanReaderPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, scanBufSize) }}

// scanBatches reads [pos, end) of f sequentially and checks every batch in
// full: header, CRC-32C, and offsets continuing from expect (or from the
// first batch when expect is -1). fn, if not nil, sees each good batch. It
// returns the position after the last good batch and, if that is not end,
// why: an error wrapping ErrCorrupt (including a batch cut short by end),
// or an I/O error.
func scanBatches(f File, pos, end, expect int64, fn func(h *BatchHeader, pos int64)) (int64, error) {
	br := scanReaderPool.Get().(*bufio.Reader)
	br.Reset(io.NewSectionReader(f, pos, end-pos))
	defer func() {
		br.Reset(nil)
		scanReaderPool.Put(br)
	}()
	for pos < end {
		hb, err := br.Peek(BatchHeaderSize)
		if err != nil {
			return pos, truncatedOr(err, pos)
		}
		h := decodeHeader(hb)
		if err := checkHeader(&h); err != nil {
			return pos, err
		}
		if expect >= 0 && h.BaseOffset != expect {
			return pos, corruptf("batch at %d has base offset %d, want %d", pos, h.BaseOffset, expect)
		}
		size := int64(h.Size())
		if pos+size > end {
			return pos, corruptf("batch at %d of %d bytes runs past %d", pos, size, end)
		}
		crc := crc32.Update(0, castagnoli, hb[crcStart:])
		if _, err := br.Discard(BatchHeaderSize); err != nil {
			return pos, truncatedOr(err, pos)
		}
		for rem := size - BatchHeaderSize; rem > 0; {
			n := int(min(rem, int64(br.Size())))
			b, err := br.Peek(n)
			if err != nil {
				return pos, truncatedOr(err, pos)
			}
			crc = crc32.Update(crc, castagnoli, b)
			if _, err := br.Discard(n); err != nil {
				return pos, truncatedOr(err, pos)
			}
			rem -= int64(n)
		}
		if crc != h.CRC {
			return pos, corruptf("batch at %d: crc %#08x, computed %#08x", pos, h.CRC, crc)
		}
		if fn != nil {
			fn(&h, pos)
		}
		expect = h.LastOffset() + 1
		pos += size
	}
	return pos, nil
}

func truncatedOr(err error, pos int64) error {
	if errors.Is(err, io.EOF) {
		return corruptf("batch at %d truncated", pos)
	}
	return err
}

// ensureVerified checks in full the batches in [pos, end) of the file
// before they are served, unless the verified prefix covers them; expect is
// the base offset of the batch at pos. A check that continues the verified
// prefix extends it, so each byte is checked once per open, not per read.
func (lf *logFile) ensureVerified(pos, end, expect int64) error {
	v := lf.verified.Load()
	if end <= v {
		return nil
	}
	from := pos
	if v > pos {
		from, expect = v, -1
	}
	stop, err := scanBatches(lf.f, from, end, expect, nil)
	if err == nil && stop != end {
		err = corruptf("range [%d, %d) does not end on a batch", from, end)
	}
	if err != nil {
		return err
	}
	if from == v {
		lf.verified.CompareAndSwap(v, end)
	}
	return nil
}
