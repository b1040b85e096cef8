package consumer

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Defaults applied by New to zero fields of Config. Each mirrors the Kafka
// broker setting named beside it.
const (
	// DefaultMinSessionTimeout is group.min.session.timeout.ms: a JoinGroup
	// asking for a shorter session timeout gets INVALID_SESSION_TIMEOUT.
	DefaultMinSessionTimeout = 6 * time.Second
	// DefaultMaxSessionTimeout is group.max.session.timeout.ms (30 min).
	DefaultMaxSessionTimeout = 30 * time.Minute
	// DefaultInitialRebalanceDelay is group.initial.rebalance.delay.ms: how
	// long the first rebalance of an empty group waits for more members,
	// extended by as much again (up to the rebalance timeout) while members
	// keep arriving.
	DefaultInitialRebalanceDelay = 3 * time.Second
	// DefaultMaxGroupSize is group.max.size (unbounded in Kafka; bounded
	// here so that a runaway client cannot grow a group without limit).
	DefaultMaxGroupSize = 10000
	// DefaultMaxMetadataBytes is offset.metadata.max.bytes: the longest
	// metadata string a committed offset may carry.
	DefaultMaxMetadataBytes = 4096
	// DefaultCommitBatch is the most OffsetCommit requests the committer
	// coalesces into one OffsetStore.Commit.
	DefaultCommitBatch = 512
	// DefaultCommitQueue is how many OffsetCommit requests may wait for the
	// committer; at the bound Commit blocks (and so its connection stops
	// being read).
	DefaultCommitQueue = 4096
	// DefaultCommitTimeout bounds one OffsetStore.Commit (Kafka's
	// offsets.commit.timeout.ms is 5 s).
	DefaultCommitTimeout = 5 * time.Second
)

// Config configures a Coordinator. The zero value is valid: every zero field
// takes the default named beside it.
type Config struct {
	// MinSessionTimeout: see DefaultMinSessionTimeout.
	MinSessionTimeout time.Duration
	// MaxSessionTimeout: see DefaultMaxSessionTimeout.
	MaxSessionTimeout time.Duration
	// InitialRebalanceDelay: see DefaultInitialRebalanceDelay. Negative
	// means no delay: the first member's join completes at once.
	InitialRebalanceDelay time.Duration
	// MaxGroupSize: see DefaultMaxGroupSize. A join beyond it gets
	// GROUP_MAX_SIZE_REACHED.
	MaxGroupSize int
	// MaxMetadataBytes: see DefaultMaxMetadataBytes.
	MaxMetadataBytes int
	// CommitBatch: see DefaultCommitBatch.
	CommitBatch int
	// CommitQueue: see DefaultCommitQueue.
	CommitQueue int
	// CommitTimeout: see DefaultCommitTimeout.
	CommitTimeout time.Duration
	// Clock supplies time and timers; nil is the system clock. Tests pass a
	// fake one to drive session and rebalance timeouts.
	Clock Clock
	// Logger receives the coordinator's logs; nil discards them.
	Logger *slog.Logger
}

// Validate reports every invalid field, or nil. Zero fields are valid.
func (c Config) Validate() error {
	var errs []error
	if c.MinSessionTimeout < 0 {
		errs = append(errs, fmt.Errorf("MinSessionTimeout %v: negative", c.MinSessionTimeout))
	}
	if c.MaxSessionTimeout < 0 {
		errs = append(errs, fmt.Errorf("MaxSessionTimeout %v: negative", c.MaxSessionTimeout))
	}
	d := c.withDefaults()
	if d.MinSessionTimeout > d.MaxSessionTimeout {
		errs = append(errs, fmt.Errorf("MinSessionTimeout %v above MaxSessionTimeout %v", d.MinSessionTimeout, d.MaxSessionTimeout))
	}
	for _, f := range []struct {
		name string
		v    int
	}{
		{"MaxGroupSize", c.MaxGroupSize},
		{"MaxMetadataBytes", c.MaxMetadataBytes},
		{"CommitBatch", c.CommitBatch},
		{"CommitQueue", c.CommitQueue},
	} {
		if f.v < 0 {
			errs = append(errs, fmt.Errorf("%s %d: negative", f.name, f.v))
		}
	}
	if c.CommitTimeout < 0 {
		errs = append(errs, fmt.Errorf("CommitTimeout %v: negative", c.CommitTimeout))
	}
	return errors.Join(errs...)
}

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.MinSessionTimeout == 0 {
		c.MinSessionTimeout = DefaultMinSessionTimeout
	}
	if c.MaxSessionTimeout == 0 {
		c.MaxSessionTimeout = DefaultMaxSessionTimeout
	}
	switch {
	case c.InitialRebalanceDelay == 0:
		c.InitialRebalanceDelay = DefaultInitialRebalanceDelay
	case c.InitialRebalanceDelay < 0:
		c.InitialRebalanceDelay = 0
	}
	if c.MaxGroupSize == 0 {
		c.MaxGroupSize = DefaultMaxGroupSize
	}
	if c.MaxMetadataBytes == 0 {
		c.MaxMetadataBytes = DefaultMaxMetadataBytes
	}
	if c.CommitBatch == 0 {
		c.CommitBatch = DefaultCommitBatch
	}
	if c.CommitQueue == 0 {
		c.CommitQueue = DefaultCommitQueue
	}
	if c.CommitTimeout == 0 {
		c.CommitTimeout = DefaultCommitTimeout
	}
	if c.Clock == nil {
		c.Clock = systemClock{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Clock is the coordinator's source of time. Its methods may be called from
// any goroutine.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f on its own goroutine once d has passed, unless the
	// returned Timer is stopped first.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending AfterFunc call.
type Timer interface {
	// Stop prevents the call and reports true, or reports false if the
	// call has already begun (or was stopped before).
	Stop() bool
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }
