// Package wire is cairn's Kafka protocol server: it accepts TCP connections,
// reads request frames, decodes them with kmsg, calls a Handler, and writes
// the responses back in request order. It answers ApiVersions itself from
// the versions the Handler declares, and enforces connection, frame and
// in-flight limits. It imports nothing else of cairn's.
//
// It is not a broker: it knows nothing of topics, partitions or groups, and
// hand-writes no message codec (only the request header, which kmsg does
// not expose as a type). Not yet here: SASL and TLS, per-client quotas
// (throttling), and zero-copy (sendfile) Fetch responses.
//
// # Framing
//
// Every request and response is a frame: a 4-byte big-endian length, then
// that many bytes. A request frame is a header and a body:
//
//	request frame
//	+--------+--------+--------+--------------+--------------------+-------------+------+
//	| length | apikey | apiver | correlation  | client id          | tagged      | body |
//	| int32  | int16  | int16  | id int32     | int16 len + bytes  | fields      | kmsg |
//	|        |        |        |              | (-1: null)         | (header v2) |      |
//	+--------+--------+--------+--------------+--------------------+-------------+------+
//	           header v0: apikey..correlation id (ControlledShutdown v0 only)
//	           header v1: + client id
//	           header v2: + tagged fields (flexible versions, KIP-482); the
//	                      client id stays a classic nullable string
//
//	response frame
//	+--------+--------------+-------------+------+
//	| length | correlation  | tagged      | body |
//	| int32  | id int32     | fields      | kmsg |
//	|        |              | (flexible)  |      |
//	+--------+--------------+-------------+------+
//	  ApiVersions responses never carry the tagged-field byte (header v0).
//
// # Limits and bad input
//
// The length is checked against Config.MaxRequestBytes before anything is
// allocated for the frame; a negative or larger length closes the
// connection. A frame larger than the 8 KiB read buffer is read into a slice
// that doubles as bytes arrive, so memory follows the bytes received, not
// the length claimed. An unknown API key, a version outside the advertised
// range, or a body that kmsg cannot decode closes the connection, as Kafka
// does; the exception is ApiVersions at an unsupported version, which is
// answered with a v0 body carrying UNSUPPORTED_VERSION and the full key
// list so that the client can retry at a version we support.
//
// Decoding is kmsg's. It checks every array count against the bytes left
// before allocating, but allocates the whole array at once, so a crafted
// frame can make it allocate up to the largest element size (64 bytes for
// Produce, 232 for the largest request) per frame byte; and kmsg v1.15.0
// does not stop a tagged-field loop at the end of its input, so a huge tag
// count in a truncated flexible body costs seconds of CPU. Both want a kmsg
// fix; MaxRequestBytes is the bound meanwhile.
//
// A connection with no request in flight that receives nothing for
// IdleTimeout is closed; so is one whose frame has begun but is not
// complete within ReadTimeout. MaxConns and MaxConnsPerIP bound open
// connections: an excess connection is accepted, counted and closed.
//
// # Ordering and backpressure
//
// Each connection has a reader goroutine and a writer goroutine. The reader
// calls Handler.Serve one request at a time, in the order requests arrive,
// so whatever Serve does before it returns (assigning an idempotent
// producer's sequence) happens in request order. Serve may finish later by
// returning Later(ch): the reader moves on to the next request while the
// writer awaits ch, in request order. The writer writes responses strictly
// in request order, coalescing the ready ones into one write; NoResponse
// (Produce with acks=0) takes a place in that order and writes nothing.
//
// At most MaxInFlightPerConn requests per connection are read and not yet
// answered. At that bound the reader stops reading the socket until the
// writer answers one, so a pipelining client is pushed back by TCP.
//
// # Shutdown
//
// Shutdown closes the listeners, stops every reader (dropping a partly
// received request, which the client never saw answered), lets the writers
// write the responses owed, then closes the connections. If its context
// ends first, it cancels the connections' contexts and closes them. Either
// way every goroutine of the package has ended when it returns.
package wire
