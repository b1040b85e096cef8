package replication

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/cairnlog/cairn/internal/broadcast"
)

// noopFSM applies nothing: the benchmarks measure replication alone.
type noopFSM struct{}

func (noopFSM) Apply(*raft.Log) any { return nil }
func (noopFSM) Snapshot() (raft.FSMSnapshot, error) {
	return noopSnapshot{}, nil
}
func (noopFSM) Restore(rc io.ReadCloser) error { return rc.Close() }

type noopSnapshot struct{}

func (noopSnapshot) Persist(sink raft.SnapshotSink) error { return sink.Close() }
func (noopSnapshot) Release()                             {}

// benchCluster starts 3 nodes hosting groups replicated on all three, with
// the production timing (DefaultTiming) unless timing is given, waits for
// every group to elect a leader and for every replica to apply the leader's
// first entry, and returns each group's leader.
func benchCluster(b *testing.B, groups int, timing Timing) []*Group {
	b.Helper()
	nodes := make([]*Node, 3)
	for i := range nodes {
		n, err := NewNode(NodeConfig{ID: fmt.Sprintf("n%d", i+1), BindAddr: "127.0.0.1:0", Logger: testLogger(b)})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = n.Close() })
		nodes[i] = n
	}
	sig := broadcast.New()
	dir := b.TempDir()
	var servers []raft.Server
	for _, n := range nodes {
		servers = append(servers, Voter(n.ID(), n.Addr()))
	}
	all := make([][]*Group, groups)
	for i := range groups {
		id := fmt.Sprintf("p%03d", i)
		for _, n := range nodes {
			g, err := n.OpenGroup(GroupConfig{
				ID: id, Dir: filepath.Join(dir, n.ID(), id), FSM: noopFSM{}, Timing: timing,
				OnLeadershipChange: func(bool, uint64) { sig.Notify() },
			})
			if err != nil {
				b.Fatal(err)
			}
			if err := g.Bootstrap(b.Context(), servers); err != nil {
				b.Fatal(err)
			}
			all[i] = append(all[i], g)
		}
	}
	leaders := make([]*Group, groups)
	// Progress here is observed by polling raft's indexes (no FSM events with
	// a no-op FSM) on leadership signals and a short tick, with a deadline.
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	deadline := time.NewTimer(2 * time.Minute)
	defer deadline.Stop()
	for {
		done := true
		for i, gs := range all {
			leaders[i] = nil
			for _, g := range gs {
				if g.IsLeader() {
					leaders[i] = g
				}
			}
			if leaders[i] == nil {
				done = false
				continue
			}
			commit := leaders[i].Status().CommitIndex
			for _, g := range gs {
				if g.Status().AppliedIndex < commit || commit == 0 {
					done = false
				}
			}
		}
		if done {
			return leaders
		}
		select {
		case <-sig.C():
		case <-tick.C:
		case <-deadline.C:
			b.Fatal("groups did not settle")
		}
	}
}

// BenchmarkApplyNoopFSM measures Apply through the leader of 1, 4 and 16
// groups (3 replicas on raft-wal each) with 16 concurrent appliers spread
// over the groups. Latency is per Apply: propose, replicate, fsync, commit.
func BenchmarkApplyNoopFSM(b *testing.B) {
	for _, groups := range []int{1, 4, 16} {
		b.Run(fmt.Sprintf("groups=%d", groups), func(b *testing.B) {
			leaders := benchCluster(b, groups, Timing{})
			for _, size := range []int{1 << 10, 64 << 10} {
				b.Run(fmt.Sprintf("batch=%dKiB", size>>10), func(b *testing.B) {
					benchApply(b, leaders, size)
				})
			}
		})
	}
}

const benchAppliers = 16

func benchApply(b *testing.B, leaders []*Group, size int) {
	cmd := make([]byte, size)
	var (
		next    atomic.Int64 // commands left to apply
		mu      sync.Mutex
		samples []time.Duration
		wg      sync.WaitGroup
		failed  atomic.Value
	)
	b.SetBytes(int64(size))
	b.ResetTimer()
	next.Store(int64(b.N))
	start := time.Now()
	for w := range benchAppliers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g := leaders[w%len(leaders)]
			local := make([]time.Duration, 0, b.N/benchAppliers+1)
			for next.Add(-1) >= 0 {
				t0 := time.Now()
				if _, err := g.Apply(b.Context(), cmd); err != nil {
					failed.Store(err)
					return
				}
				local = append(local, time.Since(t0))
			}
			mu.Lock()
			samples = append(samples, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	slices.Sort(samples)
	pct := func(p float64) float64 {
		if len(samples) == 0 {
			return 0
		}
		return float64(samples[min(len(samples)-1, int(p*float64(len(samples))))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "applies/s")
}

// BenchmarkIdle measures what idle groups cost: 3 nodes in this process each
// hosting every group (so one process plays a whole cluster: divide by 3 for
// one broker). It reports CPU-seconds per wall second of the process over a
// fixed window, goroutines and sockets. REPLICATION_IDLE_TIMING=raft runs
// it with hashicorp/raft's default timing instead, for comparison.
func BenchmarkIdle(b *testing.B) {
	timing := Timing{}
	if os.Getenv("REPLICATION_IDLE_TIMING") == "raft" {
		d := raft.DefaultConfig()
		timing = Timing{HeartbeatTimeout: d.HeartbeatTimeout, ElectionTimeout: d.ElectionTimeout,
			LeaderLeaseTimeout: d.LeaderLeaseTimeout, CommitTimeout: d.CommitTimeout, MaxAppendEntries: d.MaxAppendEntries}
	}
	for _, groups := range []int{100, 300} {
		b.Run(fmt.Sprintf("groups=%d", groups), func(b *testing.B) {
			benchCluster(b, groups, timing)
			const window = 3 * time.Second
			var cpu float64
			for b.Loop() {
				before := cpuTime(b)
				t0 := time.Now()
				<-time.After(window) // the measurement window itself
				cpu = (cpuTime(b) - before).Seconds() / time.Since(t0).Seconds()
			}
			b.ReportMetric(cpu, "cpu-s/s")
			b.ReportMetric(float64(runtime.NumGoroutine()), "goroutines")
			b.ReportMetric(float64(countSockets()), "sockets")
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MiB")
		})
	}
}

// cpuTime is the user+system CPU time of this process.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// countSockets counts this process's open sockets (both ends of every
// in-process connection, and the listeners).
func countSockets() int {
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	n := 0
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err == nil && strings.HasPrefix(target, "socket:") {
			n++
		}
	}
	return n
}
