package bench

import (
	"errors"
	"fmt"
	"time"
)

// Mode names a workload.
type Mode string

const (
	// ModeProduce sends records and measures send → acknowledgement.
	ModeProduce Mode = "produce"
	// ModeConsume replays a topic from its start to the end it had when the run
	// began (or Records records), and checks the benchmark records it reads.
	ModeConsume Mode = "consume"
	// ModeE2E sends and reads at once and measures send → receive.
	ModeE2E Mode = "e2e"
)

// Config is one run. The zero value of every field but Brokers and Mode means
// its default, stated on the field; Validate checks it.
type Config struct {
	Brokers []string // seed brokers, host:port
	Mode    Mode

	Topic       string // default "cairn-bench"; created if missing (not by ModeConsume)
	Partitions  int32  // on creation; default 3
	Replication int16  // on creation; default 1

	RecordBytes int           // value size; default 1024, at least HeaderBytes
	Records     int64         // records to send (to read, in ModeConsume); 0 = no bound but Duration
	Duration    time.Duration // bound on the sending (reading) phase; 0 = no bound but Records
	// Rate is the records/s over all producers, on an open-loop schedule:
	// record n is due at n/Rate after the start, and its latency counts from
	// then. 0 = as fast as possible (closed loop: each producer sends as soon
	// as its client takes the record).
	Rate float64

	Producers   int           // producer clients; default 1
	Consumers   int           // consumer clients; default 1, at most the partitions
	Acks        string        // "all" (default, idempotent), "leader" or "none"
	Linger      time.Duration // producer linger; default 0 (batch what accumulates in flight)
	BatchBytes  int32         // max bytes of a produce batch; default 1 MiB
	Compression string        // "none" (default), "gzip", "snappy", "lz4" or "zstd"

	// DrainTimeout bounds how long reading may go on after sending ended (in
	// ModeE2E) or the whole read (ModeConsume without Duration), and the final
	// flush of producers; default 30s.
	DrainTimeout time.Duration
	// RequestTimeout bounds each administrative request; default 10s.
	RequestTimeout time.Duration
	// ProgressInterval is the period of the progress line; default 1s.
	ProgressInterval time.Duration
}

// Defaults.
const (
	DefaultTopic        = "cairn-bench"
	DefaultRecordBytes  = 1024
	defaultPartitions   = 3
	defaultDrainTimeout = 30 * time.Second
	defaultRequestTime  = 10 * time.Second
	defaultBatchBytes   = 1 << 20
)

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.Topic == "" {
		c.Topic = DefaultTopic
	}
	if c.Partitions == 0 {
		c.Partitions = defaultPartitions
	}
	if c.Replication == 0 {
		c.Replication = 1
	}
	if c.RecordBytes == 0 {
		c.RecordBytes = DefaultRecordBytes
	}
	if c.Producers == 0 {
		c.Producers = 1
	}
	if c.Consumers == 0 {
		c.Consumers = 1
	}
	if c.Acks == "" {
		c.Acks = "all"
	}
	if c.BatchBytes == 0 {
		c.BatchBytes = defaultBatchBytes
	}
	if c.Compression == "" {
		c.Compression = "none"
	}
	if c.DrainTimeout == 0 {
		c.DrainTimeout = defaultDrainTimeout
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = defaultRequestTime
	}
	if c.ProgressInterval == 0 {
		c.ProgressInterval = time.Second
	}
	return c
}

// Validate reports the first field of c (after defaults) that a run cannot use.
func (c Config) Validate() error {
	c = c.withDefaults()
	switch {
	case len(c.Brokers) == 0:
		return errors.New("no seed brokers")
	case c.Mode != ModeProduce && c.Mode != ModeConsume && c.Mode != ModeE2E:
		return fmt.Errorf("mode %q: want produce, consume or e2e", c.Mode)
	case c.Records < 0:
		return fmt.Errorf("records %d: want ≥ 0", c.Records)
	case c.Duration < 0:
		return fmt.Errorf("duration %v: want ≥ 0", c.Duration)
	case c.Mode != ModeConsume && c.Records == 0 && c.Duration == 0:
		return errors.New("unbounded run: give a record count or a duration")
	case c.Partitions < 1:
		return fmt.Errorf("partitions %d: want ≥ 1", c.Partitions)
	case c.Replication < 1:
		return fmt.Errorf("replication %d: want ≥ 1", c.Replication)
	case c.RecordBytes < HeaderBytes:
		return fmt.Errorf("record size %d: want ≥ %d (the benchmark header)", c.RecordBytes, HeaderBytes)
	case c.Rate < 0:
		return fmt.Errorf("rate %v: want ≥ 0", c.Rate)
	case c.Producers < 1 || c.Producers > 1024:
		return fmt.Errorf("producers %d: want 1..1024", c.Producers)
	case c.Consumers < 1 || c.Consumers > 1024:
		return fmt.Errorf("consumers %d: want 1..1024", c.Consumers)
	case c.Mode == ModeE2E && int32(c.Consumers) > c.Partitions:
		return fmt.Errorf("consumers %d > partitions %d: a consumer would read nothing", c.Consumers, c.Partitions)
	case c.Acks != "all" && c.Acks != "leader" && c.Acks != "none":
		return fmt.Errorf("acks %q: want all, leader or none", c.Acks)
	case c.Linger < 0:
		return fmt.Errorf("linger %v: want ≥ 0", c.Linger)
	case c.BatchBytes < int32(c.RecordBytes)+512:
		return fmt.Errorf("batch size %d: want ≥ record size + 512", c.BatchBytes)
	case c.DrainTimeout < 0 || c.RequestTimeout < 0 || c.ProgressInterval < 0:
		return errors.New("timeouts and intervals must be positive")
	}
	if _, err := ParseCompression(c.Compression); err != nil {
		return err
	}
	return nil
}
