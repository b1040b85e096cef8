package checker

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/cairnlog/cairn/faults/history"
)

// Category names a kind of violation; doc.go defines each.
type Category string

// The categories, in the order reports list them.
const (
	LostWrite           Category = "lost-write"
	WrongOffset         Category = "wrong-offset"
	Duplicate           Category = "duplicate"
	InconsistentOffsets Category = "inconsistent-offsets"
	NonmonotonicSend    Category = "nonmonotonic-send"
	PollSkip            Category = "poll-skip"
	NonmonotonicPoll    Category = "nonmonotonic-poll"
	ResumeOffset        Category = "resume-offset"
	CommitBackwards     Category = "commit-backwards"
	UnexpectedValue     Category = "unexpected-value"
	FailedWriteVisible  Category = "failed-write-visible"
	FinalReadMissing    Category = "final-read-missing"
	FinalReadIncomplete Category = "final-read-incomplete"
	ReplicaDivergence   Category = "replica-divergence"
	ReplicaCorrupt      Category = "replica-corrupt"
)

// Categories lists every category in report order.
var Categories = []Category{
	LostWrite, WrongOffset, Duplicate, InconsistentOffsets, NonmonotonicSend,
	PollSkip, NonmonotonicPoll, ResumeOffset, CommitBackwards, UnexpectedValue,
	FailedWriteVisible, FinalReadMissing, FinalReadIncomplete,
	ReplicaDivergence, ReplicaCorrupt,
}

func categoryRank(c Category) int {
	if i := slices.Index(Categories, c); i >= 0 {
		return i
	}
	return len(Categories)
}

// MaxViolationsPerCategory bounds the violations a Report keeps of each
// category; Counts.Violations counts all of them.
const MaxViolationsPerCategory = 100

// MaxOpsPerViolation bounds the ops a violation carries.
const MaxOpsPerViolation = 8

// Violation is one breach of an invariant, with the ops that show it.
type Violation struct {
	Category  Category `json:"category"`
	Message   string   `json:"message"`
	Topic     string   `json:"topic,omitempty"`
	Partition int32    `json:"partition"`
	// Offset is the offset the violation is about, or -1 for none.
	Offset int64 `json:"offset"`
	// Nodes are the broker ids involved (replica violations).
	Nodes []int32 `json:"nodes,omitempty"`
	// Ops are copies of the history records involved, in Seq order.
	Ops []history.Op `json:"ops,omitempty"`
}

// String is the violation on one line, then one indented line per op.
func (v Violation) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s-%d", v.Category, v.Topic, v.Partition)
	if v.Offset != -1 {
		fmt.Fprintf(&b, "@%d", v.Offset)
	}
	if len(v.Nodes) > 0 {
		fmt.Fprintf(&b, " nodes %v", v.Nodes)
	}
	b.WriteString(": ")
	b.WriteString(v.Message)
	for _, op := range v.Ops {
		b.WriteString("\n\t")
		b.WriteString(FormatOp(op))
	}
	return b.String()
}

// FormatOp renders an op on one line: seq, process, kind, outcome, position
// and value.
func FormatOp(op history.Op) string {
	var b strings.Builder
	fmt.Fprintf(&b, "seq %d %s %s %s", op.Seq, op.Process, op.Kind, op.Outcome)
	switch op.Kind {
	case history.Assign, history.Revoke:
		fmt.Fprintf(&b, " %s %v", op.Topic, op.Partitions)
	case history.Fault:
		fmt.Fprintf(&b, " %s %s", op.Fault, op.Detail)
	default:
		fmt.Fprintf(&b, " %s-%d@%d", op.Topic, op.Partition, op.Offset)
	}
	if op.Group != "" {
		fmt.Fprintf(&b, " group=%s", op.Group)
	}
	if op.Kind == history.Send || op.Kind == history.Poll || op.Kind == history.FinalRead {
		fmt.Fprintf(&b, " value=%q", op.Value)
	}
	if op.Err != "" {
		fmt.Fprintf(&b, " err=%q", op.Err)
	}
	return b.String()
}

// Counts summarises a history.
type Counts struct {
	// Ops counts operations by "kind/outcome", e.g. "send/ok".
	Ops map[string]int `json:"ops"`
	// SendOK, SendFail and SendUnknown count send ops by outcome.
	SendOK      int `json:"send_ok"`
	SendFail    int `json:"send_fail"`
	SendUnknown int `json:"send_unknown"`
	// Values is the number of distinct values sent; Resent, those sent more
	// than once.
	Values int `json:"values"`
	Resent int `json:"resent"`
	// UnknownWritten and UnknownNotWritten count the values whose every send
	// was unknown, by whether the final read holds them; UnknownUndetermined
	// those whose partition has no final read.
	UnknownWritten      int `json:"unknown_written"`
	UnknownNotWritten   int `json:"unknown_not_written"`
	UnknownUndetermined int `json:"unknown_undetermined"`
	// Polled and FinalRead count the records polled and read back.
	Polled    int `json:"polled"`
	FinalRead int `json:"final_read"`
	// Partitions is the number of partitions the history names.
	Partitions int `json:"partitions"`
	// Unseen is the number of acknowledged values present in the final read
	// that no poll observed.
	Unseen int `json:"unseen"`
	// Unverified is the number of ok sends to partitions with no final read.
	Unverified int `json:"unverified"`
	// Violations counts every violation found, kept in the report or not.
	Violations map[Category]int `json:"violations"`
}

// Report is the verdict on a history.
type Report struct {
	// Valid is true when there are no violations.
	Valid      bool        `json:"valid"`
	Counts     Counts      `json:"counts"`
	Violations []Violation `json:"violations"`
}

func newReport() *Report {
	return &Report{Valid: true, Counts: Counts{Ops: map[string]int{}, Violations: map[Category]int{}},
		Violations: []Violation{}}
}

// Add records violations (CompareReplicas' for instance): it counts each,
// keeps at most MaxViolationsPerCategory of each category, and clears Valid.
func (r *Report) Add(vs ...Violation) {
	if r.Counts.Violations == nil {
		r.Counts.Violations = map[Category]int{}
	}
	for _, v := range vs {
		r.Valid = false
		r.Counts.Violations[v.Category]++
		if r.Counts.Violations[v.Category] <= MaxViolationsPerCategory {
			r.Violations = append(r.Violations, v)
		}
	}
}

// sort orders the violations by category, then by their first op's Seq,
// then by partition and offset.
func (r *Report) sort() {
	firstSeq := func(v Violation) int64 {
		if len(v.Ops) == 0 {
			return 0
		}
		return v.Ops[0].Seq
	}
	slices.SortStableFunc(r.Violations, func(a, b Violation) int {
		return cmp.Or(
			cmp.Compare(categoryRank(a.Category), categoryRank(b.Category)),
			cmp.Compare(firstSeq(a), firstSeq(b)),
			cmp.Compare(a.Topic, b.Topic),
			cmp.Compare(a.Partition, b.Partition),
			cmp.Compare(a.Offset, b.Offset),
		)
	})
}

// Text is the report for people: the verdict, the counts, a table of
// violations by category, then every violation kept.
func (r *Report) Text() string {
	var b strings.Builder
	c := &r.Counts
	total := 0
	for _, n := range c.Violations {
		total += n
	}
	if r.Valid {
		b.WriteString("check: PASS\n")
	} else {
		fmt.Fprintf(&b, "check: FAIL, %d violations\n", total)
	}
	fmt.Fprintf(&b, "sends        ok %d, fail %d, unknown %d; %d values (%d resent)\n",
		c.SendOK, c.SendFail, c.SendUnknown, c.Values, c.Resent)
	fmt.Fprintf(&b, "unknown      written %d, not written %d, undetermined %d (values)\n",
		c.UnknownWritten, c.UnknownNotWritten, c.UnknownUndetermined)
	fmt.Fprintf(&b, "observed     polled %d, read back %d, %d partitions\n", c.Polled, c.FinalRead, c.Partitions)
	fmt.Fprintf(&b, "unseen       %d acknowledged values read back but never polled\n", c.Unseen)
	fmt.Fprintf(&b, "unverified   %d ok sends to partitions without a final read\n", c.Unverified)
	b.WriteString("ops         ")
	for _, k := range slices.Sorted(maps.Keys(c.Ops)) {
		fmt.Fprintf(&b, " %s %d", k, c.Ops[k])
	}
	b.WriteString("\n")
	b.WriteString("violations\n")
	for _, cat := range Categories {
		fmt.Fprintf(&b, "  %-22s %d\n", cat, c.Violations[cat])
	}
	for _, cat := range slices.Sorted(maps.Keys(c.Violations)) {
		if categoryRank(cat) == len(Categories) {
			fmt.Fprintf(&b, "  %-22s %d\n", cat, c.Violations[cat])
		}
	}
	for _, v := range r.Violations {
		b.WriteString(v.String())
		b.WriteString("\n")
	}
	for _, cat := range Categories {
		if n := c.Violations[cat]; n > MaxViolationsPerCategory {
			fmt.Fprintf(&b, "(%d more %s not shown)\n", n-MaxViolationsPerCategory, cat)
		}
	}
	return b.String()
}
