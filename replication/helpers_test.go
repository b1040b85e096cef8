package replication

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/cairnlog/cairn/internal/broadcast"
)

// fastTiming keeps elections and failovers short in tests.
var fastTiming = Timing{
	HeartbeatTimeout:   250 * time.Millisecond,
	ElectionTimeout:    250 * time.Millisecond,
	LeaderLeaseTimeout: 125 * time.Millisecond,
	CommitTimeout:      20 * time.Millisecond,
}

// waitFor waits until cond holds, re-checking it whenever sig fires, and fails
// the test after timeout.
func waitFor(t testing.TB, sig *broadcast.Signal, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		c := sig.C() // before cond, so no notification is missed
		if cond() {
			return
		}
		select {
		case <-c:
		case <-deadline.C:
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
	}
}

// waitPoll is waitFor for a condition nothing signals: it checks every 10 ms.
func waitPoll(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
	}
}

// kvFSM is a test state machine: commands "k=v" set keys; Apply returns the
// number of commands applied so far. Every apply and restore fires sig.
type kvFSM struct {
	sig *broadcast.Signal

	mu       sync.Mutex
	kv       map[string]string
	applied  uint64 // commands applied
	lastIdx  uint64 // raft index of the last applied entry
	restores int
}

func newKVFSM(sig *broadcast.Signal) *kvFSM { return &kvFSM{sig: sig, kv: map[string]string{}} }

func (f *kvFSM) Apply(l *raft.Log) any {
	f.mu.Lock()
	k, v, _ := strings.Cut(string(l.Data), "=")
	f.kv[k] = v
	f.applied++
	f.lastIdx = l.Index
	n := f.applied
	f.mu.Unlock()
	f.sig.Notify()
	return n
}

type kvState struct {
	KV      map[string]string
	Applied uint64
	LastIdx uint64
}

func (f *kvFSM) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := kvState{KV: make(map[string]string, len(f.kv)), Applied: f.applied, LastIdx: f.lastIdx}
	for k, v := range f.kv {
		st.KV[k] = v
	}
	return kvSnapshot{st}, nil
}

func (f *kvFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	var st kvState
	if err := json.NewDecoder(rc).Decode(&st); err != nil {
		return err
	}
	f.mu.Lock()
	f.kv, f.applied, f.lastIdx = st.KV, st.Applied, st.LastIdx
	f.restores++
	f.mu.Unlock()
	f.sig.Notify()
	return nil
}

func (f *kvFSM) get(k string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.kv[k]
	return v, ok
}

func (f *kvFSM) count() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.applied
}

func (f *kvFSM) restoreCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.restores
}

type kvSnapshot struct{ st kvState }

func (s kvSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := json.NewEncoder(sink).Encode(s.st); err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}

func (kvSnapshot) Release() {}

// testLogger logs warnings and errors to the test's output; records logged
// after the test ended are dropped rather than panicking.
func testLogger(t testing.TB) *slog.Logger {
	w := &testWriter{w: t.Output()}
	t.Cleanup(w.stop) // registered first, so it runs after every other cleanup
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct {
	mu   sync.Mutex
	w    io.Writer
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return len(p), nil
	}
	return w.w.Write(p)
}

func (w *testWriter) stop() {
	w.mu.Lock()
	w.done = true
	w.mu.Unlock()
}

// checkNoLeaks records the goroutine count and, at cleanup (after the
// cleanups registered later, which close the nodes), waits for it to return.
// Goroutine exits have no event to wait on, so this polls with a deadline.
func checkNoLeaks(t testing.TB) {
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.NewTimer(10 * time.Second)
		defer deadline.Stop()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for runtime.NumGoroutine() > before {
			select {
			case <-tick.C:
			case <-deadline.C:
				buf := make([]byte, 1<<20)
				n := runtime.Stack(buf, true)
				t.Errorf("goroutines: %d before, %d after close\n%s", before, runtime.NumGoroutine(), buf[:n])
				return
			}
		}
	})
}

// testNode starts a node on a loopback port.
func testNode(t testing.TB, id string) *Node {
	t.Helper()
	n, err := NewNode(NodeConfig{ID: id, BindAddr: "127.0.0.1:0", Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("close node %s: %v", id, err)
		}
	})
	return n
}

// member is one replica of a test group.
type member struct {
	node  *Node
	group *Group
	fsm   *kvFSM
	dir   string
}

// testCluster is one group replicated on several nodes.
type testCluster struct {
	t       testing.TB
	sig     *broadcast.Signal // fires on any FSM apply or leadership change
	groupID string
	members []*member
	timing  Timing
	tweak   func(*member, *GroupConfig)
}

func newTestCluster(t testing.TB, nodes int, groupID string, tweak func(*member, *GroupConfig)) *testCluster {
	t.Helper()
	c := &testCluster{t: t, sig: broadcast.New(), groupID: groupID, timing: fastTiming, tweak: tweak}
	for i := range nodes {
		n := testNode(t, fmt.Sprintf("n%d", i+1))
		c.members = append(c.members, &member{node: n, dir: filepath.Join(t.TempDir(), groupID)})
	}
	for _, m := range c.members {
		c.open(m)
	}
	var servers []raft.Server
	for _, m := range c.members {
		servers = append(servers, Voter(m.node.ID(), m.node.Addr()))
	}
	for _, m := range c.members {
		if err := m.group.Bootstrap(t.Context(), servers); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// open (re)opens the group on m's node with a fresh FSM over m.dir.
func (c *testCluster) open(m *member) {
	c.t.Helper()
	m.fsm = newKVFSM(c.sig)
	cfg := GroupConfig{ID: c.groupID, Dir: m.dir, FSM: m.fsm, Timing: c.timing}
	if c.tweak != nil {
		c.tweak(m, &cfg)
	}
	user := cfg.OnLeadershipChange
	cfg.OnLeadershipChange = func(isLeader bool, term uint64) {
		if user != nil {
			user(isLeader, term)
		}
		c.sig.Notify()
	}
	g, err := m.node.OpenGroup(cfg)
	if err != nil {
		c.t.Fatal(err)
	}
	m.group = g
}

// leader waits for exactly one live member to be leader and returns it.
func (c *testCluster) leader() *member {
	c.t.Helper()
	var ld *member
	waitFor(c.t, c.sig, 10*time.Second, "a leader", func() bool {
		ld = nil
		for _, m := range c.live() {
			if m.group.IsLeader() {
				if ld != nil {
					return false
				}
				ld = m
			}
		}
		return ld != nil
	})
	return ld
}

func (c *testCluster) live() []*member {
	var out []*member
	for _, m := range c.members {
		if !m.node.isClosed() {
			out = append(out, m)
		}
	}
	return out
}

func (c *testCluster) followers(ld *member) []*member {
	var out []*member
	for _, m := range c.live() {
		if m != ld {
			out = append(out, m)
		}
	}
	return out
}

// waitApplied waits until every given member's FSM holds key=val.
func (c *testCluster) waitApplied(key, val string, ms ...*member) {
	c.t.Helper()
	waitFor(c.t, c.sig, 10*time.Second, "apply of "+key+" everywhere", func() bool {
		for _, m := range ms {
			if v, _ := m.fsm.get(key); v != val {
				return false
			}
		}
		return true
	})
}

// apply applies key=val through the current leader, retrying on leader change.
func (c *testCluster) apply(ctx context.Context, key, val string) ApplyResult {
	c.t.Helper()
	for attempt := 0; ; attempt++ {
		ld := c.leader()
		res, err := ld.group.Apply(ctx, []byte(key+"="+val))
		if err == nil {
			return res
		}
		if attempt == 5 {
			c.t.Fatalf("apply %s: %v", key, err)
		}
	}
}

// listeningSockets counts this process's TCP sockets in the LISTEN state, by
// matching the socket inodes of /proc/self/fd against /proc/net/tcp{,6}.
func listeningSockets(t testing.TB) int {
	t.Helper()
	inodes := map[string]bool{}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err == nil && strings.HasPrefix(target, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(target, "socket:["), "]")] = true
		}
	}
	n := 0
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(table)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			// sl local rem st tx:rx tr:when retrnsmt uid timeout inode
			if len(fields) > 9 && fields[3] == "0A" && inodes[fields[9]] {
				n++
			}
		}
		f.Close()
	}
	return n
}
