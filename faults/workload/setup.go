package workload

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Bounds of the admin steps, applied when the caller's context has no
// earlier deadline.
const (
	DefaultSetupTimeout     = time.Minute
	DefaultFinalReadTimeout = 2 * time.Minute
	adminRetryBackoff       = 250 * time.Millisecond
)

// Setup creates topic with partitions and replication factor rf (nothing
// to do if it exists; its partition count is not checked) and waits until
// every partition has a leader that answers ListOffsets. It gives up when
// ctx is done or after DefaultSetupTimeout.
func Setup(ctx context.Context, brokers []string, topic string, partitions int32, rf int16) error {
	ctx, cancel := context.WithTimeout(ctx, DefaultSetupTimeout)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return fmt.Errorf("setup client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	for {
		_, err := adm.CreateTopic(ctx, partitions, rf, nil, topic)
		if err == nil || errors.Is(err, kerr.TopicAlreadyExists) {
			break
		}
		// A Kafka error that retrying cannot fix ends it; connection errors
		// and retriable codes (no controller yet, say) are retried.
		var ke *kerr.Error
		if errors.As(err, &ke) && !ke.Retriable && ke != kerr.NotController {
			return fmt.Errorf("create topic %s: %w", topic, err)
		}
		if werr := sleep(ctx, adminRetryBackoff); werr != nil {
			return fmt.Errorf("create topic %s: %w (last error: %v)", topic, werr, err)
		}
	}
	if _, _, err := listOffsets(ctx, adm, topic); err != nil {
		return fmt.Errorf("wait for leaders of %s: %w", topic, err)
	}
	return nil
}

// listOffsets returns the start and end (high watermark) offsets of every
// partition of topic, retrying until every partition answers, or ctx is
// done. Partitions come from the metadata, so a partition that has no
// leader is waited for rather than missed.
func listOffsets(ctx context.Context, adm *kadm.Client, topic string) (start, end map[int32]int64, err error) {
	var last error
	for {
		start, end, last = tryListOffsets(ctx, adm, topic)
		if last == nil {
			return start, end, nil
		}
		if err := sleep(ctx, adminRetryBackoff); err != nil {
			return nil, nil, fmt.Errorf("%w (last error: %v)", err, last)
		}
	}
}

func tryListOffsets(ctx context.Context, adm *kadm.Client, topic string) (start, end map[int32]int64, err error) {
	md, err := adm.Metadata(ctx, topic)
	if err != nil {
		return nil, nil, err
	}
	td, ok := md.Topics[topic]
	switch {
	case !ok:
		return nil, nil, fmt.Errorf("topic %s not in metadata", topic)
	case td.Err != nil:
		return nil, nil, td.Err
	case len(td.Partitions) == 0:
		return nil, nil, fmt.Errorf("topic %s has no partitions", topic)
	}
	for _, p := range td.Partitions {
		if p.Err != nil {
			return nil, nil, fmt.Errorf("partition %d: %w", p.Partition, p.Err)
		}
		if p.Leader < 0 {
			return nil, nil, fmt.Errorf("partition %d has no leader", p.Partition)
		}
	}
	collect := func(l kadm.ListedOffsets, err error) (map[int32]int64, error) {
		if err != nil {
			return nil, err
		}
		if err := l.Error(); err != nil {
			return nil, err
		}
		out := map[int32]int64{}
		for p := range td.Partitions {
			o, ok := l.Lookup(topic, p)
			if !ok {
				return nil, fmt.Errorf("partition %d: no offset listed", p)
			}
			out[p] = o.Offset
		}
		return out, nil
	}
	if start, err = collect(adm.ListStartOffsets(ctx, topic)); err != nil {
		return nil, nil, fmt.Errorf("list start offsets: %w", err)
	}
	if end, err = collect(adm.ListEndOffsets(ctx, topic)); err != nil {
		return nil, nil, fmt.Errorf("list end offsets: %w", err)
	}
	return start, end, nil
}

// sleep waits d, or returns ctx's error when it is done first.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
