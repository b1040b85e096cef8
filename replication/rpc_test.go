package replication

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
	"time"
)

func TestRPCStreamedBody(t *testing.T) {
	checkNoLeaks(t)
	a, b := testNode(t, "a"), testNode(t, "b")
	body := make([]byte, 6<<20+123)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range body {
		body[i] = byte(r.Uint32())
	}
	b.Handle("segment", func(ctx context.Context, req []byte, w io.Writer) error {
		if string(req) != "orders-0/00000000000000000000.log" {
			return errors.New("no such segment")
		}
		// Odd write sizes cross chunk boundaries.
		for rest := body; len(rest) > 0; {
			k := min(len(rest), 100_000)
			if _, err := w.Write(rest[:k]); err != nil {
				return err
			}
			rest = rest[k:]
		}
		return nil
	})
	rc, err := a.Call(t.Context(), b.Addr(), "segment", []byte("orders-0/00000000000000000000.log"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	if err := rc.Close(); err != nil {
		t.Fatal(err)
	}
	if sha256.Sum256(got) != sha256.Sum256(body) {
		t.Fatalf("body of %d bytes differs from the %d sent", len(got), len(body))
	}

	// The handler's error reaches the caller, and the way back works too
	// (b calls a over the session a dialed).
	_, err = a.Call(t.Context(), b.Addr(), "segment", []byte("missing"))
	var re *RemoteError
	if !errors.As(err, &re) || re.Msg != "no such segment" || re.Name != "segment" {
		t.Fatalf("handler error: %v", err)
	}
	a.Handle("empty", func(context.Context, []byte, io.Writer) error { return nil })
	rc, err = b.Call(t.Context(), a.Addr(), "empty", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(rc); err != nil || len(got) != 0 {
		t.Fatalf("empty body: %q, %v", got, err)
	}
	rc.Close()
}

func TestRPCErrors(t *testing.T) {
	checkNoLeaks(t)
	a, b := testNode(t, "a"), testNode(t, "b")
	ctx := t.Context()

	if _, err := a.Call(ctx, b.Addr(), "nope", nil); !errors.Is(err, ErrUnknownRPC) {
		t.Fatalf("unknown rpc: %v", err)
	}

	// An error after part of the body: the reader gets the data, then the error.
	b.Handle("half", func(ctx context.Context, req []byte, w io.Writer) error {
		if _, err := w.Write(make([]byte, 3*rpcChunkBytes)); err != nil {
			return err
		}
		return errors.New("disk read failed")
	})
	rc, err := a.Call(ctx, b.Addr(), "half", nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	var re *RemoteError
	if !errors.As(err, &re) || re.Msg != "disk read failed" || len(got) != 3*rpcChunkBytes {
		t.Fatalf("mid-body error: %d bytes, %v", len(got), err)
	}
	rc.Close()

	// Oversized request: refused locally, and by the remote when it comes
	// in anyway (written by hand below).
	big := make([]byte, DefaultMaxFrameBytes+1)
	if _, err := a.Call(ctx, b.Addr(), "half", big); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("local oversized request: %v", err)
	}
	st, err := a.openStream(ctx, b.Addr(), streamHeader{Kind: kindRPC, Name: "half"})
	if err != nil {
		t.Fatal(err)
	}
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], 1<<31) // a 2 GiB claim and no body
	if _, err := st.Write(hdr[:]); err != nil {
		t.Fatal(err)
	}
	typ, size, err := readResponseHeader(st, DefaultMaxFrameBytes)
	if err != nil || typ != frameError {
		t.Fatalf("oversized request answer: type %d, %v", typ, err)
	}
	if err := readErrorFrame(st, size, "half", b.Addr()); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("oversized request error: %v", err)
	}
	st.Close()

	// A closed node.
	c := testNode(t, "c")
	addr := c.Addr()
	c.Close()
	if _, err := a.Call(ctx, addr, "half", nil); err == nil {
		t.Fatal("call to a closed node")
	}
	if _, err := c.Call(ctx, a.Addr(), "half", nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("call from a closed node: %v", err)
	}
}

func TestRPCCancel(t *testing.T) {
	checkNoLeaks(t)
	a, b := testNode(t, "a"), testNode(t, "b")
	stopped := make(chan error, 1)
	// An endless body: only the caller going away stops it.
	b.Handle("tail", func(ctx context.Context, req []byte, w io.Writer) error {
		buf := make([]byte, 32<<10)
		for {
			if _, err := w.Write(buf); err != nil {
				stopped <- ctx.Err()
				return err
			}
		}
	})

	rc, err := a.Call(t.Context(), b.Addr(), "tail", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(rc, make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	rc.Close() // before the end: the handler's ctx is cancelled
	select {
	case err := <-stopped:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("handler ctx after close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("handler still running after the caller closed the body")
	}

	// Cancelling the call's ctx fails a pending read.
	ctx, cancel := context.WithCancel(t.Context())
	b.Handle("stall", func(ctx context.Context, req []byte, w io.Writer) error {
		if _, err := w.Write([]byte("x")); err != nil {
			return err
		}
		if err := w.(interface{ Flush() error }).Flush(); err != nil {
			return err
		}
		<-ctx.Done()
		return ctx.Err()
	})
	rc, err = a.Call(ctx, b.Addr(), "stall", nil)
	if err != nil {
		t.Fatal(err)
	}
	var one [1]byte
	if _, err := io.ReadFull(rc, one[:]); err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := rc.Read(one[:]); !errors.Is(err, context.Canceled) {
		t.Fatalf("read after cancel: %v", err)
	}
	rc.Close()
}

func TestRPCConcurrentOneSession(t *testing.T) {
	checkNoLeaks(t)
	a, b := testNode(t, "a"), testNode(t, "b")
	b.Handle("echo", func(ctx context.Context, req []byte, w io.Writer) error {
		_, err := w.Write(req)
		return err
	})
	a.Handle("echo", func(ctx context.Context, req []byte, w io.Writer) error {
		_, err := w.Write(req)
		return err
	})
	errs := make(chan error, 40)
	for i := range 40 {
		go func() {
			from, to := a, b
			if i%2 == 1 {
				from, to = b, a
			}
			req := bytes.Repeat([]byte{byte(i)}, 1000+i)
			rc, err := from.Call(t.Context(), to.Addr(), "echo", req)
			if err != nil {
				errs <- err
				return
			}
			defer rc.Close()
			got, err := io.ReadAll(rc)
			if err == nil && !bytes.Equal(got, req) {
				err = errors.New("echo mismatch")
			}
			errs <- err
		}()
	}
	for range 40 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	// One connection per peer pair (two if both dialed at once).
	for _, n := range []*Node{a, b} {
		n.mu.Lock()
		s := len(n.mu.sessions)
		n.mu.Unlock()
		if s < 1 || s > 2 {
			t.Fatalf("node %s has %d sessions", n.ID(), s)
		}
	}
}
