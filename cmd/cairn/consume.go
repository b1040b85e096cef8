package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// progressInterval is how often consume reports progress on stderr.
const progressInterval = time.Second

// consumeFlags are consume's own flags.
type consumeFlags struct {
	offset     string
	group      string
	num        int
	format     string
	partitions []int32
}

func consumeCommand(g *globalFlags) *cobra.Command {
	var cf consumeFlags
	cmd := &cobra.Command{
		Use:   "consume TOPIC...",
		Short: "Print records from topics",
		Long: `Print records from topics, from the -o offset, until Ctrl-C, until --num
records, or until the end of a bounded -o range.

-o takes FROM[:TO], half-open:
  start | oldest     from the log start (the default)
  end | newest       only records produced from now on
  N                  from offset N
  +N / -N            N records after the log start / before the high watermark
  @TIME              from the first record at or after TIME: an RFC 3339 time
                     (2026-11-01T00:00:00Z), a date (2026-11-01), unix
                     milliseconds, or a duration before now (@-1h)
  :TO                stop before TO: end (the high watermark now), an offset N,
                     or @TIME; e.g. 10:20, :end, @-2h:@-1h

--format is text (the value and a newline), json (an object per record), or a
template of %k key, %v value, %T topic, %p partition, %o offset, %t timestamp
(RFC 3339), %d timestamp (unix ms), %h headers (k=v,...), %% and the escapes
\n \t \r \\.

With --group the records are consumed as a member of a consumer group: the group's
committed offsets win over -o, and the records printed are committed on exit.
When stdout is not a terminal and the range is bounded, progress goes to stderr.`,
		Example: `  cairn consume orders
  cairn consume orders -o 10:20 --format '%p/%o %k=%v\n'
  cairn consume orders -o @-1h:end --format json > last-hour.jsonl
  cairn consume orders payments --group audit -n 100`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, topics []string) error {
			return runConsume(cmd, g, &cf, topics)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&cf.offset, "offset", "o", "start", "where to start and optionally stop: FROM[:TO] (see above)")
	f.StringVarP(&cf.group, "group", "g", "", "consume as this consumer group, committing what is printed")
	f.IntVarP(&cf.num, "num", "n", 0, "exit after this many records (0: no limit)")
	f.StringVar(&cf.format, "format", "text", "output: text, json, or a template such as '%k %v\\n'")
	f.Int32SliceVarP(&cf.partitions, "partitions", "p", nil, "only these partitions (comma-separated; not with --group)")
	return cmd
}

// tp is a topic partition.
type tp struct {
	topic     string
	partition int32
}

func runConsume(cmd *cobra.Command, g *globalFlags, cf *consumeFlags, topics []string) error {
	spec, err := parseOffsetSpec(cf.offset, time.Now())
	if err != nil {
		return err
	}
	switch {
	case cf.num < 0:
		return fmt.Errorf("--num %d: want a count >= 0", cf.num)
	case cf.group != "" && spec.bounded():
		return errors.New("--group reads from the group's committed offsets; it cannot be combined with a bounded -o range")
	case cf.group != "" && len(cf.partitions) > 0:
		return errors.New("--group and --partitions exclude each other: the group assigns partitions")
	}
	rw, err := newRecordWriter(cmd.OutOrStdout(), cf.format)
	if err != nil {
		return err
	}

	// Resolve the range (and check that the topics exist) with an admin client.
	a, err := g.newAdmin(cmd)
	if err != nil {
		return err
	}
	ranges, err := resolveRanges(a, spec, topics, cf.partitions)
	a.Close()
	if err != nil {
		return err
	}

	opts := []kgo.Opt{kgo.ConsumeStartOffset(spec.from.kgoOffset())}
	c := &consumer{rw: rw, num: cf.num, ends: map[tp]int64{}}
	c.progress = spec.bounded() && !isTerminal(cmd.OutOrStdout())
	switch {
	case cf.group != "":
		opts = append(opts, kgo.ConsumerGroup(cf.group), kgo.ConsumeTopics(topics...), kgo.AutoCommitMarks())
	case spec.bounded():
		// Read exactly the resolved ranges, skipping partitions with nothing in them.
		assign := map[string]map[int32]kgo.Offset{}
		for _, r := range ranges {
			if r.start >= r.end {
				continue
			}
			if assign[r.topic] == nil {
				assign[r.topic] = map[int32]kgo.Offset{}
			}
			assign[r.topic][r.partition] = kgo.NewOffset().At(r.start)
			c.ends[tp{r.topic, r.partition}] = r.end
			c.total += r.end - r.start
		}
		if len(assign) == 0 {
			if c.progress {
				c.reportDone(cmd.ErrOrStderr(), time.Now())
			}
			return nil
		}
		opts = append(opts, kgo.ConsumePartitions(assign))
	case len(cf.partitions) > 0:
		assign := map[string]map[int32]kgo.Offset{}
		for _, r := range ranges {
			if assign[r.topic] == nil {
				assign[r.topic] = map[int32]kgo.Offset{}
			}
			assign[r.topic][r.partition] = spec.from.kgoOffset()
		}
		opts = append(opts, kgo.ConsumePartitions(assign))
	default:
		opts = append(opts, kgo.ConsumeTopics(topics...))
	}
	cl, err := g.newClient(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()

	runErr := c.run(cmd.Context(), cl, cmd.ErrOrStderr())
	if flushErr := rw.flush(); runErr == nil {
		runErr = flushErr
	}
	if cf.group != "" {
		// Commit what was printed, even after Ctrl-C.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(cmd.Context()), g.timeout)
		defer cancel()
		if err := cl.CommitMarkedOffsets(ctx); err != nil && runErr == nil {
			runErr = kafkaErr(ctx, "commit offsets of group "+cf.group, err)
		}
	}
	return runErr
}

// consumer is one consume's loop state; one goroutine owns it.
type consumer struct {
	rw       *recordWriter
	num      int          // stop after this many records; 0: no limit
	ends     map[tp]int64 // bounded reads: exclusive end per partition still being read
	total    int64        // bounded reads: records in the range
	progress bool         // report progress on stderr
	printed  int          // records printed
	last     *kgo.Record  // last record printed
	start    time.Time    // when polling began
	reported time.Time    // when progress was last reported
}

// run polls and prints until the read is done, ctx is done, or a fetch fails.
// Ctrl-C (ctx cancelled) is a clean exit.
func (c *consumer) run(ctx context.Context, cl *kgo.Client, stderr io.Writer) error {
	c.start = time.Now()
	c.reported = c.start
	boundedRead := len(c.ends) > 0
	for {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil
		}
		var fatal error
		fetches.EachError(func(topic string, p int32, err error) {
			if fatal == nil && !kerr.IsRetriable(err) && !errors.Is(err, context.Canceled) {
				fatal = fmt.Errorf("fetch %s/%d: %w", topic, p, err)
			}
		})
		if fatal != nil {
			return fatal
		}
		done := false
		fetches.EachRecord(func(r *kgo.Record) {
			if done {
				return
			}
			key := tp{r.Topic, r.Partition}
			if boundedRead {
				end, reading := c.ends[key]
				if !reading || r.Offset >= end {
					return
				}
				if r.Offset+1 >= end {
					delete(c.ends, key)
					cl.PauseFetchPartitions(map[string][]int32{r.Topic: {r.Partition}})
				}
			}
			if err := c.rw.write(r); err != nil {
				done = true
				return
			}
			cl.MarkCommitRecords(r)
			c.printed++
			c.last = r
			if c.num > 0 && c.printed >= c.num {
				done = true
			}
		})
		if err := c.rw.flush(); err != nil {
			return fmt.Errorf("write records: %w", err)
		}
		if boundedRead && len(c.ends) == 0 {
			done = true
		}
		now := time.Now()
		if done {
			if c.progress {
				c.reportDone(stderr, now)
			}
			return nil
		}
		if c.progress && now.Sub(c.reported) >= progressInterval {
			c.report(stderr, now)
			c.reported = now
		}
	}
}

// report writes one progress line: records, percent of the range, rate, position.
func (c *consumer) report(w io.Writer, now time.Time) {
	pct := 100.0
	if c.total > 0 {
		pct = 100 * float64(c.printed) / float64(c.total)
	}
	rate := float64(c.printed) / max(now.Sub(c.start).Seconds(), 1e-3)
	pos := ""
	if c.last != nil {
		pos = fmt.Sprintf(", at %s/%d@%d", c.last.Topic, c.last.Partition, c.last.Offset)
	}
	fmt.Fprintf(w, "consumed %d of %d records (%.0f%%), %.0f records/s%s\n", c.printed, c.total, pct, rate, pos)
}

func (c *consumer) reportDone(w io.Writer, now time.Time) {
	if c.start.IsZero() {
		c.start = now
	}
	rate := float64(c.printed) / max(now.Sub(c.start).Seconds(), 1e-3)
	fmt.Fprintf(w, "consumed %d records in %v (%.0f records/s)\n", c.printed, now.Sub(c.start).Round(time.Millisecond), rate)
}
