package wire

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestConfigValidate(t *testing.T) {
	if err := (Config{}).Validate(); err != nil {
		t.Fatalf("zero config: %v", err)
	}
	for _, c := range []Config{
		{MaxRequestBytes: -1}, {MaxRequestBytes: 100}, {MaxConns: -1}, {MaxConnsPerIP: -1},
		{IdleTimeout: -1}, {ReadTimeout: -1}, {WriteTimeout: -1}, {MaxInFlightPerConn: -1},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v: Validate accepted it", c)
		}
	}
	d := Config{}.withDefaults()
	if d.MaxRequestBytes != 100<<20 || d.IdleTimeout != 10*time.Minute {
		t.Errorf("defaults: %+v", d)
	}
}

func TestNewServerRejectsBadVersions(t *testing.T) {
	for _, v := range []map[int16]VersionRange{
		{18: {0, 3}},    // ApiVersions is ours
		{3: {5, 4}},     // min > max
		{3: {-1, 4}},    // negative
		{3: {0, 999}},   // beyond kmsg
		{30000: {0, 0}}, // unknown key
	} {
		if _, err := NewServer(Config{}, &funcHandler{versions: v}); err == nil {
			t.Errorf("%v: NewServer accepted it", v)
		}
	}
}

func TestApiVersions(t *testing.T) {
	var s *testServer
	s = startServer(t, Config{}, simpleHandler(func() net.Addr { return s.Addr() }))
	want := []kmsg.ApiVersionsResponseApiKey{
		{ApiKey: 0, MinVersion: 3, MaxVersion: 11},
		{ApiKey: 3, MinVersion: 0, MaxVersion: 12},
		{ApiKey: 18, MinVersion: 0, MaxVersion: 4},
	}
	keysEqual := func(got []kmsg.ApiVersionsResponseApiKey) bool {
		return slices.EqualFunc(got, want, func(a, b kmsg.ApiVersionsResponseApiKey) bool {
			return a.ApiKey == b.ApiKey && a.MinVersion == b.MinVersion && a.MaxVersion == b.MaxVersion
		})
	}
	c := dialRaw(t, s.Addr())
	for v := int16(0); v <= 4; v++ {
		req := kmsg.NewPtrApiVersionsRequest()
		req.Version = v
		req.ClientSoftwareName, req.ClientSoftwareVersion = "wire-test", "1.0.0"
		c.send(int32(v), req)
		corr, r := c.recv()
		resp := r.(*kmsg.ApiVersionsResponse)
		if corr != int32(v) || resp.ErrorCode != 0 || !keysEqual(resp.ApiKeys) {
			t.Errorf("v%d: corr %d, error %d, keys %+v", v, corr, resp.ErrorCode, resp.ApiKeys)
		}
	}

	t.Run("unsupported version", func(t *testing.T) {
		// v99: the body is not decodable by anyone; Kafka answers with a
		// v0 body (header v0) carrying error 35 and the full key list.
		c := dialRaw(t, s.Addr())
		frame := []byte{0, 0, 0, 0, 0, 18, 0, 99, 0, 0, 0, 5, 0, 1, 'x', 0, 0xDE, 0xAD}
		binary.BigEndian.PutUint32(frame, uint32(len(frame)-4))
		c.write(frame)
		corr, b, err := c.readFrame()
		if err != nil {
			t.Fatal(err)
		}
		resp := kmsg.NewPtrApiVersionsResponse()
		resp.Version = 0
		if err := resp.ReadFrom(b); err != nil {
			t.Fatalf("decode as v0: %v", err)
		}
		if corr != 5 || resp.ErrorCode != kerr.UnsupportedVersion.Code || !keysEqual(resp.ApiKeys) {
			t.Errorf("corr %d, error %d, keys %+v", corr, resp.ErrorCode, resp.ApiKeys)
		}
		// The connection stays usable.
		c.send(6, kmsg.NewPtrApiVersionsRequest())
		if corr, _ := c.recv(); corr != 6 {
			t.Errorf("corr %d, want 6", corr)
		}
	})

	t.Run("invalid software name", func(t *testing.T) {
		c := dialRaw(t, s.Addr())
		req := kmsg.NewPtrApiVersionsRequest()
		req.Version = 3
		req.ClientSoftwareName, req.ClientSoftwareVersion = "bad name!", "1.0"
		c.send(1, req)
		_, r := c.recv()
		if resp := r.(*kmsg.ApiVersionsResponse); resp.ErrorCode != kerr.InvalidRequest.Code || len(resp.ApiKeys) != 0 {
			t.Errorf("error %d, keys %+v; want INVALID_REQUEST and no keys", resp.ErrorCode, resp.ApiKeys)
		}
	})
}

// TestUnsupportedRequestCloses: an unknown key, a key we do not implement,
// or a version out of range closes the connection, after the responses to
// the requests before it.
func TestUnsupportedRequestCloses(t *testing.T) {
	var s *testServer
	s = startServer(t, Config{}, simpleHandler(func() net.Addr { return s.Addr() }))
	fetch := kmsg.NewPtrFetchRequest()
	fetch.Version = 4
	tooNew := metadataReq(12)
	tooNew.Version = 13
	unknown := []byte{0, 0, 0, 10, 0x7F, 0x00, 0, 0, 0, 0, 0, 2, 0, 0}
	truncatedBody := func(c *rawClient) []byte {
		f := c.frame(metadataReq(9), 2)
		f = f[:len(f)-3]
		binary.BigEndian.PutUint32(f, uint32(len(f)-4))
		return f
	}
	for name, bad := range map[string]func(c *rawClient) []byte{
		"unknown key":     func(*rawClient) []byte { return unknown },
		"not implemented": func(c *rawClient) []byte { return c.frame(fetch, 2) },
		"version too new": func(c *rawClient) []byte { return c.frame(tooNew, 2) },
		"undecodable":     truncatedBody,
	} {
		t.Run(name, func(t *testing.T) {
			c := dialRaw(t, s.Addr())
			c.write(append(c.frame(metadataReq(9), 1), bad(c)...))
			if corr, _ := c.recv(); corr != 1 {
				t.Fatalf("corr %d, want 1", corr)
			}
			c.expectClosed()
		})
	}
}

// TestFrameLength: a negative or oversized length closes the connection.
func TestFrameLength(t *testing.T) {
	var s *testServer
	s = startServer(t, Config{MaxRequestBytes: 1 << 20}, simpleHandler(func() net.Addr { return s.Addr() }))
	for name, n := range map[string]uint32{"negative": 0xFFFFFFFF, "max int32": 0x7FFFFFFF, "limit+1": 1<<20 + 1} {
		t.Run(name, func(t *testing.T) {
			c := dialRaw(t, s.Addr())
			c.write(binary.BigEndian.AppendUint32(nil, n))
			c.expectClosed()
		})
	}
}

// TestClaimedLengthDoesNotAllocate: a frame claiming the default 100 MiB
// limit but sending only a little holds memory proportional to what was
// sent, and is closed after ReadTimeout.
func TestClaimedLengthDoesNotAllocate(t *testing.T) {
	var s *testServer
	s = startServer(t, Config{ReadTimeout: 300 * time.Millisecond},
		simpleHandler(func() net.Addr { return s.Addr() }))
	const clients = 8
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var cs []*rawClient
	for range clients {
		c := dialRaw(t, s.Addr())
		c.write(append(binary.BigEndian.AppendUint32(nil, 100<<20), make([]byte, 100<<10)...))
		cs = append(cs, c)
	}
	for _, c := range cs {
		c.expectClosed()
	}
	runtime.ReadMemStats(&after)
	// 8 claims of 100 MiB would be 800 MiB; what is held is at most
	// twice what was sent (100 KiB each), plus test noise.
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 32<<20 {
		t.Errorf("allocated %d MiB for %d frames of 100 KiB", grew>>20, clients)
	}
}

func TestReadTimeout(t *testing.T) {
	const readTimeout = 200 * time.Millisecond
	var s *testServer
	s = startServer(t, Config{ReadTimeout: readTimeout, IdleTimeout: time.Minute},
		simpleHandler(func() net.Addr { return s.Addr() }))
	for name, partial := range map[string][]byte{
		"length":  {0, 0},
		"header":  {0, 0, 0, 20, 0, 3, 0},
		"body":    {0, 0, 0, 40, 0, 3, 0, 9, 0, 0, 0, 1, 0, 0, 0},
		"request": nil, // a complete request, then a partial one
	} {
		t.Run(name, func(t *testing.T) {
			c := dialRaw(t, s.Addr())
			if partial == nil {
				c.send(1, metadataReq(9))
				c.recv()
				partial = []byte{0, 0, 0}
			}
			start := time.Now()
			c.write(partial)
			c.expectClosed()
			if waited := time.Since(start); waited < readTimeout {
				t.Errorf("closed after %v, before ReadTimeout %v", waited, readTimeout)
			}
		})
	}
}

func TestIdleTimeout(t *testing.T) {
	const idle = 200 * time.Millisecond
	var s *testServer
	s = startServer(t, Config{IdleTimeout: idle}, simpleHandler(func() net.Addr { return s.Addr() }))
	// start is taken before the server can have started its idle timer.
	t.Run("silent", func(t *testing.T) {
		start := time.Now()
		c := dialRaw(t, s.Addr())
		c.expectClosed()
		if waited := time.Since(start); waited < idle {
			t.Errorf("closed after %v, before IdleTimeout %v", waited, idle)
		}
	})
	t.Run("after a request", func(t *testing.T) {
		c := dialRaw(t, s.Addr())
		start := time.Now()
		c.send(1, metadataReq(9))
		c.recv()
		c.expectClosed()
		if waited := time.Since(start); waited < idle {
			t.Errorf("closed after %v, before IdleTimeout %v", waited, idle)
		}
	})
}

// TestIdleWithRequestInFlight: a connection waiting on a slow response is
// not idle.
func TestIdleWithRequestInFlight(t *testing.T) {
	const idle = 100 * time.Millisecond
	release := make(chan struct{})
	served := make(chan struct{}, 1)
	h := &funcHandler{versions: testVersions, serve: func(ctx context.Context, req *Request) Reply {
		ch := make(chan kmsg.Response, 1)
		resp := req.Body.ResponseKind()
		go func() {
			<-release
			ch <- resp
		}()
		served <- struct{}{}
		return Later(ch)
	}}
	s := startServer(t, Config{IdleTimeout: idle}, h)
	c := dialRaw(t, s.Addr())
	c.send(1, metadataReq(9))
	<-served
	// Hold the response for several idle periods: the server must keep
	// the connection. The timer bounds how long we hold, it does not
	// wait for a condition.
	<-time.After(4 * idle)
	close(release)
	if corr, _ := c.recv(); corr != 1 {
		t.Fatalf("corr %d", corr)
	}
	c.expectClosed() // and idle again afterwards
}

func TestConnLimits(t *testing.T) {
	var s *testServer
	s = startServer(t, Config{MaxConns: 3, MaxConnsPerIP: 2}, simpleHandler(func() net.Addr { return s.Addr() }))
	admitted := func(c *rawClient) {
		t.Helper()
		c.send(1, metadataReq(9))
		c.recv()
	}
	a, b := dialRaw(t, s.Addr()), dialRaw(t, s.Addr())
	admitted(a)
	admitted(b)
	// A third from 127.0.0.1 is over the per-IP cap.
	dialRaw(t, s.Addr()).expectClosed()
	if st := s.Stats(); st.RejectedConns != 1 || st.OpenConns != 2 {
		t.Fatalf("stats %+v, want 1 rejected, 2 open", st)
	}
	// Another IP is admitted, up to MaxConns.
	other := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}
	admitted(dialRawFrom(t, other, s.Addr()))
	dialRawFrom(t, other, s.Addr()).expectClosed()
	if st := s.Stats(); st.RejectedConns != 2 || st.OpenConns != 3 || st.AcceptedConns != 3 {
		t.Fatalf("stats %+v, want 2 rejected, 3 open, 3 accepted", st)
	}
}

// orderHandler answers Metadata with Later, completed by the test.
type orderHandler struct {
	t         *testing.T
	maxIn     int
	served    atomic.Int64
	completed atomic.Int64
	pending   chan chan kmsg.Response // in Serve order
	resps     chan kmsg.Response
}

func (h *orderHandler) Versions() map[int16]VersionRange { return testVersions }
func (h *orderHandler) Serve(ctx context.Context, req *Request) Reply {
	// A slot is returned only after the response was sent on its
	// channel, so this bounds what the server lets in.
	if n := h.served.Add(1); n-h.completed.Load() > int64(h.maxIn) {
		h.t.Errorf("request %d served with %d completed: more than %d in flight", n, h.completed.Load(), h.maxIn)
	}
	ch := make(chan kmsg.Response, 1)
	h.pending <- ch
	return Later(ch)
}

// complete answers pending requests in batches of up to batch, each batch
// in reverse order, until n are answered.
func (h *orderHandler) complete(n, batch int) {
	var held []chan kmsg.Response
	for done := 0; done < n; {
		held = append(held[:0], <-h.pending)
	more:
		for len(held) < batch {
			select {
			case ch := <-h.pending:
				held = append(held, ch)
			default:
				break more
			}
		}
		for i := len(held) - 1; i >= 0; i-- {
			h.completed.Add(1)
			held[i] <- kmsg.NewPtrMetadataResponse()
			done++
		}
	}
}

// TestPipelinedOrder: responses completed out of order are written in
// request order; at most MaxInFlightPerConn requests are in flight.
func TestPipelinedOrder(t *testing.T) {
	const maxIn, n = 4, 200
	h := &orderHandler{t: t, maxIn: maxIn, pending: make(chan chan kmsg.Response, n)}
	s := startServer(t, Config{MaxInFlightPerConn: maxIn}, h)
	c := dialRaw(t, s.Addr())
	reqs := make([]kmsg.Request, n)
	for i := range reqs {
		reqs[i] = metadataReq(int16(i % 13))
	}
	var wg sync.WaitGroup
	wg.Go(func() { h.complete(n, 3) })
	c.send(0, reqs...)
	for want := range int32(n) {
		if corr, _ := c.recv(); corr != want {
			t.Fatalf("response corr %d, want %d", corr, want)
		}
	}
	wg.Wait()
}

// TestAcksZero: Produce with acks=0 gets no response; the next request's
// response is the next frame.
func TestAcksZero(t *testing.T) {
	var s *testServer
	s = startServer(t, Config{}, simpleHandler(func() net.Addr { return s.Addr() }))
	c := dialRaw(t, s.Addr())
	c.send(1, produceReq(9, 0), metadataReq(12), produceReq(9, 0), produceReq(9, -1), produceReq(3, 0), metadataReq(1))
	for _, want := range []int32{2, 4, 6} {
		if corr, _ := c.recv(); corr != want {
			t.Fatalf("corr %d, want %d", corr, want)
		}
	}
}

// TestHandlerMisuse: a zero Reply, a wrong response type, a nil Later
// value and CloseConn close the connection after the earlier responses.
func TestHandlerMisuse(t *testing.T) {
	for name, bad := range map[string]func() Reply{
		"zero":      func() Reply { return Reply{} },
		"wrong key": func() Reply { return Respond(kmsg.NewPtrFetchResponse()) },
		"nil later": func() Reply { ch := make(chan kmsg.Response, 1); ch <- nil; return Later(ch) },
		"close":     func() Reply { return CloseConn(nil) },
		"nil":       func() Reply { return Respond(nil) },
	} {
		t.Run(name, func(t *testing.T) {
			h := &funcHandler{versions: testVersions, serve: func(ctx context.Context, req *Request) Reply {
				if req.CorrelationID == 2 {
					return bad()
				}
				return Respond(req.Body.ResponseKind())
			}}
			s := startServer(t, Config{}, h)
			c := dialRaw(t, s.Addr())
			c.send(1, metadataReq(9), metadataReq(9), metadataReq(9))
			if corr, _ := c.recv(); corr != 1 {
				t.Fatalf("corr %d, want 1", corr)
			}
			c.expectClosed()
		})
	}
}

// TestRequestFields: the handler sees the header, the body and the remote
// address, and its context ends when the connection closes.
func TestRequestFields(t *testing.T) {
	got := make(chan *Request, 1)
	ctxs := make(chan context.Context, 1)
	h := &funcHandler{versions: testVersions, serve: func(ctx context.Context, req *Request) Reply {
		got <- req
		ctxs <- ctx
		return Respond(req.Body.ResponseKind())
	}}
	s := startServer(t, Config{}, h)
	c := dialRaw(t, s.Addr())
	c.send(77, metadataReq(12))
	c.recv()
	req := <-got
	if req.Key != 3 || req.Version != 12 || req.CorrelationID != 77 || req.ClientID != "wire-test" || req.NullClientID {
		t.Errorf("header %+v", req.Header)
	}
	if m, ok := req.Body.(*kmsg.MetadataRequest); !ok || len(m.Topics) != 1 || *m.Topics[0].Topic != "orders" {
		t.Errorf("body %+v", req.Body)
	}
	if req.RemoteAddr.String() != c.nc.LocalAddr().String() {
		t.Errorf("remote %v, want %v", req.RemoteAddr, c.nc.LocalAddr())
	}
	ctx := <-ctxs
	if ctx.Err() != nil {
		t.Fatal("context ended while the connection is open")
	}
	c.nc.Close()
	select {
	case <-ctx.Done():
	case <-time.After(ioDeadline):
		t.Fatal("context not cancelled after the connection closed")
	}
}

// TestShutdownDrains: Shutdown writes the responses owed, then closes.
func TestShutdownDrains(t *testing.T) {
	h := &orderHandler{t: t, maxIn: DefaultMaxInFlightPerConn, pending: make(chan chan kmsg.Response, 8)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewServer(Config{}, h)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	c := dialRaw(t, ln.Addr())
	c.send(1, metadataReq(9), metadataReq(9))
	first, second := <-h.pending, <-h.pending
	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(t.Context()) }()
	// Shutdown waits for the owed responses.
	first <- kmsg.NewPtrMetadataResponse()
	second <- kmsg.NewPtrMetadataResponse()
	for want := int32(1); want <= 2; want++ {
		if corr, _ := c.recv(); corr != want {
			t.Fatalf("corr %d, want %d", corr, want)
		}
	}
	c.expectClosed()
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := <-served; !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve: %v", err)
	}
	if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		t.Error("listener still accepting")
	}
}

// TestShutdownForced: when the context ends first, Shutdown cancels the
// handler's context, closes the connection and reports the context error.
func TestShutdownForced(t *testing.T) {
	cancelled := make(chan struct{})
	served := make(chan struct{})
	h := &funcHandler{versions: testVersions, serve: func(ctx context.Context, req *Request) Reply {
		defer close(served)
		ch := make(chan kmsg.Response, 1) // never answered
		go func() {
			<-ctx.Done()
			close(cancelled)
		}()
		return Later(ch)
	}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewServer(Config{}, h)
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(ln)
	c := dialRaw(t, ln.Addr())
	c.send(1, metadataReq(9))
	<-served
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v, want DeadlineExceeded", err)
	}
	<-cancelled
	c.expectClosed()
	if st := s.Stats(); st.OpenConns != 0 {
		t.Errorf("%d conns open after Shutdown", st.OpenConns)
	}
}

// TestShutdownStopsPartialFrame: a reader inside a frame stops at once.
func TestShutdownStopsPartialFrame(t *testing.T) {
	var s *testServer
	s = startServer(t, Config{}, simpleHandler(func() net.Addr { return s.Addr() }))
	c := dialRaw(t, s.Addr())
	c.send(1, metadataReq(9))
	c.recv()
	c.write([]byte{0, 0, 0, 50, 0})
	if err := s.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	c.expectClosed()
}
