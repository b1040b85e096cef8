package replication

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/hashicorp/raft"
)

// Defaults of NodeConfig. Each is applied by NewNode when the field is zero.
const (
	// DefaultDialTimeout bounds dialing a peer and its connection preamble.
	DefaultDialTimeout = 5 * time.Second
	// DefaultIOTimeout bounds one frame write of an RPC response, the reading of a
	// stream header, and raft's own per-RPC I/O deadline (raft multiplies it for
	// InstallSnapshot by the snapshot size).
	DefaultIOTimeout = 10 * time.Second
	// DefaultMaxFrameBytes bounds an RPC request and one chunk of a response.
	DefaultMaxFrameBytes = 16 << 20
	// DefaultRaftMaxPool is how many idle raft streams a group keeps per peer.
	DefaultRaftMaxPool = 2
	// DefaultStreamWindowBytes is the per-stream flow-control window of yamux.
	DefaultStreamWindowBytes = 1 << 20
)

// NodeConfig configures a Node: one internal listener shared by every Raft group
// and every internal RPC of a broker.
type NodeConfig struct {
	// ID is this node's identity and the Raft server ID of all its groups.
	// Required.
	ID string
	// BindAddr is the "host:port" the internal listener binds; port 0 picks a
	// free one. Required.
	BindAddr string
	// AdvertiseAddr is the "host:port" peers dial and the Raft server address of
	// all groups on this node. Default: the listener's address, which must then
	// not be an unspecified host (0.0.0.0, ::).
	AdvertiseAddr string
	// Logger receives this package's logs and raft's (bridged from hclog),
	// and names the node itself (cluster's carries node). Default:
	// slog.Default() with node=ID.
	Logger *slog.Logger
	// RaftLogLevel is the minimum level of the logs of raft, raft-wal and
	// yamux (they are chatty at info). Default (nil): slog.LevelWarn.
	RaftLogLevel slog.Leveler
	// DialTimeout bounds dialing a peer. Default DefaultDialTimeout.
	DialTimeout time.Duration
	// IOTimeout: see DefaultIOTimeout. Default DefaultIOTimeout.
	IOTimeout time.Duration
	// MaxFrameBytes bounds an RPC request and each response chunk, on both
	// ends; a larger claim is rejected before anything is allocated. At least
	// 64 KiB (the response chunk size). Default DefaultMaxFrameBytes.
	MaxFrameBytes int
	// RaftMaxPool: see DefaultRaftMaxPool.
	RaftMaxPool int
	// StreamWindowBytes: see DefaultStreamWindowBytes. At least 256 KiB.
	StreamWindowBytes int
}

func (c *NodeConfig) applyDefaults() {
	if c.Logger == nil {
		c.Logger = slog.Default().With("node", c.ID)
	}
	if c.RaftLogLevel == nil {
		c.RaftLogLevel = slog.LevelWarn
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.IOTimeout == 0 {
		c.IOTimeout = DefaultIOTimeout
	}
	if c.MaxFrameBytes == 0 {
		c.MaxFrameBytes = DefaultMaxFrameBytes
	}
	if c.RaftMaxPool == 0 {
		c.RaftMaxPool = DefaultRaftMaxPool
	}
	if c.StreamWindowBytes == 0 {
		c.StreamWindowBytes = DefaultStreamWindowBytes
	}
}

// Validate reports the first invalid field. Zero fields that have a default are
// valid.
func (c NodeConfig) Validate() error {
	if err := validName("node id", c.ID); err != nil {
		return err
	}
	if _, _, err := net.SplitHostPort(c.BindAddr); err != nil {
		return fmt.Errorf("replication: bind address %q: %w", c.BindAddr, err)
	}
	if c.AdvertiseAddr != "" {
		if err := validAdvertise(c.AdvertiseAddr); err != nil {
			return err
		}
	}
	switch {
	case c.DialTimeout < 0:
		return errors.New("replication: negative DialTimeout")
	case c.IOTimeout < 0:
		return errors.New("replication: negative IOTimeout")
	case c.MaxFrameBytes != 0 && (c.MaxFrameBytes < rpcChunkBytes || c.MaxFrameBytes > maxFrameLimit):
		return fmt.Errorf("replication: MaxFrameBytes %d not in [%d, %d]", c.MaxFrameBytes, rpcChunkBytes, maxFrameLimit)
	case c.RaftMaxPool < 0:
		return errors.New("replication: negative RaftMaxPool")
	case c.StreamWindowBytes != 0 && (c.StreamWindowBytes < 256<<10 || c.StreamWindowBytes > 64<<20):
		return fmt.Errorf("replication: StreamWindowBytes %d not in [256 KiB, 64 MiB]", c.StreamWindowBytes)
	}
	return nil
}

func validAdvertise(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("replication: advertise address %q: %w", addr, err)
	}
	if port == "0" || port == "" {
		return fmt.Errorf("replication: advertise address %q has no port", addr)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		return fmt.Errorf("replication: advertise address %q is not dialable", addr)
	}
	if len(addr) > maxNameBytes {
		return fmt.Errorf("replication: advertise address longer than %d bytes", maxNameBytes)
	}
	return nil
}

// validName checks an identifier that travels in a stream header or preamble.
func validName(what, s string) error {
	if s == "" {
		return fmt.Errorf("replication: empty %s", what)
	}
	if len(s) > maxNameBytes {
		return fmt.Errorf("replication: %s longer than %d bytes", what, maxNameBytes)
	}
	return nil
}

// StoreKind selects a group's Raft LogStore and StableStore.
type StoreKind int

const (
	// StoreWAL is hashicorp/raft-wal in the group directory: the default, for
	// partition groups.
	StoreWAL StoreKind = iota
	// StoreBolt is hashicorp/raft-boltdb/v2 (one bbolt file): for the metadata
	// group, whose log is small and whose writes are rare.
	StoreBolt
)

func (k StoreKind) String() string {
	switch k {
	case StoreWAL:
		return "wal"
	case StoreBolt:
		return "bolt"
	}
	return fmt.Sprintf("StoreKind(%d)", int(k))
}

// Timing is the Raft clock of a group. Zero fields take the value of
// DefaultTiming. See doc.go for the measurements behind the defaults.
type Timing struct {
	// HeartbeatTimeout: a follower with no contact from the leader for this long
	// (randomised up to twice) starts an election; the leader heartbeats every
	// tenth of it (randomised up to twice). Default 2s (raft: 1s).
	HeartbeatTimeout time.Duration
	// ElectionTimeout: a candidate restarts an election after this long
	// (randomised up to twice). Default 2s (raft: 1s).
	ElectionTimeout time.Duration
	// LeaderLeaseTimeout: a leader that has not heard from a quorum for this
	// long steps down. At most HeartbeatTimeout. Default 1s (raft: 500ms).
	LeaderLeaseTimeout time.Duration
	// CommitTimeout: with no new entries, the leader still sends each follower
	// an AppendEntries this often (randomised up to twice) so that followers
	// learn the commit index. It does not delay commits. Default 500ms
	// (raft: 50ms): the largest idle cost of a group.
	CommitTimeout time.Duration
	// MaxAppendEntries bounds the entries of one AppendEntries and of one
	// batch given to the FSM. Default 256 (raft: 64).
	MaxAppendEntries int
}

// DefaultTiming is the Timing of a group whose config leaves it zero.
func DefaultTiming() Timing {
	return Timing{
		HeartbeatTimeout:   2 * time.Second,
		ElectionTimeout:    2 * time.Second,
		LeaderLeaseTimeout: time.Second,
		CommitTimeout:      500 * time.Millisecond,
		MaxAppendEntries:   256,
	}
}

func (t Timing) withDefaults() Timing {
	d := DefaultTiming()
	if t.HeartbeatTimeout == 0 {
		t.HeartbeatTimeout = d.HeartbeatTimeout
	}
	if t.ElectionTimeout == 0 {
		t.ElectionTimeout = d.ElectionTimeout
	}
	if t.LeaderLeaseTimeout == 0 {
		t.LeaderLeaseTimeout = min(d.LeaderLeaseTimeout, t.HeartbeatTimeout)
	}
	if t.CommitTimeout == 0 {
		t.CommitTimeout = d.CommitTimeout
	}
	if t.MaxAppendEntries == 0 {
		t.MaxAppendEntries = d.MaxAppendEntries
	}
	return t
}

// Defaults of GroupConfig, applied when a field is zero.
const (
	// DefaultWALSegmentBytes is small because a node holds hundreds of groups and
	// raft-wal preallocates every segment file (raft-wal's own default: 64 MiB).
	DefaultWALSegmentBytes = 4 << 20
	// DefaultSnapshotThreshold: entries since the last snapshot that trigger one.
	DefaultSnapshotThreshold = 8192
	// DefaultSnapshotInterval: how often (randomised up to twice) the threshold
	// is checked.
	DefaultSnapshotInterval = 2 * time.Minute
	// DefaultTrailingLogs: entries kept behind a snapshot so that a briefly
	// lagging follower catches up from the log rather than a snapshot.
	DefaultTrailingLogs = 4096
	// DefaultSnapshotRetain: snapshots kept on disk.
	DefaultSnapshotRetain = 2
)

// GroupConfig configures one Raft group on a Node.
type GroupConfig struct {
	// ID names the group on the wire (stream headers) and in logs. At most
	// 255 bytes. Required.
	ID string
	// Dir holds the group's Raft state: the WAL (or raft.db), and snapshots/.
	// Created if missing. Required.
	Dir string
	// FSM is the state machine. raft.BatchingFSM is used when implemented.
	// Required.
	FSM raft.FSM
	// Store selects the log and stable store. Default StoreWAL.
	Store StoreKind
	// WALSegmentBytes is the raft-wal segment size. Default DefaultWALSegmentBytes.
	WALSegmentBytes int
	// SnapshotThreshold, SnapshotInterval, TrailingLogs, SnapshotRetain: see
	// their defaults above.
	SnapshotThreshold uint64
	SnapshotInterval  time.Duration
	TrailingLogs      uint64
	SnapshotRetain    int
	// NoSnapshotRestoreOnStart skips restoring the latest snapshot into the FSM
	// at open: for an FSM that persists its state itself and knows the index it
	// applied (raft then replays the log from the snapshot index; the FSM must
	// skip what it already holds).
	NoSnapshotRestoreOnStart bool
	// Timing is the group's Raft clock. Zero fields take DefaultTiming.
	Timing Timing
	// OnLeadershipChange, if set, is called with every change of this node's
	// leadership of the group, in order, from one goroutine owned by the group,
	// never from raft's goroutines. Calls are coalesced when the callee is slow:
	// intermediate states may be skipped but the latest one is always delivered.
	// The call with the final state happens before Shutdown returns. It must
	// not call Shutdown of the same group.
	OnLeadershipChange func(isLeader bool, term uint64)
}

func (c *GroupConfig) applyDefaults() {
	if c.WALSegmentBytes == 0 {
		c.WALSegmentBytes = DefaultWALSegmentBytes
	}
	if c.SnapshotThreshold == 0 {
		c.SnapshotThreshold = DefaultSnapshotThreshold
	}
	if c.SnapshotInterval == 0 {
		c.SnapshotInterval = DefaultSnapshotInterval
	}
	if c.TrailingLogs == 0 {
		c.TrailingLogs = DefaultTrailingLogs
	}
	if c.SnapshotRetain == 0 {
		c.SnapshotRetain = DefaultSnapshotRetain
	}
	c.Timing = c.Timing.withDefaults()
}

// Validate reports the first invalid field. Zero fields that have a default are
// valid.
func (c GroupConfig) Validate() error {
	if err := validName("group id", c.ID); err != nil {
		return err
	}
	if c.Dir == "" {
		return errors.New("replication: empty group Dir")
	}
	if c.FSM == nil {
		return errors.New("replication: nil FSM")
	}
	if c.Store != StoreWAL && c.Store != StoreBolt {
		return fmt.Errorf("replication: unknown store %v", c.Store)
	}
	if c.WALSegmentBytes < 0 || c.SnapshotRetain < 0 || c.SnapshotInterval < 0 {
		return errors.New("replication: negative WALSegmentBytes, SnapshotRetain or SnapshotInterval")
	}
	if c.WALSegmentBytes != 0 && c.WALSegmentBytes < 64<<10 {
		return fmt.Errorf("replication: WALSegmentBytes %d below 64 KiB", c.WALSegmentBytes)
	}
	t := c.Timing.withDefaults()
	cfg := raft.DefaultConfig()
	cfg.LocalID = "validate"
	t.applyTo(cfg)
	if err := raft.ValidateConfig(cfg); err != nil {
		return fmt.Errorf("replication: group timing: %w", err)
	}
	return nil
}

func (t Timing) applyTo(cfg *raft.Config) {
	cfg.HeartbeatTimeout = t.HeartbeatTimeout
	cfg.ElectionTimeout = t.ElectionTimeout
	cfg.LeaderLeaseTimeout = t.LeaderLeaseTimeout
	cfg.CommitTimeout = t.CommitTimeout
	cfg.MaxAppendEntries = t.MaxAppendEntries
}
