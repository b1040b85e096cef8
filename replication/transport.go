package replication

import (
	"context"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// streamLayer is the raft.StreamLayer of one group: Dial opens a yamux stream
// with a raft header naming the group; Accept returns the streams the node's
// router delivered for the group. It tracks every stream it handed to raft so
// that Close ends them all: raft.NetworkTransport.Close closes neither its
// pooled outbound connections nor the inbound ones its handlers are reading.
type streamLayer struct {
	node   *Node
	group  string
	accept chan net.Conn
	// ctx is cancelled by Close; it bounds Dial and deliver.
	ctx    context.Context
	cancel context.CancelFunc
	once   sync.Once

	mu struct {
		sync.Mutex
		done  bool
		conns map[*trackedConn]struct{}
	}
}

var _ raft.StreamLayer = (*streamLayer)(nil)

func newStreamLayer(n *Node, group string) *streamLayer {
	l := &streamLayer{
		node:   n,
		group:  group,
		accept: make(chan net.Conn, 16),
	}
	l.ctx, l.cancel = context.WithCancel(n.ctx)
	l.mu.conns = make(map[*trackedConn]struct{})
	return l
}

// Accept implements net.Listener for raft.NetworkTransport's accept loop.
func (l *streamLayer) Accept() (net.Conn, error) {
	select {
	case c := <-l.accept:
		return c, nil
	case <-l.ctx.Done():
		return nil, net.ErrClosed
	}
}

// Close ends the layer and every stream it handed out. Idempotent.
func (l *streamLayer) Close() error {
	l.once.Do(func() {
		l.cancel()
		l.mu.Lock()
		l.mu.done = true
		conns := l.mu.conns
		l.mu.conns = nil
		l.mu.Unlock()
		for c := range conns {
			_ = c.Conn.Close()
		}
	})
	return nil
}

// Addr is the node's advertised address: raft uses it as this server's
// address in its RPCs.
func (l *streamLayer) Addr() net.Addr { return advertisedAddr(l.node.addr) }

// Dial opens a raft stream for this group to the node at address.
func (l *streamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(l.ctx, timeout)
	defer cancel()
	st, err := l.node.openStream(ctx, string(address), streamHeader{Kind: kindRaft, Name: l.group})
	if err != nil {
		return nil, err
	}
	c, ok := l.track(st)
	if !ok {
		return nil, net.ErrClosed
	}
	return c, nil
}

// deliver hands an inbound raft stream to the transport, waiting at most
// timeout for its accept loop.
func (l *streamLayer) deliver(conn net.Conn, timeout time.Duration) {
	c, ok := l.track(conn)
	if !ok {
		return
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case l.accept <- c:
	case <-l.ctx.Done():
		_ = c.Close()
	case <-t.C:
		_ = c.Close()
	}
}

// track records conn until it is closed. It closes conn and returns false if
// the layer is already closed.
func (l *streamLayer) track(conn net.Conn) (*trackedConn, bool) {
	c := &trackedConn{Conn: conn, layer: l}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.mu.done {
		_ = conn.Close()
		return nil, false
	}
	l.mu.conns[c] = struct{}{}
	return c, true
}

// trackedConn is a stream handed to raft; closing it forgets it.
type trackedConn struct {
	net.Conn
	layer *streamLayer
}

func (c *trackedConn) Close() error {
	c.layer.mu.Lock()
	delete(c.layer.mu.conns, c) // no-op on a nil map after the layer closed
	c.layer.mu.Unlock()
	return c.Conn.Close()
}

// advertisedAddr is a net.Addr holding a "host:port" string.
type advertisedAddr string

func (a advertisedAddr) Network() string { return "tcp" }
func (a advertisedAddr) String() string  { return string(a) }
