package kafka

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestFetchLongPoll: a fetch with nothing to return waits for data on any
// of its partitions and answers as soon as MinBytes arrive; with none it
// answers empty at MaxWait; with fewer than MinBytes it answers at MaxWait
// with what there is.
func TestFetchLongPoll(t *testing.T) {
	b := startBroker(t, Config{})
	b.createTopic("lp", 2, nil)
	cl := newKgo(t, b)

	twoParts := func(minBytes, maxWaitMs int32) *kmsg.FetchRequest {
		req := fetchReq("lp", 0, 0)
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition, rp.PartitionMaxBytes = 1, 1<<20
		req.Topics[0].Partitions = append(req.Topics[0].Partitions, rp)
		req.MinBytes, req.MaxWaitMillis = minBytes, maxWaitMs
		return req
	}

	// Nothing arrives: empty at MaxWait.
	start := time.Now()
	resp, err := twoParts(1, 300).RequestWith(t.Context(), cl)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 300*time.Millisecond || len(resp.Topics[0].Partitions[1].RecordBatches) != 0 {
		t.Fatalf("empty fetch answered after %v with %d bytes", d, len(resp.Topics[0].Partitions[1].RecordBatches))
	}

	// Data arrives on partition 1 while the fetch waits (up to 30 s).
	type result struct {
		resp *kmsg.FetchResponse
		err  error
		at   time.Time
	}
	done := make(chan result, 1)
	go func() {
		resp, err := twoParts(1, 30000).RequestWith(t.Context(), cl)
		done <- result{resp, err, time.Now()}
	}()
	// Give the fetch a head start; if it arrives after the produce
	// instead, it answers at once and the test still holds.
	time.Sleep(100 * time.Millisecond)
	produced := time.Now()
	sp := produceOne(t, b.addr, produceReq("lp", 1, -1, 5000, plainBatch(3)))
	wantCode(t, "produce", sp.ErrorCode, nil)
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatal(r.err)
		}
		p1 := r.resp.Topics[0].Partitions[1]
		if len(p1.RecordBatches) == 0 || p1.HighWatermark != 3 {
			t.Fatalf("long poll answered %d bytes, high watermark %d", len(p1.RecordBatches), p1.HighWatermark)
		}
		t.Logf("long poll answered %v after the produce began", r.at.Sub(produced))
	case <-time.After(testDeadline):
		t.Fatal("long poll did not answer")
	}

	// Fewer than MinBytes: waits out MaxWait, then answers with the data.
	start = time.Now()
	resp, err = twoParts(1<<20, 400).RequestWith(t.Context(), cl)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 400*time.Millisecond || len(resp.Topics[0].Partitions[1].RecordBatches) == 0 {
		t.Fatalf("min-bytes fetch answered after %v with %d bytes", d, len(resp.Topics[0].Partitions[1].RecordBatches))
	}
}
