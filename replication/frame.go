package replication

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// The wire formats of this file are drawn in doc.go. Every decoder reads a
// length, checks it against a bound, and only then allocates.

const (
	// preambleMagic opens every connection to the internal listener.
	preambleMagic = "CAIR"
	// preambleVersion is bumped on any incompatible change of this file.
	preambleVersion = 1
	// maxNameBytes bounds a node id, an address, a group id and an RPC name.
	maxNameBytes = 255
	// maxFrameLimit is the largest MaxFrameBytes a node accepts (1 GiB): the
	// length fields are 32 bits and one frame is held in memory.
	maxFrameLimit = 1 << 30
	// maxErrorBytes bounds an error message in an RPC error frame.
	maxErrorBytes = 64 << 10
)

// streamKind is the first byte of every stream: what the stream carries.
type streamKind uint8

const (
	kindRaft streamKind = 1 // a raft.NetworkTransport connection of one group
	kindRPC  streamKind = 2 // one internal RPC call
)

func (k streamKind) String() string {
	switch k {
	case kindRaft:
		return "raft"
	case kindRPC:
		return "rpc"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Frame types of an RPC response.
const (
	frameData  = 1 // payload: body bytes
	frameEnd   = 2 // payload: empty; the body ended and the handler returned nil
	frameError = 3 // payload: 1-byte error code, then the message
)

// Error codes of an RPC error frame.
const (
	codeHandler  = 1 // the handler returned an error
	codeUnknown  = 2 // no handler of that name
	codeTooLarge = 3 // the request exceeded the server's MaxFrameBytes
	codeClosing  = 4 // the node is shutting down
)

var errMalformed = errors.New("replication: malformed frame")

// preamble is what a dialing node says once, before the yamux session starts.
type preamble struct {
	NodeID string
	Addr   string // the dialer's advertised address: where to dial it back
}

func appendPreamble(b []byte, p preamble) []byte {
	b = append(b, preambleMagic...)
	b = append(b, preambleVersion)
	b = appendName(b, p.NodeID)
	return appendName(b, p.Addr)
}

func readPreamble(r io.Reader) (preamble, error) {
	var hdr [len(preambleMagic) + 1]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return preamble{}, err
	}
	if string(hdr[:len(preambleMagic)]) != preambleMagic {
		return preamble{}, fmt.Errorf("%w: bad magic %q", errMalformed, hdr[:len(preambleMagic)])
	}
	if v := hdr[len(preambleMagic)]; v != preambleVersion {
		return preamble{}, fmt.Errorf("%w: unsupported version %d", errMalformed, v)
	}
	id, err := readName(r)
	if err != nil {
		return preamble{}, err
	}
	addr, err := readName(r)
	if err != nil {
		return preamble{}, err
	}
	return preamble{NodeID: id, Addr: addr}, nil
}

// streamHeader opens every stream: its kind and the group id or RPC name.
type streamHeader struct {
	Kind streamKind
	Name string
}

func appendStreamHeader(b []byte, h streamHeader) []byte {
	b = append(b, byte(h.Kind))
	return appendName(b, h.Name)
}

func readStreamHeader(r io.Reader) (streamHeader, error) {
	var k [1]byte
	if _, err := io.ReadFull(r, k[:]); err != nil {
		return streamHeader{}, err
	}
	kind := streamKind(k[0])
	if kind != kindRaft && kind != kindRPC {
		return streamHeader{}, fmt.Errorf("%w: unknown stream kind %d", errMalformed, k[0])
	}
	name, err := readName(r)
	if err != nil {
		return streamHeader{}, err
	}
	return streamHeader{Kind: kind, Name: name}, nil
}

// appendName appends a 1-byte length and the name. The caller has checked the
// length with validName.
func appendName(b []byte, s string) []byte {
	if len(s) == 0 || len(s) > maxNameBytes {
		panic(fmt.Sprintf("replication: name of %d bytes", len(s)))
	}
	b = append(b, byte(len(s)))
	return append(b, s...)
}

func readName(r io.Reader) (string, error) {
	var n [1]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return "", noEOF(err)
	}
	if n[0] == 0 {
		return "", fmt.Errorf("%w: empty name", errMalformed)
	}
	buf := make([]byte, n[0]) // at most 255 bytes
	if _, err := io.ReadFull(r, buf); err != nil {
		return "", noEOF(err)
	}
	return string(buf), nil
}

// An RPC request is one frame: a 4-byte big-endian length, then the bytes.

func appendRequest(b, req []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(req)))
	return append(b, req...)
}

// errFrameTooLarge is wrapped by ErrFrameTooLarge-carrying errors.
func readRequest(r io.Reader, maxBytes int) ([]byte, error) {
	var n [4]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return nil, err
	}
	size := binary.BigEndian.Uint32(n[:])
	if uint64(size) > uint64(maxBytes) {
		return nil, fmt.Errorf("%w: request of %d bytes, limit %d", ErrFrameTooLarge, size, maxBytes)
	}
	req := make([]byte, size)
	if _, err := io.ReadFull(r, req); err != nil {
		return nil, noEOF(err)
	}
	return req, nil
}

// A response frame is a 1-byte type, a 4-byte big-endian length, the payload.

const responseHeaderBytes = 5

func putResponseHeader(b []byte, typ byte, size int) {
	b[0] = typ
	binary.BigEndian.PutUint32(b[1:5], uint32(size))
}

func appendErrorFrame(b []byte, code byte, msg string) []byte {
	if len(msg) > maxErrorBytes-1 {
		msg = msg[:maxErrorBytes-1]
	}
	b = append(b, frameError)
	b = binary.BigEndian.AppendUint32(b, uint32(1+len(msg)))
	b = append(b, code)
	return append(b, msg...)
}

// readResponseHeader reads the type and length of a response frame and checks
// the length against the bound of its type.
func readResponseHeader(r io.Reader, maxBytes int) (typ byte, size int, err error) {
	var h [responseHeaderBytes]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, 0, noEOF(err)
	}
	typ = h[0]
	n := binary.BigEndian.Uint32(h[1:])
	switch typ {
	case frameData:
		if uint64(n) > uint64(maxBytes) {
			return 0, 0, fmt.Errorf("%w: response chunk of %d bytes, limit %d", ErrFrameTooLarge, n, maxBytes)
		}
	case frameEnd:
		if n != 0 {
			return 0, 0, fmt.Errorf("%w: end frame of %d bytes", errMalformed, n)
		}
	case frameError:
		if n < 1 || n > maxErrorBytes {
			return 0, 0, fmt.Errorf("%w: error frame of %d bytes", errMalformed, n)
		}
	default:
		return 0, 0, fmt.Errorf("%w: unknown response frame type %d", errMalformed, typ)
	}
	return typ, int(n), nil
}

// readErrorFrame reads the payload of an error frame of size bytes (checked by
// readResponseHeader) and returns the error it carries.
func readErrorFrame(r io.Reader, size int, name, addr string) error {
	buf := make([]byte, size)
	if _, err := io.ReadFull(r, buf); err != nil {
		return noEOF(err)
	}
	return remoteError(buf[0], string(buf[1:]), name, addr)
}

func remoteError(code byte, msg, name, addr string) error {
	var sentinel error
	switch code {
	case codeHandler:
	case codeUnknown:
		sentinel = ErrUnknownRPC
	case codeTooLarge:
		sentinel = ErrFrameTooLarge
	case codeClosing:
		sentinel = ErrClosed
	default:
		return fmt.Errorf("%w: unknown error code %d", errMalformed, code)
	}
	return &RemoteError{Name: name, Addr: addr, Msg: msg, sentinel: sentinel}
}

// noEOF turns an EOF in the middle of a frame into io.ErrUnexpectedEOF.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
