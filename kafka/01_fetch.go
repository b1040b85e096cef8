package kafka

// Fetch, API key 1, versions 4-12.
//
// v4 is the first with v2 record batches, isolation level and the last
// stable offset; v5 adds the log start offset, v7 fetch sessions (never
// granted: SessionID is always 0, so clients send full fetches), v9 the
// current leader epoch (FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH), v11
// the rack and preferred read replica (always -1), v12 is flexible. v13+
// name topics by id and are not served.
//
// Only the leader serves a partition, and only below its high watermark;
// with no transactions the last stable offset is the high watermark. The
// response holds at most MaxBytes (clamped to Config.FetchMaxBytes) and each
// partition at most its PartitionMaxBytes, except that the first batch of
// the first partition with data is returned whole even when larger (KIP-74).
// A partition with nothing to return has empty, never null, record bytes.
//
// A partition whose copy of the range is damaged (partition.ErrStorage, or
// log.ErrCorrupt from the log's own bytes) answers KAFKA_STORAGE_ERROR, which
// clients retry; CORRUPT_MESSAGE is for bad bytes from a client.
//
// Long poll: when the partitions hold fewer than MinBytes, the answer is
// deferred (wire.Later) and a goroutine per partition waits on its high
// watermark (partition.Wait); the fetch answers as soon as MinBytes are
// there, or when MaxWaitMillis (clamped to Config.MaxFetchWait) expires.

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/cairnlog/cairn/log"
	"github.com/cairnlog/cairn/partition"
	"github.com/cairnlog/cairn/wire"
)

// fetchPart is one partition of a fetch that reads data.
type fetchPart struct {
	resp     *kmsg.FetchResponseTopicPartition
	p        *partition.Partition
	offset   int64
	maxBytes int
	hw       int64 // high watermark when last read
}

// fetchState is a fetch being answered: its response, its readable
// partitions and its byte budget. One goroutine owns it at a time.
type fetchState struct {
	resp     *kmsg.FetchResponse
	parts    []fetchPart
	maxBytes int
	minBytes int
}

func (h *Handler) fetch(ctx context.Context, req *wire.Request) wire.Reply {
	r := req.Body.(*kmsg.FetchRequest)
	resp := kmsg.NewPtrFetchResponse()
	resp.Version = r.Version
	if r.SessionID != 0 {
		// We never grant a session, so the client cannot have one.
		resp.ErrorCode = kerr.FetchSessionIDNotFound.Code
		return wire.Respond(resp)
	}

	var reqErr error
	if r.ReplicaID >= 0 {
		// Replicas copy through Raft, never through Fetch; a client
		// claiming to be a follower is refused.
		reqErr = fmt.Errorf("%w: fetch from replica id %d: cairn replicas do not fetch", errInvalidRequest, r.ReplicaID)
		if r.Version >= 7 {
			resp.ErrorCode = errorCode(reqErr)
		}
	}

	fs := &fetchState{
		resp:     resp,
		maxBytes: int(min(max(r.MaxBytes, 0), h.cfg.FetchMaxBytes)),
		minBytes: int(max(r.MinBytes, 0)),
	}
	resp.Topics = make([]kmsg.FetchResponseTopic, len(r.Topics))
	for ti, rt := range r.Topics {
		st := &resp.Topics[ti]
		*st = kmsg.NewFetchResponseTopic()
		st.Topic = rt.Topic
		st.Partitions = make([]kmsg.FetchResponseTopicPartition, len(rt.Partitions))
		ti, topicErr := h.topic(rt.Topic)
		for pi, rp := range rt.Partitions {
			sp := &st.Partitions[pi]
			*sp = kmsg.NewFetchResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = -1, -1, -1
			sp.RecordBatches = []byte{}
			err := cmp.Or(reqErr, topicErr)
			var p *partition.Partition
			if err == nil {
				p, err = h.leaderOf(ti, rp.Partition)
			}
			if err == nil {
				err = checkLeaderEpoch(p, rp.CurrentLeaderEpoch)
			}
			if err != nil {
				sp.ErrorCode = errorCode(err)
				continue
			}
			fs.parts = append(fs.parts, fetchPart{
				resp:     sp,
				p:        p,
				offset:   rp.FetchOffset,
				maxBytes: int(min(max(rp.PartitionMaxBytes, 0), h.cfg.FetchMaxBytes)),
			})
		}
	}
	for i := range fs.parts {
		fs.read(i)
	}

	wait := time.Duration(max(r.MaxWaitMillis, 0)) * time.Millisecond
	wait = min(wait, h.cfg.MaxFetchWait)
	if fs.done() || wait == 0 {
		h.observeFetch(fs)
		return wire.Respond(resp)
	}
	ch := make(chan kmsg.Response, 1)
	if !h.goFunc(func() {
		wctx, cancel := h.requestContext(ctx, wait)
		defer cancel()
		fs.longPoll(wctx)
		h.observeFetch(fs)
		ch <- resp
	}) {
		h.observeFetch(fs)
		return wire.Respond(resp)
	}
	return wire.Later(ch)
}

// observeFetch reports the record bytes of a finished fetch to
// Config.Metrics, per partition with data.
func (h *Handler) observeFetch(fs *fetchState) {
	for ti := range fs.resp.Topics {
		st := &fs.resp.Topics[ti]
		for pi := range st.Partitions {
			if b := st.Partitions[pi].RecordBatches; len(b) > 0 {
				h.cfg.Metrics.Fetched(st.Topic, len(b), countRecords(b))
			}
		}
	}
}

// bytes returns the record bytes gathered so far.
func (fs *fetchState) bytes() int {
	n := 0
	for _, fp := range fs.parts {
		n += len(fp.resp.RecordBatches)
	}
	return n
}

// done reports whether the fetch should answer now: MinBytes gathered, the
// budget spent, or a partition failed (it must hear about its error).
func (fs *fetchState) done() bool {
	n := fs.bytes()
	if n >= fs.minBytes || n >= fs.maxBytes || len(fs.parts) == 0 {
		return true
	}
	for _, fp := range fs.parts {
		if fp.resp.ErrorCode != 0 {
			return true
		}
	}
	return false
}

// read (re)reads partition i from its fetch offset within what the budget
// leaves it, replacing what it held.
func (fs *fetchState) read(i int) {
	fp := &fs.parts[i]
	sp := fp.resp
	sp.RecordBatches = []byte{}
	others := fs.bytes() // excludes partition i, now empty
	hw := fp.p.HighWatermark()
	fp.hw = hw
	sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = hw, hw, fp.p.LogStartOffset()
	if fp.offset < sp.LogStartOffset || fp.offset > hw {
		sp.ErrorCode = kerr.OffsetOutOfRange.Code
		return
	}
	if fp.offset == hw {
		return
	}
	limit := min(fp.maxBytes, fs.maxBytes-others)
	// KIP-74: the first batch of the first partition with data is sent
	// whole even beyond the limits, so that a consumer always progresses.
	first := others == 0
	if limit <= 0 && !first {
		return
	}
	c, err := fp.p.Read(fp.offset, max(limit, 1))
	if err != nil {
		sp.ErrorCode = readErrorCode(err)
		return
	}
	defer c.Close()
	if c.Len() > int64(max(limit, 0)) && !first {
		return // the next batch does not fit; a later fetch gets it
	}
	buf := make([]byte, 0, c.Len())
	if buf, err = c.AppendTo(buf); err != nil {
		sp.ErrorCode = readErrorCode(err)
		return
	}
	sp.RecordBatches = buf
}

// readErrorCode is errorCode for a failed read of the partition's own log.
// Damage there is the server's, not the client's: it answers the retriable
// KAFKA_STORAGE_ERROR (the replica repairs itself, a damaged leader hands
// its leadership over), never CORRUPT_MESSAGE, which tells a consumer that
// the data itself is bad.
func readErrorCode(err error) int16 {
	if errors.Is(err, partition.ErrStorage) || errors.Is(err, log.ErrCorrupt) {
		return kerr.KafkaStorageError.Code
	}
	return errorCode(err)
}

// longPoll waits, until ctx ends, for the partitions' high watermarks to
// rise, re-reading a partition when its rises, and returns once the fetch
// is done. Every goroutine it starts has ended when it returns.
func (fs *fetchState) longPoll(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()
	// Each partition has at most one waiter at a time, so the channel
	// never blocks a sender.
	woke := make(chan int, len(fs.parts))
	watch := func(i int) {
		fp := &fs.parts[i]
		if fp.resp.ErrorCode != 0 {
			return
		}
		p, after := fp.p, fp.hw
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := p.Wait(ctx, after); err == nil {
				woke <- i
			}
		}()
	}
	for i := range fs.parts {
		watch(i)
	}
	for {
		select {
		case i := <-woke:
			fs.read(i)
			if fs.done() {
				return
			}
			watch(i)
		case <-ctx.Done():
			return
		}
	}
}
