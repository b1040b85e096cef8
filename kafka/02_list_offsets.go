package kafka

// ListOffsets, API key 2, versions 1-7.
//
// v1 replaced v0's list of offsets by one offset and its timestamp; v2 adds
// the isolation level (no transactions: both levels see the high
// watermark), v4 the current and returned leader epochs, v6 is flexible, v7
// the max-timestamp query (-3). v8+ (tiered storage) are not served.
//
// Timestamps: -2 is the log start offset, -1 the high watermark, -3 the
// first record with the largest timestamp (a scan of the log's batch
// headers), any other t >= 0 the first record whose timestamp is at least t:
// partition.OffsetForTimestamp finds the batch, and the batch's records
// (inflated if compressed) give the record. No such record: offset -1.

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/cairnlog/cairn/log"
	"github.com/cairnlog/cairn/partition"
	"github.com/cairnlog/cairn/wire"
)

// Special timestamps of ListOffsets.
const (
	listLatest       = -1
	listEarliest     = -2
	listMaxTimestamp = -3
)

func (h *Handler) listOffsets(ctx context.Context, req *wire.Request) wire.Reply {
	r := req.Body.(*kmsg.ListOffsetsRequest)
	resp := kmsg.NewPtrListOffsetsResponse()
	resp.Version = r.Version
	resp.Topics = make([]kmsg.ListOffsetsResponseTopic, len(r.Topics))
	for ti, rt := range r.Topics {
		st := &resp.Topics[ti]
		*st = kmsg.NewListOffsetsResponseTopic()
		st.Topic = rt.Topic
		st.Partitions = make([]kmsg.ListOffsetsResponseTopicPartition, len(rt.Partitions))
		for pi, rp := range rt.Partitions {
			sp := &st.Partitions[pi]
			*sp = kmsg.NewListOffsetsResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.Timestamp, sp.Offset, sp.LeaderEpoch = -1, -1, -1
			p, ti, err := h.leader(rt.Topic, rp.Partition)
			if err == nil {
				err = checkLeaderEpoch(p, rp.CurrentLeaderEpoch)
			}
			if err == nil {
				err = h.listOffset(p, h.maxBatchBytes(ti), rp.Timestamp, sp)
			}
			sp.ErrorCode = errorCode(err)
		}
	}
	return wire.Respond(resp)
}

// listOffset answers one partition's query into sp.
func (h *Handler) listOffset(p *partition.Partition, limit int, ts int64, sp *kmsg.ListOffsetsResponseTopicPartition) error {
	epochs := p.Epochs()
	switch ts {
	case listEarliest:
		sp.Offset = p.LogStartOffset()
		sp.LeaderEpoch = epochAt(epochs, sp.Offset)
		return nil
	case listLatest:
		sp.Offset = p.HighWatermark()
		sp.LeaderEpoch = p.LeaderEpoch()
		return nil
	case listMaxTimestamp:
		return h.maxTimestamp(p, limit, sp)
	}
	if ts < 0 {
		return fmt.Errorf("%w: timestamp %d", errInvalidRequest, ts)
	}
	off, err := p.OffsetForTimestamp(ts)
	if errors.Is(err, log.ErrNotFound) {
		return nil // offset -1: no record that recent
	}
	if err != nil {
		return err
	}
	// off starts the first batch whose max timestamp is >= ts: find its
	// first record that is; if the header's max lied, try the next batch.
	var buf []byte
	for hw := p.HighWatermark(); off < hw; {
		c, err := p.Read(off, 1)
		if err != nil {
			return err
		}
		b, err := c.AppendTo(buf[:0])
		next := c.NextOffset()
		c.Close()
		if err != nil {
			return err
		}
		buf = b
		hd, err := log.ParseBatchHeader(b)
		if err != nil {
			return err
		}
		if hd.MaxTimestamp >= ts {
			found, rts, err := h.firstRecordAtOrAfter(b, hd, limit, ts)
			if err != nil {
				return err
			}
			if found >= 0 {
				sp.Offset, sp.Timestamp, sp.LeaderEpoch = found, rts, hd.PartitionLeaderEpoch
				return nil
			}
		}
		off = next
	}
	return nil
}

// firstRecordAtOrAfter returns the offset and timestamp of the first record
// of batch b whose timestamp is >= ts, or -1.
func (h *Handler) firstRecordAtOrAfter(b []byte, hd log.BatchHeader, limit int, ts int64) (int64, int64, error) {
	if hd.Attributes&0x8 != 0 { // LogAppendTime: every record has MaxTimestamp
		return hd.BaseOffset, hd.MaxTimestamp, nil
	}
	recs, err := h.batchRecords(nil, b, hd, limit)
	if err != nil {
		return -1, -1, err
	}
	found, foundTs := int64(-1), int64(-1)
	err = walkRecords(recs, hd.NumRecords, func(r record) bool {
		if t := hd.FirstTimestamp + r.TimestampDelta; t >= ts {
			found, foundTs = hd.BaseOffset+int64(r.OffsetDelta), t
			return false
		}
		return true
	})
	return found, foundTs, err
}

// maxTimestamp finds the first record with the largest timestamp by
// scanning every batch header below the high watermark.
func (h *Handler) maxTimestamp(p *partition.Partition, limit int, sp *kmsg.ListOffsetsResponseTopicPartition) error {
	var best []byte
	var bestHd log.BatchHeader
	var buf []byte
	for off, hw := p.LogStartOffset(), p.HighWatermark(); off < hw; {
		c, err := p.Read(off, 1<<20)
		if err != nil {
			return err
		}
		b, err := c.AppendTo(buf[:0])
		next := c.NextOffset()
		c.Close()
		if err != nil {
			return err
		}
		buf = b
		for len(b) > 0 {
			hd, err := log.ParseBatchHeader(b)
			if err != nil {
				return err
			}
			if best == nil || hd.MaxTimestamp > bestHd.MaxTimestamp {
				best, bestHd = append(best[:0], b[:hd.Size()]...), hd
			}
			b = b[hd.Size():]
		}
		off = next
	}
	if best == nil {
		return nil
	}
	found, ts, err := h.firstRecordAtOrAfter(best, bestHd, limit, bestHd.MaxTimestamp)
	if err != nil {
		return err
	}
	sp.Offset, sp.Timestamp, sp.LeaderEpoch = found, ts, bestHd.PartitionLeaderEpoch
	return nil
}

// epochAt returns the leader epoch under which offset was written (the
// last epoch starting at or before it), or -1.
func epochAt(epochs []partition.EpochStart, offset int64) int32 {
	e := int32(-1)
	for _, es := range epochs {
		if es.StartOffset > offset {
			break
		}
		e = es.Epoch
	}
	return e
}
