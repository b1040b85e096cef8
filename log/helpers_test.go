package log

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// batchSpec describes a record batch to build with kmsg.
type batchSpec struct {
	baseOffset int64
	records    int
	timestamp  int64 // FirstTimestamp; record i is timestamp+i
	valueSize  int
	seed       byte
}

// buildBatch encodes a real Kafka v2 record batch with kmsg, CRC-32C
// included, as a producer would send it.
func buildBatch(spec batchSpec) []byte {
	if spec.records <= 0 {
		spec.records = 1
	}
	var recs []byte
	for i := range spec.records {
		value := bytes.Repeat([]byte{spec.seed + byte(i)}, spec.valueSize)
		r := kmsg.Record{
			TimestampDelta64: int64(i),
			OffsetDelta:      int32(i),
			Key:              fmt.Appendf(nil, "k%d", i),
			Value:            value,
		}
		body := r.AppendTo(nil) // Length 0 encodes as one varint byte
		r.Length = int32(len(body) - 1)
		recs = r.AppendTo(recs)
	}
	b := kmsg.RecordBatch{
		FirstOffset:     spec.baseOffset,
		Length:          int32(minBatchLength + len(recs)),
		Magic:           2,
		LastOffsetDelta: int32(spec.records - 1),
		FirstTimestamp:  spec.timestamp,
		MaxTimestamp:    spec.timestamp + int64(spec.records-1),
		ProducerID:      -1,
		ProducerEpoch:   -1,
		FirstSequence:   -1,
		NumRecords:      int32(spec.records),
		Records:         recs,
	}
	out := b.AppendTo(nil)
	crc := crc32.Checksum(out[crcStart:], crc32.MakeTable(crc32.Castagnoli))
	binary.BigEndian.PutUint32(out[offCRC:], crc)
	return out
}

// batchOfSize builds a one-record batch of exactly size bytes (size >= 80).
func batchOfSize(tb testing.TB, size int, ts int64, seed byte) []byte {
	tb.Helper()
	v := size - 80
	for range 8 {
		b := buildBatch(batchSpec{records: 1, timestamp: ts, valueSize: max(v, 0), seed: seed})
		if len(b) == size {
			return b
		}
		v += size - len(b)
	}
	tb.Fatalf("cannot build a batch of %d bytes", size)
	return nil
}

// appendN appends n batches of recs records, timestamps from ts0 by 1 per
// batch, and returns the bytes as the log stored them (offsets rewritten).
func appendN(tb testing.TB, l *Log, n, recs, valueSize int, ts0 int64) [][]byte {
	tb.Helper()
	var out [][]byte
	for i := range n {
		b := buildBatch(batchSpec{records: recs, timestamp: ts0 + int64(i), valueSize: valueSize, seed: byte(i)})
		if _, err := l.Append(b, 7); err != nil {
			tb.Fatalf("append %d: %v", i, err)
		}
		out = append(out, b)
	}
	return out
}

// readAll reads the log from offset to its end through Read and AppendTo.
func readAll(tb testing.TB, l *Log, from int64, maxBytes int) []byte {
	tb.Helper()
	var out []byte
	for off := from; off < l.EndOffset(); {
		c, err := l.Read(off, maxBytes)
		if err != nil {
			tb.Fatalf("read %d: %v", off, err)
		}
		if out, err = c.AppendTo(out); err != nil {
			tb.Fatalf("append chunk at %d: %v", off, err)
		}
		if c.NextOffset() <= off {
			tb.Fatalf("read %d made no progress: next %d", off, c.NextOffset())
		}
		off = c.NextOffset()
		c.Close()
	}
	return out
}

// testConfig is a small configuration on the given FS.
func testConfig(fsys FS) Config {
	return Config{
		MaxSegmentBytes:    64 << 10,
		IndexIntervalBytes: 512,
		MaxIndexBytes:      4096,
		FS:                 fsys,
	}
}

func mustOpen(tb testing.TB, dir string, cfg Config) *Log {
	tb.Helper()
	l, err := Open(dir, cfg, nil)
	if err != nil {
		tb.Fatalf("open: %v", err)
	}
	return l
}

// chunkBytes returns a chunk's content through WriteTo.
func chunkBytes(tb testing.TB, c *Chunk) []byte {
	tb.Helper()
	var buf bytes.Buffer
	n, err := c.WriteTo(&buf)
	if err != nil {
		tb.Fatalf("write chunk: %v", err)
	}
	if n != c.Len() {
		tb.Fatalf("wrote %d of %d bytes", n, c.Len())
	}
	return buf.Bytes()
}

var _ io.WriterTo = (*Chunk)(nil)
