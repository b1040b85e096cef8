package workload

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cairnlog/cairn/faults/history"
)

// producer is one idempotent producer writing "p<id>-<seq>" values. Its
// client is recreated, under a new process name, after a fatal producer-id
// error; seq carries over so values stay unique.
type producer struct {
	id          int
	cfg         Config
	rec         *recorder
	limit       *limiter
	maxInFlight int
	seq         int64 // owned by run's goroutine
}

// run produces until ctx is done, one client generation at a time.
func (p *producer) run(ctx context.Context) {
	base := "producer-" + strconv.Itoa(p.id)
	for gen := 0; ctx.Err() == nil; gen++ {
		name := base
		if gen > 0 {
			name += "." + strconv.Itoa(gen)
			p.rec.count(base, func(s *ProcessStats) { s.Restarts++ })
		}
		p.runClient(ctx, base, name)
	}
}

// runClient produces with one client until ctx is done or the client hits
// a fatal error, then resolves every record it produced (waiting at most
// the delivery timeout, after which closing the client fails the rest)
// before it returns.
func (p *producer) runClient(ctx context.Context, base, name string) {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(p.cfg.Brokers...),
		kgo.DefaultProduceTopic(p.cfg.Topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordDeliveryTimeout(p.cfg.DeliveryTimeout),
		kgo.ProduceRequestTimeout(p.cfg.RequestTimeout),
		kgo.MaxBufferedRecords(p.maxInFlight),
		kgo.ProducerLinger(5*time.Millisecond),
		kgo.MetadataMinAge(250*time.Millisecond),
		kgo.MetadataMaxAge(5*time.Second),
		kgo.WithLogger(kgoLogger(p.cfg.Logger, name)),
	)
	if err != nil {
		p.rec.clientErr(base, fmt.Errorf("new producer client: %w", err))
		_ = sleep(ctx, time.Second)
		return
	}
	var (
		inFlight  = make(chan struct{}, p.maxInFlight)
		fatal     = make(chan struct{})
		fatalOnce sync.Once
	)
	promise := func(r *kgo.Record, err error) {
		p.recordSend(base, name, r, err)
		if producerFatal(err) {
			fatalOnce.Do(func() { close(fatal) })
		}
		<-inFlight
	}
produce:
	for {
		if p.limit.wait(ctx) != nil {
			break
		}
		select {
		case inFlight <- struct{}{}:
		case <-ctx.Done():
			break produce
		case <-fatal:
			break produce
		}
		select {
		case <-fatal:
			<-inFlight
			break produce
		default:
		}
		p.seq++
		v := "p" + strconv.Itoa(p.id) + "-" + strconv.FormatInt(p.seq, 10)
		r := &kgo.Record{
			Key:       []byte(v),
			Value:     []byte(v),
			Partition: int32(p.seq % int64(p.cfg.Partitions)),
		}
		// Not ctx: cancelling a record only turns outcomes into unknowns.
		cl.Produce(context.Background(), r, promise)
	}

	fctx, cancel := context.WithTimeout(context.Background(), p.cfg.DeliveryTimeout+p.cfg.RequestTimeout)
	if err := cl.Flush(fctx); err != nil {
		p.rec.clientErr(base, fmt.Errorf("flush at stop: %w", err))
	}
	cancel()
	cl.Close() // fails what is still buffered with ErrClientClosed
	// Every promise has run once all in-flight slots are free again;
	// franz-go calls them all before Close returns, so this is a check.
	wait := time.NewTimer(promiseWait)
	defer wait.Stop()
	for range cap(inFlight) {
		select {
		case inFlight <- struct{}{}:
		case <-wait.C:
			p.rec.clientErr(base, errPromisesLost)
			return
		}
	}
}

// promiseWait bounds the wait for promises after the client closed.
const promiseWait = 10 * time.Second

// errPromisesLost means records produced were never resolved: their send
// ops are missing from the history.
var errPromisesLost = errors.New("produce promises not called after the client closed")

func (p *producer) recordSend(base, name string, r *kgo.Record, err error) {
	op := history.Op{
		Process:   name,
		Kind:      history.Send,
		Outcome:   sendOutcome(err),
		Partition: r.Partition,
		Offset:    -1,
		Value:     string(r.Value),
	}
	if err == nil {
		op.Offset = r.Offset
	} else {
		op.Err = err.Error()
		p.rec.noteErr(err)
	}
	p.rec.add(op)
	p.rec.count(base, func(s *ProcessStats) {
		switch op.Outcome {
		case history.OK:
			s.SendsOK++
		case history.Fail:
			s.SendsFail++
		default:
			s.SendsUnknown++
		}
	})
}

// limiter spaces events at least interval apart, shared by every producer:
// no bursts, so the brokers see a steady rate.
type limiter struct {
	interval time.Duration
	mu       struct {
		sync.Mutex
		next time.Time // earliest time of the next event
	}
}

func newLimiter(perSecond int) *limiter {
	return &limiter{interval: time.Second / time.Duration(perSecond)}
}

// wait blocks until the caller's event may happen, or ctx is done.
func (l *limiter) wait(ctx context.Context) error {
	now := time.Now()
	l.mu.Lock()
	at := l.mu.next
	if at.Before(now) {
		at = now
	}
	l.mu.next = at.Add(l.interval)
	l.mu.Unlock()
	if d := at.Sub(now); d > 0 {
		return sleep(ctx, d)
	}
	return ctx.Err()
}
