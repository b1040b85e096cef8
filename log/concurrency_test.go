package log

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
)

// offsetBatch is the batch the concurrency test stores at offset o, as the
// log stores it: content is a function of o alone, so a reader can check
// any batch it sees without coordination.
func offsetBatch(o int64) []byte {
	if batches := offsetBatches(); o < int64(len(batches)) {
		return batches[o]
	}
	return makeOffsetBatch(o)
}

var offsetBatches = sync.OnceValue(func() [][]byte {
	out := make([][]byte, 3000)
	for o := range out {
		out[o] = makeOffsetBatch(int64(o))
	}
	return out
})

func makeOffsetBatch(o int64) []byte {
	b := buildBatch(batchSpec{records: 2, timestamp: o, valueSize: 50 + int(o%300), seed: byte(o)})
	rewriteBatches(b, o, 1)
	return b
}

func TestConcurrentReadersDuringWrites(t *testing.T) {
	for _, fsName := range []string{"os", "mem"} {
		t.Run(fsName, func(t *testing.T) {
			var fsys FS = OSFS{}
			if fsName == "mem" {
				fsys = newMemFS()
			}
			cfg := testConfig(fsys)
			cfg.MaxSegmentBytes = 8 << 10
			cfg.RetentionBytes = 64 << 10
			cfg.IndexIntervalBytes = 256
			l := mustOpen(t, filepath.Join(t.TempDir(), "p"), cfg)
			defer l.Close()

			var done atomic.Bool
			var wg sync.WaitGroup
			var reads atomic.Int64
			errc := make(chan error, 8)
			for r := range 3 {
				wg.Go(func() {
					rng := rand.New(rand.NewPCG(uint64(r), 1))
					var buf []byte
					for !done.Load() {
						start, end := l.StartOffset(), l.EndOffset()
						if end == start {
							continue
						}
						off := start + rng.Int64N(end-start)
						c, err := l.Read(off, 1+rng.IntN(4000))
						if errors.Is(err, ErrOffsetOutOfRange) {
							continue // retention or truncation moved the bounds
						}
						if err != nil {
							errc <- err
							return
						}
						if c.Len() == 0 {
							c.Close()
							continue // a truncation moved the end to off
						}
						buf, err = c.AppendTo(buf[:0])
						c.Close()
						if err != nil {
							errc <- err
							return
						}
						if err := checkOffsetBatches(buf, c.FirstOffset(), c.NextOffset(), off); err != nil {
							errc <- err
							return
						}
						if _, err := l.OffsetForTimestamp(off); err != nil && !errors.Is(err, ErrNotFound) {
							errc <- err
							return
						}
						reads.Add(1)
					}
				})
			}
			for o, i := int64(0), 1; o < 2000; i++ {
				if err := checkErr(errc); err != nil {
					t.Fatal(err)
				}
				if _, err := l.Append(bytes.Clone(offsetBatch(o)), 1); err != nil {
					t.Fatal(err)
				}
				o += 2
				switch {
				case i%200 == 0:
					if err := l.TruncateTo(o - 10); err != nil {
						t.Fatal(err)
					}
					o -= 10
				case i%50 == 0:
					if _, err := l.ApplyRetention(); err != nil {
						t.Fatal(err)
					}
				case i%75 == 0:
					if err := l.Roll(); err != nil {
						t.Fatal(err)
					}
				}
			}
			done.Store(true)
			wg.Wait()
			if err := checkErr(errc); err != nil {
				t.Fatal(err)
			}
			t.Logf("%d concurrent reads", reads.Load())
		})
	}
}

func checkErr(errc chan error) error {
	select {
	case err := <-errc:
		return err
	default:
		return nil
	}
}

// checkOffsetBatches checks a chunk read at off against offsetBatch.
func checkOffsetBatches(b []byte, first, next, off int64) error {
	if first > off || next <= off {
		return errors.New("chunk does not hold the offset read")
	}
	o := first
	for len(b) > 0 {
		want := offsetBatch(o)
		if len(b) < len(want) || !bytes.Equal(b[:len(want)], want) {
			return errors.New("chunk bytes differ from what was appended")
		}
		b = b[len(want):]
		o += 2
	}
	if o != next {
		return errors.New("chunk NextOffset does not follow its batches")
	}
	return nil
}

func TestChunkWriteToSocket(t *testing.T) {
	cfg := testConfig(nil)
	cfg.MaxSegmentBytes = 8 << 20
	l := mustOpen(t, filepath.Join(t.TempDir(), "p"), cfg)
	defer l.Close()
	var want []byte
	for i := range 64 {
		b := batchOfSize(t, 32<<10, int64(i), byte(i))
		if _, err := l.Append(b, 0); err != nil {
			t.Fatal(err)
		}
		want = append(want, b...)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan []byte, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			got <- nil
			return
		}
		defer conn.Close()
		b, _ := io.ReadAll(conn)
		got <- b
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	tcp := conn.(*net.TCPConn)
	if err := tcp.SetWriteBuffer(4096); err != nil { // force EAGAIN and poller waits
		t.Fatal(err)
	}
	var sent int64
	for off := int64(0); off < l.EndOffset(); {
		c, err := l.Read(off, 700<<10)
		if err != nil {
			t.Fatal(err)
		}
		n, err := io.Copy(tcp, c) // io.Copy uses Chunk.WriteTo
		if err != nil || n != c.Len() {
			t.Fatalf("copy chunk: %d of %d: %v", n, c.Len(), err)
		}
		sent += n
		off = c.NextOffset()
		c.Close()
	}
	tcp.CloseWrite()
	if b := <-got; !bytes.Equal(b, want) {
		t.Fatalf("received %d bytes, want %d identical", len(b), len(want))
	}
	if sent != int64(len(want)) {
		t.Fatalf("sent %d", sent)
	}
}
