package campaign

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cairnlog/cairn/faults/checker"
)

// RunResult is one run of a campaign.
type RunResult struct {
	Run      int           `json:"run"`
	Seed     int64         `json:"seed"`
	Dir      string        `json:"dir"`
	Duration time.Duration `json:"duration_ns"`
	// Faults counts the nemesis actions by kind.
	Faults map[string]int `json:"faults"`
	// Ops counts the history's operations as "kind/outcome".
	Ops map[string]int `json:"ops"`
	// Violations counts violations by category; zero categories are left out.
	Violations map[string]int `json:"violations"`
	// Storage counts the brokers' own log lines about damaged data: found
	// at open or by a read or scrub, repaired, repair failed.
	Storage map[string]int `json:"storage,omitempty"`
	// Examples are the first violations of each category, printable.
	Examples []string `json:"examples,omitempty"`
	// Err is a harness failure (the cluster did not start, the final read
	// did not complete): the run proves nothing and counts as failed.
	Err string `json:"err,omitempty"`
}

// Failed reports whether the run found a violation or could not complete.
func (r *RunResult) Failed() bool { return r.Err != "" || len(r.Violations) > 0 }

// Summary is a whole campaign.
type Summary struct {
	Runs       []RunResult    `json:"runs"`
	Faults     map[string]int `json:"faults"`
	Ops        map[string]int `json:"ops"`
	Violations map[string]int `json:"violations"`
	Storage    map[string]int `json:"storage"`
	Failed     int            `json:"failed_runs"`
}

// add folds one run into the totals.
func (s *Summary) add(r RunResult) {
	s.Runs = append(s.Runs, r)
	if s.Faults == nil {
		s.Faults, s.Ops, s.Violations, s.Storage = map[string]int{}, map[string]int{}, map[string]int{}, map[string]int{}
	}
	for k, v := range r.Storage {
		s.Storage[k] += v
	}
	for k, v := range r.Faults {
		s.Faults[k] += v
	}
	for k, v := range r.Ops {
		s.Ops[k] += v
	}
	for k, v := range r.Violations {
		s.Violations[k] += v
	}
	if r.Failed() {
		s.Failed++
	}
}

// Text is the summary as tables: one line per run, then the totals of faults,
// operations and violations (every category, zeros included, so a reader
// sees what was checked).
func (s *Summary) Text() string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tSEED\tSECONDS\tFAULTS\tSENDS OK/FAIL/UNKNOWN\tPOLLS\tVIOLATIONS\tRESULT")
	for _, r := range s.Runs {
		result := "ok"
		switch {
		case r.Err != "":
			result = "error: " + r.Err
		case len(r.Violations) > 0:
			result = "VIOLATIONS"
		}
		fmt.Fprintf(tw, "%d\t%d\t%.0f\t%d\t%d/%d/%d\t%d\t%d\t%s\n", r.Run, r.Seed, r.Duration.Seconds(),
			sum(r.Faults), r.Ops["send/ok"], r.Ops["send/fail"], r.Ops["send/unknown"], r.Ops["poll/ok"], sum(r.Violations), result)
	}
	tw.Flush()
	fmt.Fprintf(&b, "\nruns: %d, failed: %d\n", len(s.Runs), s.Failed)
	section := func(title string, m map[string]int, keys []string) {
		fmt.Fprintf(&b, "\n%s\n", title)
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		for _, k := range keys {
			fmt.Fprintf(tw, "  %s\t%d\n", k, m[k])
		}
		tw.Flush()
	}
	section("faults injected", s.Faults, slices.Sorted(maps.Keys(s.Faults)))
	section("operations (kind/outcome)", s.Ops, slices.Sorted(maps.Keys(s.Ops)))
	section("brokers' storage log lines", s.Storage, slices.Sorted(maps.Keys(s.Storage)))
	cats := make([]string, 0, len(checker.Categories))
	for _, c := range checker.Categories {
		cats = append(cats, string(c))
	}
	for k := range s.Violations { // a category the list does not name yet
		if !slices.Contains(cats, k) {
			cats = append(cats, k)
		}
	}
	section("violations by category", s.Violations, cats)
	for _, r := range s.Runs {
		for _, e := range r.Examples {
			fmt.Fprintf(&b, "\nrun %d (seed %d, %s):\n%s\n", r.Run, r.Seed, r.Dir, e)
		}
	}
	return b.String()
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
