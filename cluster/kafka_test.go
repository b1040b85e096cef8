package cluster

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

func (c *testCluster) kafkaSeeds() []string {
	var seeds []string
	for _, b := range c.live() {
		seeds = append(seeds, b.KafkaAddr())
	}
	sort.Strings(seeds)
	return seeds
}

// A franz-go idempotent producer (acks=all) writes to an RF3 topic while the
// broker leading most of its partitions is killed: the client retries on the
// new leaders by itself, and every acknowledged record is read back exactly
// once, at the offset it was acknowledged at.
func TestKafkaProduceThroughLeaderFailover(t *testing.T) {
	c := newKafkaCluster(t, 3)
	ctx := ctxTimeout(t, 3*time.Minute)
	admin, err := kgo.NewClient(kgo.SeedBrokers(c.kafkaSeeds()...))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	const topic, partitions = "orders", 8
	if _, err := kadm.NewClient(admin).CreateTopic(ctx, partitions, 3, nil, topic); err != nil {
		t.Fatal(err)
	}
	info := c.waitLeaders(topic, 30*time.Second)

	prod, err := kgo.NewClient(kgo.SeedBrokers(c.kafkaSeeds()...), kgo.DefaultProduceTopic(topic),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordRetries(1000), kgo.RetryTimeout(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()

	const records = 6000
	value := make([]byte, 1<<10)
	type ack struct {
		partition int32
		offset    int64
	}
	var (
		mu     sync.Mutex
		acked  = map[string]ack{}
		failed []error
		wg     sync.WaitGroup
	)
	// The broker leading the most partitions goes at the half-way mark.
	counts := map[int32]int{}
	for _, p := range info.Partitions {
		counts[p.Leader]++
	}
	victim := int32(-1)
	for id, n := range counts {
		if victim < 0 || n > counts[victim] {
			victim = id
		}
	}
	start := time.Now()
	for i := range records {
		if i == records/2 {
			prod.Flush(ctx)
			t.Logf("killing broker %d, leader of %d of %d partitions", victim, counts[victim], partitions)
			c.kill(victim)
		}
		key := fmt.Sprintf("record-%06d", i)
		v := append([]byte(key+" "), value...)
		wg.Add(1)
		prod.Produce(ctx, &kgo.Record{Key: []byte(key), Value: v}, func(r *kgo.Record, err error) {
			defer wg.Done()
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed = append(failed, fmt.Errorf("%s: %w", r.Key, err))
				return
			}
			acked[string(r.Key)] = ack{r.Partition, r.Offset}
		})
	}
	wg.Wait()
	took := time.Since(start)
	if len(failed) > 0 {
		t.Fatalf("%d records failed, first: %v", len(failed), failed[0])
	}
	t.Logf("produced %d records of 1 KiB through a leader kill in %v (%.0f records/s)", records, took.Round(time.Millisecond), records/took.Seconds())

	cons, err := kgo.NewClient(kgo.SeedBrokers(c.kafkaSeeds()...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	seen := map[string]ack{}
	for len(seen) < records {
		fetches := cons.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d records: %v", len(seen), records, err)
		}
		fetches.EachError(func(topic string, p int32, err error) {
			t.Logf("fetch %s/%d: %v (retried)", topic, p, err)
		})
		fetches.EachRecord(func(r *kgo.Record) {
			k := string(r.Key)
			if prev, ok := seen[k]; ok {
				t.Fatalf("%s read twice: at %d/%d and %d/%d", k, prev.partition, prev.offset, r.Partition, r.Offset)
			}
			seen[k] = ack{r.Partition, r.Offset}
			if want, ok := acked[k]; !ok || want != seen[k] {
				t.Fatalf("%s read at %d/%d, acknowledged at %+v (%t)", k, r.Partition, r.Offset, want, ok)
			}
		})
	}
}

// The group coordinator is the metadata leader; committed offsets survive its
// loss because they are in the metadata partition.
func TestKafkaGroupOffsetsSurviveCoordinatorLoss(t *testing.T) {
	c := newKafkaCluster(t, 3)
	ctx := ctxTimeout(t, 2*time.Minute)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.kafkaSeeds()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, 4, 3, nil, "events"); err != nil {
		t.Fatal(err)
	}
	c.waitLeaders("events", 30*time.Second)
	offsets := kadm.Offsets{}
	for p := int32(0); p < 4; p++ {
		offsets.Add(kadm.Offset{Topic: "events", Partition: p, At: int64(10 + p), LeaderEpoch: -1})
	}
	resp, err := adm.CommitOffsets(ctx, "billing", offsets)
	if err != nil || resp.Error() != nil {
		t.Fatalf("commit: %v %v", err, resp.Error())
	}
	coord := c.controller()
	c.kill(coord.ID())
	c.waitFor(30*time.Second, "a new controller", func() bool {
		n := c.controller()
		return n != nil && n != coord && n.groups.Load() != nil
	})
	// A new client: franz-go's sharded OffsetFetch keeps dialing a dead
	// coordinator it cached (it clears the cache on NOT_COORDINATOR, not on a
	// dial failure), which is the client's business, not the broker's.
	cl2, err := kgo.NewClient(kgo.SeedBrokers(c.kafkaSeeds()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl2.Close()
	adm = kadm.NewClient(cl2)
	got, err := adm.FetchOffsets(ctx, "billing")
	if err != nil {
		t.Fatal(err)
	}
	for p := int32(0); p < 4; p++ {
		o, ok := got.Lookup("events", p)
		if !ok || o.At != int64(10+p) {
			t.Fatalf("partition %d: committed %+v (%t), want %d", p, o, ok, 10+p)
		}
	}
	// Commits go on at the new coordinator.
	offsets = kadm.Offsets{}
	offsets.Add(kadm.Offset{Topic: "events", Partition: 0, At: 99, LeaderEpoch: -1})
	if resp, err := adm.CommitOffsets(ctx, "billing", offsets); err != nil || resp.Error() != nil {
		t.Fatalf("commit at the new coordinator: %v %v", err, resp.Error())
	}
}

// Two franz-go group members consume while the metadata leader (the group
// coordinator) is killed: they find the new coordinator and carry on; no
// record is skipped, and the group's commits end at the log end.
func TestKafkaGroupSurvivesCoordinatorKill(t *testing.T) {
	c := newKafkaCluster(t, 3)
	ctx := ctxTimeout(t, 3*time.Minute)
	admin, err := kgo.NewClient(kgo.SeedBrokers(c.kafkaSeeds()...))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	adm := kadm.NewClient(admin)
	const topic, partitions = "stream", 6
	if _, err := adm.CreateTopic(ctx, partitions, 3, nil, topic); err != nil {
		t.Fatal(err)
	}
	c.waitLeaders(topic, 30*time.Second)
	produce := func(from, n int) {
		t.Helper()
		p, err := kgo.NewClient(kgo.SeedBrokers(c.kafkaSeeds()...), kgo.DefaultProduceTopic(topic), kgo.RecordRetries(100))
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		for i := from; i < from+n; i++ {
			p.Produce(ctx, &kgo.Record{Key: []byte(fmt.Sprintf("r%05d", i))}, nil)
		}
		if err := p.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	produce(0, 1500)

	var (
		mu       sync.Mutex
		seen     = map[string]bool{}
		next     = map[int32]int64{} // per partition: the offset after the last consumed
		skipped  []string
		consumed = make(chan struct{}, 1<<16)
	)
	member := func() *kgo.Client {
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.kafkaSeeds()...), kgo.ConsumerGroup("readers"), kgo.ConsumeTopics(topic),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit(),
			kgo.SessionTimeout(3*time.Second), kgo.HeartbeatInterval(300*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			for {
				fs := cl.PollFetches(ctx)
				if fs.IsClientClosed() || ctx.Err() != nil {
					return
				}
				fs.EachRecord(func(r *kgo.Record) {
					mu.Lock()
					// A group member resumes at the committed offset: a record
					// past the next expected one is a skip; one before it is a
					// redelivery after a rebalance, which is allowed.
					if exp, ok := next[r.Partition]; ok && r.Offset > exp {
						skipped = append(skipped, fmt.Sprintf("%d/%d after %d", r.Partition, r.Offset, exp))
					}
					if r.Offset+1 > next[r.Partition] {
						next[r.Partition] = r.Offset + 1
					}
					seen[string(r.Key)] = true
					mu.Unlock()
					consumed <- struct{}{}
				})
				if err := cl.CommitUncommittedOffsets(ctx); err != nil {
					t.Logf("commit: %v (retried with the next poll)", err)
				}
			}
		}()
		return cl
	}
	m1, m2 := member(), member()
	defer m1.Close()
	defer m2.Close()
	waitSeen := func(n int) {
		t.Helper()
		for {
			mu.Lock()
			got := len(seen)
			mu.Unlock()
			if got >= n {
				return
			}
			select {
			case <-consumed:
			case <-ctx.Done():
				t.Fatalf("consumed %d of %d records", got, n)
			}
		}
	}
	waitSeen(500)
	coord := c.controller()
	t.Logf("killing broker %d, the group coordinator", coord.ID())
	c.kill(coord.ID())
	produce(1500, 1500)
	waitSeen(3000)

	mu.Lock()
	if len(skipped) > 0 {
		t.Fatalf("records skipped: %v", skipped)
	}
	mu.Unlock()
	// The members' last commits reach the log end.
	c.waitFor(30*time.Second, "commits at the log end", func() bool {
		offs, err := adm.FetchOffsets(ctx, "readers")
		if err != nil {
			return false
		}
		ends, err := adm.ListEndOffsets(ctx, topic)
		if err != nil {
			return false
		}
		ok := true
		ends.Each(func(e kadm.ListedOffset) {
			if o, found := offs.Lookup(topic, e.Partition); !found || o.At != e.Offset {
				ok = false
			}
		})
		return ok
	})
}

// A topic config changed through the Kafka API reaches the open replicas:
// lowering max.message.bytes refuses a batch the old limit took.
func TestKafkaTopicConfigAppliesLive(t *testing.T) {
	c := newKafkaCluster(t, 1)
	ctx := ctxTimeout(t, time.Minute)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.kafkaSeeds()...), kgo.DefaultProduceTopic("cfg"), kgo.RecordRetries(3))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "cfg"); err != nil {
		t.Fatal(err)
	}
	c.waitLeaders("cfg", 30*time.Second)
	big := &kgo.Record{Value: make([]byte, 8<<10)}
	if err := cl.ProduceSync(ctx, big).FirstErr(); err != nil {
		t.Fatalf("8 KiB record under the default limit: %v", err)
	}
	limit := "4096"
	resp, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "max.message.bytes", Value: &limit}}, "cfg")
	if err != nil || resp[0].Err != nil {
		t.Fatalf("alter config: %v %v", err, resp)
	}
	c.waitFor(20*time.Second, "the new limit on the replica", func() bool {
		p := c.live()[0].LocalPartition("cfg", 0)
		return p != nil && p.Log().MaxBatchBytes() == 4096
	})
	err = cl.ProduceSync(ctx, &kgo.Record{Value: make([]byte, 8<<10)}).FirstErr()
	if !errors.Is(err, kerr.MessageTooLarge) {
		t.Fatalf("8 KiB record over a 4 KiB max.message.bytes: %v, want MESSAGE_TOO_LARGE", err)
	}
}

// DescribeLogDirs, asked of every broker as admin tools do, names each
// partition's replicas exactly, each in its broker's data directory, with the
// same size on every replica once they have caught up.
func TestKafkaDescribeLogDirs(t *testing.T) {
	c := newKafkaCluster(t, 3)
	ctx := ctxTimeout(t, 2*time.Minute)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.kafkaSeeds()...), kgo.DefaultProduceTopic("dirs"),
		kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, 3, 2, nil, "dirs"); err != nil {
		t.Fatal(err)
	}
	ti := c.waitLeaders("dirs", 30*time.Second)
	for i := range 30 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: fmt.Appendf(nil, "record %d", i)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}

	var last string // why the last look was not yet right
	defer func() {
		if t.Failed() {
			t.Logf("last DescribeLogDirs: %s", last)
		}
	}()
	c.waitFor(30*time.Second, "every replica described with one size", func() bool {
		all, err := adm.DescribeAllLogDirs(ctx, nil)
		if err != nil {
			last = err.Error()
			return false
		}
		for _, p := range ti.Partitions {
			var holders []int32
			sizes := map[int64]bool{}
			for broker, dirs := range all {
				for dir, d := range dirs {
					if d.Err != nil || d.TotalBytes <= 0 || d.UsableBytes < 0 {
						last = fmt.Sprintf("broker %d dir %s: err %v, total %d, usable %d", broker, dir, d.Err, d.TotalBytes, d.UsableBytes)
						return false
					}
					if dp, ok := dirs.Lookup(dir, "dirs", p.Index); ok {
						if want := c.broker(broker).cfg.DataDir; dir != want {
							last = fmt.Sprintf("broker %d reports dir %s, want %s", broker, dir, want)
							return false
						}
						holders = append(holders, broker)
						sizes[dp.Size] = true
					}
				}
			}
			slices.Sort(holders)
			want := slices.Sorted(slices.Values(p.Replicas))
			if !slices.Equal(holders, want) || len(sizes) != 1 || sizes[0] {
				last = fmt.Sprintf("partition %d: held by %v (want %v), sizes %v", p.Index, holders, want, sizes)
				return false
			}
		}
		return true
	})
}
