package partition

import (
	"bytes"
	"context"
	"errors"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/cairnlog/cairn/log"
)

// fsmEntries returns n committed entries of term 1 onwards (a new term every 10),
// each one idempotent batch of producer 1.
func fsmEntries(n int) []*raft.Log {
	var out []*raft.Log
	for i := range n {
		out = append(out, &raft.Log{
			Index: uint64(i + 1), Term: uint64(1 + i/10), Type: raft.LogCommand,
			Data: encodeEntry(int64(1000+i), idemBatch(1, 0, int32(i))),
		})
	}
	return out
}

func openTestFSM(t *testing.T, dir string) (*FSM, *log.Log) {
	t.Helper()
	l, err := log.Open(dir, log.Config{MaxSegmentBytes: 4 << 10}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return newFSM(l, testLogger(t), time.Hour, t.Context()), l
}

func logBytes(t *testing.T, l *log.Log) []byte {
	t.Helper()
	var out []byte
	for off := l.StartOffset(); off < l.EndOffset(); {
		c, err := l.Read(off, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		out, err = c.AppendTo(out)
		off = c.NextOffset()
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func TestFSMReplayAppendsNothingTwice(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "p")
	entries := fsmEntries(50)
	f, l := openTestFSM(t, dir)
	for _, r := range f.ApplyBatch(entries) {
		if res := r.(*AppendResult); res.Err != nil {
			t.Fatal(res.Err)
		}
	}
	want := logBytes(t, l)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	// A restart with no snapshot: Raft replays every entry into a new FSM.
	f2, l2 := openTestFSM(t, dir)
	for _, e := range entries {
		if res := f2.Apply(e).(*AppendResult); res.Err != nil || res.Duplicate {
			t.Fatalf("replay of %d: %+v", e.Index, res)
		}
	}
	if got := logBytes(t, l2); !bytes.Equal(got, want) {
		t.Fatalf("replay changed the log: %d bytes, want %d", len(got), len(want))
	}
	if f2.HighWatermark() != 50 || l2.EndOffset() != 50 {
		t.Fatalf("after replay hw %d, log end %d; want 50", f2.HighWatermark(), l2.EndOffset())
	}
	// The replayed producer state answers a retry like the original did.
	retry := &raft.Log{Index: 51, Term: 5, Type: raft.LogCommand, Data: encodeEntry(2000, idemBatch(1, 0, 49))}
	if res := f2.Apply(retry).(*AppendResult); !res.Duplicate || res.BaseOffset != 49 {
		t.Fatalf("retry after replay: %+v", res)
	}
	epochs := f2.Epochs()
	if len(epochs) != 5 || epochs[4] != (EpochStart{Epoch: 5, StartOffset: 40}) {
		t.Fatalf("epochs after replay: %+v", epochs)
	}
}

func TestFSMReplayRepairsALostTail(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "p")
	entries := fsmEntries(30)
	f, l := openTestFSM(t, dir)
	f.ApplyBatch(entries)
	want := logBytes(t, l)
	if err := l.TruncateTo(17); err != nil { // as recovery after a torn write would
		t.Fatal(err)
	}
	f2 := newFSM(l, testLogger(t), time.Hour, t.Context())
	f2.ApplyBatch(entries)
	if got := logBytes(t, l); !bytes.Equal(got, want) {
		t.Fatalf("log after replaying over a lost tail differs: %d bytes, want %d", len(got), len(want))
	}
}

func TestFSMSnapshotRestore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "p")
	entries := fsmEntries(40)
	f, l := openTestFSM(t, dir)
	f.ApplyBatch(entries[:25])
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	sink := &memSink{}
	if err := snap.Persist(sink); err != nil {
		t.Fatal(err)
	}
	f.ApplyBatch(entries[25:])
	want := logBytes(t, l)

	// Restore on the same log (a restart): the log is ahead of the snapshot and
	// is kept; replaying the entries after the snapshot appends nothing.
	f2 := newFSM(l, testLogger(t), time.Hour, t.Context())
	if err := f2.Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))); err != nil {
		t.Fatal(err)
	}
	if f2.HighWatermark() != 25 {
		t.Fatalf("hw after restore %d, want 25", f2.HighWatermark())
	}
	f2.ApplyBatch(entries[25:])
	if got := logBytes(t, l); !bytes.Equal(got, want) {
		t.Fatal("replay after restore changed the log")
	}

	// Restore on an empty log with no peer: an error, not a silent gap.
	f3, _ := openTestFSM(t, filepath.Join(t.TempDir(), "q"))
	if err := f3.Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))); err == nil {
		t.Fatal("restore into an empty log with no peer succeeded")
	}

	// Restore on an empty log with a peer: fetched, then identical.
	f4, l4 := openTestFSM(t, filepath.Join(t.TempDir(), "r"))
	f4.fetch = func(ctx context.Context, from, to int64) error {
		c, err := l.ReadBelow(from, to, 1<<20)
		if err != nil {
			return err
		}
		defer c.Close()
		b, err := c.AppendTo(nil)
		if err != nil {
			return err
		}
		_, err = l4.AppendRaw(b)
		return err
	}
	if err := f4.Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))); err != nil {
		t.Fatal(err)
	}
	f4.ApplyBatch(entries[25:])
	if got := logBytes(t, l4); !bytes.Equal(got, want) {
		t.Fatal("a log fetched from a peer and replayed differs")
	}

	// A corrupt manifest is refused.
	if err := f4.Restore(io.NopCloser(bytes.NewReader([]byte("{")))); !errors.Is(err, ErrBadSnapshot) {
		t.Fatalf("corrupt manifest: %v", err)
	}
}

// memSink is a raft.SnapshotSink in memory.
type memSink struct {
	bytes.Buffer
	cancelled bool
}

func (s *memSink) ID() string    { return "mem" }
func (s *memSink) Cancel() error { s.cancelled = true; return nil }
func (s *memSink) Close() error  { return nil }

func FuzzDecodeEntry(f *testing.F) {
	f.Add(encodeEntry(1, idemBatch(1, 0, 0)))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		ms, batches, err := decodeEntry(b)
		if err != nil {
			return
		}
		if again := encodeEntry(ms, batches); !bytes.Equal(again, b) {
			t.Fatalf("re-encoding differs")
		}
	})
}

func FuzzDecodeManifest(f *testing.F) {
	b, _ := encodeManifest(manifest{Version: 1, EndOffset: 3, Producers: []producerState{{ID: 1, Batches: []seqEntry{{0, 1, 0, 1}}}}})
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeManifest(b)
		if err == nil && (m.StartOffset < 0 || m.EndOffset < m.StartOffset) {
			t.Fatalf("accepted offsets [%d, %d)", m.StartOffset, m.EndOffset)
		}
	})
}

func FuzzDecodeReadRequest(f *testing.F) {
	f.Add(encodeReadRequest("orders-0", 5, 10))
	f.Fuzz(func(t *testing.T, b []byte) {
		id, from, to, err := decodeReadRequest(b)
		if err != nil {
			return
		}
		if !bytes.Equal(encodeReadRequest(id, from, to), b) {
			t.Fatal("re-encoding differs")
		}
	})
}

// ApplyBatch writes its entries with one append per leader epoch; the log
// must come out exactly as entry-by-entry applies leave it.
func TestFSMApplyBatchMatchesApply(t *testing.T) {
	entries := fsmEntries(35) // terms change every 10 entries
	one, lone := openTestFSM(t, filepath.Join(t.TempDir(), "one"))
	for _, e := range entries {
		if res := one.Apply(e).(*AppendResult); res.Err != nil {
			t.Fatal(res.Err)
		}
	}
	batched, lbatched := openTestFSM(t, filepath.Join(t.TempDir(), "batched"))
	for i, r := range batched.ApplyBatch(entries) {
		res := r.(*AppendResult)
		if res.Err != nil || res.BaseOffset != int64(i) {
			t.Fatalf("entry %d: %+v", i, res)
		}
	}
	if !bytes.Equal(logBytes(t, lone), logBytes(t, lbatched)) {
		t.Fatal("ApplyBatch left a different log than Apply")
	}
	if hw := batched.HighWatermark(); hw != 35 {
		t.Fatalf("high watermark %d, want 35", hw)
	}
	if got, want := batched.Epochs(), one.Epochs(); len(got) != len(want) || got[3] != want[3] {
		t.Fatalf("epochs %+v, want %+v", got, want)
	}
}
