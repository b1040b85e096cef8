package log

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Defaults, named after the Kafka topic configs they mirror.
const (
	DefaultMaxSegmentBytes    = 1 << 30            // segment.bytes
	DefaultMaxSegmentAge      = 7 * 24 * time.Hour // segment.ms
	DefaultIndexIntervalBytes = 4096               // index.interval.bytes
	DefaultMaxIndexBytes      = 10 << 20           // segment.index.bytes
	DefaultRetentionAge       = 7 * 24 * time.Hour // retention.ms
	DefaultMaxBatchBytes      = 1048588            // message.max.bytes
)

// Config configures a Log. The zero value of every field means its default,
// so Config{} is valid.
type Config struct {
	// MaxSegmentBytes rolls the active segment before an append that would
	// take it past this size (Kafka segment.bytes). Default 1 GiB; at most
	// 2 GiB-1 because index positions are 32-bit. A single append larger than
	// this still goes whole into a fresh segment.
	MaxSegmentBytes int64
	// MaxSegmentAge rolls a non-empty active segment this long after its
	// first append (checked by MaybeRoll; Kafka segment.ms). Default 7 days.
	MaxSegmentAge time.Duration
	// IndexIntervalBytes is the number of bytes appended between two offset
	// index entries (Kafka index.interval.bytes). Default 4096.
	IndexIntervalBytes int
	// MaxIndexBytes is the preallocated size of each index file of the
	// active segment; a full index rolls the segment (Kafka
	// segment.index.bytes). Default 10 MiB; at least 4 KiB.
	MaxIndexBytes int
	// RetentionBytes deletes the oldest sealed segments while the log would
	// stay at least this large without them (Kafka retention.bytes).
	// Default -1: unlimited. Zero means the default.
	RetentionBytes int64
	// RetentionAge deletes sealed segments whose largest timestamp is older
	// than this (Kafka retention.ms). Default 7 days; negative: unlimited.
	RetentionAge time.Duration
	// MaxBatchBytes is the largest batch (12+Length bytes) Append accepts
	// (Kafka message.max.bytes). Default 1048588.
	MaxBatchBytes int
	// FS is the filesystem seam; nil means the operating system's.
	FS FS
	// Now is the clock used for segment age and retention; nil means time.Now.
	Now func() time.Time
}

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.MaxSegmentBytes == 0 {
		c.MaxSegmentBytes = DefaultMaxSegmentBytes
	}
	if c.MaxSegmentAge == 0 {
		c.MaxSegmentAge = DefaultMaxSegmentAge
	}
	if c.IndexIntervalBytes == 0 {
		c.IndexIntervalBytes = DefaultIndexIntervalBytes
	}
	if c.MaxIndexBytes == 0 {
		c.MaxIndexBytes = DefaultMaxIndexBytes
	}
	if c.RetentionBytes == 0 {
		c.RetentionBytes = -1
	}
	if c.RetentionAge == 0 {
		c.RetentionAge = DefaultRetentionAge
	}
	if c.MaxBatchBytes == 0 {
		c.MaxBatchBytes = DefaultMaxBatchBytes
	}
	if c.FS == nil {
		c.FS = OSFS{}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Validate reports the first field that is out of range after defaults are
// applied.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	if c.MaxSegmentBytes < BatchHeaderSize || c.MaxSegmentBytes > math.MaxInt32 {
		errs = append(errs, fmt.Errorf("MaxSegmentBytes %d outside [%d, %d]", c.MaxSegmentBytes, BatchHeaderSize, math.MaxInt32))
	}
	if c.MaxSegmentAge < 0 {
		errs = append(errs, fmt.Errorf("MaxSegmentAge %v is negative", c.MaxSegmentAge))
	}
	if c.IndexIntervalBytes < 0 {
		errs = append(errs, fmt.Errorf("IndexIntervalBytes %d is negative", c.IndexIntervalBytes))
	}
	if c.MaxIndexBytes < 4096 || c.MaxIndexBytes > math.MaxInt32 {
		errs = append(errs, fmt.Errorf("MaxIndexBytes %d outside [4096, %d]", c.MaxIndexBytes, math.MaxInt32))
	}
	if c.RetentionBytes < -1 {
		errs = append(errs, fmt.Errorf("RetentionBytes %d below -1", c.RetentionBytes))
	}
	if c.MaxBatchBytes < BatchHeaderSize || int64(c.MaxBatchBytes) > math.MaxInt32 {
		errs = append(errs, fmt.Errorf("MaxBatchBytes %d outside [%d, %d]", c.MaxBatchBytes, BatchHeaderSize, math.MaxInt32))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("log config: %w", err)
	}
	return nil
}
