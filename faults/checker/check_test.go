package checker

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/cairnlog/cairn/faults/history"
)

const topic = "t"

// hist builds a history, numbering ops in the order added.
type hist struct{ ops []history.Op }

func (h *hist) add(op history.Op) *hist {
	op.Seq = int64(len(h.ops) + 1)
	if op.Topic == "" && op.Kind != history.Fault {
		op.Topic = topic
	}
	if op.Outcome == "" {
		op.Outcome = history.OK
	}
	h.ops = append(h.ops, op)
	return h
}

func (h *hist) send(proc string, p int32, offset int64, value string, out history.Outcome) *hist {
	return h.add(history.Op{Process: proc, Kind: history.Send, Outcome: out, Partition: p, Offset: offset, Value: value})
}

func (h *hist) poll(proc string, p int32, offset int64, value string) *hist {
	return h.add(history.Op{Process: proc, Kind: history.Poll, Partition: p, Offset: offset, Value: value})
}

// final reads back values of partition p from offset 0 and closes the read.
func (h *hist) final(p int32, values ...string) *hist {
	for i, v := range values {
		h.add(history.Op{Process: "final", Kind: history.FinalRead, Partition: p, Offset: int64(i), Value: v})
	}
	return h.end(p, int64(len(values)))
}

func (h *hist) end(p int32, hwm int64) *hist {
	return h.add(history.Op{Process: "final", Kind: history.FinalEnd, Outcome: history.Info, Partition: p, Offset: hwm})
}

func (h *hist) read(p int32, offset int64, value string) *hist {
	return h.add(history.Op{Process: "final", Kind: history.FinalRead, Partition: p, Offset: offset, Value: value})
}

func (h *hist) assign(proc, group string, parts ...int32) *hist {
	return h.add(history.Op{Process: proc, Kind: history.Assign, Outcome: history.Info, Group: group, Partitions: parts})
}

func (h *hist) revoke(proc, group string, parts ...int32) *hist {
	return h.add(history.Op{Process: proc, Kind: history.Revoke, Outcome: history.Info, Group: group, Partitions: parts})
}

func (h *hist) commit(proc, group string, p int32, offset int64, out history.Outcome) *hist {
	return h.add(history.Op{Process: proc, Kind: history.Commit, Outcome: out, Group: group, Partition: p, Offset: offset})
}

// categories is the set of categories a report holds, sorted.
func categories(r *Report) []Category {
	return slices.Sorted(maps.Keys(r.Counts.Violations))
}

// three is a clean prefix: producer p1 writes a, b, c at offsets 0..2 of
// partition 0.
func three() *hist {
	return new(hist).
		send("p1", 0, 0, "a", history.OK).
		send("p1", 0, 1, "b", history.OK).
		send("p1", 0, 2, "c", history.OK)
}

func TestCheckViolations(t *testing.T) {
	tests := []struct {
		name string
		h    *hist
		want []Category
		// seqs are the ops the first violation of want[0] must name.
		seqs []int64
	}{
		{
			name: "lost write",
			h:    three().final(0, "a", "b"),
			want: []Category{LostWrite}, seqs: []int64{3, 6},
		},
		{
			name: "acknowledged beyond the final high watermark",
			h:    three().send("p1", 0, 3, "d", history.OK).final(0, "a", "b", "c"),
			want: []Category{LostWrite}, seqs: []int64{4, 8},
		},
		{
			name: "wrong offset",
			h:    three().final(0, "a", "c", "b"),
			want: []Category{WrongOffset, InconsistentOffsets}, seqs: []int64{2, 6},
		},
		{
			name: "duplicate in the final read",
			h:    three().final(0, "a", "b", "c", "b"),
			want: []Category{Duplicate}, seqs: []int64{2, 5, 7},
		},
		{
			name: "duplicate across polls",
			h:    three().poll("c1", 0, 0, "a").poll("c2", 0, 0, "b").final(0, "a", "b", "c"),
			want: []Category{Duplicate, InconsistentOffsets}, seqs: []int64{2, 5, 7},
		},
		{
			name: "duplicate across partitions",
			h:    three().send("p1", 1, 0, "x", history.OK).final(0, "a", "b", "c").final(1, "x", "a"),
			want: []Category{Duplicate, UnexpectedValue}, seqs: []int64{1, 5, 10},
		},
		{
			name: "inconsistent offsets between a poll and the final read",
			h: new(hist).send("p1", 0, 0, "x", history.Unknown).send("p2", 0, 0, "y", history.OK).
				poll("c1", 0, 0, "x").final(0, "y"),
			want: []Category{InconsistentOffsets}, seqs: []int64{2, 3},
		},
		{
			name: "inconsistent offsets between two acknowledgements",
			h: new(hist).send("p1", 0, 0, "x", history.OK).send("p2", 0, 0, "y", history.OK).
				final(0, "y"),
			want: []Category{InconsistentOffsets, LostWrite}, seqs: []int64{1, 2},
		},
		{
			name: "nonmonotonic send",
			h:    new(hist).send("p1", 0, 1, "b", history.OK).send("p1", 0, 0, "a", history.OK).final(0, "a", "b"),
			want: []Category{NonmonotonicSend}, seqs: []int64{1, 2},
		},
		{
			name: "repeated send offset",
			h:    new(hist).send("p1", 0, 0, "a", history.OK).send("p1", 0, 0, "a", history.OK).final(0, "a"),
			want: []Category{NonmonotonicSend}, seqs: []int64{1, 2},
		},
		{
			name: "poll skip",
			h:    three().assign("c1", "", 0).poll("c1", 0, 0, "a").poll("c1", 0, 2, "c").final(0, "a", "b", "c"),
			want: []Category{PollSkip}, seqs: []int64{5, 6},
		},
		{
			name: "skip in the final read",
			h:    three().read(0, 0, "a").read(0, 2, "c").read(0, 1, "b").end(0, 3),
			want: []Category{PollSkip, NonmonotonicPoll}, seqs: []int64{4, 5},
		},
		{
			name: "nonmonotonic poll",
			h: three().assign("c1", "", 0).poll("c1", 0, 0, "a").poll("c1", 0, 1, "b").poll("c1", 0, 1, "b").
				final(0, "a", "b", "c"),
			want: []Category{NonmonotonicPoll}, seqs: []int64{6, 7},
		},
		{
			name: "rebalance of another partition does not excuse a skip",
			h: three().poll("c1", 0, 0, "a").assign("c1", "g", 1).poll("c1", 0, 2, "c").
				final(0, "a", "b", "c"),
			want: []Category{PollSkip}, seqs: []int64{4, 6},
		},
		{
			name: "rebalance of another process does not excuse going back",
			h: three().poll("c1", 0, 1, "b").revoke("c2", "g", 0).assign("c2", "g", 0).poll("c1", 0, 0, "a").
				final(0, "a", "b", "c"),
			want: []Category{NonmonotonicPoll}, seqs: []int64{4, 7},
		},
		{
			name: "commit backwards",
			h:    three().commit("c1", "g", 0, 3, history.OK).commit("c2", "g", 0, 1, history.OK).final(0, "a", "b", "c"),
			want: []Category{CommitBackwards}, seqs: []int64{4, 5},
		},
		{
			name: "resume past the committed offset",
			h: three().assign("c1", "g", 0).poll("c1", 0, 0, "a").commit("c1", "g", 0, 1, history.OK).revoke("c1", "g", 0).
				assign("c2", "g", 0).poll("c2", 0, 2, "c").final(0, "a", "b", "c"),
			want: []Category{ResumeOffset}, seqs: []int64{6, 9},
		},
		{
			name: "resume below the committed offset",
			h: three().assign("c1", "g", 0).poll("c1", 0, 0, "a").poll("c1", 0, 1, "b").
				commit("c1", "g", 0, 2, history.OK).revoke("c1", "g", 0).
				assign("c2", "g", 0).poll("c2", 0, 1, "b").final(0, "a", "b", "c"),
			want: []Category{ResumeOffset}, seqs: []int64{7, 10},
		},
		{
			name: "unexpected value",
			h:    three().final(0, "a", "b", "c", "garbage"),
			want: []Category{UnexpectedValue}, seqs: []int64{7},
		},
		{
			name: "failed write visible",
			h:    three().send("p1", 0, 0, "d", history.Fail).poll("c1", 0, 3, "d").final(0, "a", "b", "c", "d"),
			want: []Category{FailedWriteVisible}, seqs: []int64{4, 5}, // one op per position
		},
		{
			name: "final read missing",
			h:    three().send("p1", 1, 0, "x", history.OK).final(0, "a", "b", "c"),
			want: []Category{FinalReadMissing},
		},
		{
			name: "final read incomplete",
			h: three().send("p1", 0, 3, "d", history.Unknown).read(0, 0, "a").read(0, 1, "b").read(0, 2, "c").
				end(0, 4),
			want: []Category{FinalReadIncomplete}, seqs: []int64{8},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Check(tt.h.ops)
			got := categories(r)
			want := slices.Sorted(slices.Values(tt.want))
			if !slices.Equal(got, want) {
				t.Fatalf("categories %v, want %v\n%s", got, want, r.Text())
			}
			if r.Valid {
				t.Fatalf("Valid with violations")
			}
			if tt.seqs == nil {
				return
			}
			i := slices.IndexFunc(r.Violations, func(v Violation) bool { return v.Category == tt.want[0] })
			var seqs []int64
			for _, op := range r.Violations[i].Ops {
				seqs = append(seqs, op.Seq)
			}
			if !slices.Equal(seqs, tt.seqs) {
				t.Errorf("%s names ops %v, want %v\n%s", tt.want[0], seqs, tt.seqs, r.Text())
			}
		})
	}
}

func TestCheckCleanCorners(t *testing.T) {
	tests := []struct {
		name string
		h    *hist
	}{
		{"empty", new(hist)},
		{"poll restarts after assign", three().assign("c1", "", 0).poll("c1", 0, 1, "b").assign("c1", "", 0).
			poll("c1", 0, 0, "a").revoke("c1", "", 0).assign("c1", "", 0).poll("c1", 0, 2, "c").final(0, "a", "b", "c")},
		{"retried send written twice", new(hist).send("p1", 0, 0, "a", history.Unknown).send("p1", 0, 1, "a", history.OK).
			final(0, "a", "a")},
		{"retried send written once", new(hist).send("p1", 0, 0, "a", history.Unknown).send("p1", 0, 0, "a", history.OK).
			final(0, "a")},
		{"failed then retried", new(hist).send("p1", 0, 0, "a", history.Fail).send("p1", 0, 0, "a", history.OK).final(0, "a")},
		{"unknown written and not", new(hist).send("p1", 0, 0, "a", history.Unknown).send("p1", 0, 0, "b", history.Unknown).
			send("p1", 0, 1, "c", history.OK).final(0, "a", "c")},
		{"commit failed lower", three().commit("c1", "g", 0, 3, history.OK).commit("c1", "g", 0, 1, history.Fail).
			commit("c1", "g", 0, 3, history.OK).final(0, "a", "b", "c")},
		{"resume at an unknown commit", three().assign("c1", "g", 0).poll("c1", 0, 0, "a").commit("c1", "g", 0, 1, history.OK).
			poll("c1", 0, 1, "b").commit("c1", "g", 0, 2, history.Unknown).revoke("c1", "g", 0).
			assign("c2", "g", 0).poll("c2", 0, 2, "c").final(0, "a", "b", "c")},
		{"resume before an unknown commit took", three().assign("c1", "g", 0).poll("c1", 0, 0, "a").commit("c1", "g", 0, 1, history.OK).
			poll("c1", 0, 1, "b").commit("c1", "g", 0, 2, history.Unknown).revoke("c1", "g", 0).
			assign("c2", "g", 0).poll("c2", 0, 1, "b").final(0, "a", "b", "c")},
		{"resume at a commit recorded after the poll", three().assign("c1", "g", 0).poll("c1", 0, 0, "a").commit("c1", "g", 0, 1, history.OK).
			poll("c1", 0, 1, "b").revoke("c1", "g", 0).assign("c2", "g", 0).poll("c2", 0, 2, "c").
			commit("c1", "g", 0, 2, history.OK).final(0, "a", "b", "c")},
		{"first assignment of a group", three().assign("c1", "g", 0).poll("c1", 0, 1, "b").final(0, "a", "b", "c")},
		{"empty partition read back", three().final(0, "a", "b", "c").end(1, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if r := Check(tt.h.ops); !r.Valid {
				t.Fatalf("violations in a clean history:\n%s", r.Text())
			}
		})
	}
}

func TestCheckCleanGenerated(t *testing.T) {
	for seed := range uint64(5) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			g := generate(seed, 3000)
			r := Check(g.ops)
			if !r.Valid {
				t.Fatalf("violations in a clean history:\n%s", r.Text())
			}
			c := r.Counts
			if c.SendOK != g.ok || c.SendFail != g.fail || c.SendUnknown != g.unknown {
				t.Errorf("sends ok %d fail %d unknown %d, want %d %d %d", c.SendOK, c.SendFail, c.SendUnknown, g.ok, g.fail, g.unknown)
			}
			if c.UnknownWritten != g.unknownWritten || c.UnknownNotWritten != g.unknownLost {
				t.Errorf("unknown written %d, not written %d; want %d, %d",
					c.UnknownWritten, c.UnknownNotWritten, g.unknownWritten, g.unknownLost)
			}
			if c.Resent != g.resent {
				t.Errorf("resent %d, want %d", c.Resent, g.resent)
			}
			if g.rebalances == 0 || c.Ops["assign/info"] == 0 {
				t.Errorf("no rebalances generated")
			}
			// Order must not matter.
			shuffled := slices.Clone(g.ops)
			rand.New(rand.NewPCG(seed, 1)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
			if r2 := Check(shuffled); !r2.Valid || r2.Counts.Unseen != c.Unseen {
				t.Errorf("shuffled history judged differently:\n%s", r2.Text())
			}
		})
	}
}

// TestCheckGeneratedMutations breaks a generated history in one place and
// expects the matching category.
func TestCheckGeneratedMutations(t *testing.T) {
	g := generate(7, 2000)
	find := func(pred func(op history.Op) bool) int {
		i := slices.IndexFunc(g.ops, pred)
		if i < 0 {
			t.Fatal("no op to mutate")
		}
		return i
	}
	tests := []struct {
		name   string
		mutate func(ops []history.Op) []history.Op
		want   Category
	}{
		{"drop an acknowledged record from the final read", func(ops []history.Op) []history.Op {
			// Drop the last record read of partition 0 and lower its read-end.
			i := slices.IndexFunc(ops, func(op history.Op) bool { return op.Kind == history.FinalEnd && op.Partition == 0 })
			ops[i].Offset--
			return slices.Delete(ops, i-1, i)
		}, LostWrite},
		{"corrupt a polled value", func(ops []history.Op) []history.Op {
			i := find(func(op history.Op) bool { return op.Kind == history.Poll })
			ops[i].Value = "corrupt"
			return ops
		}, UnexpectedValue},
		{"skip a poll", func(ops []history.Op) []history.Op {
			i := find(func(op history.Op) bool {
				return op.Kind == history.Poll && op.Process == "reader" && op.Offset == 10
			})
			return slices.Delete(ops, i, i+1)
		}, PollSkip},
		{"commit lower", func(ops []history.Op) []history.Op {
			// The last ok commit follows others of its partition.
			var i int
			for j, op := range ops {
				if op.Kind == history.Commit && op.Outcome == history.OK && op.Offset > 5 {
					i = j
				}
			}
			ops[i].Offset = 0
			return ops
		}, CommitBackwards},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Check(tt.mutate(slices.Clone(g.ops)))
			if r.Counts.Violations[tt.want] == 0 {
				t.Fatalf("no %s:\n%s", tt.want, r.Text())
			}
		})
	}
}

func TestReportJSONAndText(t *testing.T) {
	r := Check(three().final(0, "a", "b").ops)
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Valid || back.Counts.Violations[LostWrite] != 1 || len(back.Violations) != 1 || back.Violations[0].Ops[0].Value != "c" {
		t.Errorf("round trip lost the verdict: %s", b)
	}
	for _, want := range []string{`"category":"lost-write"`, `"send_ok":3`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("JSON lacks %s: %s", want, b)
		}
	}
	text := r.Text()
	for _, want := range []string{"FAIL, 1 violations", "lost-write t-0@2", `seq 3 p1 send ok t-0@2 value="c"`} {
		if !strings.Contains(text, want) {
			t.Errorf("Text lacks %q:\n%s", want, text)
		}
	}
}

func TestReportBounded(t *testing.T) {
	h := new(hist)
	var values []string
	for i := range 3 * MaxViolationsPerCategory {
		h.send("p1", 0, int64(i), fmt.Sprint(i), history.OK)
		values = append(values, fmt.Sprint(i))
	}
	h.end(0, 0) // everything lost
	r := Check(h.ops)
	if got := r.Counts.Violations[LostWrite]; got != 3*MaxViolationsPerCategory {
		t.Errorf("counted %d lost writes, want %d", got, 3*MaxViolationsPerCategory)
	}
	if len(r.Violations) != MaxViolationsPerCategory {
		t.Errorf("kept %d violations, want %d", len(r.Violations), MaxViolationsPerCategory)
	}
	if !strings.Contains(r.Text(), "200 more lost-write not shown") {
		t.Errorf("Text does not say violations were dropped")
	}
}

// BenchmarkCheck checks a generated history of about a million ops, the size
// of a five-minute fault run.
func BenchmarkCheck(b *testing.B) {
	g := generate(1, 250_000)
	b.Logf("%d ops", len(g.ops))
	b.ReportAllocs()
	for b.Loop() {
		if r := Check(g.ops); !r.Valid {
			b.Fatal(r.Text())
		}
	}
}

func TestCheckAbsurdOffsets(t *testing.T) {
	// Offsets far apart or negative must not make the tables allocate in
	// proportion to them.
	h := three().send("p1", 0, 1<<60, "d", history.OK).poll("c1", 0, -5, "a").poll("c1", 0, 1<<61, "b").
		final(0, "a", "b", "c")
	r := Check(h.ops)
	want := []Category{Duplicate, LostWrite, PollSkip}
	if got := categories(r); !slices.Equal(got, want) {
		t.Fatalf("categories %v, want %v\n%s", got, want, r.Text())
	}
}

func TestCheckIgnoresFailedReads(t *testing.T) {
	h := three().add(history.Op{Process: "c1", Kind: history.Poll, Outcome: history.Fail, Err: "timeout"}).
		final(0, "a", "b", "c").
		add(history.Op{Process: "final", Kind: history.FinalEnd, Outcome: history.Fail, Partition: 1, Offset: 9})
	if r := Check(h.ops); !r.Valid {
		t.Fatalf("failed reads judged:\n%s", r.Text())
	}
}
