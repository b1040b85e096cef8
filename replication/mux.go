package replication

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/hashicorp/yamux"
)

// dialCall is a dial in progress to one address; concurrent callers wait for
// it rather than dialing again.
type dialCall struct {
	done chan struct{} // closed when sess or err is set
	sess *yamux.Session
	err  error
}

// session returns the session to reach addr, dialing it if there is none (or
// the last one closed). At most one dial per address runs at a time.
func (n *Node) session(ctx context.Context, addr string) (*yamux.Session, error) {
	n.mu.Lock()
	if n.mu.closed {
		n.mu.Unlock()
		return nil, ErrClosed
	}
	if s := n.mu.peers[addr]; s != nil && !s.IsClosed() {
		n.mu.Unlock()
		return s, nil
	}
	call := n.mu.dialing[addr]
	if call == nil {
		call = &dialCall{done: make(chan struct{})}
		n.mu.dialing[addr] = call
		n.wg.Add(1) // the dial below; Close waits for it (n.mu.closed is false)
		go func() {
			defer n.wg.Done()
			call.sess, call.err = n.dial(addr)
			n.mu.Lock()
			delete(n.mu.dialing, addr)
			n.mu.Unlock()
			close(call.done)
		}()
	}
	n.mu.Unlock()
	select {
	case <-call.done:
		return call.sess, call.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// dial connects to addr, sends the preamble and starts a client session whose
// inbound streams are served like those of an accepted connection. It runs
// detached from the caller's context so that a cancelled caller does not
// waste a dial others wait for; it is bounded by DialTimeout and Close.
func (n *Node) dial(addr string) (*yamux.Session, error) {
	ctx, cancel := context.WithTimeout(n.ctx, n.cfg.DialTimeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("replication: dial %s: %w", addr, err)
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.SetNoDelay(true)
	}
	buf := appendPreamble(nil, preamble{NodeID: n.cfg.ID, Addr: n.addr})
	_ = conn.SetWriteDeadline(time.Now().Add(n.cfg.DialTimeout))
	if _, err := conn.Write(buf); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("replication: dial %s: preamble: %w", addr, err)
	}
	_ = conn.SetWriteDeadline(time.Time{})
	sess, err := yamux.Client(conn, n.yamuxCfg)
	if err != nil { // only on an invalid config
		_ = conn.Close()
		return nil, fmt.Errorf("replication: dial %s: %w", addr, err)
	}
	if !n.addSession(sess, addr, true) {
		_ = sess.Close()
		return nil, ErrClosed
	}
	if !n.goFunc(func() { n.serveSession(sess, addr) }) {
		_ = sess.Close()
		return nil, ErrClosed
	}
	return sess, nil
}

// openStream opens a stream to addr and writes its header. A session found
// closed is dropped and dialed again, once.
func (n *Node) openStream(ctx context.Context, addr string, h streamHeader) (*yamux.Stream, error) {
	hdr := appendStreamHeader(make([]byte, 0, 2+len(h.Name)), h)
	var lastErr error
	for attempt := 0; attempt < 2; attempt++ {
		sess, err := n.session(ctx, addr)
		if err != nil {
			return nil, err
		}
		st, err := sess.OpenStream()
		if err != nil {
			// The session died (peer restarted, connection reset): forget it.
			_ = sess.Close()
			n.removeSession(sess, addr)
			lastErr = err
			continue
		}
		if dl, ok := ctx.Deadline(); ok {
			_ = st.SetWriteDeadline(dl)
		}
		if _, err := st.Write(hdr); err != nil {
			_ = st.Close()
			return nil, fmt.Errorf("replication: open %s stream %q to %s: %w", h.Kind, h.Name, addr, err)
		}
		_ = st.SetWriteDeadline(time.Time{})
		return st, nil
	}
	return nil, fmt.Errorf("replication: open %s stream %q to %s: %w", h.Kind, h.Name, addr, lastErr)
}
