package kafka

// AlterPartitionAssignments (AlterPartitionReassignments), API key 45,
// versions 0-1.
//
// Each partition's replica list becomes its reassignment target; the
// partition's leader then moves the replicas (a new one joins as a non-voter,
// is promoted once caught up, and the old one leaves). Null replicas cancel a
// reassignment not yet done (NO_REASSIGNMENT_IN_PROGRESS when there is none).
// v1's AllowReplicationFactorChange false refuses a target of another size
// (INVALID_REPLICATION_FACTOR); v0 allows it, as Kafka did. The response
// comes once every target is recorded, not when the moves are done:
// ListPartitionReassignments shows those.

import (
	"context"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/cairnlog/cairn/wire"
)

func (h *Handler) alterPartitionAssignments(ctx context.Context, req *wire.Request) wire.Reply {
	r := req.Body.(*kmsg.AlterPartitionAssignmentsRequest)
	resp := kmsg.NewPtrAlterPartitionAssignmentsResponse()
	resp.Version = r.Version
	actx, cancel := h.adminContext(ctx, r.TimeoutMillis)
	defer cancel()
	allowRFChange := r.Version == 0 || r.AllowReplicationFactorChange
	for _, rt := range r.Topics {
		st := kmsg.NewAlterPartitionAssignmentsResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewAlterPartitionAssignmentsResponseTopicPartition()
			sp.Partition = rp.Partition
			err := h.reassign(actx, rt.Topic, rp.Partition, rp.Replicas, allowRFChange)
			sp.ErrorCode, sp.ErrorMessage = errorCode(err), errorMessage(err)
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return wire.Respond(resp)
}

func (h *Handler) reassign(ctx context.Context, topic string, index int32, replicas []int32, allowRFChange bool) error {
	if err := validTopicName(topic); err != nil {
		return err
	}
	ti, ok := h.b.Topic(topic)
	if !ok || index < 0 || int(index) >= len(ti.Partitions) {
		return fmt.Errorf("%w: %s/%d", kerr.UnknownTopicOrPartition, topic, index)
	}
	p := ti.Partitions[index]
	if replicas == nil {
		if p.Target == nil {
			return fmt.Errorf("%w: %s/%d", kerr.NoReassignmentInProgress, topic, index)
		}
		return h.b.Reassign(ctx, topic, index, nil)
	}
	if len(replicas) == 0 {
		return fmt.Errorf("%w: no replicas", kerr.InvalidReplicaAssignment)
	}
	live := h.b.Brokers()
	for i, id := range replicas {
		if slices.Contains(replicas[:i], id) {
			return fmt.Errorf("%w: broker %d named twice", kerr.InvalidReplicaAssignment, id)
		}
		if !slices.ContainsFunc(live, func(b BrokerInfo) bool { return b.ID == id }) {
			return fmt.Errorf("%w: broker %d is not a live broker", kerr.InvalidReplicaAssignment, id)
		}
	}
	if !allowRFChange && len(replicas) != len(p.Replicas) {
		return fmt.Errorf("%w: %d replicas for a partition of %d", kerr.InvalidReplicationFactor, len(replicas), len(p.Replicas))
	}
	return h.b.Reassign(ctx, topic, index, replicas)
}
