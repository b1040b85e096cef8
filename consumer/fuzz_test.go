package consumer

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func FuzzSubscribedTopics(f *testing.F) {
	for v := int16(0); v <= 3; v++ {
		m := kmsg.ConsumerMemberMetadata{Version: v, Topics: []string{"a", "bb"}, UserData: []byte("x")}
		f.Add(m.AppendTo(nil))
	}
	f.Add([]byte{})
	f.Add([]byte{0, 0, 0x7f, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		topics, err := SubscribedTopics(b)
		if err != nil {
			return
		}
		// What decodes re-encodes to the same topics.
		m := kmsg.ConsumerMemberMetadata{Topics: topics}
		again, err := SubscribedTopics(m.AppendTo(nil))
		if err != nil || !slices.Equal(again, topics) {
			t.Fatalf("round trip: %q -> %q, %v", topics, again, err)
		}
	})
}

// fuzzClient is one client of FuzzGroup: what it believes of its membership.
type fuzzClient struct {
	instance   string
	member     string
	generation int32
	leader     bool
	joins      []*int // answer counts of its JoinGroup calls
	syncs      []*int
}

// FuzzGroup drives one group through a sequence of operations decoded from
// the input (joins, syncs, heartbeats, leaves, commits, time passing) from
// four clients, two of them static, and checks the group's invariants after
// each, and that every JoinGroup and SyncGroup is answered exactly once by
// the end.
func FuzzGroup(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 1, 0, 1, 0, 2, 0, 5, 50, 0, 2, 1, 2, 1, 1})
	f.Add([]byte{0, 2, 1, 0, 3, 2, 1, 2, 1, 3, 6, 2, 5, 200, 3, 0, 4, 1})
	f.Add([]byte{0, 1, 0, 5, 10, 0, 0, 0, 5, 255, 5, 255, 1, 1, 7})
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) > 400 {
			ops = ops[:400]
		}
		clock := newFakeClock()
		store := NewMemoryStore()
		c := New(Config{Clock: clock, MinSessionTimeout: time.Second, InitialRebalanceDelay: 2 * time.Second, CommitQueue: 1024}, store)
		clients := []*fuzzClient{{}, {}, {instance: "s2"}, {instance: "s3"}}
		protocols := [][]Protocol{
			consumerProtocols("range"),
			consumerProtocols("range", "roundrobin"),
			consumerProtocols("roundrobin", "range"),
		}
		next := func() byte {
			if len(ops) == 0 {
				return 0
			}
			b := ops[0]
			ops = ops[1:]
			return b
		}
		var last groupGen
		for len(ops) > 0 {
			op, cl := next()%8, clients[next()%4]
			switch op {
			case 0, 6:
				if op == 6 {
					cl.member = ""
				}
				n := new(int)
				cl.joins = append(cl.joins, n)
				arg := next()
				c.Join(JoinRequest{
					Group: "g", MemberID: cl.member, InstanceID: cl.instance, ClientID: "c",
					SessionTimeout: 3 * time.Second, RebalanceTimeout: 5 * time.Second,
					ProtocolType: ConsumerProtocolType, Protocols: protocols[int(arg%3)], RequireMemberID: arg&4 != 0,
				}, func(r JoinResult) {
					*n++
					if r.MemberID != "" {
						cl.member = r.MemberID
					}
					if r.Err == nil {
						cl.generation, cl.leader = r.Generation, r.Leader == r.MemberID
					}
				})
			case 1:
				n := new(int)
				cl.syncs = append(cl.syncs, n)
				var assign map[string][]byte
				if cl.leader {
					assign = map[string][]byte{cl.member: []byte("a")}
				}
				c.Sync(SyncRequest{Group: "g", MemberID: cl.member, InstanceID: cl.instance, Generation: cl.generation, Assignments: assign},
					func(SyncResult) { *n++ })
			case 2:
				_ = c.Heartbeat(HeartbeatRequest{Group: "g", MemberID: cl.member, InstanceID: cl.instance, Generation: cl.generation})
			case 3:
				_, _ = c.Leave("g", []LeavingMember{{MemberID: cl.member, InstanceID: cl.instance}})
			case 4:
				done := make(chan error, 1)
				c.Commit(context.Background(), CommitRequest{
					Group: "g", MemberID: cl.member, InstanceID: cl.instance, Generation: cl.generation,
					Offsets: map[TopicPartition]Offset{{"t", 0}: {Offset: int64(next())}},
				}, func(err error) { done <- err })
				<-done
			case 5:
				clock.Advance(time.Duration(next()) * 50 * time.Millisecond)
			case 7:
				if _, err := c.Describe("g"); err != nil {
					t.Fatal(err)
				}
			}
			last = checkGroup(t, c, last)
		}
		c.Close()
		if n := clock.pending(); n != 0 {
			t.Fatalf("%d timers armed after Close", n)
		}
		for i, cl := range clients {
			for j, n := range cl.joins {
				if *n != 1 {
					t.Fatalf("client %d join %d answered %d times", i, j, *n)
				}
			}
			for j, n := range cl.syncs {
				if *n != 1 {
					t.Fatalf("client %d sync %d answered %d times", i, j, *n)
				}
			}
		}
	})
}

// groupGen is a group (an incarnation: an emptied group is forgotten, and
// a new one starts at generation 0) and its generation.
type groupGen struct {
	g   *group
	gen int32
}

// checkGroup checks group "g"'s invariants and returns its generation.
func checkGroup(t *testing.T, c *Coordinator, last groupGen) groupGen {
	t.Helper()
	c.mu.Lock()
	g := c.mu.groups["g"]
	c.mu.Unlock()
	if g == nil {
		return groupGen{}
	}
	lastGen := last.gen
	if last.g != g {
		lastGen = 0
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("group %v gen %d, %d members: %s", g.state, g.generation, len(g.members), fmt.Sprintf(format, args...))
	}
	if g.state == Dead {
		return groupGen{}
	}
	if g.generation < lastGen {
		fail("generation went back from %d", lastGen)
	}
	if (g.leader == "") != (len(g.members) == 0) || g.leader != "" && g.members[g.leader] == nil {
		fail("leader %q", g.leader)
	}
	if (g.state == Stable || g.state == CompletingRebalance) && len(g.members) == 0 {
		fail("no members")
	}
	if g.state == Empty && len(g.members) > 0 {
		fail("Empty with members")
	}
	for inst, id := range g.static {
		if m := g.members[id]; m == nil || m.instanceID != inst {
			fail("static %q -> %q", inst, id)
		}
	}
	for id, m := range g.members {
		if m.id != id {
			fail("member %q filed as %q", m.id, id)
		}
		if m.instanceID != "" && g.static[m.instanceID] != id {
			fail("static member %q not mapped", id)
		}
		if m.joinDone != nil && g.state != PreparingRebalance {
			fail("member %q waits in JoinGroup", id)
		}
		if m.syncDone != nil && g.state != CompletingRebalance {
			fail("member %q waits in SyncGroup", id)
		}
		if g.state == Stable && m.assignment == nil {
			fail("member %q has no assignment", id)
		}
		if m.hb == nil {
			fail("member %q has no session timer", id)
		}
	}
	for id := range g.pendingSync {
		if g.members[id] == nil {
			fail("pending sync of %q, not a member", id)
		}
	}
	if g.state == PreparingRebalance && g.joinTimer == nil {
		fail("no rebalance timer")
	}
	return groupGen{g, g.generation}
}
