package log

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

var benchSizes = []struct {
	name string
	size int
}{{"1KiB", 1 << 10}, {"64KiB", 64 << 10}}

// BenchmarkAppend appends one batch per op to a log on the OS filesystem,
// reusing one buffer (Append rewrites its offset fields in place).
func BenchmarkAppend(b *testing.B) {
	for _, bs := range benchSizes {
		b.Run(bs.name, func(b *testing.B) {
			l := mustOpen(b, filepath.Join(b.TempDir(), "p"), Config{})
			batch := batchOfSize(b, bs.size, 1, 1)
			b.SetBytes(int64(bs.size))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, err := l.Append(batch, 1); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer() // Close syncs: not part of appending
			if err := l.Close(); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// BenchmarkRawWrite is Append's baseline: write(2) of the same bytes to a
// plain file in the same kind of directory.
func BenchmarkRawWrite(b *testing.B) {
	for _, bs := range benchSizes {
		b.Run(bs.name, func(b *testing.B) {
			f, err := os.Create(filepath.Join(b.TempDir(), "raw"))
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			buf := batchOfSize(b, bs.size, 1, 1)
			b.SetBytes(int64(bs.size))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, err := f.Write(buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// seekLog builds, once per benchmark, a log of 50 MiB of 1 KiB batches
// (timestamp = offset) in the given number of segments.
func seekLog(b *testing.B, segments int) *Log {
	const total = 50 << 20
	cfg := Config{MaxSegmentBytes: int64(total / segments)}
	l := mustOpen(b, filepath.Join(b.TempDir(), "p"), cfg)
	b.Cleanup(func() { l.Close() })
	batch := batchOfSize(b, 1<<10, 0, 1)
	for o := int64(0); o < total>>10; o++ {
		// One record per batch, timestamps rising with offsets.
		putTimestamps(batch, o)
		if _, err := l.Append(batch, 1); err != nil {
			b.Fatal(err)
		}
	}
	if n := len(l.Segments()); n < segments {
		b.Fatalf("%d segments, want %d", n, segments)
	}
	return l
}

// putTimestamps sets a one-record batch's timestamps and fixes its CRC.
func putTimestamps(batch []byte, ts int64) {
	be := [8]byte{}
	for i := range 8 {
		be[i] = byte(ts >> (56 - 8*i))
	}
	copy(batch[offFirstTimestamp:], be[:])
	copy(batch[offMaxTimestamp:], be[:])
	c := batchCRC(batch)
	batch[offCRC], batch[offCRC+1], batch[offCRC+2], batch[offCRC+3] = byte(c>>24), byte(c>>16), byte(c>>8), byte(c)
}

// BenchmarkSeekOffset measures Read at random offsets (the locate step: a
// 1-byte limit returns just the batch holding the offset).
func BenchmarkSeekOffset(b *testing.B) {
	for _, segs := range []int{1, 200} {
		b.Run(fmt.Sprintf("segments=%d", segs), func(b *testing.B) {
			l := seekLog(b, segs)
			rng := rand.New(rand.NewPCG(1, 2))
			end := l.EndOffset()
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				c, err := l.Read(rng.Int64N(end), 1)
				if err != nil {
					b.Fatal(err)
				}
				c.Close()
			}
		})
	}
}

// BenchmarkSeekTimestamp measures OffsetForTimestamp at random timestamps.
func BenchmarkSeekTimestamp(b *testing.B) {
	for _, segs := range []int{1, 200} {
		b.Run(fmt.Sprintf("segments=%d", segs), func(b *testing.B) {
			l := seekLog(b, segs)
			rng := rand.New(rand.NewPCG(1, 2))
			end := l.EndOffset()
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				ts := rng.Int64N(end)
				if off, err := l.OffsetForTimestamp(ts); err != nil || off != ts {
					b.Fatalf("offset for %d: %d %v", ts, off, err)
				}
			}
		})
	}
}

// BenchmarkRecovery measures Open of a log of CAIRN_BENCH_RECOVERY_BYTES
// (default 2 GiB) of 64 KiB batches, built once per benchmark:
//
//	clean:       after Close (marker present): header walks from each
//	             segment's last index entry.
//	unclean:     marker removed, recovery point intact (the log was synced):
//	             CRC scans from each segment's last index entry.
//	unclean-all: marker and recovery point removed (nothing known synced):
//	             every segment CRC-scanned and reindexed from its start.
func BenchmarkRecovery(b *testing.B) {
	size := int64(2 << 30)
	if s := os.Getenv("CAIRN_BENCH_RECOVERY_BYTES"); s != "" {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			b.Fatal(err)
		}
		size = v
	}
	for _, mode := range []string{"clean", "unclean", "unclean-all"} {
		b.Run(mode, func(b *testing.B) {
			dir := filepath.Join(b.TempDir(), "p")
			l := mustOpen(b, dir, Config{})
			batch := batchOfSize(b, 64<<10, 1, 1)
			for l.Size() < size {
				if _, err := l.Append(batch, 1); err != nil {
					b.Fatal(err)
				}
			}
			if err := l.Close(); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(size)
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				if mode != "clean" {
					os.Remove(filepath.Join(dir, cleanShutdownFile))
				}
				if mode == "unclean-all" {
					os.Remove(filepath.Join(dir, recoveryPointFile))
				}
				b.StartTimer()
				l, err := Open(dir, Config{}, nil)
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if err := l.Close(); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
	}
}

// BenchmarkVerifyScrub checks a whole log of 16 MiB of 16 KiB batches with
// Read and Chunk.Verify, 1 MiB at a time, as the partition's scrub does, from
// the page cache; each op reopens the log (untimed) so that nothing is
// verified yet. Its baseline is BenchmarkVerifyRawRead.
func BenchmarkVerifyScrub(b *testing.B) {
	dir := filepath.Join(b.TempDir(), "p")
	const total = 16 << 20
	writeBenchLog(b, dir, total)
	b.SetBytes(total)
	for range b.N {
		b.StopTimer()
		l := mustOpen(b, dir, Config{})
		b.StartTimer()
		for off := l.StartOffset(); off < l.EndOffset(); {
			c, err := l.Read(off, 1<<20)
			if err != nil {
				b.Fatal(err)
			}
			if err := c.Verify(); err != nil {
				b.Fatal(err)
			}
			off = c.NextOffset()
			c.Close()
		}
		b.StopTimer()
		if err := l.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// BenchmarkVerifyRawRead is the scrub's baseline: pread of the same files,
// 1 MiB at a time, without checking anything.
func BenchmarkVerifyRawRead(b *testing.B) {
	dir := filepath.Join(b.TempDir(), "p")
	const total = 16 << 20
	writeBenchLog(b, dir, total)
	names, err := filepath.Glob(filepath.Join(dir, "*.log"))
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 1<<20)
	b.SetBytes(total)
	b.ResetTimer()
	for range b.N {
		for _, name := range names {
			f, err := os.Open(name)
			if err != nil {
				b.Fatal(err)
			}
			for at := int64(0); ; at += int64(len(buf)) {
				n, _ := f.ReadAt(buf, at)
				if n < len(buf) {
					break
				}
			}
			f.Close()
		}
	}
}

func writeBenchLog(b *testing.B, dir string, total int) {
	b.Helper()
	l := mustOpen(b, dir, Config{MaxSegmentBytes: 4 << 20})
	batch := batchOfSize(b, 16<<10, 1, 1)
	for range total / len(batch) {
		if _, err := l.Append(batch, 1); err != nil {
			b.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		b.Fatal(err)
	}
}
