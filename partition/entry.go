package partition

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// A Raft entry of a partition group carries one produce request's record batches
// for that partition, whole, in one entry (never one entry per record):
//
//	+--------+----------------------+-------------------------------------+
//	| kind   | appendTimeMs         | batches                             |
//	| 1 byte | 8 bytes, big endian  | one or more Kafka v2 record batches |
//	+--------+----------------------+-------------------------------------+
//
// kind is entryBatches (1). appendTimeMs is the proposing leader's wall clock: the
// FSM uses it, never its own clock, so that every replica and every replay computes
// the same producer-state expiry.
const (
	entryBatches     byte = 1
	entryHeaderBytes      = 1 + 8
)

// ErrBadEntry marks a Raft entry this version cannot decode. Entries are written
// only by encodeEntry, so it means a newer writer or a corrupt WAL.
var ErrBadEntry = errors.New("partition: bad raft entry")

// encodeEntry returns a new entry holding batches. It copies batches once, into the
// buffer Raft keeps; batches may be reused by the caller afterwards.
func encodeEntry(appendTimeMs int64, batches []byte) []byte {
	b := make([]byte, entryHeaderBytes+len(batches))
	b[0] = entryBatches
	binary.BigEndian.PutUint64(b[1:9], uint64(appendTimeMs))
	copy(b[entryHeaderBytes:], batches)
	return b
}

// decodeEntry returns the entry's fields; batches aliases data.
func decodeEntry(data []byte) (appendTimeMs int64, batches []byte, err error) {
	if len(data) < entryHeaderBytes {
		return 0, nil, fmt.Errorf("%w: %d bytes", ErrBadEntry, len(data))
	}
	if data[0] != entryBatches {
		return 0, nil, fmt.Errorf("%w: kind %d", ErrBadEntry, data[0])
	}
	return int64(binary.BigEndian.Uint64(data[1:9])), data[entryHeaderBytes:], nil
}
