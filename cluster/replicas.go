package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/cairnlog/cairn/internal/broadcast"
	"github.com/cairnlog/cairn/log"
	"github.com/cairnlog/cairn/partition"
	"github.com/cairnlog/cairn/replication"
)

// The replica manager runs on every broker. It makes the set of local
// partition replicas match the metadata: it opens a replica for every
// partition whose Replicas or reassignment Target name this broker, closes
// and deletes the others (deleted topics, replicas moved away), reports the
// leadership of every partition it leads, and, on the partition leader,
// drives reassignments (reassign.go).
//
// It acts only while the local metadata has caught up with the leader's
// commit index: a broker restarting with an old copy must not delete a
// replica of a partition created since.
//
// A replica lives in <data>/<topic>-<partition>/ (DESIGN.md) with its Raft
// state in raft/ below it, and names its topic id in partitionIdentityFile,
// so that the directory of a deleted topic is never reused by a new topic of
// the same name. Its Raft group id is <topic>-<partition>.<first 8 hex digits
// of the topic id> for the same reason (groupID).
const partitionIdentityFile = "cairn-partition.json"

type partitionIdentity struct {
	Topic     string `json:"topic"`
	TopicID   UUID   `json:"topic_id"`
	Partition int32  `json:"partition"`
}

// groupID is the Raft group id of a partition: at most 255 bytes.
func groupID(topic string, index int32, id UUID) string {
	g := fmt.Sprintf("%s-%d.%x", topic, index, id[:4])
	if len(g) > 255 {
		g = fmt.Sprintf("%s-%d", id, index)
	}
	return g
}

func partitionDirName(topic string, index int32) string { return fmt.Sprintf("%s-%d", topic, index) }

// localReplica is one partition replica open on this broker.
type localReplica struct {
	tp      TopicPartition
	topicID UUID
	group   string
	dir     string
	p       *partition.Partition
	// limits are the topic's log settings last applied to p; only the
	// reconcile goroutine touches them.
	limits log.Limits
}

// assignment is what the metadata says of a partition this broker should host.
type assignment struct {
	tp          TopicPartition
	topicID     UUID
	configs     map[string]string
	replicas    []int32
	target      []int32
	initial     []int32
	leader      int32
	leaderEpoch int32
	isr         []int32
}

type replicaManager struct {
	b       *Broker
	changed *broadcast.Signal // a local leadership or ISR changed: report it soon
	isr     *isrTracker
	wg      sync.WaitGroup
	mu      struct {
		sync.Mutex
		byTP        map[TopicPartition]*localReplica
		byGroup     map[string]*localReplica
		reassigning map[string]bool      // group ids with a reassignment goroutine
		preferred   map[string]time.Time // group ids: last hand-over to the preferred leader
		paused      bool                 // shutting down: open nothing, close nothing
		swept       bool                 // orphan directories removed once
	}
}

func newReplicaManager(b *Broker) *replicaManager {
	rm := &replicaManager{b: b, changed: broadcast.New(), isr: newISRTracker()}
	rm.mu.byTP = map[TopicPartition]*localReplica{}
	rm.mu.byGroup = map[string]*localReplica{}
	rm.mu.reassigning = map[string]bool{}
	rm.mu.preferred = map[string]time.Time{}
	return rm
}

// lookupGroup returns the local replica with Raft group id, or nil.
func (rm *replicaManager) lookupGroup(id string) *partition.Partition {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	if lr := rm.mu.byGroup[id]; lr != nil {
		return lr.p
	}
	return nil
}

func (rm *replicaManager) get(tp TopicPartition) *localReplica {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	return rm.mu.byTP[tp]
}

func (rm *replicaManager) all() []*localReplica {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	out := make([]*localReplica, 0, len(rm.mu.byTP))
	for _, lr := range rm.mu.byTP {
		out = append(out, lr)
	}
	return out
}

func (rm *replicaManager) run(ctx context.Context) {
	b := rm.b
	tick := time.NewTicker(b.cfg.ReconcileEvery)
	defer tick.Stop()
	retention := time.NewTicker(b.cfg.RetentionEvery)
	defer retention.Stop()
	for {
		_, metaCh := b.meta.fsm.watch()
		leadCh, localCh := b.metaLeader.C(), rm.changed.C()
		rm.reconcile(ctx)
		select {
		case <-metaCh:
		case <-leadCh:
		case <-localCh:
		case <-tick.C:
		case <-retention.C:
			rm.applyRetention()
		case <-ctx.Done():
			rm.wg.Wait()
			return
		}
	}
}

// assignments returns what the metadata assigns to this broker, and every
// broker's internal address.
func (rm *replicaManager) assignments() (map[TopicPartition]assignment, map[int32]string) {
	me := rm.b.id
	want := map[TopicPartition]assignment{}
	addrs := map[int32]string{}
	rm.b.meta.fsm.view(func(s *metaState) {
		for id, r := range s.Brokers {
			addrs[id] = r.InternalAddr
		}
		for name, t := range s.Topics {
			for i, p := range t.Partitions {
				if !contains(p.Replicas, me) && !contains(p.Target, me) {
					continue
				}
				tp := TopicPartition{name, int32(i)}
				want[tp] = assignment{
					tp: tp, topicID: t.ID, configs: maps.Clone(t.Configs),
					replicas: slices.Clone(p.Replicas), target: slices.Clone(p.Target), initial: slices.Clone(p.Initial),
					leader: p.Leader, leaderEpoch: p.LeaderEpoch, isr: isrOf(p),
				}
			}
		}
	})
	return want, addrs
}

func (rm *replicaManager) reconcile(ctx context.Context) {
	if !rm.b.meta.caughtUp() {
		return
	}
	rm.mu.Lock()
	paused := rm.mu.paused
	rm.mu.Unlock()
	if paused {
		return
	}
	want, addrs := rm.assignments()
	live := map[int32]bool{}
	rm.b.meta.fsm.view(func(s *metaState) {
		for _, id := range s.liveBrokers() {
			live[id] = true
		}
	})
	for _, lr := range rm.all() {
		w, ok := want[lr.tp]
		if !ok || w.topicID != lr.topicID {
			rm.remove(lr)
		}
	}
	rm.sweepOrphans(want)
	var updates []leaderUpdate
	for tp, w := range want {
		if ctx.Err() != nil {
			return
		}
		lr := rm.get(tp)
		if lr == nil {
			var err error
			if lr, err = rm.open(ctx, w, addrs); err != nil {
				rm.b.logger.Error("open replica", "topic", tp.Topic, "partition", tp.Partition, "err", err)
				continue
			}
		}
		// A topic's changed configs reach its open replicas here.
		if lim := logConfig(rm.b.cfg.Log, w.configs).Limits(); lim != lr.limits {
			if err := lr.p.SetLogLimits(lim); err != nil {
				rm.b.logger.Error("apply topic configs", "topic", tp.Topic, "partition", tp.Partition, "err", err)
			} else {
				lr.limits = lim
			}
		}
		if !lr.p.IsLeader() {
			continue
		}
		epoch := lr.p.LeaderEpoch()
		isr := rm.isr.current(lr.group, epoch, rm.b.id, w.replicas, rm.b.cfg.ReplicaLagMax)
		if w.leader != rm.b.id || w.leaderEpoch != epoch || isr != nil && !slices.Equal(isr, w.isr) {
			updates = append(updates, leaderUpdate{Topic: tp.Topic, TopicID: w.topicID, Partition: tp.Partition, Leader: rm.b.id, Epoch: epoch, ISR: isr})
		}
		if w.target != nil {
			rm.startReassign(ctx, lr, w, addrs)
		} else if len(w.replicas) > 0 && w.replicas[0] != rm.b.id && live[w.replicas[0]] {
			rm.preferLeader(ctx, lr, w.replicas[0], addrs[w.replicas[0]])
		}
	}
	if len(updates) > 0 {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := rm.b.meta.propose(pctx, encodeCommand(cmdLeaders, cmdLeadersBody{Updates: updates}))
		cancel()
		if err != nil {
			rm.b.logger.Warn("leadership report failed", "partitions", len(updates), "err", err)
		}
	}
}

// open opens (creating when new) the local replica of w, and bootstraps it
// when this broker is one of the partition's initial replicas.
func (rm *replicaManager) open(ctx context.Context, w assignment, addrs map[int32]string) (*localReplica, error) {
	b := rm.b
	dir := filepath.Join(b.cfg.DataDir, partitionDirName(w.tp.Topic, w.tp.Partition))
	if err := claimPartitionDir(dir, partitionIdentity{Topic: w.tp.Topic, TopicID: w.topicID, Partition: w.tp.Partition}); err != nil {
		return nil, err
	}
	lr := &localReplica{tp: w.tp, topicID: w.topicID, group: groupID(w.tp.Topic, w.tp.Partition, w.topicID), dir: dir,
		limits: logConfig(b.cfg.Log, w.configs).Limits()}
	peers := slices.Concat(w.replicas, w.target)
	p, err := partition.Open(b.node, partition.Config{
		ID:     lr.group,
		Dir:    dir,
		Log:    logConfig(b.cfg.Log, w.configs),
		Raft:   replication.GroupConfig{Timing: b.cfg.PartitionTiming},
		Logger: b.logger.With("topic", w.tp.Topic, "partition", w.tp.Partition),
		Peers: func() []string {
			var out []string
			for _, id := range peers {
				if id != b.id && addrs[id] != "" {
					out = append(out, addrs[id])
				}
			}
			return out
		},
		OnLeadershipChange: func(isLeader bool, epoch int32) {
			b.metrics.leadershipChanges.Inc()
			rm.changed.Notify()
		},
	})
	if err != nil {
		return nil, err
	}
	lr.p = p
	if contains(w.initial, b.id) {
		var servers []raft.Server
		for _, id := range w.initial {
			servers = append(servers, replication.Voter(strconv.Itoa(int(id)), addrs[id]))
		}
		bctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := p.Bootstrap(bctx, servers)
		cancel()
		if err != nil {
			p.Close()
			return nil, fmt.Errorf("bootstrap %s: %w", lr.group, err)
		}
	}
	rm.mu.Lock()
	rm.mu.byTP[lr.tp] = lr
	rm.mu.byGroup[lr.group] = lr
	rm.mu.Unlock()
	b.logger.Info("replica opened", "topic", w.tp.Topic, "partition", w.tp.Partition, "raft_group", lr.group)
	return lr, nil
}

// preferLeader hands the leadership of lr to its preferred replica (the
// first of its replicas, which placement spreads evenly), as Kafka's
// automatic preferred-leader election does: Raft elects whichever replica
// times out first, so without this leaders bunch up on the brokers that
// started first or survived a failure. A partition is handed over at most
// once per preferCooldown, so that a preferred replica that cannot keep the
// leadership does not make it bounce.
func (rm *replicaManager) preferLeader(ctx context.Context, lr *localReplica, to int32, addr string) {
	cooldown := 10 * rm.b.cfg.ReconcileEvery
	rm.mu.Lock()
	if rm.mu.paused || rm.mu.reassigning[lr.group] || time.Since(rm.mu.preferred[lr.group]) < cooldown {
		rm.mu.Unlock()
		return
	}
	rm.mu.preferred[lr.group] = time.Now()
	rm.mu.reassigning[lr.group] = true // one membership or leadership operation at a time
	rm.mu.Unlock()
	rm.wg.Go(func() {
		defer func() {
			rm.mu.Lock()
			delete(rm.mu.reassigning, lr.group)
			rm.mu.Unlock()
		}()
		tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		servers, err := lr.p.Group().Configuration(tctx)
		if err != nil || !slices.ContainsFunc(servers, func(s raft.Server) bool {
			return s.ID == raft.ServerID(strconv.Itoa(int(to))) && s.Suffrage == raft.Voter
		}) {
			return
		}
		if err := lr.p.Group().TransferLeadership(tctx, strconv.Itoa(int(to)), addr); err != nil {
			rm.b.logger.Debug("preferred leader not elected", "topic", lr.tp.Topic, "partition", lr.tp.Partition, "broker", to, "err", err)
		}
	})
}

// claimPartitionDir makes dir the directory of id, deleting what it held
// for an older topic of the same name.
func claimPartitionDir(dir string, id partitionIdentity) error {
	path := filepath.Join(dir, partitionIdentityFile)
	if b, err := os.ReadFile(path); err == nil {
		var cur partitionIdentity
		if json.Unmarshal(b, &cur) == nil && cur == id {
			return nil
		}
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("remove stale replica %s: %w", dir, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, _ := json.Marshal(id)
	return os.WriteFile(path, b, 0o644)
}

// remove closes a replica the metadata no longer assigns here and deletes
// its directory.
func (rm *replicaManager) remove(lr *localReplica) {
	rm.mu.Lock()
	delete(rm.mu.byTP, lr.tp)
	delete(rm.mu.byGroup, lr.group)
	rm.mu.Unlock()
	if err := lr.p.Close(); err != nil {
		rm.b.logger.Warn("close replica", "topic", lr.tp.Topic, "partition", lr.tp.Partition, "err", err)
	}
	if err := os.RemoveAll(lr.dir); err != nil {
		rm.b.logger.Error("delete replica", "topic", lr.tp.Topic, "partition", lr.tp.Partition, "err", err)
		return
	}
	rm.b.logger.Info("replica deleted", "topic", lr.tp.Topic, "partition", lr.tp.Partition)
}

// sweepOrphans deletes, once after start, the replica directories of
// partitions the metadata no longer assigns here (deleted while this broker
// was down).
func (rm *replicaManager) sweepOrphans(want map[TopicPartition]assignment) {
	rm.mu.Lock()
	done := rm.mu.swept
	rm.mu.swept = true
	rm.mu.Unlock()
	if done {
		return
	}
	entries, err := os.ReadDir(rm.b.cfg.DataDir)
	if err != nil {
		return
	}
	for _, e := range entries {
		dir := filepath.Join(rm.b.cfg.DataDir, e.Name())
		b, err := os.ReadFile(filepath.Join(dir, partitionIdentityFile))
		if err != nil {
			continue
		}
		var id partitionIdentity
		if json.Unmarshal(b, &id) != nil {
			continue
		}
		if w, ok := want[TopicPartition{id.Topic, id.Partition}]; ok && w.topicID == id.TopicID {
			continue
		}
		if rm.get(TopicPartition{id.Topic, id.Partition}) != nil {
			continue
		}
		// Only a replica of a topic deleted (or deleted and created
		// again) goes here. One of a live topic that merely no longer
		// lists this broker stays until its partition's group has let it
		// go: deleting a voter's data lets it rejoin with an empty log,
		// which Raft cannot survive.
		live := false
		rm.b.meta.fsm.view(func(s *metaState) {
			t, ok := s.Topics[id.Topic]
			live = ok && t.ID == id.TopicID
		})
		if live {
			continue
		}
		if err := os.RemoveAll(dir); err == nil {
			rm.b.logger.Info("orphan replica deleted", "topic", id.Topic, "partition", id.Partition)
		}
	}
}

// applyRetention applies every local log's retention and age-based roll.
func (rm *replicaManager) applyRetention() {
	for _, lr := range rm.all() {
		l := lr.p.Log()
		if err := l.MaybeRoll(); err != nil {
			rm.b.logger.Warn("roll segment", "topic", lr.tp.Topic, "partition", lr.tp.Partition, "err", err)
		}
		if _, err := l.ApplyRetention(); err != nil {
			rm.b.logger.Warn("retention", "topic", lr.tp.Topic, "partition", lr.tp.Partition, "err", err)
		}
	}
}

// pause stops reconciling: the broker is shutting down.
func (rm *replicaManager) pause() {
	rm.mu.Lock()
	rm.mu.paused = true
	rm.mu.Unlock()
}

// transferLeadership hands the leadership of every partition led here to
// another voter, a few at a time.
func (rm *replicaManager) transferLeadership(ctx context.Context) {
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for _, lr := range rm.all() {
		if !lr.p.IsLeader() {
			continue
		}
		servers, err := lr.p.Group().Configuration(ctx)
		if err != nil || voterCount(servers) < 2 {
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := lr.p.Group().TransferLeadership(ctx, "", ""); err != nil {
				rm.b.logger.Warn("leadership not handed over", "topic", lr.tp.Topic, "partition", lr.tp.Partition, "err", err)
			}
		})
	}
	wg.Wait()
}

// closeAll closes every local replica (their data stays).
func (rm *replicaManager) closeAll() error {
	rm.wg.Wait()
	rm.mu.Lock()
	all := rm.mu.byTP
	rm.mu.byTP = map[TopicPartition]*localReplica{}
	rm.mu.byGroup = map[string]*localReplica{}
	rm.mu.Unlock()
	var wg sync.WaitGroup
	errs := make([]error, 0, len(all))
	var mu sync.Mutex
	for _, lr := range all {
		wg.Go(func() {
			err := lr.p.Close()
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// The internal RPC rpcReplicaStatus reports a local replica's progress, for
// reassignment progress in /v1/cluster:
//
//	request:  the Raft group id
//	response: JSON of replicaStatus
const (
	rpcReplicaStatus        = "cluster.replica.status"
	maxReplicaStatusPayload = 4 << 10
)

type replicaStatus struct {
	LogStartOffset int64  `json:"log_start_offset"`
	HighWatermark  int64  `json:"high_watermark"`
	SizeBytes      int64  `json:"size_bytes"`
	AppliedIndex   uint64 `json:"applied_index"`
}

func (rm *replicaManager) serveStatus(ctx context.Context, req []byte, w io.Writer) error {
	p := rm.lookupGroup(string(req))
	if p == nil {
		return fmt.Errorf("replica %q not on this broker", req)
	}
	b, _ := json.Marshal(localStatus(p))
	_, err := w.Write(b)
	return err
}

func localStatus(p *partition.Partition) replicaStatus {
	return replicaStatus{LogStartOffset: p.LogStartOffset(), HighWatermark: p.HighWatermark(), SizeBytes: p.Log().Size(), AppliedIndex: p.Group().Status().AppliedIndex}
}

func decodeReplicaStatus(b []byte) (replicaStatus, error) {
	var st replicaStatus
	if len(b) > maxReplicaStatusPayload {
		return st, fmt.Errorf("%w: replica status of %d bytes", ErrBadCommand, len(b))
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("%w: replica status: %v", ErrBadCommand, err)
	}
	return st, nil
}

// peerStatus asks the broker at addr for its replica's status.
func (rm *replicaManager) peerStatus(ctx context.Context, addr, group string) (replicaStatus, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	body, err := rm.b.node.Call(ctx, addr, rpcReplicaStatus, []byte(group))
	if err != nil {
		return replicaStatus{}, err
	}
	defer body.Close()
	b, err := io.ReadAll(io.LimitReader(body, maxReplicaStatusPayload+1))
	if err != nil {
		return replicaStatus{}, err
	}
	return decodeReplicaStatus(b)
}
