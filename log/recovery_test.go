package log

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// copyDir copies the files of src to a new directory: a snapshot of what a
// crash at this instant would leave if the page cache survived.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "copy")
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// recoveryLog builds a log of several segments on the OS filesystem and
// returns its directory, its content and its configuration.
func recoveryLog(t *testing.T) (string, []byte, Config) {
	t.Helper()
	cfg := testConfig(nil)
	cfg.MaxSegmentBytes = 16 << 10
	dir := filepath.Join(t.TempDir(), "p")
	l := mustOpen(t, dir, cfg)
	var want []byte
	for _, b := range appendN(t, l, 120, 3, 90, 1000) {
		want = append(want, b...)
	}
	if n := len(l.Segments()); n < 3 {
		t.Fatalf("want several segments, got %d", n)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, want, cfg
}

// checkLog checks that l holds want from offset 0, and still appends.
func checkLog(t *testing.T, l *Log, want []byte) {
	t.Helper()
	if got := readAll(t, l, 0, 2000); !bytes.Equal(got, want) {
		t.Fatalf("read back %d bytes, want %d", len(got), len(want))
	}
	if l.Size() != int64(len(want)) {
		t.Fatalf("size %d, want %d", l.Size(), len(want))
	}
	for _, ts := range []int64{1000, 1050, 1119} {
		if off, err := l.OffsetForTimestamp(ts + 2); err != nil || off != (ts-1000)*3 {
			t.Fatalf("offset for %d: %d %v, want %d", ts+2, off, err, (ts-1000)*3)
		}
	}
	end := l.EndOffset()
	if info, err := l.Append(buildBatch(batchSpec{records: 2, timestamp: 5000}), 1); err != nil || info.FirstOffset != end {
		t.Fatalf("append after reopen: %+v %v", info, err)
	}
}

func indexFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, pat := range []string{"*.index", "*.timeindex"} {
		m, _ := filepath.Glob(filepath.Join(dir, pat))
		for _, p := range m {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			out[filepath.Base(p)] = b
		}
	}
	return out
}

func TestReopen(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(t *testing.T, dir string)
	}{
		{"clean", func(*testing.T, string) {}},
		{"unclean", func(t *testing.T, dir string) { rm(t, dir, cleanShutdownFile) }},
		{"unclean without recovery point", func(t *testing.T, dir string) {
			rm(t, dir, cleanShutdownFile)
			rm(t, dir, recoveryPointFile)
		}},
		{"corrupt recovery point", func(t *testing.T, dir string) {
			rm(t, dir, cleanShutdownFile)
			write(t, dir, recoveryPointFile, []byte("garbage garbage!"))
		}},
		{"all indexes missing", func(t *testing.T, dir string) { rmGlob(t, dir, "*index") }},
		{"all indexes missing, unclean", func(t *testing.T, dir string) {
			rmGlob(t, dir, "*index")
			rm(t, dir, cleanShutdownFile)
		}},
		{"index of odd size", func(t *testing.T, dir string) {
			mangle(t, dir, 0, ".index", func(b []byte) []byte { return b[:len(b)-3] })
		}},
		{"index entry past the log", func(t *testing.T, dir string) {
			mangle(t, dir, 0, ".index", func(b []byte) []byte { b[len(b)-4] = 0x7f; return b })
		}},
		{"index entry at a wrong batch", func(t *testing.T, dir string) {
			mangle(t, dir, 0, ".index", func(b []byte) []byte { b[len(b)-1] ^= 0x10; return b })
		}},
		{"active index entry at a wrong batch, unclean", func(t *testing.T, dir string) {
			rm(t, dir, cleanShutdownFile)
			mangle(t, dir, -1, ".index", func(b []byte) []byte { b[len(b)-1] ^= 0x10; return b })
		}},
		{"time index missing", func(t *testing.T, dir string) { rmGlob(t, dir, "*.timeindex") }},
		{"stray files", func(t *testing.T, dir string) {
			write(t, dir, "00000000000000999999.index", []byte{1, 2, 3})
			write(t, dir, "00000000000000000000.log.swap", []byte{1, 2, 3})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, want, cfg := recoveryLog(t)
			before := indexFiles(t, dir)
			tt.prepare(t, dir)
			l := mustOpen(t, dir, cfg)
			if _, err := os.Stat(filepath.Join(dir, cleanShutdownFile)); !os.IsNotExist(err) {
				t.Fatalf("clean shutdown marker left after open: %v", err)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			// Rebuilt indexes are byte-identical to the ones written live.
			if after := indexFiles(t, dir); !equalFiles(before, after) {
				t.Fatalf("indexes differ after recovery:\nbefore %v\nafter  %v", sizes(before), sizes(after))
			}
			l = mustOpen(t, dir, cfg)
			defer l.Close()
			checkLog(t, l, want)
		})
	}
}

func TestRecoveryTruncatesTail(t *testing.T) {
	tests := []struct {
		name   string
		mangle func([]byte) []byte
		lost   int // batches lost at the end
	}{
		{"garbage appended", func(b []byte) []byte { return append(b, bytes.Repeat([]byte{0xab}, 100)...) }, 0},
		{"zeros appended", func(b []byte) []byte { return append(b, make([]byte, 5000)...) }, 0},
		{"last batch torn", func(b []byte) []byte { return b[:len(b)-10] }, 1},
		{"last batch header torn", func(b []byte) []byte { return b[:len(b)-lastBatchSize(b)+20] }, 1},
		{"bit flip in last batch", func(b []byte) []byte { b[len(b)-5] ^= 4; return b }, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(nil)
			dir := filepath.Join(t.TempDir(), "p")
			l := mustOpen(t, dir, cfg)
			batches := appendN(t, l, 40, 2, 100, 1)
			if err := l.Sync(); err != nil {
				t.Fatal(err)
			}
			crashed := copyDir(t, dir)
			l.Close()
			mangle(t, crashed, -1, ".log", tt.mangle)
			l = mustOpen(t, crashed, cfg)
			defer l.Close()
			var want []byte
			for _, b := range batches[:len(batches)-tt.lost] {
				want = append(want, b...)
			}
			if got := readAll(t, l, 0, 1<<20); !bytes.Equal(got, want) {
				t.Fatalf("recovered %d bytes, want %d", len(got), len(want))
			}
			if l.EndOffset() != int64(2*(len(batches)-tt.lost)) {
				t.Fatalf("end %d", l.EndOffset())
			}
		})
	}
}

func TestSealedCorruptionNeverServed(t *testing.T) {
	tests := []struct {
		name string
		at   func(b []byte) int // byte to flip in the first segment
	}{
		{"record payload", func(b []byte) int { return len(b) / 2 }},
		{"first byte of records", func([]byte) int { return BatchHeaderSize + 3 }},
		{"crc field", func([]byte) int { return offCRC }},
		{"length field", func([]byte) int { return offLength + 3 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, _, cfg := recoveryLog(t)
			var flipped int
			mangle(t, dir, 0, ".log", func(b []byte) []byte {
				flipped = tt.at(b)
				b[flipped] ^= 0x01
				return b
			})
			l := mustOpen(t, dir, cfg)
			defer l.Close()
			sawCorrupt := false
			for off := int64(0); off < l.Segments()[0].NextOffset; off++ {
				c, err := l.Read(off, 1<<20)
				if err != nil {
					if !errors.Is(err, ErrCorrupt) {
						t.Fatalf("read %d: %v", off, err)
					}
					sawCorrupt = true
					continue
				}
				if int64(flipped) < c.Position() || int64(flipped) >= c.Position()+c.Len() {
					c.Close()
					continue
				}
				if _, err := c.AppendTo(nil); !errors.Is(err, ErrCorrupt) {
					t.Fatalf("AppendTo at %d served a corrupt byte: %v", off, err)
				}
				if _, err := c.WriteTo(&bytes.Buffer{}); !errors.Is(err, ErrCorrupt) {
					t.Fatalf("WriteTo at %d served a corrupt byte: %v", off, err)
				}
				sawCorrupt = true
				c.Close()
			}
			if !sawCorrupt {
				t.Fatal("corruption never reported")
			}
		})
	}
}

func lastBatchSize(b []byte) int {
	size := 0
	for pos := 0; pos < len(b); pos += size {
		h, _ := ParseBatchHeader(b[pos:])
		size = h.Size()
	}
	return size
}

func rm(t *testing.T, dir, name string) {
	t.Helper()
	if err := os.Remove(filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
}

func rmGlob(t *testing.T, dir, pat string) {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, pat))
	for _, p := range m {
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
}

func write(t *testing.T, dir, name string, b []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// mangle rewrites the file with the given suffix of segment i (-1: last).
func mangle(t *testing.T, dir string, i int, suffix string, f func([]byte) []byte) {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, "*"+suffix))
	if i < 0 {
		i = len(m) - 1
	}
	b, err := os.ReadFile(m[i])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(m[i], f(b), 0o644); err != nil {
		t.Fatal(err)
	}
}

func equalFiles(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !bytes.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

func sizes(m map[string][]byte) map[string]int {
	out := map[string]int{}
	for k, v := range m {
		out[k] = len(v)
	}
	return out
}
