package partition

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cairnlog/cairn/log"
)

// acked is what producers were told: producer id and sequence → offset.
type acked struct {
	mu sync.Mutex
	m  map[[2]int64]int64
}

func (a *acked) add(pid int64, seq int32, off int64) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	k := [2]int64{pid, int64(seq)}
	if prev, ok := a.m[k]; ok && prev != off {
		return fmt.Errorf("producer %d sequence %d acknowledged at %d and at %d", pid, seq, prev, off)
	}
	a.m[k] = off
	return nil
}

// runProducers runs producers idempotent producers writing perProducer
// one-record batches each, starting at sequence from, and calls midway once
// half of all batches are acknowledged.
func runProducers(t *testing.T, c *cluster, a *acked, producers, perProducer int, from int32, midway func()) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	var done atomic.Int64
	var once sync.Once
	var wg sync.WaitGroup
	errs := make(chan error, producers)
	for pid := range int64(producers) {
		wg.Go(func() {
			for i := range int32(perProducer) {
				seq := from + i
				res, err := c.produce(ctx, idemBatch(pid+1, 0, seq))
				if err != nil {
					errs <- fmt.Errorf("producer %d sequence %d: %w", pid+1, seq, err)
					return
				}
				if err := a.add(pid+1, seq, res.BaseOffset); err != nil {
					errs <- err
					return
				}
				if done.Add(1) == int64(producers*perProducer/2) && midway != nil {
					once.Do(midway)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// checkExactlyOnce checks a replica's log against the acknowledgements: every
// acknowledged batch is there exactly once, at the offset it was acknowledged
// at, and each producer's sequences increase with the offsets.
func checkExactlyOnce(t *testing.T, data []byte, a *acked) {
	t.Helper()
	seen := map[[2]int64]int64{}
	lastSeq := map[int64]int32{}
	for _, h := range headers(t, data) {
		k := [2]int64{h.ProducerID, int64(h.BaseSequence)}
		if prev, ok := seen[k]; ok {
			t.Fatalf("producer %d sequence %d stored twice: offsets %d and %d", h.ProducerID, h.BaseSequence, prev, h.BaseOffset)
		}
		seen[k] = h.BaseOffset
		if last, ok := lastSeq[h.ProducerID]; ok && h.BaseSequence != last+1 {
			t.Fatalf("producer %d: sequence %d after %d at offset %d", h.ProducerID, h.BaseSequence, last, h.BaseOffset)
		}
		lastSeq[h.ProducerID] = h.BaseSequence
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for k, off := range a.m {
		got, ok := seen[k]
		switch {
		case !ok:
			t.Fatalf("acknowledged producer %d sequence %d (offset %d) is lost", k[0], k[1], off)
		case got != off:
			t.Fatalf("producer %d sequence %d acknowledged at %d, stored at %d", k[0], k[1], off, got)
		}
	}
}

func TestFailoverKeepsEveryAcknowledgedBatch(t *testing.T) {
	c := newCluster(t, 3, nil)
	first := c.leader(10 * time.Second)
	a := &acked{m: map[[2]int64]int64{}}
	const producers, each = 8, 1250 // 10,000 batches
	runProducers(t, c, a, producers, each, 0, func() {
		// Stop the leader mid-stream; the others elect a new one.
		c.stop(c.leader(10 * time.Second))
	})
	if len(a.m) != producers*each {
		t.Fatalf("%d batches acknowledged, want %d", len(a.m), producers*each)
	}
	second := c.leader(10 * time.Second)
	hw := second.p.HighWatermark()
	if hw != producers*each {
		t.Fatalf("high watermark %d, want %d (one offset per acknowledged batch)", hw, producers*each)
	}
	data := c.sameLogs(hw)
	checkExactlyOnce(t, data, a)

	// The stopped replica comes back and converges, byte for byte.
	for _, r := range c.reps {
		if r.p == nil {
			c.start(r)
		}
	}
	c.sameLogs(hw)
	if first == second {
		t.Log("the first leader was stopped before the second election; fine")
	}
	epochs := second.p.Epochs()
	if len(epochs) < 2 {
		t.Fatalf("leader epochs %+v: want a new epoch after the failover", epochs)
	}
	for i := 1; i < len(epochs); i++ {
		if epochs[i].Epoch <= epochs[i-1].Epoch || epochs[i].StartOffset < epochs[i-1].StartOffset {
			t.Fatalf("leader epochs not increasing: %+v", epochs)
		}
	}
}

func TestRestartAllReplicas(t *testing.T) {
	c := newCluster(t, 3, nil)
	c.leader(10 * time.Second)
	a := &acked{m: map[[2]int64]int64{}}
	runProducers(t, c, a, 4, 250, 0, nil)
	before := c.sameLogs(1000)

	t.Run("clean", func(t *testing.T) {
		for _, r := range c.reps {
			c.stop(r)
		}
		for _, r := range c.reps {
			c.start(r)
		}
		c.leader(10 * time.Second)
		got := c.sameLogs(1000)
		if string(got) != string(before) {
			t.Fatal("logs changed across a clean restart")
		}
		runProducers(t, c, a, 4, 250, 250, nil)
		checkExactlyOnce(t, c.sameLogs(2000), a)
	})

	t.Run("crash", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
		seed := rng.Uint64()
		t.Logf("tear seed %d", seed)
		tr := rand.New(rand.NewPCG(seed, 2))
		// No snapshot was taken (the threshold is out of reach), so nothing of
		// the logs was synced: losing any tail of them is a legal crash.
		for _, r := range c.reps {
			c.crash(r, func(dir string) { tearActiveSegment(t, dir, tr) })
		}
		for _, r := range c.reps {
			c.start(r)
		}
		c.leader(10 * time.Second)
		runProducers(t, c, a, 4, 100, 500, nil)
		checkExactlyOnce(t, c.sameLogs(2400), a)
	})
}

// tearActiveSegment cuts the newest .log file of dir at a random byte, as a
// crash that loses unsynced writes (and tears the last one) leaves it.
func tearActiveSegment(t *testing.T, dir string, rng *rand.Rand) {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.log"))
	if err != nil || len(names) == 0 {
		t.Fatalf("no segment in %s: %v", dir, err)
	}
	sort.Strings(names)
	active := names[len(names)-1]
	fi, err := os.Stat(active)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() == 0 {
		return
	}
	cut := rng.Int64N(fi.Size())
	if err := os.Truncate(active, cut); err != nil {
		t.Fatal(err)
	}
	t.Logf("tore %s from %d to %d bytes", filepath.Base(active), fi.Size(), cut)
}

func TestLaggingReplicaRestoresFromPeers(t *testing.T) {
	c := newCluster(t, 3, func(cfg *Config) { cfg.Raft.TrailingLogs = 16 })
	c.leader(10 * time.Second)
	a := &acked{m: map[[2]int64]int64{}}
	runProducers(t, c, a, 2, 50, 0, nil)
	c.sameLogs(100)

	var lagging *replica
	for _, r := range c.reps {
		if !r.p.IsLeader() {
			lagging = r
			break
		}
	}
	c.stop(lagging)
	runProducers(t, c, a, 2, 500, 50, nil)
	// The others snapshot and trim their Raft logs to 16 entries: the lagging
	// replica can only catch up from a snapshot, and its log from a peer's.
	for _, r := range c.reps {
		if r.p != nil {
			if err := r.p.Group().Snapshot(t.Context()); err != nil {
				t.Fatalf("snapshot %s: %v", r.id, err)
			}
		}
	}
	c.start(lagging)
	checkExactlyOnce(t, c.sameLogs(1100), a)
	if lagging.p.fsm.AppliedIndex() == 0 {
		t.Fatal("the lagging replica applied nothing")
	}
}

func TestIdempotentRetries(t *testing.T) {
	c := newCluster(t, 3, nil)
	ctx := t.Context()
	leader := c.leader(10 * time.Second)

	first, err := leader.p.Append(ctx, idemBatch(9, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	second, err := leader.p.Append(ctx, idemBatch(9, 0, 1))
	if err != nil {
		t.Fatal(err)
	}
	retry, err := leader.p.Append(ctx, idemBatch(9, 0, 0))
	if err != nil || !retry.Duplicate || retry.BaseOffset != first.BaseOffset {
		t.Fatalf("retry = %+v, %v; want a duplicate at %d", retry, err, first.BaseOffset)
	}
	if hw := leader.p.HighWatermark(); hw != 2 {
		t.Fatalf("high watermark %d after a retry, want 2", hw)
	}

	// After a leader change the new leader has the producer state too.
	if err := leader.p.Group().TransferLeadership(ctx, "", ""); err != nil {
		t.Fatalf("transfer leadership: %v", err)
	}
	res, err := c.produce(ctx, idemBatch(9, 0, 1))
	if err != nil || !res.Duplicate || res.BaseOffset != second.BaseOffset {
		t.Fatalf("retry after leader change = %+v, %v; want a duplicate at %d", res, err, second.BaseOffset)
	}
	if _, err := c.produce(ctx, idemBatch(9, 0, 5)); !errors.Is(err, ErrOutOfOrderSequence) {
		t.Fatalf("sequence gap: err = %v, want ErrOutOfOrderSequence", err)
	}
	if _, err := c.produce(ctx, idemBatch(9, 1, 0)); err != nil {
		t.Fatalf("new epoch: %v", err)
	}
	if _, err := c.produce(ctx, idemBatch(9, 0, 2)); !errors.Is(err, ErrInvalidEpoch) {
		t.Fatalf("stale epoch: err = %v, want ErrInvalidEpoch", err)
	}
	hw := c.leader(10 * time.Second).p.HighWatermark()
	if hw != 3 {
		t.Fatalf("high watermark %d, want 3", hw)
	}
	c.sameLogs(hw)
}

func TestLeaderRejectsBadBatchesAndFollowersRefer(t *testing.T) {
	c := newCluster(t, 3, nil)
	ctx := t.Context()
	leader := c.leader(10 * time.Second)

	bad := idemBatch(1, 0, 0)
	bad[len(bad)-1] ^= 0x40 // a bit flip in the record: the CRC no longer matches
	if _, err := leader.p.Append(ctx, bad); !errors.Is(err, log.ErrCorrupt) {
		t.Fatalf("corrupt batch: err = %v, want log.ErrCorrupt", err)
	}
	if _, err := leader.p.Append(ctx, []byte{1, 2, 3}); !errors.Is(err, log.ErrCorrupt) {
		t.Fatalf("truncated batch: err = %v, want log.ErrCorrupt", err)
	}
	if hw := leader.p.HighWatermark(); hw != 0 {
		t.Fatalf("high watermark %d after rejected batches, want 0", hw)
	}
	if _, err := leader.p.Append(ctx, idemBatch(1, 0, 0)); err != nil {
		t.Fatal(err)
	}
	for _, r := range c.reps {
		if r == leader {
			continue
		}
		waitHW(t, r.p, 1, 10*time.Second) // it has heard from the leader
		_, err := r.p.Append(ctx, idemBatch(1, 0, 1))
		if !errors.Is(err, ErrNotLeader) {
			t.Fatalf("append on follower %s: err = %v, want ErrNotLeader", r.id, err)
		}
		id, _ := r.p.Leader()
		if id != leader.id {
			t.Fatalf("follower %s names leader %q, want %q", r.id, id, leader.id)
		}
	}
	// Reading above the high watermark is out of range; at it, empty.
	if _, err := leader.p.Read(2, 100); !errors.Is(err, log.ErrOffsetOutOfRange) {
		t.Fatalf("read above hw: err = %v", err)
	}
	ch, err := leader.p.Read(1, 100)
	if err != nil || ch.Len() != 0 {
		t.Fatalf("read at hw: %v, %v", ch, err)
	}
	ch.Close()
}

func TestWaitWakesLongPoll(t *testing.T) {
	c := newCluster(t, 1, nil)
	leader := c.leader(10 * time.Second)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := leader.p.Wait(ctx, 0); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("wait on an empty partition: %v, want a deadline", err)
	}
	got := make(chan int64, 1)
	go func() {
		hw, _ := leader.p.Wait(t.Context(), 0)
		got <- hw
	}()
	if _, err := leader.p.Append(t.Context(), idemBatch(3, 0, 0)); err != nil {
		t.Fatal(err)
	}
	if hw := <-got; hw != 1 {
		t.Fatalf("woken at high watermark %d, want 1", hw)
	}
}

func TestMaintainAppliesRetention(t *testing.T) {
	c := newCluster(t, 1, func(cfg *Config) {
		cfg.Log.MaxSegmentBytes = 4 << 10
		cfg.Log.RetentionBytes = 8 << 10
	})
	leader := c.leader(10 * time.Second)
	for seq := range int32(200) {
		if _, err := leader.p.Append(t.Context(), idemBatch(1, 0, seq)); err != nil {
			t.Fatal(err)
		}
	}
	deleted, err := leader.p.Maintain()
	if err != nil {
		t.Fatal(err)
	}
	start := leader.p.LogStartOffset()
	if deleted == 0 || start == 0 {
		t.Fatalf("retention deleted %d segments, log start %d: want both above 0", deleted, start)
	}
	if leader.p.Log().Size() > 8<<10+4<<10 {
		t.Fatalf("log holds %d bytes, retention is 8 KiB plus the active segment", leader.p.Log().Size())
	}
	if _, err := leader.p.Read(0, 100); !errors.Is(err, log.ErrOffsetOutOfRange) {
		t.Fatalf("read below the log start: err = %v", err)
	}
	if hw := leader.p.HighWatermark(); hw != 200 {
		t.Fatalf("high watermark %d, want 200", hw)
	}
}
