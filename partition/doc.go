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
// # Damage and repair
//
// A replica's log can be damaged behind its back: a bit flip or a cut in a
// segment. Damage is found at Open (log.Recovery: synced batches were cut),
// by a read (each range is checked in full, CRC-32C included, before it is
// served: Read verifies the chunk it returns), by the peer-read RPC, while
// replaying (the batch replay checks is damaged), or by the scrub, which
// after every Open checks all the log held, paced by
// Config.ScrubBytesPerSecond. Damaged bytes are never served: the read fails
// with ErrStorage (retriable; KAFKA_STORAGE_ERROR to clients), as does every
// read of committed offsets the log lacks while they are refilled.
//
// Repair (repair.go) re-copies only committed bytes: a leader first hands
// leadership to a healthy peer, then the FSM, applying nothing meanwhile,
// cuts the log at the first invalid batch of the damaged segment
// (log.TruncateCorrupt) and copies the committed batches after the cut back
// from a peer, as the peer stores them (offsets and leader epochs included),
// then syncs. Its state (offset counter, producers, epochs) does not change.
// Damage found at Open is refilled by the snapshot's restore (from peers) or
// by replay (from the Raft log); damage found by replay is cut there and
// refilled from peers up to the entry, whose batches are then appended.
// RepairStats counts damage found and repairs made. Damage on a majority
// of replicas cannot be repaired: reads of it fail until an operator acts.
//
// # Concurrency
//
// Raft calls the FSM from one goroutine; the FSM is the log's only writer
// (a repair writes through the FSM too, holding its writer lock). Partition's
// methods are safe for concurrent use. Readers see only offsets below the
// high watermark. Open starts two goroutines, the repairer and the scrub;
// Close ends them and waits for them.
package partition
