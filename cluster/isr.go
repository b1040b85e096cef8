package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"
)

// In-sync replicas. Raft commits an entry once a majority has it, so the ISR
// does not decide what acks=all waits for; it is what an operator reads to see
// which replicas keep up (Metadata, `cairn topic describe`, `cairn cluster
// health`, cairn_partition_under_replicated).
//
// The leader of each partition samples its own applied Raft index every
// ReplicaStatusEvery and asks every follower broker, in one RPC for all the
// partitions it leads there, for their applied indexes. A follower that has
// applied at least what the leader had applied at sample time T was caught up
// at T; it stays in the ISR while its last catch-up is within ReplicaLagMax:
// Kafka's replica.lag.time.max.ms rule. The leader is always in its ISR. A new
// leader starts with every replica caught up at its election, so a follower
// leaves only after failing to catch up for ReplicaLagMax. The leader reports
// its ISR with its leadership into the metadata, so that every broker answers
// Metadata with it.

// The internal RPC rpcReplicaIndexes reports the applied Raft index of local
// replicas:
//
//	request:  JSON array of Raft group ids
//	response: JSON object, group id to applied index, for the groups held here
const (
	rpcReplicaIndexes = "cluster.replica.indexes"
	// maxReplicaIndexesPayload bounds a response: a group id is under 200
	// bytes and an index 20 digits.
	maxReplicaIndexesPayload = 1 << 22
)

func (rm *replicaManager) serveIndexes(ctx context.Context, req []byte, w io.Writer) error {
	var groups []string
	if err := json.Unmarshal(req, &groups); err != nil {
		return fmt.Errorf("%w: replica indexes request: %v", ErrBadCommand, err)
	}
	out := make(map[string]uint64, len(groups))
	for _, g := range groups {
		if p := rm.lookupGroup(g); p != nil {
			out[g] = p.Group().Status().AppliedIndex
		}
	}
	b, _ := json.Marshal(out)
	_, err := w.Write(b)
	return err
}

// peerIndexes asks the broker at addr for the applied index of groups.
func (rm *replicaManager) peerIndexes(ctx context.Context, addr string, groups []string) (map[string]uint64, error) {
	req, _ := json.Marshal(groups)
	body, err := rm.b.node.Call(ctx, addr, rpcReplicaIndexes, req)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	b, err := io.ReadAll(io.LimitReader(body, maxReplicaIndexesPayload+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxReplicaIndexesPayload {
		return nil, fmt.Errorf("%w: replica indexes of %d bytes", ErrBadCommand, len(b))
	}
	var out map[string]uint64
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("%w: replica indexes: %v", ErrBadCommand, err)
	}
	return out, nil
}

// indexSample is the leader's applied index at a time.
type indexSample struct {
	at    time.Time
	index uint64
}

// followerProgress is what a leader knows of its followers in one term.
type followerProgress struct {
	epoch int32
	// samples are the leader's applied index, oldest first, over the last
	// lag period (and the newest one before it).
	samples  []indexSample
	caughtUp map[int32]time.Time // broker id → last time it was caught up
	last     []int32             // the ISR as the previous pass computed it
}

func newFollowerProgress(epoch int32, replicas []int32, now time.Time) *followerProgress {
	fp := &followerProgress{epoch: epoch, caughtUp: make(map[int32]time.Time, len(replicas))}
	for _, id := range replicas {
		fp.caughtUp[id] = now
	}
	return fp
}

// sample records the leader's applied index and forgets samples that can no
// longer keep a follower in the ISR.
func (fp *followerProgress) sample(now time.Time, index uint64, lagMax time.Duration) {
	fp.samples = append(fp.samples, indexSample{now, index})
	cut := now.Add(-lagMax)
	i := 0
	for i+1 < len(fp.samples) && !fp.samples[i+1].at.After(cut) {
		i++
	}
	fp.samples = fp.samples[i:]
}

// observe records that follower id has applied index: it was caught up at the
// newest sample it has reached.
func (fp *followerProgress) observe(id int32, applied uint64) {
	for i := len(fp.samples) - 1; i >= 0; i-- {
		if s := fp.samples[i]; s.index <= applied {
			if s.at.After(fp.caughtUp[id]) {
				fp.caughtUp[id] = s.at
			}
			return
		}
	}
}

// isr returns, in replicas order, the leader and the followers caught up
// within lagMax of now.
func (fp *followerProgress) isr(leader int32, replicas []int32, now time.Time, lagMax time.Duration) []int32 {
	out := make([]int32, 0, len(replicas))
	for _, id := range replicas {
		if t, ok := fp.caughtUp[id]; id == leader || ok && now.Sub(t) <= lagMax {
			out = append(out, id)
		}
	}
	return out
}

// isrTracker holds the followerProgress of the partitions led here, by Raft
// group id.
type isrTracker struct {
	mu     sync.Mutex
	groups map[string]*followerProgress
}

func newISRTracker() *isrTracker { return &isrTracker{groups: map[string]*followerProgress{}} }

// current returns the ISR of a group led here in epoch, or nil when it is not
// tracked in that epoch (not led here, or not sampled yet).
func (t *isrTracker) current(group string, epoch, leader int32, replicas []int32, lagMax time.Duration) []int32 {
	t.mu.Lock()
	defer t.mu.Unlock()
	fp := t.groups[group]
	if fp == nil || fp.epoch != epoch {
		return nil
	}
	return fp.isr(leader, replicas, time.Now(), lagMax)
}

// ledReplica is one partition led here, as trackISR sees it in one pass.
type ledReplica struct {
	group    string
	replicas []int32
}

// trackISR samples and polls once: it records the applied index of every
// partition led here, asks each follower broker for its replicas' indexes,
// and reports whether some ISR changed.
func (rm *replicaManager) trackISR(ctx context.Context) bool {
	b := rm.b
	lagMax := b.cfg.ReplicaLagMax
	replicas := map[TopicPartition][]int32{}
	addrs := map[int32]string{}
	b.meta.fsm.view(func(s *metaState) {
		for id, r := range s.Brokers {
			addrs[id] = r.InternalAddr
		}
		for name, t := range s.Topics {
			for i, p := range t.Partitions {
				if contains(p.Replicas, b.id) {
					replicas[TopicPartition{name, int32(i)}] = slices.Clone(p.Replicas)
				}
			}
		}
	})
	now := time.Now()
	var led []ledReplica
	byBroker := map[int32][]string{}
	t := rm.isr
	t.mu.Lock()
	seen := map[string]bool{}
	for _, lr := range rm.all() {
		reps, ok := replicas[lr.tp]
		if !ok || !lr.p.IsLeader() {
			continue
		}
		l := ledReplica{group: lr.group, replicas: reps}
		fp := t.groups[l.group]
		if epoch := lr.p.LeaderEpoch(); fp == nil || fp.epoch != epoch {
			fp = newFollowerProgress(epoch, reps, now)
			t.groups[l.group] = fp
		}
		fp.sample(now, lr.p.Group().Status().AppliedIndex, lagMax)
		seen[l.group] = true
		led = append(led, l)
		for _, id := range reps {
			if id != b.id {
				byBroker[id] = append(byBroker[id], l.group)
			}
		}
	}
	for g := range t.groups {
		if !seen[g] {
			delete(t.groups, g)
		}
	}
	t.mu.Unlock()

	// One RPC per follower broker, all at once, bounded by the poll period
	// (at least a second) so that a dead broker does not hold back the next
	// pass for long.
	pctx, cancel := context.WithTimeout(ctx, max(b.cfg.ReplicaStatusEvery, time.Second))
	defer cancel()
	var wg sync.WaitGroup
	for id, groups := range byBroker {
		addr := addrs[id]
		if addr == "" {
			continue
		}
		wg.Go(func() {
			indexes, err := rm.peerIndexes(pctx, addr, groups)
			if err != nil {
				b.logger.Debug("replica indexes", "broker", id, "err", err)
				return
			}
			t.mu.Lock()
			defer t.mu.Unlock()
			for g, idx := range indexes {
				if fp := t.groups[g]; fp != nil {
					fp.observe(id, idx)
				}
			}
		})
	}
	wg.Wait()

	now = time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	changed := false
	for _, l := range led {
		fp := t.groups[l.group]
		if fp == nil {
			continue
		}
		if isr := fp.isr(b.id, l.replicas, now, lagMax); !slices.Equal(isr, fp.last) {
			fp.last, changed = isr, true
		}
	}
	return changed
}

// runISR polls every ReplicaStatusEvery until ctx ends, and wakes the
// reconcile loop to report an ISR that changed.
func (rm *replicaManager) runISR(ctx context.Context) {
	tick := time.NewTicker(rm.b.cfg.ReplicaStatusEvery)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			if rm.trackISR(ctx) {
				rm.changed.Notify()
			}
		case <-ctx.Done():
			return
		}
	}
}

// ledISR is the ISR of p, led here in epoch by replica lr: live once tracked,
// else the metadata's.
func (rm *replicaManager) ledISR(lr *localReplica, epoch int32, p PartitionRecord) []int32 {
	if isr := rm.isr.current(lr.group, epoch, rm.b.id, p.Replicas, rm.b.cfg.ReplicaLagMax); isr != nil {
		return isr
	}
	return isrOf(p)
}

// isrOf is a partition's ISR as the metadata holds it: the replicas its leader
// last reported in sync, or all of them before any report.
func isrOf(p PartitionRecord) []int32 {
	if p.ISR == nil {
		return slices.Clone(p.Replicas)
	}
	out := make([]int32, 0, len(p.Replicas))
	for _, id := range p.Replicas {
		if contains(p.ISR, id) {
			out = append(out, id)
		}
	}
	return out
}
