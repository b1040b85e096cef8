package main

import (
	"strings"
	"testing"
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
