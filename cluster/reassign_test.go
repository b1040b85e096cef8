package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/cairnlog/cairn/log"
	"github.com/cairnlog/cairn/partition"
	"github.com/cairnlog/cairn/replication"
)

func retriable(err error) bool {
	return errors.Is(err, partition.ErrNotLeader) || errors.Is(err, replication.ErrClosed) ||
		errors.Is(err, raft.ErrRaftShutdown) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, raft.ErrLeadershipLost) || errors.Is(err, raft.ErrEnqueueTimeout)
}

// produce appends b to the partition through whichever live replica leads
// it, retrying the same bytes (an idempotent retry) until acknowledged.
func (c *testCluster) produce(ctx context.Context, topic string, index int32, b []byte) (partition.AppendResult, error) {
	wait := 10 * time.Millisecond
	for {
		for _, br := range c.live() {
			p := br.LocalPartition(topic, index)
			if p == nil || !p.IsLeader() {
				continue
			}
			actx, cancel := context.WithTimeout(ctx, 5*time.Second)
			res, err := p.Append(actx, b)
			cancel()
			if err == nil || !retriable(err) {
				return res, err
			}
		}
		// No leader right now: wait for an election (bounded by ctx).
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return partition.AppendResult{}, ctx.Err()
		}
		wait = min(2*wait, 200*time.Millisecond)
	}
}

func idemBatch(pid int64, seq int32, size int) []byte {
	v := bytes.Repeat([]byte{byte(seq)}, size)
	copy(v, fmt.Sprintf("producer %d sequence %d", pid, seq))
	return log.AppendBatch(nil, log.BatchSpec{
		FirstTimestamp: time.Now().UnixMilli(),
		Values:         [][]byte{v},
		Idempotent:     true, ProducerID: pid, BaseSequence: seq,
	})
}

// readAll returns a replica's committed log bytes [start, high watermark).
func readAll(t testing.TB, p *partition.Partition) []byte {
	t.Helper()
	var out []byte
	for off := p.LogStartOffset(); off < p.HighWatermark(); {
		c, err := p.Read(off, 1<<20)
		if err != nil {
			t.Fatalf("read %s at %d: %v", p.ID(), off, err)
		}
		out, err = c.AppendTo(out)
		next := c.NextOffset()
		c.Close()
		if err != nil {
			t.Fatalf("read %s at %d: %v", p.ID(), off, err)
		}
		off = next
	}
	return out
}

// TestReassignUnderLoad adds a fourth broker to a loaded three-broker
// cluster and moves a third of the replicas onto it: no acknowledged write
// is lost or duplicated, and every replica ends byte-identical.
func TestReassignUnderLoad(t *testing.T) {
	c := newTestCluster(t, 3)
	ctx := ctxTimeout(t, 2*time.Minute)
	const topic, parts = "moves", 6
	if err := c.broker(1).CreateTopic(ctx, topic, parts, 3, nil); err != nil {
		t.Fatal(err)
	}
	c.waitLeaders(topic, 30*time.Second)

	// Load: one idempotent producer per partition.
	type ack struct {
		seq int32
		off int64
	}
	var (
		mu     sync.Mutex
		acks   = map[int32][]ack{}
		stop   = make(chan struct{})
		wg     sync.WaitGroup
		errs   = make(chan error, parts)
		nAcked atomic.Int64
	)
	for p := range int32(parts) {
		wg.Go(func() {
			for seq := int32(0); ; seq++ {
				select {
				case <-stop:
					return
				default:
				}
				res, err := c.produce(ctx, topic, p, idemBatch(int64(p)+1, seq, 8192))
				if err != nil {
					errs <- fmt.Errorf("partition %d sequence %d: %w", p, seq, err)
					return
				}
				mu.Lock()
				acks[p] = append(acks[p], ack{seq, res.BaseOffset})
				mu.Unlock()
				nAcked.Add(1)
			}
		})
	}
	// Some data before the new broker arrives, so the move copies a log.
	c.waitFor(30*time.Second, "first writes", func() bool { return nAcked.Load() >= 300 })

	start := time.Now()
	c.add(4)
	regTime := c.waitReady(4, 30*time.Second)
	t.Logf("broker 4 registered and ready %v after start (%v after its Start returned)", time.Since(start), regTime)

	// Move a third of the replicas: in each partition, replica p%3 goes to 4.
	var bytesBefore int64
	targets := map[int32][]int32{}
	ti, _ := c.broker(1).Topic(topic)
	for _, p := range ti.Partitions {
		tgt := slices.Clone(p.Replicas)
		tgt[p.Index%3] = 4
		targets[p.Index] = tgt
		if lp := c.broker(p.Leader).LocalPartition(topic, p.Index); lp != nil {
			bytesBefore += lp.Log().Size()
		}
	}
	moveStart := time.Now()
	for p, tgt := range targets {
		if err := c.broker(2).Reassign(ctx, topic, p, tgt); err != nil {
			t.Fatalf("reassign %d to %v: %v", p, tgt, err)
		}
	}
	// /v1/cluster on each broker names the reassignments in progress; a
	// partition's leader also reports progress.
	for _, b := range c.live() {
		v := b.View(ctx)
		for _, r := range v.Reassignments {
			if r.ProgressPct != nil {
				t.Logf("broker %d: %s/%d progress %.0f%% (%d of %d bytes)", b.ID(), r.Topic, r.Partition, *r.ProgressPct, *r.CopiedBytes, *r.LeaderBytes)
			}
		}
	}
	c.waitFor(90*time.Second, "reassignments complete", func() bool {
		ti, ok := c.broker(4).Topic(topic)
		if !ok {
			return false
		}
		for _, p := range ti.Partitions {
			if p.Target != nil || !sameSet(p.Replicas, targets[p.Index]) {
				return false
			}
		}
		return true
	})
	moveTime := time.Since(moveStart)
	t.Logf("moved %d replicas (%d bytes of leader logs when it began) in %v: %.0f KiB/s",
		parts, bytesBefore, moveTime, float64(bytesBefore)/1024/moveTime.Seconds())

	// A little more load after the move, then stop.
	after := nAcked.Load()
	c.waitFor(30*time.Second, "writes after the move", func() bool { return nAcked.Load() >= after+60 })
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	t.Logf("%d writes acknowledged", nAcked.Load())

	// Replicas moved away are gone; every replica of the target holds the
	// same bytes, containing every acknowledged write exactly once.
	c.waitFor(30*time.Second, "old replicas removed", func() bool {
		for p, tgt := range targets {
			for _, b := range c.live() {
				if (b.LocalPartition(topic, p) != nil) != contains(tgt, b.ID()) {
					return false
				}
			}
		}
		return true
	})
	for p, tgt := range targets {
		var ref []byte
		var hw int64
		for _, id := range tgt {
			lp := c.broker(id).LocalPartition(topic, p)
			hw = max(hw, lp.HighWatermark())
		}
		for _, id := range tgt {
			lp := c.broker(id).LocalPartition(topic, p)
			wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			if _, err := lp.Wait(wctx, hw-1); err != nil {
				t.Fatalf("partition %d on broker %d: high watermark %d, want %d: %v", p, id, lp.HighWatermark(), hw, err)
			}
			cancel()
			got := readAll(t, lp)
			if ref == nil {
				ref = got
				continue
			}
			if !bytes.Equal(got, ref) {
				t.Fatalf("partition %d: broker %d's log (%d bytes) differs from broker %d's (%d bytes)", p, id, len(got), tgt[0], len(ref))
			}
		}
		seen := map[int32]int64{}
		for b := ref; len(b) > 0; {
			h, err := log.ParseBatchHeader(b)
			if err != nil {
				t.Fatal(err)
			}
			if _, dup := seen[h.BaseSequence]; dup {
				t.Fatalf("partition %d: sequence %d twice", p, h.BaseSequence)
			}
			seen[h.BaseSequence] = h.BaseOffset
			b = b[h.Size():]
		}
		for _, a := range acks[p] {
			off, ok := seen[a.seq]
			if !ok {
				t.Fatalf("partition %d: acknowledged sequence %d lost", p, a.seq)
			}
			if off != a.off {
				t.Fatalf("partition %d: sequence %d acknowledged at %d, stored at %d", p, a.seq, a.off, off)
			}
		}
	}
}
