package kafka

import (
	"context"
	"errors"

	"github.com/cairnlog/cairn/consumer"
	"github.com/cairnlog/cairn/partition"
)

// Backend is the broker the handlers serve: cluster metadata, the partitions
// hosted here, and the admin operations the controller carries out. The
// cluster package implements it; this package never imports cluster.
//
// Every method is safe for concurrent use and may be called from any
// connection's goroutine. The read methods (ID .. Groups) must not
// block on the network: they read the broker's local copy of the metadata.
// The admin methods block until the change is committed (or ctx ends) and
// return nil, an error wrapping one of this package's sentinels (mapped to a
// Kafka error code in errors.go), or any other error (UNKNOWN_SERVER_ERROR).
type Backend interface {
	// ID is this broker's node id.
	ID() int32
	// ClusterID is the cluster's id, as Metadata v2+ reports it.
	ClusterID() string
	// ControllerID is the node id of the broker that carries out admin
	// requests (the metadata group's leader), or -1 when unknown.
	ControllerID() int32
	// Brokers lists the live brokers.
	Brokers() []BrokerInfo
	// Topics lists every topic. The caller must not modify the result.
	Topics() []TopicInfo
	// Topic returns one topic by name.
	Topic(name string) (TopicInfo, bool)
	// LocalPartition returns the replica of the partition hosted on this
	// broker, or nil if there is none here. The handlers check leadership
	// on it themselves.
	LocalPartition(topic string, partition int32) *partition.Partition
	// Groups returns the group coordinator when this broker is the
	// coordinator (the metadata leader), else nil; the group APIs then
	// answer NOT_COORDINATOR and clients find the coordinator again
	// (FindCoordinator names ControllerID's broker). The cluster closes a
	// coordinator when its leadership ends, and returns a new one only
	// once its OffsetStore's local copy holds every committed offset.
	Groups() *consumer.Coordinator
	// LogDir is the directory holding this broker's partition replicas,
	// with its filesystem's total and usable bytes (-1 when unknown).
	LogDir() (dir string, totalBytes, usableBytes int64)

	// CreateTopic creates a topic with partitions partitions of
	// replicationFactor replicas each and the given topic configs
	// (already validated here). ErrTopicExists, ErrInvalidPartitions,
	// ErrInvalidReplicationFactor, ErrInvalidConfig, ErrNotController,
	// ErrTimeout.
	CreateTopic(ctx context.Context, name string, partitions int32, replicationFactor int16, configs map[string]string) error
	// DeleteTopic deletes a topic and its data. ErrUnknownTopic,
	// ErrNotController, ErrTimeout.
	DeleteTopic(ctx context.Context, name string) error
	// CreatePartitions grows a topic to total partitions.
	// ErrUnknownTopic, ErrInvalidPartitions (total not above the current
	// count), ErrNotController, ErrTimeout.
	CreatePartitions(ctx context.Context, name string, total int32) error
	// AlterTopicConfigs sets (non-nil value) or deletes (nil value: back to
	// the default) topic configs, validated here. ErrUnknownTopic,
	// ErrInvalidConfig, ErrNotController, ErrTimeout.
	AlterTopicConfigs(ctx context.Context, name string, set map[string]*string) error
	// AllocateProducerID hands out a new idempotent producer id with its
	// first epoch (0), unique in the cluster for ever.
	AllocateProducerID(ctx context.Context) (id int64, epoch int16, err error)
	// Reassign makes replicas (the first the preferred leader) the target of
	// a partition's replica set; nil cancels a reassignment not yet done. It
	// returns once the target is recorded; the move happens after.
	// kerr.InvalidReplicaAssignment, kerr.ReassignmentInProgress,
	// ErrUnknownTopic, ErrTimeout.
	Reassign(ctx context.Context, topic string, partition int32, replicas []int32) error
	// Decommission marks broker id as gone for good: it leaves the metadata
	// voters and gets no new partitions. ErrUnknownBroker, ErrNotController,
	// ErrTimeout.
	Decommission(ctx context.Context, id int32) error
}

// BrokerInfo is one broker as clients see it in Metadata.
type BrokerInfo struct {
	ID   int32
	Host string // advertised Kafka host
	Port int32  // advertised Kafka port
	Rack string // "" when none
	// Listeners are the broker's advertised addresses by listener name
	// (Kafka's advertised.listeners). A request that arrived on a named
	// listener (wire.Request.Listener) is answered with each broker's
	// address on that listener, and without the brokers that have none, as
	// Kafka answers; Host and Port serve requests of an unnamed listener.
	Listeners []Endpoint
}

// Endpoint is one named address of a broker.
type Endpoint struct {
	Listener string
	Host     string
	Port     int32
}

// TopicInfo is one topic's metadata.
type TopicInfo struct {
	Name string
	ID   [16]byte // topic id (Metadata v10+, CreateTopics v7, DeleteTopics v6)
	// Configs holds the topic configs set on the topic (not the defaults).
	Configs map[string]string
	// Partitions is indexed by partition number: Partitions[i].Index == i.
	Partitions []PartitionInfo
}

// PartitionInfo is one partition's placement and leadership.
type PartitionInfo struct {
	Index       int32
	Leader      int32 // node id, -1 when there is none
	LeaderEpoch int32 // the partition group's Raft term
	Replicas    []int32
	ISR         []int32
	Target      []int32 // the reassignment target, nil when none is in progress
}

// Errors a Backend returns (or wraps) for the admin operations. Each maps to
// one Kafka error code (errors.go).
var (
	ErrTopicExists              = errors.New("kafka: topic already exists")
	ErrUnknownTopic             = errors.New("kafka: unknown topic")
	ErrInvalidReplicationFactor = errors.New("kafka: invalid replication factor")
	ErrInvalidPartitions        = errors.New("kafka: invalid number of partitions")
	ErrInvalidConfig            = errors.New("kafka: invalid topic config")
	ErrInvalidTopic             = errors.New("kafka: invalid topic name")
	ErrNotController            = errors.New("kafka: not the controller")
	ErrTimeout                  = errors.New("kafka: timed out")
	ErrUnknownBroker            = errors.New("kafka: broker id not registered")
)
