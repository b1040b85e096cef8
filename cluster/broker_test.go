package cluster

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

func metaVoters(b *Broker) map[string]raft.ServerSuffrage {
	servers, err := b.meta.group.Configuration(b.ctx)
	if err != nil {
		return nil
	}
	out := map[string]raft.ServerSuffrage{}
	for _, s := range servers {
		out[string(s.ID)] = s.Suffrage
	}
	return out
}

func countVoters(m map[string]raft.ServerSuffrage) int {
	n := 0
	for _, s := range m {
		if s == raft.Voter {
			n++
		}
	}
	return n
}

// TestBrokerAPI exercises the Kafka layer's API on a three-broker cluster,
// through brokers that are not the metadata leader, and a restart.
func TestBrokerAPI(t *testing.T) {
	c := newTestCluster(t, 3)
	ctx := ctxTimeout(t, 2*time.Minute)
	c.waitFor(20*time.Second, "three metadata voters", func() bool {
		ctrl := c.controller()
		return ctrl != nil && countVoters(metaVoters(ctrl)) == 3
	})
	var follower *Broker
	for _, b := range c.live() {
		if !b.meta.group.IsLeader() && b.ID() != 3 { // 3 is restarted and decommissioned below
			follower = b
		}
	}
	if follower == nil {
		follower = c.broker(2)
	}

	// Offsets: one command, many commits; read back at once where written.
	commits := []OffsetCommit{{Topic: "t", Partition: 0, Offset: 10, LeaderEpoch: 1, Metadata: "m"}, {Topic: "t", Partition: 1, Offset: 20}, {Topic: "u", Partition: 0, Offset: 5}}
	if err := follower.CommitOffsets(ctx, "g1", commits); err != nil {
		t.Fatal(err)
	}
	got := follower.FetchOffsets("g1")
	if len(got) != 3 || got[TopicPartition{"t", 0}].Offset != 10 || got[TopicPartition{"t", 0}].Metadata != "m" {
		t.Fatalf("offsets read back: %v", got)
	}
	c.waitFor(10*time.Second, "offsets everywhere", func() bool {
		for _, b := range c.live() {
			if len(b.FetchOffsets("g1")) != 3 {
				return false
			}
		}
		return true
	})

	// Producer ids are unique across brokers.
	seen := map[int64]bool{}
	for range 5 {
		for _, b := range c.live() {
			id, epoch, err := b.AllocateProducerID(ctx)
			if err != nil || epoch != 0 || seen[id] {
				t.Fatalf("producer id %d epoch %d: %v (seen %v)", id, epoch, err, seen[id])
			}
			seen[id] = true
		}
	}

	// Topic lifecycle through a follower.
	if err := follower.CreateTopic(ctx, "life", 2, 3, nil); err != nil {
		t.Fatal(err)
	}
	if _, ok := follower.Topic("life"); !ok {
		t.Fatal("topic not visible where it was created")
	}
	if err := follower.CreateTopic(ctx, "bad name", 1, 1, nil); !errors.Is(err, ErrInvalidTopic) {
		t.Fatalf("bad name: %v", err)
	}
	if err := follower.AlterTopicConfigs(ctx, "life", map[string]*string{"segment.bytes": strp("1048576"), "cleanup.policy": strp("compact")}); err != nil {
		t.Fatal(err)
	}
	if err := follower.AlterTopicConfigs(ctx, "life", map[string]*string{"cleanup.policy": nil, "nope": strp("1")}); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("unknown config: %v", err)
	}
	if err := follower.AlterTopicConfigs(ctx, "life", map[string]*string{"cleanup.policy": nil}); err != nil {
		t.Fatal(err)
	}
	if ti, _ := follower.Topic("life"); len(ti.Configs) != 1 || ti.Configs["segment.bytes"] != "1048576" {
		t.Fatalf("configs: %v", ti.Configs)
	}
	if err := follower.CreatePartitions(ctx, "life", 2); !errors.Is(err, ErrInvalidPartitions) {
		t.Fatalf("shrink: %v", err)
	}
	if err := follower.CreatePartitions(ctx, "life", 4); err != nil {
		t.Fatal(err)
	}
	ti := c.waitLeaders("life", 30*time.Second)
	if len(ti.Partitions) != 4 {
		t.Fatalf("%d partitions", len(ti.Partitions))
	}
	oldID := ti.ID
	// Some data, to see it survive a restart.
	lead := c.broker(ti.Partitions[0].Leader).LocalPartition("life", 0)
	for seq := range int32(20) {
		if _, err := c.produce(ctx, "life", 0, idemBatch(1, seq, 100)); err != nil {
			t.Fatal(err)
		}
	}
	hw := lead.HighWatermark()

	// Restart broker 3: it recovers its replicas and their data.
	c.kill(3)
	b3 := c.restart(3)
	c.waitReady(3, 30*time.Second)
	c.waitFor(10*time.Second, "replica recovered after restart", func() bool { return b3.LocalPartition("life", 0) != nil })
	p := b3.LocalPartition("life", 0)
	c.waitFor(20*time.Second, "restarted replica caught up", func() bool { return p.HighWatermark() == hw })

	// Delete: every replica directory goes; a new topic of the same name is
	// another topic, with empty logs.
	if err := follower.DeleteTopic(ctx, "life"); err != nil {
		t.Fatal(err)
	}
	if err := follower.DeleteTopic(ctx, "life"); !errors.Is(err, ErrUnknownTopic) {
		t.Fatalf("delete again: %v", err)
	}
	c.waitFor(20*time.Second, "replica directories deleted", func() bool {
		for _, b := range c.live() {
			for i := range 4 {
				if _, err := os.Stat(filepath.Join(b.cfg.DataDir, partitionDirName("life", int32(i)))); err == nil {
					return false
				}
			}
		}
		return true
	})
	if err := follower.CreateTopic(ctx, "life", 1, 3, nil); err != nil {
		t.Fatal(err)
	}
	ti = c.waitLeaders("life", 30*time.Second)
	if ti.ID == oldID {
		t.Fatal("recreated topic kept its id")
	}
	if hw := c.broker(ti.Partitions[0].Leader).LocalPartition("life", 0).HighWatermark(); hw != 0 {
		t.Fatalf("recreated topic has high watermark %d", hw)
	}

	// Decommission broker 3: the controller takes it out of the metadata group.
	if err := follower.Decommission(ctx, 3); err != nil {
		t.Fatal(err)
	}
	c.waitFor(20*time.Second, "broker 3 out of the metadata group", func() bool {
		ctrl := c.controller()
		if ctrl == nil {
			return false
		}
		_, in := metaVoters(ctrl)[strconv.Itoa(3)]
		return !in
	})
	if err := follower.CreateTopic(ctx, "after-decommission", 3, 2, nil); err != nil {
		t.Fatal(err)
	}
	ti, _ = follower.Topic("after-decommission")
	for _, p := range ti.Partitions {
		if contains(p.Replicas, 3) {
			t.Fatalf("partition %d placed on decommissioned broker 3", p.Index)
		}
	}
}

// TestStartFailsCleanlyLate makes Start fail at its last step (the admin
// HTTP address is taken), after the broker's goroutines have started: it
// returns the error, closes what it started, and nothing dereferences the
// broker it did not return (a panic in a goroutine, before).
func TestStartFailsCleanlyLate(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	c := &testCluster{t: t, root: t.TempDir(), brokers: map[int32]*Broker{}, cfgs: map[int32]Config{}}
	cfg := c.config(1)
	cfg.HTTPAddr = taken.Addr().String()
	b, err := Start(cfg)
	if err == nil || b != nil || !strings.Contains(err.Error(), "http listener") {
		t.Fatalf("Start with a taken HTTP address = %v, %v; want an http listener error", b, err)
	}
	// The data directory is free again: a second try with a free address
	// starts.
	cfg.HTTPAddr = "127.0.0.1:0"
	b, err = Start(cfg)
	if err != nil {
		t.Fatalf("Start after a failed one: %v", err)
	}
	b.Close()
}
