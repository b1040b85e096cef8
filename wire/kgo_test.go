package wire

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// recordingObserver keeps every observed request.
// Requests are observed after their response is written, so a client can
// see a response before its observation: tests wait for it with waitFor.
type recordingObserver struct {
	NopObserver
	changed chan struct{} // signalled after each observation
	mu      sync.Mutex
	reqs    []observation
}

func newRecordingObserver() *recordingObserver {
	return &recordingObserver{changed: make(chan struct{}, 1)}
}

func (o *recordingObserver) ObserveRequest(key, version int16, bytesIn, bytesOut int, latency time.Duration) {
	o.mu.Lock()
	o.reqs = append(o.reqs, observation{key: key, version: version, bytesIn: bytesIn, bytesOut: bytesOut})
	o.mu.Unlock()
	select {
	case o.changed <- struct{}{}:
	default:
	}
}

// waitFor returns the observations once cond holds for them, or fails the
// test after ioDeadline.
func (o *recordingObserver) waitFor(t *testing.T, cond func([]observation) bool) []observation {
	t.Helper()
	deadline := time.After(ioDeadline)
	for {
		o.mu.Lock()
		reqs := append([]observation(nil), o.reqs...)
		o.mu.Unlock()
		if cond(reqs) {
			return reqs
		}
		select {
		case <-o.changed:
		case <-deadline:
			t.Fatalf("observations %+v: condition not met", reqs)
		}
	}
}

func newKgo(t *testing.T, addr net.Addr) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr.String()), kgo.ClientID("kgo-wire-test"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// TestKgoRoundTrip: franz-go connects (ApiVersions handshake, downgrading
// if it asks for a version we lack) and gets Metadata and ApiVersions
// answers.
func TestKgoRoundTrip(t *testing.T) {
	obs := newRecordingObserver()
	var s *testServer
	s = startServer(t, Config{Observer: obs}, simpleHandler(func() net.Addr { return s.Addr() }))
	cl := newKgo(t, s.Addr())

	resp, err := cl.Request(t.Context(), metadataReq(12))
	if err != nil {
		t.Fatalf("Metadata: %v", err)
	}
	md := resp.(*kmsg.MetadataResponse)
	if len(md.Brokers) != 1 || md.Brokers[0].Port != int32(s.Addr().(*net.TCPAddr).Port) {
		t.Fatalf("brokers %+v", md.Brokers)
	}

	resp, err = cl.Request(t.Context(), kmsg.NewPtrApiVersionsRequest())
	if err != nil {
		t.Fatalf("ApiVersions: %v", err)
	}
	if av := resp.(*kmsg.ApiVersionsResponse); av.ErrorCode != 0 || len(av.ApiKeys) != 3 {
		t.Fatalf("ApiVersions: error %d keys %+v", av.ErrorCode, av.ApiKeys)
	}

	// kgo opens with ApiVersions v5, which we lack: it gets our v0
	// UNSUPPORTED_VERSION answer with the key list and uses that list.
	// Our explicit ApiVersions request goes out at v5 too, is refused the
	// same way, and kgo retries it at v4.
	reqs := obs.waitFor(t, func(reqs []observation) bool {
		var apiVersions, metadata int
		for _, o := range reqs {
			switch {
			case o.key == apiVersionsKey && apiVersionsRange.Contains(o.version):
				apiVersions++
			case o.key == 3:
				metadata++
			}
		}
		return apiVersions >= 1 && metadata >= 1
	})
	for _, o := range reqs {
		if o.key == apiVersionsKey {
			t.Logf("kgo ApiVersions v%d: %d bytes in, %d out", o.version, o.bytesIn, o.bytesOut)
		}
		if o.bytesIn <= 8 || o.bytesOut <= 8 {
			t.Errorf("observation %+v: frame sizes missing", o)
		}
	}
}

// TestKgoPipelinedOutOfOrder: concurrent requests on one kgo connection,
// completed by the handler in reverse batches, all succeed (kgo checks
// that each response carries the correlation id it expects next).
func TestKgoPipelinedOutOfOrder(t *testing.T) {
	const n = 64
	h := &orderHandler{t: t, maxIn: DefaultMaxInFlightPerConn, pending: make(chan chan kmsg.Response, n)}
	s := startServer(t, Config{}, h)
	cl := newKgo(t, s.Addr())
	seed := cl.SeedBrokers()[0]

	var wg sync.WaitGroup
	wg.Go(func() { h.complete(n, 5) })
	ctx, cancel := context.WithTimeout(t.Context(), ioDeadline)
	defer cancel()
	for range n {
		wg.Go(func() {
			if _, err := seed.Request(ctx, metadataReq(12)); err != nil {
				t.Errorf("Metadata: %v", err)
			}
		})
	}
	wg.Wait()
}
