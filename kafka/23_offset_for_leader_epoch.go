package kafka

// OffsetForLeaderEpoch, API key 23, versions 0-4.
//
// v1 returns the leader epoch beside the end offset, v2 adds the current
// leader epoch check (FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH), v3 the
// replica id (followers never send it here: cairn replicas use Raft), v4 is
// flexible.
//
// The end offset of epoch e (Kafka's LeaderEpochFileCache.endOffsetFor), from
// the partition's epoch history (partition.Epochs): for the current epoch
// or the latest epoch written, the high watermark; otherwise the start
// offset of the first epoch after the largest epoch <= e, and that epoch is
// returned with it. An e older than the history, or newer than the current
// epoch, gets epoch -1 and offset -1.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/cairnlog/cairn/partition"
	"github.com/cairnlog/cairn/wire"
)

func (h *Handler) offsetForLeaderEpoch(ctx context.Context, req *wire.Request) wire.Reply {
	r := req.Body.(*kmsg.OffsetForLeaderEpochRequest)
	resp := kmsg.NewPtrOffsetForLeaderEpochResponse()
	resp.Version = r.Version
	resp.Topics = make([]kmsg.OffsetForLeaderEpochResponseTopic, len(r.Topics))
	for ti, rt := range r.Topics {
		st := &resp.Topics[ti]
		*st = kmsg.NewOffsetForLeaderEpochResponseTopic()
		st.Topic = rt.Topic
		st.Partitions = make([]kmsg.OffsetForLeaderEpochResponseTopicPartition, len(rt.Partitions))
		for pi, rp := range rt.Partitions {
			sp := &st.Partitions[pi]
			*sp = kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.LeaderEpoch, sp.EndOffset = -1, -1
			p, _, err := h.leader(rt.Topic, rp.Partition)
			if err == nil && r.Version >= 2 {
				err = checkLeaderEpoch(p, rp.CurrentLeaderEpoch)
			}
			if err != nil {
				sp.ErrorCode = errorCode(err)
				continue
			}
			sp.LeaderEpoch, sp.EndOffset = endOffsetFor(p.Epochs(), p.LeaderEpoch(), p.HighWatermark(), rp.LeaderEpoch)
		}
	}
	return wire.Respond(resp)
}

// endOffsetFor answers for epoch given the history, the current epoch and
// the high watermark (the end of the log a client may see).
func endOffsetFor(epochs []partition.EpochStart, current int32, hw int64, epoch int32) (int32, int64) {
	if epoch == current || len(epochs) > 0 && epoch == epochs[len(epochs)-1].Epoch {
		return epoch, hw
	}
	if epoch > current {
		return -1, -1
	}
	found := -1
	for i, es := range epochs {
		if es.Epoch > epoch {
			break
		}
		found = i
	}
	switch {
	case found < 0:
		return -1, -1
	case found == len(epochs)-1:
		return epochs[found].Epoch, hw
	}
	return epochs[found].Epoch, epochs[found+1].StartOffset
}
