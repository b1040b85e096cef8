package log

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// Byte layout of a v2 record batch header; see doc.go for the drawing.
const (
	offBaseOffset      = 0
	offLength          = 8
	offLeaderEpoch     = 12
	offMagic           = 16
	offCRC             = 17
	offAttributes      = 21
	offLastOffsetDelta = 23
	offFirstTimestamp  = 27
	offMaxTimestamp    = 35
	offProducerID      = 43
	offProducerEpoch   = 51
	offBaseSequence    = 53
	offNumRecords      = 57

	// BatchHeaderSize is the size of a v2 batch header, records excluded.
	BatchHeaderSize = 61
	// batchLogOverhead is the part of the header before and including Length;
	// Length counts every byte after it.
	batchLogOverhead = 12
	// minBatchLength is the smallest valid Length: a header with no records.
	minBatchLength = BatchHeaderSize - batchLogOverhead
	// crcStart is where the CRC-32C coverage starts (attributes .. end).
	crcStart = offAttributes

	batchMagic = 2
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// BatchHeader is the decoded 61-byte header of a Kafka v2 record batch.
type BatchHeader struct {
	BaseOffset           int64
	Length               int32 // bytes after the Length field
	PartitionLeaderEpoch int32
	Magic                int8
	CRC                  uint32 // CRC-32C of attributes .. end of batch
	Attributes           int16
	LastOffsetDelta      int32
	FirstTimestamp       int64 // milliseconds
	MaxTimestamp         int64 // milliseconds
	ProducerID           int64
	ProducerEpoch        int16
	BaseSequence         int32
	NumRecords           int32
}

// Size is the number of bytes the batch occupies: 12 + Length.
func (h BatchHeader) Size() int { return batchLogOverhead + int(h.Length) }

// LastOffset is the offset of the batch's last record.
func (h BatchHeader) LastOffset() int64 { return h.BaseOffset + int64(h.LastOffsetDelta) }

// Compression is the codec in attribute bits 0-2: 0 none, 1 gzip, 2 snappy,
// 3 lz4, 4 zstd.
func (h BatchHeader) Compression() int { return int(h.Attributes & 0x7) }

// Transactional reports attribute bit 4.
func (h BatchHeader) Transactional() bool { return h.Attributes&0x10 != 0 }

// Control reports attribute bit 5 (a transaction marker batch).
func (h BatchHeader) Control() bool { return h.Attributes&0x20 != 0 }

// ParseBatchHeader decodes the header at the start of b and checks what can
// be checked without the records: b holds at least BatchHeaderSize bytes,
// Length covers at least the header, magic is 2, and the record count is
// LastOffsetDelta+1. It does not check the CRC or that b holds the whole
// batch; ValidateBatches does. Errors wrap ErrCorrupt.
func ParseBatchHeader(b []byte) (BatchHeader, error) {
	if len(b) < BatchHeaderSize {
		return BatchHeader{}, corruptf("header truncated: %d of %d bytes", len(b), BatchHeaderSize)
	}
	h := decodeHeader(b)
	return h, checkHeader(&h)
}

// decodeHeader decodes without checking; b holds at least BatchHeaderSize bytes.
func decodeHeader(b []byte) BatchHeader {
	_ = b[BatchHeaderSize-1]
	be := binary.BigEndian
	return BatchHeader{
		BaseOffset:           int64(be.Uint64(b[offBaseOffset:])),
		Length:               int32(be.Uint32(b[offLength:])),
		PartitionLeaderEpoch: int32(be.Uint32(b[offLeaderEpoch:])),
		Magic:                int8(b[offMagic]),
		CRC:                  be.Uint32(b[offCRC:]),
		Attributes:           int16(be.Uint16(b[offAttributes:])),
		LastOffsetDelta:      int32(be.Uint32(b[offLastOffsetDelta:])),
		FirstTimestamp:       int64(be.Uint64(b[offFirstTimestamp:])),
		MaxTimestamp:         int64(be.Uint64(b[offMaxTimestamp:])),
		ProducerID:           int64(be.Uint64(b[offProducerID:])),
		ProducerEpoch:        int16(be.Uint16(b[offProducerEpoch:])),
		BaseSequence:         int32(be.Uint32(b[offBaseSequence:])),
		NumRecords:           int32(be.Uint32(b[offNumRecords:])),
	}
}

// checkHeader checks the fields of a decoded header that need no records.
func checkHeader(h *BatchHeader) error {
	switch {
	case h.Length < minBatchLength:
		return corruptf("length %d below the header size", h.Length)
	case h.Magic != batchMagic:
		return corruptf("magic %d, want %d", h.Magic, batchMagic)
	case h.LastOffsetDelta < 0:
		return corruptf("negative last offset delta %d", h.LastOffsetDelta)
	case h.NumRecords != h.LastOffsetDelta+1:
		return corruptf("record count %d, last offset delta %d", h.NumRecords, h.LastOffsetDelta)
	case h.BaseOffset < 0 || h.BaseOffset > maxOffset-int64(h.LastOffsetDelta):
		return corruptf("base offset %d out of range", h.BaseOffset)
	}
	return nil
}

// maxOffset bounds offsets so that offset arithmetic never overflows.
const maxOffset = 1<<62 - 1

// batchCRC computes the CRC-32C a whole batch b should carry.
func batchCRC(b []byte) uint32 { return crc32.Checksum(b[crcStart:], castagnoli) }

// BatchSummary describes a validated concatenation of batches.
type BatchSummary struct {
	Batches      int
	Records      int
	Bytes        int
	FirstOffset  int64 // BaseOffset of the first batch as found in the input
	LastOffset   int64 // LastOffset of the last batch as found in the input
	OffsetCount  int64 // sum of LastOffsetDelta+1: offsets the input occupies
	MaxTimestamp int64 // largest MaxTimestamp; -1 when there are no batches
	Contiguous   bool  // each batch's BaseOffset follows the previous LastOffset
}

// ValidateBatches fully checks b as a concatenation of one or more v2 record
// batches: every header (as ParseBatchHeader), every CRC-32C, that each batch
// is at most maxBatchBytes bytes (12+Length; maxBatchBytes <= 0 means no
// limit) and that the last batch ends exactly at the end of b. It reads b and
// never keeps or changes it. Errors are *BatchError wrapping ErrCorrupt or
// ErrBatchTooLarge; an empty b is ErrCorrupt. It does not allocate.
func ValidateBatches(b []byte, maxBatchBytes int) (BatchSummary, error) {
	s := BatchSummary{MaxTimestamp: -1, Contiguous: true}
	if len(b) == 0 {
		return s, &BatchError{Err: corruptf("no record batches")}
	}
	pos := 0
	for pos < len(b) {
		h, err := validateBatchAt(b[pos:], maxBatchBytes)
		if err != nil {
			return s, &BatchError{Index: s.Batches, Position: pos, Err: err}
		}
		if s.Batches == 0 {
			s.FirstOffset = h.BaseOffset
		} else if h.BaseOffset != s.LastOffset+1 {
			s.Contiguous = false
		}
		s.LastOffset = h.LastOffset()
		s.OffsetCount += int64(h.LastOffsetDelta) + 1
		s.Batches++
		s.Records += int(h.NumRecords)
		s.MaxTimestamp = max(s.MaxTimestamp, h.MaxTimestamp)
		pos += h.Size()
	}
	s.Bytes = pos
	return s, nil
}

// validateBatchAt checks the batch at the start of b, which may hold more
// batches after it.
func validateBatchAt(b []byte, maxBatchBytes int) (BatchHeader, error) {
	if len(b) < BatchHeaderSize {
		return BatchHeader{}, corruptf("header truncated: %d of %d bytes", len(b), BatchHeaderSize)
	}
	h := decodeHeader(b)
	if err := checkHeader(&h); err != nil {
		return h, err
	}
	size := h.Size()
	if maxBatchBytes > 0 && size > maxBatchBytes {
		return h, fmt.Errorf("%w: %d bytes, limit %d", ErrBatchTooLarge, size, maxBatchBytes)
	}
	if size > len(b) {
		return h, corruptf("batch of %d bytes truncated at %d", size, len(b))
	}
	if got := batchCRC(b[:size]); got != h.CRC {
		return h, corruptf("crc %#08x, computed %#08x", h.CRC, got)
	}
	return h, nil
}

// rewriteBatches sets baseOffset and partitionLeaderEpoch of every batch in
// b, which ValidateBatches accepted, numbering from firstOffset. Both fields
// are outside the CRC coverage, so the CRCs stay valid.
func rewriteBatches(b []byte, firstOffset int64, leaderEpoch int32) {
	be := binary.BigEndian
	next := firstOffset
	for pos := 0; pos < len(b); {
		be.PutUint64(b[pos+offBaseOffset:], uint64(next))
		be.PutUint32(b[pos+offLeaderEpoch:], uint32(leaderEpoch))
		next += int64(int32(be.Uint32(b[pos+offLastOffsetDelta:]))) + 1
		pos += batchLogOverhead + int(int32(be.Uint32(b[pos+offLength:])))
	}
}
