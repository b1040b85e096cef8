package checker

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/cairnlog/cairn/faults/history"
)

// tpKey names a partition.
type tpKey struct {
	topic     string
	partition int32
}

// partState is what Check knows of one partition.
type partState struct {
	key   tpKey
	final offsetTable // op of the final read at each offset
	seen  offsetTable // first op that put a value at each offset
	// ended: a read-end was seen; hwm is its offset, endOp its op.
	ended    bool
	hwm      int64
	endOp    int32
	maxFinal int64 // highest offset read back, -1 for none
	okSends  int
}

// position is where a value was observed: partition, offset and the first op
// that showed it there.
type position struct {
	tp     int32
	offset int64
	op     int32
}

// valueState is what Check knows of one value.
type valueState struct {
	value             string
	sends             []int32 // send ops, in history order
	ok, unknown, fail int32
	pos               []position // distinct positions it was polled or read at
	finalOp           int32      // first final read of it, or -1
	polled            bool
}

// streamKey names the sequence of offsets one process consumed from one
// partition, polls and final reads apart.
type streamKey struct {
	process string
	kind    history.Kind
	tp      int32
}

// stream is a consumer's position in a partition.
type stream struct {
	valid  bool  // last is comparable: no assign or revoke since
	last   int64 // offset of the last poll
	lastOp int32
	// resume: an Assign to a group member came since the last poll; the next
	// poll is judged against the group's commits (lower, the highest ok
	// commit before the Assign; hasLower says whether there was one).
	resume   bool
	group    string
	lower    int64
	lowerOp  int32
	hasLower bool
}

type groupTP struct {
	group string
	tp    int32
}

// commitState is a group's commits for one partition.
type commitState struct {
	hasOK    bool
	lastOK   int64 // offset of the last ok commit
	lastOKOp int32
	maxOK    int64 // highest offset of any ok commit
	maxOKOp  int32
	hasAny   bool
	maxAny   int64 // highest offset of any ok or unknown commit
	maxAnyOp int32
}

// checker holds the state of one Check.
type checker struct {
	ops    []history.Op
	report *Report

	tps      map[tpKey]int32
	parts    []*partState
	values   map[string]int32
	vals     []valueState
	streams  map[streamKey]*stream
	acks     map[streamKey]int32 // last ok send op per producer and partition
	commits  map[groupTP]*commitState
	reported map[position]bool // (tp, offset) already reported inconsistent
	// named holds, per group and partition, every offset an ok or unknown
	// commit names anywhere in the history: a commit's outcome is recorded
	// when its answer arrives, which may be after the next owner, told the
	// offset by the coordinator, polled from it.
	named map[namedKey]map[int64]bool
}

type namedKey struct {
	group string
	tp    tpKey
}

// Check judges a history; doc.go defines what it checks. ops need not be in
// Seq order (Check orders them by Seq without changing the slice). ops is not
// kept; the report holds copies of the ops it names.
func Check(ops []history.Op) *Report {
	c := &checker{
		ops:      ops,
		report:   newReport(),
		tps:      map[tpKey]int32{},
		values:   map[string]int32{},
		streams:  map[streamKey]*stream{},
		acks:     map[streamKey]int32{},
		commits:  map[groupTP]*commitState{},
		reported: map[position]bool{},
		named:    map[namedKey]map[int64]bool{},
	}
	for i := range ops {
		if op := &ops[i]; op.Kind == history.Commit && (op.Outcome == history.OK || op.Outcome == history.Unknown) {
			k := namedKey{op.Group, tpKey{op.Topic, op.Partition}}
			if c.named[k] == nil {
				c.named[k] = map[int64]bool{}
			}
			c.named[k][op.Offset] = true
		}
	}
	if len(ops) > 1<<31-1 {
		panic("checker: more than 2^31-1 ops")
	}
	if slices.IsSortedFunc(ops, func(a, b history.Op) int { return cmp.Compare(a.Seq, b.Seq) }) {
		for i := range ops {
			c.apply(int32(i))
		}
	} else {
		order := make([]int32, len(ops))
		for i := range order {
			order[i] = int32(i)
		}
		slices.SortStableFunc(order, func(a, b int32) int { return cmp.Compare(ops[a].Seq, ops[b].Seq) })
		for _, i := range order {
			c.apply(i)
		}
	}
	c.finish()
	c.report.sort()
	return c.report
}

// violation reports a violation about ops (indexes into c.ops).
func (c *checker) violation(cat Category, tp int32, offset int64, opIdx []int32, format string, args ...any) {
	v := Violation{Category: cat, Offset: offset, Message: fmt.Sprintf(format, args...)}
	if tp >= 0 {
		v.Topic, v.Partition = c.parts[tp].key.topic, c.parts[tp].key.partition
	}
	if c.report.Counts.Violations[cat] < MaxViolationsPerCategory {
		for _, i := range opIdx {
			if i >= 0 && len(v.Ops) < MaxOpsPerViolation {
				v.Ops = append(v.Ops, c.ops[i])
			}
		}
		slices.SortFunc(v.Ops, func(a, b history.Op) int { return cmp.Compare(a.Seq, b.Seq) })
	}
	c.report.Add(v)
}

// tp interns a partition.
func (c *checker) tp(topic string, partition int32) int32 {
	k := tpKey{topic, partition}
	if i, ok := c.tps[k]; ok {
		return i
	}
	i := int32(len(c.parts))
	c.tps[k] = i
	c.parts = append(c.parts, &partState{key: k, maxFinal: -1, endOp: -1})
	return i
}

// value interns a value.
func (c *checker) value(v string) *valueState {
	i, ok := c.values[v]
	if !ok {
		i = int32(len(c.vals))
		c.values[v] = i
		c.vals = append(c.vals, valueState{value: v, finalOp: -1})
	}
	return &c.vals[i]
}

// apply takes one op, in Seq order.
func (c *checker) apply(i int32) {
	op := &c.ops[i]
	c.report.Counts.Ops[string(op.Kind)+"/"+string(op.Outcome)]++
	switch op.Kind {
	case history.Send:
		c.send(i, op)
	case history.Poll, history.FinalRead:
		// A poll or read that failed names no record.
		if op.Outcome == history.Fail || op.Outcome == history.Unknown {
			return
		}
		if op.Kind == history.Poll {
			c.report.Counts.Polled++
		} else {
			c.report.Counts.FinalRead++
		}
		c.observe(i, op)
	case history.FinalEnd:
		// A read-back that failed did not reach its high watermark.
		if op.Outcome == history.Fail || op.Outcome == history.Unknown {
			return
		}
		ps := c.parts[c.tp(op.Topic, op.Partition)]
		ps.ended, ps.hwm, ps.endOp = true, op.Offset, i
	case history.Assign, history.Revoke:
		c.rebalance(i, op)
	case history.Commit:
		c.commit(i, op)
	}
}

func (c *checker) send(i int32, op *history.Op) {
	tp := c.tp(op.Topic, op.Partition)
	vs := c.value(op.Value)
	vs.sends = append(vs.sends, i)
	switch op.Outcome {
	case history.OK:
		vs.ok++
		c.report.Counts.SendOK++
		c.parts[tp].okSends++
		k := streamKey{op.Process, history.Send, tp}
		if prev, ok := c.acks[k]; ok && op.Offset <= c.ops[prev].Offset {
			c.violation(NonmonotonicSend, tp, op.Offset, []int32{prev, i},
				"%s acknowledged offset %d after %d", op.Process, op.Offset, c.ops[prev].Offset)
		}
		c.acks[k] = i
		c.place(tp, op.Offset, i)
	case history.Fail:
		vs.fail++
		c.report.Counts.SendFail++
	default:
		vs.unknown++
		c.report.Counts.SendUnknown++
	}
}

// place records that op i puts its value at (tp, offset), reporting a second
// value there.
func (c *checker) place(tp int32, offset int64, i int32) {
	ps := c.parts[tp]
	w := ps.seen.get(offset)
	if w < 0 {
		ps.seen.set(offset, i)
		return
	}
	if c.ops[w].Value == c.ops[i].Value {
		return
	}
	p := position{tp: tp, offset: offset}
	if c.reported[p] {
		return
	}
	c.reported[p] = true
	c.violation(InconsistentOffsets, tp, offset, []int32{w, i},
		"%q (%s %s) and %q (%s %s)", c.ops[w].Value, c.ops[w].Process, c.ops[w].Kind,
		c.ops[i].Value, c.ops[i].Process, c.ops[i].Kind)
}

// observe takes a poll or a final read.
func (c *checker) observe(i int32, op *history.Op) {
	tp := c.tp(op.Topic, op.Partition)
	ps := c.parts[tp]
	c.place(tp, op.Offset, i)
	vs := c.value(op.Value)
	if !slices.ContainsFunc(vs.pos, func(p position) bool { return p.tp == tp && p.offset == op.Offset }) {
		vs.pos = append(vs.pos, position{tp: tp, offset: op.Offset, op: i})
	}
	if op.Kind == history.FinalRead {
		if vs.finalOp < 0 {
			vs.finalOp = i
		}
		if ps.final.get(op.Offset) < 0 {
			ps.final.set(op.Offset, i)
		}
		ps.maxFinal = max(ps.maxFinal, op.Offset)
	} else {
		vs.polled = true
	}
	c.consume(i, op, tp)
}

// consume checks that a process's offsets in a partition advance one by one.
func (c *checker) consume(i int32, op *history.Op, tp int32) {
	k := streamKey{op.Process, op.Kind, tp}
	st := c.streams[k]
	if st == nil {
		st = &stream{}
		c.streams[k] = st
	}
	if st.valid {
		switch {
		case op.Offset > st.last+1:
			c.violation(PollSkip, tp, op.Offset, []int32{st.lastOp, i},
				"%s %s offset %d after %d: skipped %d", op.Process, op.Kind, op.Offset, st.last, op.Offset-st.last-1)
		case op.Offset <= st.last:
			c.violation(NonmonotonicPoll, tp, op.Offset, []int32{st.lastOp, i},
				"%s %s offset %d after %d", op.Process, op.Kind, op.Offset, st.last)
		}
	}
	if st.resume {
		c.resume(i, op, tp, st)
	}
	st.valid, st.last, st.lastOp, st.resume = true, op.Offset, i, false
}

// resume judges the first poll after an assignment against the group's
// commits.
func (c *checker) resume(i int32, op *history.Op, tp int32, st *stream) {
	cs := c.commits[groupTP{st.group, tp}]
	if cs != nil && cs.hasAny && op.Offset > cs.maxAny && !c.named[namedKey{st.group, c.parts[tp].key}][op.Offset] {
		c.violation(ResumeOffset, tp, op.Offset, []int32{cs.maxAnyOp, i},
			"%s resumed at %d, past group %s's highest commit %d: skipped %d",
			op.Process, op.Offset, st.group, cs.maxAny, op.Offset-cs.maxAny)
	}
	if st.hasLower && op.Offset < st.lower {
		c.violation(ResumeOffset, tp, op.Offset, []int32{st.lowerOp, i},
			"%s resumed at %d, below group %s's commit of %d made before the assignment",
			op.Process, op.Offset, st.group, st.lower)
	}
}

// rebalance takes an Assign or Revoke: the process's next poll of each
// partition named may start anywhere.
func (c *checker) rebalance(i int32, op *history.Op) {
	var tps []int32
	if op.Topic != "" {
		for _, p := range op.Partitions {
			tps = append(tps, c.tp(op.Topic, p))
		}
	} else {
		// No topic: every known topic's partitions of those numbers.
		for tp, ps := range c.parts {
			if slices.Contains(op.Partitions, ps.key.partition) {
				tps = append(tps, int32(tp))
			}
		}
	}
	for _, tp := range tps {
		for _, kind := range []history.Kind{history.Poll, history.FinalRead} {
			k := streamKey{op.Process, kind, tp}
			st := c.streams[k]
			if st == nil {
				st = &stream{}
				c.streams[k] = st
			}
			st.valid, st.resume, st.hasLower = false, false, false
			if op.Kind == history.Assign && op.Group != "" && kind == history.Poll {
				st.resume, st.group = true, op.Group
				if cs := c.commits[groupTP{op.Group, tp}]; cs != nil && cs.hasOK {
					st.hasLower, st.lower, st.lowerOp = true, cs.maxOK, cs.maxOKOp
				}
			}
		}
	}
}

func (c *checker) commit(i int32, op *history.Op) {
	if op.Outcome != history.OK && op.Outcome != history.Unknown {
		return
	}
	tp := c.tp(op.Topic, op.Partition)
	k := groupTP{op.Group, tp}
	cs := c.commits[k]
	if cs == nil {
		cs = &commitState{}
		c.commits[k] = cs
	}
	if !cs.hasAny || op.Offset > cs.maxAny {
		cs.hasAny, cs.maxAny, cs.maxAnyOp = true, op.Offset, i
	}
	if op.Outcome != history.OK {
		return
	}
	if cs.hasOK && op.Offset < cs.lastOK {
		c.violation(CommitBackwards, tp, op.Offset, []int32{cs.lastOKOp, i},
			"group %s committed %d after %d", op.Group, op.Offset, cs.lastOK)
	}
	if !cs.hasOK || op.Offset > cs.maxOK {
		cs.maxOK, cs.maxOKOp = op.Offset, i
	}
	cs.hasOK, cs.lastOK, cs.lastOKOp = true, op.Offset, i
}

// finish judges what needs the whole history: the final read against the
// sends, and each value's positions.
func (c *checker) finish() {
	counts := &c.report.Counts
	counts.Partitions = len(c.parts)
	for tp, ps := range c.parts {
		switch {
		case !ps.ended && ps.okSends > 0:
			c.violation(FinalReadMissing, int32(tp), -1, nil,
				"%d acknowledged sends but no final read: not verified", ps.okSends)
		case ps.ended && ps.hwm > 0 && ps.maxFinal < ps.hwm-1:
			c.violation(FinalReadIncomplete, int32(tp), ps.maxFinal+1, []int32{ps.endOp},
				"final read ended at high watermark %d but read only up to %d", ps.hwm, ps.maxFinal)
		}
	}
	for i := range c.vals {
		c.finishValue(&c.vals[i])
	}
}

func (c *checker) finishValue(vs *valueState) {
	v := vs.value
	counts := &c.report.Counts
	if len(vs.sends) > 0 {
		counts.Values++
		if len(vs.sends) > 1 {
			counts.Resent++
		}
	}
	var observed []int32
	for _, p := range vs.pos {
		observed = append(observed, p.op)
	}
	switch {
	case len(vs.pos) == 0:
	case len(vs.sends) == 0:
		c.violation(UnexpectedValue, vs.pos[0].tp, vs.pos[0].offset, observed,
			"value %q observed but never sent", v)
	case vs.ok == 0 && vs.unknown == 0:
		c.violation(FailedWriteVisible, vs.pos[0].tp, vs.pos[0].offset, append(observed, vs.sends...),
			"value %q observed but every send of it failed", v)
	}
	if len(vs.sends) > 0 {
		for _, p := range vs.pos {
			if !slices.ContainsFunc(vs.sends, func(s int32) bool { return c.tp(c.ops[s].Topic, c.ops[s].Partition) == p.tp }) {
				c.violation(UnexpectedValue, p.tp, p.offset, append([]int32{p.op}, vs.sends...),
					"value %q observed in a partition it was not sent to", v)
			}
		}
	}
	if allowed := max(int(vs.ok+vs.unknown), 1); len(vs.pos) > allowed {
		p := vs.pos[0]
		offsets := make([]string, len(vs.pos))
		for i, q := range vs.pos {
			offsets[i] = fmt.Sprintf("%s-%d@%d", c.parts[q.tp].key.topic, c.parts[q.tp].key.partition, q.offset)
		}
		c.violation(Duplicate, p.tp, p.offset, append(observed, vs.sends...),
			"value %q at %d positions %v, sent %d times (%d ok, %d unknown)", v, len(vs.pos), offsets, len(vs.sends), vs.ok, vs.unknown)
	}
	inFinal := vs.finalOp >= 0
	for _, s := range vs.sends {
		op := &c.ops[s]
		if op.Outcome != history.OK {
			continue
		}
		tp := c.tp(op.Topic, op.Partition)
		ps := c.parts[tp]
		if !ps.ended {
			counts.Unverified++
			continue
		}
		if f := ps.final.get(op.Offset); f >= 0 && c.ops[f].Value == v {
			continue
		}
		if inFinal {
			fo := &c.ops[vs.finalOp]
			c.violation(WrongOffset, tp, op.Offset, []int32{s, vs.finalOp},
				"value %q acknowledged at %d, read back at %s-%d@%d", v, op.Offset, fo.Topic, fo.Partition, fo.Offset)
			continue
		}
		c.violation(LostWrite, tp, op.Offset, []int32{s, ps.endOp},
			"value %q acknowledged at %d, absent from the final read (high watermark %d)", v, op.Offset, ps.hwm)
	}
	if vs.ok > 0 && inFinal && !vs.polled {
		counts.Unseen++
	}
	if vs.unknown > 0 && vs.ok == 0 {
		ended := true
		for _, s := range vs.sends {
			if !c.parts[c.tp(c.ops[s].Topic, c.ops[s].Partition)].ended {
				ended = false
			}
		}
		switch {
		case inFinal:
			counts.UnknownWritten++
		case ended:
			counts.UnknownNotWritten++
		default:
			counts.UnknownUndetermined++
		}
	}
}
