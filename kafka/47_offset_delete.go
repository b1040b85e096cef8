package kafka

// OffsetDelete, API key 47, version 0 (KIP-496).
//
// Deletes a group's committed offsets of some partitions. While the group
// has members, partitions of the topics they subscribe to are refused with
// GROUP_SUBSCRIBED_TO_TOPIC (the coordinator reads the subscriptions from
// the members' consumer-protocol metadata), and a group with members that
// is not a consumer group gets NON_EMPTY_GROUP. A partition of an unknown
// topic gets UNKNOWN_TOPIC_OR_PARTITION.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/cairnlog/cairn/consumer"
	"github.com/cairnlog/cairn/wire"
)

func (h *Handler) offsetDelete(ctx context.Context, req *wire.Request) wire.Reply {
	r := req.Body.(*kmsg.OffsetDeleteRequest)
	resp := kmsg.NewPtrOffsetDeleteResponse()
	resp.Version = r.Version
	err := validGroupID(r.Group)
	var c *consumer.Coordinator
	if err == nil {
		c, err = h.coordinator()
	}
	if err != nil {
		resp.ErrorCode = groupErrorCode(err)
		return wire.Respond(resp)
	}
	var eligible []consumer.TopicPartition
	unknown := map[consumer.TopicPartition]bool{}
	for _, t := range r.Topics {
		ti, terr := h.topic(t.Topic)
		for _, p := range t.Partitions {
			tp := consumer.TopicPartition{Topic: t.Topic, Partition: p.Partition}
			if terr != nil || p.Partition < 0 || int(p.Partition) >= len(ti.Partitions) {
				unknown[tp] = true
				continue
			}
			eligible = append(eligible, tp)
		}
	}
	dctx, cancel := h.requestContext(ctx, groupAdminTimeout)
	refused, err := c.DeleteOffsets(dctx, r.Group, eligible)
	cancel()
	if err != nil {
		resp.ErrorCode = groupErrorCode(err)
		return wire.Respond(resp)
	}
	for _, t := range r.Topics {
		rt := kmsg.NewOffsetDeleteResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			tp := consumer.TopicPartition{Topic: t.Topic, Partition: p.Partition}
			rp := kmsg.NewOffsetDeleteResponseTopicPartition()
			rp.Partition = p.Partition
			if unknown[tp] {
				rp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			} else {
				rp.ErrorCode = groupErrorCode(refused[tp])
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return wire.Respond(resp)
}
