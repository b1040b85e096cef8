package bench

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Summary is the result of a run. Throughput counts value bytes; MB is 10^6
// bytes.
type Summary struct {
	Mode        Mode     `json:"mode"`
	Brokers     []string `json:"brokers"`
	Topic       string   `json:"topic"`
	RecordBytes int      `json:"record_bytes"`
	Partitions  int32    `json:"partitions"`
	Replication int16    `json:"replication"`
	Acks        string   `json:"acks"`
	Compression string   `json:"compression"`
	Linger      string   `json:"linger"`
	Producers   int      `json:"producers"`
	Consumers   int      `json:"consumers"`
	TargetRate  float64  `json:"target_rate"`

	ElapsedSec float64 `json:"elapsed_s"`
	// Produced counts acknowledged records, over the time from the start to
	// the last acknowledgement. Absent in ModeConsume.
	Produced *Throughput `json:"produced,omitempty"`
	// Consumed counts benchmark records read, over the time from the start
	// to the last read. Absent in ModeProduce.
	Consumed *Throughput `json:"consumed,omitempty"`
	// ProduceLatency is send → acknowledgement.
	ProduceLatency *Latency `json:"produce_latency,omitempty"`
	// EndToEndLatency is send → receive by a consumer (ModeE2E only).
	EndToEndLatency *Latency `json:"e2e_latency,omitempty"`
	// Delivery is the exactly-once check of what was read back (ModeE2E and
	// ModeConsume; in ModeConsume a loss at the tail of a run is invisible).
	Delivery *Delivery `json:"delivery,omitempty"`
	// Foreign counts records read that belong to no run of this benchmark (or
	// to another run, in ModeE2E).
	Foreign     uint64 `json:"foreign,omitempty"`
	Runs        int    `json:"runs,omitempty"` // runs found, in ModeConsume
	ProduceErrs uint64 `json:"produce_errors"`
	ConsumeErrs uint64 `json:"consume_errors"`
	FirstError  string `json:"first_error,omitempty"`
}

// Throughput is a count of records over a time.
type Throughput struct {
	Records       uint64  `json:"records"`
	Bytes         uint64  `json:"bytes"`
	ElapsedSec    float64 `json:"elapsed_s"`
	RecordsPerSec float64 `json:"records_per_s"`
	MBPerSec      float64 `json:"mb_per_s"`
}

func throughput(records, bytes uint64, elapsed time.Duration) *Throughput {
	t := &Throughput{Records: records, Bytes: bytes, ElapsedSec: elapsed.Seconds()}
	if elapsed > 0 {
		t.RecordsPerSec = float64(records) / elapsed.Seconds()
		t.MBPerSec = float64(bytes) / 1e6 / elapsed.Seconds()
	}
	return t
}

func (r *runner) summary(sendEnd time.Time) *Summary {
	r.mu.Lock()
	defer r.mu.Unlock()
	cfg := r.cfg
	s := &Summary{
		Mode: cfg.Mode, Brokers: cfg.Brokers, Topic: cfg.Topic, RecordBytes: cfg.RecordBytes,
		Partitions: cfg.Partitions, Replication: cfg.Replication, Acks: cfg.Acks,
		Compression: cfg.Compression, Linger: cfg.Linger.String(),
		Producers: cfg.Producers, Consumers: cfg.Consumers, TargetRate: cfg.Rate,
		ElapsedSec:  time.Since(r.start).Seconds(),
		Foreign:     r.mu.foreign,
		ProduceErrs: r.mu.produceErrs,
		ConsumeErrs: r.mu.consumeErrs,
	}
	if r.mu.firstErr != nil {
		s.FirstError = r.mu.firstErr.Error()
	}
	if cfg.Mode != ModeConsume {
		end := r.mu.lastAck
		if end.IsZero() {
			end = sendEnd
		}
		s.Produced = throughput(r.mu.acked, r.mu.ackBytes, end.Sub(r.start))
		l := r.mu.ackLat.Summary()
		s.ProduceLatency = &l
	}
	if cfg.Mode == ModeProduce {
		return s
	}
	var end time.Duration
	if !r.mu.lastRead.IsZero() {
		end = r.mu.lastRead.Sub(r.start)
	}
	s.Consumed = throughput(r.mu.read, r.mu.readBytes, end)
	if cfg.Mode == ModeE2E {
		l := r.mu.e2eLat.Summary()
		s.EndToEndLatency = &l
		d := r.mu.checks[r.run].Result()
		s.Delivery = &d
		return s
	}
	var d Delivery
	for run, c := range r.mu.checks {
		if c.Len() == 0 && run == r.run {
			continue // this run's own checker, unused in a replay
		}
		s.Runs++
		c.AckUpTo(c.Len())
		one := c.Result()
		d.Acked += one.Acked
		d.Read += one.Read
		d.Lost += one.Lost
		d.Duplicated += one.Duplicated
		d.Unacked += one.Unacked
	}
	d.OK = d.Lost == 0 && d.Duplicated == 0
	s.Delivery = &d
	return s
}

// WriteText writes s for a person.
func (s *Summary) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: topic %s, %d partitions × replication %d, %d B records, acks=%s, compression %s, linger %s, %d producers, %d consumers",
		s.Mode, s.Topic, s.Partitions, s.Replication, s.RecordBytes, s.Acks, s.Compression, s.Linger, s.Producers, s.Consumers)
	if s.TargetRate > 0 {
		fmt.Fprintf(&b, ", target %.0f records/s (open loop: latency from the scheduled send)", s.TargetRate)
	}
	fmt.Fprintf(&b, "\nelapsed   %.2fs\n", s.ElapsedSec)
	tp := func(name string, t *Throughput) {
		if t != nil {
			fmt.Fprintf(&b, "%-9s %d records in %.2fs: %.0f records/s, %.2f MB/s\n", name, t.Records, t.ElapsedSec, t.RecordsPerSec, t.MBPerSec)
		}
	}
	tp("produced", s.Produced)
	tp("consumed", s.Consumed)
	lat := func(name string, l *Latency) {
		if l != nil && l.Count > 0 {
			fmt.Fprintf(&b, "%-9s p50 %.3fms  p90 %.3fms  p99 %.3fms  p99.9 %.3fms  max %.3fms  (mean %.3fms, %d samples)\n",
				name, l.P50Ms, l.P90Ms, l.P99Ms, l.P999Ms, l.MaxMs, l.MeanMs, l.Count)
		}
	}
	lat("ack", s.ProduceLatency)
	lat("e2e", s.EndToEndLatency)
	if d := s.Delivery; d != nil {
		verdict := "exactly once"
		if !d.OK {
			verdict = "NOT EXACTLY ONCE"
		}
		fmt.Fprintf(&b, "delivery  %s: %d acknowledged, %d read, %d lost, %d duplicated, %d read but unacknowledged",
			verdict, d.Acked, d.Read, d.Lost, d.Duplicated, d.Unacked)
		if s.Runs > 0 {
			fmt.Fprintf(&b, " (%d runs)", s.Runs)
		}
		b.WriteString("\n")
	}
	if s.Foreign > 0 {
		fmt.Fprintf(&b, "foreign   %d records not of this run\n", s.Foreign)
	}
	fmt.Fprintf(&b, "errors    %d produce, %d consume", s.ProduceErrs, s.ConsumeErrs)
	if s.FirstError != "" {
		fmt.Fprintf(&b, " (first: %s)", s.FirstError)
	}
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// progressLoop writes a progress line to w every interval until stop closes.
func (r *runner) progressLoop(w io.Writer, stop <-chan struct{}) {
	t := time.NewTicker(r.cfg.ProgressInterval)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			fmt.Fprintln(w, r.progressLine(now.Sub(last)))
			last = now
		}
	}
}

func (r *runner) progressLine(dt time.Duration) string {
	r.mu.Lock()
	sent, read := r.mu.acked-r.mu.tickSent, r.mu.read-r.mu.tickRd
	r.mu.tickSent, r.mu.tickRd = r.mu.acked, r.mu.read
	p50, p99, n := r.mu.tickLat.Quantile(0.5), r.mu.tickLat.Quantile(0.99), r.mu.tickLat.Count()
	r.mu.tickLat.Reset()
	errs := r.mu.produceErrs + r.mu.consumeErrs
	r.mu.Unlock()

	secs := dt.Seconds()
	size := float64(r.cfg.RecordBytes)
	var b strings.Builder
	fmt.Fprintf(&b, "%s %6.1fs", r.cfg.Mode, time.Since(r.start).Seconds())
	if r.cfg.Mode != ModeConsume {
		fmt.Fprintf(&b, "  acked %8.0f rec/s %7.2f MB/s", float64(sent)/secs, float64(sent)*size/1e6/secs)
	}
	if r.cfg.Mode != ModeProduce {
		fmt.Fprintf(&b, "  read %8.0f rec/s %7.2f MB/s", float64(read)/secs, float64(read)*size/1e6/secs)
	}
	if n > 0 {
		fmt.Fprintf(&b, "  p50 %.2fms p99 %.2fms", ms(p50), ms(p99))
	}
	fmt.Fprintf(&b, "  errors %d", errs)
	return b.String()
}
