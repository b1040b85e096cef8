package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cairnlog/cairn/consumer"
	"github.com/cairnlog/cairn/kafka"
	"github.com/cairnlog/cairn/log"
	"github.com/cairnlog/cairn/replication"
)

// fastTiming keeps elections and failovers short in tests.
var fastTiming = replication.Timing{
	HeartbeatTimeout:   500 * time.Millisecond,
	ElectionTimeout:    500 * time.Millisecond,
	LeaderLeaseTimeout: 250 * time.Millisecond,
	CommitTimeout:      50 * time.Millisecond,
}

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("CAIRN_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.DiscardHandler)
}

// testCluster is brokers of one cluster in this process, on loopback.
type testCluster struct {
	t    testing.TB
	root string
	mu   sync.Mutex
	// brokers by id; nil once closed. cfgs keep each broker's addresses so
	// that a restart reuses them (they are its Raft server address).
	brokers map[int32]*Broker
	cfgs    map[int32]Config
	seed    string        // gossip address of broker 1
	kafka   bool          // brokers serve Kafka (package kafka) on loopback ports
	tune    func(*Config) // when set, adjusts every broker's config
}

func newTestCluster(t testing.TB, n int) *testCluster {
	t.Helper()
	return newCluster(t, n, false)
}

// newKafkaCluster is newTestCluster with the Kafka front door on every broker.
func newKafkaCluster(t testing.TB, n int) *testCluster {
	t.Helper()
	return newCluster(t, n, true)
}

func newCluster(t testing.TB, n int, withKafka bool) *testCluster {
	t.Helper()
	return newTunedCluster(t, n, withKafka, nil)
}

// newTunedCluster is newCluster with tune applied to every broker's config.
func newTunedCluster(t testing.TB, n int, withKafka bool, tune func(*Config)) *testCluster {
	t.Helper()
	c := &testCluster{t: t, root: t.TempDir(), brokers: map[int32]*Broker{}, cfgs: map[int32]Config{}, kafka: withKafka, tune: tune}
	t.Cleanup(c.closeAll)
	for id := int32(1); id <= int32(n); id++ {
		c.add(id)
	}
	c.waitReady(int32(n), 30*time.Second)
	return c
}

func (c *testCluster) config(id int32) Config {
	cfg := Config{
		NodeID:          id,
		DataDir:         filepath.Join(c.root, fmt.Sprintf("broker-%d", id)),
		KafkaAddr:       fmt.Sprintf("127.0.0.1:%d", 19090+id),
		InternalAddr:    "127.0.0.1:0",
		GossipAddr:      "127.0.0.1:0",
		HTTPAddr:        "127.0.0.1:0",
		MetadataTiming:  fastTiming,
		PartitionTiming: fastTiming,
		ProbeInterval:   200 * time.Millisecond,
		ReconcileEvery:  200 * time.Millisecond,
		Log:             log.Config{MaxSegmentBytes: 64 << 10},
		Logger:          testLogger(c.t).With("test_broker", id),
	}
	if c.seed != "" {
		cfg.Join = []string{c.seed}
	}
	if c.kafka {
		cfg.KafkaAddr = "127.0.0.1:0"
		cfg.KafkaHandler = KafkaHandler(kafka.Config{})
		// Short session timeouts and no initial rebalance delay keep group
		// tests fast.
		cfg.Groups = consumer.Config{MinSessionTimeout: 500 * time.Millisecond, InitialRebalanceDelay: -1}
	}
	if c.tune != nil {
		c.tune(&cfg)
	}
	return cfg
}

// add starts a new broker (the first one bootstraps the cluster).
func (c *testCluster) add(id int32) *Broker {
	c.t.Helper()
	return c.start(c.config(id))
}

func (c *testCluster) start(cfg Config) *Broker {
	c.t.Helper()
	b, err := Start(cfg)
	if err != nil {
		c.t.Fatalf("start broker %d: %v", cfg.NodeID, err)
	}
	// A restart must keep its addresses: Raft knows it by them.
	cfg.InternalAddr = b.InternalAddr()
	cfg.GossipAddr = b.GossipAddr()
	c.mu.Lock()
	c.brokers[cfg.NodeID] = b
	c.cfgs[cfg.NodeID] = cfg
	if c.seed == "" {
		c.seed = b.GossipAddr()
	}
	c.mu.Unlock()
	return b
}

// kill closes broker id without a hand-over.
func (c *testCluster) kill(id int32) {
	c.mu.Lock()
	b := c.brokers[id]
	c.brokers[id] = nil
	c.mu.Unlock()
	if b != nil {
		b.Close()
	}
}

func (c *testCluster) restart(id int32) *Broker {
	c.t.Helper()
	c.mu.Lock()
	cfg := c.cfgs[id]
	cfg.Join = []string{}
	for oid, b := range c.brokers {
		if b != nil && oid != id {
			cfg.Join = append(cfg.Join, b.GossipAddr())
		}
	}
	c.mu.Unlock()
	return c.start(cfg)
}

func (c *testCluster) closeAll() {
	c.mu.Lock()
	var all []*Broker
	for id, b := range c.brokers {
		if b != nil {
			all = append(all, b)
		}
		c.brokers[id] = nil
	}
	c.mu.Unlock()
	var wg sync.WaitGroup
	for _, b := range all {
		wg.Go(func() { b.Close() })
	}
	wg.Wait()
}

func (c *testCluster) live() []*Broker {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*Broker
	for _, b := range c.brokers {
		if b != nil {
			out = append(out, b)
		}
	}
	return out
}

func (c *testCluster) broker(id int32) *Broker {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.brokers[id]
}

// controller returns the live broker leading the metadata, or nil.
func (c *testCluster) controller() *Broker {
	for _, b := range c.live() {
		if b.meta.group.IsLeader() {
			return b
		}
	}
	return nil
}

// waitFor waits until cond holds, re-checking it on every metadata change of
// any live broker and at least every 25 ms (Raft leadership and gossip have
// no channel to wait on), and fails the test after timeout.
func (c *testCluster) waitFor(timeout time.Duration, what string, cond func() bool) time.Duration {
	c.t.Helper()
	start := time.Now()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for {
		var chans []<-chan struct{}
		for _, b := range c.live() {
			_, ch := b.meta.fsm.watch()
			chans = append(chans, ch)
		}
		if cond() {
			return time.Since(start)
		}
		select {
		case <-anyOf(chans):
		case <-tick.C:
		case <-deadline.C:
			c.t.Fatalf("%s: not within %v", what, timeout)
		}
	}
}

// anyOf returns a channel closed when any of chans is (leaking a goroutine
// per call at most until then, bounded by the test).
func anyOf(chans []<-chan struct{}) <-chan struct{} {
	if len(chans) == 1 {
		return chans[0]
	}
	out := make(chan struct{})
	done := make(chan struct{})
	var once sync.Once
	for _, ch := range chans {
		go func() {
			select {
			case <-ch:
				once.Do(func() { close(out) })
			case <-done:
			}
		}()
	}
	go func() { <-out; close(done) }()
	return out
}

// waitReady waits until n brokers are registered and every live broker is
// ready.
func (c *testCluster) waitReady(n int32, timeout time.Duration) time.Duration {
	c.t.Helper()
	return c.waitFor(timeout, fmt.Sprintf("%d brokers ready", n), func() bool {
		for _, b := range c.live() {
			if b.Ready() != nil || len(b.Brokers()) != int(n) {
				return false
			}
		}
		return true
	})
}

// waitLeaders waits until every partition of topic has a leader that leads
// it, named alike by every live broker, and returns the topic.
func (c *testCluster) waitLeaders(topic string, timeout time.Duration) TopicInfo {
	c.t.Helper()
	var ti TopicInfo
	c.waitFor(timeout, "leaders of "+topic, func() bool {
		var ok bool
		ti, ok = c.leadersAgree(topic)
		return ok
	})
	return ti
}

// leadersAgree reports whether every partition of topic has a live leader
// that leads it at the epoch the metadata names, as every live broker says,
// and no reassignment is in progress.
func (c *testCluster) leadersAgree(topic string) (TopicInfo, bool) {
	live := c.live()
	ti, ok := live[0].Topic(topic)
	if !ok {
		return ti, false
	}
	for _, p := range ti.Partitions {
		lb := c.broker(p.Leader)
		if p.Leader < 0 || lb == nil || p.Target != nil {
			return ti, false
		}
		lp := lb.LocalPartition(topic, p.Index)
		if lp == nil || !lp.IsLeader() || lp.LeaderEpoch() != p.LeaderEpoch {
			return ti, false
		}
	}
	for _, b := range live[1:] {
		o, ok := b.Topic(topic)
		if !ok || len(o.Partitions) != len(ti.Partitions) {
			return ti, false // not created, or grown, everywhere yet
		}
		for i, p := range o.Partitions {
			if p.Leader != ti.Partitions[i].Leader || p.LeaderEpoch != ti.Partitions[i].LeaderEpoch {
				return ti, false
			}
		}
	}
	return ti, true
}

func ctxTimeout(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}
