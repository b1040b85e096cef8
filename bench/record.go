package bench

import (
	"encoding/binary"
	"time"
)

// HeaderBytes is the size of the header every benchmark record's value starts
// with (see the package doc); the smallest RecordBytes a run accepts.
const HeaderBytes = 28

var magic = [4]byte{'C', 'R', 'B', '1'}

// header is what a benchmark record carries.
type header struct {
	run  uint64
	seq  uint64
	sent time.Time
}

// put writes h at the start of value, which must hold HeaderBytes.
func (h header) put(value []byte) {
	copy(value[0:4], magic[:])
	binary.BigEndian.PutUint64(value[4:12], h.run)
	binary.BigEndian.PutUint64(value[12:20], h.seq)
	binary.BigEndian.PutUint64(value[20:28], uint64(h.sent.UnixNano()))
}

// parseHeader reads the header of value; ok is false when value is not a
// benchmark record.
func parseHeader(value []byte) (h header, ok bool) {
	if len(value) < HeaderBytes || [4]byte(value[0:4]) != magic {
		return header{}, false
	}
	return header{
		run:  binary.BigEndian.Uint64(value[4:12]),
		seq:  binary.BigEndian.Uint64(value[12:20]),
		sent: time.Unix(0, int64(binary.BigEndian.Uint64(value[20:28]))),
	}, true
}
