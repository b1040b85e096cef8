package kafka

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/cairnlog/cairn/log"
)

// Defaults applied by NewHandler to zero fields of Config. Each mirrors the
// Kafka broker setting named beside it.
const (
	// DefaultPartitions is num.partitions: the partition count of an
	// auto-created topic and of CreateTopics with -1 partitions.
	DefaultPartitions = 1
	// DefaultReplicationFactor is default.replication.factor.
	DefaultReplicationFactor = 1
	// DefaultMaxBatchBytes is message.max.bytes: the default of the topic
	// config max.message.bytes.
	DefaultMaxBatchBytes = log.DefaultMaxBatchBytes
	// DefaultFetchMaxBytes is fetch.max.bytes (55 MiB): the largest Fetch
	// response; a client asking for more is clamped to it.
	DefaultFetchMaxBytes = 55 << 20
	// DefaultMaxFetchWait clamps a Fetch's MaxWaitMillis. Kafka has no such
	// bound; clients ask for 0.5-5 s.
	DefaultMaxFetchWait = 30 * time.Second
	// DefaultMaxUnackedProduces bounds acks=0 Produce requests proposed and
	// not yet committed, across all connections. At the bound the next
	// acks=0 request waits, and so its connection stops being read.
	DefaultMaxUnackedProduces = 256
)

// Config configures a Handler. The zero value is valid: every zero field
// takes the default named beside it.
type Config struct {
	// DisableAutoCreateTopics turns off creating a topic that Metadata (or
	// Produce through Metadata) names and that does not exist. Kafka's
	// auto.create.topics.enable defaults to true, and so does cairn.
	DisableAutoCreateTopics bool
	// DefaultPartitions: see DefaultPartitions.
	DefaultPartitions int32
	// DefaultReplicationFactor: see DefaultReplicationFactor.
	DefaultReplicationFactor int16
	// MaxBatchBytes is the default of the topic config max.message.bytes:
	// the largest record batch a Produce may carry, and the largest its
	// records may inflate to when it is compressed. Default
	// DefaultMaxBatchBytes.
	MaxBatchBytes int
	// FetchMaxBytes: see DefaultFetchMaxBytes.
	FetchMaxBytes int32
	// MaxFetchWait: see DefaultMaxFetchWait.
	MaxFetchWait time.Duration
	// MaxUnackedProduces: see DefaultMaxUnackedProduces.
	MaxUnackedProduces int
	// Logger receives the handlers' logs; nil discards them.
	Logger *slog.Logger
	// Metrics receives the data counters of Produce and Fetch; nil means
	// none.
	Metrics Metrics
}

// Metrics receives the bytes and records that Produce and Fetch move, per
// topic. Its methods are called concurrently from request goroutines, so
// they must be safe for concurrent use and must not block.
type Metrics interface {
	// Produced reports one partition's batches of a Produce once
	// committed: their bytes (as sent, compressed or not) and records.
	// Idempotent retries that appended nothing are not reported.
	Produced(topic string, bytes, records int)
	// Fetched reports one partition's batches in a Fetch response: their
	// bytes and records (the whole batches, which may start below the
	// fetch offset).
	Fetched(topic string, bytes, records int)
}

// nopMetrics is the Metrics of a Config without one.
type nopMetrics struct{}

func (nopMetrics) Produced(string, int, int) {}
func (nopMetrics) Fetched(string, int, int)  {}

// Validate reports every invalid field, or nil. Zero fields are valid.
func (c Config) Validate() error {
	var errs []error
	if c.DefaultPartitions < 0 {
		errs = append(errs, fmt.Errorf("DefaultPartitions %d: negative", c.DefaultPartitions))
	}
	if c.DefaultReplicationFactor < 0 {
		errs = append(errs, fmt.Errorf("DefaultReplicationFactor %d: negative", c.DefaultReplicationFactor))
	}
	if c.MaxBatchBytes != 0 && (c.MaxBatchBytes < log.BatchHeaderSize || c.MaxBatchBytes > math.MaxInt32) {
		errs = append(errs, fmt.Errorf("MaxBatchBytes %d: want 0 (default) or [%d, %d]", c.MaxBatchBytes, log.BatchHeaderSize, math.MaxInt32))
	}
	if c.FetchMaxBytes < 0 {
		errs = append(errs, fmt.Errorf("FetchMaxBytes %d: negative", c.FetchMaxBytes))
	}
	if c.MaxFetchWait < 0 {
		errs = append(errs, fmt.Errorf("MaxFetchWait %v: negative", c.MaxFetchWait))
	}
	if c.MaxUnackedProduces < 0 {
		errs = append(errs, fmt.Errorf("MaxUnackedProduces %d: negative", c.MaxUnackedProduces))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("kafka: invalid config: %w", err)
	}
	return nil
}

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.DefaultPartitions == 0 {
		c.DefaultPartitions = DefaultPartitions
	}
	if c.DefaultReplicationFactor == 0 {
		c.DefaultReplicationFactor = DefaultReplicationFactor
	}
	if c.MaxBatchBytes == 0 {
		c.MaxBatchBytes = DefaultMaxBatchBytes
	}
	if c.FetchMaxBytes == 0 {
		c.FetchMaxBytes = DefaultFetchMaxBytes
	}
	if c.MaxFetchWait == 0 {
		c.MaxFetchWait = DefaultMaxFetchWait
	}
	if c.MaxUnackedProduces == 0 {
		c.MaxUnackedProduces = DefaultMaxUnackedProduces
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Metrics == nil {
		c.Metrics = nopMetrics{}
	}
	return c
}
