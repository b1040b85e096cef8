package cluster

import (
	"context"
	"slices"
	"strconv"
	"time"

	"github.com/hashicorp/raft"
)

// A reassignment moves a partition's replicas to a target set. The metadata
// records the target (Reassign); the partition leader then reconciles its
// Raft configuration to it, one step at a time, each step a Raft
// configuration change that commits before the next:
//
//  1. add every target replica missing from the group as a non-voter (its
//     broker's replica manager opens it without bootstrapping; Raft ships it
//     the log, or a snapshot whose restore copies the log's segments);
//  2. promote each one once caught up: its applied index has reached the
//     leader's commit index as it was when the wait began;
//  3. remove every replica not in the target (the leader, if it is one, first
//     hands its leadership to a target voter, which carries on);
//  4. report completion (cmdReassignDone): the metadata makes the target the
//     partition's replicas, and the removed replicas' brokers delete them.
//
// Every step is idempotent and starts from the configuration as it is, so a
// new leader (after a failover or a hand-over) resumes where the last one
// stopped.

// startReassign runs the reassignment of lr on a goroutine of its own,
// unless one runs already.
func (rm *replicaManager) startReassign(ctx context.Context, lr *localReplica, w assignment, addrs map[int32]string) {
	rm.mu.Lock()
	if rm.mu.reassigning[lr.group] || rm.mu.paused {
		rm.mu.Unlock()
		return
	}
	rm.mu.reassigning[lr.group] = true
	rm.mu.Unlock()
	rm.wg.Go(func() {
		defer func() {
			rm.mu.Lock()
			delete(rm.mu.reassigning, lr.group)
			rm.mu.Unlock()
			rm.changed.Notify() // look again: a step may remain
		}()
		rctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		defer cancel()
		if err := rm.reassign(rctx, lr, w, addrs); err != nil {
			rm.b.logger.Warn("reassignment step failed", "topic", lr.tp.Topic, "partition", lr.tp.Partition, "err", err)
		}
	})
}

func (rm *replicaManager) reassign(ctx context.Context, lr *localReplica, w assignment, addrs map[int32]string) error {
	g := lr.p.Group()
	me := rm.b.id
	lg := rm.b.logger.With("topic", lr.tp.Topic, "partition", lr.tp.Partition)
	for {
		if !lr.p.IsLeader() {
			return nil
		}
		servers, err := g.Configuration(ctx)
		if err != nil {
			return err
		}
		cfg := map[int32]raft.Server{}
		for _, s := range servers {
			if id, err := strconv.ParseInt(string(s.ID), 10, 32); err == nil {
				cfg[int32(id)] = s
			}
		}
		// 1. Add missing target replicas as non-voters.
		if id, ok := firstMissing(w.target, cfg); ok {
			lg.Info("reassignment: adding replica", "broker", id)
			if err := g.AddNonvoter(ctx, strconv.Itoa(int(id)), addrs[id]); err != nil {
				return err
			}
			continue
		}
		// 2. Promote caught-up target non-voters.
		promoted := false
		for _, id := range w.target {
			s := cfg[id]
			if s.Suffrage == raft.Voter {
				continue
			}
			if err := rm.waitCaughtUp(ctx, string(s.Address), lr.group); err != nil {
				return err
			}
			lg.Info("reassignment: promoting replica", "broker", id)
			if err := g.AddVoter(ctx, string(s.ID), string(s.Address)); err != nil {
				return err
			}
			promoted = true
			break
		}
		if promoted {
			continue
		}
		// 3. Remove replicas not in the target; hand leadership over first
		// if this one goes.
		var extra []int32
		for id := range cfg {
			if !contains(w.target, id) {
				extra = append(extra, id)
			}
		}
		slices.Sort(extra)
		if len(extra) > 0 {
			id := extra[0]
			if slices.Contains(extra, me) {
				next := w.target[0]
				lg.Info("reassignment: handing leadership over", "broker", next)
				return g.TransferLeadership(ctx, strconv.Itoa(int(next)), addrs[next])
			}
			lg.Info("reassignment: removing replica", "broker", id)
			if err := g.RemoveServer(ctx, strconv.Itoa(int(id))); err != nil {
				return err
			}
			continue
		}
		// 4. The configuration is the target: report.
		_, err = rm.b.meta.propose(ctx, encodeCommand(cmdReassignDone, cmdReassignDoneBody{
			Topic: lr.tp.Topic, TopicID: w.topicID, Partition: lr.tp.Partition, Replicas: w.target,
		}))
		if err == nil {
			lg.Info("reassignment complete", "replicas", w.target)
		}
		return err
	}
}

func firstMissing(target []int32, cfg map[int32]raft.Server) (int32, bool) {
	for _, id := range target {
		if _, ok := cfg[id]; !ok {
			return id, true
		}
	}
	return 0, false
}

// waitCaughtUp waits until the replica at addr has applied everything the
// leader had committed when the wait began. Under a steady write load the
// replica keeps trailing by a few entries; a fixed mark lets it get there.
func (rm *replicaManager) waitCaughtUp(ctx context.Context, addr, group string) error {
	p := rm.lookupGroup(group)
	if p == nil {
		return ErrClosed
	}
	mark := p.Group().Status().CommitIndex
	wait := 20 * time.Millisecond
	for {
		// Not node.PeerStatus: replication's status handler can reach a group
		// still being opened (its raft not yet set) and crash; this RPC only
		// sees replicas whose Open returned.
		st, err := rm.peerStatus(ctx, addr, group)
		if err == nil && st.AppliedIndex >= mark {
			return nil
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
		wait = min(2*wait, 500*time.Millisecond)
	}
}
