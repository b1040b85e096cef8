// Package checker judges a fault run after the fact: Check reads the history
// the workload recorded (package faults/history) and reports every way it
// breaks the invariants of TESTING.md, Jepsen style; CompareReplicas reads
// the replicas' log segments straight from the nodes' data directories and
// reports where they differ below the high watermark.
//
// It is not a linearizability checker and it does not run anything: it
// needs the whole history, including the final read-back of every partition
// (kinds read and read-end) that the harness performs after the faults
// healed, and the data directories of stopped or quiet nodes.
//
// # What Check assumes of a history
//
//   - Every send carries a value no other send carries, except that the
//     workload may send one value again (an application-level retry): each
//     send op with outcome ok or unknown may then add one copy of it.
//   - A send's Topic and Partition are the partition it was produced to,
//     whatever its outcome, and an ok send's Offset is the record's own
//     offset (not its batch's).
//   - Sends are recorded in the order their acknowledgements arrived, which
//     franz-go guarantees per partition; polls in the order the consumer
//     received them.
//   - Offsets are contiguous: cairn has no transactions and no compaction.
//   - A commit's Offset is Kafka's: the next offset to consume.
//   - A consumer records Assign and Revoke, with Topic and Partitions, from
//     its rebalance callbacks, and a commit made in a revoke callback is
//     recorded before that callback returns.
//   - Retention is off: the final read starts at offset 0, so an
//     acknowledged offset it does not return is lost.
//
// # Categories
//
// Each violation names the ops involved. With v a value and tp a partition:
//
//   - lost-write: an ok send of v to tp, tp's final read ended (read-end),
//     and v is nowhere in the final read.
//   - wrong-offset: as lost-write, but v is in the final read at another
//     offset than the one acknowledged.
//   - duplicate: v observed (polled or read back) at more distinct
//     positions (partition, offset) than it has ok or unknown sends, and at
//     least two.
//   - inconsistent-offsets: two different values at one (tp, offset), as
//     acknowledged by a send, polled or read back, in any combination.
//     Reported once per position.
//   - nonmonotonic-send: an ok send of a producer process to tp whose offset
//     is not above the offset of that process's previous ok send to tp.
//   - poll-skip: a poll (or final read) of tp at offset o by a process whose
//     previous poll of tp was at p < o-1, with no Assign or Revoke of tp for
//     that process in between. Final reads are judged separately from polls.
//   - nonmonotonic-poll: the same with o <= p.
//   - resume-offset: the first poll of tp by a group member after an Assign
//     of tp is at o, and either o > c, the highest offset any commit (ok or
//     unknown) of the group for tp before that poll named, while no ok or
//     unknown commit of the group for tp names o anywhere in the history
//     (records skipped: a commit's outcome is recorded when its answer
//     arrives, possibly after the next owner polled from it), or o < c',
//     the highest offset an ok commit named before the Assign
//     (a committed offset forgotten). Not judged before the group's first
//     commit of tp.
//   - commit-backwards: an ok commit of a group for tp names a lower offset
//     than the group's previous ok commit for tp.
//   - unexpected-value: v polled or read back but no send of v exists, or
//     observed in a partition none of v's sends went to.
//   - failed-write-visible: v observed while its only sends failed.
//   - final-read-missing: tp has ok sends but no read-end: its writes could
//     not be verified (counted as Unverified, not as lost).
//   - final-read-incomplete: tp's read-end names high watermark h but no
//     final read of offset h-1 exists.
//   - replica-divergence, replica-corrupt: see CompareReplicas.
//
// Counts, not violations: Unseen is the number of values acknowledged,
// present in the final read and never polled by any consumer (consumers may
// lag, so this is information); UnknownWritten and UnknownNotWritten split
// the values whose every send was unknown by whether the final read holds
// them.
//
// # Replicas
//
// CompareReplicas reads each replica's <data>/<topic>-<partition>/ directory
// as package log lays it out (doc of package log): the .log segments in base
// offset order, batch headers parsed with log.ParseBatchHeader and each
// batch below the high watermark validated with log.ValidateBatches. It
// compares from the highest log start offset among the replicas, batch by
// batch, byte for byte, leader epoch included, up to the high watermark; it
// skips nodes without a directory for the partition, and checks that the
// replicas' identity files (cairn-partition.json) name one topic id.
//
// # Using it
//
//	ops, err := history.ReadFile(path)
//	...
//	report := checker.Check(ops)
//	report.Add(checker.CompareReplicas(dataDirs, topic, highWatermarks)...)
//	fmt.Print(report.Text())
//	if !report.Valid { ... }
//
// # Cost
//
// Check makes one pass over the history in Seq order, then one over the
// distinct values. It keeps, per value, a few words; per partition, two
// slices indexed by offset; per process and partition, a few words. It never
// copies the ops except into the violations it reports, of which it keeps at
// most MaxViolationsPerCategory per category (and counts all of them).
package checker
