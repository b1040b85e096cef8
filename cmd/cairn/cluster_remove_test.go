package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
)

func TestPlanRemoval(t *testing.T) {
	m := kadm.Metadata{
		Brokers: kadm.BrokerDetails{{NodeID: 1}, {NodeID: 2}, {NodeID: 3}, {NodeID: 4}},
		Topics: kadm.TopicDetails{"t": {Topic: "t", Partitions: kadm.PartitionDetails{
			0: {Topic: "t", Partition: 0, Replicas: []int32{4, 1, 2}},
			1: {Topic: "t", Partition: 1, Replicas: []int32{1, 4, 3}},
			2: {Topic: "t", Partition: 2, Replicas: []int32{1, 2, 3}},
		}}},
	}
	moves, err := planRemoval(m, 4)
	if err != nil {
		t.Fatal(err)
	}
	if len(moves) != 2 {
		t.Fatalf("moves %+v, want 2 (partition 2 has no replica on 4)", moves)
	}
	// Partition 0 loses its preferred leader: the next replica leads and the
	// new one (3, the least loaded outside the set) joins last.
	if got := moves[0].New; !slices.Equal(got, []int32{1, 2, 3}) {
		t.Errorf("partition 0 -> %v, want [1 2 3]", got)
	}
	// Partition 1 keeps its order; 2 is the only broker outside {1,3}.
	if got := moves[1].New; !slices.Equal(got, []int32{1, 2, 3}) {
		t.Errorf("partition 1 -> %v, want [1 2 3]", got)
	}

	m.Brokers = kadm.BrokerDetails{{NodeID: 1}, {NodeID: 2}, {NodeID: 3}}
	m.Topics["t"].Partitions[3] = kadm.PartitionDetail{Topic: "t", Partition: 3, Replicas: []int32{1, 2, 3}}
	if _, err := planRemoval(m, 3); err == nil || !strings.Contains(err.Error(), "add a broker first") {
		t.Errorf("removing 3 of an RF3 topic on 3 brokers: %v, want refused", err)
	}
}
