package log

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
)

// seedBatches returns real batches, offsets from 0, for seed corpora.
func seedBatches() [][]byte {
	var out [][]byte
	var next int64
	for i, spec := range []batchSpec{
		{records: 1, timestamp: 1, valueSize: 0},
		{records: 3, timestamp: 1700000000000, valueSize: 40, seed: 7},
		{records: 10, timestamp: -1, valueSize: 3},
		{records: 2, timestamp: 5, valueSize: 300},
	} {
		spec.baseOffset = next
		spec.seed += byte(i)
		b := buildBatch(spec)
		out = append(out, b)
		next += int64(spec.records)
	}
	return out
}

func FuzzParseBatchHeader(f *testing.F) {
	for _, b := range seedBatches() {
		f.Add(b)
		f.Add(b[:BatchHeaderSize])
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseBatchHeader(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if h.Magic != 2 || h.Size() < BatchHeaderSize || h.NumRecords != h.LastOffsetDelta+1 || h.LastOffset() < h.BaseOffset {
			t.Fatalf("accepted header %+v", h)
		}
	})
}

func FuzzValidateBatches(f *testing.F) {
	seeds := seedBatches()
	for _, b := range seeds {
		f.Add(b, 0)
	}
	f.Add(bytes.Join(seeds, nil), 1<<20)
	f.Add(bytes.Join(seeds, nil), 200)
	f.Fuzz(func(t *testing.T, b []byte, maxBatchBytes int) {
		s, err := ValidateBatches(b, maxBatchBytes)
		if err != nil {
			var be *BatchError
			if !errors.As(err, &be) || !(errors.Is(err, ErrCorrupt) || errors.Is(err, ErrBatchTooLarge)) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		// An accepted input is a sequence of batches whose CRCs hold.
		n, batches := 0, 0
		for n < len(b) {
			h, err := ParseBatchHeader(b[n:])
			if err != nil || n+h.Size() > len(b) || batchCRC(b[n:n+h.Size()]) != h.CRC {
				t.Fatalf("accepted a bad batch at %d: %v", n, err)
			}
			if maxBatchBytes > 0 && h.Size() > maxBatchBytes {
				t.Fatal("accepted a batch over the limit")
			}
			n += h.Size()
			batches++
		}
		if n != len(b) || s.Bytes != n || s.Batches != batches {
			t.Fatalf("summary %+v for %d bytes, %d batches", s, n, batches)
		}
	})
}

// FuzzRecoverActiveSegment opens a log whose only (active) segment holds
// arbitrary bytes, with arbitrary index bytes, after an unclean or clean
// shutdown. Recovery must not panic and must keep exactly a prefix of the
// file made of valid batches with offsets from 0.
func FuzzRecoverActiveSegment(f *testing.F) {
	seeds := seedBatches()
	all := bytes.Join(seeds, nil)
	idx := make([]byte, 8)
	binary.BigEndian.PutUint32(idx, 3)
	binary.BigEndian.PutUint32(idx[4:], uint32(len(seeds[0])))
	f.Add(all, []byte(nil), false)
	f.Add(all, idx, false)
	f.Add(all, idx, true)
	f.Add(all[:len(all)-7], idx, false)
	f.Add(append(bytes.Clone(all), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), []byte{1, 2, 3}, false)
	flipped := bytes.Clone(all)
	flipped[len(seeds[0])+70] ^= 0x20
	f.Add(flipped, idx, false)
	f.Fuzz(func(t *testing.T, data, index []byte, clean bool) {
		fsys := newMemFS()
		const dir = "/p"
		if err := fsys.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		put := func(name string, b []byte) {
			file, err := fsys.OpenFile(dir+"/"+name, os.O_RDWR|os.O_CREATE, 0o644)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := file.WriteAt(b, 0); err != nil {
				t.Fatal(err)
			}
			file.Close()
		}
		put("00000000000000000000.log", data)
		if index != nil {
			put("00000000000000000000.index", index)
		}
		if clean {
			put(cleanShutdownFile, nil)
		}
		cfg := testConfig(fsys)
		cfg.IndexIntervalBytes = 64
		l, err := Open(dir, cfg, nil)
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		defer l.Close()
		size := l.Size()
		if size > int64(len(data)) {
			t.Fatalf("recovered %d bytes of %d", size, len(data))
		}
		kept := data[:size]
		if size > 0 {
			s, err := ValidateBatches(kept, 0)
			if (err != nil || s.FirstOffset != 0 || !s.Contiguous || s.LastOffset+1 != l.EndOffset()) && !clean {
				t.Fatalf("kept an invalid prefix: %+v %v", s, err)
			}
		}
		// Reading never serves a corrupt byte, even after a clean shutdown
		// whose files were not what it claims.
		var got []byte
		for off := int64(0); off < l.EndOffset(); {
			c, err := l.Read(off, 1<<20)
			if err != nil {
				if clean && errors.Is(err, ErrCorrupt) {
					return
				}
				t.Fatalf("read %d: %v", off, err)
			}
			got, err = c.AppendTo(got)
			c.Close()
			if err != nil {
				if clean && errors.Is(err, ErrCorrupt) {
					return
				}
				t.Fatalf("read %d: %v", off, err)
			}
			if c.NextOffset() <= off {
				t.Fatalf("read %d: no progress, next %d", off, c.NextOffset())
			}
			off = c.NextOffset()
		}
		if !bytes.Equal(got, kept) {
			t.Fatal("read back differs from the kept prefix")
		}
	})
}

// FuzzTruncateCorrupt damages one segment of a cleanly closed log (a byte
// xored, or the file cut), reads the log through, cuts it with
// TruncateCorrupt where a read reports ErrCorrupt, and refills it from the
// original batch by batch, as a replica does from a peer. No read may serve
// a byte that differs from the original, and the refilled log must equal it.
// A flip in a batch's partitionLeaderEpoch, outside the CRC, is not
// detectable and is skipped.
func FuzzTruncateCorrupt(f *testing.F) {
	f.Add(uint8(1), uint16(100), uint8(0x20), false)
	f.Add(uint8(0), uint16(3), uint8(0x01), false)
	f.Add(uint8(2), uint16(9), uint8(0x80), false)
	f.Add(uint8(2), uint16(500), uint8(0), true)
	f.Add(uint8(255), uint16(0), uint8(0), true)
	f.Fuzz(func(t *testing.T, seg uint8, pos uint16, xor uint8, cut bool) {
		fsys := newMemFS()
		const dir = "/p"
		cfg := testConfig(fsys)
		cfg.MaxSegmentBytes = 2048
		cfg.IndexIntervalBytes = 256
		l := mustOpen(t, dir, cfg)
		var batches [][]byte
		var want []byte
		for _, b := range appendN(t, l, 40, 2, 40, 1000) {
			batches = append(batches, b)
			want = append(want, b...)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		names, _ := fsys.ReadDir(dir)
		var logs []string
		for _, n := range names {
			if strings.HasSuffix(n, logSuffix) {
				logs = append(logs, n)
			}
		}
		slices.Sort(logs)
		name := dir + "/" + logs[int(seg)%len(logs)]
		data := fsys.readFile(name)
		if len(data) == 0 {
			return
		}
		at := int(pos) % len(data)
		for p := 0; p < len(data); {
			h, _ := ParseBatchHeader(data[p:])
			if at >= p+12 && at < p+16 && !cut {
				return // the leader epoch: outside the CRC
			}
			p += h.Size()
		}
		file, err := fsys.OpenFile(name, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		if cut {
			err = file.Truncate(int64(at))
		} else {
			_, err = file.WriteAt([]byte{data[at] ^ xor}, int64(at))
		}
		if err != nil {
			t.Fatal(err)
		}
		file.Close()

		l, err = Open(dir, cfg, nil)
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		defer l.Close()
		var got []byte
		for off := int64(0); off < l.EndOffset(); {
			c, err := l.Read(off, 700)
			if err == nil {
				got, err = c.AppendTo(got)
				c.Close()
			}
			if err == nil {
				if c.NextOffset() <= off {
					t.Fatalf("read %d: no progress", off)
				}
				off = c.NextOffset()
				continue
			}
			if errors.Is(err, ErrCorrupt) {
				end, truncated, terr := l.TruncateCorrupt(off)
				if terr != nil || !truncated || end > off+int64(len(want)) {
					t.Fatalf("TruncateCorrupt(%d) after %v: %d, %t, %v", off, err, end, truncated, terr)
				}
				got = readAll(t, l, 0, 700)
				break
			}
			if err != nil {
				t.Fatalf("read %d: %v", off, err)
			}
		}
		if !bytes.Equal(got, want[:len(got)]) {
			t.Fatal("served bytes that differ from the original")
		}
		// Refill batch by batch from the original.
		for _, b := range batches {
			h, _ := ParseBatchHeader(b)
			if h.BaseOffset < l.EndOffset() {
				continue
			}
			if _, err := l.AppendRaw(bytes.Clone(b)); err != nil {
				t.Fatalf("refill at %d: %v", h.BaseOffset, err)
			}
		}
		if got := readAll(t, l, 0, 700); !bytes.Equal(got, want) {
			t.Fatalf("refilled log holds %d bytes, want %d", len(got), len(want))
		}
	})
}
