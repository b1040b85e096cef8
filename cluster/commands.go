package cluster

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
)

// A metadata command is one Raft entry of the metadata group:
//
//	+---------+---------+------------------------------+
//	| version | type    | body: JSON of the type's      |
//	| 1 B = 1 | 1 B     | struct (below)                |
//	+---------+---------+------------------------------+
//
// The version byte is the encoding's: a reader rejects a version it does not
// know (ErrBadCommand) rather than guess. A type is never renumbered; a new
// field in a body must be optional (a JSON zero value meaning "as before"), so
// old entries in the log keep their meaning.
const commandVersion = 1

type cmdType uint8

const (
	cmdInit             cmdType = 1  // cmdInitBody
	cmdRegisterBroker   cmdType = 2  // BrokerRecord
	cmdBrokerState      cmdType = 3  // cmdBrokerStateBody
	cmdCreateTopic      cmdType = 4  // cmdCreateTopicBody
	cmdDeleteTopic      cmdType = 5  // cmdDeleteTopicBody
	cmdCreatePartitions cmdType = 6  // cmdCreatePartitionsBody
	cmdAlterConfigs     cmdType = 7  // cmdAlterConfigsBody
	cmdCommitOffsets    cmdType = 8  // cmdCommitOffsetsBody
	cmdAllocProducerIDs cmdType = 9  // cmdAllocProducerIDsBody
	cmdLeaders          cmdType = 10 // cmdLeadersBody
	cmdReassign         cmdType = 11 // cmdReassignBody
	cmdReassignDone     cmdType = 12 // cmdReassignDoneBody
	cmdCommitGroups     cmdType = 13 // cmdCommitGroupsBody
	cmdDeleteOffsets    cmdType = 14 // cmdDeleteOffsetsBody
	cmdMax                      = cmdDeleteOffsets
)

type cmdInitBody struct {
	ClusterID string `json:"cluster_id"`
}

type cmdBrokerStateBody struct {
	ID    int32       `json:"id"`
	State BrokerState `json:"state"`
}

type cmdCreateTopicBody struct {
	Name              string            `json:"name"`
	ID                UUID              `json:"id"`
	Partitions        int32             `json:"partitions"`
	ReplicationFactor int16             `json:"replication_factor"`
	Configs           map[string]string `json:"configs,omitempty"`
}

type cmdDeleteTopicBody struct {
	Name string `json:"name"`
}

type cmdCreatePartitionsBody struct {
	Name  string `json:"name"`
	Total int32  `json:"total"`
	// Seen is the partition count the proposer saw: a retry of a command that
	// committed the first time finds Total partitions and succeeds.
	Seen int32 `json:"seen,omitempty"`
}

type cmdAlterConfigsBody struct {
	Name string             `json:"name"`
	Set  map[string]*string `json:"set"` // nil value: delete
}

type cmdCommitOffsetsBody struct {
	Group   string         `json:"group"`
	Commits []OffsetCommit `json:"commits"`
}

// cmdCommitGroupsBody carries the offset commits of many groups: the group
// coordinator batches concurrent commits into one metadata entry.
type cmdCommitGroupsBody struct {
	Groups []cmdCommitOffsetsBody `json:"groups"`
}

// cmdDeleteOffsetsBody deletes a group's offsets: the listed partitions, or
// all of them (and so the group) when Partitions is empty.
type cmdDeleteOffsetsBody struct {
	Group      string           `json:"group"`
	Partitions []TopicPartition `json:"partitions,omitempty"`
}

type cmdAllocProducerIDsBody struct {
	Broker int32 `json:"broker"`
	Count  int32 `json:"count"`
}

// leaderUpdate is what a partition leader reports.
type leaderUpdate struct {
	Topic     string `json:"topic"`
	TopicID   UUID   `json:"topic_id"`
	Partition int32  `json:"partition"`
	Leader    int32  `json:"leader"`
	Epoch     int32  `json:"epoch"`
	// ISR is the leader's in-sync replicas; nil before it knows them.
	ISR []int32 `json:"isr,omitempty"`
}

type cmdLeadersBody struct {
	Updates []leaderUpdate `json:"updates"`
}

type cmdReassignBody struct {
	Topic     string  `json:"topic"`
	Partition int32   `json:"partition"`
	Replicas  []int32 `json:"replicas"` // nil cancels a reassignment not yet done
	NowMs     int64   `json:"now_ms"`
}

type cmdReassignDoneBody struct {
	Topic     string  `json:"topic"`
	TopicID   UUID    `json:"topic_id"`
	Partition int32   `json:"partition"`
	Replicas  []int32 `json:"replicas"` // the target that was reached
}

// command is a decoded metadata command: its type and a pointer to its body.
type command struct {
	typ  cmdType
	body any
}

func encodeCommand(typ cmdType, body any) []byte {
	b, err := json.Marshal(body)
	if err != nil {
		panic(fmt.Sprintf("cluster: encode command %d: %v", typ, err)) // our own types always encode
	}
	return append([]byte{commandVersion, byte(typ)}, b...)
}

func newBody(typ cmdType) any {
	switch typ {
	case cmdInit:
		return new(cmdInitBody)
	case cmdRegisterBroker:
		return new(BrokerRecord)
	case cmdBrokerState:
		return new(cmdBrokerStateBody)
	case cmdCreateTopic:
		return new(cmdCreateTopicBody)
	case cmdDeleteTopic:
		return new(cmdDeleteTopicBody)
	case cmdCreatePartitions:
		return new(cmdCreatePartitionsBody)
	case cmdAlterConfigs:
		return new(cmdAlterConfigsBody)
	case cmdCommitOffsets:
		return new(cmdCommitOffsetsBody)
	case cmdAllocProducerIDs:
		return new(cmdAllocProducerIDsBody)
	case cmdLeaders:
		return new(cmdLeadersBody)
	case cmdReassign:
		return new(cmdReassignBody)
	case cmdReassignDone:
		return new(cmdReassignDoneBody)
	case cmdCommitGroups:
		return new(cmdCommitGroupsBody)
	case cmdDeleteOffsets:
		return new(cmdDeleteOffsetsBody)
	}
	return nil
}

// decodeCommand parses an entry written by encodeCommand.
func decodeCommand(b []byte) (command, error) {
	if len(b) < 2 {
		return command{}, fmt.Errorf("%w: %d bytes", ErrBadCommand, len(b))
	}
	if b[0] != commandVersion {
		return command{}, fmt.Errorf("%w: version %d", ErrBadCommand, b[0])
	}
	typ := cmdType(b[1])
	body := newBody(typ)
	if body == nil {
		return command{}, fmt.Errorf("%w: type %d", ErrBadCommand, b[1])
	}
	if err := json.Unmarshal(b[2:], body); err != nil {
		return command{}, fmt.Errorf("%w: type %d: %v", ErrBadCommand, typ, err)
	}
	return command{typ: typ, body: body}, nil
}

// cmdResult is what applying a command returned: the FSM's Apply response.
type cmdResult struct {
	Err   error
	Value int64 // AllocProducerIDs: the first id of the block
}

// apply applies c to s. It is deterministic: it reads nothing but s and c.
// A command that fails changes nothing.
func (s *metaState) apply(c command) cmdResult {
	var err error
	var value int64
	switch body := c.body.(type) {
	case *cmdInitBody:
		if s.ClusterID == "" {
			s.ClusterID = body.ClusterID
		}
	case *BrokerRecord:
		r := *body
		if r.State == 0 {
			r.State = BrokerRegistered
		}
		s.Brokers[r.ID] = &r
	case *cmdBrokerStateBody:
		b, ok := s.Brokers[body.ID]
		if !ok {
			err = fmt.Errorf("%w: %d", ErrUnknownBroker, body.ID)
			break
		}
		b.State = body.State
	case *cmdCreateTopicBody:
		err = s.createTopic(body)
	case *cmdDeleteTopicBody:
		if _, ok := s.Topics[body.Name]; !ok {
			err = fmt.Errorf("%w: %s", ErrUnknownTopic, body.Name)
			break
		}
		delete(s.Topics, body.Name)
		for _, offs := range s.Offsets {
			for tp := range offs {
				if tp.Topic == body.Name {
					delete(offs, tp)
				}
			}
		}
	case *cmdCreatePartitionsBody:
		err = s.createPartitions(body)
	case *cmdAlterConfigsBody:
		err = s.alterConfigs(body)
	case *cmdCommitOffsetsBody:
		s.commitOffsets(body)
	case *cmdCommitGroupsBody:
		for i := range body.Groups {
			s.commitOffsets(&body.Groups[i])
		}
	case *cmdDeleteOffsetsBody:
		if len(body.Partitions) == 0 {
			delete(s.Offsets, body.Group)
			break
		}
		for _, tp := range body.Partitions {
			delete(s.Offsets[body.Group], tp)
		}
		if len(s.Offsets[body.Group]) == 0 {
			delete(s.Offsets, body.Group)
		}
	case *cmdAllocProducerIDsBody:
		if body.Count < 1 {
			err = fmt.Errorf("%w: producer id block of %d", ErrBadCommand, body.Count)
			break
		}
		value = s.NextProducerID
		s.NextProducerID += int64(body.Count)
	case *cmdLeadersBody:
		for _, u := range body.Updates {
			p := s.partition(u.Topic, u.TopicID, u.Partition)
			if p == nil || u.Epoch < p.LeaderEpoch {
				continue // stale: a newer leader reported already, or the topic is gone
			}
			p.Leader, p.LeaderEpoch, p.ISR = u.Leader, u.Epoch, u.ISR
		}
	case *cmdReassignBody:
		err = s.reassign(body)
	case *cmdReassignDoneBody:
		p := s.partition(body.Topic, body.TopicID, body.Partition)
		if p == nil || p.Target == nil || !sameSet(p.Target, body.Replicas) {
			break // stale report: cancelled, or replaced by another reassignment
		}
		p.Replicas, p.Target, p.Initial, p.ReassignStartMs = p.Target, nil, nil, 0
	default:
		err = fmt.Errorf("%w: type %d", ErrBadCommand, c.typ)
	}
	return cmdResult{Err: err, Value: value}
}

func (s *metaState) partition(topic string, id UUID, index int32) *PartitionRecord {
	t, ok := s.Topics[topic]
	if !ok || t.ID != id || index < 0 || int(index) >= len(t.Partitions) {
		return nil
	}
	return &t.Partitions[index]
}

func (s *metaState) createTopic(c *cmdCreateTopicBody) error {
	if err := ValidateTopicName(c.Name); err != nil {
		return err
	}
	if t, ok := s.Topics[c.Name]; ok {
		if t.ID == c.ID {
			return nil // a retried proposal that committed the first time
		}
		return fmt.Errorf("%w: %s", ErrTopicExists, c.Name)
	}
	for name, v := range c.Configs {
		if err := ValidateTopicConfig(name, v); err != nil {
			return err
		}
	}
	if c.Partitions < 1 || c.Partitions > MaxPartitions {
		return fmt.Errorf("%w: %d (want 1 to %d)", ErrInvalidPartitions, c.Partitions, MaxPartitions)
	}
	assign, err := place(s.liveBrokers(), 0, c.Partitions, c.ReplicationFactor, s.TopicsCreated)
	if err != nil {
		return err
	}
	t := &TopicRecord{Name: c.Name, ID: c.ID, Configs: maps.Clone(c.Configs)}
	for _, r := range assign {
		t.Partitions = append(t.Partitions, PartitionRecord{Replicas: r, Initial: slices.Clone(r), Leader: -1})
	}
	s.Topics[c.Name] = t
	s.TopicsCreated++
	return nil
}

func (s *metaState) createPartitions(c *cmdCreatePartitionsBody) error {
	t, ok := s.Topics[c.Name]
	if !ok {
		return fmt.Errorf("%w: %s", ErrUnknownTopic, c.Name)
	}
	cur := int32(len(t.Partitions))
	if cur == 0 {
		return fmt.Errorf("%w: topic %s has no partitions", ErrInvalidPartitions, c.Name)
	}
	if cur == c.Total && c.Seen > 0 && c.Seen < c.Total {
		return nil // a retried proposal that committed the first time
	}
	if c.Total <= cur || c.Total > MaxPartitions {
		return fmt.Errorf("%w: topic %s has %d partitions, asked for %d", ErrInvalidPartitions, c.Name, cur, c.Total)
	}
	rf := int16(len(t.Partitions[0].Replicas))
	assign, err := place(s.liveBrokers(), cur, c.Total-cur, rf, int32(t.ID[0]))
	if err != nil {
		return err
	}
	for _, r := range assign {
		t.Partitions = append(t.Partitions, PartitionRecord{Replicas: r, Initial: slices.Clone(r), Leader: -1})
	}
	return nil
}

func (s *metaState) alterConfigs(c *cmdAlterConfigsBody) error {
	t, ok := s.Topics[c.Name]
	if !ok {
		return fmt.Errorf("%w: %s", ErrUnknownTopic, c.Name)
	}
	for name, v := range c.Set {
		if v == nil {
			continue
		}
		if err := ValidateTopicConfig(name, *v); err != nil {
			return err
		}
	}
	if t.Configs == nil {
		t.Configs = map[string]string{}
	}
	for name, v := range c.Set {
		if v == nil {
			delete(t.Configs, name)
		} else {
			t.Configs[name] = *v
		}
	}
	return nil
}

func (s *metaState) reassign(c *cmdReassignBody) error {
	t, ok := s.Topics[c.Topic]
	if !ok {
		return fmt.Errorf("%w: %s", ErrUnknownTopic, c.Topic)
	}
	if c.Partition < 0 || int(c.Partition) >= len(t.Partitions) {
		return fmt.Errorf("%w: %s/%d", ErrUnknownPartition, c.Topic, c.Partition)
	}
	p := &t.Partitions[c.Partition]
	if c.Replicas == nil { // cancel
		p.Target, p.ReassignStartMs = nil, 0
		return nil
	}
	if len(c.Replicas) == 0 {
		return fmt.Errorf("%w: no replicas", ErrInvalidReplicaAssignment)
	}
	for i, id := range c.Replicas {
		b, ok := s.Brokers[id]
		if !ok || b.State == BrokerLeft {
			return fmt.Errorf("%w: broker %d is not registered", ErrInvalidReplicaAssignment, id)
		}
		if slices.Contains(c.Replicas[:i], id) {
			return fmt.Errorf("%w: broker %d named twice", ErrInvalidReplicaAssignment, id)
		}
	}
	if p.Target != nil && !sameSet(p.Target, c.Replicas) {
		return fmt.Errorf("%w: %s/%d", ErrReassignmentInProgress, c.Topic, c.Partition)
	}
	if sameSet(p.Replicas, c.Replicas) {
		p.Replicas, p.Target = slices.Clone(c.Replicas), nil // only the preferred order changes
		return nil
	}
	p.Target, p.ReassignStartMs = slices.Clone(c.Replicas), c.NowMs
	return nil
}

// commitOffsets stores one group's commits; a later commit of a partition wins.
func (s *metaState) commitOffsets(body *cmdCommitOffsetsBody) {
	offs := s.Offsets[body.Group]
	if offs == nil {
		offs = map[TopicPartition]OffsetCommit{}
		s.Offsets[body.Group] = offs
	}
	for _, oc := range body.Commits {
		offs[TopicPartition{oc.Topic, oc.Partition}] = oc
	}
}
