package replication

import (
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/cairnlog/cairn/internal/broadcast"
)

// manyGroups opens groups g000..g(n-1) on every node, bootstraps them with all
// nodes as voters, and returns the members per group (in node order).
func manyGroups(t testing.TB, nodes []*Node, n int, timing Timing, sig *broadcast.Signal) [][]*member {
	t.Helper()
	dir := t.TempDir()
	var servers []raft.Server
	for _, nd := range nodes {
		servers = append(servers, Voter(nd.ID(), nd.Addr()))
	}
	groups := make([][]*member, n)
	for i := range n {
		id := fmt.Sprintf("g%03d", i)
		for _, nd := range nodes {
			m := &member{node: nd, fsm: newKVFSM(sig), dir: filepath.Join(dir, nd.ID(), id)}
			g, err := nd.OpenGroup(GroupConfig{
				ID: id, Dir: m.dir, FSM: m.fsm, Timing: timing,
				OnLeadershipChange: func(bool, uint64) { sig.Notify() },
			})
			if err != nil {
				t.Fatal(err)
			}
			m.group = g
			groups[i] = append(groups[i], m)
		}
		for _, m := range groups[i] {
			if err := m.group.Bootstrap(t.Context(), servers); err != nil {
				t.Fatal(err)
			}
		}
	}
	return groups
}

func groupLeader(ms []*member) *member {
	for _, m := range ms {
		if m.group.IsLeader() {
			return m
		}
	}
	return nil
}

func TestManyGroupsOneListener(t *testing.T) {
	checkNoLeaks(t)
	const groups = 50
	listenBefore := listeningSockets(t)
	nodes := []*Node{testNode(t, "n1"), testNode(t, "n2"), testNode(t, "n3")}
	if got := listeningSockets(t) - listenBefore; got != len(nodes) {
		t.Fatalf("%d listening sockets for %d nodes", got, len(nodes))
	}
	sig := broadcast.New()
	timing := Timing{HeartbeatTimeout: time.Second, ElectionTimeout: time.Second,
		LeaderLeaseTimeout: 500 * time.Millisecond, CommitTimeout: 100 * time.Millisecond}
	gs := manyGroups(t, nodes, groups, timing, sig)

	waitFor(t, sig, 30*time.Second, "a leader in every group", func() bool {
		for _, ms := range gs {
			if groupLeader(ms) == nil {
				return false
			}
		}
		return true
	})
	leaders := map[string]int{}
	tries := make([]int, len(gs)) // an attempt that lost leadership may still have committed
	for i, ms := range gs {
		// Under -race on a loaded box a leader may change: retry on a new one.
		for attempt := 0; ; attempt++ {
			var ld *member
			waitFor(t, sig, 30*time.Second, "a leader", func() bool { ld = groupLeader(ms); return ld != nil })
			tries[i]++
			_, err := ld.group.Apply(t.Context(), []byte(fmt.Sprintf("owner=g%03d", i)))
			if err == nil {
				leaders[ld.node.ID()]++
				break
			}
			if !errors.Is(err, ErrNotLeader) || attempt == 5 {
				t.Fatal(err)
			}
		}
	}
	waitFor(t, sig, 30*time.Second, "every replica applied its own group's command", func() bool {
		for i, ms := range gs {
			for _, m := range ms {
				if v, _ := m.fsm.get("owner"); v != fmt.Sprintf("g%03d", i) {
					return false
				}
			}
		}
		return true
	})
	for i, ms := range gs {
		for _, m := range ms {
			if n := m.fsm.count(); n < 1 || n > uint64(tries[i]) {
				t.Fatalf("%s/%s applied %d commands, want 1..%d (attempts)", m.node.ID(), m.group.ID(), n, tries[i])
			}
		}
	}
	if got := listeningSockets(t) - listenBefore; got != len(nodes) {
		t.Fatalf("%d listening sockets for %d nodes and %d groups", got, len(nodes), groups)
	}
	for _, n := range nodes {
		n.mu.Lock()
		s := len(n.mu.sessions)
		n.mu.Unlock()
		if s > 2*(len(nodes)-1) {
			t.Fatalf("node %s has %d sessions for %d peers", n.ID(), s, len(nodes)-1)
		}
	}
	t.Logf("%d groups x %d nodes: leaders per node %v, %d goroutines", groups, len(nodes), leaders, runtime.NumGoroutine())
}
