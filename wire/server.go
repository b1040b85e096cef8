package wire

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// ErrServerClosed is returned by Serve once Shutdown has been called.
var ErrServerClosed = errors.New("wire: server closed")

// Server serves the Kafka protocol to a Handler. Create it with NewServer,
// run Serve on one or more listeners, stop it with Shutdown. Its methods
// are safe for concurrent use.
type Server struct {
	cfg      Config
	h        Handler
	versions *versionTable
	log      *slog.Logger
	obs      Observer

	// ctx parents every connection's context; cancel is called when
	// Shutdown has finished or given up waiting.
	ctx    context.Context
	cancel context.CancelFunc
	// drain is closed when Shutdown starts: readers stop reading.
	drain chan struct{}
	// wg counts admitted connections; each one's goroutines end before
	// its Done.
	wg sync.WaitGroup

	accepted, rejected atomic.Uint64

	mu struct {
		sync.Mutex
		closed    bool
		listeners map[net.Listener]struct{}
		conns     map[*conn]struct{}
		perIP     map[string]int // open connections per remote IP
		addr      net.Addr       // of the latest listener
	}
}

// NewServer validates cfg, applies its defaults, and snapshots
// h.Versions().
func NewServer(cfg Config, h Handler) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if h == nil {
		return nil, errors.New("wire: nil handler")
	}
	vt, err := newVersionTable(h.Versions())
	if err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	s := &Server{
		cfg:      cfg,
		h:        h,
		versions: vt,
		log:      cfg.Logger,
		obs:      cfg.Observer,
		drain:    make(chan struct{}),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.mu.listeners = make(map[net.Listener]struct{})
	s.mu.conns = make(map[*conn]struct{})
	s.mu.perIP = make(map[string]int)
	return s, nil
}

// Serve accepts connections on ln until Shutdown (then it returns
// ErrServerClosed) or until ln fails permanently. Temporary accept errors
// (such as running out of file descriptors) are logged and retried with
// backoff. Serve closes ln when it returns. Requests of its connections
// carry no listener name.
func (s *Server) Serve(ln net.Listener) error { return s.ServeNamed("", ln) }

// ServeNamed is Serve for a named listener (Kafka's listener name, such as
// INTERNAL or EXTERNAL): every request of its connections carries name in
// Request.Listener, so that the Handler can answer with the addresses of
// the listener the client came through.
func (s *Server) ServeNamed(name string, ln net.Listener) error {
	s.mu.Lock()
	if s.mu.closed {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.mu.listeners[ln] = struct{}{}
	s.mu.addr = ln.Addr()
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.mu.listeners, ln)
		s.mu.Unlock()
		ln.Close()
	}()

	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.closing() {
				return ErrServerClosed
			}
			if errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("wire: accept: %w", err)
			}
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.log.Warn("accept failed", "err", err, "retry_in", backoff)
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-s.drain:
				t.Stop()
				return ErrServerClosed
			}
			continue
		}
		backoff = 0
		s.admit(name, nc)
	}
}

// Addr returns the address of the listener most recently passed to Serve,
// or nil.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.addr
}

// Stats is a snapshot of connection counters.
type Stats struct {
	OpenConns     int    // admitted and not yet released
	AcceptedConns uint64 // admitted since NewServer
	RejectedConns uint64 // closed at once by MaxConns or MaxConnsPerIP
}

// Stats returns the current connection counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	open := len(s.mu.conns)
	s.mu.Unlock()
	return Stats{OpenConns: open, AcceptedConns: s.accepted.Load(), RejectedConns: s.rejected.Load()}
}

// Shutdown stops accepting, stops reading requests (a partly received
// request is dropped), and waits for the responses to the requests already
// read to be written and every connection goroutine to end. If ctx ends
// first, it cancels every connection's context, closes the connections,
// waits for the goroutines (Handler.Serve must return once its ctx is
// cancelled) and returns ctx's error. Shutdown may be called more than once.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if !s.mu.closed {
		s.mu.closed = true
		close(s.drain)
	}
	for ln := range s.mu.listeners {
		ln.Close()
	}
	for c := range s.mu.conns {
		c.beginDrain()
	}
	s.mu.Unlock()

	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		s.cancel()
		return nil
	case <-ctx.Done():
	}
	s.cancel()
	s.mu.Lock()
	for c := range s.mu.conns {
		c.nc.Close()
	}
	s.mu.Unlock()
	<-done
	return fmt.Errorf("wire: shutdown: %w", ctx.Err())
}

// closing reports whether Shutdown has started.
func (s *Server) closing() bool {
	select {
	case <-s.drain:
		return true
	default:
		return false
	}
}

// admit starts serving nc, or closes it at once when a connection limit is
// reached. Rejections are counted before nc is closed, so a client that
// sees the close also sees the count.
func (s *Server) admit(listener string, nc net.Conn) {
	ip := remoteIP(nc.RemoteAddr())
	s.mu.Lock()
	var reject ConnEvent = -1
	switch {
	case s.mu.closed:
		s.mu.Unlock()
		nc.Close()
		return
	case len(s.mu.conns) >= s.cfg.MaxConns:
		reject = ConnRejectedMax
	case s.mu.perIP[ip] >= s.cfg.MaxConnsPerIP:
		reject = ConnRejectedPerIP
	}
	if reject >= 0 {
		s.mu.Unlock()
		s.rejected.Add(1)
		s.obs.ObserveConn(reject)
		s.log.Debug("conn rejected", "remote", nc.RemoteAddr().String(), "reason", reject.String())
		nc.Close()
		return
	}
	inflight := s.cfg.MaxInFlightPerConn
	c := &conn{
		s:        s,
		nc:       nc,
		listener: listener,
		remote:   nc.RemoteAddr(),
		ipKey:    ip,
		queue:    make(chan pending, inflight),
		slots:    make(chan struct{}, inflight),
	}
	c.ctx, c.cancel = context.WithCancel(s.ctx)
	s.mu.conns[c] = struct{}{}
	s.mu.perIP[ip]++
	s.wg.Add(1)
	s.mu.Unlock()
	s.accepted.Add(1)
	s.obs.ObserveConn(ConnOpened)
	go c.serve()
}

// release forgets a closed connection.
func (s *Server) release(c *conn) {
	s.mu.Lock()
	delete(s.mu.conns, c)
	if s.mu.perIP[c.ipKey]--; s.mu.perIP[c.ipKey] <= 0 {
		delete(s.mu.perIP, c.ipKey)
	}
	s.mu.Unlock()
	s.obs.ObserveConn(ConnClosed)
}

// remoteIP returns the key under which a connection from a counts for MaxConnsPerIP: its
// IP for TCP (IPv4-mapped IPv6 unmapped), its whole address otherwise.
func remoteIP(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.AddrPort().Addr().Unmap().String()
	}
	if a == nil {
		return ""
	}
	return a.String()
}
