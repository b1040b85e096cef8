package workload

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cairnlog/cairn/faults/history"
)

// FinalRead reads back the whole topic after the faults healed: it lists
// every partition's start offset and high watermark (retrying until every
// partition has a leader), then reads each partition from its start to its
// high watermark with a fresh client, writing a history.FinalRead op per
// record and, once a partition is read through, a history.FinalEnd op with
// Offset = its high watermark (Detail names the start offset). It returns
// the high watermarks.
//
// Records are written as fetched: a gap or a repeat in what the broker
// serves shows in the history for the checker to find. It gives up when ctx
// is done or after DefaultFinalReadTimeout, with an error naming the
// partitions not read through (their reads so far are in the history, their
// FinalEnd ops are not).
func FinalRead(ctx context.Context, brokers []string, topic string, w *history.Writer) (hwm map[int32]int64, err error) {
	ctx, cancel := context.WithTimeout(ctx, DefaultFinalReadTimeout)
	defer cancel()
	rec := newRecorder(w, topic)

	admCl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return nil, fmt.Errorf("final read admin client: %w", err)
	}
	start, end, err := listOffsets(ctx, kadm.NewClient(admCl), topic)
	admCl.Close()
	if err != nil {
		return nil, fmt.Errorf("final read: list offsets of %s: %w", topic, err)
	}

	next := map[int32]int64{} // partitions still to read: next offset expected
	parts := map[int32]kgo.Offset{}
	for p, s := range start {
		if s < end[p] {
			next[p] = s
			parts[p] = kgo.NewOffset().At(s)
		}
	}
	finish := func(p int32) {
		rec.add(history.Op{Process: "final", Kind: history.FinalEnd, Outcome: history.OK,
			Partition: p, Offset: end[p], Detail: fmt.Sprintf("start %d", start[p])})
	}
	for _, p := range sortedKeys(start) {
		if _, reading := next[p]; !reading {
			finish(p)
		}
	}
	if len(next) == 0 {
		return end, nil
	}

	cl, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: parts}),
		// An out-of-range fetch must not silently restart a partition.
		kgo.ConsumeResetOffset(kgo.NoResetOffset()),
		kgo.FetchMaxWait(500*time.Millisecond),
	)
	if err != nil {
		return nil, fmt.Errorf("final read client: %w", err)
	}
	defer cl.Close()
	var lastErr error
	for len(next) > 0 {
		fs := cl.PollRecords(ctx, maxPollRecords)
		if ctx.Err() != nil {
			break
		}
		fs.EachError(func(_ string, p int32, err error) {
			lastErr = fmt.Errorf("partition %d: %w", p, err)
		})
		fs.EachRecord(func(r *kgo.Record) {
			n, reading := next[r.Partition]
			if !reading || r.Offset >= end[r.Partition] {
				return // past the high watermark listed
			}
			rec.add(history.Op{Process: "final", Kind: history.FinalRead, Outcome: history.OK,
				Partition: r.Partition, Offset: r.Offset, Value: string(r.Value)})
			n = r.Offset + 1
			if n < end[r.Partition] {
				next[r.Partition] = n
				return
			}
			delete(next, r.Partition)
			finish(r.Partition)
		})
	}
	if len(next) > 0 {
		err := fmt.Errorf("final read of %s: partitions %v not read through: %w", topic, sortedKeys(next), ctx.Err())
		if lastErr != nil {
			err = errors.Join(err, fmt.Errorf("last fetch error: %w", lastErr))
		}
		return nil, err
	}
	return end, nil
}

func sortedKeys[V any](m map[int32]V) []int32 {
	ks := make([]int32, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
