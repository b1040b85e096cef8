package log

import (
	"bytes"
	"encoding/binary"
	"errors"
	"path/filepath"
	"testing"
	"time"
)

func TestAppendRead(t *testing.T) {
	tests := []struct {
		name      string
		batches   int
		records   int
		valueSize int
		maxBytes  int
	}{
		{"small batches, big reads", 200, 3, 20, 1 << 20},
		{"small batches, small reads", 200, 3, 20, 300},
		{"reads smaller than a batch", 50, 2, 600, 10},
		{"zero max bytes", 20, 1, 10, 0},
		{"large batches roll segments", 40, 4, 4000, 20000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, fsName := range []string{"os", "mem"} {
				t.Run(fsName, func(t *testing.T) {
					var fsys FS = OSFS{}
					if fsName == "mem" {
						fsys = newMemFS()
					}
					l := mustOpen(t, filepath.Join(t.TempDir(), "p-0"), testConfig(fsys))
					defer l.Close()
					var want []byte
					var offset int64
					for i := range tt.batches {
						b := buildBatch(batchSpec{records: tt.records, timestamp: 1000 + int64(i), valueSize: tt.valueSize, seed: byte(i)})
						info, err := l.Append(b, 9)
						if err != nil {
							t.Fatal(err)
						}
						if info.FirstOffset != offset || info.LastOffset != offset+int64(tt.records)-1 || info.Records != tt.records || info.Bytes != len(b) {
							t.Fatalf("append %d: info %+v, offset %d", i, info, offset)
						}
						h, err := ParseBatchHeader(b)
						if err != nil || h.BaseOffset != offset || h.PartitionLeaderEpoch != 9 {
							t.Fatalf("batch not rewritten in place: %+v %v", h, err)
						}
						offset += int64(tt.records)
						want = append(want, b...)
					}
					if l.EndOffset() != offset || l.StartOffset() != 0 || l.Size() != int64(len(want)) {
						t.Fatalf("end %d start %d size %d, want %d 0 %d", l.EndOffset(), l.StartOffset(), l.Size(), offset, len(want))
					}
					if got := readAll(t, l, 0, tt.maxBytes); !bytes.Equal(got, want) {
						t.Fatalf("read back %d bytes, want %d", len(got), len(want))
					}
					// Every offset reads from the batch holding it.
					for o := int64(0); o < offset; o += 7 {
						c, err := l.Read(o, tt.maxBytes)
						if err != nil {
							t.Fatal(err)
						}
						if c.FirstOffset() > o || c.NextOffset() <= o || c.Len() == 0 {
							t.Fatalf("read %d: chunk [%d, %d) len %d", o, c.FirstOffset(), c.NextOffset(), c.Len())
						}
						if c.FirstOffset()%int64(tt.records) != 0 {
							t.Fatalf("read %d: chunk starts mid-batch at %d", o, c.FirstOffset())
						}
						got := chunkBytes(t, c)
						if int(c.Len()) > tt.maxBytes {
							if h, _ := ParseBatchHeader(got); h.Size() != len(got) {
								t.Fatalf("chunk of %d bytes over max %d is more than one batch", len(got), tt.maxBytes)
							}
						}
						c.Close()
					}
				})
			}
		})
	}
}

func TestReadBounds(t *testing.T) {
	l := mustOpen(t, t.TempDir(), testConfig(nil))
	defer l.Close()
	appendN(t, l, 5, 2, 10, 100)
	c, err := l.Read(10, 100)
	if err != nil || c.Len() != 0 || c.FirstOffset() != 10 || c.NextOffset() != 10 {
		t.Fatalf("read at end: %v %+v", err, c)
	}
	c.Close()
	for _, off := range []int64{-1, 11, 1 << 40} {
		if _, err := l.Read(off, 100); !errors.Is(err, ErrOffsetOutOfRange) {
			t.Errorf("read %d: %v, want ErrOffsetOutOfRange", off, err)
		}
	}
}

func TestAppendRejects(t *testing.T) {
	good := func() []byte { return buildBatch(batchSpec{records: 3, timestamp: 5, valueSize: 30}) }
	tests := []struct {
		name   string
		mangle func([]byte) []byte
		want   error
	}{
		{"crc", func(b []byte) []byte { b[len(b)-1] ^= 1; return b }, ErrCorrupt},
		{"magic", func(b []byte) []byte { b[offMagic] = 1; return b }, ErrCorrupt},
		{"count", func(b []byte) []byte { binary.BigEndian.PutUint32(b[offNumRecords:], 2); return b }, ErrCorrupt},
		{"negative delta", func(b []byte) []byte { binary.BigEndian.PutUint32(b[offLastOffsetDelta:], 0xffffffff); return b }, ErrCorrupt},
		{"truncated", func(b []byte) []byte { return b[:len(b)-1] }, ErrCorrupt},
		{"trailing bytes", func(b []byte) []byte { return append(b, 0, 0, 0) }, ErrCorrupt},
		{"short length", func(b []byte) []byte { binary.BigEndian.PutUint32(b[offLength:], 10); return b }, ErrCorrupt},
		{"long length", func(b []byte) []byte { binary.BigEndian.PutUint32(b[offLength:], 1<<30); return b }, ErrBatchTooLarge},
		{"empty", func([]byte) []byte { return nil }, ErrCorrupt},
		{"good then bad", func(b []byte) []byte { bad := good(); bad[30] ^= 0xff; return append(b, bad...) }, ErrCorrupt},
		{"too large", func([]byte) []byte { return buildBatch(batchSpec{records: 1, valueSize: 5000}) }, ErrBatchTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(newMemFS())
			cfg.MaxBatchBytes = 4096
			l := mustOpen(t, "/d", cfg)
			defer l.Close()
			appendN(t, l, 2, 1, 10, 0)
			size := l.Size()
			in := tt.mangle(good())
			orig := bytes.Clone(in)
			_, err := l.Append(in, 3)
			if !errors.Is(err, tt.want) {
				t.Fatalf("append: %v, want %v", err, tt.want)
			}
			var be *BatchError
			if !errors.As(err, &be) {
				t.Fatalf("error %T is not a *BatchError", err)
			}
			if !bytes.Equal(in, orig) {
				t.Fatal("rejected input was rewritten")
			}
			if l.EndOffset() != 2 || l.Size() != size {
				t.Fatalf("end %d size %d after a rejected append", l.EndOffset(), l.Size())
			}
		})
	}
}

func TestAppendRaw(t *testing.T) {
	l := mustOpen(t, "/d", testConfig(newMemFS()))
	defer l.Close()
	b := append(buildBatch(batchSpec{baseOffset: 0, records: 2}), buildBatch(batchSpec{baseOffset: 2, records: 3})...)
	orig := bytes.Clone(b)
	info, err := l.AppendRaw(b)
	if err != nil || info.FirstOffset != 0 || info.LastOffset != 4 || info.Batches != 2 {
		t.Fatalf("append raw: %+v %v", info, err)
	}
	if !bytes.Equal(b, orig) {
		t.Fatal("AppendRaw changed its input")
	}
	for _, bad := range [][]byte{
		buildBatch(batchSpec{baseOffset: 4, records: 1}),
		buildBatch(batchSpec{baseOffset: 6, records: 1}),
		append(buildBatch(batchSpec{baseOffset: 5, records: 1}), buildBatch(batchSpec{baseOffset: 7, records: 1})...),
	} {
		if _, err := l.AppendRaw(bad); !errors.Is(err, ErrOffsetMismatch) {
			t.Fatalf("append raw: %v, want ErrOffsetMismatch", err)
		}
	}
	if got := readAll(t, l, 0, 1<<20); !bytes.Equal(got, orig) {
		t.Fatal("read back differs")
	}
}

func TestRollAndSegments(t *testing.T) {
	now := time.Unix(1000, 0)
	cfg := testConfig(newMemFS())
	cfg.MaxSegmentBytes = 10 << 10
	cfg.MaxSegmentAge = time.Hour
	cfg.Now = func() time.Time { return now }
	l := mustOpen(t, "/d", cfg)
	defer l.Close()
	batch := batchOfSize(t, 1024, 1, 0)
	for range 25 {
		if _, err := l.Append(bytes.Clone(batch), 0); err != nil {
			t.Fatal(err)
		}
	}
	segs := l.Segments()
	if len(segs) != 3 {
		t.Fatalf("%d segments, want 3: %+v", len(segs), segs)
	}
	for i, s := range segs {
		if s.Size > cfg.MaxSegmentBytes || s.Sealed != (i < 2) || (i > 0 && s.BaseOffset != segs[i-1].NextOffset) {
			t.Fatalf("segment %d: %+v", i, s)
		}
	}
	if err := l.MaybeRoll(); err != nil || len(l.Segments()) != 3 {
		t.Fatalf("young segment rolled: %v", err)
	}
	now = now.Add(time.Hour)
	if err := l.MaybeRoll(); err != nil || len(l.Segments()) != 4 {
		t.Fatalf("old segment not rolled: %v %d", err, len(l.Segments()))
	}
	if err := l.MaybeRoll(); err != nil || len(l.Segments()) != 4 {
		t.Fatalf("empty segment rolled: %v", err)
	}
	if err := l.Roll(); err != nil || len(l.Segments()) != 4 {
		t.Fatalf("explicit roll of an empty segment: %v", err)
	}
	if got := readAll(t, l, 0, 3000); len(got) != 25*1024 {
		t.Fatalf("read %d bytes", len(got))
	}
}

func TestOffsetForTimestamp(t *testing.T) {
	cfg := testConfig(newMemFS())
	cfg.MaxSegmentBytes = 4 << 10
	cfg.IndexIntervalBytes = 300
	l := mustOpen(t, "/d", cfg)
	defer l.Close()
	// Batch i has 2 records at timestamps 10*i+5 and 10*i+6, except batch
	// 30 which jumps back in time.
	for i := range 60 {
		ts := int64(10*i + 5)
		if i == 30 {
			ts = 7
		}
		if _, err := l.Append(buildBatch(batchSpec{records: 2, timestamp: ts, valueSize: 50}), 0); err != nil {
			t.Fatal(err)
		}
	}
	if len(l.Segments()) < 3 {
		t.Fatalf("want several segments, got %d", len(l.Segments()))
	}
	tests := []struct {
		ts   int64
		want int64
		err  error
	}{
		{0, 0, nil},
		{6, 0, nil},
		{7, 2, nil},
		{16, 2, nil},
		{17, 4, nil},
		{296, 58, nil},
		{297, 62, nil},
		{306, 62, nil}, // batch 30 is old; 31 is the first at or after
		{596, 118, nil},
		{597, 0, ErrNotFound},
	}
	for _, tt := range tests {
		got, err := l.OffsetForTimestamp(tt.ts)
		if !errors.Is(err, tt.err) || (err == nil && got != tt.want) {
			t.Errorf("offset for %d: %d %v, want %d %v", tt.ts, got, err, tt.want, tt.err)
		}
	}
}

func TestSetLimits(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, dir, Config{MaxSegmentBytes: 1 << 20})
	defer l.Close()
	batch := batchOfSize(t, 2000, 1, 1)
	if _, err := l.Append(append([]byte(nil), batch...), 0); err != nil {
		t.Fatal(err)
	}
	if err := l.SetLimits(Limits{MaxSegmentBytes: 1 << 20, MaxBatchBytes: 1000}); err != nil {
		t.Fatal(err)
	}
	if got := l.MaxBatchBytes(); got != 1000 {
		t.Fatalf("MaxBatchBytes %d after SetLimits, want 1000", got)
	}
	if _, err := l.Append(append([]byte(nil), batch...), 0); !errors.Is(err, ErrBatchTooLarge) {
		t.Fatalf("append above the new max batch size: %v", err)
	}
	// Retention by size now keeps one segment's worth: roll, then apply.
	if err := l.SetLimits(Limits{MaxSegmentBytes: 4096, RetentionBytes: 1}); err != nil {
		t.Fatal(err)
	}
	for range 4 {
		if _, err := l.Append(append([]byte(nil), batch...), 0); err != nil {
			t.Fatal(err)
		}
	}
	if deleted, err := l.ApplyRetention(); err != nil || deleted == 0 || l.StartOffset() == 0 {
		t.Fatalf("retention after SetLimits: deleted %d, start %d, %v", deleted, l.StartOffset(), err)
	}
	if err := l.SetLimits(Limits{MaxSegmentBytes: 10}); err == nil {
		t.Fatal("SetLimits accepted a 10-byte segment size")
	}
}
