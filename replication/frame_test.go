package replication

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/hashicorp/raft"
)

func TestFrameRoundTrip(t *testing.T) {
	p := preamble{NodeID: "broker-1", Addr: "10.0.0.1:9093"}
	got, err := readPreamble(bytes.NewReader(appendPreamble(nil, p)))
	if err != nil || got != p {
		t.Fatalf("preamble: %+v, %v", got, err)
	}
	for _, h := range []streamHeader{
		{Kind: kindRaft, Name: "orders-0"},
		{Kind: kindRPC, Name: strings.Repeat("x", maxNameBytes)},
	} {
		got, err := readStreamHeader(bytes.NewReader(appendStreamHeader(nil, h)))
		if err != nil || got != h {
			t.Fatalf("header %+v: %+v, %v", h, got, err)
		}
	}
	req, err := readRequest(bytes.NewReader(appendRequest(nil, []byte("hello"))), 10)
	if err != nil || string(req) != "hello" {
		t.Fatalf("request: %q, %v", req, err)
	}
}

func TestFrameDecodeErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		dec  func(io.Reader) error
		want error // nil: any error
	}{
		{"preamble empty", nil, decPreamble, io.EOF},
		{"preamble magic", []byte("KAFK\x01\x01a\x01b"), decPreamble, errMalformed},
		{"preamble version", []byte("CAIR\x02\x01a\x01b"), decPreamble, errMalformed},
		{"preamble empty id", []byte("CAIR\x01\x00\x01b"), decPreamble, errMalformed},
		{"preamble truncated addr", []byte("CAIR\x01\x01a\x05ab"), decPreamble, io.ErrUnexpectedEOF},
		{"header kind", []byte("\x09\x01g"), decHeader, errMalformed},
		{"header truncated", []byte("\x01\x05ab"), decHeader, io.ErrUnexpectedEOF},
		{"request too large", []byte("\x7f\xff\xff\xff"), decRequest, ErrFrameTooLarge},
		{"request truncated", []byte("\x00\x00\x00\x05abc"), decRequest, io.ErrUnexpectedEOF},
		{"response type", []byte("\x09\x00\x00\x00\x00"), decResponse, errMalformed},
		{"response chunk too large", []byte("\x01\x7f\xff\xff\xff"), decResponse, ErrFrameTooLarge},
		{"response end with payload", []byte("\x02\x00\x00\x00\x01x"), decResponse, errMalformed},
		{"response empty error", []byte("\x03\x00\x00\x00\x00"), decResponse, errMalformed},
		{"response huge error", []byte("\x03\x00\x10\x00\x01"), decResponse, errMalformed},
		{"response error code", []byte("\x03\x00\x00\x00\x01\x09"), decResponse, errMalformed},
		{"response truncated", []byte("\x01\x00\x00\x00\x05ab"), decResponse, io.ErrUnexpectedEOF},
		{"response no end", []byte("\x01\x00\x00\x00\x02ab"), decResponse, io.ErrUnexpectedEOF},
	} {
		err := tc.dec(bytes.NewReader(tc.in))
		if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

func decPreamble(r io.Reader) error { _, err := readPreamble(r); return err }
func decHeader(r io.Reader) error   { _, err := readStreamHeader(r); return err }
func decRequest(r io.Reader) error  { _, err := readRequest(r, 1<<20); return err }

// decResponse reads a whole response body as the caller does.
func decResponse(r io.Reader) error {
	const maxBytes = rpcChunkBytes
	for {
		typ, size, err := readResponseHeader(r, maxBytes)
		if err != nil {
			return err
		}
		switch typ {
		case frameData:
			if _, err := io.CopyN(io.Discard, r, int64(size)); err != nil {
				return noEOF(err)
			}
		case frameEnd:
			return nil
		case frameError:
			err := readErrorFrame(r, size, "x", "y")
			var re *RemoteError
			if errors.As(err, &re) {
				return nil // a well-formed error frame
			}
			return err
		}
	}
}

func FuzzPreamble(f *testing.F) {
	f.Add(appendPreamble(nil, preamble{NodeID: "n1", Addr: "127.0.0.1:9093"}))
	f.Add([]byte("CAIR\x01\x00"))
	f.Fuzz(func(t *testing.T, in []byte) {
		p, err := readPreamble(bytes.NewReader(in))
		if err != nil {
			return
		}
		// What decodes re-encodes to the bytes it came from.
		if out := appendPreamble(nil, p); !bytes.Equal(out, in[:len(out)]) {
			t.Fatalf("re-encoded %q from %q", out, in)
		}
	})
}

func FuzzStreamHeader(f *testing.F) {
	f.Add(appendStreamHeader(nil, streamHeader{Kind: kindRaft, Name: "orders-0"}))
	f.Add(appendStreamHeader(nil, streamHeader{Kind: kindRPC, Name: "segment"}))
	f.Add([]byte{2, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		h, err := readStreamHeader(bytes.NewReader(in))
		if err != nil {
			return
		}
		if out := appendStreamHeader(nil, h); !bytes.Equal(out, in[:len(out)]) {
			t.Fatalf("re-encoded %q from %q", out, in)
		}
	})
}

func FuzzRPCRequest(f *testing.F) {
	f.Add(appendRequest(nil, []byte("orders-0")))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, in []byte) {
		req, err := readRequest(bytes.NewReader(in), 1<<16)
		if err != nil {
			return
		}
		if len(req) > 1<<16 || len(req)+4 > len(in) {
			t.Fatalf("request of %d bytes from %d input bytes", len(req), len(in))
		}
	})
}

func FuzzRPCResponse(f *testing.F) {
	ok := []byte{frameData, 0, 0, 0, 3, 'a', 'b', 'c', frameEnd, 0, 0, 0, 0}
	f.Add(ok)
	f.Add(appendErrorFrame(nil, codeHandler, "boom"))
	f.Add(appendErrorFrame(nil, codeUnknown, "no handler"))
	f.Add([]byte{frameData, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, in []byte) {
		_ = decResponse(bytes.NewReader(in)) // must not panic or allocate from a claim
	})
}

func TestStatusRoundTrip(t *testing.T) {
	in := Status{State: raft.Leader, Term: 7, LastIndex: 100, CommitIndex: 99, AppliedIndex: 98, LeaderID: "n1", LeaderAddr: "10.0.0.1:9093"}
	out, err := decodeStatus(appendStatus(nil, in))
	if err != nil || out != in {
		t.Fatalf("%+v, %v", out, err)
	}
	if _, err := decodeStatus(appendStatus(nil, in)[:statusBytes+1]); err == nil {
		t.Fatal("truncated status decoded")
	}
}

func FuzzStatus(f *testing.F) {
	f.Add(appendStatus(nil, Status{State: raft.Follower, Term: 3, LeaderID: "n2", LeaderAddr: "127.0.0.1:1"}))
	f.Add(appendStatus(nil, Status{}))
	f.Fuzz(func(t *testing.T, in []byte) {
		s, err := decodeStatus(in)
		if err != nil {
			return
		}
		if out := appendStatus(nil, s); !bytes.Equal(out, in) {
			t.Fatalf("re-encoded %x from %x", out, in)
		}
	})
}
