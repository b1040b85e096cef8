package log

import (
	"bytes"
	"errors"
	"path/filepath"
	"testing"
	"time"
)

// segmentedLog appends n 1 KiB batches (one record each, timestamp = i)
// to a log rolling every 4 batches.
func segmentedLog(t *testing.T, fsys FS, n int, tweak func(*Config)) (*Log, [][]byte) {
	t.Helper()
	cfg := testConfig(fsys)
	cfg.MaxSegmentBytes = 4 << 10
	if tweak != nil {
		tweak(&cfg)
	}
	l := mustOpen(t, filepath.Join(t.TempDir(), "p"), cfg)
	t.Cleanup(func() { l.Close() })
	var batches [][]byte
	for i := range n {
		b := batchOfSize(t, 1024, int64(i), byte(i))
		if _, err := l.Append(b, 0); err != nil {
			t.Fatal(err)
		}
		batches = append(batches, b)
	}
	return l, batches
}

func concat(bs [][]byte) []byte { return bytes.Join(bs, nil) }

func TestApplyRetention(t *testing.T) {
	tests := []struct {
		name      string
		bytes     int64
		age       time.Duration
		wantDel   int
		wantStart int64
	}{
		{"unlimited", -1, -1, 0, 0},
		{"size keeps at least the limit", 9 << 10, -1, 2, 8},
		{"size smaller than active", 1, -1, 4, 16},
		{"time", -1, time.Duration(1000-9) * time.Millisecond, 2, 8},
		{"time keeps the segment with a young batch", -1, time.Duration(1000-10) * time.Millisecond, 2, 8},
		{"time deletes all sealed", -1, time.Millisecond, 4, 16},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, batches := segmentedLog(t, newMemFS(), 18, func(c *Config) {
				c.RetentionBytes = tt.bytes
				c.RetentionAge = tt.age
				c.Now = func() time.Time { return time.UnixMilli(1000) }
			})
			if n := len(l.Segments()); n != 5 {
				t.Fatalf("%d segments", n)
			}
			c, err := l.Read(0, 100) // a reader holding the oldest segment
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			del, err := l.ApplyRetention()
			if err != nil || del != tt.wantDel || l.StartOffset() != tt.wantStart {
				t.Fatalf("retention deleted %d (%v), start %d; want %d, %d", del, err, l.StartOffset(), tt.wantDel, tt.wantStart)
			}
			if got := readAll(t, l, l.StartOffset(), 5000); !bytes.Equal(got, concat(batches[tt.wantStart:])) {
				t.Fatal("content after retention differs")
			}
			if _, err := l.Read(tt.wantStart-1, 10); tt.wantStart > 0 && !errors.Is(err, ErrOffsetOutOfRange) {
				t.Fatalf("read below start: %v", err)
			}
			if got, err := c.AppendTo(nil); err != nil || !bytes.Equal(got, batches[0]) {
				t.Fatalf("chunk held across retention: %v", err)
			}
			if l.Size() != int64(len(concat(batches[tt.wantStart:]))) {
				t.Fatalf("size %d", l.Size())
			}
		})
	}
}

func TestTruncateTo(t *testing.T) {
	tests := []struct {
		name string
		to   int64
		err  error
	}{
		{"end", 18, nil},
		{"inside active", 17, nil},
		{"active base", 16, nil},
		{"inside sealed", 6, nil},
		{"sealed base", 4, nil},
		{"everything", 0, nil},
		{"past end", 19, ErrOffsetOutOfRange},
		{"negative", -1, ErrOffsetOutOfRange},
	}
	for _, tt := range tests {
		for _, hold := range []bool{false, true} {
			name := tt.name
			if hold {
				name += ", chunk held"
			}
			t.Run(name, func(t *testing.T) {
				fsys := newMemFS()
				l, batches := segmentedLog(t, fsys, 18, nil)
				var held []*Chunk
				if hold {
					for off := int64(0); off < 18; off += 4 {
						c, err := l.Read(off, 1<<20)
						if err != nil {
							t.Fatal(err)
						}
						held = append(held, c)
					}
				}
				err := l.TruncateTo(tt.to)
				if !errors.Is(err, tt.err) {
					t.Fatalf("truncate: %v, want %v", err, tt.err)
				}
				want := batches
				if err == nil {
					want = batches[:tt.to]
				}
				if l.EndOffset() != int64(len(want)) || l.Size() != int64(len(concat(want))) {
					t.Fatalf("end %d size %d", l.EndOffset(), l.Size())
				}
				if got := readAll(t, l, 0, 3000); !bytes.Equal(got, concat(want)) {
					t.Fatal("content differs")
				}
				for i, c := range held {
					got, err := c.AppendTo(nil)
					if err != nil || !bytes.Equal(got, concat(batches[4*i:min(4*i+4, 18)])) {
						t.Fatalf("held chunk %d broken by truncation: %v", i, err)
					}
					c.Close()
				}
				// Appends continue at the cut, and everything survives a reopen.
				more := appendN(t, l, 6, 1, 900, 100)
				want = append(append([][]byte{}, want...), more...)
				if err := l.Close(); err != nil {
					t.Fatal(err)
				}
				for _, crash := range []bool{false, true} {
					cfg := testConfig(fsys)
					if crash {
						cfg.FS = fsys.crash(crashOptions{})
					}
					l2 := mustOpen(t, l.Dir(), cfg)
					if got := readAll(t, l2, 0, 3000); !bytes.Equal(got, concat(want)) {
						t.Fatalf("content after reopen (crash %t) differs", crash)
					}
					l2.Close()
				}
			})
		}
	}
}

func TestTruncateToInsideBatch(t *testing.T) {
	l := mustOpen(t, "/d", testConfig(newMemFS()))
	defer l.Close()
	appendN(t, l, 3, 5, 10, 0)
	if err := l.TruncateTo(7); !errors.Is(err, ErrNotBatchBoundary) {
		t.Fatalf("truncate inside a batch: %v", err)
	}
	if l.EndOffset() != 15 {
		t.Fatal("failed truncation changed the log")
	}
}

func TestReset(t *testing.T) {
	for _, to := range []int64{0, 5, 16, 18, 1000} {
		fsys := newMemFS()
		l, batches := segmentedLog(t, fsys, 18, nil)
		c, err := l.Read(16, 100)
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Reset(to); err != nil {
			t.Fatal(err)
		}
		if l.StartOffset() != to || l.EndOffset() != to || l.Size() != 0 || len(l.Segments()) != 1 {
			t.Fatalf("after reset to %d: start %d end %d size %d", to, l.StartOffset(), l.EndOffset(), l.Size())
		}
		if got, err := c.AppendTo(nil); err != nil || !bytes.Equal(got, batches[16]) {
			t.Fatalf("held chunk broken by reset: %v", err)
		}
		c.Close()
		if _, err := l.Read(to-1, 10); to > 0 && !errors.Is(err, ErrOffsetOutOfRange) {
			t.Fatal(err)
		}
		more := appendN(t, l, 3, 2, 10, 0)
		// The reset is durable at once, the appends after the next Sync.
		crashed := fsys.crash(crashOptions{})
		l2 := mustOpen(t, l.Dir(), testConfig(crashed))
		if l2.StartOffset() != to || l2.EndOffset() != to {
			t.Fatalf("reset to %d lost in a crash: [%d, %d)", to, l2.StartOffset(), l2.EndOffset())
		}
		l2.Close()
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		l3 := mustOpen(t, l.Dir(), testConfig(fsys))
		if got := readAll(t, l3, to, 100); !bytes.Equal(got, concat(more)) || l3.StartOffset() != to {
			t.Fatalf("reopen after reset to %d", to)
		}
		l3.Close()
	}
}

func TestClosed(t *testing.T) {
	l := mustOpen(t, "/d", testConfig(newMemFS()))
	appendN(t, l, 2, 1, 10, 0)
	c, err := l.Read(0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if got, err := c.AppendTo(nil); err != nil || len(got) == 0 {
		t.Fatalf("chunk after log close: %v", err)
	}
	c.Close()
	if _, err := c.AppendTo(nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("closed chunk: %v", err)
	}
	for name, err := range map[string]error{
		"close":  l.Close(),
		"append": func() error { _, err := l.Append(buildBatch(batchSpec{}), 0); return err }(),
		"read":   func() error { _, err := l.Read(0, 1); return err }(),
		"sync":   l.Sync(),
		"roll":   l.Roll(),
		"reset":  l.Reset(0),
	} {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after close: %v", name, err)
		}
	}
}
