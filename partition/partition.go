package partition

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"

	"github.com/cairnlog/cairn/log"
	"github.com/cairnlog/cairn/replication"
)

// Config configures one replica of a partition.
type Config struct {
	// ID names the partition's Raft group on the node's internal listener and in
	// logs, e.g. "orders-3". Required.
	ID string
	// Dir is the partition directory: the log's segments, and the Raft state in
	// Dir/raft. Required.
	Dir string
	// Log configures the segmented log (segment size, retention, max batch size).
	Log log.Config
	// Raft configures the group: timing, snapshot threshold, trailing logs. Its
	// ID, Dir, FSM and OnLeadershipChange are set by Open.
	Raft replication.GroupConfig
	// ProducerIDExpiration forgets an idempotent producer that has not written
	// for this long (Kafka's producer.id.expiration.ms). Default 24h.
	ProducerIDExpiration time.Duration
	// OnLeadershipChange, if set, is called when this replica becomes or stops
	// being the leader, with the leader epoch (the Raft term). See
	// replication.GroupConfig.OnLeadershipChange for the calling rules.
	OnLeadershipChange func(isLeader bool, epoch int32)
	// Peers, if set, returns the internal addresses of the other replicas. It is
	// asked only while the group is not open yet: a snapshot restored at Open
	// that is ahead of the local log (which lost synced data) is completed from
	// them. Once the group is open its configuration names the peers.
	Peers func() []string
	// ScrubBytesPerSecond paces the scrub: after Open, a background goroutine
	// checks every batch the log held (CRC-32C included) at most this many
	// bytes a second, and repairs damage it finds from the peers. Default
	// DefaultScrubBytesPerSecond; negative: no scrub.
	ScrubBytesPerSecond int64
	// Logger receives the partition's logs and names the partition itself
	// (cluster's carries topic and partition keys). Default slog.Default()
	// with partition=ID.
	Logger *slog.Logger
}

// DefaultProducerIDExpiration is Kafka's producer.id.expiration.ms default.
const DefaultProducerIDExpiration = 24 * time.Hour

// Validate reports the first invalid field.
func (c Config) Validate() error {
	switch {
	case c.ID == "":
		return errors.New("partition: empty ID")
	case c.Dir == "":
		return errors.New("partition: empty Dir")
	case c.ProducerIDExpiration < 0:
		return errors.New("partition: negative ProducerIDExpiration")
	}
	return c.Log.Validate()
}

// Errors of the leader API, beside those of log (ErrCorrupt, ErrBatchTooLarge,
// ErrOffsetOutOfRange) and the sequence errors. The protocol layer maps them to
// Kafka error codes.
var (
	// ErrNotLeader: this replica is not the partition leader. The error is a
	// *replication.NotLeaderError naming the leader when it is known.
	ErrNotLeader = replication.ErrNotLeader
	// ErrUnsupportedBatch: a transactional or control batch from a client; cairn
	// has no transactions yet.
	ErrUnsupportedBatch = errors.New("partition: transactional and control batches are not supported")
)

// Partition is one replica of a partition: its log, its FSM, and its Raft group.
// All methods are safe for concurrent use.
type Partition struct {
	cfg    Config
	logger *slog.Logger
	log    *log.Log
	fsm    *FSM
	group  *replication.Group
	// opened is group once Open has it: the FSM goroutine may restore a snapshot
	// (and look for peers) before Open returns, so it reads this, not group.
	opened atomic.Pointer[replication.Group]
	node   *replication.Node
	cancel context.CancelFunc // ends a Restore or repair waiting on peers, the scrub and the repairer
	// background waits for the repairer and the scrub, started by Open and
	// ended by Close.
	background sync.WaitGroup
	repairs    repairer
}

// Open opens (or creates) the replica in cfg.Dir on node: it recovers the log,
// then opens the Raft group, which restores the latest snapshot and replays the
// Raft log into the FSM. A new partition then needs Bootstrap on every initial
// replica, or adding to an existing group from its leader.
func Open(node *replication.Node, cfg Config) (*Partition, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.ProducerIDExpiration == 0 {
		cfg.ProducerIDExpiration = DefaultProducerIDExpiration
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default().With("partition", cfg.ID)
	}
	l, err := log.Open(cfg.Dir, cfg.Log, logger)
	if err != nil {
		return nil, fmt.Errorf("partition %s: %w", cfg.ID, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Partition{cfg: cfg, logger: logger, log: l, node: node, cancel: cancel}
	p.repairs.init()
	p.fsm = newFSM(l, logger, cfg.ProducerIDExpiration, ctx)
	p.fsm.fetch = p.fetchFromPeers
	p.fsm.detected = func(offset int64, err error) {
		p.repairs.detected.Add(1)
		logger.Warn("log damage found while replaying, repairing from peers", "offset", offset, "err", err)
	}
	p.fsm.repaired = p.repaired
	if rec := l.Recovery(); rec.LostSynced() {
		// A corrupt or truncated segment: the snapshot's restore or the Raft
		// log's replay refills what was cut, from peers or from entries.
		p.repairs.detected.Add(1)
		p.fsm.lostFrom, p.fsm.lostTo = rec.EndOffset, rec.RecoveryPoint
		logger.Warn("log lost synced batches at open, refilling", "offset", rec.EndOffset, "end_offset", rec.RecoveryPoint)
	}

	gc := cfg.Raft
	gc.ID, gc.Dir, gc.FSM = cfg.ID, filepath.Join(cfg.Dir, "raft"), p.fsm
	if cfg.OnLeadershipChange != nil {
		gc.OnLeadershipChange = func(isLeader bool, term uint64) { cfg.OnLeadershipChange(isLeader, int32(term)) }
	}
	g, err := node.OpenGroup(gc)
	if err != nil {
		cancel()
		return nil, errors.Join(fmt.Errorf("partition %s: %w", cfg.ID, err), l.Close())
	}
	p.group = g
	p.opened.Store(g)
	p.background.Go(func() { p.runRepairs(ctx) })
	if rate := cmp.Or(cfg.ScrubBytesPerSecond, DefaultScrubBytesPerSecond); rate > 0 {
		p.background.Go(func() { p.scrub(ctx, rate) })
	}
	return p, nil
}

// stopBackground ends Restore and repairs waiting on peers, the repairer
// and the scrub, and waits for the last two.
func (p *Partition) stopBackground() {
	p.cancel()
	p.background.Wait()
}

// ID returns the partition's group id.
func (p *Partition) ID() string { return p.cfg.ID }

// Group returns the Raft group, for membership changes (add a replica as a
// non-voter, promote it, remove one, transfer leadership).
func (p *Partition) Group() *replication.Group { return p.group }

// Bootstrap makes servers the initial replicas of a new partition. Call it on
// each of them with the same list; it does nothing where state already exists.
func (p *Partition) Bootstrap(ctx context.Context, servers []raft.Server) error {
	return p.group.Bootstrap(ctx, servers)
}

// Append validates batches (one or more Kafka v2 record batches from a produce
// request for this partition), replicates them as one Raft entry, and returns
// once they are committed and applied: the offsets they were given, or, for an
// idempotent retry, the offsets they were given the first time. It is
// Propose followed by Wait.
func (p *Partition) Append(ctx context.Context, batches []byte) (AppendResult, error) {
	return p.Propose(batches).Wait(ctx)
}

// Pending is an append handed to Raft, not yet acknowledged.
type Pending struct {
	p    *Partition
	prop *replication.Proposal
	err  error
}

// Propose checks batches and hands them to Raft as one entry, returning
// without waiting for the commit. Appends proposed one after another from one
// goroutine commit in that order, so a connection's pipelined produce requests
// (an idempotent producer's up to five in flight) keep their sequence order.
//
// Every batch is checked before anything is proposed: a bad batch is an error
// wrapping log.ErrCorrupt (or log.ErrBatchTooLarge) and nothing is appended.
// Sequence errors (ErrOutOfOrderSequence, ErrInvalidEpoch) come from the FSM,
// which is the only judge of sequence order. A not-leader error is
// *replication.NotLeaderError (errors.Is ErrNotLeader). All errors come from
// Wait. batches is not retained.
func (p *Partition) Propose(batches []byte) *Pending {
	if err := p.checkBatches(batches); err != nil {
		return &Pending{err: err}
	}
	return &Pending{p: p, prop: p.group.Propose(encodeEntry(time.Now().UnixMilli(), batches))}
}

// Wait returns the outcome of the append. When ctx ends first the batches may
// still commit. Wait may be called from any goroutine, any number of times.
func (w *Pending) Wait(ctx context.Context) (AppendResult, error) {
	if w.err != nil {
		return AppendResult{}, w.err
	}
	res, err := w.prop.Wait(ctx)
	if err != nil {
		return AppendResult{}, err
	}
	r, ok := res.Response.(*AppendResult)
	if !ok {
		return AppendResult{}, fmt.Errorf("partition %s: apply returned %T", w.p.cfg.ID, res.Response)
	}
	return *r, r.Err
}

// checkBatches is the leader's check of a client's batches before they are
// proposed: structure and CRC (log.ValidateBatches), a known codec, and no
// transactional or control batch.
func (p *Partition) checkBatches(batches []byte) error {
	if _, err := log.ValidateBatches(batches, p.maxBatchBytes()); err != nil {
		return err
	}
	for rest := batches; len(rest) > 0; {
		h, err := log.ParseBatchHeader(rest)
		if err != nil {
			return err
		}
		switch {
		case h.Transactional() || h.Control():
			return ErrUnsupportedBatch
		case h.Compression() > 4:
			return fmt.Errorf("batch with compression codec %d: %w", h.Compression(), log.ErrCorrupt)
		}
		rest = rest[h.Size():]
	}
	return nil
}

func (p *Partition) maxBatchBytes() int { return p.log.MaxBatchBytes() }

// SetLogLimits applies a topic's changed segment, retention and batch-size
// configs to the open log (log.Log.SetLimits).
func (p *Partition) SetLogLimits(lim log.Limits) error { return p.log.SetLimits(lim) }

// Read returns committed batches from the one holding offset, at most maxBytes
// of them but always the first whole (log.Log.Read). offset == HighWatermark
// gives an empty chunk; use Wait to block for more. The caller closes the chunk.
//
// The chunk is checked in full (CRC-32C included) before it is returned. A
// damaged range, or committed offsets the log lacks while a repair refills
// them, is an error wrapping ErrStorage, and damage starts a repair.
func (p *Partition) Read(offset int64, maxBytes int) (*log.Chunk, error) {
	hw := p.fsm.HighWatermark()
	if offset > hw {
		return nil, fmt.Errorf("read at %d above the high watermark %d: %w", offset, hw, log.ErrOffsetOutOfRange)
	}
	if offset == hw {
		return p.log.Read(p.log.EndOffset(), maxBytes) // an empty chunk
	}
	c, err := p.log.ReadBelow(offset, hw, maxBytes)
	if err == nil && c.Len() == 0 {
		// Committed offsets the log does not hold: a repair cut them.
		c.Close()
		c, err = nil, fmt.Errorf("read at %d, log ends at %d: %w", offset, p.log.EndOffset(), log.ErrOffsetOutOfRange)
	}
	if err == nil {
		// Check now rather than when the caller copies: damage becomes
		// ErrStorage and a repair, never bytes served.
		if err = c.Verify(); err != nil {
			c.Close()
		}
	}
	if err != nil {
		return nil, p.storageError(offset, hw, err)
	}
	return c, nil
}

// Wait blocks until the high watermark is above offset (a record at offset is
// readable) or ctx ends, and returns the high watermark: a long-poll fetch.
func (p *Partition) Wait(ctx context.Context, offset int64) (int64, error) {
	return p.fsm.hw.wait(ctx, offset)
}

// HighWatermark returns the offset after the last committed record.
func (p *Partition) HighWatermark() int64 { return p.fsm.HighWatermark() }

// LogStartOffset returns the first offset still held.
func (p *Partition) LogStartOffset() int64 { return p.log.StartOffset() }

// OffsetForTimestamp returns the first offset whose timestamp is at least ts
// (milliseconds), or log.ErrNotFound when every record is older.
func (p *Partition) OffsetForTimestamp(ts int64) (int64, error) {
	off, err := p.log.OffsetForTimestamp(ts)
	if err == nil && off >= p.fsm.HighWatermark() {
		return 0, log.ErrNotFound
	}
	return off, err
}

// Epochs returns the leader-epoch history: the first offset of every epoch.
func (p *Partition) Epochs() []EpochStart { return p.fsm.Epochs() }

// IsLeader reports whether this replica is the leader now.
func (p *Partition) IsLeader() bool { return p.group.IsLeader() }

// Leader returns the leader's node id and internal address, empty when unknown.
func (p *Partition) Leader() (id, addr string) { return p.group.Leader() }

// LeaderEpoch returns the current leader epoch: the Raft term.
func (p *Partition) LeaderEpoch() int32 { return int32(p.group.Term()) }

// Log returns the replica's log, for reading its files (replica comparison,
// retention by the owner). Writing to it is the FSM's alone.
func (p *Partition) Log() *log.Log { return p.log }

// Maintain rolls the active segment when it is older than segment.ms and
// deletes whole segments past retention (time and size), advancing the log
// start offset. The owner calls it periodically (a minute is plenty); every
// replica applies its own retention. It returns how many segments it deleted.
func (p *Partition) Maintain() (deleted int, err error) {
	if err := p.log.MaybeRoll(); err != nil {
		return 0, fmt.Errorf("partition %s: roll: %w", p.cfg.ID, err)
	}
	deleted, err = p.log.ApplyRetention()
	if err != nil {
		return deleted, fmt.Errorf("partition %s: retention: %w", p.cfg.ID, err)
	}
	return deleted, nil
}

// Close shuts the replica down: the group first (no more applies), then the log,
// which syncs and leaves a clean-shutdown marker.
func (p *Partition) Close() error {
	p.stopBackground()
	err := p.group.Shutdown()
	return errors.Join(err, p.log.Close())
}
