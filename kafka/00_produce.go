package kafka

// Produce, API key 0, versions 3-9.
//
// v3 is the first with v2 record batches (and a transactional id), v5 adds
// the log start offset, v8 per-record errors (never set: a bad batch fails
// its whole partition), v9 is flexible. v10+ (the current leader in a tagged
// field, KIP-951) is not served.
//
// acks: -1 (all) answers once the batches are committed by the partition's
// Raft group; 1 is treated as -1 (Raft has no weaker acknowledgement); 0
// proposes and answers nothing, closing the connection if a partition fails
// at once (as Kafka does so that the producer refreshes its metadata).
// Every partition's batches are proposed here in Serve, in request order,
// so an idempotent producer's pipelined requests commit in sequence order;
// the waiting happens on another goroutine (wire.Later).

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/cairnlog/cairn/partition"
	"github.com/cairnlog/cairn/wire"
)

// proposed is one partition's append in flight.
type proposed struct {
	resp *kmsg.ProduceResponseTopicPartition
	p    *partition.Partition
	wait *partition.Pending

	topic   string // for Config.Metrics
	bytes   int
	records int
}

func (h *Handler) produce(ctx context.Context, req *wire.Request) wire.Reply {
	r := req.Body.(*kmsg.ProduceRequest)
	resp := kmsg.NewPtrProduceResponse()
	resp.Version = r.Version

	// A request-wide error fails every partition alike, as in Kafka.
	var reqErr error
	var reqCode int16
	d, err := timeout(r.TimeoutMillis)
	switch {
	case r.Acks != -1 && r.Acks != 0 && r.Acks != 1:
		reqCode = kerr.InvalidRequiredAcks.Code
		reqErr = fmt.Errorf("kafka: acks %d not in {-1, 0, 1}", r.Acks)
	case err != nil:
		reqErr = err
		reqCode = errorCode(err)
	}

	var pending []proposed
	var failed error
	for _, rt := range r.Topics {
		st := kmsg.NewProduceResponseTopic()
		st.Topic = rt.Topic
		st.Partitions = make([]kmsg.ProduceResponseTopicPartition, len(rt.Partitions))
		ti, topicErr := h.topic(rt.Topic)
		for i, rp := range rt.Partitions {
			sp := &st.Partitions[i]
			*sp = kmsg.NewProduceResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.BaseOffset, sp.LogAppendTime, sp.LogStartOffset = -1, -1, -1
			if reqErr != nil {
				sp.ErrorCode, sp.ErrorMessage = reqCode, errorMessage(reqErr)
				continue
			}
			p, w, err := h.propose(ti, topicErr, rp.Partition, rp.Records)
			if err != nil {
				sp.ErrorCode, sp.ErrorMessage = errorCode(err), errorMessage(err)
				failed = errors.Join(failed, err)
				h.logger.Debug("produce refused", "topic", rt.Topic, "partition", rp.Partition, "err", err)
				continue
			}
			pending = append(pending, proposed{p: p, wait: w, topic: rt.Topic, bytes: len(rp.Records), records: countRecords(rp.Records)})
		}
		resp.Topics = append(resp.Topics, st)
	}
	// Pointers into resp are taken once its slices stop growing.
	for ti, n := 0, 0; ti < len(resp.Topics); ti++ {
		for pi := range resp.Topics[ti].Partitions {
			sp := &resp.Topics[ti].Partitions[pi]
			if sp.ErrorCode == 0 {
				pending[n].resp = sp
				n++
			}
		}
	}

	if r.Acks == 0 && reqErr == nil {
		if failed != nil {
			return wire.CloseConn(fmt.Errorf("acks=0 produce failed: %w", failed))
		}
		h.unackedProduce(ctx, pending)
		return wire.NoResponse()
	}
	if len(pending) == 0 {
		return wire.Respond(resp)
	}
	ch := make(chan kmsg.Response, 1)
	if !h.goFunc(func() {
		wctx, cancel := h.requestContext(ctx, d)
		defer cancel()
		for _, pr := range pending {
			res, err := pr.wait.Wait(wctx)
			if err != nil {
				pr.resp.ErrorCode, pr.resp.ErrorMessage = errorCode(err), errorMessage(err)
				continue
			}
			// An idempotent retry (res.Duplicate) gets the original
			// offsets and no error, as in Kafka 2.x and later.
			pr.resp.BaseOffset = res.BaseOffset
			if !res.Duplicate {
				h.cfg.Metrics.Produced(pr.topic, pr.bytes, pr.records)
			}
			pr.resp.LogStartOffset = pr.p.LogStartOffset()
		}
		ch <- resp
	}) {
		return wire.CloseConn(errors.New("kafka: handler closed"))
	}
	return wire.Later(ch)
}

// propose checks and proposes one partition's batches.
func (h *Handler) propose(ti TopicInfo, topicErr error, part int32, batches []byte) (*partition.Partition, *partition.Pending, error) {
	if topicErr != nil {
		return nil, nil, topicErr
	}
	p, err := h.leaderOf(ti, part)
	if err != nil {
		return nil, nil, err
	}
	if err := h.checkProduceBatches(batches, h.maxBatchBytes(ti)); err != nil {
		return nil, nil, err
	}
	return p, p.Propose(batches), nil
}

// maxBatchBytes is the topic's max.message.bytes, or the broker default.
func (h *Handler) maxBatchBytes(ti TopicInfo) int {
	if v, ok := ti.Configs["max.message.bytes"]; ok {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			return n
		}
	}
	return h.cfg.MaxBatchBytes
}

// unackedProduce waits for acks=0 appends on a goroutine, holding a token
// of h.unacked meanwhile: at MaxUnackedProduces requests in flight, the
// next waits for a token here (so its connection stops being read).
func (h *Handler) unackedProduce(ctx context.Context, pending []proposed) {
	if len(pending) == 0 {
		return
	}
	select {
	case h.unacked <- struct{}{}:
	case <-ctx.Done():
		return
	}
	if !h.goFunc(func() {
		defer func() { <-h.unacked }()
		wctx, cancel := h.requestContext(context.Background(), time.Minute)
		defer cancel()
		for _, pr := range pending {
			res, err := pr.wait.Wait(wctx)
			if err != nil {
				h.logger.Debug("acks=0 produce failed", "partition", pr.p.ID(), "err", err)
				continue
			}
			if !res.Duplicate {
				h.cfg.Metrics.Produced(pr.topic, pr.bytes, pr.records)
			}
		}
	}) {
		<-h.unacked
	}
}
