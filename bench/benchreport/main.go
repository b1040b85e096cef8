// Command benchreport turns the output of `go test -bench` into a report: every
// figure of every benchmark, and the ratios the team's targets are stated in, each
// between two benchmarks measured in the same run (this machine is shared and
// noisy, so absolute figures from different runs do not compare).
//
// It reads benchmark output on stdin and writes Markdown to -md and JSON to -json.
// Each -e2e name=file adds the JSON summary of a `cairn bench` run, one row
// each. Runs named cairn and kfake (as fast as possible) and cairn-half and
// kfake-half (paced at half cairn's maximum rate) are compared: the ratio
// cairn/kfake of throughput and of p99 latency, at the maximum rate and at the
// same paced rate (kfake, franz-go's in-memory cluster, is the protocol
// ceiling).
// It never fails on a figure: a missed target is reported, not enforced.
//
//	go test -run '^$' -bench . ./... | benchreport -md bench-report.md -json bench-report.json
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/cairnlog/cairn/bench"
)

// A ratio compares one metric of two benchmarks: Num / Den. Higher is better when
// AtLeast is set, lower when AtMost is set.
type ratio struct {
	Name    string
	Num     string // benchmark name without the -GOMAXPROCS suffix
	Den     string
	Metric  string // "MB/s", "ns/op", or a custom b.ReportMetric unit
	AtLeast float64
	AtMost  float64
}

// ratios are the targets of the issues, as pairs measured in one run.
var ratios = []ratio{
	{Name: "log append 1 KiB batches vs raw write(2)", Num: "BenchmarkAppend/1KiB", Den: "BenchmarkRawWrite/1KiB", Metric: "MB/s", AtLeast: 0.8},
	{Name: "log append 64 KiB batches vs raw write(2)", Num: "BenchmarkAppend/64KiB", Den: "BenchmarkRawWrite/64KiB", Metric: "MB/s", AtLeast: 0.8},
	{Name: "seek by offset, 200 segments vs 1", Num: "BenchmarkSeekOffset/segments=200", Den: "BenchmarkSeekOffset/segments=1", Metric: "ns/op", AtMost: 1.2},
	{Name: "seek by timestamp, 200 segments vs 1", Num: "BenchmarkSeekTimestamp/segments=200", Den: "BenchmarkSeekTimestamp/segments=1", Metric: "ns/op", AtMost: 1.2},
	{Name: "recovery, unclean vs clean shutdown", Num: "BenchmarkRecovery/unclean", Den: "BenchmarkRecovery/clean", Metric: "ns/op"},
}

func init() {
	// The partition layer against raft-wal with a no-op FSM: overhead ≤ 15%.
	for _, groups := range []int{1, 4, 16} {
		for _, size := range []string{"1KiB", "64KiB"} {
			ratios = append(ratios, ratio{
				Name:    fmt.Sprintf("replicated append, %d partitions × 3, %s batches vs no-op FSM", groups, size),
				Num:     fmt.Sprintf("BenchmarkPartitionAppend/partitions=%d/batch=%s", groups, size),
				Den:     fmt.Sprintf("BenchmarkApplyNoopFSM/groups=%d/batch=%s", groups, size),
				Metric:  "MB/s",
				AtLeast: 0.85,
			})
		}
	}
}

type result struct {
	Name    string             `json:"name"`
	Package string             `json:"package,omitempty"`
	N       int64              `json:"n"`
	Metrics map[string]float64 `json:"metrics"`
}

type ratioResult struct {
	ratio
	Value float64 `json:"value"`
	Met   *bool   `json:"met,omitempty"`
}

var benchLine = regexp.MustCompile(`^(Benchmark\S+?)(-\d+)?\s+(\d+)\s+(.*)$`)

func parse(r io.Reader) ([]result, error) {
	var out []result
	pkg := ""
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = strings.TrimSpace(p)
			continue
		}
		m := benchLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		n, err := strconv.ParseInt(m[3], 10, 64)
		if err != nil {
			continue
		}
		res := result{Name: m[1], Package: pkg, N: n, Metrics: map[string]float64{}}
		fields := strings.Fields(m[4])
		for i := 0; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				break
			}
			res.Metrics[fields[i+1]] = v
		}
		out = append(out, res)
	}
	return out, sc.Err()
}

func computeRatios(results []result) []ratioResult {
	byName := map[string]result{}
	for _, r := range results {
		byName[r.Name] = r
	}
	var out []ratioResult
	for _, q := range ratios {
		num, ok1 := byName[q.Num]
		den, ok2 := byName[q.Den]
		if !ok1 || !ok2 {
			continue
		}
		a, okA := num.Metrics[q.Metric]
		b, okB := den.Metrics[q.Metric]
		if !okA || !okB || b == 0 {
			continue
		}
		rr := ratioResult{ratio: q, Value: a / b}
		switch {
		case q.AtLeast > 0:
			met := rr.Value >= q.AtLeast
			rr.Met = &met
		case q.AtMost > 0:
			met := rr.Value <= q.AtMost
			rr.Met = &met
		}
		out = append(out, rr)
	}
	return out
}

func markdown(w io.Writer, results []result, rs []ratioResult) {
	fmt.Fprintln(w, "# cairn benchmark report")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Ratios compare two benchmarks of the same run; targets are reported, never enforced.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| ratio | metric | value | target | met |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	for _, r := range rs {
		target, met := "—", "—"
		if r.AtLeast > 0 {
			target = fmt.Sprintf("≥ %.2f", r.AtLeast)
		}
		if r.AtMost > 0 {
			target = fmt.Sprintf("≤ %.2f", r.AtMost)
		}
		if r.Met != nil {
			met = map[bool]string{true: "yes", false: "**no**"}[*r.Met]
		}
		fmt.Fprintf(w, "| %s | %s | %.3f | %s | %s |\n", r.Name, r.Metric, r.Value, target, met)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| benchmark | package | iterations | figures |")
	fmt.Fprintln(w, "|---|---|---|---|")
	for _, r := range results {
		units := make([]string, 0, len(r.Metrics))
		for u := range r.Metrics {
			units = append(units, u)
		}
		sort.Strings(units)
		figs := make([]string, 0, len(units))
		for _, u := range units {
			figs = append(figs, fmt.Sprintf("%s %s", strconv.FormatFloat(r.Metrics[u], 'g', 6, 64), u))
		}
		fmt.Fprintf(w, "| %s | %s | %d | %s |\n", r.Name, r.Package, r.N, strings.Join(figs, ", "))
	}
}

// workload is one named `cairn bench` run read from -e2e.
type workload struct {
	Name    string         `json:"name"`
	Summary *bench.Summary `json:"summary"`
}

// workloadPairs are the runs compared, cairn's first: at the maximum rate,
// and paced at half of it.
var workloadPairs = [][2]string{{"cairn", "kfake"}, {"cairn-half", "kfake-half"}}

// workloadRatio is cairn against kfake on one workload figure.
type workloadRatio struct {
	Name   string  `json:"name"`
	Cairn  float64 `json:"cairn"`
	Kfake  float64 `json:"kfake"`
	Value  float64 `json:"value"` // cairn / kfake
	Better string  `json:"better"`
}

func readWorkload(spec string) (workload, error) {
	name, path, ok := strings.Cut(spec, "=")
	if !ok || name == "" || path == "" {
		return workload{}, fmt.Errorf("-e2e %q: want name=file", spec)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return workload{}, err
	}
	var s bench.Summary
	if err := json.Unmarshal(b, &s); err != nil {
		return workload{}, fmt.Errorf("-e2e %s: %w", spec, err)
	}
	return workload{Name: name, Summary: &s}, nil
}

// workloadRatios compares the runs of each of workloadPairs found in ws.
func workloadRatios(ws []workload) []workloadRatio {
	byName := map[string]*bench.Summary{}
	for _, w := range ws {
		byName[w.Name] = w.Summary
	}
	var out []workloadRatio
	for _, pair := range workloadPairs {
		c, k := byName[pair[0]], byName[pair[1]]
		if c == nil || k == nil || c.Produced == nil || k.Produced == nil {
			continue
		}
		suffix := ""
		if c.TargetRate > 0 {
			suffix = fmt.Sprintf(" at %.0f records/s", c.TargetRate)
		}
		add := func(name string, a, b float64, better string) {
			if b > 0 {
				out = append(out, workloadRatio{Name: name + suffix, Cairn: a, Kfake: b, Value: a / b, Better: better})
			}
		}
		if c.TargetRate == 0 {
			// Paced runs send what they are told: only latency compares.
			add("produce throughput (records/s)", c.Produced.RecordsPerSec, k.Produced.RecordsPerSec, "higher")
			if c.Consumed != nil && k.Consumed != nil {
				add("consume throughput (records/s)", c.Consumed.RecordsPerSec, k.Consumed.RecordsPerSec, "higher")
			}
		}
		if c.ProduceLatency != nil && k.ProduceLatency != nil {
			add("ack latency p99 (ms)", c.ProduceLatency.P99Ms, k.ProduceLatency.P99Ms, "lower")
		}
		if c.EndToEndLatency != nil && k.EndToEndLatency != nil {
			add("end-to-end latency p99 (ms)", c.EndToEndLatency.P99Ms, k.EndToEndLatency.P99Ms, "lower")
		}
	}
	return out
}

func markdownWorkloads(w io.Writer, ws []workload, rs []workloadRatio) {
	if len(ws) == 0 {
		return
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "## Workloads over the network (`cairn bench`)")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Records/s and MB/s are acknowledged (consumed, for a replay); latency is end to end (send → receive),")
	fmt.Fprintln(w, "else send → acknowledgement. A paced run's schedule is open loop: latency counts from each record's due time.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| run | mode | pace | partitions × RF | record | acks | records/s | MB/s | p50 ms | p99 ms | p99.9 ms | max ms | lost | duplicated | errors |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, x := range ws {
		s := x.Summary
		var tp bench.Throughput
		if s.Produced != nil {
			tp = *s.Produced
		} else if s.Consumed != nil {
			tp = *s.Consumed
		}
		l := s.EndToEndLatency
		if l == nil {
			l = s.ProduceLatency
		}
		lat := [4]string{"—", "—", "—", "—"}
		if l != nil && l.Count > 0 {
			for i, v := range []float64{l.P50Ms, l.P99Ms, l.P999Ms, l.MaxMs} {
				lat[i] = fmt.Sprintf("%.3f", v)
			}
		}
		// A replay creates nothing and sends nothing: the topic's
		// replication, the record size and the acks are not its settings.
		pace, rf, size, acks := "max", fmt.Sprint(s.Replication), fmt.Sprintf("%d B", s.RecordBytes), s.Acks
		switch {
		case s.Mode == bench.ModeConsume:
			pace, rf, size, acks = "replay", "—", "—", "—"
		case s.TargetRate > 0:
			pace = fmt.Sprintf("%.0f/s", s.TargetRate)
		}
		lost, dup := "—", "—"
		if d := s.Delivery; d != nil {
			lost, dup = strconv.FormatUint(d.Lost, 10), strconv.FormatUint(d.Duplicated, 10)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %d × %s | %s | %s | %.0f | %.2f | %s | %s | %s | %s | %s | %s | %d |\n",
			x.Name, s.Mode, pace, s.Partitions, rf, size, acks, tp.RecordsPerSec, tp.MBPerSec,
			lat[0], lat[1], lat[2], lat[3], lost, dup, s.ProduceErrs+s.ConsumeErrs)
	}
	if len(rs) == 0 {
		return
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| cairn / kfake | cairn | kfake | ratio | better |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	for _, r := range rs {
		fmt.Fprintf(w, "| %s | %.3f | %.3f | %.3f | %s |\n", r.Name, r.Cairn, r.Kfake, r.Value, r.Better)
	}
}

func run() error {
	var workloads []workload
	flag.Func("e2e", "name=file: the JSON summary of a `cairn bench` run (repeatable; cairn and kfake are compared)", func(spec string) error {
		w, err := readWorkload(spec)
		if err == nil {
			workloads = append(workloads, w)
		}
		return err
	})
	mdPath := flag.String("md", "bench-report.md", "where to write the Markdown report")
	jsonPath := flag.String("json", "bench-report.json", "where to write the JSON report")
	flag.Parse()
	if flag.NArg() != 0 {
		return fmt.Errorf("unexpected argument %q: benchmark output is read from stdin", flag.Arg(0))
	}
	results, err := parse(os.Stdin)
	if err != nil {
		return fmt.Errorf("read benchmark output: %w", err)
	}
	if len(results) == 0 && len(workloads) == 0 {
		return errors.New("no benchmark results on stdin")
	}
	rs := computeRatios(results)
	wrs := workloadRatios(workloads)

	var md strings.Builder
	markdown(&md, results, rs)
	markdownWorkloads(&md, workloads, wrs)
	if err := os.WriteFile(*mdPath, []byte(md.String()), 0o644); err != nil {
		return err
	}
	js, err := json.MarshalIndent(struct {
		Ratios         []ratioResult   `json:"ratios"`
		Results        []result        `json:"results"`
		Workloads      []workload      `json:"workloads,omitempty"`
		WorkloadRatios []workloadRatio `json:"workload_ratios,omitempty"`
	}{rs, results, workloads, wrs}, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(*jsonPath, append(js, '\n'), 0o644); err != nil {
		return err
	}
	// The ratios are the headline: print them where the person running make bench looks.
	for _, r := range rs {
		met := ""
		if r.Met != nil {
			met = map[bool]string{true: " (target met)", false: " (TARGET MISSED)"}[*r.Met]
		}
		fmt.Printf("%-70s %8.3f%s\n", r.Name, r.Value, met)
	}
	for _, r := range wrs {
		fmt.Printf("%-70s %8.3f (%s is better)\n", "cairn/kfake "+r.Name, r.Value, r.Better)
	}
	for _, w := range workloads {
		if s := w.Summary; s.TargetRate > 0 && s.EndToEndLatency != nil {
			fmt.Printf("%-70s %8.3f ms\n", fmt.Sprintf("%s end-to-end p99 at %.0f records/s", w.Name, s.TargetRate), s.EndToEndLatency.P99Ms)
		}
	}
	fmt.Printf("report: %s, %s\n", *mdPath, *jsonPath)
	return nil
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
}
