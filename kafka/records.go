package kafka

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/cairnlog/cairn/log"
)

// The records inside a v2 batch, after the 61-byte header (and after
// inflation when the batch is compressed), each:
//
//	length          varint  bytes after this field
//	attributes      int8    unused
//	timestampDelta  varlong from the batch's first timestamp
//	offsetDelta     varint  from the batch's base offset: 0, 1, 2, ...
//	keyLength       varint  -1: null key
//	key             bytes
//	valueLength     varint  -1: null value
//	value           bytes
//	headerCount     varint
//	headers         | keyLength varint (>= 0) | key | valueLength varint | value |
//
// Varints are zigzag-encoded (binary.Varint).

// record is what walkRecords reports of each record.
type record struct {
	TimestampDelta int64
	OffsetDelta    int32
}

// walkRecords checks that recs holds exactly count well-formed records whose
// offset deltas are 0..count-1, calling fn (if not nil) for each until fn
// returns false. Errors wrap log.ErrCorrupt.
func walkRecords(recs []byte, count int32, fn func(record) bool) error {
	var i int32
	for len(recs) > 0 {
		if i == count {
			return fmt.Errorf("%w: bytes after the %d records the header counts", log.ErrCorrupt, count)
		}
		length, n := binary.Varint(recs)
		if n <= 0 || length < 0 || length > int64(len(recs)-n) {
			return fmt.Errorf("%w: record %d: bad length", log.ErrCorrupt, i)
		}
		r, err := parseRecord(recs[n : n+int(length)])
		if err != nil {
			return fmt.Errorf("%w: record %d: %v", log.ErrCorrupt, i, err)
		}
		if r.OffsetDelta != i {
			return fmt.Errorf("%w: record %d has offset delta %d", log.ErrCorrupt, i, r.OffsetDelta)
		}
		if fn != nil && !fn(r) {
			return nil
		}
		recs = recs[n+int(length):]
		i++
	}
	if i != count {
		return fmt.Errorf("%w: %d records, header counts %d", log.ErrCorrupt, i, count)
	}
	return nil
}

// parseRecord checks one record body (after its length) and returns its
// deltas.
func parseRecord(b []byte) (record, error) {
	var r record
	if len(b) < 1 {
		return r, fmt.Errorf("empty")
	}
	b = b[1:] // attributes
	ts, n := binary.Varint(b)
	if n <= 0 {
		return r, fmt.Errorf("bad timestamp delta")
	}
	r.TimestampDelta, b = ts, b[n:]
	od, n := binary.Varint(b)
	if n <= 0 || od < 0 || od > math.MaxInt32 {
		return r, fmt.Errorf("bad offset delta")
	}
	r.OffsetDelta, b = int32(od), b[n:]
	var err error
	if b, err = skipBytes(b, true); err != nil { // key
		return r, err
	}
	if b, err = skipBytes(b, true); err != nil { // value
		return r, err
	}
	headers, n := binary.Varint(b)
	if n <= 0 || headers < 0 || headers > int64(len(b)) {
		return r, fmt.Errorf("bad header count")
	}
	b = b[n:]
	for range headers {
		if b, err = skipBytes(b, false); err != nil {
			return r, err
		}
		if b, err = skipBytes(b, true); err != nil {
			return r, err
		}
	}
	if len(b) != 0 {
		return r, fmt.Errorf("%d bytes after the headers", len(b))
	}
	return r, nil
}

// skipBytes skips a varint-length-prefixed byte string; -1 (null) is
// allowed when nullable.
func skipBytes(b []byte, nullable bool) ([]byte, error) {
	l, n := binary.Varint(b)
	switch {
	case n <= 0:
		return nil, fmt.Errorf("bad length")
	case l == -1 && nullable:
		return b[n:], nil
	case l < 0 || l > int64(len(b)-n):
		return nil, fmt.Errorf("length %d out of range", l)
	}
	return b[n+int(l):], nil
}

// batchRecords returns the records section of the whole batch b (header
// h), inflated into buf when it is compressed, with at most limit bytes.
func (h *Handler) batchRecords(buf, b []byte, hd log.BatchHeader, limit int) ([]byte, error) {
	recs := b[log.BatchHeaderSize:hd.Size()]
	if hd.Compression() == codecNone {
		return recs, nil
	}
	return h.inflate.inflate(buf[:0], hd.Compression(), recs, limit)
}

// checkProduceBatches checks what partition.Propose does not: that every
// batch's record count and offset deltas match its records, inflating
// compressed batches to at most limit bytes. Structure and CRCs are
// checked first (log.ValidateBatches), so a corrupt batch is never
// inflated. Errors wrap log.ErrCorrupt or log.ErrBatchTooLarge.
func (h *Handler) checkProduceBatches(batches []byte, limit int) error {
	if _, err := log.ValidateBatches(batches, limit); err != nil {
		return err
	}
	var buf []byte
	for i, rest := 0, batches; len(rest) > 0; i++ {
		hd, err := log.ParseBatchHeader(rest)
		if err != nil {
			return err
		}
		recs, err := h.batchRecords(buf, rest, hd, limit)
		if err != nil {
			return fmt.Errorf("batch %d: %w", i, err)
		}
		if hd.Compression() != codecNone {
			buf = recs
		}
		if err := walkRecords(recs, hd.NumRecords, nil); err != nil {
			return fmt.Errorf("batch %d: %w", i, err)
		}
		rest = rest[hd.Size():]
	}
	return nil
}

// countRecords counts the records of well-formed batches (as checked by
// log.ValidateBatches, or read from a log) from their headers; it stops at
// the first header it cannot parse.
func countRecords(batches []byte) int {
	n := 0
	for len(batches) >= log.BatchHeaderSize {
		hd, err := log.ParseBatchHeader(batches)
		if err != nil || hd.Size() > len(batches) {
			break
		}
		n += int(hd.NumRecords)
		batches = batches[hd.Size():]
	}
	return n
}
