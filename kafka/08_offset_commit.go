package kafka

// OffsetCommit, API key 8, versions 2-8.
//
// v2 drops v1's per-partition timestamp and adds the retention time
// (ignored: committed offsets never expire), v3 adds throttling, v5 drops
// the retention time, v6 adds the leader epoch, v7 the group instance id,
// v8 is flexible. v0 and v1 (offsets in ZooKeeper) are not served.
//
// A commit from a member is checked against the group's generation; one
// from outside the group (generation -1, no member id) is accepted only
// while the group has no members, so an offset reset is refused
// (UNKNOWN_MEMBER_ID) while consumers run. A partition of an unknown topic
// gets UNKNOWN_TOPIC_OR_PARTITION and metadata longer than the
// coordinator's limit OFFSET_METADATA_TOO_LARGE; the others are committed
// together, in one write of the coordinator's batching committer, and
// answered when it is durable (wire.Later).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/cairnlog/cairn/consumer"
	"github.com/cairnlog/cairn/wire"
)

func (h *Handler) offsetCommit(ctx context.Context, req *wire.Request) wire.Reply {
	r := req.Body.(*kmsg.OffsetCommitRequest)
	resp := kmsg.NewPtrOffsetCommitResponse()
	resp.Version = r.Version
	c, cerr := h.coordinator()
	cr := consumer.CommitRequest{
		Group:      r.Group,
		MemberID:   r.MemberID,
		InstanceID: deref(r.InstanceID),
		Generation: r.Generation,
		Offsets:    map[consumer.TopicPartition]consumer.Offset{},
	}
	var pending []*int16 // the error codes the commit's outcome fills in
	for _, t := range r.Topics {
		rt := kmsg.NewOffsetCommitResponseTopic()
		rt.Topic = t.Topic
		// Sized up front: pending holds pointers into this array, which
		// an append that grew it would leave behind.
		rt.Partitions = make([]kmsg.OffsetCommitResponseTopicPartition, 0, len(t.Partitions))
		ti, terr := h.topic(t.Topic)
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetCommitResponseTopicPartition()
			rp.Partition = p.Partition
			rt.Partitions = append(rt.Partitions, rp)
			code := &rt.Partitions[len(rt.Partitions)-1].ErrorCode
			tp := consumer.TopicPartition{Topic: t.Topic, Partition: p.Partition}
			_, dup := cr.Offsets[tp]
			switch {
			case cerr != nil:
				*code = groupErrorCode(cerr)
			case terr != nil || p.Partition < 0 || int(p.Partition) >= len(ti.Partitions):
				*code = kerr.UnknownTopicOrPartition.Code
			case len(deref(p.Metadata)) > c.Config().MaxMetadataBytes:
				*code = kerr.OffsetMetadataTooLarge.Code
			case dup:
				*code = kerr.InvalidRequest.Code
			default:
				epoch := int32(-1)
				if r.Version >= 6 {
					epoch = p.LeaderEpoch
				}
				cr.Offsets[tp] = consumer.Offset{Offset: p.Offset, LeaderEpoch: epoch, Metadata: deref(p.Metadata)}
				pending = append(pending, code)
			}
		}
		resp.Topics = append(resp.Topics, rt)
	}
	if len(pending) == 0 {
		return wire.Respond(resp)
	}
	ch := make(chan kmsg.Response, 1)
	c.Commit(ctx, cr, func(err error) {
		code := groupErrorCode(err)
		for _, p := range pending {
			*p = code
		}
		ch <- resp
	})
	return wire.Later(ch)
}
