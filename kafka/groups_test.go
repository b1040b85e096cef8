package kafka

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/cairnlog/cairn/consumer"
	"github.com/cairnlog/cairn/internal/broadcast"
)

// checkedStore is the test broker's OffsetStore: a MemoryStore that fails
// the test if a commit of a group in monotonic moves a partition back.
type checkedStore struct {
	*consumer.MemoryStore
	t  testing.TB
	mu struct {
		sync.Mutex
		monotonic map[string]bool
		last      map[string]map[consumer.TopicPartition]int64
	}
}

func newCheckedStore(t testing.TB) *checkedStore {
	s := &checkedStore{MemoryStore: consumer.NewMemoryStore(), t: t}
	s.mu.monotonic = map[string]bool{}
	s.mu.last = map[string]map[consumer.TopicPartition]int64{}
	return s
}

// checkMonotonic makes commits of group that decrease an offset an error.
func (s *checkedStore) checkMonotonic(group string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.monotonic[group] = true
	s.mu.last[group] = map[consumer.TopicPartition]int64{}
}

func (s *checkedStore) Commit(ctx context.Context, commits []consumer.GroupCommit) error {
	s.mu.Lock()
	for _, gc := range commits {
		if !s.mu.monotonic[gc.Group] {
			continue
		}
		last := s.mu.last[gc.Group]
		for tp, o := range gc.Offsets {
			if prev, ok := last[tp]; ok && o.Offset < prev {
				s.t.Errorf("group %s: commit of %s-%d went back from %d to %d", gc.Group, tp.Topic, tp.Partition, prev, o.Offset)
			}
			last[tp] = o.Offset
		}
	}
	s.mu.Unlock()
	return s.MemoryStore.Commit(ctx, commits)
}

// killSwitch is a dialer whose connections can all be cut at once, and no
// new ones made: a client process killed, as the broker sees it.
type killSwitch struct {
	mu    sync.Mutex
	conns []net.Conn
	dead  bool
}

func (k *killSwitch) dial(ctx context.Context, network, host string) (net.Conn, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.dead {
		return nil, errors.New("killed")
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, network, host)
	if err == nil {
		k.conns = append(k.conns, c)
	}
	return c, err
}

func (k *killSwitch) kill() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.dead = true
	for _, c := range k.conns {
		c.Close()
	}
}

// groupRecords tracks what a test's group members consumed and own.
type groupRecords struct {
	t      testing.TB
	topic  string
	parts  int
	signal *broadcast.Signal
	mu     struct {
		sync.Mutex
		seen    map[int]int                // record index -> times consumed
		owned   map[string]map[int32]bool  // member name -> partitions
		assigns map[string]int             // member name -> assignments received
		first   map[string]map[int32]int64 // member name -> first offset consumed per partition
		errors  []error
	}
}

func newGroupRecords(t testing.TB, topic string, parts int) *groupRecords {
	g := &groupRecords{t: t, topic: topic, parts: parts, signal: broadcast.New()}
	g.mu.seen = map[int]int{}
	g.mu.owned = map[string]map[int32]bool{}
	g.mu.assigns = map[string]int{}
	g.mu.first = map[string]map[int32]int64{}
	return g
}

func (g *groupRecords) record(member string, r *kgo.Record) {
	i, err := strconv.Atoi(string(r.Headers[0].Value))
	g.mu.Lock()
	switch {
	case err != nil:
		g.mu.errors = append(g.mu.errors, fmt.Errorf("record at %d-%d: header %q", r.Partition, r.Offset, r.Headers[0].Value))
	case int32(i%g.parts) != r.Partition || int64(i/g.parts) != r.Offset:
		g.mu.errors = append(g.mu.errors, fmt.Errorf("record %d at %d-%d", i, r.Partition, r.Offset))
	}
	g.mu.seen[i]++
	if g.mu.first[member] == nil {
		g.mu.first[member] = map[int32]int64{}
	}
	if _, ok := g.mu.first[member][r.Partition]; !ok {
		g.mu.first[member][r.Partition] = r.Offset
	}
	g.mu.Unlock()
	g.signal.Notify()
}

func (g *groupRecords) own(member string, parts map[string][]int32, owned bool) {
	g.mu.Lock()
	if g.mu.owned[member] == nil {
		g.mu.owned[member] = map[int32]bool{}
	}
	if owned {
		g.mu.assigns[member]++
	}
	for _, p := range parts[g.topic] {
		if owned {
			g.mu.owned[member][p] = true
		} else {
			delete(g.mu.owned[member], p)
		}
	}
	g.mu.Unlock()
	g.signal.Notify()
}

// waitFor waits until cond (called with g.mu held) holds.
func (g *groupRecords) waitFor(what string, cond func() bool) {
	g.t.Helper()
	deadline := time.After(testDeadline)
	for {
		ch := g.signal.C()
		g.mu.Lock()
		ok, errs := cond(), g.mu.errors
		g.mu.Unlock()
		if len(errs) > 0 {
			g.t.Fatal(errs)
		}
		if ok {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			g.mu.Lock()
			defer g.mu.Unlock()
			g.t.Fatalf("timed out waiting for %s; owned %v, %d records seen", what, g.mu.owned, len(g.mu.seen))
		}
	}
}

// seenAll reports (g.mu held) whether records [from, to) were all consumed.
func (g *groupRecords) seenAll(from, to int) bool {
	for i := from; i < to; i++ {
		if g.mu.seen[i] == 0 {
			return false
		}
	}
	return true
}

// ownership reports (g.mu held) each member's partition count.
func (g *groupRecords) ownership(members ...string) []int {
	var n []int
	for _, m := range members {
		n = append(n, len(g.mu.owned[m]))
	}
	return n
}

// groupMember is a kgo group consumer recording into g until closed.
type groupMember struct {
	name   string
	cl     *kgo.Client
	ks     *killSwitch
	cancel context.CancelFunc
	done   chan struct{}
}

func startMember(t testing.TB, b *testBroker, g *groupRecords, group, name string, opts ...kgo.Opt) *groupMember {
	t.Helper()
	m := &groupMember{name: name, ks: &killSwitch{}, done: make(chan struct{})}
	opts = append([]kgo.Opt{
		kgo.SeedBrokers(b.addr), kgo.ClientID("kgo-" + name), kgo.Dialer(m.ks.dial),
		kgo.ConsumerGroup(group), kgo.ConsumeTopics(g.topic),
		kgo.SessionTimeout(time.Second), kgo.HeartbeatInterval(200 * time.Millisecond), kgo.RebalanceTimeout(10 * time.Second),
		kgo.FetchMaxWait(200 * time.Millisecond), kgo.AutoCommitInterval(200 * time.Millisecond),
		kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond }),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, p map[string][]int32) { g.own(name, p, true) }),
		kgo.OnPartitionsRevoked(func(ctx context.Context, cl *kgo.Client, p map[string][]int32) {
			// Overriding the default, which commits: so do we.
			if err := cl.CommitUncommittedOffsets(ctx); err != nil {
				t.Logf("%s: commit on revoke: %v", name, err)
			}
			g.own(name, p, false)
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, p map[string][]int32) { g.own(name, p, false) }),
	}, opts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	m.cl = cl
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	go func() {
		defer close(m.done)
		for {
			fs := cl.PollFetches(ctx)
			if ctx.Err() != nil || fs.IsClientClosed() {
				return
			}
			fs.EachRecord(func(r *kgo.Record) { g.record(name, r) })
		}
	}()
	t.Cleanup(m.stop)
	return m
}

// stop commits what was consumed and leaves the group.
func (m *groupMember) stop() {
	select {
	case <-m.done:
		return
	default:
	}
	m.cancel()
	<-m.done
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = m.cl.CommitUncommittedOffsets(ctx)
	m.cl.Close()
}

// kill cuts the member off without a LeaveGroup, as a crash would.
func (m *groupMember) kill() {
	m.ks.kill()
	m.cancel()
	<-m.done
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = m.cl.LeaveGroupContext(ctx) // cannot reach the broker
	m.cl.Close()
}

func TestKgoGroup(t *testing.T) {
	b := startBroker(t, Config{})
	for _, tc := range []struct {
		name     string
		balancer kgo.GroupBalancer
	}{
		{"cooperative-sticky", kgo.CooperativeStickyBalancer()},
		{"range", kgo.RangeBalancer()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const parts, perPhase = 12, 600
			topic, group := "grp-"+tc.name, "group-"+tc.name
			b.createTopic(topic, parts, nil)
			b.offsets.checkMonotonic(group)
			g := newGroupRecords(t, topic, parts)
			prod := newKgo(t, b, kgo.RecordPartitioner(kgo.ManualPartitioner()))

			// Three members share the twelve partitions, four each.
			names := []string{"m0", "m1", "m2"}
			var members []*groupMember
			for _, n := range names {
				members = append(members, startMember(t, b, g, group, n, kgo.Balancers(tc.balancer)))
			}
			g.waitFor("4 partitions each", func() bool {
				n := g.ownership(names...)
				return n[0] == 4 && n[1] == 4 && n[2] == 4
			})
			produceAll(t, prod, topic, parts, perPhase)
			g.waitFor("phase 1 consumed", func() bool { return g.seenAll(0, perPhase) })

			// One is killed: the others take its partitions after the
			// session timeout.
			killed := time.Now()
			members[2].kill()
			g.waitFor("6 partitions each", func() bool {
				n := g.ownership(names[:2]...)
				return n[0] == 6 && n[1] == 6
			})
			t.Logf("%s: 3 -> 2 members in %v (session timeout 1 s)", tc.name, time.Since(killed).Round(time.Millisecond))
			produceAllFrom(t, prod, topic, parts, perPhase, 2*perPhase)
			g.waitFor("phase 2 consumed", func() bool { return g.seenAll(0, 2*perPhase) })

			// The group stops (committing) and restarts: it resumes at
			// the committed offsets, so it sees phase 3 only.
			members[0].stop()
			members[1].stop()
			for p := range int32(parts) {
				o := b.offsets.Offsets(group)[consumer.TopicPartition{Topic: topic, Partition: p}]
				if want := int64(2 * perPhase / parts); o.Offset != want {
					t.Fatalf("partition %d: committed %d, want %d", p, o.Offset, want)
				}
			}
			produceAllFrom(t, prod, topic, parts, 2*perPhase, 3*perPhase)
			startMember(t, b, g, group, "m3", kgo.Balancers(tc.balancer))
			g.waitFor("phase 3 consumed", func() bool { return g.seenAll(0, 3*perPhase) })
			g.mu.Lock()
			defer g.mu.Unlock()
			for p := range int32(parts) {
				if first, want := g.mu.first["m3"][p], int64(2*perPhase/parts); first != want {
					t.Errorf("restarted member began partition %d at %d, want %d", p, first, want)
				}
			}
		})
	}
}

// produceAllFrom produces records [from, to) of a test topic.
func produceAllFrom(t testing.TB, cl *kgo.Client, topic string, parts, from, to int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testDeadline)
	defer cancel()
	var rs []*kgo.Record
	for i := from; i < to; i++ {
		rs = append(rs, testRecord(topic, parts, i))
	}
	if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

// TestOffsetCommitRefusedEveryPartition: a refused commit of many partitions
// answers the refusal for every one of them. The response once recorded the
// outcome through pointers into a slice that grew, so partitions before its
// last growth answered success for a commit that wrote nothing.
func TestOffsetCommitRefusedEveryPartition(t *testing.T) {
	b := startBroker(t, Config{})
	const parts = 9
	b.createTopic("refused", parts, nil)
	cl := newKgo(t, b)
	ctx, cancel := context.WithTimeout(t.Context(), testDeadline)
	defer cancel()
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Group, req.MemberID, req.Generation = "refused-group", "no-such-member", 7
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic = "refused"
	for p := range int32(parts) {
		rp := kmsg.NewOffsetCommitRequestTopicPartition()
		rp.Partition, rp.Offset = p, 5
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range resp.Topics[0].Partitions {
		if p.ErrorCode == 0 {
			t.Errorf("partition %d: commit by an unknown member answered success", p.Partition)
		}
	}
	if n := len(resp.Topics[0].Partitions); n != parts {
		t.Errorf("%d partitions answered, want %d", n, parts)
	}
}
