package partition

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cairnlog/cairn/log"
)

// A replica whose log is damaged (a bit flip or a cut on disk, found by a
// read, by the scrub, or while replaying) repairs it from its peers, which
// hold byte-identical logs:
//
//  1. the read that found the damage fails with ErrStorage (retriable) and
//     hands the offset to the repairer goroutine; so does every read of the
//     range until the repair is done, never a damaged byte;
//  2. a leader first hands leadership to a healthy peer, so that clients
//     keep being served while it repairs;
//  3. the FSM cuts the log at the first invalid batch of the damaged segment
//     (log.TruncateCorrupt, which drops the segments after it too), copies
//     the committed batches it lost back from a peer as the peer stores them
//     (partition.read, fetch.go), and syncs. It applies nothing meanwhile, and
//     its state (offset counter, producers, epochs) does not change: those
//     batches were applied already, and the copies are the same bytes.
//
// Damage found at Open (log.Recovery().LostSynced: a corrupt or truncated
// segment cut away batches that had been synced) needs no repairer: the FSM
// refills the log while restoring its snapshot (from peers) or replaying its
// Raft log.

// ErrStorage reports a read of committed offsets that this replica cannot
// serve now: its copy of them is damaged, or missing while it is refilled
// from its peers. The read is worth retrying, here later or on the leader;
// the protocol layer answers KAFKA_STORAGE_ERROR.
var ErrStorage = errors.New("partition: log range damaged on this replica, being repaired")

// RepairStats counts damage found in the log and repairs made, since Open.
type RepairStats struct {
	// Detected counts damage found: batches lost at Open, a damaged range a
	// read, the scrub or replay ran into (once per repair it starts).
	Detected int64
	// Repaired counts repairs completed: the log cut at the damage and
	// refilled from peers (or, after damage found at Open or by replay,
	// from the Raft log's entries).
	Repaired int64
	// ScrubbedBytes counts bytes the scrub checked.
	ScrubbedBytes int64
}

// RepairStats returns the counts so far; the owner exports them as metrics.
func (p *Partition) RepairStats() RepairStats {
	return RepairStats{
		Detected:      p.repairs.detected.Load(),
		Repaired:      p.repairs.repaired.Load(),
		ScrubbedBytes: p.repairs.scrubbed.Load(),
	}
}

// repairer is a Partition's queue of damage to repair, and its counts.
type repairer struct {
	detected, repaired, scrubbed atomic.Int64
	wake                         chan struct{} // capacity 1: a repair is wanted
	mu                           struct {
		sync.Mutex
		from    int64         // lowest damaged offset not yet being repaired, -1 if none
		active  int64         // the offset being repaired, -1 if none
		settled chan struct{} // closed and replaced whenever a repair ends
	}
}

func (r *repairer) init() {
	r.wake = make(chan struct{}, 1)
	r.mu.from, r.mu.active = -1, -1
	r.mu.settled = make(chan struct{})
}

// settled returns a channel closed when the next repair ends, well or not.
func (r *repairer) settled() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mu.settled
}

func (r *repairer) settle() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.mu.active = -1
	close(r.mu.settled)
	r.mu.settled = make(chan struct{})
}

// report queues a repair of the damage at offset and reports whether it is
// new: not at or after an offset already queued, or being repaired (whose
// repair refills everything after it).
func (r *repairer) report(offset int64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.mu.from >= 0 && r.mu.from <= offset || r.mu.active >= 0 && r.mu.active <= offset {
		return false
	}
	r.mu.from = offset
	select {
	case r.wake <- struct{}{}:
	default:
	}
	return true
}

// take returns the queued offset, -1 if none, empties the queue and marks
// the offset as being repaired until settle.
func (r *repairer) take() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	from := r.mu.from
	r.mu.from, r.mu.active = -1, from
	return from
}

// reportCorrupt hands damage a read found to the repairer. Any goroutine.
func (p *Partition) reportCorrupt(offset int64, err error) {
	if p.repairs.report(offset) {
		p.repairs.detected.Add(1)
		p.logger.Warn("log damage found, repairing from peers", "offset", offset, "err", err)
	}
}

// storageError turns a failed read at offset, below the high watermark hw,
// into ErrStorage when the fault is this replica's: damaged bytes (a repair
// starts) or offsets its log lacks (a repair is refilling them). Other
// errors are returned as they are.
func (p *Partition) storageError(offset, hw int64, err error) error {
	switch {
	case errors.Is(err, log.ErrCorrupt):
		p.reportCorrupt(offset, err)
		return fmt.Errorf("%w: partition %s: read at %d: %v", ErrStorage, p.cfg.ID, offset, err)
	case errors.Is(err, log.ErrOffsetOutOfRange) && offset >= p.log.StartOffset() && offset < hw:
		return fmt.Errorf("%w: partition %s: offset %d below the high watermark %d is not in the log (ends at %d)",
			ErrStorage, p.cfg.ID, offset, hw, p.log.EndOffset())
	}
	return err
}

// transferTimeout bounds how long a damaged leader tries to hand over its
// leadership before it repairs anyway.
const transferTimeout = 5 * time.Second

// runRepairs repairs the damage reported to it, one repair at a time, until
// ctx ends.
func (p *Partition) runRepairs(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.repairs.wake:
		}
		from := p.repairs.take()
		if from < 0 {
			continue
		}
		if p.group.IsLeader() {
			tctx, cancel := context.WithTimeout(ctx, transferTimeout)
			err := p.group.TransferLeadership(tctx, "", "")
			cancel()
			if err != nil {
				p.logger.Warn("damaged leader could not hand over leadership, repairing anyway", "offset", from, "err", err)
			} else {
				p.logger.Info("damaged leader handed over leadership", "offset", from)
			}
		}
		cut, err := p.fsm.repair(ctx, from)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			// The disk failed: reads of the range report it again and
			// start another attempt.
			p.logger.Error("log repair failed", "offset", from, "err", err)
		case !cut:
			p.logger.Warn("no damage found where a read failed", "offset", from)
		}
		p.repairs.settle()
	}
}

// repaired is the FSM's report of a finished repair.
func (p *Partition) repaired(from, to int64) {
	p.repairs.repaired.Add(1)
	p.logger.Info("log repaired from peers", "offset", from, "end_offset", to)
}

// epochMismatch returns the base offset of the first whole batch in b whose
// leader epoch is not the one the epoch history gives its offset (the epoch
// of the last start at or below it), or -1. Only batches below through, the
// offset the history covers, are judged: after a restart without a snapshot
// the history is rebuilt as Raft replays, and replay checks each batch's
// epoch itself.
func epochMismatch(b []byte, epochs []EpochStart, through int64) int64 {
	for len(b) >= log.BatchHeaderSize {
		h, err := log.ParseBatchHeader(b)
		if err != nil || h.Size() > len(b) || h.BaseOffset >= through {
			return -1 // Verify judged the bytes; nothing more to say here
		}
		i := sort.Search(len(epochs), func(i int) bool { return epochs[i].StartOffset > h.BaseOffset }) - 1
		if i >= 0 && epochs[i].Epoch != h.PartitionLeaderEpoch {
			return h.BaseOffset
		}
		b = b[h.Size():]
	}
	return -1
}

// DefaultScrubBytesPerSecond is the scrub's pace when Config leaves it 0.
const DefaultScrubBytesPerSecond = 16 << 20

// scrubChunkBytes is how much the scrub checks between two pauses.
const scrubChunkBytes = 1 << 20

// scrub checks in full (CRC-32C included) every batch the log held when the
// replica opened, oldest first, at most rate bytes a second, and hands the
// first damage it finds to the repairer. It stops there: the repair drops and
// refills everything after the damage, and refilled batches are checked as
// they are appended. Each byte checked is not checked again by later reads.
func (p *Partition) scrub(ctx context.Context, rate int64) {
	began := time.Now()
	end := p.log.EndOffset()
	var (
		checked int64
		buf     []byte
	)
	for off := p.log.StartOffset(); off < end; {
		off = max(off, p.log.StartOffset()) // retention may have moved on
		c, err := p.log.Read(off, scrubChunkBytes)
		var next, n int64
		bad := int64(-1)
		if err == nil {
			err = c.Verify()
			if err == nil {
				if buf, err = c.AppendTo(buf[:0]); err == nil {
					epochs, through := p.fsm.epochsThrough()
					bad = epochMismatch(buf, epochs, through)
				}
			}
			next, n = c.NextOffset(), c.Len()
			c.Close()
		}
		if bad >= 0 {
			// The CRC does not cover a batch's leader epoch: a flipped
			// bit there passes every check of the log's own.
			p.repairs.detected.Add(1)
			p.logger.Warn("log damage found, repairing from peers", "offset", bad,
				"err", "leader epoch of the batch contradicts the epoch history")
			if _, err := p.fsm.repairAt(ctx, bad); err != nil && ctx.Err() == nil {
				p.logger.Error("log repair failed", "offset", bad, "err", err)
			}
			return
		}
		switch {
		case errors.Is(err, log.ErrCorrupt):
			p.reportCorrupt(off, err)
			return
		case errors.Is(err, log.ErrOffsetOutOfRange) || err == nil && n == 0:
			return // the log was cut (a repair) or emptied (a snapshot reset)
		case err != nil:
			p.logger.Warn("scrub stopped", "offset", off, "err", err)
			return
		}
		checked += n
		p.repairs.scrubbed.Add(n)
		off = next
		// Pace: checked bytes may not run ahead of rate × elapsed.
		if wait := time.Duration(float64(checked)/float64(rate)*float64(time.Second)) - time.Since(began); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		if ctx.Err() != nil {
			return
		}
	}
	p.logger.Info("scrub done", "offset", end, "bytes", checked, "elapsed", time.Since(began))
}
