package wire

import (
	"bufio"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"
)

// BenchmarkPipelinedRequests pipelines small Metadata requests over one
// loopback connection against a handler that answers at once, and reports
// requests per second. The client reuses its buffers, as the server does.
func BenchmarkPipelinedRequests(b *testing.B) {
	var s *testServer
	s = startServer(b, Config{}, simpleHandler(func() net.Addr { return s.Addr() }))
	nc, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()

	const batch = 64 // frames per client write
	frame := testFormatter.AppendRequest(nil, metadataReq(12), 0)
	var out []byte
	for range batch {
		out = append(out, frame...)
	}
	corrAt := func(i int) int { return i*len(frame) + 8 } // after length, key, version

	writeErr := make(chan error, 1)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	go func() {
		for sent := 0; sent < b.N; {
			n := min(batch, b.N-sent)
			for i := range n {
				binary.BigEndian.PutUint32(out[corrAt(i):], uint32(sent+i))
			}
			if _, err := nc.Write(out[:n*len(frame)]); err != nil {
				writeErr <- err
				return
			}
			sent += n
		}
		writeErr <- nil
	}()
	br := bufio.NewReaderSize(nc, 64<<10)
	var hdr [8]byte
	body := make([]byte, 0, 4<<10)
	for want := range int32(b.N) {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			b.Fatalf("read: %v", err)
		}
		size := int(binary.BigEndian.Uint32(hdr[:]))
		if corr := int32(binary.BigEndian.Uint32(hdr[4:])); corr != want {
			b.Fatalf("corr %d, want %d", corr, want)
		}
		body = body[:size-4]
		if _, err := io.ReadFull(br, body); err != nil {
			b.Fatalf("read: %v", err)
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	if err := <-writeErr; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "requests/s")
}
