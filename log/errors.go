package log

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error the package returns for one of these
// conditions wraps the sentinel, so callers test with errors.Is and never
// compare strings. The protocol layer translates them to Kafka error codes
// (ErrCorrupt in a client's batches → CORRUPT_MESSAGE, ErrBatchTooLarge →
// MESSAGE_TOO_LARGE, ErrOffsetOutOfRange → OFFSET_OUT_OF_RANGE); ErrCorrupt
// from the log's own files is the server's fault, which the partition
// reports as partition.ErrStorage.
var (
	// ErrCorrupt reports bytes that are not a valid v2 record batch: a bad
	// length, magic, CRC-32C, record count, or offset sequence, whether found
	// in input to Append or in a file on disk.
	ErrCorrupt = errors.New("log: corrupt record batch")
	// ErrBatchTooLarge reports a batch larger than Config.MaxBatchBytes.
	ErrBatchTooLarge = errors.New("log: record batch too large")
	// ErrOffsetOutOfRange reports an offset outside [StartOffset, EndOffset]
	// (Read accepts EndOffset itself and returns an empty chunk).
	ErrOffsetOutOfRange = errors.New("log: offset out of range")
	// ErrOffsetMismatch reports AppendRaw input whose offsets do not continue
	// the log exactly (first baseOffset != EndOffset, or a gap between batches).
	ErrOffsetMismatch = errors.New("log: batch offsets do not continue the log")
	// ErrNotBatchBoundary reports a TruncateTo offset that falls inside a batch.
	ErrNotBatchBoundary = errors.New("log: offset is not a batch boundary")
	// ErrNotFound reports that no batch has a max timestamp at or after the
	// timestamp given to OffsetForTimestamp.
	ErrNotFound = errors.New("log: no offset for timestamp")
	// ErrClosed reports use of a closed Log or Chunk.
	ErrClosed = errors.New("log: closed")
)

// BatchError is the typed error for a rejected batch in an input
// concatenation. It wraps ErrCorrupt or ErrBatchTooLarge.
type BatchError struct {
	Index    int   // which batch of the input, from 0
	Position int   // byte position of the batch in the input
	Err      error // wraps ErrCorrupt or ErrBatchTooLarge, with the reason
}

func (e *BatchError) Error() string {
	return fmt.Sprintf("batch %d at byte %d: %v", e.Index, e.Position, e.Err)
}

func (e *BatchError) Unwrap() error { return e.Err }

// corruptf returns an error wrapping ErrCorrupt.
func corruptf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
}
