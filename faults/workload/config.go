package workload

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/cairnlog/cairn/faults/history"
)

// Defaults of Config, applied when a field is zero.
const (
	DefaultProducers         = 2
	DefaultGroups            = 1
	DefaultConsumersPerGroup = 2
	DefaultReaders           = 1
	DefaultRate              = 500 // records per second, all producers together
	DefaultMaxInFlight       = 256 // records, all producers together
	DefaultDeliveryTimeout   = 15 * time.Second
	DefaultRequestTimeout    = 5 * time.Second
	DefaultCommitInterval    = time.Second
	DefaultSessionTimeout    = 10 * time.Second
)

// Config configures Run.
type Config struct {
	// Brokers are the seed Kafka addresses (host:port). Required.
	Brokers []string
	// Topic is the topic to produce to and consume from; it must exist
	// (see Setup). Required.
	Topic string
	// Partitions is the topic's partition count; producers write to
	// partitions 0..Partitions-1 round-robin and readers read them all.
	// Required.
	Partitions int32
	// History receives every operation. Required.
	History *history.Writer

	// Producers is the number of idempotent producers, each its own client.
	// Default DefaultProducers; negative runs none.
	Producers int
	// Groups is the number of consumer groups, each of ConsumersPerGroup
	// members, each its own client. Default DefaultGroups; negative runs
	// none.
	Groups int
	// ConsumersPerGroup: default DefaultConsumersPerGroup.
	ConsumersPerGroup int
	// Readers is the number of assign() readers of every partition from its
	// start. Default DefaultReaders; negative runs none.
	Readers int
	// GroupPrefix prefixes the consumer group ids: group g is
	// "<GroupPrefix>group-<g>". Default "<Topic>.", so runs on separate
	// topics never share a group.
	GroupPrefix string

	// Rate bounds the records produced per second by all producers
	// together. Default DefaultRate.
	Rate int
	// MaxInFlight bounds the records produced but not yet resolved, all
	// producers together (each gets an equal share, at least one). Default
	// DefaultMaxInFlight.
	MaxInFlight int
	// DeliveryTimeout is franz-go's RecordDeliveryTimeout: how long a record
	// may wait for an acknowledgement before the client may fail it. Default
	// DefaultDeliveryTimeout.
	DeliveryTimeout time.Duration
	// RequestTimeout is franz-go's ProduceRequestTimeout (the broker-side
	// acks=all wait) and bounds the client's own request waits. Default
	// DefaultRequestTimeout.
	RequestTimeout time.Duration
	// CommitInterval is how often a group consumer commits what it polled.
	// Default DefaultCommitInterval.
	CommitInterval time.Duration
	// SessionTimeout is the group members' session timeout. Default
	// DefaultSessionTimeout.
	SessionTimeout time.Duration

	// Logger receives franz-go's warnings and the workload's own notes.
	// Default: discard.
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	defInt := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	defInt(&c.Producers, DefaultProducers)
	defInt(&c.Groups, DefaultGroups)
	defInt(&c.ConsumersPerGroup, DefaultConsumersPerGroup)
	defInt(&c.Readers, DefaultReaders)
	defInt(&c.Rate, DefaultRate)
	defInt(&c.MaxInFlight, DefaultMaxInFlight)
	defDur(&c.DeliveryTimeout, DefaultDeliveryTimeout)
	defDur(&c.RequestTimeout, DefaultRequestTimeout)
	defDur(&c.CommitInterval, DefaultCommitInterval)
	defDur(&c.SessionTimeout, DefaultSessionTimeout)
	if c.GroupPrefix == "" {
		c.GroupPrefix = c.Topic + "."
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate reports every invalid field. Zero fields that have a default are
// valid.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	if len(c.Brokers) == 0 {
		errs = append(errs, errors.New("no brokers"))
	}
	if c.Topic == "" {
		errs = append(errs, errors.New("no topic"))
	}
	if c.Partitions <= 0 {
		errs = append(errs, fmt.Errorf("partitions %d: want > 0", c.Partitions))
	}
	if c.History == nil {
		errs = append(errs, errors.New("no history writer"))
	}
	if c.ConsumersPerGroup < 0 {
		errs = append(errs, fmt.Errorf("consumers per group %d: want > 0", c.ConsumersPerGroup))
	}
	if c.Rate < 0 {
		errs = append(errs, fmt.Errorf("rate %d: want > 0", c.Rate))
	}
	if c.MaxInFlight < 0 {
		errs = append(errs, fmt.Errorf("max in flight %d: want > 0", c.MaxInFlight))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"delivery timeout", c.DeliveryTimeout},
		{"request timeout", c.RequestTimeout},
		{"commit interval", c.CommitInterval},
		{"session timeout", c.SessionTimeout},
	} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s %v is negative", d.name, d.v))
		}
	}
	return errors.Join(errs...)
}
