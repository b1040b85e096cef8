package replication

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/hashicorp/yamux"
)

// rpcChunkBytes is the largest data frame a response writer sends. It is also
// the smallest MaxFrameBytes a node accepts, so any node reads any node's
// chunks.
const rpcChunkBytes = 64 << 10

// RPCHandler serves one internal RPC.
//
// req is the request; the handler owns it. The handler streams the response
// body to w, which sends it in chunks as it fills; the caller reads it as it
// arrives (w also has a Flush() error method to send what it holds before a
// chunk fills). Returning nil ends the body; returning an error makes the caller's
// Call, or its next Read of the body, return a *RemoteError with the error's
// text, and whatever w had not sent yet is dropped.
//
// ctx is cancelled when the caller closes the body or goes away, or when the
// node closes; w's writes fail after that. A handler runs on its own
// goroutine, one per call; w must not be used after the handler returns.
type RPCHandler func(ctx context.Context, req []byte, w io.Writer) error

// Handle registers h for RPC name, replacing any handler of that name; a nil h
// removes it. It panics on an empty name, one longer than 255 bytes, or one
// starting with "replication." (reserved for this package's own RPCs).
func (n *Node) Handle(name string, h RPCHandler) {
	if err := validName("rpc name", name); err != nil {
		panic(err)
	}
	if strings.HasPrefix(name, "replication.") {
		panic(fmt.Sprintf("replication: rpc name %q is reserved", name))
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if h == nil {
		delete(n.mu.handlers, name)
		return
	}
	n.mu.handlers[name] = h
}

// Call invokes RPC name on the node at addr and returns the response body as
// it streams in. It returns when the handler sent its first chunk, ended, or
// failed: a handler error is returned as a *RemoteError; an unknown name as
// an error matching ErrUnknownRPC; a request above MaxFrameBytes (here or at
// the remote) as one matching ErrFrameTooLarge.
//
// ctx bounds the whole call, including reading the body: cancelling it makes
// a pending Read fail. The caller must Close the body; closing it before the
// end cancels the handler's context.
func (n *Node) Call(ctx context.Context, addr, name string, req []byte) (io.ReadCloser, error) {
	if err := validName("rpc name", name); err != nil {
		return nil, err
	}
	if len(req) > n.cfg.MaxFrameBytes {
		return nil, fmt.Errorf("%w: request of %d bytes, limit %d", ErrFrameTooLarge, len(req), n.cfg.MaxFrameBytes)
	}
	st, err := n.openStream(ctx, addr, streamHeader{Kind: kindRPC, Name: name})
	if err != nil {
		return nil, err
	}
	b := &rpcBody{st: st, ctx: ctx, name: name, addr: addr, maxBytes: n.cfg.MaxFrameBytes}
	b.stop = context.AfterFunc(ctx, func() { _ = st.SetDeadline(time.Now()) })
	if _, err := st.Write(appendRequest(make([]byte, 0, 4+len(req)), req)); err != nil {
		_ = b.Close()
		return nil, b.wrap(fmt.Errorf("send request: %w", err))
	}
	if err := b.next(); err != nil && err != io.EOF {
		_ = b.Close()
		return nil, err
	}
	return b, nil
}

// rpcBody is the caller's side of a response: it reads data frames until the
// end frame (io.EOF) or an error frame (*RemoteError).
type rpcBody struct {
	st       *yamux.Stream
	ctx      context.Context
	stop     func() bool
	name     string
	addr     string
	maxBytes int

	remaining int   // bytes left in the current data frame
	err       error // sticky: io.EOF at the end, or the failure
}

// next reads frame headers up to the next data frame with bytes in it, or the
// end, or an error, which it makes sticky.
func (b *rpcBody) next() error {
	for b.err == nil && b.remaining == 0 {
		typ, size, err := readResponseHeader(b.st, b.maxBytes)
		switch {
		case err != nil:
			b.err = b.wrap(err)
		case typ == frameData:
			b.remaining = size
		case typ == frameEnd:
			b.err = io.EOF
		case typ == frameError:
			err := readErrorFrame(b.st, size, b.name, b.addr)
			var re *RemoteError
			if !errors.As(err, &re) {
				err = b.wrap(err)
			}
			b.err = err
		}
	}
	return b.err
}

func (b *rpcBody) Read(p []byte) (int, error) {
	if b.remaining == 0 {
		if err := b.next(); err != nil {
			return 0, err
		}
	}
	if len(p) > b.remaining {
		p = p[:b.remaining]
	}
	n, err := b.st.Read(p)
	b.remaining -= n
	if err != nil {
		b.err = b.wrap(noEOF(err))
		return n, b.err
	}
	return n, nil
}

// Close ends the call. Before the end of the body it also tells the handler to
// stop (its context is cancelled).
func (b *rpcBody) Close() error {
	b.stop()
	if b.err != io.EOF {
		_ = b.st.SetDeadline(time.Now()) // wake nothing later; the stream is done
	}
	_ = b.st.Close()
	if b.err == nil {
		b.err = errors.New("replication: rpc body closed")
	}
	return nil
}

// wrap names the call in a transport error; a cancelled context wins over
// the timeout error its cancellation caused.
func (b *rpcBody) wrap(err error) error {
	if ctxErr := b.ctx.Err(); ctxErr != nil {
		err = ctxErr
	}
	return fmt.Errorf("replication: rpc %s at %s: %w", b.name, b.addr, err)
}

// serveRPC serves one RPC stream whose header has been read.
func (n *Node) serveRPC(st *yamux.Stream, name string) {
	defer func() { _ = st.Close() }()
	_ = st.SetReadDeadline(time.Now().Add(n.cfg.IOTimeout))
	req, err := readRequest(st, n.cfg.MaxFrameBytes)
	if err != nil {
		if errors.Is(err, ErrFrameTooLarge) {
			n.writeErrorFrame(st, codeTooLarge, err.Error())
		} else {
			n.logger.Warn("bad rpc request", "rpc", name, "err", err)
		}
		return
	}
	n.mu.Lock()
	h, closed := n.mu.handlers[name], n.mu.closed
	n.mu.Unlock()
	switch {
	case closed:
		n.writeErrorFrame(st, codeClosing, "node closing")
		return
	case h == nil:
		n.writeErrorFrame(st, codeUnknown, fmt.Sprintf("no handler for %q", name))
		return
	}

	ctx, cancel := context.WithCancel(n.ctx)
	defer cancel()
	// The caller sends nothing after the request, so a read returns only when
	// it closes the stream or the session dies: then stop the handler.
	_ = st.SetReadDeadline(time.Time{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		var b [1]byte
		_, _ = st.Read(b[:])
		cancel()
		_ = st.SetWriteDeadline(time.Now()) // wake a write blocked on flow control
	}()
	defer func() {
		_ = st.SetReadDeadline(time.Now()) // end the watcher
		<-watched
	}()

	w := &responseWriter{ctx: ctx, st: st, timeout: n.cfg.IOTimeout}
	w.buf = make([]byte, responseHeaderBytes, responseHeaderBytes+rpcChunkBytes)
	herr := h(ctx, req, w)
	w.done = true
	if herr == nil {
		herr = w.flush()
		if herr == nil {
			herr = w.writeFrame(frameEnd, nil)
		}
		if herr != nil {
			// The body could not be sent: the caller is gone or stuck.
			n.logger.Debug("rpc response not sent", "rpc", name, "err", herr)
		}
		return
	}
	n.writeErrorFrameCtx(ctx, st, codeHandler, herr.Error())
}

func (n *Node) writeErrorFrame(st *yamux.Stream, code byte, msg string) {
	n.writeErrorFrameCtx(context.Background(), st, code, msg)
}

func (n *Node) writeErrorFrameCtx(ctx context.Context, st *yamux.Stream, code byte, msg string) {
	if ctx.Err() != nil {
		return
	}
	_ = st.SetWriteDeadline(time.Now().Add(n.cfg.IOTimeout))
	_, _ = st.Write(appendErrorFrame(nil, code, msg))
}

// responseWriter is the io.Writer given to a handler: it fills a chunk and
// sends it as a data frame.
type responseWriter struct {
	ctx     context.Context
	st      *yamux.Stream
	timeout time.Duration
	buf     []byte // a frame header, then up to rpcChunkBytes of body
	done    bool   // the handler returned
}

func (w *responseWriter) Write(p []byte) (int, error) {
	if w.done {
		return 0, errors.New("replication: rpc response written after the handler returned")
	}
	written := 0
	for len(p) > 0 {
		k := min(len(p), cap(w.buf)-len(w.buf))
		w.buf = append(w.buf, p[:k]...)
		p = p[k:]
		written += k
		if len(w.buf) == cap(w.buf) {
			if err := w.flush(); err != nil {
				return written, err
			}
		}
	}
	return written, nil
}

// Flush sends the buffered body bytes now. A handler reaches it through
// w.(interface{ Flush() error }) when the caller should see data before a
// chunk fills.
func (w *responseWriter) Flush() error {
	if w.done {
		return errors.New("replication: rpc response flushed after the handler returned")
	}
	return w.flush()
}

// flush sends the buffered body bytes, if any, as one data frame.
func (w *responseWriter) flush() error {
	size := len(w.buf) - responseHeaderBytes
	if size == 0 {
		return nil
	}
	putResponseHeader(w.buf, frameData, size)
	err := w.send(w.buf)
	w.buf = w.buf[:responseHeaderBytes]
	return err
}

func (w *responseWriter) writeFrame(typ byte, payload []byte) error {
	b := make([]byte, responseHeaderBytes, responseHeaderBytes+len(payload))
	putResponseHeader(b, typ, len(payload))
	return w.send(append(b, payload...))
}

// send writes one frame, failing once the caller went away (see the watcher
// in serveRPC for the order of the deadline and the context check).
func (w *responseWriter) send(frame []byte) error {
	_ = w.st.SetWriteDeadline(time.Now().Add(w.timeout))
	if err := w.ctx.Err(); err != nil {
		return err
	}
	if _, err := w.st.Write(frame); err != nil {
		return fmt.Errorf("replication: send rpc response: %w", err)
	}
	return nil
}
