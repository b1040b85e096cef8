package consumer

import (
	"context"
	"fmt"
)

// CommitRequest is an OffsetCommit of one group.
type CommitRequest struct {
	Group string
	// MemberID, InstanceID and Generation identify a member of the group;
	// "", "" and -1 commit from outside the group (admin tools, consumers
	// assigning partitions themselves), allowed only while it is Empty.
	MemberID   string
	InstanceID string
	Generation int32
	// Offsets are the commits; Commit owns the map from the call on.
	// CommitTimeMs is set by the coordinator.
	Offsets map[TopicPartition]Offset
}

// commitReq is a validated commit waiting for the committer.
type commitReq struct {
	group   string
	offsets map[TopicPartition]Offset
	done    func(error)
}

// Commit validates a commit against the group's membership, as Kafka does,
// and queues it for the committer, which writes the commits of many
// requests (and groups) in one OffsetStore.Commit. It blocks only while the
// queue is full, until ctx ends: that pushes back on the connection.
//
// done is called once with the outcome of the whole commit: nil (stored),
// ErrNotCoordinator, ErrUnknownMemberID, ErrFencedInstanceID,
// ErrIllegalGeneration, ErrRebalanceInProgress (the group is between
// JoinGroup and SyncGroup), ErrMetadataTooLarge, ctx's error, or the
// store's. It is called either before Commit returns or from the committer
// goroutine, and must not block or call c.
func (c *Coordinator) Commit(ctx context.Context, req CommitRequest, done func(error)) {
	for _, o := range req.Offsets {
		if len(o.Metadata) > c.cfg.MaxMetadataBytes {
			done(ErrMetadataTooLarge)
			return
		}
	}
	if err := c.checkCommit(req); err != nil {
		done(err)
		return
	}
	now := c.clock.Now().UnixMilli()
	for tp, o := range req.Offsets {
		o.CommitTimeMs = now
		req.Offsets[tp] = o
	}
	r := &commitReq{group: req.Group, offsets: req.Offsets, done: done}

	c.mu.Lock()
	if c.mu.closed {
		c.mu.Unlock()
		done(ErrNotCoordinator)
		return
	}
	c.senders.Add(1)
	c.mu.Unlock()
	defer c.senders.Done()
	select {
	case c.queue <- r:
	case <-ctx.Done():
		done(ctx.Err())
	case <-c.closing:
		done(ErrNotCoordinator)
	}
}

// checkCommit is Kafka's validateOffsetCommit. A member's commit also
// counts as a heartbeat.
func (c *Coordinator) checkCommit(req CommitRequest) error {
	member := req.Generation >= 0 || req.MemberID != "" || req.InstanceID != ""
	g, err := c.lockGroup(req.Group, false)
	if err != nil {
		return err
	}
	if g == nil {
		if member {
			// A member of a group this coordinator does not know (it
			// expired, or the coordinator moved): rejoin.
			return ErrIllegalGeneration
		}
		return nil
	}
	defer c.unlockGroup(g)
	if !member {
		if len(g.members) > 0 {
			// Only members may commit while the group has any: this
			// is what refuses an offset reset while consumers run.
			return ErrUnknownMemberID
		}
		return nil
	}
	m, err := g.checkMember(req.MemberID, req.InstanceID)
	if err != nil {
		return err
	}
	if req.Generation != g.generation {
		return ErrIllegalGeneration
	}
	if g.state == CompletingRebalance {
		return ErrRebalanceInProgress
	}
	m.expires = c.clock.Now().Add(m.session)
	return nil
}

// Offsets returns a group's committed offsets from the store's local copy.
// The caller owns the map.
func (c *Coordinator) Offsets(group string) (map[TopicPartition]Offset, error) {
	c.mu.Lock()
	closed := c.mu.closed
	c.mu.Unlock()
	if closed {
		return nil, ErrNotCoordinator
	}
	return c.store.Offsets(group), nil
}

// commitLoop is the committer: it takes the first waiting commit, every
// other one already queued (up to CommitBatch), and writes them in one
// store write; commits queue up behind a write in flight, so the busier
// the coordinator, the larger its writes. It returns when Close closes the
// queue.
func (c *Coordinator) commitLoop() {
	batch := make([]*commitReq, 0, c.cfg.CommitBatch)
	for r := range c.queue {
		batch = append(batch[:0], r)
	drain:
		for len(batch) < c.cfg.CommitBatch {
			select {
			case r, ok := <-c.queue:
				if !ok {
					break drain
				}
				batch = append(batch, r)
			default:
				break drain
			}
		}
		c.write(batch)
		clear(batch) // drop references to answered requests
	}
}

// write stores one batch and answers its requests. Commits of one group are
// merged, later ones overwriting earlier ones partition by partition, so a
// group's commits apply in the order they were queued.
func (c *Coordinator) write(batch []*commitReq) {
	if c.ctx.Err() != nil {
		for _, r := range batch {
			r.done(ErrNotCoordinator)
		}
		return
	}
	commits := make([]GroupCommit, 0, len(batch))
	index := make(map[string]int, len(batch))
	for _, r := range batch {
		i, ok := index[r.group]
		if !ok {
			index[r.group] = len(commits)
			commits = append(commits, GroupCommit{Group: r.group, Offsets: r.offsets})
			continue
		}
		// The first request's map is the coordinator's (Commit owns
		// its requests' maps), so later ones merge into it.
		for tp, o := range r.offsets {
			commits[i].Offsets[tp] = o
		}
	}
	ctx, cancel := context.WithTimeout(c.ctx, c.cfg.CommitTimeout)
	err := c.store.Commit(ctx, commits)
	cancel()
	if err != nil {
		if c.ctx.Err() != nil {
			err = ErrNotCoordinator
		} else {
			err = fmt.Errorf("commit offsets of %d groups: %w", len(commits), err)
		}
		c.logger.Warn("commit offsets failed", "groups", len(commits), "err", err)
	}
	for _, r := range batch {
		r.done(err)
	}
}
