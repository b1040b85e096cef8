package main

// The offset grammar of `consume -o` and `group seek --to`, modelled on rpk's:
//
//	FROM[:TO]
//
//	FROM  start | oldest    the log start offset
//	      end | newest      the high watermark (only records produced from now on)
//	      N                 offset N
//	      +N                N records after the log start
//	      -N                N records before the high watermark
//	      @TIME             the first record whose timestamp is at or after TIME
//	TO    end               the high watermark when the command starts
//	      N                 offset N (exclusive: 10:20 reads offsets 10 through 19)
//	      @TIME             the first record at or after TIME (exclusive)
//	TIME  2026-11-01T00:00:00Z (RFC 3339), 2026-11-01 (UTC midnight),
//	      1700000000000 (unix milliseconds), or -1h30m (a duration before now)
//
// A range is half-open, [FROM, TO). FROM may be empty in a range (":end" is
// "start:end"). Offsets resolved against a partition are clamped into
// [log start, high watermark], except an exact TO, which a consumer waits for.
// RFC 3339 times contain colons, so a range whose FROM is a time must end in
// ":end" or ":@TIME".

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// startKind says where a read (or a seek) starts.
type startKind int

const (
	fromStart      startKind = iota // the log start offset
	fromEnd                         // the high watermark
	fromExact                       // offset n
	fromAfterStart                  // log start + n
	fromBeforeEnd                   // high watermark - n
	fromTime                        // first offset with timestamp >= at
)

// endKind says where a bounded read stops (exclusive).
type endKind int

const (
	toNone       endKind = iota // unbounded: read until stopped
	toCurrentEnd                // the high watermark when the read starts
	toExact                     // offset n
	toTime                      // first offset with timestamp >= at
)

type startSpec struct {
	kind startKind
	n    int64     // fromExact, fromAfterStart, fromBeforeEnd; >= 0
	at   time.Time // fromTime
}

type endSpec struct {
	kind endKind
	n    int64     // toExact; >= 0
	at   time.Time // toTime
}

// offsetSpec is a parsed FROM[:TO].
type offsetSpec struct {
	from startSpec
	to   endSpec
}

// bounded reports whether the spec names an end.
func (s offsetSpec) bounded() bool { return s.to.kind != toNone }

// parseOffsetSpec parses FROM[:TO]; now anchors relative times. Errors are one
// line naming the bad input.
func parseOffsetSpec(s string, now time.Time) (offsetSpec, error) {
	var spec offsetSpec
	from, to, ranged := splitRange(s)
	if from == "" && !ranged {
		return spec, errors.New(`offset "": want start, end, N, +N, -N or @TIME, optionally followed by :TO`)
	}
	var err error
	if from != "" {
		if spec.from, err = parseStart(from, now); err != nil {
			return spec, fmt.Errorf("offset %q: %w", s, err)
		}
	}
	if !ranged {
		return spec, nil
	}
	if spec.to, err = parseEnd(to, now); err != nil {
		return spec, fmt.Errorf("offset %q: %w", s, err)
	}
	switch {
	case spec.from.kind == fromEnd:
		return spec, fmt.Errorf("offset %q: a range cannot start at end", s)
	case spec.from.kind == fromExact && spec.to.kind == toExact && spec.to.n < spec.from.n:
		return spec, fmt.Errorf("offset %q: range ends (%d) before it starts (%d)", s, spec.to.n, spec.from.n)
	case spec.from.kind == fromTime && spec.to.kind == toTime && spec.to.at.Before(spec.from.at):
		return spec, fmt.Errorf("offset %q: range ends before it starts", s)
	}
	return spec, nil
}

// splitRange splits FROM[:TO]. A TO is ":end", ":@TIME", or, when FROM is not a
// time (times contain colons), whatever follows the first colon.
func splitRange(s string) (from, to string, ranged bool) {
	if i := strings.Index(s, ":@"); i >= 0 {
		return s[:i], s[i+1:], true
	}
	if rest, ok := strings.CutSuffix(s, ":end"); ok {
		return rest, "end", true
	}
	if !strings.HasPrefix(s, "@") {
		if from, to, ok := strings.Cut(s, ":"); ok {
			return from, to, true
		}
	}
	return s, "", false
}

// parseStart parses a FROM (also the whole of `group seek --to`).
func parseStart(s string, now time.Time) (startSpec, error) {
	switch s {
	case "":
		return startSpec{}, errors.New("empty: want start, end, N, +N, -N or @TIME")
	case "start", "oldest":
		return startSpec{kind: fromStart}, nil
	case "end", "newest":
		return startSpec{kind: fromEnd}, nil
	}
	switch s[0] {
	case '@':
		at, err := parseTime(s[1:], now)
		return startSpec{kind: fromTime, at: at}, err
	case '+', '-':
		n, err := parseCount(s[1:])
		if err != nil {
			return startSpec{}, err
		}
		if s[0] == '+' {
			return startSpec{kind: fromAfterStart, n: n}, nil
		}
		return startSpec{kind: fromBeforeEnd, n: n}, nil
	}
	if !isDigits(s) {
		return startSpec{}, errors.New("want start, end, N, +N, -N or @TIME")
	}
	n, err := parseCount(s)
	return startSpec{kind: fromExact, n: n}, err
}

// parseEnd parses a TO.
func parseEnd(s string, now time.Time) (endSpec, error) {
	switch {
	case s == "end":
		return endSpec{kind: toCurrentEnd}, nil
	case strings.HasPrefix(s, "@"):
		at, err := parseTime(s[1:], now)
		return endSpec{kind: toTime, at: at}, err
	case isDigits(s):
		n, err := parseCount(s)
		return endSpec{kind: toExact, n: n}, err
	}
	return endSpec{}, fmt.Errorf("end %q: want end, N or @TIME", s)
}

// parseTime parses the TIME of @TIME.
func parseTime(s string, now time.Time) (time.Time, error) {
	const want = "want an RFC 3339 time, a date, unix milliseconds, or a duration before now such as -1h"
	switch {
	case s == "":
		return time.Time{}, fmt.Errorf("time \"\": %s", want)
	case s[0] == '-':
		d, err := time.ParseDuration(s)
		if err != nil {
			return time.Time{}, fmt.Errorf("time %q: %s", s, want)
		}
		return now.Add(d), nil
	case isDigits(s):
		ms, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("time %q: %s", s, want)
		}
		return time.UnixMilli(ms).UTC(), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("time %q: %s", s, want)
}

func parseCount(s string) (int64, error) {
	if !isDigits(s) {
		return 0, fmt.Errorf("%q is not a non-negative integer", s)
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is out of range", s)
	}
	return n, nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r > unicode.MaxASCII || !unicode.IsDigit(r) {
			return false
		}
	}
	return true
}

// kgoOffset returns the kgo offset for an unbounded read from s; kgo resolves it
// against each partition itself.
func (s startSpec) kgoOffset() kgo.Offset {
	switch s.kind {
	case fromEnd:
		return kgo.NewOffset().AtEnd()
	case fromExact:
		return kgo.NewOffset().At(s.n)
	case fromAfterStart:
		return kgo.NewOffset().AtStart().Relative(s.n)
	case fromBeforeEnd:
		return kgo.NewOffset().AtEnd().Relative(-s.n)
	case fromTime:
		return kgo.NewOffset().AfterMilli(s.at.UnixMilli())
	}
	return kgo.NewOffset().AtStart()
}

// partRange is a partition's resolved read range [start, end); end is -1 for an
// unbounded read. logStart and highWatermark are as listed when resolving.
type partRange struct {
	topic         string
	partition     int32
	start, end    int64
	logStart      int64
	highWatermark int64
}

// resolveRanges resolves spec against every partition of topics (only those in
// partitions, when non-empty), sorted by topic and partition.
func resolveRanges(a *admin, spec offsetSpec, topics []string, partitions []int32) ([]partRange, error) {
	starts, err := a.listOffsets(func(ctx context.Context) (kadm.ListedOffsets, error) {
		return a.ListStartOffsets(ctx, topics...)
	})
	if err != nil {
		return nil, kafkaErr(a.ctx, "list start offsets", err)
	}
	ends, err := a.listOffsets(func(ctx context.Context) (kadm.ListedOffsets, error) {
		return a.ListEndOffsets(ctx, topics...)
	})
	if err != nil {
		return nil, kafkaErr(a.ctx, "list end offsets", err)
	}
	byTime := func(at time.Time) (kadm.ListedOffsets, error) {
		l, err := a.listOffsets(func(ctx context.Context) (kadm.ListedOffsets, error) {
			return a.ListOffsetsAfterMilli(ctx, at.UnixMilli(), topics...)
		})
		if err != nil {
			return nil, kafkaErr(a.ctx, "list offsets by time", err)
		}
		return l, nil
	}
	var fromTimes, toTimes kadm.ListedOffsets
	if spec.from.kind == fromTime {
		if fromTimes, err = byTime(spec.from.at); err != nil {
			return nil, err
		}
	}
	if spec.to.kind == toTime {
		if toTimes, err = byTime(spec.to.at); err != nil {
			return nil, err
		}
	}
	want := make(map[int32]bool, len(partitions))
	for _, p := range partitions {
		want[p] = true
	}

	var out []partRange
	for _, e := range sortedListed(ends) {
		if len(want) > 0 && !want[e.Partition] {
			continue
		}
		s, _ := starts.Lookup(e.Topic, e.Partition)
		r := partRange{topic: e.Topic, partition: e.Partition, logStart: s.Offset, highWatermark: e.Offset, end: -1}
		clamp := func(o int64) int64 { return max(r.logStart, min(o, r.highWatermark)) }
		switch spec.from.kind {
		case fromStart:
			r.start = r.logStart
		case fromEnd:
			r.start = r.highWatermark
		case fromExact:
			r.start = clamp(spec.from.n)
		case fromAfterStart:
			r.start = clamp(r.logStart + spec.from.n)
		case fromBeforeEnd:
			r.start = clamp(r.highWatermark - spec.from.n)
		case fromTime:
			t, _ := fromTimes.Lookup(e.Topic, e.Partition)
			r.start = clamp(t.Offset)
		}
		switch spec.to.kind {
		case toCurrentEnd:
			r.end = r.highWatermark
		case toExact:
			r.end = spec.to.n
		case toTime:
			t, _ := toTimes.Lookup(e.Topic, e.Partition)
			r.end = clamp(t.Offset)
		}
		if r.end >= 0 && r.end < r.start {
			r.end = r.start
		}
		out = append(out, r)
	}
	for _, p := range partitions {
		found := false
		for _, r := range out {
			found = found || r.partition == p
		}
		if !found {
			return nil, fmt.Errorf("partition %d does not exist in %s", p, strings.Join(topics, ","))
		}
	}
	return out, nil
}

// sortedListed returns the listed offsets sorted by topic and partition.
func sortedListed(l kadm.ListedOffsets) []kadm.ListedOffset {
	var out []kadm.ListedOffset
	l.Each(func(o kadm.ListedOffset) { out = append(out, o) })
	sortByTopicPartition(out, func(o kadm.ListedOffset) (string, int32) { return o.Topic, o.Partition })
	return out
}
