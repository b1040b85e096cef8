package bench

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// runner is the state of one Run. Counters and histograms are guarded by mu;
// producers' callbacks, consumers and the progress goroutine share them.
type runner struct {
	cfg   Config
	run   uint64
	start time.Time

	nextSeq atomic.Uint64 // the next sequence a producer sends

	progressed chan struct{} // a consumer read something; capacity 1

	mu struct {
		sync.Mutex
		checks           map[uint64]*Checker // per run id; only this run's but in ModeConsume
		sent, sentBytes  uint64
		acked, ackBytes  uint64
		read, readBytes  uint64
		foreign          uint64
		produceErrs      uint64
		consumeErrs      uint64
		firstErr         error
		ackLat, e2eLat   Histogram
		tickLat          Histogram // latency since the last progress line
		lastAck          time.Time
		lastRead         time.Time
		next             map[int32]int64 // per partition, the next offset to read
		tickSent, tickRd uint64
	}
}

func (r *runner) noteErr(consume bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if consume {
		r.mu.consumeErrs++
	} else {
		r.mu.produceErrs++
	}
	if r.mu.firstErr == nil {
		r.mu.firstErr = err
	}
}

// Run runs the workload cfg describes and returns its summary. A progress line
// is written to progress (if not nil) every cfg.ProgressInterval. Run returns an
// error only when the run could not take place (bad config, no cluster, a topic
// that cannot be created); failed records are counted in the summary.
func Run(ctx context.Context, cfg Config, progress io.Writer) (*Summary, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	r := &runner{cfg: cfg, progressed: make(chan struct{}, 1)}
	var id [8]byte
	_, _ = rand.Read(id[:])
	r.run = binary.BigEndian.Uint64(id[:])
	r.mu.next = map[int32]int64{}
	r.mu.checks = map[uint64]*Checker{r.run: {}}

	admCl, err := kgo.NewClient(r.baseOpts()...)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)
	adm.SetTimeoutMillis(int32(cfg.RequestTimeout.Milliseconds()))

	if cfg.Mode != ModeConsume {
		if err := r.createTopic(ctx, adm); err != nil {
			return nil, err
		}
	}
	// Where reading starts and, for a replay, where it ends.
	var from, until map[int32]int64
	switch cfg.Mode {
	case ModeE2E:
		if from, err = r.offsets(ctx, adm, false); err != nil {
			return nil, err
		}
	case ModeConsume:
		if from, err = r.offsets(ctx, adm, true); err != nil {
			return nil, err
		}
		if until, err = r.offsets(ctx, adm, false); err != nil {
			return nil, err
		}
		r.cfg.Partitions = int32(len(from))
	}
	for p, o := range from {
		r.mu.next[p] = o
	}

	// Producers are connected and hold a producer id before the clock
	// starts, so that a paced schedule does not count their setup.
	var producers []*kgo.Client
	defer func() {
		for _, cl := range producers {
			cl.Close()
		}
	}()
	if cfg.Mode != ModeConsume {
		for range cfg.Producers {
			cl, err := r.newProducer(ctx)
			if err != nil {
				return nil, err
			}
			producers = append(producers, cl)
		}
	}

	r.start = time.Now()
	var wg sync.WaitGroup
	stopProgress := make(chan struct{})
	if progress != nil {
		wg.Go(func() { r.progressLoop(progress, stopProgress) })
	}
	defer func() {
		close(stopProgress)
		wg.Wait()
	}()

	readCtx, stopReading := context.WithCancel(ctx)
	defer stopReading()
	var readers sync.WaitGroup
	if from != nil {
		parts := sortedPartitions(from)
		n := min(cfg.Consumers, len(parts))
		for i := range n {
			var mine []int32
			for j := i; j < len(parts); j += n {
				mine = append(mine, parts[j])
			}
			readers.Go(func() { r.consume(readCtx, mine, from) })
		}
	}

	var sendEnd time.Time
	if cfg.Mode != ModeConsume {
		sendCtx := ctx
		if cfg.Duration > 0 {
			var cancel context.CancelFunc
			sendCtx, cancel = context.WithTimeout(ctx, cfg.Duration)
			defer cancel()
		}
		var sending sync.WaitGroup
		for _, cl := range producers {
			sending.Go(func() { r.produce(ctx, sendCtx, cl) })
		}
		sending.Wait()
		sendEnd = time.Now()
	}

	if cfg.Mode == ModeE2E {
		// Read up to the end the partitions have now that sending is over:
		// every record written, acknowledged or not, so duplicates count too.
		if until, err = r.offsets(ctx, adm, false); err != nil {
			stopReading()
			readers.Wait()
			return nil, err
		}
	}
	if from != nil {
		r.awaitRead(ctx, until)
		stopReading()
		readers.Wait()
	}
	return r.summary(sendEnd), nil
}

// awaitRead returns when consumers have read to until on every partition, when
// a consume-only run has read cfg.Records or run cfg.Duration, or when the
// drain timeout runs out.
func (r *runner) awaitRead(ctx context.Context, until map[int32]int64) {
	limit := r.cfg.DrainTimeout
	if r.cfg.Mode == ModeConsume && r.cfg.Duration > 0 {
		limit = r.cfg.Duration
	}
	timer := time.NewTimer(limit)
	defer timer.Stop()
	for {
		if r.readDone(until) {
			return
		}
		select {
		case <-r.progressed:
		case <-timer.C:
			return
		case <-ctx.Done():
			return
		}
	}
}

func (r *runner) readDone(until map[int32]int64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cfg.Mode == ModeConsume && r.cfg.Records > 0 && int64(r.mu.read+r.mu.foreign) >= r.cfg.Records {
		return true
	}
	for p, end := range until {
		if r.mu.next[p] < end {
			return false
		}
	}
	return true
}

func (r *runner) baseOpts() []kgo.Opt {
	return []kgo.Opt{
		kgo.SeedBrokers(r.cfg.Brokers...),
		kgo.ClientID("cairn-bench"),
		kgo.DialTimeout(min(r.cfg.RequestTimeout, 5*time.Second)),
		kgo.RetryTimeout(r.cfg.RequestTimeout),
	}
}

// createTopic creates the topic unless it exists.
func (r *runner) createTopic(ctx context.Context, adm *kadm.Client) error {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.RequestTimeout)
	defer cancel()
	res, err := adm.CreateTopic(ctx, r.cfg.Partitions, r.cfg.Replication, nil, r.cfg.Topic)
	if err == nil {
		err = res.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("create topic %s (%d partitions, replication %d): %w", r.cfg.Topic, r.cfg.Partitions, r.cfg.Replication, err)
	}
	return nil
}

// offsets returns the start (or end) offset of every partition of the topic.
// A new topic's partitions may have no leader yet: it asks again, with a short
// backoff, until every partition answers or the request timeout runs out.
func (r *runner) offsets(ctx context.Context, adm *kadm.Client, start bool) (map[int32]int64, error) {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.RequestTimeout)
	defer cancel()
	backoff := 50 * time.Millisecond
	for {
		var listed kadm.ListedOffsets
		var err error
		if start {
			listed, err = adm.ListStartOffsets(ctx, r.cfg.Topic)
		} else {
			listed, err = adm.ListEndOffsets(ctx, r.cfg.Topic)
		}
		if err == nil {
			err = listed.Error()
		}
		out := map[int32]int64{}
		listed.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
		if err == nil && len(out) == 0 {
			err = fmt.Errorf("topic %s: %w", r.cfg.Topic, kerr.UnknownTopicOrPartition)
		}
		if err == nil {
			return out, nil
		}
		if r.cfg.Mode == ModeConsume && errors.Is(err, kerr.UnknownTopicOrPartition) {
			return nil, fmt.Errorf("topic %s does not exist", r.cfg.Topic)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("list offsets of %s: %w", r.cfg.Topic, err)
		case <-time.After(backoff):
			backoff = min(2*backoff, time.Second)
		}
	}
}

func sortedPartitions(m map[int32]int64) []int32 {
	out := make([]int32, 0, len(m))
	for p := range m {
		out = append(out, p)
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// ParseCompression returns the kgo codec named none, gzip, snappy, lz4 or
// zstd (any case; "" is none).
func ParseCompression(name string) (kgo.CompressionCodec, error) {
	switch strings.ToLower(name) {
	case "none", "":
		return kgo.NoCompression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "lz4":
		return kgo.Lz4Compression(), nil
	case "zstd":
		return kgo.ZstdCompression(), nil
	}
	return kgo.CompressionCodec{}, fmt.Errorf("compression %q: want none, gzip, snappy, lz4 or zstd", name)
}

// newProducer returns a producer client for the run's settings, connected
// and holding its producer id (when idempotent). The caller closes it.
func (r *runner) newProducer(ctx context.Context) (*kgo.Client, error) {
	codec, _ := ParseCompression(r.cfg.Compression) // checked by Validate
	opts := append(r.baseOpts(),
		kgo.DefaultProduceTopic(r.cfg.Topic),
		kgo.ProducerLinger(r.cfg.Linger),
		kgo.ProducerBatchMaxBytes(r.cfg.BatchBytes),
		kgo.ProducerBatchCompression(codec),
		kgo.RecordDeliveryTimeout(r.cfg.DrainTimeout),
	)
	switch r.cfg.Acks {
	case "all":
		opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
	case "leader":
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	case "none":
		opts = append(opts, kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite())
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("producer client: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, r.cfg.RequestTimeout)
	defer cancel()
	err = cl.Ping(ctx)
	if err == nil && r.cfg.Acks == "all" {
		_, _, err = cl.ProducerID(ctx)
	}
	if err != nil {
		cl.Close()
		return nil, fmt.Errorf("producer client: %w", err)
	}
	return cl, nil
}

// produce is one producer: it takes sequences until the count is sent or
// sendCtx ends, paced to cfg.Rate over all producers, then flushes. Records
// are produced under ctx, so the end of the sending phase does not fail the
// records already buffered.
//
// With a rate the schedule is open loop: sequence n is due at start + n/rate
// whatever happened to the records before it, and its latency counts from
// that due time, not from when it was handed to the client. A producer held
// up (the cluster slow to acknowledge, kgo's buffer full) sends what fell due
// meanwhile at once, and the wait shows in the latency of those records
// instead of thinning the sample (no coordinated omission).
func (r *runner) produce(ctx, sendCtx context.Context, cl *kgo.Client) {
	defer func() {
		flushCtx, cancel := context.WithTimeout(ctx, r.cfg.DrainTimeout)
		defer cancel()
		if err := cl.Flush(flushCtx); err != nil {
			r.noteErr(false, fmt.Errorf("flush: %w", err))
		}
	}()

	var pace *time.Timer
	for sendCtx.Err() == nil {
		seq := r.nextSeq.Add(1) - 1
		if r.cfg.Records > 0 && seq >= uint64(r.cfg.Records) {
			return
		}
		sent := time.Now()
		if r.cfg.Rate > 0 {
			due := r.start.Add(time.Duration(float64(seq) / r.cfg.Rate * float64(time.Second)))
			if wait := time.Until(due); wait > 0 {
				if pace == nil {
					pace = time.NewTimer(wait)
				} else {
					pace.Reset(wait)
				}
				select {
				case <-pace.C:
				case <-sendCtx.Done():
					return
				}
			}
			sent = due
		}
		value := make([]byte, r.cfg.RecordBytes)
		header{run: r.run, seq: seq, sent: sent}.put(value)
		r.mu.Lock()
		r.mu.sent++
		r.mu.sentBytes += uint64(len(value))
		r.mu.Unlock()
		cl.Produce(ctx, &kgo.Record{Value: value}, func(rec *kgo.Record, err error) {
			if err != nil {
				r.noteErr(false, err)
				return
			}
			now := time.Now()
			r.mu.Lock()
			defer r.mu.Unlock()
			r.mu.checks[r.run].Ack(seq)
			r.mu.acked++
			r.mu.ackBytes += uint64(len(rec.Value))
			r.mu.lastAck = now
			r.mu.ackLat.Record(int64(now.Sub(sent)))
			if r.cfg.Mode == ModeProduce {
				r.mu.tickLat.Record(int64(now.Sub(sent)))
			}
		})
	}
}

// consume reads parts from the offsets in from until ctx ends.
func (r *runner) consume(ctx context.Context, parts []int32, from map[int32]int64) {
	assign := map[int32]kgo.Offset{}
	for _, p := range parts {
		assign[p] = kgo.NewOffset().At(from[p])
	}
	cl, err := kgo.NewClient(append(r.baseOpts(),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{r.cfg.Topic: assign}),
		kgo.FetchMaxWait(500*time.Millisecond),
	)...)
	if err != nil {
		r.noteErr(true, fmt.Errorf("consumer client: %w", err))
		return
	}
	defer cl.Close()
	for {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return
		}
		fetches.EachError(func(_ string, _ int32, err error) { r.noteErr(true, err) })
		now := time.Now()
		r.mu.Lock()
		fetches.EachRecord(func(rec *kgo.Record) {
			r.mu.next[rec.Partition] = max(r.mu.next[rec.Partition], rec.Offset+1)
			h, ok := parseHeader(rec.Value)
			if !ok || (r.cfg.Mode == ModeE2E && h.run != r.run) {
				r.mu.foreign++
				return
			}
			c := r.mu.checks[h.run]
			if c == nil {
				c = &Checker{}
				r.mu.checks[h.run] = c
			}
			c.Read(h.seq)
			r.mu.read++
			r.mu.readBytes += uint64(len(rec.Value))
			r.mu.lastRead = now
			if r.cfg.Mode == ModeE2E {
				lat := int64(now.Sub(h.sent))
				r.mu.e2eLat.Record(lat)
				r.mu.tickLat.Record(lat)
			}
		})
		r.mu.Unlock()
		select {
		case r.progressed <- struct{}{}:
		default:
		}
	}
}
