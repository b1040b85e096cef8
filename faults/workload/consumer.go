package workload

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/cairnlog/cairn/faults/history"
)

// maxPollRecords bounds the records one poll hands over, so a group member
// holds off a rebalance (BlockRebalanceOnPoll) only briefly.
const maxPollRecords = 500

// member is one consumer of a group. Rebalances are blocked from a poll
// until its records are written to the history (and maybe committed), so
// that no poll of a partition follows its revoke in the history and no
// commit is made for a partition the member no longer owns.
type member struct {
	name  string // history process
	group string
	cfg   Config
	rec   *recorder
}

func (m *member) run(ctx context.Context) {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(m.cfg.Brokers...),
		kgo.ConsumerGroup(m.group),
		kgo.ConsumeTopics(m.cfg.Topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.Balancers(kgo.RangeBalancer()),
		kgo.SessionTimeout(m.cfg.SessionTimeout),
		kgo.RebalanceTimeout(m.cfg.SessionTimeout),
		kgo.HeartbeatInterval(m.cfg.SessionTimeout/10),
		kgo.FetchMaxWait(500*time.Millisecond),
		kgo.MetadataMinAge(250*time.Millisecond),
		kgo.MetadataMaxAge(5*time.Second),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, ps map[string][]int32) {
			m.rec.add(history.Op{Process: m.name, Kind: history.Assign, Outcome: history.Info,
				Group: m.group, Partitions: sorted(ps[m.cfg.Topic])})
		}),
		kgo.OnPartitionsRevoked(func(_ context.Context, cl *kgo.Client, ps map[string][]int32) {
			// Commit what was polled before giving the partitions up, so
			// that their next owner resumes where this one stopped.
			m.commit(cl)
			m.rec.add(history.Op{Process: m.name, Kind: history.Revoke, Outcome: history.Info,
				Group: m.group, Partitions: sorted(ps[m.cfg.Topic])})
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, ps map[string][]int32) {
			m.rec.add(history.Op{Process: m.name, Kind: history.Revoke, Outcome: history.Info,
				Group: m.group, Partitions: sorted(ps[m.cfg.Topic]), Detail: "lost"})
		}),
		kgo.WithLogger(kgoLogger(m.cfg.Logger, m.name)),
	)
	if err != nil {
		m.rec.clientErr(m.name, fmt.Errorf("new consumer client: %w", err))
		return
	}
	lastCommit := time.Now()
	for {
		fs := cl.PollRecords(ctx, maxPollRecords)
		if ctx.Err() != nil || fs.IsClientClosed() {
			cl.AllowRebalance()
			break
		}
		fs.EachError(func(_ string, _ int32, err error) { m.rec.clientErr(m.name, err) })
		fs.EachRecord(func(r *kgo.Record) {
			m.rec.add(history.Op{Process: m.name, Kind: history.Poll, Outcome: history.OK, Group: m.group,
				Partition: r.Partition, Offset: r.Offset, Value: string(r.Value)})
		})
		if n := int64(fs.NumRecords()); n > 0 {
			m.rec.count(m.name, func(s *ProcessStats) { s.Polls += n })
		}
		if time.Since(lastCommit) >= m.cfg.CommitInterval {
			m.commit(cl)
			lastCommit = time.Now()
		}
		cl.AllowRebalance()
	}
	// Close leaves the group; its revoke commits what was polled.
	cl.Close()
}

// commit commits the offsets after the records polled and not yet
// committed, synchronously, recording one commit op per partition.
func (m *member) commit(cl *kgo.Client) {
	offsets := cl.UncommittedOffsets()
	if len(offsets) == 0 {
		return
	}
	// Not the run's context: the final commits happen as it stops.
	ctx, cancel := context.WithTimeout(context.Background(), m.cfg.SessionTimeout)
	defer cancel()
	cl.CommitOffsetsSync(ctx, offsets, func(_ *kgo.Client, req *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			m.rec.clientErr(m.name, fmt.Errorf("commit: %w", err))
		}
		codes := map[int32]int16{}
		if resp != nil {
			for _, t := range resp.Topics {
				for _, p := range t.Partitions {
					if t.Topic == m.cfg.Topic {
						codes[p.Partition] = p.ErrorCode
					}
				}
			}
		}
		for _, t := range req.Topics {
			if t.Topic != m.cfg.Topic {
				continue
			}
			for _, p := range t.Partitions {
				code, answered := codes[p.Partition]
				reqErr := err
				if reqErr == nil && !answered {
					reqErr = errors.New("partition missing from the response")
				}
				m.recordCommit(p.Partition, p.Offset, reqErr, code)
			}
		}
	})
}

func (m *member) recordCommit(partition int32, offset int64, reqErr error, code int16) {
	op := history.Op{Process: m.name, Kind: history.Commit, Outcome: commitOutcome(reqErr, code),
		Group: m.group, Partition: partition, Offset: offset}
	switch {
	case reqErr != nil:
		op.Err = reqErr.Error()
	case code != 0:
		err := kerrForCode(code)
		op.Err = err.Error()
		m.rec.noteErr(err)
	}
	m.rec.add(op)
	m.rec.count(m.name, func(s *ProcessStats) {
		switch op.Outcome {
		case history.OK:
			s.CommitsOK++
		case history.Fail:
			s.CommitsFail++
		default:
			s.CommitsUnknown++
		}
	})
}

// reader reads every partition from its start with assign(), no group.
type reader struct {
	name string
	cfg  Config
	rec  *recorder
}

func (rd *reader) run(ctx context.Context) {
	parts := map[int32]kgo.Offset{}
	for p := range rd.cfg.Partitions {
		parts[p] = kgo.NewOffset().AtStart()
	}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(rd.cfg.Brokers...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{rd.cfg.Topic: parts}),
		kgo.FetchMaxWait(500*time.Millisecond),
		kgo.MetadataMinAge(250*time.Millisecond),
		kgo.MetadataMaxAge(5*time.Second),
		kgo.WithLogger(kgoLogger(rd.cfg.Logger, rd.name)),
	)
	if err != nil {
		rd.rec.clientErr(rd.name, fmt.Errorf("new reader client: %w", err))
		return
	}
	defer cl.Close()
	rd.rec.add(history.Op{Process: rd.name, Kind: history.Assign, Outcome: history.Info,
		Partitions: sorted(slices.Collect(maps.Keys(parts)))})
	for {
		fs := cl.PollRecords(ctx, maxPollRecords)
		if ctx.Err() != nil || fs.IsClientClosed() {
			return
		}
		fs.EachError(func(_ string, _ int32, err error) { rd.rec.clientErr(rd.name, err) })
		fs.EachRecord(func(r *kgo.Record) {
			rd.rec.add(history.Op{Process: rd.name, Kind: history.Poll, Outcome: history.OK,
				Partition: r.Partition, Offset: r.Offset, Value: string(r.Value)})
		})
		if n := int64(fs.NumRecords()); n > 0 {
			rd.rec.count(rd.name, func(s *ProcessStats) { s.Polls += n })
		}
	}
}

func sorted(ps []int32) []int32 {
	ps = slices.Clone(ps)
	slices.Sort(ps)
	return ps
}

func groupProcess(g, i int) string { return "group-" + strconv.Itoa(g) + "/c" + strconv.Itoa(i) }
