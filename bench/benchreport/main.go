// Command benchreport turns the output of `go test -bench` into a report: every
// figure of every benchmark, and the ratios the team's targets are stated in, each
// between two benchmarks measured in the same run (this machine is shared and
// noisy, so absolute figures from different runs do not compare).
//
// It reads benchmark output on stdin and writes Markdown to -md and JSON to -json.
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

func run() error {
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
	if len(results) == 0 {
		return errors.New("no benchmark results on stdin")
	}
	rs := computeRatios(results)

	var md strings.Builder
	markdown(&md, results, rs)
	if err := os.WriteFile(*mdPath, []byte(md.String()), 0o644); err != nil {
		return err
	}
	js, err := json.MarshalIndent(struct {
		Ratios  []ratioResult `json:"ratios"`
		Results []result      `json:"results"`
	}{rs, results}, "", "  ")
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
	fmt.Printf("report: %s, %s\n", *mdPath, *jsonPath)
	return nil
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
}
