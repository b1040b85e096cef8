package consumer

import (
	"context"
	"slices"
	"sync"
)

// OffsetStore holds committed offsets. The cluster implements it on the
// replicated metadata partition; MemoryStore is a local one for tests.
//
// Its methods are safe for concurrent use. The Coordinator calls Commit and
// Delete from one goroutine at a time per group, never concurrently for
// one group, and reads with Offsets and Groups from any goroutine.
type OffsetStore interface {
	// Commit durably stores commits of possibly many groups in one
	// replicated write, applied in slice order (a later commit of the same
	// partition wins). When it returns nil, Offsets reflects the commits.
	// An error means none or all of them were stored; an error wrapping
	// ErrNotCoordinator (or a Raft leadership error) tells the client to
	// find the coordinator again.
	Commit(ctx context.Context, commits []GroupCommit) error
	// Offsets returns a group's committed offsets from the local copy (no
	// network). The caller owns the map.
	Offsets(group string) map[TopicPartition]Offset
	// Groups lists groups that have committed offsets.
	Groups() []string
	// Delete removes a group's offsets (all when partitions is nil).
	Delete(ctx context.Context, group string, partitions []TopicPartition) error
}

// TopicPartition names one partition.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// Offset is a committed position: the offset of the next record the group
// will consume, as OffsetCommit carries it.
type Offset struct {
	Offset       int64
	LeaderEpoch  int32 // -1 when the client did not send one
	Metadata     string
	CommitTimeMs int64 // when the coordinator accepted it
}

// GroupCommit is one group's share of a store write.
type GroupCommit struct {
	Group   string
	Offsets map[TopicPartition]Offset
}

// MemoryStore is an OffsetStore in memory, for tests. The zero value is not
// usable; call NewMemoryStore.
type MemoryStore struct {
	mu struct {
		sync.Mutex
		groups map[string]map[TopicPartition]Offset
		writes int // Commit calls that stored something
	}
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	s := &MemoryStore{}
	s.mu.groups = map[string]map[TopicPartition]Offset{}
	return s
}

// Commit implements OffsetStore. It does not block.
func (s *MemoryStore) Commit(ctx context.Context, commits []GroupCommit) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.writes++
	for _, gc := range commits {
		m := s.mu.groups[gc.Group]
		if m == nil {
			m = make(map[TopicPartition]Offset, len(gc.Offsets))
			s.mu.groups[gc.Group] = m
		}
		for tp, o := range gc.Offsets {
			m[tp] = o
		}
	}
	return nil
}

// Offsets implements OffsetStore.
func (s *MemoryStore) Offsets(group string) map[TopicPartition]Offset {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[TopicPartition]Offset, len(s.mu.groups[group]))
	for tp, o := range s.mu.groups[group] {
		out[tp] = o
	}
	return out
}

// Groups implements OffsetStore; the result is sorted.
func (s *MemoryStore) Groups() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.mu.groups))
	for g, m := range s.mu.groups {
		if len(m) > 0 {
			out = append(out, g)
		}
	}
	slices.Sort(out)
	return out
}

// Delete implements OffsetStore.
func (s *MemoryStore) Delete(ctx context.Context, group string, partitions []TopicPartition) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if partitions == nil {
		delete(s.mu.groups, group)
		return nil
	}
	m := s.mu.groups[group]
	for _, tp := range partitions {
		delete(m, tp)
	}
	if len(m) == 0 {
		delete(s.mu.groups, group)
	}
	return nil
}

// Writes returns how many Commit calls the store has taken.
func (s *MemoryStore) Writes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.writes
}
