package log

import (
	"bytes"
	"errors"
	"testing"
)

// TestTruncateCorruptThenRefill damages a sealed segment in the ways a disk
// can, finds the damage on a read, cuts the log there with TruncateCorrupt
// and appends the lost batches again from the intact copy: the log must end
// byte-identical to the original.
func TestTruncateCorruptThenRefill(t *testing.T) {
	tests := []struct {
		name    string
		segment int
		mangle  func(b []byte) []byte
		index   bool // mangle the offset index instead of the log
	}{
		{"payload bit flip", 1, func(b []byte) []byte { b[len(b)/2] ^= 0x10; return b }, false},
		{"crc bit flip", 1, func(b []byte) []byte { b[offCRC] ^= 0x01; return b }, false},
		{"first batch", 0, func(b []byte) []byte { b[BatchHeaderSize+1] ^= 0x80; return b }, false},
		{"last segment", -1, func(b []byte) []byte { b[len(b)-3] ^= 0x04; return b }, false},
		{"index entry", 1, func(b []byte) []byte { b[8+4] ^= 0x01; return b }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, want, cfg := recoveryLog(t)
			suffix := ".log"
			if tt.index {
				suffix = ".index"
			}
			mangle(t, dir, tt.segment, suffix, tt.mangle)
			l := mustOpen(t, dir, cfg)
			defer l.Close()
			end := l.EndOffset()

			// Find the damage the way a reader does.
			bad, badNext := int64(-1), int64(-1)
			for off := l.StartOffset(); off < end && bad < 0; {
				c, err := l.Read(off, 2000)
				if err == nil {
					err = c.Verify()
				}
				switch {
				case errors.Is(err, ErrCorrupt):
					bad, badNext = off, end
					if c != nil {
						badNext = c.NextOffset()
					}
				case err != nil:
					t.Fatalf("read %d: %v", off, err)
				default:
					off = c.NextOffset()
				}
				if c != nil {
					c.Close()
				}
			}
			if bad < 0 {
				t.Fatal("no read reported the damage")
			}
			cut, truncated, err := l.TruncateCorrupt(bad)
			if err != nil || !truncated || cut >= badNext || cut != l.EndOffset() {
				t.Fatalf("TruncateCorrupt(%d) = %d, %t, %v; log end %d", bad, cut, truncated, err, l.EndOffset())
			}
			got := readAll(t, l, 0, 2000)
			if !bytes.Equal(got, want[:len(got)]) {
				t.Fatal("the log kept bytes that differ from the original")
			}
			// Refill from the intact copy, as a replica does from a peer.
			if _, err := l.AppendRaw(append([]byte(nil), want[len(got):]...)); err != nil {
				t.Fatalf("append the lost batches again: %v", err)
			}
			if l.EndOffset() != end {
				t.Fatalf("log end %d after refill, want %d", l.EndOffset(), end)
			}
			checkLog(t, l, want)
			if _, truncated, err := l.TruncateCorrupt(bad); err != nil || truncated {
				t.Fatalf("TruncateCorrupt on a sound segment: %t, %v", truncated, err)
			}

			// And the repaired log survives a reopen.
			// (checkLog appended a batch.)
			before := readAll(t, l, 0, 2000)
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			l = mustOpen(t, dir, cfg)
			if got := readAll(t, l, 0, 2000); !bytes.Equal(got, before) {
				t.Fatalf("reopened log holds %d bytes, %d before", len(got), len(before))
			}
		})
	}
}

func TestTruncateCorruptBounds(t *testing.T) {
	dir, _, cfg := recoveryLog(t)
	l := mustOpen(t, dir, cfg)
	defer l.Close()
	for _, off := range []int64{-1, l.EndOffset(), l.EndOffset() + 1} {
		if _, _, err := l.TruncateCorrupt(off); !errors.Is(err, ErrOffsetOutOfRange) {
			t.Fatalf("TruncateCorrupt(%d): %v, want ErrOffsetOutOfRange", off, err)
		}
	}
}

func TestRecoveryReportsLostSyncedBatches(t *testing.T) {
	dir, _, cfg := recoveryLog(t)
	l := mustOpen(t, dir, cfg)
	if r := l.Recovery(); !r.Clean || r.LostSynced() {
		t.Fatalf("intact log: %+v", r)
	}
	end := l.EndOffset()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	mangle(t, dir, 0, ".log", func(b []byte) []byte { return b[:len(b)-10] })
	l = mustOpen(t, dir, cfg)
	defer l.Close()
	if r := l.Recovery(); !r.LostSynced() || r.RecoveryPoint != end || r.EndOffset != l.EndOffset() {
		t.Fatalf("log with a truncated sealed segment: %+v, end %d", r, l.EndOffset())
	}
}
