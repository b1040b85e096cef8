package wire

import (
	"context"
	"errors"
	"net"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// One Server on a named and an unnamed listener: each request carries the
// name of the listener its connection arrived on.
func TestServeNamedListener(t *testing.T) {
	h := &funcHandler{versions: testVersions, serve: func(ctx context.Context, req *Request) Reply {
		resp := req.Body.ResponseKind().(*kmsg.MetadataResponse)
		resp.ClusterID = kmsg.StringPtr("listener=" + req.Listener)
		return Respond(resp)
	}}
	s, err := NewServer(Config{}, h)
	if err != nil {
		t.Fatal(err)
	}
	listen := func(name string) net.Addr {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		errc := make(chan error, 1)
		go func() { errc <- s.ServeNamed(name, ln) }()
		t.Cleanup(func() {
			if err := <-errc; !errors.Is(err, ErrServerClosed) {
				t.Errorf("ServeNamed(%q) returned %v, want ErrServerClosed", name, err)
			}
		})
		return ln.Addr()
	}
	addrs := map[string]net.Addr{"EXTERNAL": listen("EXTERNAL"), "": listen("")}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), ioDeadline)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	for name, addr := range addrs {
		c := dialRaw(t, addr)
		req := kmsg.NewPtrMetadataRequest()
		req.Version = 9
		c.send(1, req)
		_, resp := c.recv()
		if got := *resp.(*kmsg.MetadataResponse).ClusterID; got != "listener="+name {
			t.Errorf("request on listener %q saw %q", name, got)
		}
	}
}
