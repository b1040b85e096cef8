package replication

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/cairnlog/cairn/internal/broadcast"
)

func TestGroupApplyAndNotLeader(t *testing.T) {
	checkNoLeaks(t)
	c := newTestCluster(t, 3, "orders-0", nil)
	ctx := t.Context()
	ld := c.leader()

	res, err := ld.group.Apply(ctx, []byte("a=1"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Index == 0 || res.Response != uint64(1) {
		t.Fatalf("apply result %+v, want index > 0 and response 1", res)
	}
	c.waitApplied("a", "1", c.members...)

	if st := ld.group.Status(); st.State != raft.Leader || st.AppliedIndex < res.Index || st.CommitIndex < res.Index {
		t.Fatalf("leader status %+v after index %d", st, res.Index)
	}
	if err := ld.group.Barrier(ctx); err != nil {
		t.Fatal(err)
	}
	if err := ld.group.VerifyLeader(ctx); err != nil {
		t.Fatal(err)
	}
	servers, err := ld.group.Configuration(ctx)
	if err != nil || len(servers) != 3 {
		t.Fatalf("configuration %v, %v", servers, err)
	}

	f := c.followers(ld)[0]
	_, err = f.group.Apply(ctx, []byte("b=2"))
	var nle *NotLeaderError
	if !errors.Is(err, ErrNotLeader) || !errors.As(err, &nle) {
		t.Fatalf("apply on follower: %v, want a NotLeaderError", err)
	}
	if nle.LeaderID != ld.node.ID() || nle.LeaderAddr != ld.node.Addr() || nle.Group != "orders-0" {
		t.Fatalf("not-leader hint %+v, want %s at %s", nle, ld.node.ID(), ld.node.Addr())
	}
	if err := f.group.Barrier(ctx); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("barrier on follower: %v", err)
	}
	if id, addr := f.group.Leader(); id != ld.node.ID() || addr != ld.node.Addr() {
		t.Fatalf("follower sees leader %s at %s", id, addr)
	}
	if st := f.group.Status(); st.AppliedIndex < res.Index || st.LastContact.IsZero() {
		t.Fatalf("follower status %+v", st)
	}

	// Opening the same group twice on a node is refused.
	if _, err := ld.node.OpenGroup(GroupConfig{ID: "orders-0", Dir: t.TempDir(), FSM: newKVFSM(c.sig)}); !errors.Is(err, ErrGroupExists) {
		t.Fatalf("second open: %v", err)
	}
	// A shut-down group refuses work.
	if err := f.group.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.group.Apply(ctx, []byte("c=3")); !errors.Is(err, ErrClosed) {
		t.Fatalf("apply after shutdown: %v", err)
	}
}

// leadershipLog records OnLeadershipChange calls per node.
type leadershipLog struct {
	mu     sync.Mutex
	events map[string][]leadershipEvent
}

type leadershipEvent struct {
	leader bool
	term   uint64
}

func (l *leadershipLog) record(node string, leader bool, term uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events[node] = append(l.events[node], leadershipEvent{leader, term})
}

func (l *leadershipLog) last(node string) (leadershipEvent, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ev := l.events[node]
	if len(ev) == 0 {
		return leadershipEvent{}, false
	}
	return ev[len(ev)-1], true
}

func TestGroupLeaderFailover(t *testing.T) {
	checkNoLeaks(t)
	log := &leadershipLog{events: map[string][]leadershipEvent{}}
	c := newTestCluster(t, 3, "orders-1", func(m *member, cfg *GroupConfig) {
		node := m.node.ID()
		cfg.OnLeadershipChange = func(isLeader bool, term uint64) { log.record(node, isLeader, term) }
	})
	ctx := t.Context()
	old := c.leader()
	c.apply(ctx, "a", "1")
	c.waitApplied("a", "1", c.members...)
	oldTerm := old.group.Term()
	waitPoll(t, 5*time.Second, "leader ready", old.group.LeaderReady)
	for _, m := range c.members {
		if m != old && m.group.LeaderReady() {
			t.Errorf("follower %s reports LeaderReady", m.node.ID())
		}
	}
	waitFor(t, c.sig, 5*time.Second, "leadership callback on the leader", func() bool {
		ev, ok := log.last(old.node.ID())
		return ok && ev.leader && ev.term == oldTerm
	})

	if err := old.node.Close(); err != nil {
		t.Fatal(err)
	}
	// Close delivered the final state: not leader.
	if ev, _ := log.last(old.node.ID()); ev.leader {
		t.Fatalf("last callback of the closed leader: %+v", ev)
	}
	ld := c.leader()
	if ld == old {
		t.Fatal("closed node still leader")
	}
	if ld.group.Term() <= oldTerm {
		t.Fatalf("new term %d, old %d", ld.group.Term(), oldTerm)
	}
	waitFor(t, c.sig, 5*time.Second, "leadership callback on the new leader", func() bool {
		ev, ok := log.last(ld.node.ID())
		return ok && ev.leader && ev.term > oldTerm
	})
	// Ready means every entry committed before the new term is applied.
	waitPoll(t, 5*time.Second, "new leader ready", ld.group.LeaderReady)
	if v, _ := ld.fsm.get("a"); v != "1" {
		t.Fatalf("new leader ready with a = %q, want 1 applied", v)
	}
	c.apply(ctx, "b", "2")
	c.waitApplied("b", "2", c.live()...)
	if v, _ := c.live()[0].fsm.get("a"); v != "1" {
		t.Fatalf("a = %q after failover", v)
	}
}

func TestGroupMembership(t *testing.T) {
	checkNoLeaks(t)
	c := newTestCluster(t, 3, "orders-2", nil)
	ctx := t.Context()
	c.apply(ctx, "a", "1")

	// A fourth node joins as a non-voter and catches up.
	m4 := &member{node: testNode(t, "n4"), dir: filepath.Join(t.TempDir(), "orders-2")}
	c.members = append(c.members, m4)
	c.open(m4)
	ld := c.leader()
	if err := ld.group.AddNonvoter(ctx, m4.node.ID(), m4.node.Addr()); err != nil {
		t.Fatal(err)
	}
	c.waitApplied("a", "1", m4)
	requireSuffrage(t, ld.group, "n4", raft.Nonvoter)
	// Caught up: once its FSM applied a fresh command, the non-voter's
	// status, read remotely, shows that index committed.
	res := c.apply(ctx, "sync", "1")
	c.waitApplied("sync", "1", m4)
	st, err := ld.node.PeerStatus(ctx, m4.node.Addr(), "orders-2")
	if err != nil {
		t.Fatal(err)
	}
	if st.CommitIndex < res.Index || st.LastIndex < res.Index || st.LeaderID != ld.node.ID() || st.State != raft.Follower {
		t.Fatalf("non-voter status %+v, want index %d committed under %s", st, res.Index, ld.node.ID())
	}
	if _, err := ld.node.PeerStatus(ctx, m4.node.Addr(), "no-such-group"); err == nil {
		t.Fatal("status of a group not open")
	}

	// Promote it, then remove a voter that is not the leader.
	if err := ld.group.AddVoter(ctx, m4.node.ID(), m4.node.Addr()); err != nil {
		t.Fatal(err)
	}
	requireSuffrage(t, ld.group, "n4", raft.Voter)
	var gone *member
	for _, m := range c.followers(ld) {
		if m != m4 {
			gone = m
			break
		}
	}
	if err := ld.group.RemoveServer(ctx, gone.node.ID()); err != nil {
		t.Fatal(err)
	}
	servers, err := ld.group.Configuration(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(servers) != 3 {
		t.Fatalf("configuration after remove: %v", servers)
	}
	for _, s := range servers {
		if string(s.ID) == gone.node.ID() {
			t.Fatalf("%s still in %v", gone.node.ID(), servers)
		}
	}
	if err := gone.group.Shutdown(); err != nil {
		t.Fatal(err)
	}
	c.apply(ctx, "b", "2")
	c.waitApplied("b", "2", m4)
	if v, _ := gone.fsm.get("b"); v != "" {
		t.Fatalf("removed server applied b=%q", v)
	}
	// Membership changes need the leader.
	if err := m4.group.AddNonvoter(ctx, "n9", "127.0.0.1:1"); !errors.Is(err, ErrNotLeader) && !m4.group.IsLeader() {
		t.Fatalf("add nonvoter on follower: %v", err)
	}
}

func requireSuffrage(t *testing.T, g *Group, id string, want raft.ServerSuffrage) {
	t.Helper()
	servers, err := g.Configuration(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range servers {
		if string(s.ID) == id {
			if s.Suffrage != want {
				t.Fatalf("%s is %v, want %v", id, s.Suffrage, want)
			}
			return
		}
	}
	t.Fatalf("%s not in %v", id, servers)
}

func TestGroupTransferLeadership(t *testing.T) {
	checkNoLeaks(t)
	c := newTestCluster(t, 3, "orders-3", nil)
	ctx := t.Context()
	c.apply(ctx, "a", "1")
	ld := c.leader()
	target := c.followers(ld)[1]
	if err := ld.group.TransferLeadership(ctx, target.node.ID(), target.node.Addr()); err != nil {
		t.Fatal(err)
	}
	if got := c.leader(); got != target {
		t.Fatalf("leader %s after transfer to %s", got.node.ID(), target.node.ID())
	}
	// To any voter.
	if err := target.group.TransferLeadership(ctx, "", ""); err != nil {
		t.Fatal(err)
	}
	if got := c.leader(); got == target {
		t.Fatalf("leader still %s after transfer to any", got.node.ID())
	}
	// A follower cannot transfer.
	f := c.followers(c.leader())[0]
	if err := f.group.TransferLeadership(ctx, "", ""); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("transfer from follower: %v", err)
	}
	c.apply(ctx, "b", "2")
	c.waitApplied("b", "2", c.members...)
}

func TestGroupRestart(t *testing.T) {
	checkNoLeaks(t)
	c := newTestCluster(t, 3, "orders-4", nil)
	ctx := t.Context()
	for i := range 10 {
		c.apply(ctx, fmt.Sprintf("k%d", i), "v")
	}
	c.waitApplied("k9", "v", c.members...)

	// One replica snapshots, shuts down, misses writes, and comes back.
	f := c.followers(c.leader())[0]
	if err := f.group.Snapshot(ctx); err != nil {
		t.Fatal(err)
	}
	if err := f.group.Shutdown(); err != nil {
		t.Fatal(err)
	}
	c.apply(ctx, "while-down", "x")
	c.open(f)
	if f.fsm.restoreCount() != 1 || f.fsm.count() < 10 {
		t.Fatalf("reopened replica: %d restores, %d applied, want the snapshot", f.fsm.restoreCount(), f.fsm.count())
	}
	c.waitApplied("while-down", "x", f)
	snaps, err := os.ReadDir(filepath.Join(f.dir, snapDirName))
	if err != nil || len(snaps) == 0 {
		t.Fatalf("snapshots kept: %v, %v", snaps, err)
	}

	// The whole group restarts on the same nodes.
	for _, m := range c.members {
		if err := m.group.Shutdown(); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range c.members {
		c.open(m)
		// Bootstrap again is a no-op on existing state.
		if err := m.group.Bootstrap(ctx, []raft.Server{Voter(m.node.ID(), m.node.Addr())}); err != nil {
			t.Fatal(err)
		}
	}
	c.apply(ctx, "after-restart", "y")
	c.waitApplied("after-restart", "y", c.members...)
	c.waitApplied("while-down", "x", c.members...)
	for _, m := range c.members {
		if v, _ := m.fsm.get("k0"); v != "v" {
			t.Fatalf("%s lost k0 across restart", m.node.ID())
		}
	}
}

func TestGroupSnapshotInstall(t *testing.T) {
	checkNoLeaks(t)
	c := newTestCluster(t, 3, "orders-5", func(_ *member, cfg *GroupConfig) {
		cfg.TrailingLogs = 4
		cfg.SnapshotThreshold = 1 << 30 // only the snapshots this test asks for
		cfg.WALSegmentBytes = 64 << 10  // several segments, so compaction deletes files
	})
	ctx := t.Context()
	c.apply(ctx, "a", "1")
	c.waitApplied("a", "1", c.members...)

	lag := c.followers(c.leader())[0]
	if err := lag.group.Shutdown(); err != nil {
		t.Fatal(err)
	}
	val := string(make([]byte, 1024))
	for i := range 200 {
		c.apply(ctx, fmt.Sprintf("k%03d", i), val)
	}
	// Both live members snapshot and trim: whichever leads when the lagging
	// one returns (a loaded machine may change leaders) can only send it a
	// snapshot.
	for _, m := range c.members {
		if m != lag {
			if err := m.group.Snapshot(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	ld := c.leader()
	first, err := ld.group.stores.logs.FirstIndex()
	if err != nil {
		t.Fatal(err)
	}
	last := ld.group.Status().LastIndex
	if first <= 10 || last-first+1 > 4+1 {
		t.Fatalf("leader log [%d, %d] after snapshot, want trimmed to about 4 trailing entries", first, last)
	}

	c.open(lag)
	c.waitApplied("k199", val, lag)
	if lag.fsm.restoreCount() == 0 {
		t.Fatal("lagging replica caught up without InstallSnapshot")
	}
	if v, _ := lag.fsm.get("a"); v != "1" {
		t.Fatalf("a = %q on the lagging replica", v)
	}
	c.apply(ctx, "b", "2")
	c.waitApplied("b", "2", c.members...)
}

// batchFSM is a raft.BatchingFSM.
type batchFSM struct {
	*kvFSM
	mu      sync.Mutex
	batches int
}

func (f *batchFSM) ApplyBatch(logs []*raft.Log) []any {
	f.mu.Lock()
	f.batches++
	f.mu.Unlock()
	out := make([]any, len(logs))
	for i, l := range logs {
		if l.Type == raft.LogCommand {
			out[i] = f.kvFSM.Apply(l)
		}
	}
	return out
}

func TestGroupBatchingFSM(t *testing.T) {
	checkNoLeaks(t)
	n := testNode(t, "solo")
	sig := broadcast.New()
	fsm := &batchFSM{kvFSM: newKVFSM(sig)}
	g, err := n.OpenGroup(GroupConfig{ID: "solo", Dir: t.TempDir(), FSM: fsm, Timing: fastTiming,
		OnLeadershipChange: func(bool, uint64) { sig.Notify() }})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Bootstrap(t.Context(), []raft.Server{Voter(n.ID(), n.Addr())}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, sig, 10*time.Second, "single-node leader", g.IsLeader)
	for i := range 5 {
		res, err := g.Apply(t.Context(), []byte(fmt.Sprintf("k%d=v", i)))
		if err != nil {
			t.Fatal(err)
		}
		if res.Response != uint64(i+1) {
			t.Fatalf("response %v, want %d", res.Response, i+1)
		}
	}
	fsm.mu.Lock()
	defer fsm.mu.Unlock()
	if fsm.batches == 0 {
		t.Fatal("ApplyBatch never called")
	}
}

func TestGroupConfigValidate(t *testing.T) {
	fsm := newKVFSM(broadcast.New())
	for _, tc := range []struct {
		name string
		cfg  GroupConfig
	}{
		{"no id", GroupConfig{Dir: "x", FSM: fsm}},
		{"long id", GroupConfig{ID: string(make([]byte, 256)), Dir: "x", FSM: fsm}},
		{"no dir", GroupConfig{ID: "g", FSM: fsm}},
		{"no fsm", GroupConfig{ID: "g", Dir: "x"}},
		{"bad store", GroupConfig{ID: "g", Dir: "x", FSM: fsm, Store: 7}},
		{"tiny segment", GroupConfig{ID: "g", Dir: "x", FSM: fsm, WALSegmentBytes: 10}},
		{"lease above heartbeat", GroupConfig{ID: "g", Dir: "x", FSM: fsm, Timing: Timing{HeartbeatTimeout: time.Second, LeaderLeaseTimeout: 2 * time.Second}}},
	} {
		if err := tc.cfg.Validate(); err == nil {
			t.Errorf("%s: valid", tc.name)
		}
	}
	if err := (GroupConfig{ID: "g", Dir: "x", FSM: fsm}).Validate(); err != nil {
		t.Fatal(err)
	}
	for _, cfg := range []NodeConfig{
		{BindAddr: "127.0.0.1:0"},
		{ID: "n", BindAddr: "nope"},
		{ID: "n", BindAddr: "127.0.0.1:0", AdvertiseAddr: "0.0.0.0:9093"},
		{ID: "n", BindAddr: "127.0.0.1:0", MaxFrameBytes: 10},
	} {
		if err := cfg.Validate(); err == nil {
			t.Errorf("%+v: valid", cfg)
		}
	}
	if _, err := NewNode(NodeConfig{ID: "n", BindAddr: "0.0.0.0:0"}); err == nil {
		t.Error("node on 0.0.0.0 without an advertise address")
	}
}

func TestGroupBoltStore(t *testing.T) {
	checkNoLeaks(t)
	c := newTestCluster(t, 3, "__meta", func(_ *member, cfg *GroupConfig) { cfg.Store = StoreBolt })
	ctx := t.Context()
	c.apply(ctx, "broker", "1")
	c.waitApplied("broker", "1", c.members...)
	for _, m := range c.members {
		if _, err := os.Stat(filepath.Join(m.dir, boltName)); err != nil {
			t.Fatal(err)
		}
	}
}

// TestGroupPropose checks the pipelined form of Apply (propose.go): commands
// proposed in turn from one goroutine commit in that order.
func TestGroupPropose(t *testing.T) {
	checkNoLeaks(t)
	c := newTestCluster(t, 3, "orders-6", nil)
	ld := c.leader()
	var ps []*Proposal
	for i := range 5 {
		ps = append(ps, ld.group.Propose([]byte(fmt.Sprintf("seq=%d", i))))
	}
	var last uint64
	for i, p := range ps {
		res, err := p.Wait(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if res.Index <= last {
			t.Fatalf("proposal %d at index %d, after %d", i, res.Index, last)
		}
		last = res.Index
		if _, err := p.Wait(t.Context()); err != nil { // Wait again: same result
			t.Fatal(err)
		}
	}
	c.waitApplied("seq", "4", c.members...)
	f := c.followers(ld)[0]
	if _, err := f.group.Propose([]byte("x=1")).Wait(t.Context()); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("propose on follower: %v", err)
	}
}

// restoreGate is a kvFSM whose Restore waits until released, so that a test
// can look at a group while raft.NewRaft is still restoring its snapshot.
type restoreGate struct {
	*kvFSM
	entered chan struct{}
	release chan struct{}
}

func (f *restoreGate) Restore(rc io.ReadCloser) error {
	close(f.entered)
	<-f.release
	return f.kvFSM.Restore(rc)
}

// A group still opening (its snapshot restoring) is routed to but not yet
// visible: PeerStatus from a peer is an error, never a crash.
func TestGroupNotVisibleUntilOpen(t *testing.T) {
	dir := t.TempDir()
	a, b := testNode(t, "a"), testNode(t, "b")
	sig := broadcast.New()
	cfg := GroupConfig{ID: "g", Dir: filepath.Join(dir, "g"), FSM: newKVFSM(sig), Timing: fastTiming,
		OnLeadershipChange: func(bool, uint64) { sig.Notify() }}
	g, err := a.OpenGroup(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Bootstrap(t.Context(), []raft.Server{Voter("a", a.Addr())}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, sig, 10*time.Second, "leader", g.IsLeader)
	if _, err := g.Apply(t.Context(), []byte("k=v")); err != nil {
		t.Fatal(err)
	}
	if err := g.Snapshot(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := g.Shutdown(); err != nil {
		t.Fatal(err)
	}

	gate := &restoreGate{kvFSM: newKVFSM(sig), entered: make(chan struct{}), release: make(chan struct{})}
	cfg.FSM = gate
	opened := make(chan error, 1)
	go func() {
		g, err := a.OpenGroup(cfg)
		if err == nil {
			t.Cleanup(func() { g.Shutdown() })
		}
		opened <- err
	}()
	<-gate.entered
	if a.Group("g") != nil {
		t.Fatal("Group returned a group whose raft is still starting")
	}
	if _, err := b.PeerStatus(t.Context(), a.Addr(), "g"); err == nil {
		t.Fatal("PeerStatus of a group still opening succeeded")
	}
	close(gate.release)
	if err := <-opened; err != nil {
		t.Fatal(err)
	}
	if a.Group("g") == nil {
		t.Fatal("Group did not return the group once open")
	}
	if _, err := b.PeerStatus(t.Context(), a.Addr(), "g"); err != nil {
		t.Fatalf("PeerStatus once open: %v", err)
	}
}
