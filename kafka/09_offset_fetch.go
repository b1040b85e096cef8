package kafka

// OffsetFetch, API key 9, versions 1-8.
//
// v2 fetches every committed offset of the group when topics is null and
// adds a top-level error code, v3 throttling, v5 the leader epoch, v6 is
// flexible, v7 adds require-stable (always stable: no transactions), v8
// fetches many groups in one request (KIP-709). A partition with nothing
// committed answers offset -1. Offsets come from the coordinator's local
// copy of the store: no network.

import (
	"cmp"
	"context"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/cairnlog/cairn/consumer"
	"github.com/cairnlog/cairn/wire"
)

// fetchedPartition is one partition's answer, in any version's shape.
type fetchedPartition struct {
	partition int32
	offset    consumer.Offset
	code      int16
}

type fetchedTopic struct {
	topic      string
	partitions []fetchedPartition
}

func (h *Handler) offsetFetch(ctx context.Context, req *wire.Request) wire.Reply {
	r := req.Body.(*kmsg.OffsetFetchRequest)
	resp := kmsg.NewPtrOffsetFetchResponse()
	resp.Version = r.Version
	c, cerr := h.coordinator()
	if r.Version >= 8 {
		for _, g := range r.Groups {
			var topics []kmsg.OffsetFetchRequestTopic // same shape as v0-7's
			if g.Topics != nil {
				topics = []kmsg.OffsetFetchRequestTopic{}
				for _, t := range g.Topics {
					topics = append(topics, kmsg.OffsetFetchRequestTopic{Topic: t.Topic, Partitions: t.Partitions})
				}
			}
			code, fetched := fetchOffsets(c, cerr, g.Group, topics)
			rg := kmsg.NewOffsetFetchResponseGroup()
			rg.Group, rg.ErrorCode = g.Group, code
			for _, ft := range fetched {
				rt := kmsg.NewOffsetFetchResponseGroupTopic()
				rt.Topic = ft.topic
				for _, fp := range ft.partitions {
					rp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
					rp.Partition, rp.Offset, rp.LeaderEpoch, rp.ErrorCode = fp.partition, fp.offset.Offset, fp.offset.LeaderEpoch, fp.code
					rp.Metadata = &fp.offset.Metadata
					rt.Partitions = append(rt.Partitions, rp)
				}
				rg.Topics = append(rg.Topics, rt)
			}
			resp.Groups = append(resp.Groups, rg)
		}
		return wire.Respond(resp)
	}
	topics := r.Topics
	if r.Version < 2 && topics == nil {
		topics = []kmsg.OffsetFetchRequestTopic{} // v1 has no "all"
	}
	code, fetched := fetchOffsets(c, cerr, r.Group, topics)
	if r.Version >= 2 {
		resp.ErrorCode = code
	}
	for _, ft := range fetched {
		rt := kmsg.NewOffsetFetchResponseTopic()
		rt.Topic = ft.topic
		for _, fp := range ft.partitions {
			rp := kmsg.NewOffsetFetchResponseTopicPartition()
			rp.Partition, rp.Offset, rp.LeaderEpoch, rp.ErrorCode = fp.partition, fp.offset.Offset, fp.offset.LeaderEpoch, fp.code
			rp.Metadata = &fp.offset.Metadata
			if r.Version < 2 {
				rp.ErrorCode = code // v1 carries a group error in every partition
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return wire.Respond(resp)
}

// fetchOffsets answers one group: a group-level error code, and the
// requested partitions (every committed one when topics is nil), -1 where
// nothing is committed. On a group error the partitions requested are
// returned with offset -1 (v1 needs them).
func fetchOffsets(c *consumer.Coordinator, cerr error, group string, topics []kmsg.OffsetFetchRequestTopic) (int16, []fetchedTopic) {
	var committed map[consumer.TopicPartition]consumer.Offset
	err := cerr
	if err == nil {
		committed, err = c.Offsets(group)
	}
	none := consumer.Offset{Offset: -1, LeaderEpoch: -1}
	if topics == nil {
		if err != nil {
			return groupErrorCode(err), nil
		}
		byTopic := map[string][]fetchedPartition{}
		for tp, o := range committed {
			byTopic[tp.Topic] = append(byTopic[tp.Topic], fetchedPartition{partition: tp.Partition, offset: o})
		}
		out := make([]fetchedTopic, 0, len(byTopic))
		for t, ps := range byTopic {
			slices.SortFunc(ps, func(a, b fetchedPartition) int { return cmp.Compare(a.partition, b.partition) })
			out = append(out, fetchedTopic{topic: t, partitions: ps})
		}
		slices.SortFunc(out, func(a, b fetchedTopic) int { return cmp.Compare(a.topic, b.topic) })
		return 0, out
	}
	out := make([]fetchedTopic, 0, len(topics))
	for _, t := range topics {
		ft := fetchedTopic{topic: t.Topic}
		for _, p := range t.Partitions {
			o, ok := committed[consumer.TopicPartition{Topic: t.Topic, Partition: p}]
			if !ok {
				o = none
			}
			ft.partitions = append(ft.partitions, fetchedPartition{partition: p, offset: o})
		}
		out = append(out, ft)
	}
	return groupErrorCode(err), out
}
