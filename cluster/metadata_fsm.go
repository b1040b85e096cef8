package cluster

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"sync"

	"github.com/hashicorp/raft"
)

// A metadata snapshot is the whole state:
//
//	+----------+---------+-------------------------------+
//	| "CMDS"   | version | body: JSON of snapshotBody     |
//	| 4 B      | 1 B = 1 |                               |
//	+----------+---------+-------------------------------+
//
// Like commands, a reader rejects an unknown version (ErrBadCommand).
const (
	snapshotMagic   = "CMDS"
	snapshotVersion = 1
	// maxSnapshotBytes bounds what Restore reads: the metadata of a very
	// large cluster (offsets of many groups) is well under it.
	maxSnapshotBytes = 1 << 30
)

type snapshotBody struct {
	ClusterID      string           `json:"cluster_id"`
	Brokers        []BrokerRecord   `json:"brokers"`
	Topics         []TopicRecord    `json:"topics"`
	Offsets        []snapshotOffset `json:"offsets"`
	NextProducerID int64            `json:"next_producer_id"`
	TopicsCreated  int32            `json:"topics_created"`
	// AppliedIndex is the Raft index of the last command applied: Snapshot
	// runs on raft's FSM goroutine, so it is exact.
	AppliedIndex uint64 `json:"applied_index"`
}

type snapshotOffset struct {
	Group   string         `json:"group"`
	Commits []OffsetCommit `json:"commits"`
}

func encodeSnapshot(s *metaState, applied uint64) []byte {
	body := snapshotBody{ClusterID: s.ClusterID, NextProducerID: s.NextProducerID, TopicsCreated: s.TopicsCreated, AppliedIndex: applied}
	ids := slices.Sorted(maps.Keys(s.Brokers))
	for _, id := range ids {
		body.Brokers = append(body.Brokers, *s.Brokers[id])
	}
	for _, name := range s.topicNames() {
		body.Topics = append(body.Topics, *s.Topics[name])
	}
	groups := slices.Sorted(maps.Keys(s.Offsets))
	for _, g := range groups {
		so := snapshotOffset{Group: g}
		for _, oc := range s.Offsets[g] {
			so.Commits = append(so.Commits, oc)
		}
		sort.Slice(so.Commits, func(i, j int) bool {
			a, b := so.Commits[i], so.Commits[j]
			return a.Topic < b.Topic || a.Topic == b.Topic && a.Partition < b.Partition
		})
		body.Offsets = append(body.Offsets, so)
	}
	b, err := json.Marshal(body)
	if err != nil {
		panic(fmt.Sprintf("cluster: encode snapshot: %v", err))
	}
	return append(append([]byte(snapshotMagic), snapshotVersion), b...)
}

func decodeSnapshot(b []byte) (*metaState, uint64, error) {
	if len(b) < len(snapshotMagic)+1 || string(b[:len(snapshotMagic)]) != snapshotMagic {
		return nil, 0, fmt.Errorf("%w: snapshot without magic", ErrBadCommand)
	}
	if v := b[len(snapshotMagic)]; v != snapshotVersion {
		return nil, 0, fmt.Errorf("%w: snapshot version %d", ErrBadCommand, v)
	}
	var body snapshotBody
	if err := json.Unmarshal(b[len(snapshotMagic)+1:], &body); err != nil {
		return nil, 0, fmt.Errorf("%w: snapshot: %v", ErrBadCommand, err)
	}
	s := newMetaState()
	s.ClusterID, s.NextProducerID, s.TopicsCreated = body.ClusterID, body.NextProducerID, body.TopicsCreated
	for _, br := range body.Brokers {
		if !br.State.valid() {
			return nil, 0, fmt.Errorf("%w: snapshot: broker %d in state %v", ErrBadCommand, br.ID, br.State)
		}
		s.Brokers[br.ID] = &br
	}
	for _, t := range body.Topics {
		if err := ValidateTopicName(t.Name); err != nil {
			return nil, 0, fmt.Errorf("%w: snapshot: %v", ErrBadCommand, err)
		}
		s.Topics[t.Name] = &t
	}
	for _, so := range body.Offsets {
		m := map[TopicPartition]OffsetCommit{}
		for _, oc := range so.Commits {
			m[TopicPartition{oc.Topic, oc.Partition}] = oc
		}
		s.Offsets[so.Group] = m
	}
	return s, body.AppliedIndex, nil
}

// metaFSM is the metadata group's state machine. Raft calls Apply, Snapshot
// and Restore from its FSM goroutine; readers call view from any goroutine.
type metaFSM struct {
	logger *slog.Logger
	mu     struct {
		sync.RWMutex
		state   *metaState
		applied uint64        // Raft index of the last entry applied
		version uint64        // bumped by every applied entry and restore
		changed chan struct{} // closed and replaced when version moves
	}
}

func newMetaFSM(logger *slog.Logger) *metaFSM {
	f := &metaFSM{logger: logger}
	f.mu.state = newMetaState()
	f.mu.changed = make(chan struct{})
	return f
}

// Apply applies one committed command; its response is a cmdResult.
func (f *metaFSM) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand {
		return cmdResult{}
	}
	c, err := decodeCommand(l.Data)
	f.mu.Lock()
	defer f.mu.Unlock()
	var res cmdResult
	if err != nil {
		// A newer version's command: the state cannot follow it. Record the
		// index and go on rather than stall the group; the operator must
		// upgrade this broker.
		f.logger.Error("metadata command not understood", "index", l.Index, "err", err)
		res = cmdResult{Err: err}
	} else {
		res = f.mu.state.apply(c)
	}
	f.mu.applied = l.Index
	f.bumpLocked()
	return res
}

func (f *metaFSM) bumpLocked() {
	f.mu.version++
	close(f.mu.changed)
	f.mu.changed = make(chan struct{})
}

// Snapshot encodes the state now; Persist writes those bytes.
func (f *metaFSM) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return metaSnapshot(encodeSnapshot(f.mu.state, f.mu.applied)), nil
}

// Restore replaces the state with a snapshot's.
func (f *metaFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxSnapshotBytes+1))
	if err != nil {
		return fmt.Errorf("read metadata snapshot: %w", err)
	}
	if len(b) > maxSnapshotBytes {
		return fmt.Errorf("%w: snapshot larger than %d bytes", ErrBadCommand, maxSnapshotBytes)
	}
	s, applied, err := decodeSnapshot(b)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mu.state, f.mu.applied = s, applied
	f.bumpLocked()
	return nil
}

// view calls fn with the state under the read lock; fn must not keep or
// modify anything it reaches.
func (f *metaFSM) view(fn func(s *metaState)) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	fn(f.mu.state)
}

// watch returns the version and a channel closed when it next moves.
func (f *metaFSM) watch() (uint64, <-chan struct{}) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.mu.version, f.mu.changed
}

// appliedIndex returns the Raft index of the last entry applied.
func (f *metaFSM) appliedIndex() uint64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.mu.applied
}

type metaSnapshot []byte

func (s metaSnapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := io.Copy(sink, bytes.NewReader(s)); err != nil {
		sink.Cancel()
		return fmt.Errorf("persist metadata snapshot: %w", err)
	}
	return sink.Close()
}

func (metaSnapshot) Release() {}
