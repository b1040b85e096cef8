package partition

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/cairnlog/cairn/log"
)

// FSM is the state machine of one partition's Raft group. Raft calls Apply,
// ApplyBatch, Snapshot and Restore from its single FSM goroutine; every other method
// may be called from any goroutine.
//
// The log holds only committed data: Apply is the only writer. Apply assigns
// offsets from the FSM's own counter (applied end offset), never from what the log
// happens to hold, so that replaying the Raft log after a restart is idempotent: an
// entry whose batches are already in the log (because they were written before the
// restart) is checked against the log and skipped, not appended twice.
type FSM struct {
	log         *log.Log
	logger      *slog.Logger
	producerTTL time.Duration

	// fetch copies the committed batches [from, to) from a peer into the log with
	// log.AppendRaw. Restore uses it when a snapshot is ahead of the local log,
	// repair when the log lost batches to damage.
	fetch func(ctx context.Context, from, to int64) error
	// detected, if set, is told of damage the FSM finds in the log while
	// replaying, and repaired of each repair the FSM completes, [from, to)
	// refilled; the Partition logs and counts them. Called with writeMu held.
	detected func(offset int64, err error)
	repaired func(from, to int64)
	// lostFrom and lostTo are the synced batches [lostFrom, lostTo) the log
	// lost at Open (a corrupt or truncated segment), set before Raft starts;
	// lostTo is 0 once Restore or replay has refilled them (a repair). FSM
	// goroutine.
	lostFrom, lostTo int64

	// writeMu serialises the log's writers: Apply, ApplyBatch, Restore and
	// repair. It is taken before mu, and held across fetches from peers, which
	// mu is not, so that readers of the FSM's state do not wait on the
	// network (except while replay repairs damage it found, at start-up).
	writeMu sync.Mutex

	hw *watermark

	// scratch is the FSM goroutine's buffer: the log stamps offsets and epochs into
	// batches in place, and Raft's copy of an entry must not be written to (it may be
	// replicated from at the same time), so Apply copies into scratch first.
	scratch []byte
	// pending gathers the batches of the entries of one ApplyBatch (one
	// leader epoch, at most maxPendingBytes) to write them with one append;
	// pendingEpoch is their epoch. Both belong to the FSM goroutine.
	pending      []byte
	pendingEpoch int32
	pendingFrom  int64 // the offset pending's first batch gets

	// closing ends a Restore that is waiting to fetch from peers.
	closing context.Context

	mu struct {
		sync.Mutex
		next      int64 // applied end offset: the offset the next batch gets
		lastIndex uint64
		lastTerm  uint64
		producers *producers
		epochs    []EpochStart
		// expiredAtMs is the entry time of the last producer expiry. It is in
		// snapshots, so every replica expires at the same entries.
		expiredAtMs int64
	}
}

// expiryCheckMs is how often, in entry time, idle producers are expired.
const expiryCheckMs = 60_000

// EpochStart is one entry of the leader-epoch history: the first offset written
// under a leader epoch (the Raft term). Kafka's OffsetForLeaderEpoch reads it.
type EpochStart struct {
	Epoch       int32 `json:"epoch"`
	StartOffset int64 `json:"start_offset"`
}

// AppendResult is what applying one entry did; it is the Response of the Raft apply
// future on the leader.
type AppendResult struct {
	BaseOffset  int64 // first offset of the entry's batches (of the original, for a duplicate)
	LastOffset  int64
	LogAppendMs int64 // the entry's append time, for LogAppendTime topics
	Duplicate   bool  // an idempotent retry: nothing was appended
	Err         error // a sequence or epoch error: nothing was appended
}

func newFSM(l *log.Log, logger *slog.Logger, producerTTL time.Duration, closing context.Context) *FSM {
	f := &FSM{log: l, logger: logger, producerTTL: producerTTL, hw: newWatermark(), closing: closing}
	f.mu.producers = newProducers()
	return f
}

var _ raft.BatchingFSM = (*FSM)(nil)

// Apply applies one committed entry.
func (f *FSM) Apply(l *raft.Log) any {
	f.writeMu.Lock()
	defer f.writeMu.Unlock()
	f.mu.Lock()
	defer f.mu.Unlock()
	res := f.applyLocked(l)
	f.flushLocked()
	return res
}

// ApplyBatch applies committed entries in order, taking the lock once and
// writing their batches to the log with one append (per leader epoch): on a
// busy partition Raft hands over dozens of entries at a time, and one write
// instead of dozens is what keeps the FSM's cost per record low. Raft
// answers the proposers only after ApplyBatch returns, so nothing is
// acknowledged before it is in the log.
func (f *FSM) ApplyBatch(logs []*raft.Log) []any {
	f.writeMu.Lock()
	defer f.writeMu.Unlock()
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]any, len(logs))
	for i, l := range logs {
		out[i] = f.applyLocked(l)
	}
	f.flushLocked()
	return out
}

// maxPendingBytes bounds what ApplyBatch gathers before writing it.
const maxPendingBytes = 4 << 20

// flushLocked appends the gathered batches to the log and moves the high
// watermark to the applied end offset.
func (f *FSM) flushLocked() {
	if len(f.pending) > 0 {
		if end := f.log.EndOffset(); end < f.pendingFrom {
			// A repair ended (the replica is closing) before it refilled
			// the log: refill it now, or leave the log short for the next
			// start, which refills it from the snapshot or the Raft log.
			if err := f.refill(f.closing, f.pendingFrom); err != nil {
				f.logger.Error("log short of committed entries, left for the next start",
					"index", f.mu.lastIndex, "offset", end, "err", err)
				f.pending = f.pending[:0]
				return
			}
		}
		if end := f.log.EndOffset(); end != f.pendingFrom {
			panic(fmt.Sprintf("partition: entries up to index %d start at offset %d, log ends at %d", f.mu.lastIndex, f.pendingFrom, end))
		}
		if _, err := f.log.Append(f.pending, f.pendingEpoch); err != nil {
			// The disk failed under committed entries: this replica can no
			// longer be trusted to hold the log, and Raft cannot retry an apply.
			panic(fmt.Sprintf("partition: append committed entries up to index %d: %v", f.mu.lastIndex, err))
		}
		f.pending = f.pending[:0]
	}
	f.checkRefilledLocked()
	f.hw.set(f.mu.next)
}

func (f *FSM) applyLocked(l *raft.Log) any {
	f.mu.lastIndex, f.mu.lastTerm = l.Index, l.Term
	if l.Type != raft.LogCommand {
		return nil
	}
	appendMs, batches, err := decodeEntry(l.Data)
	if err != nil {
		// Deterministic on every replica: the entry is skipped everywhere.
		f.logger.Error("skip undecodable entry", "index", l.Index, "err", err)
		return &AppendResult{Err: err}
	}
	res := f.applyBatches(l, appendMs, batches)
	// Expiry walks every producer, so it runs once a minute of entry time, not
	// per entry; entry time keeps it the same on every replica.
	if f.producerTTL > 0 && appendMs-f.mu.expiredAtMs >= expiryCheckMs {
		f.mu.producers.expire(appendMs, f.producerTTL.Milliseconds())
		f.mu.expiredAtMs = appendMs
	}
	return res
}

// applyBatches checks the sequences of batches, then appends them (or skips those
// already in the log) and advances the high watermark.
func (f *FSM) applyBatches(l *raft.Log, appendMs int64, batches []byte) *AppendResult {
	res := &AppendResult{BaseOffset: f.mu.next, LogAppendMs: appendMs}
	p := f.mu.producers
	saved := map[int64]*producerState{} // producer states before this entry, to roll back
	rollback := func() {
		for id, st := range saved {
			if st == nil {
				delete(p.m, id)
			} else {
				p.m[id] = st
			}
		}
	}
	off := f.mu.next
	n := 0
	for rest := batches; len(rest) > 0; n++ {
		h, err := log.ParseBatchHeader(rest)
		if err != nil {
			// The leader validated every batch before proposing; this is a broken
			// invariant or a corrupt WAL entry. Skip it on every replica alike.
			rollback()
			f.logger.Error("skip entry with a bad batch", "index", l.Index, "err", err)
			return &AppendResult{Err: err}
		}
		rest = rest[h.Size():]
		last := off + int64(h.LastOffsetDelta)
		if h.ProducerID >= 0 {
			pb := producerBatch{ProducerID: h.ProducerID, ProducerEpoch: h.ProducerEpoch, BaseSequence: h.BaseSequence, Records: h.NumRecords}
			dup, err := p.check(pb)
			if err != nil {
				rollback()
				return &AppendResult{Err: err}
			}
			if dup != nil {
				if n == 0 && len(rest) == 0 {
					return &AppendResult{BaseOffset: dup.FirstOffset, LastOffset: dup.LastOffset, LogAppendMs: appendMs, Duplicate: true}
				}
				rollback()
				return &AppendResult{Err: fmt.Errorf("%w: retried batch of producer %d mixed with new ones in one request", ErrOutOfOrderSequence, h.ProducerID)}
			}
			if _, ok := saved[h.ProducerID]; !ok {
				if st, ok := p.m[h.ProducerID]; ok {
					c := *st
					c.Batches = append([]seqEntry(nil), st.Batches...)
					saved[h.ProducerID] = &c
				} else {
					saved[h.ProducerID] = nil
				}
			}
			p.record(pb, off, last, appendMs)
		}
		off = last + 1
	}
	res.LastOffset = off - 1

	epoch := int32(l.Term)
	if len(f.pending) > 0 && (f.pendingEpoch != epoch || len(f.pending)+len(batches) > maxPendingBytes) {
		f.flushLocked()
	}
	if len(f.pending) == 0 && f.mu.next < f.log.EndOffset() {
		// Replay after a restart: the log may hold these batches already.
		if err := f.appendToLog(l.Index, batches, epoch); err != nil {
			if f.closing.Err() != nil {
				// A refill from peers ended with the replica: the next
				// start refills the log from the snapshot or the Raft log.
				f.logger.Error("log short of committed entries, left for the next start", "index", l.Index, "err", err)
			} else {
				// The disk failed under a committed entry: this replica can no
				// longer be trusted to hold the log, and Raft cannot retry an apply.
				panic(fmt.Sprintf("partition: append committed entry %d: %v", l.Index, err))
			}
		}
	} else {
		// Raft's copy of the entry must not be written to (the log stamps
		// offsets and epochs in place), so the batches are gathered in a
		// buffer of the FSM's own.
		if len(f.pending) == 0 {
			f.pendingFrom = f.mu.next
		}
		f.pending = append(f.pending, batches...)
		f.pendingEpoch = epoch
	}
	if e := f.mu.epochs; len(e) == 0 || e[len(e)-1].Epoch < epoch {
		f.mu.epochs = append(f.mu.epochs, EpochStart{Epoch: epoch, StartOffset: f.mu.next})
	}
	f.mu.next = off
	return res
}

// appendToLog writes batches at offset f.mu.next, skipping every batch the log
// already holds from before a restart (checked: same record count and CRC,
// and the leader epoch, which the CRC does not cover, equal to the entry's
// term, the epoch it was stamped with).
func (f *FSM) appendToLog(index uint64, batches []byte, epoch int32) error {
	off := f.mu.next
	for len(batches) > 0 && off < f.log.EndOffset() {
		h, err := log.ParseBatchHeader(batches)
		if err != nil {
			return err
		}
		if off >= f.log.StartOffset() {
			same, err := f.logHolds(off, h, epoch)
			if errors.Is(err, log.ErrCorrupt) {
				// Damage behind the batches replay is checking: cut it away,
				// copy back from a peer what this replica applied before it,
				// and append this entry's batches from the Raft log. A batch
				// intact but for its leader epoch is cut where it starts.
				if f.detected != nil {
					f.detected(off, err)
				}
				cut := f.log.TruncateCorrupt
				if errors.Is(err, errEpochFlipped) {
					cut = f.cutAt
				}
				if _, err := f.repairLocked(f.closing, off, off, cut); err != nil {
					return err
				}
				break
			}
			if err != nil {
				return err
			}
			if !same {
				f.logger.Error("log differs from the raft log: truncating", "index", index, "offset", off)
				if err := f.log.TruncateTo(off); err != nil {
					return err
				}
				break
			}
		}
		off += int64(h.LastOffsetDelta) + 1
		batches = batches[h.Size():]
	}
	if len(batches) == 0 {
		return nil
	}
	if off != f.log.EndOffset() {
		return fmt.Errorf("entry %d at offset %d, log ends at %d", index, off, f.log.EndOffset())
	}
	f.scratch = append(f.scratch[:0], batches...)
	_, err := f.log.Append(f.scratch, epoch)
	return err
}

// errEpochFlipped is a batch whose leader epoch is not the term of the entry
// that wrote it, though its CRC holds.
var errEpochFlipped = fmt.Errorf("%w: leader epoch of the batch is not its entry's term", log.ErrCorrupt)

// logHolds reports whether the log's batch at offset is the batch h describes;
// errEpochFlipped when it is, but with a leader epoch other than epoch.
func (f *FSM) logHolds(offset int64, h log.BatchHeader, epoch int32) (bool, error) {
	c, err := f.log.Read(offset, 1)
	if err != nil {
		return false, err
	}
	defer c.Close()
	buf, err := c.AppendTo(f.scratch[:0])
	if err != nil {
		return false, err
	}
	f.scratch = buf[:0]
	got, err := log.ParseBatchHeader(buf)
	if err != nil {
		return false, err
	}
	same := got.BaseOffset == offset && got.LastOffsetDelta == h.LastOffsetDelta && got.CRC == h.CRC
	if same && got.PartitionLeaderEpoch != epoch {
		return false, fmt.Errorf("%w: %d at offset %d, term %d", errEpochFlipped, got.PartitionLeaderEpoch, offset, epoch)
	}
	return same, nil
}

// HighWatermark returns the offset after the last committed batch.
func (f *FSM) HighWatermark() int64 { return f.hw.get() }

// epochsThrough returns the epoch history with the offset it covers up to:
// every batch below that offset was applied, or restored from a snapshot,
// with its epoch in the history. After a restart without a snapshot the
// history grows again as Raft replays its entries.
func (f *FSM) epochsThrough() ([]EpochStart, int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]EpochStart(nil), f.mu.epochs...), f.mu.next
}

// Epochs returns a copy of the leader-epoch history.
func (f *FSM) Epochs() []EpochStart {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]EpochStart(nil), f.mu.epochs...)
}

// AppliedIndex returns the index of the last Raft entry applied.
func (f *FSM) AppliedIndex() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.mu.lastIndex
}

// Snapshot captures the manifest; Persist writes it after syncing the log.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := manifest{
		Version:     manifestVersion,
		StartOffset: f.log.StartOffset(),
		EndOffset:   f.mu.next,
		LastIndex:   f.mu.lastIndex,
		LastTerm:    f.mu.lastTerm,
		Epochs:      append([]EpochStart(nil), f.mu.epochs...),
		Producers:   f.mu.producers.snapshot(),
		ExpiredAtMs: f.mu.expiredAtMs,
	}
	m.StartOffset = min(m.StartOffset, m.EndOffset)
	return &fsmSnapshot{m: m, log: f.log}, nil
}

// Restore replaces the state with a snapshot's and makes the log hold everything
// below the snapshot's end offset: kept when the log already has it, reset when the
// log ends before the snapshot's start, fetched from a peer otherwise.
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, io.LimitReader(rc, maxManifestBytes+1)); err != nil {
		return fmt.Errorf("read snapshot: %w", err)
	}
	m, err := decodeManifest(buf.Bytes())
	if err != nil {
		return err
	}
	f.writeMu.Lock()
	defer f.writeMu.Unlock()
	if f.log.EndOffset() < m.StartOffset || f.log.StartOffset() > m.EndOffset {
		f.logger.Info("reset log to snapshot start", "offset", m.StartOffset, "log_end", f.log.EndOffset())
		if err := f.log.Reset(m.StartOffset); err != nil {
			return fmt.Errorf("reset log to %d: %w", m.StartOffset, err)
		}
	}
	if from := f.log.EndOffset(); from < m.EndOffset {
		if err := f.refill(f.closing, m.EndOffset); err != nil {
			return err
		}
		f.logger.Info("log refilled from peers", "offset", from, "end_offset", m.EndOffset)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mu.next = m.EndOffset
	f.mu.lastIndex, f.mu.lastTerm = m.LastIndex, m.LastTerm
	f.mu.epochs = m.Epochs
	f.mu.producers.restore(m.Producers)
	f.mu.expiredAtMs = m.ExpiredAtMs
	f.checkRefilledLocked()
	f.hw.set(m.EndOffset)
	return nil
}

// checkRefilledLocked reports the repair of the batches the log lost at Open
// once the log holds them again. mu held.
func (f *FSM) checkRefilledLocked() {
	if f.lostTo > 0 && f.mu.next >= f.lostTo && f.log.EndOffset() >= f.lostTo {
		if f.repaired != nil {
			f.repaired(f.lostFrom, f.lostTo)
		}
		f.lostTo = 0
	}
}

// refill copies the committed batches [EndOffset, to) of the log from peers,
// retrying with backoff while none can serve them, until they are all in or
// ctx ends. writeMu held.
func (f *FSM) refill(ctx context.Context, to int64) error {
	delay := restoreRetryMin
	for f.log.EndOffset() < to {
		from := f.log.EndOffset()
		if f.fetch == nil {
			return fmt.Errorf("log ends at %d, needs %d, and no peer to fetch from", from, to)
		}
		err := f.fetch(ctx, from, to)
		if err == nil {
			continue
		}
		if ctx.Err() != nil {
			return fmt.Errorf("refill log [%d, %d): %w", from, to, ctx.Err())
		}
		f.logger.Warn("fetch missing log from peer", "offset", from, "end_offset", to, "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("refill log [%d, %d): %w", from, to, ctx.Err())
		case <-time.After(delay):
		}
		delay = min(2*delay, restoreRetryMax)
	}
	return nil
}

// repair cuts the log at the damage in the segment holding offset
// (log.TruncateCorrupt) and copies back from peers the committed batches the
// cut took, up to the applied end offset: the bytes come back as the peers
// hold them, offsets and leader epochs included, and the FSM's state (offset
// counter, producers, epochs) is untouched, because it already covers them.
// The FSM applies nothing meanwhile. It reports whether anything was cut.
func (f *FSM) repair(ctx context.Context, offset int64) (bool, error) {
	return f.repairWith(ctx, offset, f.log.TruncateCorrupt)
}

// repairAt is repair for damage the log's own checks cannot see (a batch
// whose CRC holds but whose leader epoch, outside the CRC, contradicts the
// epoch history): it cuts the log at offset, a batch's base offset, and
// refills it from peers the same way.
func (f *FSM) repairAt(ctx context.Context, offset int64) (bool, error) {
	return f.repairWith(ctx, offset, f.cutAt)
}

// cutAt cuts the log at offset, a batch's base offset.
func (f *FSM) cutAt(offset int64) (int64, bool, error) { return offset, true, f.log.TruncateTo(offset) }

// repairWith is repair cutting the log with cut.
func (f *FSM) repairWith(ctx context.Context, offset int64, cut func(int64) (int64, bool, error)) (bool, error) {
	f.writeMu.Lock()
	defer f.writeMu.Unlock()
	f.mu.Lock()
	next := f.mu.next
	f.mu.Unlock()
	if offset < f.log.StartOffset() || offset >= f.log.EndOffset() {
		return false, nil // gone already: retention, or an earlier repair
	}
	return f.repairLocked(ctx, offset, next, cut)
}

// repairLocked is repair with writeMu held, refilling up to to.
func (f *FSM) repairLocked(ctx context.Context, offset, to int64, cutAt func(int64) (int64, bool, error)) (bool, error) {
	cut, truncated, err := cutAt(offset)
	if err != nil {
		return false, fmt.Errorf("truncate the damage at %d: %w", offset, err)
	}
	if !truncated {
		return false, nil
	}
	f.logger.Warn("log cut at damage, refilling from peers", "offset", cut, "end_offset", to)
	if err := f.refill(ctx, to); err != nil {
		return true, err
	}
	// The refilled batches may be behind the latest snapshot: Raft holds no
	// other copy of them here.
	if err := f.log.Sync(); err != nil {
		return true, fmt.Errorf("sync repaired log: %w", err)
	}
	if f.repaired != nil {
		f.repaired(cut, max(to, cut))
	}
	return true, nil
}

// Fetch attempts while no peer can serve the missing log back off from
// restoreRetryMin to restoreRetryMax.
const (
	restoreRetryMin = 100 * time.Millisecond
	restoreRetryMax = 5 * time.Second
)

type fsmSnapshot struct {
	m   manifest
	log *log.Log
}

// Persist syncs the log, so that everything the manifest covers is durable before
// Raft drops its own copy of those entries, then writes the manifest.
func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := s.log.Sync(); err != nil {
		sink.Cancel()
		return fmt.Errorf("sync log for snapshot: %w", err)
	}
	b, err := encodeManifest(s.m)
	if err == nil {
		_, err = sink.Write(b)
	}
	if err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s *fsmSnapshot) Release() {}
