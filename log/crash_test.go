package log

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"
)

// crashSeed returns CAIRN_CRASH_SEED or a fresh seed, and logs it if the
// test fails so the run can be replayed.
func crashSeed(t *testing.T) uint64 {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("CAIRN_CRASH_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		seed = v
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("replay with CAIRN_CRASH_SEED=%d", seed)
		}
	})
	return seed
}

// crashModel is what the test knows the log must hold.
type crashModel struct {
	hist      map[int64][][]byte // every batch ever appended at a base offset
	cur       map[int64][]byte   // the log's batches now, by base offset
	synced    map[int64][]byte   // the batches covered by the last Sync
	syncedEnd int64              // offsets below it must survive a crash
	start     int64
	end       int64
}

func (m *crashModel) appended(b []byte) {
	h, _ := ParseBatchHeader(b)
	m.hist[h.BaseOffset] = append(m.hist[h.BaseOffset], bytes.Clone(b))
	m.cur[h.BaseOffset] = bytes.Clone(b)
	m.end = h.LastOffset() + 1
}

func TestCrashRecovery(t *testing.T) {
	seed := crashSeed(t)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	fsys := newMemFS()
	cfg := testConfig(fsys)
	cfg.MaxSegmentBytes = 6 << 10
	cfg.IndexIntervalBytes = 300
	cfg.RetentionBytes = 40 << 10
	const dir = "/data/t-0"
	m := &crashModel{hist: map[int64][][]byte{}, cur: map[int64][]byte{}, synced: map[int64][]byte{}}

	rounds := 60
	if testing.Short() {
		rounds = 15
	}
	for round := range rounds {
		cfg.FS = fsys
		l, err := Open(dir, cfg, nil)
		if err != nil {
			t.Fatalf("round %d: open: %v", round, err)
		}
		checkCrashModel(t, round, l, m)
		// The recovered state is the new baseline: a crash image is durable.
		m.cur = map[int64][]byte{}
		m.start, m.end = l.StartOffset(), l.EndOffset()
		m.synced = map[int64][]byte{}
		for _, b := range batchesOf(t, readAll(t, l, m.start, 1<<20)) {
			h, _ := ParseBatchHeader(b)
			m.cur[h.BaseOffset] = b
			m.synced[h.BaseOffset] = b
		}
		m.syncedEnd = m.end

		for range 10 + rng.IntN(50) {
			switch op := rng.IntN(100); {
			case op < 70:
				var in []byte
				for range 1 + rng.IntN(3) {
					in = append(in, buildBatch(batchSpec{
						records: 1 + rng.IntN(5), timestamp: int64(rng.IntN(1e6)),
						valueSize: rng.IntN(900), seed: byte(rng.Uint32()),
					})...)
				}
				if _, err := l.Append(in, int32(round)); err != nil {
					t.Fatalf("round %d: append: %v", round, err)
				}
				for _, b := range batchesOf(t, in) {
					m.appended(b)
				}
			case op < 80:
				if err := l.Sync(); err != nil {
					t.Fatal(err)
				}
				m.synced = map[int64][]byte{}
				for o, b := range m.cur {
					m.synced[o] = b
				}
				m.syncedEnd = m.end
			case op < 85:
				if err := l.Roll(); err != nil {
					t.Fatal(err)
				}
			case op < 90:
				if _, err := l.ApplyRetention(); err != nil {
					t.Fatal(err)
				}
				m.start = l.StartOffset()
			case op < 96:
				// Truncate to a random batch boundary.
				var bounds []int64
				for o := range m.cur {
					if o >= m.start {
						bounds = append(bounds, o)
					}
				}
				if len(bounds) == 0 {
					continue
				}
				to := bounds[rng.IntN(len(bounds))]
				if err := l.TruncateTo(to); err != nil {
					t.Fatalf("round %d: truncate to %d: %v", round, to, err)
				}
				for o := range m.cur {
					if o >= to {
						delete(m.cur, o)
					}
				}
				m.end = to
				m.syncedEnd = min(m.syncedEnd, to)
			case op < 97:
				to := m.end + int64(rng.IntN(3))
				if err := l.Reset(to); err != nil {
					t.Fatal(err)
				}
				m.cur = map[int64][]byte{}
				m.synced = map[int64][]byte{}
				m.start, m.end, m.syncedEnd = to, to, to
			default:
				if err := l.Close(); err != nil {
					t.Fatal(err)
				}
				if l, err = Open(dir, cfg, nil); err != nil {
					t.Fatal(err)
				}
				checkCrashModel(t, round, l, m)
			}
			if l.EndOffset() != m.end || l.StartOffset() != m.start {
				t.Fatalf("round %d: log [%d, %d), model [%d, %d)", round, l.StartOffset(), l.EndOffset(), m.start, m.end)
			}
		}
		// Crash: the old Log is abandoned with its files open, as a process
		// killed by power loss would be.
		fsys = fsys.crash(crashOptions{rng: rng, tearProb: 0.8, flipProb: 0.5})
	}
}

// checkCrashModel checks a freshly opened log against the model: every
// synced batch is there, byte for byte, and nothing served was never
// appended.
func checkCrashModel(t *testing.T, round int, l *Log, m *crashModel) {
	t.Helper()
	if l.EndOffset() < m.syncedEnd {
		t.Fatalf("round %d: recovered end %d below synced end %d", round, l.EndOffset(), m.syncedEnd)
	}
	if l.StartOffset() > max(m.start, 0) {
		t.Fatalf("round %d: recovered start %d above model start %d", round, l.StartOffset(), m.start)
	}
	got := map[int64][]byte{}
	for _, b := range batchesOf(t, readAll(t, l, l.StartOffset(), 1<<20)) {
		h, _ := ParseBatchHeader(b)
		got[h.BaseOffset] = b
		known := false
		for _, hb := range m.hist[h.BaseOffset] {
			if bytes.Equal(withEpoch(hb, h.PartitionLeaderEpoch), b) {
				known = true
			}
		}
		if !known {
			t.Fatalf("round %d: served a batch at %d that was never appended", round, h.BaseOffset)
		}
	}
	for o, b := range m.synced {
		if o < l.StartOffset() || o >= m.syncedEnd {
			continue
		}
		if !bytes.Equal(got[o], b) {
			t.Fatalf("round %d: synced batch at %d lost or changed (start %d end %d synced end %d)",
				round, o, l.StartOffset(), l.EndOffset(), m.syncedEnd)
		}
	}
}

func withEpoch(b []byte, epoch int32) []byte {
	b = bytes.Clone(b)
	h, _ := ParseBatchHeader(b)
	rewriteBatches(b, h.BaseOffset, epoch)
	return b
}

// batchesOf splits a valid concatenation into its batches.
func batchesOf(t *testing.T, b []byte) [][]byte {
	t.Helper()
	var out [][]byte
	for len(b) > 0 {
		h, err := ParseBatchHeader(b)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b[:h.Size()])
		b = b[h.Size():]
	}
	return out
}

func TestCrashModelLosesUnsynced(t *testing.T) {
	// The crash FS itself: unsynced appends and undurable names vanish.
	fsys := newMemFS()
	l := mustOpen(t, "/d", testConfig(fsys))
	appendN(t, l, 3, 1, 10, 0)
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	appendN(t, l, 3, 1, 10, 0)
	l2 := mustOpen(t, "/d", testConfig(fsys.crash(crashOptions{})))
	defer l2.Close()
	if l2.EndOffset() != 3 {
		t.Fatalf("recovered end %d, want 3", l2.EndOffset())
	}
	if _, err := l2.Read(3, 10); err != nil && !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatal(err)
	}
}
