// Package bench holds the workloads a user runs to size a cairn cluster:
// produce-only, consume-only (a replay from the start of a topic) and end-to-end
// (produce and consume at once, latency measured from send to receive). Each
// speaks the Kafka protocol through franz-go over the network only, so the same
// workload runs against cairn, Kafka, or franz-go's in-memory kfake cluster (the
// protocol ceiling the report compares cairn to).
//
// It is not a load generator for fault tests and not a timed test: a run reports
// figures and never passes or fails on a time.
//
// Every produced record carries a header at the start of its value, so that the
// reader can measure latency and check delivery without any state shared with the
// writer but the clock:
//
//	 0       4                12               20               28          RecordBytes
//	+-------+----------------+----------------+----------------+--- ... ---+
//	| "CRB1"| run id (u64 BE)| sequence (u64) | send time (ns) |  padding  |
//	+-------+----------------+----------------+----------------+--- ... ---+
//
// The run id is random per run, so a topic reused across runs is read correctly:
// records of other runs are counted as foreign and otherwise ignored. Sequences
// are dense from 0 within a run; the exactly-once check (Checker) reads every
// acknowledged sequence back exactly once.
//
// Pacing: without Config.Rate producers send as fast as their clients take
// records (closed loop), which measures the maximum rate; the latency of such
// a run is mostly the wait in the client's buffer. With a rate the schedule
// is open loop (record n is due at n/Rate after the start, whatever became of
// the records before it) and latency counts from each record's due time, so a
// stall shows in the latency of every record it delays (no coordinated
// omission). The latency to quote is a paced run's, below the maximum rate;
// make bench runs one at half of it. Producers connect and get their producer
// id before the clock starts.
//
// Invariants: every goroutine Run starts has returned when Run returns; every
// buffer is bounded (kgo's MaxBufferedRecords for producers, the Checker grows
// one byte per sequence, bounded by Config.Records or by rate × duration).
package bench
