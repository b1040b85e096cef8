package partition

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/cairnlog/cairn/internal/broadcast"
	"github.com/cairnlog/cairn/log"
	"github.com/cairnlog/cairn/replication"
)

// fastTiming keeps elections and failovers short in tests.
var fastTiming = replication.Timing{
	HeartbeatTimeout:   300 * time.Millisecond,
	ElectionTimeout:    300 * time.Millisecond,
	LeaderLeaseTimeout: 150 * time.Millisecond,
	CommitTimeout:      20 * time.Millisecond,
}

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("CAIRN_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// replica is one node of a test cluster with its one partition replica.
type replica struct {
	id   string
	dir  string
	addr string // fixed across restarts: it is the Raft server address
	node *replication.Node
	p    *Partition
}

// cluster is one partition replicated on n nodes of this process, on loopback.
type cluster struct {
	t       testing.TB
	reps    []*replica
	changed *broadcast.Signal // leadership changes
	tweak   func(*Config)
	// mu guards the replicas' p fields: producers read them while a test
	// stops and starts replicas.
	mu sync.Mutex
}

// leading returns the replica that leads now, or nil.
func (c *cluster) leading() *replica {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range c.reps {
		if r.p != nil && r.p.IsLeader() {
			return r
		}
	}
	return nil
}

// running returns the open replicas' partitions.
func (c *cluster) running() []*Partition {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ps []*Partition
	for _, r := range c.reps {
		if r.p != nil {
			ps = append(ps, r.p)
		}
	}
	return ps
}

func newCluster(t testing.TB, n int, tweak func(*Config)) *cluster {
	t.Helper()
	c := &cluster{t: t, changed: broadcast.New(), tweak: tweak}
	root := t.TempDir()
	for i := range n {
		r := &replica{id: fmt.Sprintf("n%d", i+1), dir: filepath.Join(root, fmt.Sprintf("n%d", i+1), "orders-0"), addr: "127.0.0.1:0"}
		c.reps = append(c.reps, r)
		c.start(r)
	}
	var voters []raft.Server
	for _, r := range c.reps {
		voters = append(voters, replication.Voter(r.id, r.addr))
	}
	for _, r := range c.reps {
		if err := r.p.Bootstrap(t.Context(), voters); err != nil {
			t.Fatalf("bootstrap %s: %v", r.id, err)
		}
	}
	t.Cleanup(func() {
		for _, r := range c.reps {
			c.stop(r)
		}
	})
	return c
}

func (c *cluster) config(r *replica) Config {
	cfg := Config{
		ID:     "orders-0",
		Dir:    r.dir,
		Log:    log.Config{MaxSegmentBytes: 256 << 10},
		Raft:   replication.GroupConfig{Timing: fastTiming, SnapshotThreshold: 1 << 30, SnapshotInterval: time.Hour},
		Logger: testLogger(c.t).With("node", r.id),
		OnLeadershipChange: func(bool, int32) {
			c.changed.Notify()
		},
		// A snapshot restored at start-up that is ahead of the log is
		// completed from these.
		Peers: func() []string {
			c.mu.Lock()
			defer c.mu.Unlock()
			var addrs []string
			for _, o := range c.reps {
				if o != r {
					addrs = append(addrs, o.addr)
				}
			}
			return addrs
		},
	}
	if c.tweak != nil {
		c.tweak(&cfg)
	}
	return cfg
}

// start starts r's node on its address and opens its replica.
func (c *cluster) start(r *replica) {
	c.t.Helper()
	node, err := replication.NewNode(replication.NodeConfig{ID: r.id, BindAddr: r.addr, Logger: testLogger(c.t).With("node", r.id)})
	if err != nil {
		c.t.Fatalf("start node %s: %v", r.id, err)
	}
	c.mu.Lock()
	r.node, r.addr = node, node.Addr()
	c.mu.Unlock()
	var mu sync.Mutex
	var self *Partition
	ServeReads(node, func(id string) *Partition {
		mu.Lock()
		defer mu.Unlock()
		if self != nil && self.ID() == id {
			return self
		}
		return nil
	})
	p, err := Open(node, c.config(r))
	if err != nil {
		node.Close()
		c.t.Fatalf("open replica %s: %v", r.id, err)
	}
	mu.Lock()
	self = p
	mu.Unlock()
	c.mu.Lock()
	r.p = p
	c.mu.Unlock()
}

// stop shuts r down cleanly (its log syncs and marks a clean shutdown).
func (c *cluster) stop(r *replica) {
	c.mu.Lock()
	p := r.p
	r.p = nil
	c.mu.Unlock()
	if p == nil {
		return
	}
	if err := p.Close(); err != nil {
		c.t.Errorf("close replica %s: %v", r.id, err)
	}
	r.node.Close()
	r.node = nil
}

// crash stops r without syncing or closing its log, as a kill -9 would leave it,
// and then lets tear damage the unsynced files.
func (c *cluster) crash(r *replica, tear func(dir string)) {
	c.mu.Lock()
	p := r.p
	r.p = nil
	c.mu.Unlock()
	p.stopBackground()
	if err := p.group.Shutdown(); err != nil {
		c.t.Errorf("shutdown group %s: %v", r.id, err)
	}
	r.node.Close()
	// The abandoned *log.Log keeps its descriptors until the process ends; it is
	// never used again. Its unsynced bytes are in the page cache, so the tear
	// below is what stands for their loss.
	r.node = nil
	if tear != nil {
		tear(r.dir)
	}
}

// leader waits for a replica that is the leader and returns it.
func (c *cluster) leader(timeout time.Duration) *replica {
	c.t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		ch := c.changed.C()
		if r := c.leading(); r != nil {
			return r
		}
		select {
		case <-ch:
		case <-deadline.C:
			c.t.Fatalf("no leader after %v", timeout)
		}
	}
}

// idemBatch is a one-record batch of an idempotent producer.
func idemBatch(pid int64, epoch int16, seq int32) []byte {
	return log.AppendBatch(nil, log.BatchSpec{
		FirstTimestamp: time.Now().UnixMilli(),
		Values:         [][]byte{fmt.Appendf(nil, "producer %d sequence %d", pid, seq)},
		Idempotent:     true, ProducerID: pid, ProducerEpoch: epoch, BaseSequence: seq,
	})
}

// produce appends b through whichever replica leads, retrying the same bytes
// (an idempotent retry) across leader changes until it is acknowledged.
func (c *cluster) produce(ctx context.Context, b []byte) (AppendResult, error) {
	for {
		var leader *Partition
		ch := c.changed.C()
		for _, p := range c.running() {
			if p.IsLeader() {
				leader = p
				break
			}
		}
		if leader != nil {
			actx, cancel := context.WithTimeout(ctx, 5*time.Second)
			res, err := leader.Append(actx, b)
			cancel()
			if err == nil || !retriable(err) {
				return res, err
			}
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return AppendResult{}, ctx.Err()
		}
	}
}

func retriable(err error) bool {
	return errors.Is(err, ErrNotLeader) || errors.Is(err, replication.ErrClosed) ||
		errors.Is(err, raft.ErrRaftShutdown) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, raft.ErrLeadershipLost) || errors.Is(err, raft.ErrEnqueueTimeout)
}

// readAll returns a replica's committed log bytes [start, high watermark).
func readAll(t testing.TB, p *Partition) []byte {
	t.Helper()
	var out []byte
	for off := p.LogStartOffset(); off < p.HighWatermark(); {
		c, err := p.Read(off, 1<<20)
		if err != nil {
			t.Fatalf("read %s at %d: %v", p.ID(), off, err)
		}
		out, err = c.AppendTo(out)
		next := c.NextOffset()
		c.Close()
		if err != nil {
			t.Fatalf("read %s at %d: %v", p.ID(), off, err)
		}
		off = next
	}
	return out
}

// headers parses every batch header of a concatenation.
func headers(t testing.TB, b []byte) []log.BatchHeader {
	t.Helper()
	var hs []log.BatchHeader
	for len(b) > 0 {
		h, err := log.ParseBatchHeader(b)
		if err != nil {
			t.Fatalf("parse batch %d: %v", len(hs), err)
		}
		hs = append(hs, h)
		b = b[h.Size():]
	}
	return hs
}

// waitHW waits until p's high watermark reaches hw.
func waitHW(t testing.TB, p *Partition, hw int64, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	if got, err := p.Wait(ctx, hw-1); err != nil {
		t.Fatalf("%s: high watermark %d, waiting for %d: %v", p.ID(), got, hw, err)
	}
}

// sameLogs checks that every running replica holds byte-identical logs up to hw.
func (c *cluster) sameLogs(hw int64) []byte {
	c.t.Helper()
	var ref []byte
	var refID string
	for _, r := range c.reps {
		if r.p == nil {
			continue
		}
		waitHW(c.t, r.p, hw, 20*time.Second)
		got := readAll(c.t, r.p)
		if ref == nil {
			ref, refID = got, r.id
			continue
		}
		if !bytes.Equal(got, ref) {
			c.t.Fatalf("replica %s log (%d bytes) differs from %s (%d bytes)", r.id, len(got), refID, len(ref))
		}
	}
	return ref
}
