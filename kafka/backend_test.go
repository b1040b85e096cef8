package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/cairnlog/cairn/consumer"
	"github.com/cairnlog/cairn/internal/broadcast"
	"github.com/cairnlog/cairn/log"
	"github.com/cairnlog/cairn/partition"
	"github.com/cairnlog/cairn/replication"
	"github.com/cairnlog/cairn/wire"
)

// fastTiming keeps single-voter elections short in tests.
var fastTiming = replication.Timing{
	HeartbeatTimeout:   300 * time.Millisecond,
	ElectionTimeout:    300 * time.Millisecond,
	LeaderLeaseTimeout: 150 * time.Millisecond,
	CommitTimeout:      20 * time.Millisecond,
}

func testLogger() *slog.Logger {
	if os.Getenv("CAIRN_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// testBroker is a one-broker Backend: topics in a map, every partition a
// real single-replica partition.Partition on one replication.Node, served by
// a real wire.Server on loopback.
type testBroker struct {
	t       testing.TB
	node    *replication.Node
	dir     string
	handler *Handler
	server  *wire.Server
	addr    string // the Kafka listener, host:port
	port    int32
	leaders *broadcast.Signal // any partition's leadership changed
	pids    atomic.Int64
	seq     atomic.Int64 // directory suffixes: a recreated topic never reuses a directory

	offsets *checkedStore // the group coordinator's store, kept across hand-overs

	mu struct {
		sync.Mutex
		topics map[string]*testTopic
		groups *consumer.Coordinator // nil while "another broker" coordinates
	}
}

type testTopic struct {
	info  TopicInfo
	parts []*partition.Partition
	dirs  []string
	// targets are recorded reassignments: one broker cannot move a replica,
	// so they stay in progress until cancelled.
	targets map[int32][]int32
}

// startBroker starts a broker with cfg and returns it; t.Cleanup stops it.
func startBroker(t testing.TB, cfg Config) *testBroker {
	t.Helper()
	b := &testBroker{t: t, dir: t.TempDir(), leaders: broadcast.New(), offsets: newCheckedStore(t)}
	b.mu.topics = map[string]*testTopic{}
	b.mu.groups = consumer.New(testGroupConfig(), b.offsets)
	node, err := replication.NewNode(replication.NodeConfig{ID: "1", BindAddr: "127.0.0.1:0", Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	b.node = node
	if cfg.Logger == nil {
		cfg.Logger = testLogger()
	}
	b.handler = NewHandler(b, cfg)
	srv, err := wire.NewServer(wire.Config{Logger: testLogger()}, b.handler)
	if err != nil {
		t.Fatal(err)
	}
	b.server = srv
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b.addr = ln.Addr().String()
	b.port = int32(ln.Addr().(*net.TCPAddr).Port)
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown wire server: %v", err)
		}
		<-served
		b.handler.Close()
		b.setCoordinator(false)
		b.mu.Lock()
		topics := b.mu.topics
		b.mu.topics = nil
		b.mu.Unlock()
		for _, tt := range topics {
			for _, p := range tt.parts {
				if err := p.Close(); err != nil {
					t.Errorf("close %s: %v", p.ID(), err)
				}
			}
		}
		node.Close()
	})
	return b
}

func (b *testBroker) ID() int32           { return 1 }
func (b *testBroker) ClusterID() string   { return "cairn-test" }
func (b *testBroker) ControllerID() int32 { return 1 }
func (b *testBroker) Brokers() []BrokerInfo {
	return []BrokerInfo{{ID: 1, Host: "127.0.0.1", Port: b.port}}
}

func (b *testBroker) Groups() *consumer.Coordinator {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.mu.groups
}

// testGroupConfig makes groups rebalance quickly: sessions may be as short
// as 500 ms and the first rebalance of a group waits 200 ms for more members.
func testGroupConfig() consumer.Config {
	return consumer.Config{
		MinSessionTimeout:     500 * time.Millisecond,
		InitialRebalanceDelay: 200 * time.Millisecond,
		Logger:                testLogger(),
	}
}

// setCoordinator hands the group coordinator over: false closes it (as when
// the metadata leadership moves away), true starts a new one over the same
// offsets (as on the new metadata leader), with every group Empty.
func (b *testBroker) setCoordinator(on bool) {
	b.mu.Lock()
	old := b.mu.groups
	b.mu.groups = nil
	if on {
		b.mu.groups = consumer.New(testGroupConfig(), b.offsets)
	}
	b.mu.Unlock()
	if old != nil {
		old.Close()
	}
}

func (b *testBroker) Topics() []TopicInfo {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]TopicInfo, 0, len(b.mu.topics))
	for _, tt := range b.mu.topics {
		out = append(out, b.infoLocked(tt))
	}
	return out
}

func (b *testBroker) Topic(name string) (TopicInfo, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	tt, ok := b.mu.topics[name]
	if !ok {
		return TopicInfo{}, false
	}
	return b.infoLocked(tt), true
}

// infoLocked fills in live leadership; b.mu is held.
func (b *testBroker) infoLocked(tt *testTopic) TopicInfo {
	info := tt.info
	info.Partitions = make([]PartitionInfo, len(tt.parts))
	for i, p := range tt.parts {
		leader := int32(-1)
		if p.IsLeader() {
			leader = 1
		}
		info.Partitions[i] = PartitionInfo{Index: int32(i), Leader: leader, LeaderEpoch: p.LeaderEpoch(), Replicas: []int32{1}, ISR: []int32{1},
			Target: tt.targets[int32(i)]}
	}
	return info
}

func (b *testBroker) LogDir() (string, int64, int64) { return b.dir, -1, -1 }

func (b *testBroker) LocalPartition(topic string, part int32) *partition.Partition {
	b.mu.Lock()
	defer b.mu.Unlock()
	tt, ok := b.mu.topics[topic]
	if !ok || part < 0 || int(part) >= len(tt.parts) {
		return nil
	}
	return tt.parts[part]
}

func (b *testBroker) CreateTopic(ctx context.Context, name string, partitions int32, rf int16, configs map[string]string) error {
	if rf != 1 {
		return fmt.Errorf("%w: one broker", ErrInvalidReplicationFactor)
	}
	if partitions <= 0 || partitions > 1000 {
		return fmt.Errorf("%w: %d", ErrInvalidPartitions, partitions)
	}
	b.mu.Lock()
	if _, ok := b.mu.topics[name]; ok {
		b.mu.Unlock()
		return ErrTopicExists
	}
	tt := &testTopic{info: TopicInfo{Name: name, Configs: map[string]string{}}}
	tt.info.ID[0] = byte(b.seq.Add(1))
	tt.info.ID[15] = 0xca
	for k, v := range configs {
		tt.info.Configs[k] = v
	}
	b.mu.topics[name] = tt // reserved; partitions appear once they lead
	b.mu.Unlock()
	parts, dirs, err := b.openPartitions(ctx, name, 0, partitions, configs)
	b.mu.Lock()
	defer b.mu.Unlock()
	if err != nil {
		delete(b.mu.topics, name)
		return err
	}
	tt.parts, tt.dirs = parts, dirs
	return nil
}

// openPartitions opens partitions [from, to) of a topic, bootstraps each
// as its only voter and waits until each leads.
func (b *testBroker) openPartitions(ctx context.Context, topic string, from, to int32, configs map[string]string) ([]*partition.Partition, []string, error) {
	lc := log.Config{MaxSegmentBytes: 4 << 20}
	if v, ok := configs["max.message.bytes"]; ok {
		lc.MaxBatchBytes, _ = strconv.Atoi(v)
	}
	var parts []*partition.Partition
	var dirs []string
	fail := func(err error) ([]*partition.Partition, []string, error) {
		for _, p := range parts {
			p.Close()
		}
		return nil, nil, err
	}
	for i := from; i < to; i++ {
		dir := filepath.Join(b.dir, fmt.Sprintf("%s-%d.%d", topic, i, b.seq.Add(1)))
		p, err := partition.Open(b.node, partition.Config{
			ID:                 fmt.Sprintf("%s-%d", topic, i),
			Dir:                dir,
			Log:                lc,
			Raft:               replication.GroupConfig{Timing: fastTiming, SnapshotThreshold: 1 << 30, SnapshotInterval: time.Hour},
			Logger:             testLogger(),
			OnLeadershipChange: func(bool, int32) { b.leaders.Notify() },
		})
		if err != nil {
			return fail(err)
		}
		parts, dirs = append(parts, p), append(dirs, dir)
		if err := p.Bootstrap(ctx, []raft.Server{replication.Voter(b.node.ID(), b.node.Addr())}); err != nil {
			return fail(err)
		}
	}
	for _, p := range parts {
		for {
			ch := b.leaders.C()
			if p.Group().LeaderReady() { // the handlers serve it from then on
				break
			}
			select {
			case <-ch:
			case <-time.After(5 * time.Millisecond): // readiness follows leadership unsignalled
			case <-ctx.Done():
				return fail(fmt.Errorf("%w: partition %s has no leader", ErrTimeout, p.ID()))
			}
		}
	}
	return parts, dirs, nil
}

func (b *testBroker) DeleteTopic(ctx context.Context, name string) error {
	b.mu.Lock()
	tt, ok := b.mu.topics[name]
	if ok {
		delete(b.mu.topics, name)
	}
	b.mu.Unlock()
	if !ok {
		return ErrUnknownTopic
	}
	var errs []error
	for i, p := range tt.parts {
		errs = append(errs, p.Close(), os.RemoveAll(tt.dirs[i]))
	}
	return errors.Join(errs...)
}

func (b *testBroker) CreatePartitions(ctx context.Context, name string, total int32) error {
	b.mu.Lock()
	tt, ok := b.mu.topics[name]
	var have int32
	var configs map[string]string
	if ok {
		have = int32(len(tt.parts))
		configs = tt.info.Configs
	}
	b.mu.Unlock()
	if !ok {
		return ErrUnknownTopic
	}
	if total <= have {
		return ErrInvalidPartitions
	}
	parts, dirs, err := b.openPartitions(ctx, name, have, total, configs)
	if err != nil {
		return err
	}
	b.mu.Lock()
	tt.parts, tt.dirs = append(tt.parts, parts...), append(tt.dirs, dirs...)
	b.mu.Unlock()
	return nil
}

func (b *testBroker) Reassign(_ context.Context, topic string, part int32, replicas []int32) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	tt, ok := b.mu.topics[topic]
	if !ok || part < 0 || int(part) >= len(tt.parts) {
		return ErrUnknownTopic
	}
	if tt.targets == nil {
		tt.targets = map[int32][]int32{}
	}
	if replicas == nil {
		delete(tt.targets, part)
		return nil
	}
	tt.targets[part] = slices.Clone(replicas)
	return nil
}

// Decommission knows only this broker: the one-node test cluster.
func (b *testBroker) Decommission(_ context.Context, id int32) error {
	if id != b.ID() {
		return ErrUnknownBroker
	}
	return nil
}

func (b *testBroker) AlterTopicConfigs(ctx context.Context, name string, set map[string]*string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	tt, ok := b.mu.topics[name]
	if !ok {
		return ErrUnknownTopic
	}
	configs := map[string]string{}
	for k, v := range tt.info.Configs {
		configs[k] = v
	}
	for k, v := range set {
		if v == nil {
			delete(configs, k)
		} else {
			configs[k] = *v
		}
	}
	tt.info.Configs = configs
	return nil
}

func (b *testBroker) AllocateProducerID(ctx context.Context) (int64, int16, error) {
	return 1000 + b.pids.Add(1), 0, nil
}

// createTopic creates a topic through the backend, failing the test on error.
func (b *testBroker) createTopic(name string, partitions int32, configs map[string]string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := b.CreateTopic(ctx, name, partitions, 1, configs); err != nil {
		b.t.Fatalf("create topic %s: %v", name, err)
	}
}

func TestBackendStarts(t *testing.T) {
	b := startBroker(t, Config{})
	b.createTopic("t", 2, nil)
	if p := b.LocalPartition("t", 1); p == nil || !p.IsLeader() {
		t.Fatal("partition t-1 does not lead")
	}
}
