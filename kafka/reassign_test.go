package kafka

import (
	"context"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestKadmPartitionReassignments(t *testing.T) {
	b := startBroker(t, Config{})
	adm := kadm.NewClient(newKgo(t, b))
	ctx, cancel := context.WithTimeout(t.Context(), testDeadline)
	defer cancel()
	if _, err := adm.CreateTopic(ctx, 2, 1, nil, "moves"); err != nil {
		t.Fatal(err)
	}

	alter := func(p int32, replicas []int32) error {
		t.Helper()
		req := kadm.AlterPartitionAssignmentsReq{}
		req.Assign("moves", p, replicas)
		resp, err := adm.AlterPartitionAssignments(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		r, ok := resp["moves"][p]
		if !ok {
			t.Fatalf("no answer for moves/%d", p)
		}
		return r.Err
	}
	if err := alter(0, []int32{1}); err != nil {
		t.Fatalf("reassign to broker 1: %v", err)
	}
	for _, bad := range []struct {
		replicas []int32
		want     error
	}{
		{[]int32{1, 1}, kerr.InvalidReplicaAssignment},
		{[]int32{7}, kerr.InvalidReplicaAssignment},
		{[]int32{}, kerr.InvalidReplicaAssignment},
	} {
		if err := alter(1, bad.replicas); !errors.Is(err, bad.want) {
			t.Errorf("reassign to %v: %v, want %v", bad.replicas, err, bad.want)
		}
	}

	set := kadm.TopicsSet{}
	set.Add("moves", 0, 1)
	listed, err := adm.ListPartitionReassignments(ctx, set)
	if err != nil {
		t.Fatal(err)
	}
	// Null topics lists every reassignment in progress (kadm never sends it).
	all, err := kmsg.NewPtrListPartitionReassignmentsRequest().RequestWith(ctx, newKgo(t, b))
	if err != nil {
		t.Fatal(err)
	}
	if len(all.Topics) != 1 || all.Topics[0].Topic != "moves" || len(all.Topics[0].Partitions) != 1 {
		t.Fatalf("listing all: %+v", all.Topics)
	}
	got, ok := listed["moves"][0]
	if !ok || len(got.Replicas) != 1 || got.Replicas[0] != 1 {
		t.Fatalf("listed reassignments %+v", listed)
	}
	if _, ok := listed["moves"][1]; ok {
		t.Fatal("a refused reassignment is listed")
	}

	// Null replicas cancel; a second cancel finds nothing in progress.
	if err := alter(0, nil); err != nil {
		t.Fatalf("cancel: %v", err)
	}
	if err := alter(0, nil); !errors.Is(err, kerr.NoReassignmentInProgress) {
		t.Fatalf("cancel of nothing: %v", err)
	}
	req := kadm.AlterPartitionAssignmentsReq{}
	req.Assign("nope", 0, []int32{1})
	resp, err := adm.AlterPartitionAssignments(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if r := resp["nope"][0]; !errors.Is(r.Err, kerr.UnknownTopicOrPartition) {
		t.Fatalf("unknown topic: %v", r.Err)
	}
}

func TestUnregisterBroker(t *testing.T) {
	b := startBroker(t, Config{})
	cl := newKgo(t, b)
	ctx, cancel := context.WithTimeout(t.Context(), testDeadline)
	defer cancel()
	for _, c := range []struct {
		id   int32
		want error
	}{{7, kerr.BrokerIDNotRegistered}, {1, nil}} {
		req := kmsg.NewPtrUnregisterBrokerRequest()
		req.BrokerID = c.id
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		if err := kerr.ErrorForCode(resp.ErrorCode); !errors.Is(err, c.want) {
			t.Errorf("unregister broker %d: %v, want %v", c.id, err, c.want)
		}
	}
}
