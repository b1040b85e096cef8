package consumer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"
)

const (
	testSession   = 10 * time.Second
	testRebalance = 20 * time.Second
)

// harness is a Coordinator on a fake clock and a memory store.
type harness struct {
	t     *testing.T
	c     *Coordinator
	clock *fakeClock
	store *MemoryStore
}

func newHarness(t *testing.T, cfg Config) *harness {
	t.Helper()
	h := &harness{t: t, clock: newFakeClock(), store: NewMemoryStore()}
	cfg.Clock = h.clock
	if cfg.InitialRebalanceDelay == 0 {
		cfg.InitialRebalanceDelay = -1
	}
	cfg.MinSessionTimeout = time.Second
	h.c = New(cfg, h.store)
	t.Cleanup(func() {
		h.c.Close()
		if n := h.clock.pending(); n != 0 {
			t.Errorf("%d timers armed after Close", n)
		}
	})
	return h
}

// joinCall is a Join whose answer may come later.
type joinCall struct {
	res   JoinResult
	calls int
}

func (j *joinCall) done() bool { return j.calls > 0 }

func consumerProtocols(names ...string) []Protocol {
	var ps []Protocol
	for _, n := range names {
		ps = append(ps, Protocol{Name: n, Metadata: []byte("meta-" + n)})
	}
	return ps
}

func (h *harness) join(group, member, instance string, protocols ...string) *joinCall {
	h.t.Helper()
	if len(protocols) == 0 {
		protocols = []string{"range"}
	}
	j := &joinCall{}
	h.c.Join(JoinRequest{
		Group: group, MemberID: member, InstanceID: instance, ClientID: "client",
		SessionTimeout: testSession, RebalanceTimeout: testRebalance,
		ProtocolType: ConsumerProtocolType, Protocols: consumerProtocols(protocols...),
	}, func(r JoinResult) {
		j.res = r
		j.calls++
		if j.calls > 1 {
			h.t.Errorf("join of %q answered twice", member)
		}
	})
	return j
}

// joinNow joins and requires an immediate successful answer.
func (h *harness) joinNow(group, member string) JoinResult {
	h.t.Helper()
	j := h.join(group, member, "")
	if !j.done() || j.res.Err != nil {
		h.t.Fatalf("join %q: done %v, err %v", member, j.done(), j.res.Err)
	}
	return j.res
}

type syncCall struct {
	res   SyncResult
	calls int
}

func (h *harness) sync(group, member string, gen int32, assign map[string][]byte) *syncCall {
	s := &syncCall{}
	h.c.Sync(SyncRequest{Group: group, MemberID: member, Generation: gen, Assignments: assign}, func(r SyncResult) {
		s.res = r
		s.calls++
		if s.calls > 1 {
			h.t.Errorf("sync of %q answered twice", member)
		}
	})
	return s
}

func (h *harness) heartbeat(group, member string, gen int32) error {
	return h.c.Heartbeat(HeartbeatRequest{Group: group, MemberID: member, Generation: gen})
}

func (h *harness) state(group string) State {
	h.t.Helper()
	d, err := h.c.Describe(group)
	if err != nil {
		h.t.Fatal(err)
	}
	return d.State
}

// stable forms a Stable group of n dynamic members and returns their ids,
// oldest (the leader) first, and the generation.
func (h *harness) stable(group string, n int) ([]string, int32) {
	h.t.Helper()
	var ids []string
	var joins []*joinCall
	for i := range n {
		j := h.join(group, "", "")
		if i == 0 && !j.done() {
			h.t.Fatal("first join did not complete at once")
		}
		ids = append(ids, j.res.MemberID)
		joins = append(joins, j)
		// Everyone rejoins, as clients do on REBALANCE_IN_PROGRESS.
		for k := 0; k < i; k++ {
			if err := h.heartbeat(group, ids[k], joins[k].res.Generation); !errors.Is(err, ErrRebalanceInProgress) {
				h.t.Fatalf("heartbeat of %d during rebalance: %v", k, err)
			}
			joins[k] = h.join(group, ids[k], "")
		}
		// The rebalance completed: every member knows its id.
		for k := range joins {
			ids[k] = joins[k].res.MemberID
		}
	}
	gen := joins[0].res.Generation
	for i, j := range joins {
		if !j.done() || j.res.Err != nil || j.res.Generation != gen {
			h.t.Fatalf("member %d: done %v err %v gen %d, want %d", i, j.done(), j.res.Err, j.res.Generation, gen)
		}
	}
	if joins[0].res.Leader != ids[0] || len(joins[0].res.Members) != n {
		h.t.Fatalf("leader %q with %d members, want %q with %d", joins[0].res.Leader, len(joins[0].res.Members), ids[0], n)
	}
	assign := map[string][]byte{}
	for _, id := range ids {
		assign[id] = []byte("assign-" + id)
	}
	var syncs []*syncCall
	for i := len(ids) - 1; i >= 1; i-- { // followers first: they wait for the leader
		syncs = append(syncs, h.sync(group, ids[i], gen, nil))
	}
	syncs = append(syncs, h.sync(group, ids[0], gen, assign))
	for _, s := range syncs {
		if s.calls != 1 || s.res.Err != nil {
			h.t.Fatalf("sync: calls %d err %v", s.calls, s.res.Err)
		}
	}
	if st := h.state(group); st != Stable {
		h.t.Fatalf("state %v, want Stable", st)
	}
	return ids, gen
}

func TestMemberIDRequired(t *testing.T) {
	h := newHarness(t, Config{})
	j := &joinCall{}
	h.c.Join(JoinRequest{
		Group: "g", ClientID: "c", SessionTimeout: testSession, RebalanceTimeout: testRebalance,
		ProtocolType: "consumer", Protocols: consumerProtocols("range"), RequireMemberID: true,
	}, func(r JoinResult) { j.res = r; j.calls++ })
	if !errors.Is(j.res.Err, ErrMemberIDRequired) || j.res.MemberID == "" {
		t.Fatalf("first join: %+v", j.res)
	}
	res := h.joinNow("g", j.res.MemberID)
	if res.Generation != 1 || res.Leader != j.res.MemberID || res.Protocol != "range" || len(res.Members) != 1 {
		t.Fatalf("second join: %+v", res)
	}

	// An id handed out and never used expires after the session timeout.
	j2 := &joinCall{}
	h.c.Join(JoinRequest{
		Group: "g2", ClientID: "c", SessionTimeout: testSession, RebalanceTimeout: testRebalance,
		ProtocolType: "consumer", Protocols: consumerProtocols("range"), RequireMemberID: true,
	}, func(r JoinResult) { j2.res = r; j2.calls++ })
	h.clock.Advance(testSession)
	if j := h.join("g2", j2.res.MemberID, ""); !errors.Is(j.res.Err, ErrUnknownMemberID) {
		t.Fatalf("join with an expired member id: %v", j.res.Err)
	}
}

func TestJoinValidation(t *testing.T) {
	h := newHarness(t, Config{MaxGroupSize: 2})
	h.stable("full", 2)
	for _, tc := range []struct {
		name string
		req  JoinRequest
		want error
	}{
		{"session too short", JoinRequest{Group: "g", SessionTimeout: time.Millisecond, ProtocolType: "consumer", Protocols: consumerProtocols("range")}, ErrInvalidSessionTimeout},
		{"session too long", JoinRequest{Group: "g", SessionTimeout: time.Hour, ProtocolType: "consumer", Protocols: consumerProtocols("range")}, ErrInvalidSessionTimeout},
		{"no protocol type", JoinRequest{Group: "g", SessionTimeout: testSession, Protocols: consumerProtocols("range")}, ErrInconsistentProtocol},
		{"no protocols", JoinRequest{Group: "g", SessionTimeout: testSession, ProtocolType: "consumer"}, ErrInconsistentProtocol},
		{"other protocol type", JoinRequest{Group: "full", SessionTimeout: testSession, ProtocolType: "connect", Protocols: consumerProtocols("range")}, ErrInconsistentProtocol},
		{"no common protocol", JoinRequest{Group: "full", SessionTimeout: testSession, ProtocolType: "consumer", Protocols: consumerProtocols("sticky")}, ErrInconsistentProtocol},
		{"group full", JoinRequest{Group: "full", SessionTimeout: testSession, ProtocolType: "consumer", Protocols: consumerProtocols("range")}, ErrGroupMaxSize},
		{"unknown member", JoinRequest{Group: "full", MemberID: "nobody", SessionTimeout: testSession, ProtocolType: "consumer", Protocols: consumerProtocols("range")}, ErrUnknownMemberID},
		{"unknown group", JoinRequest{Group: "none", MemberID: "nobody", SessionTimeout: testSession, ProtocolType: "consumer", Protocols: consumerProtocols("range")}, ErrUnknownMemberID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got error = errors.New("not answered")
			h.c.Join(tc.req, func(r JoinResult) { got = r.Err })
			if !errors.Is(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestSelectProtocol(t *testing.T) {
	for _, tc := range []struct {
		members [][]string // the first is the leader
		want    string
	}{
		{[][]string{{"range"}}, "range"},
		{[][]string{{"cooperative-sticky", "range"}, {"cooperative-sticky", "range"}}, "cooperative-sticky"},
		{[][]string{{"range", "roundrobin"}, {"roundrobin", "range"}, {"roundrobin", "range"}}, "roundrobin"},
		{[][]string{{"range", "roundrobin"}, {"roundrobin", "range"}}, "range"}, // a tie: the leader's order
		{[][]string{{"sticky", "range"}, {"range"}}, "range"},                   // the only common one
	} {
		g := newGroup("g")
		for i, ps := range tc.members {
			id := fmt.Sprint("m", i)
			g.members[id] = &member{id: id, protocols: consumerProtocols(ps...), seq: uint64(i)}
		}
		g.leader = "m0"
		if got := g.selectProtocol(); got != tc.want {
			t.Errorf("%v: got %q, want %q", tc.members, got, tc.want)
		}
	}
}

func TestRebalanceOnJoin(t *testing.T) {
	h := newHarness(t, Config{})
	ids, gen := h.stable("g", 1)
	j2 := h.join("g", "", "")
	if j2.done() || h.state("g") != PreparingRebalance {
		t.Fatalf("second member's join answered at once (%v) or state %v", j2.done(), h.state("g"))
	}
	if err := h.heartbeat("g", ids[0], gen); !errors.Is(err, ErrRebalanceInProgress) {
		t.Fatalf("heartbeat: %v", err)
	}
	// A commit during PreparingRebalance is allowed (the member still owns
	// its partitions until it rejoins).
	if err := h.commit(CommitRequest{Group: "g", MemberID: ids[0], Generation: gen}); err != nil {
		t.Fatalf("commit while preparing: %v", err)
	}
	j1 := h.join("g", ids[0], "")
	if !j1.done() || !j2.done() || j1.res.Generation != gen+1 || j2.res.Generation != gen+1 {
		t.Fatalf("rejoin: %+v / %+v", j1.res, j2.res)
	}
	if len(j1.res.Members) != 2 || j2.res.Members != nil || j2.res.Leader != ids[0] {
		t.Fatalf("leader got %d members, follower %d, leader %q", len(j1.res.Members), len(j2.res.Members), j2.res.Leader)
	}
	// CompletingRebalance: commits refused, heartbeats accepted, the
	// follower's sync waits for the leader's.
	if err := h.commit(CommitRequest{Group: "g", MemberID: ids[0], Generation: gen + 1}); !errors.Is(err, ErrRebalanceInProgress) {
		t.Fatalf("commit while completing: %v", err)
	}
	if err := h.heartbeat("g", j2.res.MemberID, gen+1); err != nil {
		t.Fatalf("heartbeat while completing: %v", err)
	}
	if err := h.heartbeat("g", j2.res.MemberID, gen); !errors.Is(err, ErrIllegalGeneration) {
		t.Fatalf("heartbeat of an old generation: %v", err)
	}
	s2 := h.sync("g", j2.res.MemberID, gen+1, nil)
	if s2.calls != 0 {
		t.Fatal("follower sync answered before the leader's")
	}
	s1 := h.sync("g", ids[0], gen+1, map[string][]byte{ids[0]: []byte("a"), j2.res.MemberID: []byte("b")})
	if string(s1.res.Assignment) != "a" || string(s2.res.Assignment) != "b" || s2.res.Protocol != "range" {
		t.Fatalf("assignments %q %q", s1.res.Assignment, s2.res.Assignment)
	}
	// A follower rejoining with the same metadata in Stable changes nothing.
	if j := h.join("g", j2.res.MemberID, ""); !j.done() || j.res.Generation != gen+1 || h.state("g") != Stable {
		t.Fatalf("follower rejoin: %+v, state %v", j.res, h.state("g"))
	}
	// Its SyncGroup in Stable returns the current assignment at once.
	if s := h.sync("g", j2.res.MemberID, gen+1, nil); s.calls != 1 || string(s.res.Assignment) != "b" {
		t.Fatalf("sync in Stable: %+v", s.res)
	}
	// The leader rejoining forces a rebalance.
	if j := h.join("g", ids[0], ""); j.done() || h.state("g") != PreparingRebalance {
		t.Fatalf("leader rejoin: done %v state %v", j.done(), h.state("g"))
	}
}

func TestSessionExpiry(t *testing.T) {
	h := newHarness(t, Config{})
	ids, gen := h.stable("g", 3)
	// Members 0 and 1 heartbeat; member 2 is killed.
	for range 4 {
		h.clock.Advance(testSession / 3)
		for _, id := range ids[:2] {
			if err := h.heartbeat("g", id, gen); err != nil && !errors.Is(err, ErrRebalanceInProgress) {
				t.Fatalf("heartbeat %s: %v", id, err)
			}
		}
	}
	if st := h.state("g"); st != PreparingRebalance {
		t.Fatalf("after the session timeout: %v", st)
	}
	if err := h.heartbeat("g", ids[2], gen); !errors.Is(err, ErrUnknownMemberID) {
		t.Fatalf("expired member's heartbeat: %v", err)
	}
	j0, j1 := h.join("g", ids[0], ""), h.join("g", ids[1], "")
	if !j0.done() || !j1.done() || len(j0.res.Members) != 2 || j0.res.Generation != gen+1 {
		t.Fatalf("rejoin: %+v", j0.res)
	}
}

func TestRebalanceTimeoutRemovesLaggard(t *testing.T) {
	h := newHarness(t, Config{})
	ids, gen := h.stable("g", 2)
	j3 := h.join("g", "", "")
	j0 := h.join("g", ids[0], "")
	// Member 1 heartbeats but never rejoins.
	for h.clock.Now().Before(time.Unix(1_700_000_000, 0).Add(testRebalance)) && !j0.done() {
		h.clock.Advance(time.Second)
		if err := h.heartbeat("g", ids[1], gen); err != nil && !errors.Is(err, ErrRebalanceInProgress) && !errors.Is(err, ErrUnknownMemberID) {
			t.Fatal(err)
		}
	}
	if !j0.done() || !j3.done() || len(j0.res.Members) != 2 {
		t.Fatalf("after the rebalance timeout: done %v %v, %d members", j0.done(), j3.done(), len(j0.res.Members))
	}
	if err := h.heartbeat("g", ids[1], gen); !errors.Is(err, ErrUnknownMemberID) {
		t.Fatalf("laggard's heartbeat: %v", err)
	}
}

func TestSyncTimeoutRemovesMember(t *testing.T) {
	h := newHarness(t, Config{})
	_, gen := h.stable("g", 1)
	j2 := h.join("g", "", "")
	d, _ := h.c.Describe("g")
	j1 := h.join("g", d.Members[0].MemberID, "")
	if !j1.done() || !j2.done() {
		t.Fatal("join did not complete")
	}
	// The leader syncs; the follower never does.
	h.sync("g", j1.res.MemberID, gen+1, map[string][]byte{})
	for range 4 {
		h.clock.Advance(testRebalance / 4)
		if err := h.heartbeat("g", j1.res.MemberID, gen+1); err != nil && !errors.Is(err, ErrRebalanceInProgress) {
			t.Fatal(err)
		}
	}
	d, _ = h.c.Describe("g")
	if d.State != PreparingRebalance || len(d.Members) != 1 {
		t.Fatalf("after the sync timeout: %v with %d members", d.State, len(d.Members))
	}
}

func TestInitialRebalanceDelay(t *testing.T) {
	h := newHarness(t, Config{InitialRebalanceDelay: 3 * time.Second})
	j1 := h.join("g", "", "")
	h.clock.Advance(2 * time.Second)
	j2 := h.join("g", "", "")
	h.clock.Advance(2 * time.Second) // the delay runs out, but a member came: extended
	if j1.done() {
		t.Fatal("join completed while members were still arriving")
	}
	h.clock.Advance(3 * time.Second)
	if !j1.done() || !j2.done() || j1.res.Generation != 1 || len(j1.res.Members) != 2 {
		t.Fatalf("joins: %+v %+v", j1.res, j2.res)
	}
}

func TestStaticMembership(t *testing.T) {
	h := newHarness(t, Config{})
	a := h.join("g", "", "instance-a")
	if !a.done() || a.res.Err != nil {
		t.Fatalf("static join: %+v", a.res)
	}
	b := h.join("g", "", "instance-b")
	a = h.join("g", a.res.MemberID, "instance-a")
	gen := a.res.Generation
	h.sync("g", b.res.MemberID, gen, nil)
	h.sync("g", a.res.MemberID, gen, map[string][]byte{a.res.MemberID: []byte("A"), b.res.MemberID: []byte("B")})

	// Instance b restarts: a new member id, no rebalance, same assignment.
	b2 := h.join("g", "", "instance-b")
	if !b2.done() || b2.res.Err != nil || b2.res.MemberID == b.res.MemberID || b2.res.Generation != gen || h.state("g") != Stable {
		t.Fatalf("static rejoin: %+v state %v", b2.res, h.state("g"))
	}
	if s := h.sync("g", b2.res.MemberID, gen, nil); string(s.res.Assignment) != "B" {
		t.Fatalf("static member's assignment %q", s.res.Assignment)
	}
	// The old member id is fenced.
	err := h.c.Heartbeat(HeartbeatRequest{Group: "g", MemberID: b.res.MemberID, InstanceID: "instance-b", Generation: gen})
	if !errors.Is(err, ErrFencedInstanceID) {
		t.Fatalf("old member's heartbeat: %v", err)
	}
	if err := h.commit(CommitRequest{Group: "g", MemberID: b.res.MemberID, InstanceID: "instance-b", Generation: gen}); !errors.Is(err, ErrFencedInstanceID) {
		t.Fatalf("old member's commit: %v", err)
	}
	// Leave by instance id (v3+), one unknown.
	errs, err := h.c.Leave("g", []LeavingMember{{InstanceID: "instance-b"}, {InstanceID: "instance-z"}, {MemberID: "x", InstanceID: "instance-a"}})
	if err != nil || errs[0] != nil || !errors.Is(errs[1], ErrUnknownMemberID) || !errors.Is(errs[2], ErrFencedInstanceID) {
		t.Fatalf("leave: %v %v", errs, err)
	}
	if st := h.state("g"); st != PreparingRebalance {
		t.Fatalf("after a leave: %v", st)
	}
}

func TestLeave(t *testing.T) {
	h := newHarness(t, Config{})
	ids, _ := h.stable("g", 2)
	errs, err := h.c.Leave("g", []LeavingMember{{MemberID: ids[1]}, {MemberID: "nobody"}})
	if err != nil || errs[0] != nil || !errors.Is(errs[1], ErrUnknownMemberID) {
		t.Fatalf("leave: %v %v", errs, err)
	}
	j := h.join("g", ids[0], "")
	if !j.done() || len(j.res.Members) != 1 {
		t.Fatalf("rejoin after leave: %+v", j.res)
	}
	h.sync("g", ids[0], j.res.Generation, nil)
	if errs, _ := h.c.Leave("g", []LeavingMember{{MemberID: ids[0]}}); errs[0] != nil {
		t.Fatal(errs[0])
	}
	if st := h.state("g"); st != Dead {
		t.Fatalf("group with no members and no offsets: %v, want Dead", st)
	}
}

func (h *harness) commit(req CommitRequest) error {
	h.t.Helper()
	if req.Offsets == nil {
		req.Offsets = map[TopicPartition]Offset{{"t", 0}: {Offset: 1}}
	}
	ch := make(chan error, 1)
	h.c.Commit(context.Background(), req, func(err error) { ch <- err })
	select {
	case err := <-ch:
		return err
	case <-time.After(10 * time.Second):
		h.t.Fatal("commit not answered")
		return nil
	}
}

func TestCommitRules(t *testing.T) {
	h := newHarness(t, Config{MaxMetadataBytes: 10})
	ids, gen := h.stable("live", 1)
	for _, tc := range []struct {
		name string
		req  CommitRequest
		want error
	}{
		{"outside, unknown group", CommitRequest{Group: "new", Generation: -1}, nil},
		{"outside, live group", CommitRequest{Group: "live", Generation: -1}, ErrUnknownMemberID},
		{"member", CommitRequest{Group: "live", MemberID: ids[0], Generation: gen}, nil},
		{"member, old generation", CommitRequest{Group: "live", MemberID: ids[0], Generation: gen - 1}, ErrIllegalGeneration},
		{"unknown member", CommitRequest{Group: "live", MemberID: "x", Generation: gen}, ErrUnknownMemberID},
		{"member of an unknown group", CommitRequest{Group: "gone", MemberID: "x", Generation: 3}, ErrIllegalGeneration},
		{"metadata too large", CommitRequest{Group: "new", Generation: -1, Offsets: map[TopicPartition]Offset{{"t", 0}: {Metadata: "01234567890"}}}, ErrMetadataTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := h.commit(tc.req); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	if o := h.store.Offsets("new")[TopicPartition{"t", 0}]; o.Offset != 1 || o.CommitTimeMs != h.clock.Now().UnixMilli() {
		t.Fatalf("stored %+v", o)
	}
	// Once the member leaves, the group is Empty and commits from outside
	// are accepted again.
	h.c.Leave("live", []LeavingMember{{MemberID: ids[0]}})
	if err := h.commit(CommitRequest{Group: "live", Generation: -1}); err != nil {
		t.Fatal(err)
	}
}

func TestAdmin(t *testing.T) {
	h := newHarness(t, Config{})
	ids, gen := h.stable("live", 1)
	if err := h.commit(CommitRequest{Group: "live", MemberID: ids[0], Generation: gen, Offsets: map[TopicPartition]Offset{{"t", 0}: {Offset: 5}, {"u", 0}: {Offset: 6}}}); err != nil {
		t.Fatal(err)
	}
	if err := h.commit(CommitRequest{Group: "idle", Generation: -1}); err != nil {
		t.Fatal(err)
	}
	ls, err := h.c.List()
	if err != nil {
		t.Fatal(err)
	}
	want := []GroupListing{{"idle", Empty, ""}, {"live", Stable, "consumer"}}
	if !slices.Equal(ls, want) {
		t.Fatalf("list %v, want %v", ls, want)
	}
	d, _ := h.c.Describe("live")
	if d.Protocol != "range" || len(d.Members) != 1 || string(d.Members[0].Assignment) != "assign-"+ids[0] {
		t.Fatalf("describe %+v", d)
	}
	if err := h.c.Delete(context.Background(), "live"); !errors.Is(err, ErrNonEmptyGroup) {
		t.Fatalf("delete live: %v", err)
	}
	if err := h.c.Delete(context.Background(), "none"); !errors.Is(err, ErrGroupNotFound) {
		t.Fatalf("delete unknown: %v", err)
	}
	if err := h.c.Delete(context.Background(), "idle"); err != nil || h.state("idle") != Dead {
		t.Fatalf("delete idle: %v, %v", err, h.state("idle"))
	}
	// OffsetDelete: the member's metadata here is no consumer
	// subscription, so every topic counts as subscribed.
	refused, err := h.c.DeleteOffsets(context.Background(), "live", []TopicPartition{{"t", 0}})
	if err != nil || !errors.Is(refused[TopicPartition{"t", 0}], ErrSubscribedToTopic) {
		t.Fatalf("offset delete: %v %v", refused, err)
	}
	h.c.Leave("live", []LeavingMember{{MemberID: ids[0]}})
	refused, err = h.c.DeleteOffsets(context.Background(), "live", []TopicPartition{{"t", 0}})
	if err != nil || len(refused) != 0 || len(h.store.Offsets("live")) != 1 {
		t.Fatalf("offset delete: %v %v, left %v", refused, err, h.store.Offsets("live"))
	}
}

func TestCloseAnswersWaiters(t *testing.T) {
	h := newHarness(t, Config{})
	ids, _ := h.stable("g", 1)
	j := h.join("g", "", "")
	h.c.Close()
	if !j.done() || !errors.Is(j.res.Err, ErrNotCoordinator) {
		t.Fatalf("waiting join after Close: %+v", j.res)
	}
	if err := h.heartbeat("g", ids[0], 1); !errors.Is(err, ErrNotCoordinator) {
		t.Fatalf("heartbeat after Close: %v", err)
	}
	if err := h.commit(CommitRequest{Group: "x", Generation: -1}); !errors.Is(err, ErrNotCoordinator) {
		t.Fatalf("commit after Close: %v", err)
	}
}
