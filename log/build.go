package log

import (
	"encoding/binary"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// BatchSpec describes an uncompressed v2 record batch for AppendBatch: what a
// producer would send. Record i has Values[i], Keys[i] (none when Keys is
// shorter) and timestamp FirstTimestamp+i.
type BatchSpec struct {
	BaseOffset     int64
	FirstTimestamp int64
	Keys, Values   [][]byte
	// Idempotent sets ProducerID, ProducerEpoch and BaseSequence; otherwise the
	// batch carries -1 in all three, as a non-idempotent producer's does.
	Idempotent    bool
	ProducerID    int64
	ProducerEpoch int16
	BaseSequence  int32
}

// AppendBatch appends to dst the batch spec describes, CRC-32C included, and
// returns the extended slice. It encodes with kmsg, so the bytes are exactly a
// Kafka client's. Tests, the demo and load generators use it; the broker never
// builds batches.
func AppendBatch(dst []byte, spec BatchSpec) []byte {
	n := max(len(spec.Values), 1)
	var recs []byte
	for i := range n {
		r := kmsg.Record{TimestampDelta64: int64(i), OffsetDelta: int32(i)}
		if i < len(spec.Values) {
			r.Value = spec.Values[i]
		}
		if i < len(spec.Keys) {
			r.Key = spec.Keys[i]
		}
		// Length counts the bytes after itself; 0 encodes as one varint byte.
		r.Length = int32(len(r.AppendTo(nil)) - 1)
		recs = r.AppendTo(recs)
	}
	b := kmsg.RecordBatch{
		FirstOffset:     spec.BaseOffset,
		Length:          int32(minBatchLength + len(recs)),
		Magic:           2,
		LastOffsetDelta: int32(n - 1),
		FirstTimestamp:  spec.FirstTimestamp,
		MaxTimestamp:    spec.FirstTimestamp + int64(n-1),
		ProducerID:      -1,
		ProducerEpoch:   -1,
		FirstSequence:   -1,
		NumRecords:      int32(n),
		Records:         recs,
	}
	if spec.Idempotent {
		b.ProducerID, b.ProducerEpoch, b.FirstSequence = spec.ProducerID, spec.ProducerEpoch, spec.BaseSequence
	}
	start := len(dst)
	dst = b.AppendTo(dst)
	binary.BigEndian.PutUint32(dst[start+offCRC:], batchCRC(dst[start:]))
	return dst
}
