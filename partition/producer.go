package partition

import (
	"errors"
	"fmt"
	"math"
	"sort"
)

// Idempotent-producer state, as Kafka keeps it: for every producer id, its current
// epoch and the sequence ranges and offsets of its last five batches. The FSM owns
// it; it is part of every snapshot, so a new leader has it.

// maxProducerBatches is how many recent batches are remembered per producer: a
// Kafka producer has at most five requests in flight per partition
// (max.in.flight.requests.per.connection ≤ 5 with idempotence), so a retry always
// names one of these.
const maxProducerBatches = 5

// Sequence errors. The protocol layer maps them to OUT_OF_ORDER_SEQUENCE_NUMBER and
// INVALID_PRODUCER_EPOCH.
var (
	ErrOutOfOrderSequence = errors.New("partition: out of order sequence number")
	ErrInvalidEpoch       = errors.New("partition: invalid producer epoch")
)

// seqEntry is one appended batch of a producer.
type seqEntry struct {
	FirstSeq    int32 `json:"first_seq"`
	LastSeq     int32 `json:"last_seq"`
	FirstOffset int64 `json:"first_offset"`
	LastOffset  int64 `json:"last_offset"`
}

type producerState struct {
	ID         int64      `json:"id"`
	Epoch      int16      `json:"epoch"`
	Batches    []seqEntry `json:"batches"` // oldest first, at most maxProducerBatches
	LastTimeMs int64      `json:"last_time_ms"`
}

// producerBatch is what the sequence check needs of a batch header.
type producerBatch struct {
	ProducerID    int64
	ProducerEpoch int16
	BaseSequence  int32
	Records       int32
}

func (b producerBatch) lastSeq() int32 { return addSeq(b.BaseSequence, b.Records-1) }

// addSeq adds to a sequence number the way Kafka does: sequences wrap from
// MaxInt32 to 0.
func addSeq(seq, n int32) int32 {
	if int64(seq)+int64(n) > math.MaxInt32 {
		return int32(int64(seq) + int64(n) - math.MaxInt32 - 1)
	}
	return seq + n
}

// producers is the FSM's table. It is not safe for concurrent use: the FSM guards it.
type producers struct {
	m map[int64]*producerState
}

func newProducers() *producers { return &producers{m: map[int64]*producerState{}} }

// check decides what to do with an idempotent batch: append it (dup == nil), or
// answer a retry with the original batch's offsets (dup != nil), or refuse it.
// It changes nothing; record does.
func (p *producers) check(b producerBatch) (dup *seqEntry, err error) {
	st, ok := p.m[b.ProducerID]
	if !ok {
		if b.BaseSequence != 0 {
			return nil, fmt.Errorf("%w: producer %d unknown here, first sequence %d, want 0", ErrOutOfOrderSequence, b.ProducerID, b.BaseSequence)
		}
		return nil, nil
	}
	switch {
	case b.ProducerEpoch < st.Epoch:
		return nil, fmt.Errorf("%w: producer %d epoch %d, current %d", ErrInvalidEpoch, b.ProducerID, b.ProducerEpoch, st.Epoch)
	case b.ProducerEpoch > st.Epoch:
		if b.BaseSequence != 0 {
			return nil, fmt.Errorf("%w: producer %d new epoch %d starts at sequence %d, want 0", ErrOutOfOrderSequence, b.ProducerID, b.ProducerEpoch, b.BaseSequence)
		}
		return nil, nil
	}
	last := b.lastSeq()
	for i := range st.Batches {
		if e := &st.Batches[i]; e.FirstSeq == b.BaseSequence && e.LastSeq == last {
			if unsafeNoDedup {
				return nil, nil
			}
			return e, nil
		}
	}
	if n := len(st.Batches); n > 0 {
		if want := addSeq(st.Batches[n-1].LastSeq, 1); b.BaseSequence != want {
			return nil, fmt.Errorf("%w: producer %d epoch %d sequence %d, want %d", ErrOutOfOrderSequence, b.ProducerID, b.ProducerEpoch, b.BaseSequence, want)
		}
	}
	return nil, nil
}

// record notes an appended batch; check must have passed for it.
func (p *producers) record(b producerBatch, firstOffset, lastOffset, timeMs int64) {
	st, ok := p.m[b.ProducerID]
	if !ok || b.ProducerEpoch != st.Epoch {
		st = &producerState{ID: b.ProducerID, Epoch: b.ProducerEpoch}
		p.m[b.ProducerID] = st
	}
	if len(st.Batches) == maxProducerBatches {
		copy(st.Batches, st.Batches[1:])
		st.Batches = st.Batches[:maxProducerBatches-1]
	}
	st.Batches = append(st.Batches, seqEntry{FirstSeq: b.BaseSequence, LastSeq: b.lastSeq(), FirstOffset: firstOffset, LastOffset: lastOffset})
	st.LastTimeMs = max(st.LastTimeMs, timeMs)
}

// expire forgets producers idle for longer than ttlMs as of nowMs (Kafka's
// producer.id.expiration.ms), so the table stays bounded. nowMs comes from a Raft
// entry, so every replica expires the same producers at the same entry.
func (p *producers) expire(nowMs, ttlMs int64) {
	for id, st := range p.m {
		if nowMs-st.LastTimeMs > ttlMs {
			delete(p.m, id)
		}
	}
}

// snapshot returns a deep copy, sorted by producer id (snapshots are deterministic).
func (p *producers) snapshot() []producerState {
	out := make([]producerState, 0, len(p.m))
	for _, st := range p.m {
		c := *st
		c.Batches = append([]seqEntry(nil), st.Batches...)
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (p *producers) restore(states []producerState) {
	p.m = make(map[int64]*producerState, len(states))
	for i := range states {
		st := states[i]
		p.m[st.ID] = &st
	}
}
