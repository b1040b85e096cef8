package netns

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// fakeCluster models a Cluster's process states and cuts, and fails the test
// when a majority of its brokers is down at once.
type fakeCluster struct {
	t      *testing.T
	status map[int32]Status
	cuts   int // network faults in place
	log    []string
}

func newFakeCluster(t *testing.T, n int) *fakeCluster {
	f := &fakeCluster{t: t, status: map[int32]Status{}}
	for id := int32(1); id <= int32(n); id++ {
		f.status[id] = Running
	}
	return f
}

func (f *fakeCluster) Nodes() []int32 {
	var ids []int32
	for id := range f.status {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func (f *fakeCluster) Status(id int32) Status { return f.status[id] }

func (f *fakeCluster) Heal() error {
	for id := range f.status {
		f.status[id] = Running
	}
	f.cuts = 0
	return nil
}

func (f *fakeCluster) WaitReady(context.Context) error { return nil }

// down moves id to s, checking it was running and that a majority still runs.
func (f *fakeCluster) down(id int32, s Status) error {
	if f.status[id] != Running {
		f.t.Fatalf("node %d is %v, want running", id, f.status[id])
	}
	f.status[id] = s
	running := 0
	for _, st := range f.status {
		if st == Running {
			running++
		}
	}
	if 2*running <= len(f.status) {
		f.t.Fatalf("only %d of %d nodes run: %v", running, len(f.status), f.status)
	}
	return nil
}

func (f *fakeCluster) Kill(id int32) error  { return f.down(id, Killed) }
func (f *fakeCluster) Pause(id int32) error { return f.down(id, Paused) }
func (f *fakeCluster) Restart(_ context.Context, id int32) error {
	if err := f.down(id, Stopped); err != nil {
		return err
	}
	f.status[id] = Running
	return nil
}

func (f *fakeCluster) net(format string, args ...any) error {
	f.cuts++
	if f.cuts > 1 {
		f.t.Fatalf("%d network faults at once", f.cuts)
	}
	f.log = append(f.log, fmt.Sprintf(format, args...))
	return nil
}

func (f *fakeCluster) Isolate(id int32) error { return f.net("isolate %d", id) }
func (f *fakeCluster) PartitionGroups(g [][]int32) error {
	if len(g) != 2 || len(g[0]) < len(g[1]) || len(g[1]) == 0 {
		f.t.Fatalf("partition %v: want a majority and a non-empty minority", g)
	}
	if got := slices.Sorted(slices.Values(slices.Concat(g...))); !slices.Equal(got, f.Nodes()) {
		f.t.Fatalf("partition %v does not cover nodes %v", g, f.Nodes())
	}
	return f.net("partition %v", g)
}
func (f *fakeCluster) Bridge(a, b, c int32) error {
	if a == b || b == c || a == c {
		f.t.Fatalf("bridge %d-%d-%d: nodes not distinct", a, b, c)
	}
	return f.net("bridge %d-%d-%d", a, b, c)
}
func (f *fakeCluster) CutClient(id int32) error { return f.net("client-cut %d", id) }

// TestNemesisKeepsAMajority runs many steps against the fake cluster: never
// a majority down, every fault kind picked, a heal recorded after every set.
func TestNemesisKeepsAMajority(t *testing.T) {
	for _, nodes := range []int{1, 2, 3, 5} {
		t.Run(fmt.Sprintf("nodes=%d", nodes), func(t *testing.T) {
			f := newFakeCluster(t, nodes)
			seen := map[string]int{}
			var last string
			n := newNemesis(f, rand.New(rand.NewPCG(1, uint64(nodes))), func(fault, detail string) {
				seen[fault]++
				last = fault
			})
			memberships := 0
			n.Membership = func(context.Context, *rand.Rand) (string, error) {
				memberships++
				return "add node", nil
			}
			for range 2000 {
				if err := n.Step(t.Context()); err != nil {
					t.Fatal(err)
				}
				if last == FaultNone && f.cuts+len(n.active) != 0 {
					t.Fatalf("none recorded with faults active: %v", n.active)
				}
			}
			want := []string{FaultNone, FaultMembership}
			if nodes >= 2 {
				want = append(want, FaultHeal, FaultIsolate, FaultPartition, FaultClientCut)
			}
			if nodes >= 3 {
				want = append(want, FaultKill, FaultPause, FaultTransfer, FaultBridge)
			}
			for _, fault := range want {
				if seen[fault] == 0 {
					t.Errorf("fault %q never picked in 2000 steps: %v", fault, seen)
				}
			}
			if memberships == 0 || seen[FaultError] != 0 || seen[FaultCrash] != 0 {
				t.Errorf("memberships %d, records %v", memberships, seen)
			}
		})
	}
}
