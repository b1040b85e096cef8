package cluster

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

func strp(s string) *string { return &s }

// sampleCommands is one command of every type: the table of the round-trip
// test and the fuzz seeds.
func sampleCommands() []command {
	id := UUID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	return []command{
		{cmdInit, &cmdInitBody{ClusterID: "abc"}},
		{cmdRegisterBroker, &BrokerRecord{ID: 1, KafkaAddr: "h:9092", InternalAddr: "h:9093", GossipAddr: "h:7946", Rack: "r1", State: BrokerRegistered}},
		{cmdRegisterBroker, &BrokerRecord{ID: 2, KafkaAddr: "h2:9092", InternalAddr: "h2:9093", GossipAddr: "h2:7946", State: BrokerRegistered}},
		{cmdRegisterBroker, &BrokerRecord{ID: 3, KafkaAddr: "h3:9092", InternalAddr: "h3:9093", GossipAddr: "h3:7946", State: BrokerRegistered}},
		{cmdCreateTopic, &cmdCreateTopicBody{Name: "orders", ID: id, Partitions: 3, ReplicationFactor: 3, Configs: map[string]string{"retention.ms": "1000"}}},
		{cmdCreatePartitions, &cmdCreatePartitionsBody{Name: "orders", Total: 5}},
		{cmdAlterConfigs, &cmdAlterConfigsBody{Name: "orders", Set: map[string]*string{"retention.ms": nil, "segment.bytes": strp("1048576")}}},
		{cmdCommitOffsets, &cmdCommitOffsetsBody{Group: "g", Commits: []OffsetCommit{{Topic: "orders", Partition: 1, Offset: 42, LeaderEpoch: 3, Metadata: "m"}}}},
		{cmdAllocProducerIDs, &cmdAllocProducerIDsBody{Broker: 1, Count: 1000}},
		{cmdLeaders, &cmdLeadersBody{Updates: []leaderUpdate{{Topic: "orders", TopicID: id, Partition: 0, Leader: 2, Epoch: 7}}}},
		{cmdReassign, &cmdReassignBody{Topic: "orders", Partition: 0, Replicas: []int32{1, 2, 3}, NowMs: 5}},
		{cmdReassignDone, &cmdReassignDoneBody{Topic: "orders", TopicID: id, Partition: 0, Replicas: []int32{1, 2, 3}}},
		{cmdBrokerState, &cmdBrokerStateBody{ID: 3, State: BrokerFenced}},
		{cmdDeleteTopic, &cmdDeleteTopicBody{Name: "orders"}},
	}
}

func TestCommandRoundTrip(t *testing.T) {
	for _, c := range sampleCommands() {
		b := encodeCommand(c.typ, c.body)
		got, err := decodeCommand(b)
		if err != nil {
			t.Fatalf("type %d: %v", c.typ, err)
		}
		if got.typ != c.typ || !reflect.DeepEqual(got.body, c.body) {
			t.Errorf("type %d: got %#v, want %#v", c.typ, got.body, c.body)
		}
	}
	for _, bad := range [][]byte{nil, {1}, {2, 1, '{', '}'}, {1, 0, '{', '}'}, {1, byte(cmdMax + 1), '{', '}'}, {1, 1, '['}} {
		if _, err := decodeCommand(bad); !errors.Is(err, ErrBadCommand) {
			t.Errorf("decode %q: %v, want ErrBadCommand", bad, err)
		}
	}
}

// TestStateApply runs the sample commands through a state and checks the
// effects and the snapshot round trip at each step.
func TestStateApply(t *testing.T) {
	s := newMetaState()
	for i, c := range sampleCommands() {
		if res := s.apply(c); res.Err != nil {
			t.Fatalf("command %d (type %d): %v", i, c.typ, res.Err)
		}
		snap := encodeSnapshot(s, uint64(i))
		back, applied, err := decodeSnapshot(snap)
		if err != nil || applied != uint64(i) {
			t.Fatalf("after command %d: snapshot: applied %d, %v", i, applied, err)
		}
		if !bytes.Equal(encodeSnapshot(back, applied), snap) {
			t.Fatalf("after command %d: snapshot does not round-trip", i)
		}
		switch c.typ {
		case cmdCreatePartitions:
			if n := len(s.Topics["orders"].Partitions); n != 5 {
				t.Fatalf("partitions: %d", n)
			}
		case cmdAlterConfigs:
			want := map[string]string{"segment.bytes": "1048576"}
			if got := s.Topics["orders"].Configs; !reflect.DeepEqual(got, want) {
				t.Fatalf("configs %v, want %v", got, want)
			}
		case cmdLeaders:
			if p := s.Topics["orders"].Partitions[0]; p.Leader != 2 || p.LeaderEpoch != 7 {
				t.Fatalf("leader %d epoch %d", p.Leader, p.LeaderEpoch)
			}
			// An older epoch is ignored.
			s.apply(command{cmdLeaders, &cmdLeadersBody{Updates: []leaderUpdate{{Topic: "orders", TopicID: s.Topics["orders"].ID, Leader: 3, Epoch: 6}}}})
			if p := s.Topics["orders"].Partitions[0]; p.Leader != 2 {
				t.Fatalf("stale report applied: leader %d", p.Leader)
			}
		case cmdReassign:
			// Target is the current set: only the order changes, nothing to move.
			if p := s.Topics["orders"].Partitions[0]; p.Target != nil {
				t.Fatalf("target %v for the same set", p.Target)
			}
		case cmdDeleteTopic:
			if len(s.Topics) != 0 || len(s.Offsets["g"]) != 0 {
				t.Fatalf("topic or its offsets left: %v %v", s.Topics, s.Offsets)
			}
		}
	}
	if s.NextProducerID != 1000 {
		t.Errorf("next producer id %d", s.NextProducerID)
	}
}

func TestStateErrors(t *testing.T) {
	s := newMetaState()
	for id := int32(1); id <= 3; id++ {
		s.apply(command{cmdRegisterBroker, &BrokerRecord{ID: id, State: BrokerRegistered}})
	}
	create := func(name string, parts int32, rf int16, cfg map[string]string) error {
		return s.apply(command{cmdCreateTopic, &cmdCreateTopicBody{Name: name, ID: newUUID(), Partitions: parts, ReplicationFactor: rf, Configs: cfg}}).Err
	}
	for _, tc := range []struct {
		err  error
		want error
	}{
		{create("a", 1, 4, nil), ErrInvalidReplicationFactor},
		{create("a", 0, 1, nil), ErrInvalidPartitions},
		{create("a b", 1, 1, nil), ErrInvalidTopic},
		{create("a", 1, 1, map[string]string{"x": "y"}), ErrInvalidConfig},
		{create("a", 1, 1, map[string]string{"cleanup.policy": "nope"}), ErrInvalidConfig},
		{create("a", 2, 3, nil), nil},
		{create("a", 2, 3, nil), ErrTopicExists},
		{s.apply(command{cmdCreatePartitions, &cmdCreatePartitionsBody{Name: "a", Total: 2}}).Err, ErrInvalidPartitions},
		{s.apply(command{cmdDeleteTopic, &cmdDeleteTopicBody{Name: "zz"}}).Err, ErrUnknownTopic},
		{s.apply(command{cmdReassign, &cmdReassignBody{Topic: "a", Partition: 0, Replicas: []int32{1, 1}}}).Err, ErrInvalidReplicaAssignment},
		{s.apply(command{cmdReassign, &cmdReassignBody{Topic: "a", Partition: 0, Replicas: []int32{9}}}).Err, ErrInvalidReplicaAssignment},
		{s.apply(command{cmdReassign, &cmdReassignBody{Topic: "a", Partition: 5, Replicas: []int32{1}}}).Err, ErrUnknownPartition},
		{s.apply(command{cmdReassign, &cmdReassignBody{Topic: "a", Partition: 0, Replicas: []int32{1}}}).Err, nil},
		{s.apply(command{cmdReassign, &cmdReassignBody{Topic: "a", Partition: 0, Replicas: []int32{2}}}).Err, ErrReassignmentInProgress},
	} {
		if !errors.Is(tc.err, tc.want) || (tc.want == nil && tc.err != nil) {
			t.Errorf("got %v, want %v", tc.err, tc.want)
		}
	}
	// Errors survive the forwarding RPC's codes.
	for _, e := range errorCodes[1:] {
		wrapped := codeError(errorCode(e), "detail")
		if !errors.Is(wrapped, e) {
			t.Errorf("%v does not survive its code", e)
		}
	}
}

func TestTopicNames(t *testing.T) {
	long := string(bytes.Repeat([]byte{'a'}, 249))
	for name, ok := range map[string]bool{"orders": true, "a.b_c-D9": true, long: true, long + "a": false, "": false, ".": false, "..": false, "a/b": false, "ä": false, "a b": false} {
		if err := ValidateTopicName(name); (err == nil) != ok {
			t.Errorf("%q: %v", name, err)
		}
	}
	if g := groupID(long, 9999, UUID{}); len(g) > 255 {
		t.Errorf("group id of %d bytes", len(g))
	}
}

func FuzzDecodeCommand(f *testing.F) {
	for _, c := range sampleCommands() {
		f.Add(encodeCommand(c.typ, c.body))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := decodeCommand(b)
		if err != nil {
			if !errors.Is(err, ErrBadCommand) {
				t.Fatalf("error %v is not ErrBadCommand", err)
			}
			return
		}
		// Whatever decodes applies without panicking, twice (a retried
		// proposal), and the state still snapshots and restores.
		s := newMetaState()
		for id := int32(0); id < 3; id++ {
			s.apply(command{cmdRegisterBroker, &BrokerRecord{ID: id, State: BrokerRegistered}})
		}
		s.apply(c)
		s.apply(c)
		if _, _, err := decodeSnapshot(encodeSnapshot(s, 1)); err != nil && !errors.Is(err, ErrBadCommand) {
			t.Fatal(err)
		}
	})
}

func FuzzDecodeSnapshot(f *testing.F) {
	s := newMetaState()
	for _, c := range sampleCommands()[:12] {
		s.apply(c)
	}
	f.Add(encodeSnapshot(s, 12))
	f.Add(encodeSnapshot(newMetaState(), 0))
	f.Add([]byte("CMDS\x01{}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, applied, err := decodeSnapshot(b)
		if err != nil {
			if !errors.Is(err, ErrBadCommand) {
				t.Fatalf("error %v is not ErrBadCommand", err)
			}
			return
		}
		again, applied2, err := decodeSnapshot(encodeSnapshot(s, applied))
		if err != nil || applied2 != applied {
			t.Fatalf("re-encoded snapshot: applied %d, %v", applied2, err)
		}
		if !bytes.Equal(encodeSnapshot(again, applied), encodeSnapshot(s, applied)) {
			t.Fatal("snapshot does not round-trip")
		}
	})
}

func FuzzDecodeApplyResponse(f *testing.F) {
	f.Add(encodeApplyResponse(applyResponse{code: 1, index: 7, value: -1, msg: "topic exists"}))
	f.Add(encodeApplyResponse(applyResponse{code: codeNotLeader}))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeApplyResponse(b)
		if err != nil {
			return
		}
		if !bytes.Equal(encodeApplyResponse(r), b) {
			t.Fatal("apply response does not round-trip")
		}
		_ = codeError(r.code, r.msg)
	})
}

func FuzzDecodeReplicaStatus(f *testing.F) {
	f.Add([]byte(`{"log_start_offset":0,"high_watermark":10,"size_bytes":100,"applied_index":5}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		decodeReplicaStatus(b)
	})
}

func FuzzMetaProperties(f *testing.F) {
	f.Add([]byte("# x\nversion=1\nnode.id=3\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if id, err := parseMetaProperties(b); err == nil && id < 0 {
			t.Fatalf("negative id %d", id)
		}
	})
}
