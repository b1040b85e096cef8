// Package log is a partition's segmented, append-only commit log, stored in
// Apache Kafka's own on-disk format so that fetches can send file ranges to
// sockets unchanged (sendfile).
//
// It is not replicated (the partition layer applies committed Raft entries
// to it), not compacted, and it does not decode records: it deals in whole
// v2 record batches. It imports nothing else of cairn.
//
// # Files
//
// A log is one directory holding segments, each named by its base offset
// (the first offset it holds) in 20 decimal digits:
//
//	00000000000000000000.log        record batches, back to back
//	00000000000000000000.index      offset index
//	00000000000000000000.timeindex  time index
//	00000000000000004711.log        next segment: base offset 4711 ...
//	recovery-point                  log end offset at the last Sync
//	.cairn-clean-shutdown           present only after a clean Close
//
// The last segment is the active one, the only one appended to; the others
// are sealed. A segment rolls (a new active one starts at the log end
// offset) before an append that would take it past MaxSegmentBytes, when
// its indexes could fill, when its offsets would overflow 31 bits, on Roll,
// and on MaybeRoll once it is older than MaxSegmentAge.
//
// # Record batch (magic 2), as on the wire; all integers big-endian
//
//	 0                   1                   2                   3
//	+-------+-------+-------+-------+-------+-------+-------+-------+
//	|  0 baseOffset int64 (set by Append)                           |
//	+-------+-------+-------+-------+-------+-------+-------+-------+
//	|  8 length int32 (bytes after|12 partitionLeaderEpoch int32   |
//	|    this field)              |   (set by Append)              |
//	+-------+-------+-------+-------+-------+-------+-------+-------+
//	|16 magic=2|17 crc uint32 (CRC-32C, Castagnoli,|21 attributes  |
//	|  int8    |   of bytes 21 .. end of batch)    |   int16       |
//	+-------+-------+-------+-------+-------+-------+-------+-------+
//	|23 lastOffsetDelta int32     |27 firstTimestamp int64 ...     |
//	+-------+-------+-------+-------+-------+-------+-------+-------+
//	|35 maxTimestamp int64                                          |
//	+-------+-------+-------+-------+-------+-------+-------+-------+
//	|43 producerId int64                                            |
//	+-------+-------+-------+-------+-------+-------+-------+-------+
//	|51 producerEpoch|53 baseSequence int32 |57 numRecords int32    |
//	+-------+-------+-------+-------+-------+-------+-------+-------+
//	|61 records ... (possibly compressed)                           |
//
// Attributes: bits 0-2 compression (0 none, 1 gzip, 2 snappy, 3 lz4,
// 4 zstd), bit 3 timestamp type, bit 4 transactional, bit 5 control.
// A batch is valid when length >= 49, magic is 2, numRecords equals
// lastOffsetDelta+1, 12+length <= MaxBatchBytes (on append) and the CRC
// matches. baseOffset and partitionLeaderEpoch lie outside the CRC, which
// is why Append can set them without recomputing it. Within a segment,
// batches are contiguous: each baseOffset is the previous last offset + 1.
//
// # Offset index entry (8 bytes)
//
//	+-------------------------------+-------------------------------+
//	| relative offset uint32        | position uint32               |
//	| (batch last offset - base)    | (byte offset of the batch     |
//	|                               |  in the .log file)            |
//	+-------------------------------+-------------------------------+
//
// One entry for the batch that follows more than IndexIntervalBytes of
// batches appended since the previous entry (the first batch of a segment
// never has one). Both fields increase strictly. To find offset o: binary
// search the last entry with offset <= o, then walk batch headers from its
// position.
//
// # Time index entry (12 bytes)
//
//	+---------------------------------------------------------------+
//	| timestamp int64: largest batch maxTimestamp so far in segment |
//	+-------------------------------+-------------------------------+
//	| relative offset uint32 (last offset of the batch indexed)     |
//	+-------------------------------+
//
// Written next to an offset index entry when the segment's largest
// timestamp grew since the last entry, and once more when the segment is
// sealed. Timestamps increase strictly. Every batch up to an entry's offset
// has maxTimestamp <= its timestamp, so OffsetForTimestamp(t) binary-searches
// segments by their running maxima (in memory), then the last entry below t,
// then walks headers to the first batch with maxTimestamp >= t.
//
// The active segment's index files are preallocated to MaxIndexBytes
// (sparse) and mmap'd read-write; sealing trims them to their entries.
// Sealed segments' indexes are mmap'd read-only and their descriptors
// closed.
//
// # Durability and recovery
//
// The log never fsyncs on its own. Sync fsyncs every segment changed since
// the last Sync (the .log first, then its indexes), the directory if files
// came or went, then writes the log end offset to recovery-point (a 16-byte
// record with its own CRC) and fsyncs it. Close does a Sync, trims the
// active indexes and creates the clean-shutdown marker; Open removes the
// marker, durably, before anything is written.
//
// Open, per segment in order:
//
//   - After a clean shutdown, index files are trusted after a cheap check
//     (size a multiple of the entry size, last entry inside the .log, the
//     batch it names found there); the .log is walked, headers only, from
//     the batch of the last index entry to the end.
//   - Otherwise, index entries for offsets at or past the recovery point are
//     dropped (they may not have reached the disk), and every batch from the
//     last remaining entry to the end of the file is checked in full: length,
//     magic, record count, CRC-32C and contiguous offsets. The file is cut at
//     the first bad byte and the segments after it are deleted. Index entries
//     passed on the way are added again, by the same rule Append uses.
//   - A missing or corrupt index, or one whose last entry does not name the
//     batch at its position, is rebuilt from a full check of the segment.
//   - Segments whose offsets do not continue the previous segment, and files
//     without a .log, are deleted.
//
// Sealed segments are trusted at Open. Reads check bytes before serving
// them instead: each Chunk verifies (CRC included) the part of its range not
// yet verified since Open, so corruption is reported as an error wrapping
// ErrCorrupt, never served, and each byte is checked once per Open.
// Chunk.Verify does that check without serving anything (a scrub).
//
// Recovery reports what Open found; LostSynced means batches below the
// recovery point were cut, which no crash explains: a segment was corrupted
// or truncated, and the owner must refill the log from another copy.
//
// # Repair
//
// The log cannot repair itself; it lets its owner do it. TruncateCorrupt,
// given an offset whose read reported ErrCorrupt, checks that segment in
// full (batches, and that each offset index entry names a batch) and cuts
// the log at the first invalid batch, or at the segment's base when only
// its index is bad, dropping every later segment as TruncateTo does. The
// owner then appends the lost batches again, as a healthy copy holds them,
// with AppendRaw. The partitionLeaderEpoch and baseOffset fields lie outside
// the CRC: a flipped leader epoch is not detected (a flipped baseOffset is,
// by the contiguity check).
//
// # Concurrency
//
// One writer and any number of readers. The writer methods (Append,
// AppendRaw, Roll, MaybeRoll, ApplyRetention, TruncateTo, TruncateCorrupt,
// Reset, Sync, Close) are meant to be called by one goroutine at a time, the
// partition's applier; they serialise on a mutex anyway. Read, OffsetForTimestamp, StartOffset,
// EndOffset, Size and Segments may be called from any goroutine at any time.
//
// Append writes the batches, then the index entries, then publishes the
// segment size, and only then the log end offset, each with an atomic store:
// a reader that sees an offset below EndOffset sees all of its bytes and
// never a partially written batch. The segment list changes (roll,
// retention, truncation, reset) under a read-write mutex that readers hold
// only while they locate a range. A Chunk holds a reference to its .log file:
// deleting or truncating a segment never changes or closes bytes a Chunk
// still reads (a truncation copies a held segment instead of cutting it),
// and the descriptor of a deleted segment is closed by its last Chunk.
//
// The log starts no goroutines: the owner calls MaybeRoll and
// ApplyRetention periodically.
package log
