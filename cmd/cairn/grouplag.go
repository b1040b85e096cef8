package main

// Lag in seconds for `group describe`: the age of the oldest record a group
// has not consumed yet. The Kafka protocol has no request that maps an offset
// to a timestamp (ListOffsets maps timestamps to offsets), so the command
// reads the one record at each lagging partition's first unconsumed offset,
// with a consumer assigned those partitions directly (no group, no commits).
// Any Kafka-compatible cluster answers it.

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// lagFetchPartitionBytes bounds what each partition returns to the fetch of
// its oldest unconsumed record: one record is needed, and a broker returns
// at least the first batch whatever the bound.
const lagFetchPartitionBytes = 64 << 10

// oldestRecord is the first record at or after an offset: its timestamp, or
// the error that kept it from being read.
type oldestRecord struct {
	timestamp time.Time
	err       error
}

// oldestRecords reads the first record at or after from[topic][partition]
// of every partition named, and returns what it found for each. It returns
// when every partition has answered or ctx ends; a partition that has not
// answered by then is absent from the result (the caller reports its age as
// unknown). Partitions whose offsets lie before the log start (retention
// removed them) are read from the log start: the oldest record left. Control
// records (transaction markers) are skipped, so a partition whose remaining
// records are all markers answers only when ctx ends.
func (g *globalFlags) oldestRecords(ctx context.Context, from map[string]map[int32]int64) (map[string]map[int32]oldestRecord, error) {
	out := map[string]map[int32]oldestRecord{}
	assign := map[string]map[int32]kgo.Offset{}
	left := 0
	for t, ps := range from {
		assign[t] = map[int32]kgo.Offset{}
		out[t] = map[int32]oldestRecord{}
		for p, o := range ps {
			assign[t][p] = kgo.NewOffset().At(o)
			left++
		}
	}
	if left == 0 {
		return out, nil
	}
	cl, err := g.newClient(
		kgo.ConsumePartitions(assign),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxPartitionBytes(lagFetchPartitionBytes),
		kgo.FetchMaxWait(200*time.Millisecond),
	)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	done := func(topic string, partition int32, r oldestRecord) {
		if _, seen := out[topic][partition]; seen {
			return
		}
		out[topic][partition] = r
		left--
		cl.PauseFetchPartitions(map[string][]int32{topic: {partition}})
	}
	for left > 0 {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			break
		}
		fetches.EachError(func(t string, p int32, err error) {
			if _, ok := from[t][p]; ok {
				done(t, p, oldestRecord{err: err})
			}
		})
		// Records arrive in offset order per partition: the first is the
		// oldest unconsumed.
		fetches.EachRecord(func(r *kgo.Record) {
			done(r.Topic, r.Partition, oldestRecord{timestamp: r.Timestamp})
		})
	}
	return out, nil
}

// addLagSeconds fills LagSeconds, OldestUnconsumed and MaxLagSeconds of descs
// from the oldest unconsumed record of each lagging partition, read within
// ctx. A partition caught up has 0 seconds; one whose record could not be
// read within ctx has -1 (and the reason in Error).
func (g *globalFlags) addLagSeconds(ctx context.Context, descs []groupDescription) error {
	for i := range descs {
		d := &descs[i]
		from := map[string]map[int32]int64{}
		for _, p := range d.Partitions {
			if p.Lag <= 0 {
				continue
			}
			if from[p.Topic] == nil {
				from[p.Topic] = map[int32]int64{}
			}
			// kadm counts the lag from the commit, else from the log start.
			from[p.Topic][p.Partition] = p.LogEnd - p.Lag
		}
		found, err := g.oldestRecords(ctx, from)
		if err != nil {
			return fmt.Errorf("group %s: read the oldest unconsumed records: %w", d.Group, err)
		}
		now := time.Now()
		for j := range d.Partitions {
			p := &d.Partitions[j]
			switch {
			case p.Lag == 0:
				p.LagSeconds = 0
				continue
			case p.Lag < 0:
				p.LagSeconds = -1
				continue
			}
			r, ok := found[p.Topic][p.Partition]
			switch {
			case !ok:
				p.LagSeconds = -1
				if p.Error == "" {
					p.Error = "oldest unconsumed record not read within --timeout"
				}
			case r.err != nil:
				p.LagSeconds = -1
				if p.Error == "" {
					p.Error = r.err.Error()
				}
			default:
				// A producer's clock may run ahead of ours: no negative ages.
				age := max(now.Sub(r.timestamp), 0)
				p.LagSeconds = age.Round(time.Millisecond).Seconds()
				p.OldestUnconsumed = r.timestamp.UTC().Format(time.RFC3339Nano)
			}
			d.MaxLagSeconds = max(d.MaxLagSeconds, p.LagSeconds)
		}
	}
	return nil
}
