package kafka

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cairnlog/cairn/consumer"
)

// saramaHandler records the records of a sarama group session.
type saramaHandler struct {
	g *groupRecords
}

func (saramaHandler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (saramaHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }

func (h saramaHandler) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	for m := range c.Messages() {
		h.g.record("sarama", &kgo.Record{Partition: m.Partition, Offset: m.Offset, Headers: []kgo.RecordHeader{{Value: m.Headers[0].Value}}})
		s.MarkMessage(m, "")
	}
	return nil
}

// runSaramaGroup consumes with a sarama group (range) until records [0, n)
// were all seen, then closes it (committing).
func runSaramaGroup(t *testing.T, b *testBroker, g *groupRecords, group string, n int) {
	t.Helper()
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V2_8_0_0
	cfg.ClientID = "sarama-group-test"
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Offsets.AutoCommit.Interval = 100 * time.Millisecond
	cfg.Consumer.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{sarama.NewBalanceStrategyRange()}
	cfg.Consumer.Group.Session.Timeout = time.Second
	cfg.Consumer.Group.Heartbeat.Interval = 200 * time.Millisecond
	cfg.Consumer.MaxWaitTime = 200 * time.Millisecond
	cg, err := sarama.NewConsumerGroup([]string{b.addr}, group, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			if err := cg.Consume(ctx, []string{g.topic}, saramaHandler{g}); err != nil && ctx.Err() == nil {
				t.Errorf("sarama consume: %v", err)
				return
			}
		}
	}()
	g.waitFor("sarama consumed", func() bool { return g.seenAll(0, n) })
	cancel()
	wg.Wait()
	if err := cg.Close(); err != nil {
		t.Fatalf("close sarama group: %v", err)
	}
}

func TestSaramaGroup(t *testing.T) {
	b := startBroker(t, Config{})
	const parts, n = 4, 400
	topic, group := "sarama-group", "sarama-group"
	b.createTopic(topic, parts, nil)
	b.offsets.checkMonotonic(group)
	prod := newKgo(t, b, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	produceAll(t, prod, topic, parts, n)
	g := newGroupRecords(t, topic, parts)
	runSaramaGroup(t, b, g, group, n)
	checkCommitted(t, b, group, topic, parts, n/parts)

	// Restarted, it resumes at the committed offsets.
	produceAllFrom(t, prod, topic, parts, n, 2*n)
	g.mu.Lock()
	clear(g.mu.first)
	g.mu.Unlock()
	runSaramaGroup(t, b, g, group, 2*n)
	checkFirst(t, g, "sarama", parts, n/parts)
	checkCommitted(t, b, group, topic, parts, 2*n/parts)
}

// checkCommitted checks the group committed offset want on every partition.
func checkCommitted(t *testing.T, b *testBroker, group, topic string, parts int, want int64) {
	t.Helper()
	offsets := b.offsets.Offsets(group)
	for p := range int32(parts) {
		if o := offsets[consumer.TopicPartition{Topic: topic, Partition: p}]; o.Offset != want {
			t.Fatalf("group %s partition %d: committed %d, want %d", group, p, o.Offset, want)
		}
	}
}

// checkFirst checks member began every partition at offset want.
func checkFirst(t *testing.T, g *groupRecords, member string, parts int, want int64) {
	t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	for p := range int32(parts) {
		if first, ok := g.mu.first[member][p]; !ok || first != want {
			t.Errorf("%s began partition %d at %d (consumed: %v), want %d", member, p, first, ok, want)
		}
	}
}

func TestKafkaGoGroup(t *testing.T) {
	b := startBroker(t, Config{})
	const parts, n = 4, 200
	topic, group := "kafkago-group", "kafkago-group"
	b.createTopic(topic, parts, nil)
	b.offsets.checkMonotonic(group)
	prod := newKgo(t, b, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	produceAll(t, prod, topic, parts, n)
	g := newGroupRecords(t, topic, parts)

	read := func(from, to int) {
		t.Helper()
		r := kafkago.NewReader(kafkago.ReaderConfig{
			Brokers: []string{b.addr}, GroupID: group, Topic: topic,
			StartOffset: kafkago.FirstOffset, MaxWait: 200 * time.Millisecond,
			SessionTimeout: time.Second, HeartbeatInterval: 200 * time.Millisecond,
			RebalanceTimeout: 5 * time.Second, JoinGroupBackoff: 100 * time.Millisecond,
		})
		ctx, cancel := context.WithTimeout(t.Context(), testDeadline)
		defer cancel()
		for range to - from {
			// ReadMessage commits each message before returning it
			// (CommitInterval 0: synchronous commits).
			m, err := r.ReadMessage(ctx)
			if err != nil {
				t.Fatalf("kafka-go read: %v", err)
			}
			g.record("kafka-go", &kgo.Record{Partition: int32(m.Partition), Offset: m.Offset, Headers: []kgo.RecordHeader{{Value: m.Headers[0].Value}}})
		}
		if err := r.Close(); err != nil {
			t.Fatalf("kafka-go close: %v", err)
		}
		g.waitFor("kafka-go consumed", func() bool { return g.seenAll(0, to) })
	}
	read(0, n)
	checkCommitted(t, b, group, topic, parts, n/parts)
	produceAllFrom(t, prod, topic, parts, n, 2*n)
	g.mu.Lock()
	clear(g.mu.first)
	g.mu.Unlock()
	read(n, 2*n)
	checkFirst(t, g, "kafka-go", parts, n/parts)
	g.mu.Lock()
	defer g.mu.Unlock()
	for i := range 2 * n {
		if g.mu.seen[i] != 1 {
			t.Fatalf("record %d consumed %d times", i, g.mu.seen[i])
		}
	}
}

// timedRecord is record i of the kadm test, stamped base + i ms.
func timedRecord(topic string, parts, i int, base time.Time) *kgo.Record {
	r := testRecord(topic, parts, i)
	r.Timestamp = base.Add(time.Duration(i) * time.Millisecond)
	return r
}

func TestKadmGroups(t *testing.T) {
	b := startBroker(t, Config{})
	const parts, n = 3, 300
	topic, group := "kadm-group", "kadm-group"
	b.createTopic(topic, parts, nil)
	ctx, cancel := context.WithTimeout(t.Context(), testDeadline)
	defer cancel()
	prod := newKgo(t, b, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	var rs []*kgo.Record
	for i := range n {
		rs = append(rs, timedRecord(topic, parts, i, base))
	}
	if err := prod.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	adm := kadm.NewClient(newKgo(t, b))

	g := newGroupRecords(t, topic, parts)
	m := startMember(t, b, g, group, "live")
	g.waitFor("all consumed", func() bool { return g.seenAll(0, n) })

	// Live: listed and described Stable with its assignment.
	listed, err := adm.ListGroups(ctx)
	if err != nil || listed[group].State != "Stable" || listed[group].ProtocolType != "consumer" {
		t.Fatalf("list groups: %v %+v", err, listed)
	}
	described, err := adm.DescribeGroups(ctx, group)
	if err != nil || described.Error() != nil {
		t.Fatalf("describe: %v %v", err, described.Error())
	}
	dg := described[group]
	if dg.State != "Stable" || dg.Protocol != "cooperative-sticky" || len(dg.Members) != 1 {
		t.Fatalf("described %+v", dg)
	}
	if ca, ok := dg.Members[0].Assigned.AsConsumer(); !ok || len(ca.Topics) != 1 || len(ca.Topics[0].Partitions) != parts {
		t.Fatalf("described assignment %+v", dg.Members[0].Assigned)
	}

	// A reset to the middle of the data is refused while the member runs.
	mid := n / 2
	listedOffsets, err := adm.ListOffsetsAfterMilli(ctx, base.Add(time.Duration(mid)*time.Millisecond).UnixMilli(), topic)
	if err != nil || listedOffsets.Error() != nil {
		t.Fatalf("list offsets: %v %v", err, listedOffsets.Error())
	}
	reset := listedOffsets.Offsets()
	resp, err := adm.CommitOffsets(ctx, group, reset)
	if err != nil {
		t.Fatal(err)
	}
	if err := resp.Error(); !errors.Is(err, kerr.UnknownMemberID) {
		t.Fatalf("reset while live: %v, want UNKNOWN_MEMBER_ID", err)
	}
	// So are deleting the group and its offsets of a subscribed topic.
	deleted, err := adm.DeleteGroups(ctx, group)
	if err != nil || !errors.Is(deleted[group].Err, kerr.NonEmptyGroup) {
		t.Fatalf("delete live group: %v %+v", err, deleted)
	}
	offDel, err := adm.DeleteOffsets(ctx, group, kadm.TopicsSet{topic: {0: {}}})
	if err != nil || !errors.Is(offDel.Error(), kerr.GroupSubscribedToTopic) {
		t.Fatalf("offset delete while subscribed: %v %v", err, offDel.Error())
	}

	// Stopped: Empty; the reset is accepted and a restarted member replays
	// from the first record at or after the timestamp.
	m.stop()
	described, err = adm.DescribeGroups(ctx, group)
	if err != nil || described[group].State != "Empty" {
		t.Fatalf("describe after stop: %v %+v", err, described[group])
	}
	resp, err = adm.CommitOffsets(ctx, group, reset)
	if err != nil || resp.Error() != nil {
		t.Fatalf("reset: %v %v", err, resp.Error())
	}
	g.mu.Lock()
	clear(g.mu.seen)
	g.mu.Unlock()
	startMember(t, b, g, group, "replay")
	g.waitFor("replayed", func() bool { return g.seenAll(mid, n) })
	g.mu.Lock()
	for i := range mid {
		if g.mu.seen[i] > 0 {
			t.Errorf("record %d (before the reset time) replayed", i)
		}
	}
	for p := range int32(parts) {
		want := int64((mid + parts - 1 - int(p)) / parts) // first i >= mid with i % parts == p, divided by parts
		if first := g.mu.first["replay"][p]; first != want {
			t.Errorf("replay began partition %d at %d, want %d", p, first, want)
		}
	}
	g.mu.Unlock()
}

func TestKadmDeleteGroup(t *testing.T) {
	b := startBroker(t, Config{})
	ctx, cancel := context.WithTimeout(t.Context(), testDeadline)
	defer cancel()
	b.createTopic("del", 2, nil)
	adm := kadm.NewClient(newKgo(t, b))
	var os kadm.Offsets
	os.Add(kadm.Offset{Topic: "del", Partition: 0, At: 5, LeaderEpoch: -1})
	os.Add(kadm.Offset{Topic: "del", Partition: 1, At: 7, LeaderEpoch: -1})
	os.Add(kadm.Offset{Topic: "nope", Partition: 0, At: 1, LeaderEpoch: -1})
	resp, err := adm.CommitOffsets(ctx, "admin", os)
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := resp.Lookup("nope", 0); !errors.Is(r.Err, kerr.UnknownTopicOrPartition) {
		t.Fatalf("commit to an unknown topic: %v", r.Err)
	}
	if r, _ := resp.Lookup("del", 1); r.Err != nil {
		t.Fatal(r.Err)
	}
	fetched, err := adm.FetchOffsets(ctx, "admin")
	if err != nil || fetched.Error() != nil {
		t.Fatal(err, fetched.Error())
	}
	if o, _ := fetched.Lookup("del", 1); o.At != 7 {
		t.Fatalf("fetched %+v", o)
	}
	listed, err := adm.ListGroups(ctx, "Empty")
	if err != nil || len(listed) != 1 || listed["admin"].State != "Empty" {
		t.Fatalf("list empty groups: %v %+v", err, listed)
	}
	offDel, err := adm.DeleteOffsets(ctx, "admin", kadm.TopicsSet{"del": {0: {}}})
	if err != nil || offDel.Error() != nil {
		t.Fatalf("offset delete: %v %v", err, offDel.Error())
	}
	fetched, _ = adm.FetchOffsets(ctx, "admin")
	if o, ok := fetched.Lookup("del", 0); ok && o.At >= 0 {
		t.Fatalf("offset of del-0 after OffsetDelete: %+v", o)
	}
	deleted, err := adm.DeleteGroups(ctx, "admin", "never")
	if err != nil || deleted["admin"].Err != nil || !errors.Is(deleted["never"].Err, kerr.GroupIDNotFound) {
		t.Fatalf("delete groups: %v %+v", err, deleted)
	}
	if described, _ := adm.DescribeGroups(ctx, "admin"); described["admin"].State != "Dead" {
		t.Fatalf("deleted group described %+v", described["admin"])
	}
}

// TestGroupCoordinatorHandover moves the coordinator away and back while
// two members consume: they see NOT_COORDINATOR, find the (new)
// coordinator, rejoin an Empty group and resume at the committed offsets.
func TestGroupCoordinatorHandover(t *testing.T) {
	b := startBroker(t, Config{})
	const parts, perPhase = 6, 300
	topic, group := "handover", "handover"
	b.createTopic(topic, parts, nil)
	b.offsets.checkMonotonic(group)
	g := newGroupRecords(t, topic, parts)
	prod := newKgo(t, b, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	startMember(t, b, g, group, "a")
	startMember(t, b, g, group, "b")
	g.waitFor("3 partitions each", func() bool {
		n := g.ownership("a", "b")
		return n[0] == 3 && n[1] == 3
	})
	produceAll(t, prod, topic, parts, perPhase)
	g.waitFor("phase 1 consumed", func() bool { return g.seenAll(0, perPhase) })

	g.mu.Lock()
	assigns := []int{g.mu.assigns["a"], g.mu.assigns["b"]}
	g.mu.Unlock()
	b.setCoordinator(false)
	// Not the coordinator: group requests get NOT_COORDINATOR.
	adm := kadm.NewClient(newKgo(t, b, kgo.RequestRetries(0)))
	ctx, cancel := context.WithTimeout(t.Context(), testDeadline)
	defer cancel()
	if d, err := adm.DescribeGroups(ctx, group); err == nil && !errors.Is(d[group].Err, kerr.NotCoordinator) {
		t.Fatalf("describe without a coordinator: %+v", d[group])
	}
	produceAllFrom(t, prod, topic, parts, perPhase, 2*perPhase)
	b.setCoordinator(true)
	g.waitFor("phase 2 consumed", func() bool { return g.seenAll(0, 2*perPhase) })
	g.waitFor("reassigned, 3 partitions each", func() bool {
		n := g.ownership("a", "b")
		return g.mu.assigns["a"] > assigns[0] && g.mu.assigns["b"] > assigns[1] && n[0] == 3 && n[1] == 3
	})
	described, err := adm.DescribeGroups(ctx, group)
	if err != nil || described[group].State != "Stable" || len(described[group].Members) != 2 {
		t.Fatalf("after hand-over: %v %+v", err, described[group])
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	dups := 0
	for i := range 2 * perPhase {
		dups += g.mu.seen[i] - 1
	}
	t.Logf("hand-over: %d records consumed twice", dups)
}
