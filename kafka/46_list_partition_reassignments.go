package kafka

// ListPartitionReassignments, API key 46, version 0.
//
// The partitions whose reassignment is not done yet: all of them when the
// request names no topics. Replicas is the union of the current replicas and
// the target, as Kafka reports it during a move; AddingReplicas are the target's
// new brokers, RemovingReplicas the current ones not in the target.

import (
	"context"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/cairnlog/cairn/wire"
)

func (h *Handler) listPartitionReassignments(_ context.Context, req *wire.Request) wire.Reply {
	r := req.Body.(*kmsg.ListPartitionReassignmentsRequest)
	resp := kmsg.NewPtrListPartitionReassignmentsResponse()
	resp.Version = r.Version
	add := func(ti TopicInfo, only []int32) {
		st := kmsg.NewListPartitionReassignmentsResponseTopic()
		st.Topic = ti.Name
		for _, p := range ti.Partitions {
			if p.Target == nil || (only != nil && !slices.Contains(only, p.Index)) {
				continue
			}
			sp := kmsg.NewListPartitionReassignmentsResponseTopicPartition()
			sp.Partition = p.Index
			sp.Replicas = slices.Clone(p.Replicas)
			for _, id := range p.Target {
				if !slices.Contains(p.Replicas, id) {
					sp.AddingReplicas = append(sp.AddingReplicas, id)
					sp.Replicas = append(sp.Replicas, id)
				}
			}
			for _, id := range p.Replicas {
				if !slices.Contains(p.Target, id) {
					sp.RemovingReplicas = append(sp.RemovingReplicas, id)
				}
			}
			st.Partitions = append(st.Partitions, sp)
		}
		if len(st.Partitions) > 0 {
			resp.Topics = append(resp.Topics, st)
		}
	}
	if r.Topics == nil {
		for _, ti := range h.b.Topics() {
			add(ti, nil)
		}
		return wire.Respond(resp)
	}
	for _, rt := range r.Topics {
		if ti, ok := h.b.Topic(rt.Topic); ok {
			add(ti, rt.Partitions)
		}
	}
	return wire.Respond(resp)
}
