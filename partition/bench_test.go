package partition

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/cairnlog/cairn/internal/broadcast"
	"github.com/cairnlog/cairn/log"
	"github.com/cairnlog/cairn/replication"
)

// benchPartitions starts 3 nodes hosting partitions replicated on all three,
// with the production timing, and returns each partition's leader once every
// replica has applied a first batch.
func benchPartitions(b *testing.B, partitions int) []*Partition {
	b.Helper()
	dir := b.TempDir()
	var nodes []*replication.Node
	for i := range 3 {
		n, err := replication.NewNode(replication.NodeConfig{ID: fmt.Sprintf("n%d", i+1), BindAddr: "127.0.0.1:0", Logger: testLogger(b)})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { n.Close() })
		nodes = append(nodes, n)
	}
	var servers []raft.Server
	for _, n := range nodes {
		servers = append(servers, replication.Voter(n.ID(), n.Addr()))
	}
	changed := broadcast.New()
	all := make([][]*Partition, partitions)
	for i := range partitions {
		id := fmt.Sprintf("bench-%d", i)
		for _, n := range nodes {
			p, err := Open(n, Config{
				ID: id, Dir: filepath.Join(dir, n.ID(), id), Logger: testLogger(b),
				OnLeadershipChange: func(bool, int32) { changed.Notify() },
			})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { p.Close() })
			if err := p.Bootstrap(b.Context(), servers); err != nil {
				b.Fatal(err)
			}
			all[i] = append(all[i], p)
		}
	}
	leaders := make([]*Partition, partitions)
	deadline := time.NewTimer(2 * time.Minute)
	defer deadline.Stop()
	for i, ps := range all {
		for leaders[i] == nil {
			ch := changed.C()
			for _, p := range ps {
				if p.IsLeader() {
					leaders[i] = p
				}
			}
			if leaders[i] != nil {
				break
			}
			select {
			case <-ch:
			case <-deadline.C:
				b.Fatal("no leader")
			}
		}
		if _, err := leaders[i].Append(b.Context(), benchBatch(100)); err != nil {
			b.Fatal(err)
		}
		for _, p := range ps {
			waitHW(b, p, 1, time.Minute)
		}
	}
	return leaders
}

// benchBatch is a non-idempotent batch of about size bytes: 1 KiB records.
func benchBatch(size int) []byte {
	value := make([]byte, min(size, 1<<10))
	var values [][]byte
	for n := 0; n+len(value) <= max(size-100, len(value)); n += len(value) + 10 {
		values = append(values, value)
	}
	return log.AppendBatch(nil, log.BatchSpec{FirstTimestamp: time.Now().UnixMilli(), Values: values})
}

// BenchmarkPartitionAppend is BenchmarkApplyNoopFSM of replication with the
// partition layer on top: validation, the Raft entry copy, the FSM (sequence
// checks, offset assignment, the log append) and the wake-up of waiters. The
// report compares the two.
func BenchmarkPartitionAppend(b *testing.B) {
	for _, partitions := range []int{1, 4, 16} {
		b.Run(fmt.Sprintf("partitions=%d", partitions), func(b *testing.B) {
			leaders := benchPartitions(b, partitions)
			for _, size := range []int{1 << 10, 64 << 10} {
				b.Run(fmt.Sprintf("batch=%dKiB", size>>10), func(b *testing.B) {
					benchAppend(b, leaders, benchBatch(size))
				})
			}
		})
	}
}

// benchAppenders matches replication's benchAppliers, so the two compare.
const benchAppenders = 16

func benchAppend(b *testing.B, leaders []*Partition, batch []byte) {
	var (
		left    atomic.Int64
		mu      sync.Mutex
		samples []time.Duration
		wg      sync.WaitGroup
		failed  atomic.Value
	)
	b.SetBytes(int64(len(batch)))
	b.ResetTimer()
	left.Store(int64(b.N))
	start := time.Now()
	for w := range benchAppenders {
		wg.Go(func() {
			p := leaders[w%len(leaders)]
			local := make([]time.Duration, 0, b.N/benchAppenders+1)
			for left.Add(-1) >= 0 {
				t0 := time.Now()
				if _, err := p.Append(b.Context(), batch); err != nil {
					failed.Store(err)
					return
				}
				local = append(local, time.Since(t0))
			}
			mu.Lock()
			samples = append(samples, local...)
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	slices.Sort(samples)
	pct := func(q float64) float64 {
		if len(samples) == 0 {
			return 0
		}
		return float64(samples[min(len(samples)-1, int(q*float64(len(samples))))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "appends/s")
}

// BenchmarkPartitionIdle measures what idle partitions cost: 3 nodes in this
// process, each hosting a replica of every partition (so divide by 3 for one
// broker). It reports CPU-seconds per wall second over a fixed window,
// goroutines, heap and open file descriptors.
func BenchmarkPartitionIdle(b *testing.B) {
	for _, partitions := range []int{100, 300} {
		b.Run(fmt.Sprintf("partitions=%d", partitions), func(b *testing.B) {
			benchPartitions(b, partitions)
			const window = 3 * time.Second
			var cpu float64
			for b.Loop() {
				before := processCPU(b)
				t0 := time.Now()
				<-time.After(window) // the measurement window itself
				cpu = (processCPU(b) - before).Seconds() / time.Since(t0).Seconds()
			}
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			fds, _ := os.ReadDir("/proc/self/fd")
			b.ReportMetric(cpu, "cpu-s/s")
			b.ReportMetric(float64(runtime.NumGoroutine()), "goroutines")
			b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MiB")
			b.ReportMetric(float64(len(fds)), "fds")
		})
	}
}

// processCPU is the user+system CPU time of this process.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
