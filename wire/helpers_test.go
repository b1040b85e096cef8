package wire

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// ioDeadline bounds every blocking step of a test; it is a failure bound,
// never a wait for a condition.
const ioDeadline = 10 * time.Second

// funcHandler is a Handler built from a version table and a function.
type funcHandler struct {
	versions map[int16]VersionRange
	serve    func(ctx context.Context, req *Request) Reply
}

func (h *funcHandler) Versions() map[int16]VersionRange { return h.versions }
func (h *funcHandler) Serve(ctx context.Context, req *Request) Reply {
	return h.serve(ctx, req)
}

// testVersions: Produce and Metadata, at the versions kmsg knows.
var testVersions = map[int16]VersionRange{
	0: {Min: 3, Max: 11}, // Produce
	3: {Min: 0, Max: 12}, // Metadata
}

// metadataResponse answers Metadata with one broker (node 0) at addr.
func metadataResponse(req *Request, addr net.Addr) kmsg.Response {
	resp := req.Body.ResponseKind().(*kmsg.MetadataResponse)
	b := kmsg.NewMetadataResponseBroker()
	if ta, ok := addr.(*net.TCPAddr); ok {
		b.Host, b.Port = ta.IP.String(), int32(ta.Port)
	}
	resp.Brokers = append(resp.Brokers, b)
	resp.ControllerID = 0
	return resp
}

// simpleHandler answers Metadata at once and Produce unless acks=0.
func simpleHandler(addr func() net.Addr) *funcHandler {
	return &funcHandler{versions: testVersions, serve: func(ctx context.Context, req *Request) Reply {
		switch body := req.Body.(type) {
		case *kmsg.MetadataRequest:
			return Respond(metadataResponse(req, addr()))
		case *kmsg.ProduceRequest:
			if body.Acks == 0 {
				return NoResponse()
			}
			return Respond(body.ResponseKind())
		}
		return CloseConn(errors.New("unexpected request"))
	}}
}

// testServer is a Server with its listener's address known before Serve
// has started.
type testServer struct {
	*Server
	addr net.Addr
}

func (s *testServer) Addr() net.Addr { return s.addr }

// startServer serves h on a loopback listener until the test ends.
func startServer(t testing.TB, cfg Config, h Handler) *testServer {
	t.Helper()
	return startServerOn(t, "127.0.0.1:0", cfg, h)
}

func startServerOn(t testing.TB, laddr string, cfg Config, h Handler) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", laddr)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewServer(cfg, h)
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), ioDeadline)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-errc; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	return &testServer{Server: s, addr: ln.Addr()}
}

// rawClient speaks frames over a plain TCP connection.
type rawClient struct {
	t  testing.TB
	nc net.Conn
	mu sync.Mutex
	// sent maps correlation id to the request, to decode its response.
	sent map[int32]kmsg.Request
}

func dialRaw(t testing.TB, addr net.Addr) *rawClient {
	t.Helper()
	return dialRawFrom(t, nil, addr)
}

func dialRawFrom(t testing.TB, local *net.TCPAddr, addr net.Addr) *rawClient {
	t.Helper()
	d := net.Dialer{LocalAddr: local, Timeout: ioDeadline}
	nc, err := d.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rawClient{t: t, nc: nc, sent: make(map[int32]kmsg.Request)}
}

var testFormatter = kmsg.NewRequestFormatter(kmsg.FormatterClientID("wire-test"))

// frame returns req as a complete frame (length prefix included), formatted
// by kmsg (an implementation independent of ours), and remembers it.
func (c *rawClient) frame(req kmsg.Request, corr int32) []byte {
	c.mu.Lock()
	c.sent[corr] = req
	c.mu.Unlock()
	return testFormatter.AppendRequest(nil, req, corr)
}

func (c *rawClient) write(b []byte) {
	c.t.Helper()
	c.nc.SetWriteDeadline(time.Now().Add(ioDeadline))
	if _, err := c.nc.Write(b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// send writes the requests as one write (pipelined), correlation ids
// starting at corr.
func (c *rawClient) send(corr int32, reqs ...kmsg.Request) {
	c.t.Helper()
	var b []byte
	for i, r := range reqs {
		b = append(b, c.frame(r, corr+int32(i))...)
	}
	c.write(b)
}

// readFrame reads one response frame: correlation id and the rest.
func (c *rawClient) readFrame() (int32, []byte, error) {
	c.nc.SetReadDeadline(time.Now().Add(ioDeadline))
	var size [4]byte
	if _, err := io.ReadFull(c.nc, size[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(size[:])
	if n < 4 || n > 64<<20 {
		c.t.Fatalf("response frame length %d", n)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(c.nc, b); err != nil {
		return 0, nil, err
	}
	return int32(binary.BigEndian.Uint32(b)), b[4:], nil
}

// recv reads one response and decodes it as the response to the request
// sent with its correlation id.
func (c *rawClient) recv() (int32, kmsg.Response) {
	c.t.Helper()
	corr, b, err := c.readFrame()
	if err != nil {
		c.t.Fatalf("read response: %v", err)
	}
	c.mu.Lock()
	req := c.sent[corr]
	c.mu.Unlock()
	if req == nil {
		c.t.Fatalf("response with unknown correlation id %d", corr)
	}
	return corr, decodeResponse(c.t, req, b)
}

// decodeResponse decodes b (after the correlation id) as req's response.
func decodeResponse(t testing.TB, req kmsg.Request, b []byte) kmsg.Response {
	t.Helper()
	resp := req.ResponseKind()
	if resp.IsFlexible() && resp.Key() != apiVersionsKey {
		var err error
		if b, err = skipTags(b); err != nil {
			t.Fatalf("response header: %v", err)
		}
	}
	if err := resp.ReadFrom(b); err != nil {
		t.Fatalf("decode %s v%d response: %v", kmsg.NameForKey(req.Key()), req.GetVersion(), err)
	}
	return resp
}

// expectClosed fails unless the server closes the connection (EOF or
// reset) before ioDeadline, without sending anything.
func (c *rawClient) expectClosed() {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(ioDeadline))
	var b [1]byte
	n, err := c.nc.Read(b[:])
	switch {
	case n > 0:
		c.t.Fatalf("read %d bytes, want the connection closed", n)
	case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET):
	default:
		c.t.Fatalf("read: %v, want EOF or reset", err)
	}
}

func metadataReq(version int16) *kmsg.MetadataRequest {
	r := kmsg.NewPtrMetadataRequest()
	r.Version = version
	t := kmsg.NewMetadataRequestTopic()
	t.Topic = kmsg.StringPtr("orders")
	r.Topics = append(r.Topics, t)
	return r
}

func produceReq(version, acks int16) *kmsg.ProduceRequest {
	r := kmsg.NewPtrProduceRequest()
	r.Version = version
	r.Acks = acks
	r.TimeoutMillis = 1000
	return r
}
