// Package partition is one replica of a Kafka partition: the segmented log
// (package log) driven by a Raft group (package replication). It makes a
// partition durable, replicated, and able to fail over without losing an
// acknowledged write.
//
// It is not the Kafka protocol (the cluster package maps its errors to Kafka
// error codes), not placement or membership policy (the cluster's controller
// decides who replicates what), and not the Raft plumbing (replication).
//
// # Writes
//
// The leader checks every batch of a produce request (structure, CRC-32C, codec;
// no transactional or control batch) before it proposes anything, then proposes
// the request's batches for this partition as one Raft entry (see entry.go for
// its layout). Nothing is written to the partition log until the entry is
// committed: the FSM, on every replica alike, then
//
//   - checks the idempotent-producer sequences (producer.go) and answers a retry
//     with the offsets of the original batch, appending nothing;
//   - assigns offsets from its applied end offset and stamps the leader epoch
//     (the entry's Raft term) into each batch (both fields are outside the
//     batch CRC);
//   - appends to the log without fsync, advances the high watermark and wakes
//     the fetches waiting on it.
//
// The log therefore holds only committed data, and every replica's log is a
// byte-identical prefix of every other's.
//
// # Durability and replay
//
// An acknowledged write is durable because it is in the Raft WAL (raft-wal
// fsyncs) of a quorum. The log is synced only when a snapshot is persisted and
// at a clean shutdown, so after a crash it may have lost any unsynced tail, and
// Raft replays every entry after the latest snapshot. The FSM assigns offsets
// from its own counter, not from the log's end, so a replayed entry whose
// batches the log still holds is checked against them (record count and CRC)
// and skipped, and one the log lost is appended again at the same offsets:
// replay never appends a batch twice and never leaves a gap.
//
// # Snapshots
//
// A snapshot is a small manifest (manifest.go): log start and end offsets, the
// last applied Raft index and term, producer state, leader-epoch history.
// Persist syncs the log before writing it, because Raft then drops the WAL
// entries the snapshot covers. Restore keeps the log when it already holds
// everything below the snapshot's end, resets it when it ends before the
// snapshot's start, and otherwise copies the missing committed batches from a
// peer over the node's internal listener (fetch.go), as they are stored.
//
// # Concurrency
//
// Raft calls the FSM from one goroutine; the FSM is the log's only writer.
// Partition's methods are safe for concurrent use. Readers see only offsets
// below the high watermark.
package partition
