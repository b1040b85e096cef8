package wire

import (
	"context"
	"net"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Handler serves decoded Kafka requests. The Server owns framing, ordering,
// limits and ApiVersions; the Handler owns every other API.
type Handler interface {
	// Versions returns the implemented APIs: API key to the inclusive
	// range of versions the Handler serves. It is called once, by
	// NewServer; the result is advertised by ApiVersions exactly as given,
	// and requests outside it close the connection (as Kafka does).
	// ApiVersions (key 18) must not be listed: the Server implements it.
	// Every range must lie within what kmsg can decode.
	Versions() map[int16]VersionRange

	// Serve handles one request. For each connection Serve is called from
	// one goroutine, one request at a time, in the order the requests
	// arrived, so per-connection ordering (idempotent Produce sequence
	// numbers) holds for anything Serve does before it returns. Serve may
	// finish the work later by returning Later; the Server then keeps
	// reading and dispatching the next requests and writes responses in
	// request order.
	//
	// ctx is cancelled when the connection closes (peer gone, protocol
	// error, forced shutdown). Serve must return promptly once it is
	// cancelled: Shutdown waits for it. Serve may retain req and
	// everything it references.
	Serve(ctx context.Context, req *Request) Reply
}

// VersionRange is an inclusive range of API versions.
type VersionRange struct {
	Min, Max int16
}

// Contains reports whether v lies in r.
func (r VersionRange) Contains(v int16) bool { return r.Min <= v && v <= r.Max }

// Header is a parsed Kafka request header (v0, v1 or v2).
type Header struct {
	Key           int16
	Version       int16
	CorrelationID int32
	// ClientID is the client id; a null client id reads as "" (as in
	// Kafka) with NullClientID set. Header v0 (ControlledShutdown v0) has
	// no client id: it reads as null.
	ClientID     string
	NullClientID bool
}

// Request is one decoded request as the Handler sees it.
type Request struct {
	Header
	// Body is the decoded request, of the type kmsg.RequestForKey(Key)
	// returns, at Version. Byte fields (Produce records) alias the frame,
	// which the Server never reuses: the Handler may keep them.
	Body kmsg.Request
	// RemoteAddr is the client's address.
	RemoteAddr net.Addr
	// Listener is the name of the listener the connection arrived on
	// (Server.ServeNamed), "" for Server.Serve.
	Listener string
}

// replyKind enumerates what a Reply asks the Server to do.
type replyKind int8

const (
	replyInvalid replyKind = iota // zero Reply: a Handler bug, closes the conn
	replyNow
	replyLater
	replyNone
	replyClose
)

// Reply is a Handler's answer to one request, built by Respond, Later,
// NoResponse or CloseConn. The zero Reply is invalid and closes the
// connection.
type Reply struct {
	kind  replyKind
	resp  kmsg.Response
	later <-chan kmsg.Response
	err   error
}

// Respond answers with resp, written once every earlier response on the
// connection has been written. resp must be the response type for the
// request's key; the Server sets its version to the request's version.
func Respond(resp kmsg.Response) Reply {
	if resp == nil {
		return Reply{kind: replyClose, err: errNilResponse}
	}
	return Reply{kind: replyNow, resp: resp}
}

// Later answers with the one value ch will deliver, awaited in request order
// while the Server keeps reading and dispatching later requests. The Server
// receives from ch at most once; a nil value closes the connection (after
// the earlier responses). If the connection closes first, ch is abandoned:
// give it a buffer of 1 so the sender never blocks.
func Later(ch <-chan kmsg.Response) Reply {
	return Reply{kind: replyLater, later: ch}
}

// NoResponse sends nothing for this request (Produce with acks=0); later
// responses are still written in order.
func NoResponse() Reply { return Reply{kind: replyNone} }

// CloseConn writes every earlier response, then closes the connection
// without answering this request (and without reading further requests).
// err is logged at debug level; it may be nil.
func CloseConn(err error) Reply { return Reply{kind: replyClose, err: err} }
