package bench

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// TestHistogramQuantiles compares every quantile with a sorted-slice oracle: the
// histogram's answer is never below the true value and within its bucket width.
func TestHistogramQuantiles(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	dists := map[string]func() int64{
		"small exact": func() int64 { return rng.Int64N(200) },
		"uniform ms":  func() int64 { return rng.Int64N(int64(50 * time.Millisecond)) },
		"exponential": func() int64 { return int64(rng.ExpFloat64() * float64(time.Millisecond)) },
		"heavy tail":  func() int64 { return int64(1 / (rng.Float64() + 1e-9) * 1000) },
		"one value":   func() int64 { return 123456789 },
		"huge":        func() int64 { return rng.Int64() },
		"with zeros":  func() int64 { return rng.Int64N(3) * 1000 },
	}
	for name, gen := range dists {
		t.Run(name, func(t *testing.T) {
			var h Histogram
			vals := make([]int64, 5000)
			for i := range vals {
				vals[i] = gen()
				h.Record(vals[i])
			}
			slices.Sort(vals)
			for _, q := range []float64{0, 0.001, 0.25, 0.5, 0.9, 0.99, 0.999, 1} {
				rank := max(int(float64(len(vals))*q+0.999999999), 1)
				want := vals[rank-1]
				got := h.Quantile(q)
				if got < want || float64(got-want) > float64(want)/float64(histHalf)+1 {
					t.Errorf("q%.3f = %d, oracle %d", q, got, want)
				}
			}
			if h.Max() != vals[len(vals)-1] || h.Count() != uint64(len(vals)) {
				t.Errorf("max %d count %d, want %d %d", h.Max(), h.Count(), vals[len(vals)-1], len(vals))
			}
			var m Histogram
			m.Merge(&h)
			if m.Quantile(0.99) != h.Quantile(0.99) || m.Count() != h.Count() {
				t.Error("merge changed the distribution")
			}
		})
	}
	var empty Histogram
	if empty.Quantile(0.5) != 0 || empty.Max() != 0 {
		t.Error("empty histogram answers non-zero")
	}
}

func TestBucketsMonotonic(t *testing.T) {
	for i := 1; i < histBuckets; i++ {
		if bucketHigh(i) <= bucketHigh(i-1) {
			t.Fatalf("bucket %d high %d ≤ bucket %d high %d", i, bucketHigh(i), i-1, bucketHigh(i-1))
		}
		if lo := bucketHigh(i-1) + 1; bucketOf(lo) != i || bucketOf(bucketHigh(i)) != i {
			t.Fatalf("bucket %d: [%d, %d] maps to %d, %d", i, lo, bucketHigh(i), bucketOf(lo), bucketOf(bucketHigh(i)))
		}
	}
}

func TestChecker(t *testing.T) {
	tests := []struct {
		name  string
		acked []uint64
		read  []uint64
		want  Delivery
	}{
		{"exact", []uint64{0, 1, 2}, []uint64{0, 1, 2}, Delivery{Acked: 3, Read: 3, OK: true}},
		{"reordered", []uint64{0, 1, 2, 3}, []uint64{3, 1, 0, 2}, Delivery{Acked: 4, Read: 4, OK: true}},
		{"lost", []uint64{0, 1, 2, 3}, []uint64{0, 3}, Delivery{Acked: 4, Read: 2, Lost: 2}},
		{"duplicated", []uint64{0, 1}, []uint64{0, 1, 1, 1}, Delivery{Acked: 2, Read: 4, Duplicated: 2}},
		{"lost and duplicated", []uint64{0, 1, 2}, []uint64{0, 0, 2}, Delivery{Acked: 3, Read: 3, Lost: 1, Duplicated: 1}},
		{"unacked read", []uint64{0}, []uint64{0, 1}, Delivery{Acked: 1, Read: 2, Unacked: 1, OK: true}},
		{"unacked duplicated", []uint64{}, []uint64{5, 5}, Delivery{Read: 2, Duplicated: 1, Unacked: 1}},
		{"nothing", nil, nil, Delivery{OK: true}},
		{"sparse growth", []uint64{0, 5000}, []uint64{5000}, Delivery{Acked: 2, Read: 1, Lost: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c Checker
			for _, s := range tt.acked {
				c.Ack(s)
			}
			for _, s := range tt.read {
				c.Read(s)
			}
			if got := c.Result(); got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	// A replay marks what it cannot know as acknowledged up to the highest read.
	var c Checker
	for _, s := range []uint64{0, 2, 3, 3} {
		c.Read(s)
	}
	c.AckUpTo(c.Len())
	if got, want := c.Result(), (Delivery{Acked: 4, Read: 4, Lost: 1, Duplicated: 1}); got != want {
		t.Errorf("replay: got %+v, want %+v", got, want)
	}
}

func TestHeaderRoundTrip(t *testing.T) {
	v := make([]byte, HeaderBytes+3)
	h := header{run: 7, seq: 1 << 40, sent: time.Unix(1700000000, 123)}
	h.put(v)
	got, ok := parseHeader(v)
	if !ok || got.run != h.run || got.seq != h.seq || !got.sent.Equal(h.sent) {
		t.Fatalf("got %+v %v, want %+v", got, ok, h)
	}
	if _, ok := parseHeader([]byte("not a benchmark record, long enough")); ok {
		t.Fatal("foreign value parsed")
	}
}

func TestConfigValidate(t *testing.T) {
	ok := Config{Brokers: []string{"x:1"}, Mode: ModeE2E, Records: 1}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []func(*Config){
		func(c *Config) { c.Brokers = nil },
		func(c *Config) { c.Mode = "both" },
		func(c *Config) { c.Records = 0 },
		func(c *Config) { c.RecordBytes = 10 },
		func(c *Config) { c.Acks = "1" },
		func(c *Config) { c.Compression = "brotli" },
		func(c *Config) { c.Consumers = 4 },
		func(c *Config) { c.Rate = -1 },
	} {
		c := ok
		bad(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
}

// TestEndToEndKfake runs a short end-to-end workload against franz-go's
// in-memory cluster, then replays it, and checks that the summaries agree.
func TestEndToEndKfake(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(3))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cfg := Config{
		Brokers: c.ListenAddrs(), Mode: ModeE2E, Topic: "e2e", Partitions: 3, Replication: 3,
		RecordBytes: 256, Records: 300, Producers: 2, Consumers: 2, Compression: "lz4",
		ProgressInterval: 50 * time.Millisecond,
	}
	var progress bytes.Buffer
	s, err := Run(t.Context(), cfg, &progress)
	if err != nil {
		t.Fatal(err)
	}
	if s.Produced == nil || s.Consumed == nil || s.Delivery == nil || s.EndToEndLatency == nil || s.ProduceLatency == nil {
		t.Fatalf("missing sections: %+v", s)
	}
	if s.Produced.Records != 300 || s.Produced.Bytes != 300*256 || s.Consumed.Records != 300 {
		t.Errorf("produced %+v consumed %+v, want 300 records each", s.Produced, s.Consumed)
	}
	if d := *s.Delivery; !d.OK || d.Acked != 300 || d.Read != 300 || d.Lost != 0 || d.Duplicated != 0 {
		t.Errorf("delivery %+v", d)
	}
	if l := s.EndToEndLatency; l.Count != 300 || l.P50Ms > l.P90Ms || l.P90Ms > l.P99Ms || l.P99Ms > l.P999Ms || l.P999Ms > l.MaxMs || l.MaxMs <= 0 {
		t.Errorf("e2e latency %+v", l)
	}
	if s.ProduceErrs != 0 || s.ConsumeErrs != 0 {
		t.Errorf("errors: %d produce, %d consume: %s", s.ProduceErrs, s.ConsumeErrs, s.FirstError)
	}
	var text bytes.Buffer
	if err := s.WriteText(&text); err != nil || !strings.Contains(text.String(), "exactly once") {
		t.Errorf("text summary: %v\n%s", err, text.String())
	}
	if _, err := json.Marshal(s); err != nil {
		t.Error(err)
	}

	// A replay from the start reads the same 300 records exactly once.
	cfg.Mode, cfg.Records = ModeConsume, 0
	r, err := Run(t.Context(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d := *r.Delivery; !d.OK || d.Read != 300 || d.Acked != 300 || r.Runs != 1 || r.Produced != nil {
		t.Errorf("replay: delivery %+v, runs %d", d, r.Runs)
	}
}

// TestRateOpenLoop: a paced run sends on schedule, never ahead of it, and
// counts latency from each record's due time.
func TestRateOpenLoop(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	const rate, records = 1000, 400
	cfg := Config{
		Brokers: c.ListenAddrs(), Mode: ModeE2E, Topic: "paced", Partitions: 1,
		RecordBytes: 64, Records: records, Rate: rate,
	}
	s, err := Run(t.Context(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.Produced.Records != records || s.Consumed.Records != records || !s.Delivery.OK {
		t.Fatalf("produced %+v consumed %+v delivery %+v", s.Produced, s.Consumed, s.Delivery)
	}
	// The last record is due (records-1)/rate after the start: the run cannot
	// have acknowledged it sooner, so the rate achieved is at most the target.
	if minElapsed := float64(records-1) / rate; s.Produced.ElapsedSec < minElapsed {
		t.Errorf("sent %d records in %.3fs, ahead of the %.0f/s schedule (%.3fs)", records, s.Produced.ElapsedSec, float64(rate), minElapsed)
	}
	if s.TargetRate != rate {
		t.Errorf("target rate %v, want %v", s.TargetRate, rate)
	}
}
