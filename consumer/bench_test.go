package consumer

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// slowStore is a MemoryStore whose writes take latency, standing in for a
// Raft round trip of the metadata group.
type slowStore struct {
	*MemoryStore
	latency time.Duration
}

func (s slowStore) Commit(ctx context.Context, commits []GroupCommit) error {
	time.Sleep(s.latency) // the simulated replication round trip, not a wait for a condition
	return s.MemoryStore.Commit(ctx, commits)
}

// BenchmarkCommit commits from concurrent groups, each committing one
// partition at a time and waiting for the answer (as a consumer's commit
// loop does), through the batching committer. It reports commits/s and
// commits per store write, into the memory store and into one whose writes
// take 1 ms.
func BenchmarkCommit(b *testing.B) {
	for _, latency := range []time.Duration{0, time.Millisecond} {
		for _, groups := range []int{1, 50} {
			name := fmt.Sprintf("groups=%d", groups)
			if latency > 0 {
				name += fmt.Sprintf("/write=%v", latency)
			}
			b.Run(name, func(b *testing.B) { benchCommit(b, groups, latency) })
		}
	}
}

func benchCommit(b *testing.B, groups int, latency time.Duration) {
	mem := NewMemoryStore()
	var store OffsetStore = mem
	if latency > 0 {
		store = slowStore{mem, latency}
	}
	c := New(Config{}, store)
	defer c.Close()
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for g := range groups {
		wg.Add(1)
		go func() {
			defer wg.Done()
			group := fmt.Sprintf("group-%d", g)
			done := make(chan error, 1)
			for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
				c.Commit(context.Background(), CommitRequest{
					Group: group, Generation: -1,
					Offsets: map[TopicPartition]Offset{{"topic", int32(i % 12)}: {Offset: i}},
				}, func(err error) { done <- err })
				if err := <-done; err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "commits/s")
	if w := mem.Writes(); w > 0 {
		b.ReportMetric(float64(b.N)/float64(w), "commits/write")
	}
}
