package bench

import (
	"math"
	"math/bits"
	"time"
)

// Histogram counts non-negative int64 values (latencies in nanoseconds) in
// log-linear buckets, HDR-style: values below 2^histSubBits are counted exactly;
// above, every power-of-two range is split into 2^(histSubBits-1) equal buckets,
// so a reported value is within 1/2^(histSubBits-1) (0.8%) of the true one and
// never below it. Memory is fixed (histBuckets counters) whatever the range.
//
// A Histogram is not safe for concurrent use; its owner serialises access.
type Histogram struct {
	counts [histBuckets]uint64
	n      uint64
	sum    float64
	min    int64
	max    int64
}

const (
	histSubBits = 8
	histSub     = 1 << histSubBits // values below are exact
	histHalf    = histSub / 2
	// Exponents 1..63-histSubBits (int64 values) each hold histHalf buckets.
	histBuckets = histSub + (63-histSubBits)*histHalf
)

// bucketOf returns the bucket of v ≥ 0.
func bucketOf(v int64) int {
	u := uint64(v)
	if u < histSub {
		return int(u)
	}
	e := bits.Len64(u) - histSubBits // ≥ 1
	sub := u >> uint(e)              // in [histHalf, histSub)
	return histSub + (e-1)*histHalf + int(sub-histHalf)
}

// bucketHigh returns the highest value that falls in bucket i.
func bucketHigh(i int) int64 {
	if i < histSub {
		return int64(i)
	}
	e := (i-histSub)/histHalf + 1
	sub := uint64((i-histSub)%histHalf + histHalf)
	hi := (sub+1)<<uint(e) - 1
	if hi > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(hi)
}

// Record counts one value; a negative value (a clock step) counts as 0.
func (h *Histogram) Record(v int64) {
	v = max(v, 0)
	h.counts[bucketOf(v)]++
	if h.n == 0 || v < h.min {
		h.min = v
	}
	h.max = max(h.max, v)
	h.n++
	h.sum += float64(v)
}

// Merge adds every value counted by o to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.n += o.n
	h.sum += o.sum
}

// Reset forgets every value.
func (h *Histogram) Reset() { *h = Histogram{} }

// Count returns how many values were recorded.
func (h *Histogram) Count() uint64 { return h.n }

// Max returns the largest value recorded, exactly; 0 when empty.
func (h *Histogram) Max() int64 { return h.max }

// Mean returns the mean of the values recorded; 0 when empty.
func (h *Histogram) Mean() float64 {
	if h.n == 0 {
		return 0
	}
	return h.sum / float64(h.n)
}

// Quantile returns the value at quantile q in [0, 1]: the smallest recorded value
// v such that at least q of the values are ≤ v, rounded up to its bucket's
// highest value and capped at Max. It returns 0 when empty.
func (h *Histogram) Quantile(q float64) int64 {
	if h.n == 0 {
		return 0
	}
	q = min(max(q, 0), 1)
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = max(rank, 1)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return max(min(bucketHigh(i), h.max), h.min)
		}
	}
	return h.max
}

// Latency is a Histogram of durations summarised for a report, in milliseconds.
type Latency struct {
	Count  uint64  `json:"count"`
	MeanMs float64 `json:"mean_ms"`
	P50Ms  float64 `json:"p50_ms"`
	P90Ms  float64 `json:"p90_ms"`
	P99Ms  float64 `json:"p99_ms"`
	P999Ms float64 `json:"p99_9_ms"`
	MaxMs  float64 `json:"max_ms"`
}

func ms(ns int64) float64 { return float64(ns) / float64(time.Millisecond) }

// Summary returns h's percentiles in milliseconds.
func (h *Histogram) Summary() Latency {
	return Latency{
		Count:  h.n,
		MeanMs: h.Mean() / float64(time.Millisecond),
		P50Ms:  ms(h.Quantile(0.50)),
		P90Ms:  ms(h.Quantile(0.90)),
		P99Ms:  ms(h.Quantile(0.99)),
		P999Ms: ms(h.Quantile(0.999)),
		MaxMs:  ms(h.max),
	}
}
