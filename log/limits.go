package log

import "time"

// Limits are the settings of a Log that a topic's configs set and that may
// change while the log is open (Kafka's segment.bytes, segment.ms,
// retention.bytes, retention.ms, max.message.bytes). Zero fields mean the
// Config default, as in Config.
type Limits struct {
	MaxSegmentBytes int64
	MaxSegmentAge   time.Duration
	RetentionBytes  int64
	RetentionAge    time.Duration
	MaxBatchBytes   int
}

// Limits returns c's limits.
func (c Config) Limits() Limits {
	return Limits{MaxSegmentBytes: c.MaxSegmentBytes, MaxSegmentAge: c.MaxSegmentAge,
		RetentionBytes: c.RetentionBytes, RetentionAge: c.RetentionAge, MaxBatchBytes: c.MaxBatchBytes}
}

// SetLimits changes the log's limits. They apply from the next append, roll
// check and retention pass: a smaller segment size does not split the active
// segment, a shorter retention deletes at the next ApplyRetention. It is a
// writer method (serialised with Append and the others).
func (l *Log) SetLimits(lim Limits) error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	c := l.cfg
	c.MaxSegmentBytes, c.MaxSegmentAge = lim.MaxSegmentBytes, lim.MaxSegmentAge
	c.RetentionBytes, c.RetentionAge, c.MaxBatchBytes = lim.RetentionBytes, lim.RetentionAge, lim.MaxBatchBytes
	if err := c.Validate(); err != nil {
		return err
	}
	l.cfg = c.withDefaults()
	l.maxBatch.Store(int64(l.cfg.MaxBatchBytes))
	return nil
}

// MaxBatchBytes is the largest batch Append accepts now. Safe to call
// concurrently with everything.
func (l *Log) MaxBatchBytes() int { return int(l.maxBatch.Load()) }
