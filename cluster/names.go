package cluster

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/cairnlog/cairn/log"
)

// MaxTopicNameLength is Kafka's limit: a partition directory <topic>-<partition>
// must fit in 255 bytes.
const MaxTopicNameLength = 249

// MaxPartitions bounds a topic's partition count: every partition is a Raft
// group on each of its replicas, so a typo must not create millions.
const MaxPartitions = 10000

// ValidateTopicName applies Kafka's rules: 1 to 249 characters of
// [a-zA-Z0-9._-], neither "." nor "..". The error wraps ErrInvalidTopic.
func ValidateTopicName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty", ErrInvalidTopic)
	}
	if len(name) > MaxTopicNameLength {
		return fmt.Errorf("%w: %d characters, more than %d", ErrInvalidTopic, len(name), MaxTopicNameLength)
	}
	if name == "." || name == ".." {
		return fmt.Errorf("%w: %q", ErrInvalidTopic, name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
		if !ok {
			return fmt.Errorf("%w: %q has the character %q (allowed: a-z A-Z 0-9 . _ -)", ErrInvalidTopic, name, c)
		}
	}
	return nil
}

// Topic configs cairn honours. Every other name is rejected with
// ErrInvalidConfig, so a client learns at once that a setting has no effect.
const (
	ConfigRetentionMs     = "retention.ms"      // -1 unlimited; default 7 days
	ConfigRetentionBytes  = "retention.bytes"   // -1 unlimited (default)
	ConfigSegmentBytes    = "segment.bytes"     // default 1 GiB
	ConfigSegmentMs       = "segment.ms"        // default 7 days
	ConfigMaxMessageBytes = "max.message.bytes" // default 1048588
	ConfigCleanupPolicy   = "cleanup.policy"    // delete (default), compact, or both: "compact,delete"
	cleanupDelete         = "delete"
	cleanupCompact        = "compact"
)

// TopicConfigNames lists the configs ValidateTopicConfig accepts, for
// DescribeConfigs.
var TopicConfigNames = []string{ConfigCleanupPolicy, ConfigMaxMessageBytes, ConfigRetentionBytes, ConfigRetentionMs, ConfigSegmentBytes, ConfigSegmentMs}

// ValidateTopicConfig checks one topic config. The error wraps
// ErrInvalidConfig.
//
// cleanup.policy is a list, as Kafka's. Without delete, retention.ms and
// retention.bytes delete nothing, as in Kafka; compact is accepted but does
// not yet drop superseded records (the log keeps every record).
func ValidateTopicConfig(name, value string) error {
	bad := func(why string) error {
		return fmt.Errorf("%w: %s=%q: %s", ErrInvalidConfig, name, value, why)
	}
	switch name {
	case ConfigRetentionMs, ConfigRetentionBytes:
		v, err := strconv.ParseInt(value, 10, 64)
		if err != nil || v < -1 {
			return bad("want an integer >= -1")
		}
		if name == ConfigRetentionMs && v > math.MaxInt64/int64(time.Millisecond) {
			return bad("too large")
		}
	case ConfigSegmentBytes:
		v, err := strconv.ParseInt(value, 10, 64)
		if err != nil || v < log.BatchHeaderSize || v > math.MaxInt32 {
			return bad(fmt.Sprintf("want an integer in [%d, %d]", log.BatchHeaderSize, math.MaxInt32))
		}
	case ConfigSegmentMs:
		v, err := strconv.ParseInt(value, 10, 64)
		if err != nil || v < 1 || v > math.MaxInt64/int64(time.Millisecond) {
			return bad("want a positive integer")
		}
	case ConfigMaxMessageBytes:
		v, err := strconv.ParseInt(value, 10, 64)
		if err != nil || v < log.BatchHeaderSize || v > math.MaxInt32 {
			return bad(fmt.Sprintf("want an integer in [%d, %d]", log.BatchHeaderSize, math.MaxInt32))
		}
	case ConfigCleanupPolicy:
		if _, err := cleanupDeletes(value); err != nil {
			return bad(err.Error())
		}
	default:
		return fmt.Errorf("%w: unknown topic config %q", ErrInvalidConfig, name)
	}
	return nil
}

// cleanupDeletes parses a cleanup.policy list and reports whether it holds
// delete.
func cleanupDeletes(policy string) (bool, error) {
	deletes, n := false, 0
	for it := range strings.SplitSeq(policy, ",") {
		switch strings.TrimSpace(it) {
		case cleanupDelete:
			deletes = true
		case cleanupCompact:
		case "":
			continue
		default:
			return false, fmt.Errorf("%q is not delete or compact", strings.TrimSpace(it))
		}
		n++
	}
	if n == 0 {
		return false, errors.New("want delete, compact or both")
	}
	return deletes, nil
}

// logConfig maps a topic's configs onto the log's. Configs were validated
// when they were written, so a value that does not parse keeps the default.
func logConfig(base log.Config, configs map[string]string) log.Config {
	c := base
	num := func(name string) (int64, bool) {
		v, ok := configs[name]
		if !ok {
			return 0, false
		}
		n, err := strconv.ParseInt(v, 10, 64)
		return n, err == nil
	}
	if v, ok := num(ConfigRetentionMs); ok {
		if v < 0 {
			c.RetentionAge = -1
		} else if v > 0 {
			c.RetentionAge = time.Duration(v) * time.Millisecond
		}
	}
	if v, ok := num(ConfigRetentionBytes); ok {
		if v < 0 {
			c.RetentionBytes = -1
		} else if v > 0 {
			c.RetentionBytes = v
		}
	}
	// A policy without delete (compact alone) keeps every segment.
	if p, ok := configs[ConfigCleanupPolicy]; ok {
		if deletes, err := cleanupDeletes(p); err == nil && !deletes {
			c.RetentionAge, c.RetentionBytes = -1, -1
		}
	}
	if v, ok := num(ConfigSegmentBytes); ok && v >= log.BatchHeaderSize {
		c.MaxSegmentBytes = v
	}
	if v, ok := num(ConfigSegmentMs); ok && v > 0 {
		c.MaxSegmentAge = time.Duration(v) * time.Millisecond
	}
	if v, ok := num(ConfigMaxMessageBytes); ok && v >= log.BatchHeaderSize {
		c.MaxBatchBytes = int(v)
	}
	return c
}
