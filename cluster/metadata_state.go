package cluster

import (
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"sort"
)

// BrokerState is a broker's standing in the metadata.
type BrokerState uint8

const (
	// BrokerRegistered: gossip reports it alive; it receives new partitions.
	BrokerRegistered BrokerState = 1
	// BrokerFenced: gossip reports it dead or unreachable. It keeps its
	// replicas and its metadata vote (dead is not left) but gets no new
	// partitions.
	BrokerFenced BrokerState = 2
	// BrokerLeft: decommissioned. The controller removes it from the metadata
	// group's voters; it gets no new partitions.
	BrokerLeft BrokerState = 3
)

func (s BrokerState) String() string {
	switch s {
	case BrokerRegistered:
		return "registered"
	case BrokerFenced:
		return "fenced"
	case BrokerLeft:
		return "left"
	}
	return fmt.Sprintf("BrokerState(%d)", uint8(s))
}

func (s BrokerState) valid() bool {
	return s == BrokerRegistered || s == BrokerFenced || s == BrokerLeft
}

// MarshalText makes BrokerState readable in /v1/cluster.
func (s BrokerState) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText is the inverse of MarshalText.
func (s *BrokerState) UnmarshalText(b []byte) error {
	for _, v := range []BrokerState{BrokerRegistered, BrokerFenced, BrokerLeft} {
		if string(b) == v.String() {
			*s = v
			return nil
		}
	}
	return fmt.Errorf("%w: broker state %q", ErrBadCommand, b)
}

// UUID is a topic id, written as 32 hex digits.
type UUID [16]byte

func (u UUID) String() string { return hex.EncodeToString(u[:]) }

// MarshalText writes u as 32 hex digits.
func (u UUID) MarshalText() ([]byte, error) { return []byte(u.String()), nil }

// UnmarshalText reads 32 hex digits.
func (u *UUID) UnmarshalText(b []byte) error {
	if len(b) != 32 {
		return fmt.Errorf("%w: uuid of %d characters", ErrBadCommand, len(b))
	}
	_, err := hex.Decode(u[:], b)
	if err != nil {
		return fmt.Errorf("%w: uuid: %v", ErrBadCommand, err)
	}
	return nil
}

// BrokerRecord is one broker in the metadata.
type BrokerRecord struct {
	ID           int32       `json:"id"`
	KafkaAddr    string      `json:"kafka_addr"`    // advertised host:port for clients, of the first listener
	InternalAddr string      `json:"internal_addr"` // Raft and internal RPCs
	GossipAddr   string      `json:"gossip_addr"`
	Rack         string      `json:"rack,omitempty"`
	State        BrokerState `json:"state"`
	// Listeners are the advertised addresses by listener name (listeners.go),
	// KafkaAddr's first. Records written before named listeners have none:
	// their one listener is DefaultListenerName at KafkaAddr (endpoints).
	Listeners []Endpoint `json:"listeners,omitempty"`
}

// PartitionRecord is one partition in the metadata.
type PartitionRecord struct {
	// Replicas are the broker ids holding the partition now, the preferred
	// leader first.
	Replicas []int32 `json:"replicas"`
	// Target, when not nil, is where a reassignment moves the partition; the
	// partition leader reports when its Raft configuration matches it, and
	// Replicas becomes Target.
	Target []int32 `json:"target,omitempty"`
	// Initial are the replicas that bootstrap the partition's Raft group
	// with themselves as voters; nil after a reassignment completed, so that a
	// replica added later never bootstraps.
	Initial []int32 `json:"initial,omitempty"`
	// Leader and LeaderEpoch are what the partition leader last reported; -1
	// and 0 until then. Epochs never go back.
	Leader      int32 `json:"leader"`
	LeaderEpoch int32 `json:"leader_epoch"`
	// ISR is the in-sync replicas the leader last reported, nil before its
	// first report (read it with isrOf).
	ISR []int32 `json:"isr,omitempty"`
	// ReassignStartMs is when Target was set (the proposer's clock).
	ReassignStartMs int64 `json:"reassign_start_ms,omitempty"`
}

// TopicRecord is one topic in the metadata.
type TopicRecord struct {
	Name       string            `json:"name"`
	ID         UUID              `json:"id"`
	Configs    map[string]string `json:"configs,omitempty"`
	Partitions []PartitionRecord `json:"partitions"`
}

// TopicPartition names a partition.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// OffsetCommit is a consumer group's committed position in one partition.
type OffsetCommit struct {
	Topic       string `json:"topic"`
	Partition   int32  `json:"partition"`
	Offset      int64  `json:"offset"`
	LeaderEpoch int32  `json:"leader_epoch"`
	Metadata    string `json:"metadata,omitempty"`
	// CommitTimeMs is when the coordinator accepted the commit.
	CommitTimeMs int64 `json:"commit_time_ms,omitempty"`
}

// metaState is the replicated cluster metadata. The FSM owns it; every
// mutation is a command applied in log order (commands.go), so every broker
// computes the same state. Readers get copies.
type metaState struct {
	ClusterID string
	Brokers   map[int32]*BrokerRecord
	Topics    map[string]*TopicRecord
	Offsets   map[string]map[TopicPartition]OffsetCommit
	// NextProducerID is the first id of the next block handed out.
	NextProducerID int64
	// TopicsCreated counts topics ever created: placement's per-topic offset.
	TopicsCreated int32
}

func newMetaState() *metaState {
	return &metaState{
		Brokers: map[int32]*BrokerRecord{},
		Topics:  map[string]*TopicRecord{},
		Offsets: map[string]map[TopicPartition]OffsetCommit{},
	}
}

// liveBrokers returns the registered broker ids, sorted: the brokers new
// partitions go to.
func (s *metaState) liveBrokers() []int32 {
	var ids []int32
	for id, b := range s.Brokers {
		if b.State == BrokerRegistered {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

func (s *metaState) topicNames() []string {
	names := slices.Collect(maps.Keys(s.Topics))
	sort.Strings(names)
	return names
}

func cloneTopic(t *TopicRecord) TopicRecord {
	c := *t
	c.Configs = maps.Clone(t.Configs)
	c.Partitions = make([]PartitionRecord, len(t.Partitions))
	for i, p := range t.Partitions {
		c.Partitions[i] = clonePartition(p)
	}
	return c
}

func clonePartition(p PartitionRecord) PartitionRecord {
	p.Replicas = slices.Clone(p.Replicas)
	p.Target = slices.Clone(p.Target)
	p.Initial = slices.Clone(p.Initial)
	p.ISR = slices.Clone(p.ISR)
	return p
}

func contains(ids []int32, id int32) bool { return slices.Contains(ids, id) }

// sameSet reports whether a and b hold the same ids, in any order.
func sameSet(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}
