package main

import (
	"strings"
	"testing"

	"github.com/cairnlog/cairn/bench"
)

const sample = `goos: linux
pkg: github.com/cairnlog/cairn/log
BenchmarkAppend/1KiB-2         	  100000	     10000 ns/op	 100.00 MB/s	       0 B/op
BenchmarkRawWrite/1KiB-2       	  100000	      8000 ns/op	 125.00 MB/s
BenchmarkSeekOffset/segments=1-2    	 1000000	      1000 ns/op
BenchmarkSeekOffset/segments=200-2  	 1000000	      1300 ns/op	  2.5 p99-ms
PASS
`

func TestParseAndRatios(t *testing.T) {
	results, err := parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 4 {
		t.Fatalf("parsed %d results, want 4: %+v", len(results), results)
	}
	last := results[3]
	if last.Name != "BenchmarkSeekOffset/segments=200" || last.Package != "github.com/cairnlog/cairn/log" {
		t.Fatalf("last result = %+v", last)
	}
	if last.Metrics["ns/op"] != 1300 || last.Metrics["p99-ms"] != 2.5 {
		t.Fatalf("metrics = %v", last.Metrics)
	}
	rs := computeRatios(results)
	got := map[string]ratioResult{}
	for _, r := range rs {
		got[r.Num] = r
	}
	app, ok := got["BenchmarkAppend/1KiB"]
	if !ok || app.Value != 0.8 || app.Met == nil || !*app.Met {
		t.Fatalf("append ratio = %+v", app)
	}
	seek, ok := got["BenchmarkSeekOffset/segments=200"]
	if !ok || seek.Value != 1.3 || seek.Met == nil || *seek.Met {
		t.Fatalf("seek ratio = %+v", seek)
	}
	if _, ok := got["BenchmarkAppend/64KiB"]; ok {
		t.Fatal("a ratio with a missing side was reported")
	}
}

func TestWorkloads(t *testing.T) {
	e2e := func(rate, recsPerSec, p99 float64) *bench.Summary {
		return &bench.Summary{
			Mode: bench.ModeE2E, Partitions: 3, Replication: 3, RecordBytes: 1024, Acks: "all", TargetRate: rate,
			Produced:        &bench.Throughput{RecordsPerSec: recsPerSec},
			Consumed:        &bench.Throughput{RecordsPerSec: recsPerSec},
			ProduceLatency:  &bench.Latency{Count: 1, P99Ms: p99 / 2},
			EndToEndLatency: &bench.Latency{Count: 1, P99Ms: p99},
			Delivery:        &bench.Delivery{OK: true},
		}
	}
	ws := []workload{
		{"cairn", e2e(0, 10000, 40)},
		{"cairn-half", e2e(5000, 5000, 8)},
		{"cairn-replay", &bench.Summary{Mode: bench.ModeConsume, Partitions: 3, Replication: 1, RecordBytes: 1024, Acks: "all",
			Consumed: &bench.Throughput{RecordsPerSec: 80000}, Delivery: &bench.Delivery{OK: true}}},
		{"kfake", e2e(0, 40000, 10)},
		{"kfake-half", e2e(5000, 5000, 2)},
	}
	rs := workloadRatios(ws)
	got := map[string]float64{}
	for _, r := range rs {
		got[r.Name] = r.Value
	}
	want := map[string]float64{
		"produce throughput (records/s)":                0.25,
		"consume throughput (records/s)":                0.25,
		"ack latency p99 (ms)":                          4,
		"end-to-end latency p99 (ms)":                   4,
		"ack latency p99 (ms) at 5000 records/s":        4,
		"end-to-end latency p99 (ms) at 5000 records/s": 4,
	}
	if len(got) != len(want) {
		t.Fatalf("ratios %v, want %v", got, want)
	}
	for name, v := range want {
		if got[name] != v {
			t.Errorf("%s = %v, want %v", name, got[name], v)
		}
	}
	var md strings.Builder
	markdownWorkloads(&md, ws, rs)
	for _, row := range []string{
		"| cairn | e2e | max | 3 × 3 | 1024 B | all | 10000 | 0.00 | 0.000 | 40.000 |",
		"| cairn-half | e2e | 5000/s | 3 × 3 |",
		"| cairn-replay | consume | replay | 3 × — | — | — | 80000 | 0.00 | — | — | — | — | 0 | 0 | 0 |",
		"| end-to-end latency p99 (ms) at 5000 records/s | 8.000 | 2.000 | 4.000 | lower |",
	} {
		if !strings.Contains(md.String(), row) {
			t.Errorf("report lacks %q:\n%s", row, md.String())
		}
	}
}
