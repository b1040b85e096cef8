package workload_test

import (
	"sync"
	"testing"
	"time"

	"github.com/cairnlog/cairn/cluster"
	"github.com/cairnlog/cairn/cluster/clustertest"
	"github.com/cairnlog/cairn/log"
)

// testCluster is brokers of one cluster in this process, serving Kafka on
// loopback. A broker keeps its addresses across a restart: Raft knows it
// by its internal address, and clients by its Kafka address.
type testCluster struct {
	t  testing.TB
	mu sync.Mutex
	// brokers by id, nil while stopped; cfgs keep each broker's config.
	brokers map[int32]*cluster.Broker
	cfgs    map[int32]cluster.Config
}

func newTestCluster(t testing.TB, n int) *testCluster {
	t.Helper()
	c := &testCluster{t: t, brokers: map[int32]*cluster.Broker{}, cfgs: map[int32]cluster.Config{}}
	t.Cleanup(c.closeAll)
	root := t.TempDir()
	logger := clustertest.Logger()
	var seed string
	for id := int32(1); id <= int32(n); id++ {
		cfg := clustertest.Config(root, id, seed, logger)
		cfg.Log = log.Config{MaxSegmentBytes: 64 << 10}
		b := c.start(cfg)
		if seed == "" {
			seed = b.GossipAddr()
		}
	}
	c.waitReady(n, 30*time.Second)
	return c
}

func (c *testCluster) start(cfg cluster.Config) *cluster.Broker {
	c.t.Helper()
	b, err := cluster.Start(cfg)
	if err != nil {
		c.t.Fatalf("start broker %d: %v", cfg.NodeID, err)
	}
	cfg.KafkaAddr = b.KafkaAddr()
	cfg.InternalAddr = b.InternalAddr()
	cfg.GossipAddr = b.GossipAddr()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.brokers[cfg.NodeID] = b
	c.cfgs[cfg.NodeID] = cfg
	return b
}

// kill closes broker id at once, without a hand-over.
func (c *testCluster) kill(id int32) {
	c.mu.Lock()
	b := c.brokers[id]
	c.brokers[id] = nil
	c.mu.Unlock()
	if b != nil {
		_ = b.Close()
	}
}

// restart starts broker id again on its data and addresses, joining the
// live brokers.
func (c *testCluster) restart(id int32) {
	c.t.Helper()
	c.mu.Lock()
	cfg := c.cfgs[id]
	cfg.Join = nil
	for oid, b := range c.brokers {
		if b != nil && oid != id {
			cfg.Join = append(cfg.Join, b.GossipAddr())
		}
	}
	c.mu.Unlock()
	c.start(cfg)
}

func (c *testCluster) kafkaAddrs() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for id := int32(1); id <= int32(len(c.cfgs)); id++ {
		out = append(out, c.cfgs[id].KafkaAddr)
	}
	return out
}

func (c *testCluster) closeAll() {
	c.mu.Lock()
	var all []*cluster.Broker
	for id, b := range c.brokers {
		if b != nil {
			all = append(all, b)
		}
		c.brokers[id] = nil
	}
	c.mu.Unlock()
	var wg sync.WaitGroup
	for _, b := range all {
		wg.Go(func() { _ = b.Close() })
	}
	wg.Wait()
}

// waitReady waits until every live broker is ready and knows n brokers.
// Readiness has no channel to wait on, so it is re-checked every 25 ms.
func (c *testCluster) waitReady(n int, timeout time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for {
		ready := true
		c.mu.Lock()
		for _, b := range c.brokers {
			if b != nil && (b.Ready() != nil || len(b.Brokers()) != n) {
				ready = false
			}
		}
		c.mu.Unlock()
		if ready {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%d brokers not ready within %v", n, timeout)
		}
		<-tick.C
	}
}
