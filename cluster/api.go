package cluster

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"time"

	"github.com/cairnlog/cairn/partition"
)

// The Kafka layer's view of the cluster. Reads answer from this broker's
// copy of the metadata (every broker holds all of it); writes go through the
// metadata leader, wherever it is, and return once this broker's copy has
// applied them, so a broker reads its own writes. Errors are this package's
// sentinels (errors.go), which the Kafka layer maps to error codes.

// BrokerInfo is a broker as Metadata responses name it.
type BrokerInfo struct {
	ID   int32
	Host string // of the first listener
	Port int32
	Rack string
	// Listeners are the broker's addresses by listener name, the first at
	// Host and Port.
	Listeners []ListenerAddr
}

// ListenerAddr is a broker's advertised address on one listener.
type ListenerAddr struct {
	Name string
	Host string
	Port int32
}

// TopicInfo is a topic as Metadata responses describe it.
type TopicInfo struct {
	Name       string
	ID         [16]byte
	Configs    map[string]string
	Partitions []PartitionInfo
}

// PartitionInfo is one partition of a TopicInfo.
type PartitionInfo struct {
	Index int32
	// Leader is the broker id of the leader, -1 when unknown; LeaderEpoch its
	// epoch (the partition's Raft term). A partition led by this broker
	// reports its live state, any other what its leader last wrote into the
	// metadata.
	Leader      int32
	LeaderEpoch int32
	Replicas    []int32
	// ISR are the replicas caught up with the leader within ReplicaLagMax,
	// in Replicas order (see isr.go): live for a partition led here, else
	// what its leader last reported.
	ISR []int32
	// Target is the reassignment target, nil when none is in progress.
	Target []int32
}

// ClusterID returns the cluster id: generated once by the first controller
// and stored in the metadata; "" until then.
func (b *Broker) ClusterID() string {
	var id string
	b.meta.fsm.view(func(s *metaState) { id = s.ClusterID })
	return id
}

// ControllerID returns the broker id of the metadata leader, -1 when none is
// known.
func (b *Broker) ControllerID() int32 {
	id, _ := b.meta.group.Leader()
	n, err := strconv.ParseInt(id, 10, 32)
	if err != nil {
		return -1
	}
	return int32(n)
}

// Brokers returns the brokers that are alive (registered, not fenced or
// left), sorted by id.
func (b *Broker) Brokers() []BrokerInfo {
	var out []BrokerInfo
	b.meta.fsm.view(func(s *metaState) {
		for _, r := range s.Brokers {
			if r.State != BrokerRegistered {
				continue
			}
			bi := BrokerInfo{ID: r.ID, Rack: r.Rack}
			for _, e := range r.endpoints() {
				host, portStr, _ := net.SplitHostPort(e.Addr)
				port, _ := strconv.ParseInt(portStr, 10, 32)
				bi.Listeners = append(bi.Listeners, ListenerAddr{Name: e.Name, Host: host, Port: int32(port)})
			}
			bi.Host, bi.Port = bi.Listeners[0].Host, bi.Listeners[0].Port
			out = append(out, bi)
		}
	})
	slices.SortFunc(out, func(a, b BrokerInfo) int { return int(a.ID) - int(b.ID) })
	return out
}

// Topics returns every topic, sorted by name.
func (b *Broker) Topics() []TopicInfo {
	var recs []TopicRecord
	b.meta.fsm.view(func(s *metaState) {
		for _, name := range s.topicNames() {
			recs = append(recs, cloneTopic(s.Topics[name]))
		}
	})
	out := make([]TopicInfo, len(recs))
	for i, t := range recs {
		out[i] = b.topicInfo(t)
	}
	return out
}

// Topic returns one topic.
func (b *Broker) Topic(name string) (TopicInfo, bool) {
	var rec TopicRecord
	var ok bool
	b.meta.fsm.view(func(s *metaState) {
		if t, found := s.Topics[name]; found {
			rec, ok = cloneTopic(t), true
		}
	})
	if !ok {
		return TopicInfo{}, false
	}
	return b.topicInfo(rec), true
}

func (b *Broker) topicInfo(t TopicRecord) TopicInfo {
	ti := TopicInfo{Name: t.Name, ID: t.ID, Configs: t.Configs, Partitions: make([]PartitionInfo, len(t.Partitions))}
	for i, p := range t.Partitions {
		pi := PartitionInfo{Index: int32(i), Leader: p.Leader, LeaderEpoch: p.LeaderEpoch, Replicas: p.Replicas, ISR: isrOf(p), Target: p.Target}
		if lr := b.replicas.get(TopicPartition{t.Name, int32(i)}); lr != nil && lr.topicID == t.ID {
			if lr.p.IsLeader() {
				pi.Leader, pi.LeaderEpoch = b.id, lr.p.LeaderEpoch()
				pi.ISR = b.replicas.ledISR(lr, pi.LeaderEpoch, p)
			} else if id, _ := lr.p.Leader(); id != "" {
				if n, err := strconv.ParseInt(id, 10, 32); err == nil && lr.p.LeaderEpoch() >= pi.LeaderEpoch {
					pi.Leader, pi.LeaderEpoch = int32(n), lr.p.LeaderEpoch()
				}
			}
		}
		ti.Partitions[i] = pi
	}
	return ti
}

// LocalPartition returns this broker's replica of a partition, nil when it
// hosts none. The replica may be closed at any time after (topic deleted,
// replica moved): its methods then fail with replication.ErrClosed.
func (b *Broker) LocalPartition(topic string, index int32) *partition.Partition {
	if lr := b.replicas.get(TopicPartition{topic, index}); lr != nil {
		return lr.p
	}
	return nil
}

// CreateTopic creates a topic, placing its partitions over the registered
// brokers (placement.go). Errors: ErrInvalidTopic, ErrTopicExists,
// ErrInvalidPartitions, ErrInvalidReplicationFactor, ErrInvalidConfig,
// ErrNotReady. It returns once the metadata holds the topic; its replicas
// open and elect leaders shortly after (Topic then names the leaders).
func (b *Broker) CreateTopic(ctx context.Context, name string, partitions int32, replicationFactor int16, configs map[string]string) error {
	if err := ValidateTopicName(name); err != nil {
		return err
	}
	if partitions < 1 || partitions > MaxPartitions {
		return fmt.Errorf("%w: %d (want 1 to %d)", ErrInvalidPartitions, partitions, MaxPartitions)
	}
	if replicationFactor < 1 {
		return fmt.Errorf("%w: %d", ErrInvalidReplicationFactor, replicationFactor)
	}
	for k, v := range configs {
		if err := ValidateTopicConfig(k, v); err != nil {
			return err
		}
	}
	return b.write(ctx, cmdCreateTopic, cmdCreateTopicBody{Name: name, ID: newUUID(), Partitions: partitions, ReplicationFactor: replicationFactor, Configs: configs})
}

// DeleteTopic deletes a topic and its committed offsets; every broker then
// closes its replicas and deletes their directories. ErrUnknownTopic.
func (b *Broker) DeleteTopic(ctx context.Context, name string) error {
	return b.write(ctx, cmdDeleteTopic, cmdDeleteTopicBody{Name: name})
}

// CreatePartitions grows a topic to total partitions, placed like a new
// topic's with its replication factor. ErrUnknownTopic, ErrInvalidPartitions,
// ErrInvalidReplicationFactor.
func (b *Broker) CreatePartitions(ctx context.Context, name string, total int32) error {
	ti, ok := b.Topic(name)
	if !ok {
		return fmt.Errorf("%w: %s", ErrUnknownTopic, name)
	}
	return b.write(ctx, cmdCreatePartitions, cmdCreatePartitionsBody{Name: name, Total: total, Seen: int32(len(ti.Partitions))})
}

// AlterTopicConfigs sets (non-nil value) and deletes (nil value) topic
// configs, all or none. Open replicas take the new log settings when they
// next open (TODO(issue 4): apply them to open logs). ErrUnknownTopic,
// ErrInvalidConfig.
func (b *Broker) AlterTopicConfigs(ctx context.Context, name string, set map[string]*string) error {
	for k, v := range set {
		if v == nil {
			continue
		}
		if err := ValidateTopicConfig(k, *v); err != nil {
			return err
		}
	}
	return b.write(ctx, cmdAlterConfigs, cmdAlterConfigsBody{Name: name, Set: set})
}

// AllocateProducerID returns a producer id never handed out before in the
// cluster, with epoch 0. Ids come from blocks of DefaultProducerIDBlock that
// the metadata hands to each broker, so most calls write nothing.
func (b *Broker) AllocateProducerID(ctx context.Context) (id int64, epoch int16, err error) {
	b.pid.Lock()
	defer b.pid.Unlock()
	if b.pid.next >= b.pid.end {
		res, err := b.meta.propose(ctx, encodeCommand(cmdAllocProducerIDs, cmdAllocProducerIDsBody{Broker: b.id, Count: DefaultProducerIDBlock}))
		if err == nil {
			err = res.Err
		}
		if err != nil {
			return 0, 0, err
		}
		b.pid.next, b.pid.end = res.Value, res.Value+DefaultProducerIDBlock
	}
	id = b.pid.next
	b.pid.next++
	return id, 0, nil
}

// CommitOffsets commits a consumer group's offsets, all in one metadata
// command. Offsets of unknown partitions are stored too (Kafka does).
func (b *Broker) CommitOffsets(ctx context.Context, group string, offsets []OffsetCommit) error {
	if len(offsets) == 0 {
		return nil
	}
	return b.write(ctx, cmdCommitOffsets, cmdCommitOffsetsBody{Group: group, Commits: offsets})
}

// FetchOffsets returns a group's committed offsets from this broker's copy.
func (b *Broker) FetchOffsets(group string) map[TopicPartition]OffsetCommit {
	out := map[TopicPartition]OffsetCommit{}
	b.meta.fsm.view(func(s *metaState) {
		for tp, oc := range s.Offsets[group] {
			out[tp] = oc
		}
	})
	return out
}

// Reassign moves a partition to replicas (the first is the preferred
// leader); nil cancels a reassignment not yet complete. It returns once the
// target is recorded; the partition leader then moves the replicas
// (reassign.go) and PartitionInfo.Target is nil once done.
// ErrUnknownTopic, ErrUnknownPartition, ErrInvalidReplicaAssignment,
// ErrReassignmentInProgress.
func (b *Broker) Reassign(ctx context.Context, topic string, index int32, replicas []int32) error {
	if replicas != nil && len(replicas) == 0 {
		return fmt.Errorf("%w: no replicas", ErrInvalidReplicaAssignment)
	}
	return b.write(ctx, cmdReassign, cmdReassignBody{Topic: topic, Partition: index, Replicas: replicas, NowMs: time.Now().UnixMilli()})
}

// Decommission marks broker id as left: the controller removes it from the
// metadata voters (promoting another broker), and it gets no new partitions.
// Its partition replicas stay until reassigned away. A left broker is not
// registered again by gossip.
func (b *Broker) Decommission(ctx context.Context, id int32) error {
	return b.write(ctx, cmdBrokerState, cmdBrokerStateBody{ID: id, State: BrokerLeft})
}

// write proposes a command and returns its own error.
func (b *Broker) write(ctx context.Context, typ cmdType, body any) error {
	res, err := b.meta.propose(ctx, encodeCommand(typ, body))
	if err != nil {
		return err
	}
	return res.Err
}
