package replication

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
)

// Group is one Raft group hosted on a Node: a hashicorp/raft instance with its
// stores in GroupConfig.Dir and a transport over the node's listener.
//
// All methods are safe for concurrent use. Methods taking a ctx return when it
// is done, but an operation already handed to raft may still complete (an
// Apply whose ctx expired may have committed).
type Group struct {
	id     string
	node   *Node
	cfg    GroupConfig
	logger *slog.Logger
	layer  *streamLayer
	stores *stores
	raft   *raft.Raft

	// watchStop and watchDone stop and wait for the leadership watcher.
	watchStop chan struct{}
	watchDone chan struct{}

	// ready tracks LeaderReady: on every leadership the watcher starts a
	// barrier, and term is that leadership's term once the barrier is
	// applied. Shutdown cancels ctx and waits for the barriers (wg).
	ready struct {
		term   atomic.Uint64
		ctx    context.Context
		cancel context.CancelFunc
		wg     sync.WaitGroup
	}

	// ops counts the raft futures being waited on, so that Shutdown can let
	// them resolve first: hashicorp/raft never resolves some futures that are
	// queued when it shuts down.
	ops struct {
		sync.Mutex
		closing bool
		n       int
		idle    chan struct{} // closed when n drops to 0 while closing
	}

	// opened is set once raft is running (g.raft is valid); until then the
	// group is registered for routing only.
	opened atomic.Bool

	shutdownOnce sync.Once
	shutdownErr  error
}

// ApplyResult is the outcome of a committed and applied command.
type ApplyResult struct {
	// Index is the command's Raft log index.
	Index uint64
	// Response is what the FSM's Apply (or ApplyBatch) returned for it, as is:
	// an FSM that fails a command returns its error here, not from Apply.
	Response any
}

// Voter returns the raft.Server for a node as a voter: its ID and Addr.
func Voter(id, addr string) raft.Server {
	return raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(id), Address: raft.ServerAddress(addr)}
}

// OpenGroup opens the group cfg.ID on this node: a new one (then Bootstrap it,
// or add it to an existing group from the leader) or one with state in
// cfg.Dir from an earlier run, which rejoins its peers by itself.
func (n *Node) OpenGroup(cfg GroupConfig) (*Group, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.applyDefaults()
	g := &Group{
		id:     cfg.ID,
		node:   n,
		cfg:    cfg,
		logger: n.logger.With("raft_group", cfg.ID),
		layer:  newStreamLayer(n, cfg.ID),
	}
	// Reserve the id first: the router delivers the group's inbound streams
	// to g.layer from now on; they wait in its accept queue for the transport.
	n.mu.Lock()
	switch {
	case n.mu.closed:
		n.mu.Unlock()
		return nil, ErrClosed
	case n.mu.groups[cfg.ID] != nil:
		n.mu.Unlock()
		return nil, fmt.Errorf("%w: %s", ErrGroupExists, cfg.ID)
	}
	n.mu.groups[cfg.ID] = g
	n.mu.Unlock()

	if err := g.open(); err != nil {
		_ = g.layer.Close()
		n.forgetGroup(g)
		return nil, fmt.Errorf("replication: open group %s: %w", cfg.ID, err)
	}
	return g, nil
}

func (g *Group) open() error {
	n, cfg := g.node, g.cfg
	hl := newHCLog(g.logger, n.cfg.RaftLogLevel, "raft")
	st, err := openStores(cfg, hl)
	if err != nil {
		return err
	}
	trans := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  g.layer,
		MaxPool: n.cfg.RaftMaxPool,
		Timeout: n.cfg.IOTimeout,
		Logger:  hl.Named("net"),
		// One AppendEntries in flight per follower: hashicorp/raft's
		// pipelined replication can deadlock (a rejected append ends the
		// response reader while the sender parks on a full channel), which
		// stops a follower from receiving entries for good while its
		// heartbeats go on, and hangs Shutdown. See docs/design.md.
		MaxRPCsInFlight: 1,
	})

	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(n.cfg.ID)
	cfg.Timing.applyTo(rc)
	rc.SnapshotThreshold = cfg.SnapshotThreshold
	rc.SnapshotInterval = cfg.SnapshotInterval
	rc.TrailingLogs = cfg.TrailingLogs
	rc.NoSnapshotRestoreOnStart = cfg.NoSnapshotRestoreOnStart
	rc.BatchApplyCh = true      // group commit of concurrent Applies
	rc.NoLegacyTelemetry = true // no per-peer metric names
	rc.Logger = hl
	rc.LogLevel = ""
	r, err := raft.NewRaft(rc, cfg.FSM, st.logs, st.stable, st.snaps, trans)
	if err != nil {
		_ = trans.Close()
		_ = st.Close()
		return err
	}
	g.stores, g.raft = st, r
	g.opened.Store(true) // publishes g.raft to Node.Group's callers
	g.ready.ctx, g.ready.cancel = context.WithCancel(context.Background())
	g.watchStop = make(chan struct{})
	g.watchDone = make(chan struct{})
	go g.watchLeadership()
	return nil
}

func (n *Node) forgetGroup(g *Group) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.mu.groups[g.id] == g {
		delete(n.mu.groups, g.id)
	}
}

// Group returns the open group id on this node, or nil. A group whose
// OpenGroup has not finished (raft still starting, a snapshot restoring) is
// registered for routing but not returned here.
func (n *Node) Group(id string) *Group {
	n.mu.Lock()
	g := n.mu.groups[id]
	n.mu.Unlock()
	if g == nil || !g.opened.Load() {
		return nil
	}
	return g
}

// ID returns the group id.
func (g *Group) ID() string { return g.id }

// Raft returns the underlying raft instance: an escape hatch for what this
// type does not wrap. Do not Shutdown it directly; call Shutdown.
func (g *Group) Raft() *raft.Raft { return g.raft }

// Bootstrap sets the group's first configuration. It does nothing when the
// group already has state (it was bootstrapped, or joined, earlier), so every
// initial member may call it with the same servers on every start.
func (g *Group) Bootstrap(ctx context.Context, servers []raft.Server) error {
	if len(servers) == 0 {
		return errors.New("replication: bootstrap with no servers")
	}
	has, err := raft.HasExistingState(g.stores.logs, g.stores.stable, g.stores.snaps)
	if err != nil {
		return fmt.Errorf("replication: group %s: bootstrap: %w", g.id, err)
	}
	if has {
		return nil
	}
	err = g.await(ctx, func() raft.Future {
		return g.raft.BootstrapCluster(raft.Configuration{Servers: servers})
	})
	if errors.Is(err, raft.ErrCantBootstrap) {
		return nil
	}
	return g.leadershipError("bootstrap", err)
}

// Apply proposes cmd and waits until it is committed and applied by this
// node's FSM. It fails with a *NotLeaderError (errors.Is ErrNotLeader) when
// this node is not the leader or loses leadership before the command commits;
// in the second case the command may still commit under the next leader.
func (g *Group) Apply(ctx context.Context, cmd []byte) (ApplyResult, error) {
	var f raft.ApplyFuture
	err := g.await(ctx, func() raft.Future {
		f = g.raft.Apply(cmd, enqueueTimeout(ctx))
		return f
	})
	if err != nil {
		return ApplyResult{}, g.leadershipError("apply", err)
	}
	return ApplyResult{Index: f.Index(), Response: f.Response()}, nil
}

// Barrier waits until every command proposed before it is applied by this
// node's FSM. Leader only.
func (g *Group) Barrier(ctx context.Context) error {
	err := g.await(ctx, func() raft.Future { return g.raft.Barrier(enqueueTimeout(ctx)) })
	return g.leadershipError("barrier", err)
}

// VerifyLeader confirms with a quorum that this node is still the leader.
func (g *Group) VerifyLeader(ctx context.Context) error {
	err := g.await(ctx, func() raft.Future { return g.raft.VerifyLeader() })
	return g.leadershipError("verify leader", err)
}

// AddNonvoter adds a server that receives the log but does not vote, or does
// nothing if it is already a member. Leader only.
func (g *Group) AddNonvoter(ctx context.Context, id, addr string) error {
	err := g.await(ctx, func() raft.Future {
		return g.raft.AddNonvoter(raft.ServerID(id), raft.ServerAddress(addr), 0, enqueueTimeout(ctx))
	})
	return g.leadershipError("add nonvoter", err)
}

// AddVoter adds a voter, or promotes a non-voter to voter. Leader only.
// Promote a new replica only once it has caught up (see Status), or the
// group's availability depends on it while it catches up.
func (g *Group) AddVoter(ctx context.Context, id, addr string) error {
	err := g.await(ctx, func() raft.Future {
		return g.raft.AddVoter(raft.ServerID(id), raft.ServerAddress(addr), 0, enqueueTimeout(ctx))
	})
	return g.leadershipError("add voter", err)
}

// DemoteVoter turns a voter into a non-voter. Leader only.
func (g *Group) DemoteVoter(ctx context.Context, id string) error {
	err := g.await(ctx, func() raft.Future {
		return g.raft.DemoteVoter(raft.ServerID(id), 0, enqueueTimeout(ctx))
	})
	return g.leadershipError("demote voter", err)
}

// RemoveServer removes a server from the group. Leader only. The removed
// server's raft shuts itself down once it learns of its removal; its Group
// must still be Shutdown to release its files. A leader removing itself steps
// down.
func (g *Group) RemoveServer(ctx context.Context, id string) error {
	err := g.await(ctx, func() raft.Future {
		return g.raft.RemoveServer(raft.ServerID(id), 0, enqueueTimeout(ctx))
	})
	return g.leadershipError("remove server", err)
}

// TransferLeadership hands leadership to the voter id at addr, or to the most
// up-to-date voter when id is empty, and waits for the transfer. Leader only.
func (g *Group) TransferLeadership(ctx context.Context, id, addr string) error {
	err := g.await(ctx, func() raft.Future {
		if id == "" {
			return g.raft.LeadershipTransfer()
		}
		return g.raft.LeadershipTransferToServer(raft.ServerID(id), raft.ServerAddress(addr))
	})
	return g.leadershipError("transfer leadership", err)
}

// Configuration returns the latest configuration (possibly not yet
// committed). The slice is the caller's.
func (g *Group) Configuration(ctx context.Context) ([]raft.Server, error) {
	var f raft.ConfigurationFuture
	err := g.await(ctx, func() raft.Future {
		f = g.raft.GetConfiguration()
		return f
	})
	if err != nil {
		return nil, g.leadershipError("configuration", err)
	}
	c := f.Configuration()
	return c.Clone().Servers, nil
}

// Snapshot takes a snapshot now (FSM.Snapshot, then Persist) and compacts the
// log behind it, keeping TrailingLogs entries. It returns an error matching
// raft.ErrNothingNewToSnapshot when nothing was applied since the last one.
func (g *Group) Snapshot(ctx context.Context) error {
	err := g.await(ctx, func() raft.Future { return g.raft.Snapshot() })
	return g.leadershipError("snapshot", err)
}

// Leader returns the current leader's node id and address, empty if unknown.
func (g *Group) Leader() (id, addr string) {
	a, i := g.raft.LeaderWithID()
	return string(i), string(a)
}

// IsLeader reports whether this node is the leader now. Leadership can end
// at any moment; see VerifyLeader and OnLeadershipChange.
func (g *Group) IsLeader() bool { return g.raft.State() == raft.Leader }

// LeaderReady reports whether this node leads and its FSM has applied every
// entry committed before its leadership began. A new leader may hold
// entries its predecessor committed that it has not applied yet: until
// then, what its FSM reports (a high watermark, say) can lag what clients
// were already told, so reads that must not go backwards wait for this.
func (g *Group) LeaderReady() bool {
	return g.IsLeader() && g.ready.term.Load() == g.raft.CurrentTerm()
}

// awaitReady runs a barrier for the leadership of term and marks the group
// ready in that term once it is applied; it gives up when the leadership or
// the group ends.
func (g *Group) awaitReady(term uint64) {
	defer g.ready.wg.Done()
	for g.IsLeader() && g.raft.CurrentTerm() == term {
		ctx, cancel := context.WithTimeout(g.ready.ctx, g.cfg.Timing.ElectionTimeout)
		err := g.Barrier(ctx)
		cancel()
		if err == nil {
			if g.raft.CurrentTerm() == term {
				g.ready.term.Store(term)
			}
			return
		}
		select {
		case <-g.ready.ctx.Done():
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// LastCommandIndex returns the index of the last command entry at or below
// idx in this node's log, or 0 when none is left above the latest snapshot.
// raft's AppliedIndex counts entries handed to the FSM, not applied by it,
// and the FSM sees only commands: an FSM that records the index of each
// command it applies has applied everything up to idx once it reaches this.
// It reads back at most 1024 entries (the no-ops and configuration changes
// after the last command are few).
func (g *Group) LastCommandIndex(idx uint64) (uint64, error) {
	first, err := g.stores.logs.FirstIndex()
	if err != nil {
		return 0, err
	}
	var l raft.Log
	for i, n := idx, 0; i >= first && i > 0 && n < 1024; i, n = i-1, n+1 {
		if err := g.stores.logs.GetLog(i, &l); err != nil {
			if errors.Is(err, raft.ErrLogNotFound) {
				return 0, nil
			}
			return 0, err
		}
		if l.Type == raft.LogCommand {
			return i, nil
		}
	}
	return 0, nil
}

// Term returns the current term.
func (g *Group) Term() uint64 { return g.raft.CurrentTerm() }

// Status is a snapshot of a group's Raft progress on this node.
type Status struct {
	State        raft.RaftState
	Term         uint64
	LastIndex    uint64 // last entry in this node's log (possibly uncommitted)
	CommitIndex  uint64 // last entry this node knows is committed
	AppliedIndex uint64 // last entry applied to this node's FSM
	LeaderID     string
	LeaderAddr   string
	// LastContact is when this node last heard from the leader; zero on the
	// leader itself.
	LastContact time.Time
}

// Status returns this node's progress in the group. A replica has caught up
// with the leader when its AppliedIndex reaches the leader's CommitIndex
// (compare with PeerStatus from the leader).
func (g *Group) Status() Status {
	id, addr := g.Leader()
	s := Status{
		State:        g.raft.State(),
		Term:         g.raft.CurrentTerm(),
		LastIndex:    g.raft.LastIndex(),
		CommitIndex:  g.raft.CommitIndex(),
		AppliedIndex: g.raft.AppliedIndex(),
		LeaderID:     id,
		LeaderAddr:   addr,
	}
	if s.State != raft.Leader {
		s.LastContact = g.raft.LastContact()
	}
	return s
}

// Stats returns raft's own statistics (raft.Raft.Stats).
func (g *Group) Stats() map[string]string { return g.raft.Stats() }

// Shutdown stops the group on this node: it lets operations in flight resolve
// (for up to twice the election timeout), shuts raft down, closes the group's
// streams and stores, and delivers the last leadership change. The group's
// state stays in its directory. Idempotent; later operations fail with
// ErrClosed.
func (g *Group) Shutdown() error {
	g.shutdownOnce.Do(func() {
		g.node.forgetGroup(g)
		if g.ready.cancel != nil {
			g.ready.cancel()
		}
		g.drainOps(2 * g.cfg.Timing.ElectionTimeout)
		err := g.raft.Shutdown().Error() // also closes the transport and layer
		_ = g.layer.Close()
		if g.watchStop != nil {
			close(g.watchStop)
			<-g.watchDone
			g.ready.wg.Wait()
		}
		g.shutdownErr = errors.Join(err, g.stores.Close())
	})
	return g.shutdownErr
}

// await runs start, which hands one operation to raft and returns its future,
// and waits for the future or ctx. It fails with ErrClosed once Shutdown began.
func (g *Group) await(ctx context.Context, start func() raft.Future) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	g.ops.Lock()
	if g.ops.closing {
		g.ops.Unlock()
		return raft.ErrRaftShutdown
	}
	g.ops.n++
	g.ops.Unlock()

	f := start()
	if ctx.Done() == nil {
		defer g.opDone()
		return f.Error()
	}
	// Wait on a helper goroutine so that ctx can end the wait; the helper
	// keeps the op counted until raft resolves the future.
	done := make(chan error, 1)
	go func() {
		defer g.opDone()
		done <- f.Error()
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g *Group) opDone() {
	g.ops.Lock()
	defer g.ops.Unlock()
	g.ops.n--
	if g.ops.n == 0 && g.ops.idle != nil {
		close(g.ops.idle)
		g.ops.idle = nil
	}
}

// drainOps stops new operations and waits up to timeout for those in flight.
func (g *Group) drainOps(timeout time.Duration) {
	g.ops.Lock()
	g.ops.closing = true
	if g.ops.n == 0 {
		g.ops.Unlock()
		return
	}
	idle := make(chan struct{})
	g.ops.idle = idle
	pending := g.ops.n
	g.ops.Unlock()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-idle:
	case <-t.C:
		// Raft may never resolve these; their waiters return ErrClosed only
		// if their ctx ends. Their helper goroutines stay blocked.
		g.logger.Warn("shutdown with raft operations in flight", "ops", pending)
	}
}

// enqueueTimeout is how long raft may wait to accept an operation: until
// ctx's deadline, or forever (raft accepts or fails fast while running).
func enqueueTimeout(ctx context.Context) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		return max(time.Until(dl), time.Millisecond)
	}
	return 0
}

// watchLeadership turns raft's coalescing leadership channel into calls of
// OnLeadershipChange, with the term, without ever blocking raft.
func (g *Group) watchLeadership() {
	defer close(g.watchDone)
	ch := g.raft.LeaderCh()
	var last struct {
		set    bool
		leader bool
		term   uint64
	}
	deliver := func(isLeader bool) {
		term := g.raft.CurrentTerm()
		// Report a change of leadership, and a regained leadership in a new
		// term (lost and won again between two reads of ch).
		if last.set && isLeader == last.leader && (!isLeader || term == last.term) {
			return
		}
		last.set, last.leader, last.term = true, isLeader, term
		if isLeader {
			g.ready.wg.Add(1)
			go g.awaitReady(term)
		}
		if g.cfg.OnLeadershipChange != nil {
			g.cfg.OnLeadershipChange(isLeader, term)
		}
	}
	for {
		select {
		case v := <-ch:
			deliver(v)
		case <-g.watchStop:
			// raft has shut down: deliver the final state it left, if any.
			select {
			case v := <-ch:
				deliver(v)
			default:
			}
			if last.leader {
				deliver(false)
			}
			return
		}
	}
}
