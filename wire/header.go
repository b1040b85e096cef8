package wire

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Errors returned while parsing a frame. Every one of them closes the
// connection (logged at debug level).
var (
	// errTruncatedHeader: the frame ends inside the request header.
	errTruncatedHeader = errors.New("truncated request header")
	// errUnsupportedRequest: the API key is unknown or not implemented, or
	// its version lies outside the advertised range.
	errUnsupportedRequest = errors.New("unsupported api key or version")
	// errMalformedRequest: the body does not decode at its version.
	errMalformedRequest = errors.New("malformed request body")
)

// Request header versions (KIP-482): v0 is key, version, correlation id; v1
// adds the client id; v2 adds tagged fields after it.
const (
	headerV0 = 0
	headerV1 = 1
	headerV2 = 2
)

// requestHeaderVersion is the header version Kafka uses for a request whose
// body type is req at its current version. ControlledShutdown v0 is the one
// request that predates the client id.
func requestHeaderVersion(req kmsg.Request) int {
	switch {
	case req.Key() == 7 && req.GetVersion() == 0:
		return headerV0
	case req.IsFlexible():
		return headerV2
	}
	return headerV1
}

// peekKeyVersion returns the API key and version that open a frame.
func peekKeyVersion(frame []byte) (key, version int16, err error) {
	if len(frame) < 4 {
		return 0, 0, errTruncatedHeader
	}
	return int16(binary.BigEndian.Uint16(frame)), int16(binary.BigEndian.Uint16(frame[2:])), nil
}

// parseHeader parses a request header of version hv from the start of frame
// and returns it with the body that follows. The client id is a classic
// nullable string (int16 length) in every header version, flexible or not;
// header v2 then carries tagged fields, which are skipped.
//
// prevClientID is the connection's previous client id: when the bytes match
// it is reused instead of allocating a new string. It may be "".
//
// parseHeader never allocates more than the client id's bytes, and its work
// is bounded by len(frame).
func parseHeader(frame []byte, hv int, prevClientID string) (Header, []byte, error) {
	var h Header
	if len(frame) < 8 {
		return h, nil, errTruncatedHeader
	}
	h.Key = int16(binary.BigEndian.Uint16(frame))
	h.Version = int16(binary.BigEndian.Uint16(frame[2:]))
	h.CorrelationID = int32(binary.BigEndian.Uint32(frame[4:]))
	b := frame[8:]
	if hv == headerV0 {
		h.NullClientID = true
		return h, b, nil
	}
	if len(b) < 2 {
		return h, nil, errTruncatedHeader
	}
	n := int16(binary.BigEndian.Uint16(b))
	b = b[2:]
	switch {
	case n < 0:
		h.NullClientID = true
	case int(n) > len(b):
		return h, nil, errTruncatedHeader
	default:
		if id := b[:n]; string(id) == prevClientID {
			h.ClientID = prevClientID
		} else {
			h.ClientID = string(id)
		}
		b = b[n:]
	}
	if hv == headerV1 {
		return h, b, nil
	}
	b, err := skipTags(b)
	if err != nil {
		return h, nil, err
	}
	return h, b, nil
}

// skipTags skips a tagged-field section: a uvarint count, then count
// (uvarint tag, uvarint size, size bytes). kmsg.SkipTags would loop count
// times even once the input is exhausted; this stops at the end of b.
func skipTags(b []byte) ([]byte, error) {
	count, n := binary.Uvarint(b)
	if n <= 0 {
		return nil, errTruncatedHeader
	}
	b = b[n:]
	// Each field takes at least two bytes, which bounds the loop by len(b).
	if count > uint64(len(b)/2) {
		return nil, fmt.Errorf("%w: %d tagged fields in %d bytes", errTruncatedHeader, count, len(b))
	}
	for range count {
		_, n := binary.Uvarint(b) // tag
		if n <= 0 || n > 5 {
			return nil, errTruncatedHeader
		}
		b = b[n:]
		size, n := binary.Uvarint(b)
		if n <= 0 || n > 5 || size > uint64(len(b)-n) {
			return nil, errTruncatedHeader
		}
		b = b[n+int(size):]
	}
	return b, nil
}
