package kafka

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// testDeadline bounds every wait of a test on a condition.
const testDeadline = 60 * time.Second

func newKgo(t testing.TB, b *testBroker, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(b.addr), kgo.ClientID("kgo-kafka-test")}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// payload is a 1 KiB value shared by the records of the codec tests: random
// enough not to vanish under compression, repeated enough to shrink.
var payload = func() []byte {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, 1024)
	for i := range b {
		b[i] = "abcdefghijklmnopqrstuvwxyz0123456789"[r.IntN(36)]
	}
	return b
}()

// testRecord is record i of a test topic with parts partitions.
func testRecord(topic string, parts, i int) *kgo.Record {
	v := append(fmt.Appendf(nil, "%08d:", i), payload[:len(payload)-9]...)
	return &kgo.Record{
		Topic:     topic,
		Partition: int32(i % parts),
		Key:       fmt.Appendf(nil, "key-%d", i),
		Value:     v,
		Headers:   []kgo.RecordHeader{{Key: "i", Value: fmt.Appendf(nil, "%d", i)}},
	}
}

// produceAll produces n records with the client, asynchronously, and fails
// the test on any error. It returns how long the produce took.
func produceAll(t testing.TB, cl *kgo.Client, topic string, parts, n int) time.Duration {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testDeadline)
	defer cancel()
	start := time.Now()
	var mu sync.Mutex
	var firstErr error
	for i := range n {
		cl.Produce(ctx, testRecord(topic, parts, i), func(r *kgo.Record, err error) {
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = fmt.Errorf("record %s: %w", r.Key, err)
				}
				mu.Unlock()
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
	if firstErr != nil {
		t.Fatal(firstErr)
	}
	return time.Since(start)
}

// consumeAll reads partitions [0, parts) of topic from offset 0 until n
// records arrived, and checks that each partition holds exactly records
// p, p+parts, p+2*parts, ... in order, with their keys, values and headers.
func consumeAll(t testing.TB, b *testBroker, topic string, parts, n int) {
	t.Helper()
	offsets := map[int32]kgo.Offset{}
	for p := range parts {
		offsets[int32(p)] = kgo.NewOffset().At(0)
	}
	cl := newKgo(t, b, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}), kgo.FetchMaxWait(500*time.Millisecond))
	ctx, cancel := context.WithTimeout(t.Context(), testDeadline)
	defer cancel()
	next := make([]int, parts) // next expected record index per partition
	for p := range next {
		next[p] = p
	}
	got := 0
	for got < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d records: %v", got, n, err)
		}
		fs.EachError(func(topic string, p int32, err error) {
			t.Fatalf("fetch %s-%d: %v", topic, p, err)
		})
		fs.EachRecord(func(r *kgo.Record) {
			want := testRecord(topic, parts, next[r.Partition])
			if r.Offset != int64(next[r.Partition]/parts) {
				t.Fatalf("partition %d: offset %d, want %d", r.Partition, r.Offset, next[r.Partition]/parts)
			}
			if !bytes.Equal(r.Key, want.Key) || !bytes.Equal(r.Value, want.Value) ||
				len(r.Headers) != 1 || r.Headers[0].Key != "i" || !bytes.Equal(r.Headers[0].Value, want.Headers[0].Value) {
				t.Fatalf("partition %d offset %d: got key %q, want %q (or value/headers differ)", r.Partition, r.Offset, r.Key, want.Key)
			}
			next[r.Partition] += parts
			got++
		})
	}
}

func TestKgoProduceConsumeCodecs(t *testing.T) {
	b := startBroker(t, Config{})
	const parts, n = 8, 20000
	for _, c := range []struct {
		name  string
		codec kgo.CompressionCodec
	}{
		{"none", kgo.NoCompression()},
		{"gzip", kgo.GzipCompression()},
		{"snappy", kgo.SnappyCompression()},
		{"lz4", kgo.Lz4Compression()},
		{"zstd", kgo.ZstdCompression()},
	} {
		t.Run(c.name, func(t *testing.T) {
			topic := "kgo-" + c.name
			b.createTopic(topic, parts, nil)
			cl := newKgo(t, b, kgo.ProducerBatchCompression(c.codec), kgo.RecordPartitioner(kgo.ManualPartitioner()))
			d := produceAll(t, cl, topic, parts, n)
			t.Logf("%s: produced %d records of 1 KiB to %d partitions in %v: %.0f records/s, %.1f MiB/s",
				c.name, n, parts, d.Round(time.Millisecond), float64(n)/d.Seconds(), float64(n)/1024/d.Seconds())
			start := time.Now()
			consumeAll(t, b, topic, parts, n)
			t.Logf("%s: consumed in %v", c.name, time.Since(start).Round(time.Millisecond))
		})
	}
}
