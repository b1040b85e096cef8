package wire

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Sizes of per-connection buffers. The read buffer batches the syscalls of
// pipelined small frames; a frame that does not fit is read into its own
// slice, grown as its bytes arrive (largeFrameStart first), so that memory
// follows the bytes received, never the length the client claims.
const (
	readBufBytes        = 8 << 10
	largeFrameStart     = 64 << 10
	flushAtBytes        = 64 << 10 // coalesced responses are flushed at this size
	maxRetainedWriteBuf = 1 << 20  // a larger write buffer is dropped after use
)

// Reasons a connection closes, logged at debug level.
var (
	errIdle         = errors.New("idle timeout")
	errDraining     = errors.New("server shutting down")
	errFrameSize    = errors.New("frame length out of range")
	errPeerGone     = errors.New("peer closed the connection")
	errBadRequest   = errors.New("bad request")
	errNilResponse  = errors.New("handler returned a nil response")
	errZeroReply    = errors.New("handler returned the zero Reply")
	errWrongRespKey = errors.New("handler response key does not match the request key")
)

// pending is one request between the reader and the writer.
type pending struct {
	key, version  int16
	correlationID int32
	// wireVersion: the response's version was set by the Server
	// (ApiVersions) and must not be changed to the request's.
	wireVersion bool
	reply       Reply
	bytesIn     int
	readAt      time.Time
}

// observation is a written response waiting to be reported to the Observer.
type observation struct {
	key, version      int16
	bytesIn, bytesOut int
	readAt            time.Time
}

// conn serves one client connection with two goroutines: the reader
// (readLoop: frames, decoding, Handler.Serve in request order) and the
// writer (writeLoop: awaits replies in request order, coalesces and writes
// them). They share only queue, slots and the context.
type conn struct {
	s  *Server
	nc net.Conn
	// listener names the listener the connection arrived on ("" for Serve).
	listener string
	remote   net.Addr
	ipKey    string
	ctx      context.Context // cancelled when the connection closes
	cancel   context.CancelFunc

	// queue carries requests from reader to writer in request order. Its
	// capacity equals that of slots, so a send never blocks.
	queue chan pending
	// slots holds one token per request read but not answered; the reader
	// takes one before reading a frame, the writer returns it once the
	// response is written. A full slots is the per-connection backpressure.
	slots chan struct{}

	// Reader-owned.
	rbuf      []byte // rbuf[r:w] is read but unparsed
	r, w      int
	rdeadline time.Time // read deadline currently set on nc
	clientID  string    // previous client id, reused when unchanged

	// Writer-owned.
	wbuf []byte
	obs  []observation // responses in wbuf, reported after the flush
	held int           // slots to return after the flush

	mu struct {
		sync.Mutex
		// draining is set by Shutdown, which also expires the read
		// deadline; guarded so the reader cannot undo that expiry.
		draining bool
	}
}

// serve runs the connection to its end and releases it. It is the only
// goroutine started per connection besides the writer, which it waits for.
func (c *conn) serve() {
	defer c.s.wg.Done()
	writerDone := make(chan error, 1)
	go func() {
		err := c.writeLoop()
		if err != nil {
			// Stop the reader: it may be blocked in Read or on a slot.
			c.cancel()
			c.nc.Close()
		}
		writerDone <- err
	}()
	rerr := c.readLoop()
	werr := <-writerDone
	c.cancel()
	c.nc.Close()
	c.s.release(c)
	if werr != nil && rerr == nil {
		rerr = werr
	}
	c.s.log.Debug("conn closed", "remote", c.remote.String(), "err", rerr, "write_err", werr)
}

// readLoop reads, decodes and dispatches requests until the connection must
// close, then closes queue so that the writer finishes. It returns why.
func (c *conn) readLoop() error {
	defer close(c.queue)
	c.rbuf = make([]byte, readBufBytes)
	for {
		select {
		case c.slots <- struct{}{}:
		default:
			// At the in-flight bound: stop reading until the writer
			// answers a request.
			select {
			case c.slots <- struct{}{}:
			case <-c.ctx.Done():
				return context.Cause(c.ctx)
			case <-c.s.drain:
				return errDraining
			}
		}
		frame, err := c.readFrame()
		if err != nil {
			return c.readErr(err)
		}
		readAt := time.Now()
		hdr, body, err := decodeFrame(c.s.versions, frame, c.clientID)
		if err != nil {
			// Kafka closes the connection too. Logged here, where
			// the key and version are known; serve logs the close.
			c.s.log.Debug("bad request", "remote", c.remote.String(),
				"api_key", hdr.Key, "api_version", hdr.Version, "err", err)
			return errBadRequest
		}
		c.clientID = hdr.ClientID
		p := pending{
			key:           hdr.Key,
			version:       hdr.Version,
			correlationID: hdr.CorrelationID,
			bytesIn:       4 + len(frame),
			readAt:        readAt,
		}
		if hdr.Key == apiVersionsKey {
			req, _ := body.(*kmsg.ApiVersionsRequest) // nil: unsupported version
			p.reply = Respond(c.s.versions.apiVersionsResponse(hdr, req))
			p.wireVersion = true
		} else {
			p.reply = c.s.h.Serve(c.ctx, &Request{Header: hdr, Body: body, RemoteAddr: c.remote, Listener: c.listener})
		}
		c.queue <- p
		switch p.reply.kind {
		case replyClose, replyInvalid:
			// The writer closes the connection once the earlier
			// responses are out; read nothing more.
			return nil
		}
	}
}

// readErr classifies an error from reading a frame.
func (c *conn) readErr(err error) error {
	select {
	case <-c.s.drain:
		return errDraining
	default:
	}
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, net.ErrClosed):
		// Nobody will read what is still owed: abandon it.
		c.cancel()
		return errPeerGone
	case errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Errorf("read timeout: %w", err)
	}
	return err
}

// readFrame returns the next frame, without its length prefix. The frame is
// a new slice that the caller owns.
func (c *conn) readFrame() ([]byte, error) {
	if c.w == c.r {
		if err := c.awaitFrame(); err != nil {
			return nil, err
		}
	}
	// From here the frame has begun: the rest must come within
	// ReadTimeout. The deadline is computed only if we have to block.
	var deadline time.Time
	if err := c.fill(4, &deadline); err != nil {
		return nil, err
	}
	size := int32(binary.BigEndian.Uint32(c.rbuf[c.r:]))
	if size < 0 || size > c.s.cfg.MaxRequestBytes {
		return nil, fmt.Errorf("%w: %d", errFrameSize, size)
	}
	c.r += 4
	n := int(size)
	if n <= len(c.rbuf) {
		if err := c.fill(n, &deadline); err != nil {
			return nil, err
		}
		frame := make([]byte, n)
		c.r += copy(frame, c.rbuf[c.r:c.r+n])
		return frame, nil
	}
	// A frame larger than the read buffer: take what is buffered, then
	// read straight into a slice that doubles as bytes arrive.
	frame := make([]byte, c.w-c.r, min(n, max(largeFrameStart, 2*(c.w-c.r))))
	copy(frame, c.rbuf[c.r:c.w])
	c.r, c.w = 0, 0
	for len(frame) < n {
		if len(frame) == cap(frame) {
			grown := make([]byte, len(frame), min(n, 2*cap(frame)))
			copy(grown, frame)
			frame = grown
		}
		if err := c.setReadDeadline(c.frameDeadline(&deadline)); err != nil {
			return nil, err
		}
		m, err := c.nc.Read(frame[len(frame):cap(frame)])
		frame = frame[:len(frame)+m]
		if err != nil && len(frame) < n {
			return nil, err
		}
	}
	return frame, nil
}

// awaitFrame waits, up to IdleTimeout, for the first byte of a frame into
// the empty read buffer. An idle connection with requests still in flight
// (a long Fetch or JoinGroup) is not idle: the wait restarts.
func (c *conn) awaitFrame() error {
	c.r, c.w = 0, 0
	for {
		if err := c.setReadDeadline(time.Now().Add(c.s.cfg.IdleTimeout)); err != nil {
			return err
		}
		n, err := c.nc.Read(c.rbuf)
		c.w = n
		if n > 0 {
			return nil // a read error returns again at the next Read
		}
		if errors.Is(err, os.ErrDeadlineExceeded) && len(c.slots) > 1 {
			continue // our own slot is one of them
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return errIdle
		}
		if err == nil {
			err = io.ErrNoProgress
		}
		return err
	}
}

// fill reads until rbuf holds need unparsed bytes (need <= len(rbuf)).
func (c *conn) fill(need int, deadline *time.Time) error {
	for c.w-c.r < need {
		if c.r+need > len(c.rbuf) {
			c.w = copy(c.rbuf, c.rbuf[c.r:c.w])
			c.r = 0
		}
		if err := c.setReadDeadline(c.frameDeadline(deadline)); err != nil {
			return err
		}
		n, err := c.nc.Read(c.rbuf[c.w:])
		c.w += n
		if err != nil && c.w-c.r < need {
			return err
		}
	}
	return nil
}

// frameDeadline returns *d, first setting it ReadTimeout from now.
func (c *conn) frameDeadline(d *time.Time) time.Time {
	if d.IsZero() {
		*d = time.Now().Add(c.s.cfg.ReadTimeout)
	}
	return *d
}

// setReadDeadline sets the read deadline unless it is already t, or the
// server is draining (then the deadline Shutdown expired must stay).
func (c *conn) setReadDeadline(t time.Time) error {
	if t.Equal(c.rdeadline) {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mu.draining {
		return errDraining
	}
	c.rdeadline = t
	return c.nc.SetReadDeadline(t)
}

// beginDrain makes the reader stop at once, even inside a frame; the writer
// then writes what is in flight. Called by Shutdown.
func (c *conn) beginDrain() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.mu.draining = true
	c.nc.SetReadDeadline(time.Unix(1, 0))
}

// writeLoop writes responses in request order until the reader closes
// queue (nil) or the connection must close (the reason).
func (c *conn) writeLoop() error {
	for {
		p, ok, err := c.next()
		if err != nil {
			return err
		}
		if !ok {
			return c.flush()
		}
		resp, err := c.await(p)
		if err != nil {
			if ferr := c.flush(); ferr != nil {
				return ferr
			}
			return err
		}
		if resp == nil { // no response: acks=0
			c.held++
			c.obs = append(c.obs, observation{key: p.key, version: p.version, bytesIn: p.bytesIn, readAt: p.readAt})
			continue
		}
		if err := c.encode(p, resp); err != nil {
			return err
		}
		if len(c.wbuf) >= flushAtBytes {
			if err := c.flush(); err != nil {
				return err
			}
		}
	}
}

// next returns the next request from queue, flushing the buffered
// responses first if it would have to wait for it. ok is false once the
// queue is closed and empty.
func (c *conn) next() (p pending, ok bool, err error) {
	if c.held > 0 {
		select {
		case p, ok = <-c.queue:
			return p, ok, nil
		default:
		}
		if err := c.flush(); err != nil {
			return p, false, err
		}
	}
	select {
	case p, ok = <-c.queue:
		return p, ok, nil
	case <-c.ctx.Done():
		return p, false, context.Cause(c.ctx)
	}
}

// await returns the response for p, or nil for none, or the reason to close
// the connection (earlier responses are written first).
func (c *conn) await(p pending) (kmsg.Response, error) {
	var resp kmsg.Response
	switch p.reply.kind {
	case replyNow:
		resp = p.reply.resp
	case replyNone:
		return nil, nil
	case replyLater:
		select {
		case resp = <-p.reply.later:
		default:
			// Not ready: send what is buffered while we wait.
			if err := c.flush(); err != nil {
				return nil, err
			}
			select {
			case resp = <-p.reply.later:
			case <-c.ctx.Done():
				return nil, context.Cause(c.ctx)
			}
		}
		if resp == nil {
			return nil, errNilResponse
		}
	case replyClose:
		err := p.reply.err
		if err == nil {
			err = errors.New("handler closed the connection")
		}
		return nil, err
	default:
		c.s.log.Error("handler bug", "api_key", p.key, "err", errZeroReply)
		return nil, errZeroReply
	}
	if p.wireVersion {
		return resp, nil
	}
	if resp.Key() != p.key {
		c.s.log.Error("handler bug", "api_key", p.key, "response_key", resp.Key(), "err", errWrongRespKey)
		return nil, errWrongRespKey
	}
	resp.SetVersion(p.version)
	return resp, nil
}

// encode appends p's response frame to wbuf: length, correlation id, an
// empty tagged-field section for flexible responses (response header v1)
// except ApiVersions (always response header v0), then the body.
func (c *conn) encode(p pending, resp kmsg.Response) error {
	start := len(c.wbuf)
	c.wbuf = binary.BigEndian.AppendUint32(c.wbuf, 0)
	c.wbuf = binary.BigEndian.AppendUint32(c.wbuf, uint32(p.correlationID))
	if resp.IsFlexible() && resp.Key() != apiVersionsKey {
		c.wbuf = append(c.wbuf, 0)
	}
	c.wbuf = resp.AppendTo(c.wbuf)
	size := len(c.wbuf) - start - 4
	if size > math.MaxInt32 {
		return fmt.Errorf("%s response of %d bytes exceeds the frame limit", kmsg.NameForKey(p.key), size)
	}
	binary.BigEndian.PutUint32(c.wbuf[start:], uint32(size))
	c.held++
	c.obs = append(c.obs, observation{key: p.key, version: p.version, bytesIn: p.bytesIn, bytesOut: size + 4, readAt: p.readAt})
	return nil
}

// flush writes wbuf, then returns the slots of the requests it answered and
// reports them to the Observer.
func (c *conn) flush() error {
	if len(c.wbuf) > 0 {
		if err := c.nc.SetWriteDeadline(time.Now().Add(c.s.cfg.WriteTimeout)); err != nil {
			return err
		}
		if _, err := c.nc.Write(c.wbuf); err != nil {
			return fmt.Errorf("write responses: %w", err)
		}
		if cap(c.wbuf) > maxRetainedWriteBuf {
			c.wbuf = nil
		} else {
			c.wbuf = c.wbuf[:0]
		}
	}
	for ; c.held > 0; c.held-- {
		<-c.slots
	}
	if len(c.obs) > 0 {
		now := time.Now()
		for _, o := range c.obs {
			c.s.obs.ObserveRequest(o.key, o.version, o.bytesIn, o.bytesOut, now.Sub(o.readAt))
		}
		c.obs = c.obs[:0]
	}
	return nil
}
