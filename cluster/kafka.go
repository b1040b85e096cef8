package cluster

import (
	"context"
	"errors"
	"maps"
	"path/filepath"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/cairnlog/cairn/consumer"
	"github.com/cairnlog/cairn/kafka"
	"github.com/cairnlog/cairn/partition"
	"github.com/cairnlog/cairn/wire"
)

// The Kafka front door: package kafka serves the Kafka APIs over a Backend;
// kafkaBackend is this broker as that Backend. The group coordinator for
// every group is the metadata leader (as the map decides): it runs on the
// broker that leads the metadata group, and its offsets are commands of the
// metadata group (metaOffsets).

// KafkaHandler returns a Config.KafkaHandler serving the Kafka APIs with
// package kafka, configured by cfg.
func KafkaHandler(cfg kafka.Config) func(*Broker) wire.Handler {
	return func(b *Broker) wire.Handler {
		if cfg.Logger == nil {
			cfg.Logger = b.logger
		}
		if cfg.Metrics == nil {
			cfg.Metrics = b.metrics
		} else {
			cfg.Metrics = teeMetrics{cfg.Metrics, b.metrics}
		}
		h := kafka.NewHandler(kafkaBackend{b}, cfg)
		b.kafkaHandler = h
		return h
	}
}

// kafkaBackend adapts a Broker to kafka.Backend.
type kafkaBackend struct{ b *Broker }

var _ kafka.Backend = kafkaBackend{}

func (k kafkaBackend) LogDir() (string, int64, int64) {
	dir := k.b.cfg.DataDir
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	free, total, err := diskSpace(k.b.cfg.DataDir)
	if err != nil {
		return dir, -1, -1
	}
	return dir, int64(total), int64(free)
}

func (k kafkaBackend) ID() int32           { return k.b.ID() }
func (k kafkaBackend) ClusterID() string   { return k.b.ClusterID() }
func (k kafkaBackend) ControllerID() int32 { return k.b.ControllerID() }

func (k kafkaBackend) Brokers() []kafka.BrokerInfo {
	bs := k.b.Brokers()
	out := make([]kafka.BrokerInfo, len(bs))
	for i, b := range bs {
		out[i] = kafka.BrokerInfo{ID: b.ID, Host: b.Host, Port: b.Port, Rack: b.Rack, Listeners: make([]kafka.Endpoint, len(b.Listeners))}
		for j, l := range b.Listeners {
			out[i].Listeners[j] = kafka.Endpoint{Listener: l.Name, Host: l.Host, Port: l.Port}
		}
	}
	return out
}

func (k kafkaBackend) Topics() []kafka.TopicInfo {
	ts := k.b.Topics()
	out := make([]kafka.TopicInfo, len(ts))
	for i, t := range ts {
		out[i] = kafkaTopic(t)
	}
	return out
}

func (k kafkaBackend) Topic(name string) (kafka.TopicInfo, bool) {
	t, ok := k.b.Topic(name)
	if !ok {
		return kafka.TopicInfo{}, false
	}
	return kafkaTopic(t), true
}

func kafkaTopic(t TopicInfo) kafka.TopicInfo {
	out := kafka.TopicInfo{Name: t.Name, ID: t.ID, Configs: t.Configs, Partitions: make([]kafka.PartitionInfo, len(t.Partitions))}
	for i, p := range t.Partitions {
		out.Partitions[i] = kafka.PartitionInfo{Index: p.Index, Leader: p.Leader, LeaderEpoch: p.LeaderEpoch, Replicas: p.Replicas, ISR: p.ISR, Target: p.Target}
	}
	return out
}

func (k kafkaBackend) LocalPartition(topic string, p int32) *partition.Partition {
	return k.b.LocalPartition(topic, p)
}

func (k kafkaBackend) CreateTopic(ctx context.Context, name string, partitions int32, rf int16, configs map[string]string) error {
	return kafkaError(k.b.CreateTopic(ctx, name, partitions, rf, configs))
}

func (k kafkaBackend) DeleteTopic(ctx context.Context, name string) error {
	return kafkaError(k.b.DeleteTopic(ctx, name))
}

func (k kafkaBackend) CreatePartitions(ctx context.Context, name string, total int32) error {
	return kafkaError(k.b.CreatePartitions(ctx, name, total))
}

func (k kafkaBackend) AlterTopicConfigs(ctx context.Context, name string, set map[string]*string) error {
	return kafkaError(k.b.AlterTopicConfigs(ctx, name, set))
}

func (k kafkaBackend) AllocateProducerID(ctx context.Context) (int64, int16, error) {
	id, epoch, err := k.b.AllocateProducerID(ctx)
	return id, epoch, kafkaError(err)
}

func (k kafkaBackend) Reassign(ctx context.Context, topic string, p int32, replicas []int32) error {
	return kafkaError(k.b.Reassign(ctx, topic, p, replicas))
}

func (k kafkaBackend) Decommission(ctx context.Context, id int32) error {
	return kafkaError(k.b.Decommission(ctx, id))
}

func (k kafkaBackend) Groups() *consumer.Coordinator { return k.b.groups.Load() }

// kafkaError wraps a cluster error with the kafka sentinel of the same
// meaning, so that the front door answers with the right Kafka code; the
// cluster error stays in the chain for the log.
func kafkaError(err error) error {
	if err == nil {
		return nil
	}
	for _, m := range []struct{ ours, theirs error }{
		{ErrTopicExists, kafka.ErrTopicExists},
		{ErrUnknownTopic, kafka.ErrUnknownTopic},
		{ErrInvalidTopic, kafka.ErrInvalidTopic},
		{ErrInvalidReplicationFactor, kafka.ErrInvalidReplicationFactor},
		{ErrInvalidPartitions, kafka.ErrInvalidPartitions},
		{ErrInvalidConfig, kafka.ErrInvalidConfig},
		{ErrNotReady, kafka.ErrNotController},
		{ErrInvalidReplicaAssignment, kerr.InvalidReplicaAssignment},
		{ErrReassignmentInProgress, kerr.ReassignmentInProgress},
		{ErrUnknownPartition, kerr.UnknownTopicOrPartition},
		{ErrUnknownBroker, kafka.ErrUnknownBroker},
		{context.DeadlineExceeded, kafka.ErrTimeout},
	} {
		if errors.Is(err, m.ours) {
			return &mappedError{err: err, kind: m.theirs}
		}
	}
	return err
}

// mappedError is a cluster error that also matches a kafka sentinel.
type mappedError struct{ err, kind error }

func (e *mappedError) Error() string   { return e.err.Error() }
func (e *mappedError) Unwrap() []error { return []error{e.err, e.kind} }

// runGroups keeps a group coordinator running while this broker leads the
// metadata group, and none otherwise: clients of a broker that stopped
// leading get NOT_COORDINATOR, find the new leader, and rejoin there (group
// membership is in memory; committed offsets are in the metadata).
func (b *Broker) runGroups(ctx context.Context) {
	defer func() {
		if c := b.groups.Swap(nil); c != nil {
			c.Close()
		}
	}()
	for {
		ch := b.metaLeader.C()
		leading := b.meta.group.IsLeader() && !b.stopping.Load()
		switch cur := b.groups.Load(); {
		case leading && cur == nil:
			// A new leader may not have applied every committed offset yet: a
			// coordinator serving from a stale copy would hand out older
			// offsets and let commits go backwards. The barrier waits until
			// everything committed before this term is applied here.
			bctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err := b.meta.group.Barrier(bctx)
			cancel()
			if err != nil {
				b.logger.Warn("group coordinator not started: metadata barrier", "err", err)
				break
			}
			cfg := b.cfg.Groups
			if cfg.Logger == nil {
				cfg.Logger = b.logger
			}
			b.groups.Store(consumer.New(cfg, metaOffsets{b}))
			b.logger.Info("group coordinator started")
		case !leading && cur != nil:
			b.groups.Store(nil)
			cur.Close()
			b.logger.Info("group coordinator stopped")
		}
		select {
		case <-ch:
		case <-time.After(b.cfg.ReconcileEvery):
			// Shutdown sets stopping without a leadership change.
		case <-ctx.Done():
			return
		}
	}
}

// metaOffsets is the group coordinator's OffsetStore: commits are metadata
// commands (one per batch of groups), reads come from this broker's copy.
type metaOffsets struct{ b *Broker }

var _ consumer.OffsetStore = metaOffsets{}

func (m metaOffsets) Commit(ctx context.Context, commits []consumer.GroupCommit) error {
	body := cmdCommitGroupsBody{Groups: make([]cmdCommitOffsetsBody, 0, len(commits))}
	for _, gc := range commits {
		g := cmdCommitOffsetsBody{Group: gc.Group, Commits: make([]OffsetCommit, 0, len(gc.Offsets))}
		for _, tp := range slices.SortedFunc(maps.Keys(gc.Offsets), compareTP) {
			o := gc.Offsets[tp]
			g.Commits = append(g.Commits, OffsetCommit{Topic: tp.Topic, Partition: tp.Partition, Offset: o.Offset,
				LeaderEpoch: o.LeaderEpoch, Metadata: o.Metadata, CommitTimeMs: o.CommitTimeMs})
		}
		body.Groups = append(body.Groups, g)
	}
	return m.b.write(ctx, cmdCommitGroups, body)
}

func compareTP(a, b consumer.TopicPartition) int {
	if a.Topic != b.Topic {
		if a.Topic < b.Topic {
			return -1
		}
		return 1
	}
	return int(a.Partition) - int(b.Partition)
}

func (m metaOffsets) Offsets(group string) map[consumer.TopicPartition]consumer.Offset {
	out := map[consumer.TopicPartition]consumer.Offset{}
	for tp, oc := range m.b.FetchOffsets(group) {
		out[consumer.TopicPartition{Topic: tp.Topic, Partition: tp.Partition}] = consumer.Offset{
			Offset: oc.Offset, LeaderEpoch: oc.LeaderEpoch, Metadata: oc.Metadata, CommitTimeMs: oc.CommitTimeMs}
	}
	return out
}

func (m metaOffsets) Groups() []string {
	var out []string
	m.b.meta.fsm.view(func(s *metaState) {
		out = slices.Sorted(maps.Keys(s.Offsets))
	})
	return out
}

func (m metaOffsets) Delete(ctx context.Context, group string, partitions []consumer.TopicPartition) error {
	body := cmdDeleteOffsetsBody{Group: group}
	for _, tp := range partitions {
		body.Partitions = append(body.Partitions, TopicPartition{Topic: tp.Topic, Partition: tp.Partition})
	}
	return m.b.write(ctx, cmdDeleteOffsets, body)
}
