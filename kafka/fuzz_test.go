package kafka

import (
	"bytes"
	"compress/gzip"
	"testing"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/cairnlog/cairn/log"
)

// compressedBatch compresses the records of an uncompressed batch with
// codec and rebuilds the batch around them.
func compressedBatch(t testing.TB, codec int16, plain []byte) []byte {
	h, err := log.ParseBatchHeader(plain)
	if err != nil {
		t.Fatal(err)
	}
	recs := plain[log.BatchHeaderSize:]
	var buf bytes.Buffer
	switch codec {
	case codecGzip:
		w := gzip.NewWriter(&buf)
		w.Write(recs)
		w.Close()
	case codecSnappy:
		buf.Write(s2.EncodeSnappy(nil, recs))
	case codecLZ4:
		w := lz4.NewWriter(&buf)
		w.Write(recs)
		w.Close()
	case codecZstd:
		enc, _ := zstd.NewWriter(nil)
		buf.Write(enc.EncodeAll(recs, nil))
	}
	return rawBatch(codec, h.NumRecords, buf.Bytes())
}

// xerialSnappy frames recs as snappy-java does.
func xerialSnappy(recs []byte) []byte {
	out := append([]byte{}, xerialHeader...)
	out = append(out, 0, 0, 0, 1, 0, 0, 0, 1)
	for len(recs) > 0 {
		n := min(len(recs), 100)
		blk := s2.EncodeSnappy(nil, recs[:n])
		out = append(out, byte(len(blk)>>24), byte(len(blk)>>16), byte(len(blk)>>8), byte(len(blk)))
		out = append(out, blk...)
		recs = recs[n:]
	}
	return out
}

func TestInflateCodecs(t *testing.T) {
	d := newDecompressor()
	plain := plainBatch(50)
	recs := plain[log.BatchHeaderSize:]
	for _, codec := range []int16{codecGzip, codecSnappy, codecLZ4, codecZstd} {
		b := compressedBatch(t, codec, plain)
		got, err := d.inflate(nil, int(codec), b[log.BatchHeaderSize:], len(recs))
		if err != nil || !bytes.Equal(got, recs) {
			t.Fatalf("codec %d: %v, equal %v", codec, err, bytes.Equal(got, recs))
		}
		// One byte short of the limit: too large, with bounded output.
		got, err = d.inflate(nil, int(codec), b[log.BatchHeaderSize:], len(recs)-1)
		if errorCode(err) != kerr.MessageTooLarge.Code || len(got) > len(recs) {
			t.Fatalf("codec %d with a low limit: %v, %d bytes", codec, err, len(got))
		}
	}
	got, err := d.inflate(nil, codecSnappy, xerialSnappy(recs), len(recs))
	if err != nil || !bytes.Equal(got, recs) {
		t.Fatalf("xerial snappy: %v", err)
	}
}

func FuzzInflate(f *testing.F) {
	plain := plainBatch(20)
	for _, codec := range []int16{codecGzip, codecSnappy, codecLZ4, codecZstd} {
		f.Add(uint8(codec), compressedBatch(f, codec, plain)[log.BatchHeaderSize:])
	}
	f.Add(uint8(codecSnappy), xerialSnappy(plain[log.BatchHeaderSize:]))
	d := newDecompressor()
	const limit = 64 << 10
	f.Fuzz(func(t *testing.T, codec uint8, data []byte) {
		out, err := d.inflate(nil, int(codec%8), data, limit)
		if err == nil && len(out) > limit {
			t.Fatalf("inflated %d bytes past the limit %d", len(out), limit)
		}
		if err == nil {
			_ = walkRecords(out, 20, nil) // must not panic
		}
	})
}

// FuzzProduceRequest sends arbitrary batch bytes in a valid Produce request
// to a real broker: it must not panic, and a refused produce appends
// nothing while an accepted one appends exactly the records it claims.
func FuzzProduceRequest(f *testing.F) {
	plain := plainBatch(5)
	f.Add(plain)
	for _, codec := range []int16{codecGzip, codecSnappy, codecLZ4, codecZstd} {
		f.Add(compressedBatch(f, codec, plain))
	}
	f.Add(append(plainBatch(1), plainBatch(2)...))
	f.Add(plain[:70])
	b := startBroker(f, Config{MaxBatchBytes: 64 << 10})
	b.createTopic("fuzz", 1, nil)
	p := b.LocalPartition("fuzz", 0)
	f.Fuzz(func(t *testing.T, batches []byte) {
		before := p.HighWatermark()
		sp := produceOne(t, b.addr, produceReq("fuzz", 0, -1, 10000, batches))
		after := p.HighWatermark()
		if sp.ErrorCode != 0 {
			if after != before {
				t.Fatalf("refused (%v) but the high watermark moved %d -> %d", kerr.ErrorForCode(sp.ErrorCode), before, after)
			}
			return
		}
		s, err := log.ValidateBatches(batches, 0)
		if err != nil {
			t.Fatalf("accepted invalid batches: %v", err)
		}
		if sp.BaseOffset != before || after != before+s.OffsetCount {
			t.Fatalf("accepted at %d, high watermark %d -> %d, %d offsets", sp.BaseOffset, before, after, s.OffsetCount)
		}
	})
}
