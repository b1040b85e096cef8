package replication

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/yamux"
)

// Node is one broker's end of the internal network: a single TCP listener that
// carries the Raft traffic of every group on the node and the internal RPCs,
// multiplexed by yamux (see doc.go). A Node hosts any number of Groups.
//
// All methods are safe for concurrent use.
type Node struct {
	cfg      NodeConfig
	logger   *slog.Logger
	ln       net.Listener
	addr     string // advertised "host:port"
	yamuxCfg *yamux.Config

	// ctx is cancelled by Close: it stops RPC handlers and dials.
	ctx    context.Context
	cancel context.CancelFunc
	// wg counts every goroutine the node starts (see goFunc).
	wg sync.WaitGroup

	mu struct {
		sync.Mutex
		closed bool
		// peers maps an advertised address to the session used to reach it.
		peers map[string]*yamux.Session
		// dialing holds the dials in progress, one per address.
		dialing map[string]*dialCall
		// sessions holds every live session, inbound and outbound.
		sessions map[*yamux.Session]struct{}
		// groups maps a group id to its open Group; its stream layer receives
		// the group's inbound raft streams.
		groups map[string]*Group
		// handlers maps an RPC name to its handler.
		handlers map[string]RPCHandler
	}
}

// NewNode validates cfg, binds the listener and starts accepting connections.
func NewNode(cfg NodeConfig) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.applyDefaults()
	ln, err := net.Listen("tcp", cfg.BindAddr)
	if err != nil {
		return nil, fmt.Errorf("replication: listen on %s: %w", cfg.BindAddr, err)
	}
	addr := cfg.AdvertiseAddr
	if addr == "" {
		addr = ln.Addr().String()
		if err := validAdvertise(addr); err != nil {
			_ = ln.Close()
			return nil, fmt.Errorf("%w (set AdvertiseAddr)", err)
		}
	}
	n := &Node{
		cfg:    cfg,
		logger: cfg.Logger,
		ln:     ln,
		addr:   addr,
	}
	n.yamuxCfg = &yamux.Config{
		AcceptBacklog:          1024,
		EnableKeepAlive:        true,
		KeepAliveInterval:      10 * time.Second,
		ConnectionWriteTimeout: cfg.IOTimeout,
		MaxStreamWindowSize:    uint32(cfg.StreamWindowBytes),
		StreamOpenTimeout:      cfg.IOTimeout,
		StreamCloseTimeout:     time.Minute,
		Logger:                 yamuxLogger{sl: n.logger, min: cfg.RaftLogLevel},
	}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	n.mu.peers = make(map[string]*yamux.Session)
	n.mu.dialing = make(map[string]*dialCall)
	n.mu.sessions = make(map[*yamux.Session]struct{})
	n.mu.groups = make(map[string]*Group)
	n.mu.handlers = map[string]RPCHandler{statusRPC: n.serveStatus}
	n.goFunc(n.acceptLoop)
	return n, nil
}

// ID returns the node id: the Raft server ID of every group on this node.
func (n *Node) ID() string { return n.cfg.ID }

// Addr returns the advertised internal address: the Raft server address of
// every group on this node and the address peers Call.
func (n *Node) Addr() string { return n.addr }

// ListenAddr returns the address the listener is bound to.
func (n *Node) ListenAddr() net.Addr { return n.ln.Addr() }

// goFunc runs f in a goroutine that Close waits for. It returns false, and
// does not run f, once Close has started.
func (n *Node) goFunc(f func()) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.mu.closed {
		return false
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		f()
	}()
	return true
}

// Close shuts down every open group, closes the listener and every session,
// stops the RPC handlers (their context is cancelled) and waits for all of
// the node's goroutines. It is idempotent.
func (n *Node) Close() error {
	n.mu.Lock()
	if n.mu.closed {
		n.mu.Unlock()
		n.wg.Wait()
		return nil
	}
	n.mu.closed = true
	groups := make([]*Group, 0, len(n.mu.groups))
	for _, g := range n.mu.groups {
		groups = append(groups, g)
	}
	n.mu.Unlock()

	err := n.ln.Close()
	// Groups shut down in parallel: each may wait up to its drain timeout for
	// operations in flight.
	var wg sync.WaitGroup
	errs := make([]error, len(groups))
	for i, g := range groups {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = g.Shutdown()
		}()
	}
	wg.Wait()

	n.cancel()
	n.mu.Lock()
	sessions := make([]*yamux.Session, 0, len(n.mu.sessions))
	for s := range n.mu.sessions {
		sessions = append(sessions, s)
	}
	n.mu.Unlock()
	for _, s := range sessions {
		_ = s.Close()
	}
	n.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return errors.Join(append(errs, err)...)
}

func (n *Node) isClosed() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.mu.closed
}

// acceptLoop accepts connections until the listener is closed.
func (n *Node) acceptLoop() {
	var delay time.Duration
	for {
		conn, err := n.ln.Accept()
		if err != nil {
			if n.isClosed() || errors.Is(err, net.ErrClosed) {
				return
			}
			// A transient error (EMFILE, ...): back off as net/http does.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			n.logger.Warn("accept failed", "err", err, "retry_in", delay)
			select {
			case <-time.After(delay):
			case <-n.ctx.Done():
				return
			}
			continue
		}
		delay = 0
		if !n.goFunc(func() { n.serveConn(conn) }) {
			_ = conn.Close()
			return
		}
	}
}

// serveConn reads the preamble of an inbound connection, then serves its yamux
// session until it closes.
func (n *Node) serveConn(conn net.Conn) {
	_ = conn.SetReadDeadline(time.Now().Add(n.cfg.DialTimeout))
	p, err := readPreamble(conn)
	if err != nil {
		n.logger.Warn("bad connection preamble", "remote", conn.RemoteAddr().String(), "err", err)
		_ = conn.Close()
		return
	}
	_ = conn.SetReadDeadline(time.Time{})
	sess, err := yamux.Server(conn, n.yamuxCfg)
	if err != nil { // only on an invalid config
		_ = conn.Close()
		n.logger.Error("yamux server", "err", err)
		return
	}
	if !n.addSession(sess, p.Addr, false) {
		_ = sess.Close()
		return
	}
	n.serveSession(sess, p.Addr)
}

// addSession records a live session. An outbound session always becomes the
// one used to reach addr; an inbound one only if there is none yet (both
// directions of a session carry streams, so one per peer pair is enough).
// It returns false once the node is closed.
func (n *Node) addSession(sess *yamux.Session, addr string, outbound bool) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.mu.closed {
		return false
	}
	n.mu.sessions[sess] = struct{}{}
	if cur := n.mu.peers[addr]; outbound || cur == nil || cur.IsClosed() {
		if _, dialing := n.mu.dialing[addr]; outbound || !dialing {
			n.mu.peers[addr] = sess
		}
	}
	return true
}

func (n *Node) removeSession(sess *yamux.Session, addr string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.mu.sessions, sess)
	if n.mu.peers[addr] == sess {
		delete(n.mu.peers, addr)
	}
}

// serveSession accepts the streams the peer opens on sess until it closes.
func (n *Node) serveSession(sess *yamux.Session, addr string) {
	defer func() {
		_ = sess.Close()
		n.removeSession(sess, addr)
	}()
	for {
		st, err := sess.AcceptStream()
		if err != nil {
			return
		}
		if !n.goFunc(func() { n.serveStream(st) }) {
			_ = st.Close()
			return
		}
	}
}

// serveStream reads a stream's header and routes it: a raft stream to its
// group's transport, an RPC to its handler.
func (n *Node) serveStream(st *yamux.Stream) {
	_ = st.SetReadDeadline(time.Now().Add(n.cfg.IOTimeout))
	h, err := readStreamHeader(st)
	if err != nil {
		n.logger.Warn("bad stream header", "remote", st.RemoteAddr().String(), "err", err)
		_ = st.Close()
		return
	}
	_ = st.SetReadDeadline(time.Time{})
	switch h.Kind {
	case kindRaft:
		n.mu.Lock()
		g := n.mu.groups[h.Name]
		n.mu.Unlock()
		if g == nil {
			// Not open here (yet, or any more): raft retries with backoff.
			_ = st.Close()
			return
		}
		g.layer.deliver(st, n.cfg.IOTimeout)
	case kindRPC:
		n.serveRPC(st, h.Name)
	}
}
