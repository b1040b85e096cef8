package log

import (
	"fmt"
	"io"
	"slices"
	"sync"
)

// Chunk is a range of whole batches of one segment file, returned by
// Log.Read. It holds a reference to the file, so retention, truncation or a
// reset of the log never change or close what a Chunk reads; Close releases
// it. A Chunk is used by one goroutine at a time.
//
// Before serving bytes a Chunk checks them in full (length, magic, CRC-32C,
// offsets) unless they were already checked since the log was opened, so a
// corrupt sealed segment is reported as ErrCorrupt and never served. Each
// byte is checked once per open of the log, not once per read.
type Chunk struct {
	lf       *logFile // nil for an empty chunk or once closed
	pos, n   int64
	first    int64
	next     int64
	read     int64 // bytes consumed by Read and WriteTo
	verified bool  // the whole chunk was checked
	closed   bool
}

var (
	_ io.Reader   = (*Chunk)(nil)
	_ io.WriterTo = (*Chunk)(nil)
)

// Len is the number of bytes in the chunk.
func (c *Chunk) Len() int64 { return c.n }

// FirstOffset is the base offset of the chunk's first batch, which may be
// below the offset asked for (it is the batch holding it).
func (c *Chunk) FirstOffset() int64 { return c.first }

// NextOffset is the offset after the chunk's last batch: where the next
// Read continues. For an empty chunk it equals FirstOffset.
func (c *Chunk) NextOffset() int64 { return c.next }

// Position is the byte position of the chunk in its segment file.
func (c *Chunk) Position() int64 { return c.pos }

// WriteTo writes the unread rest of the chunk to w (all of it unless Read
// consumed some) and consumes it. When w is a socket or file backed by a
// descriptor (*net.TCPConn, *net.UnixConn, *os.File) and the chunk comes
// from the OS filesystem, it uses sendfile(2) with an explicit file offset,
// so no bytes pass through user space and concurrent readers of one segment
// do not share a file position. Otherwise it copies through a pooled
// buffer. It returns the number of bytes written.
func (c *Chunk) WriteTo(w io.Writer) (int64, error) {
	if c.closed {
		return 0, ErrClosed
	}
	if err := c.verify(); err != nil {
		return 0, err
	}
	rest := c.n - c.read
	if rest == 0 {
		return 0, nil
	}
	written, handled, err := sendfile(w, c.lf.f, c.pos+c.read, rest)
	if !handled {
		bp := copyBufPool.Get().(*[]byte)
		defer copyBufPool.Put(bp)
		written, err = io.CopyBuffer(onlyWriter{w}, io.NewSectionReader(c.lf.f, c.pos+c.read, rest), *bp)
	}
	c.read += written
	if err == nil && written != rest {
		err = io.ErrShortWrite
	}
	return written, err
}

// Read reads the chunk sequentially (io.Reader); io.Copy to a socket uses
// WriteTo instead.
func (c *Chunk) Read(p []byte) (int, error) {
	if c.closed {
		return 0, ErrClosed
	}
	if err := c.verify(); err != nil {
		return 0, err
	}
	if c.read >= c.n {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), c.n-c.read)]
	n, err := c.lf.f.ReadAt(p, c.pos+c.read)
	c.read += int64(n)
	if err == io.EOF && n == len(p) {
		err = nil
	}
	return n, err
}

// Verify checks the whole chunk in full (length, magic, CRC-32C, offsets)
// unless its bytes were already checked since the log was opened, and
// returns an error wrapping ErrCorrupt if they are damaged. Read, WriteTo
// and AppendTo check too; Verify lets a caller find out before it commits
// to serving the chunk, and a scrub check a range without copying it.
func (c *Chunk) Verify() error {
	if c.closed {
		return ErrClosed
	}
	return c.verify()
}

// verify checks the whole chunk once before any of it is served.
func (c *Chunk) verify() error {
	if c.verified || c.n == 0 {
		return nil
	}
	if err := c.lf.ensureVerified(c.pos, c.pos+c.n, c.first); err != nil {
		return fmt.Errorf("read %s at %d: %w", c.lf.path, c.pos, err)
	}
	c.verified = true
	return nil
}

// onlyWriter hides a ReaderFrom so that io.CopyBuffer uses our buffer.
type onlyWriter struct{ io.Writer }

var copyBufPool = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

// AppendTo appends the whole chunk's bytes to dst (regardless of Read) and returns the extended slice,
// reading with pread into dst's spare capacity: pass a reused buffer with
// room for Len bytes to avoid allocating. On error dst is returned with its
// original length.
func (c *Chunk) AppendTo(dst []byte) ([]byte, error) {
	if c.closed {
		return dst, ErrClosed
	}
	if c.n == 0 {
		return dst, nil
	}
	start := len(dst)
	out := slices.Grow(dst, int(c.n))[:start+int(c.n)]
	if _, err := c.lf.f.ReadAt(out[start:], c.pos); err != nil {
		return dst, fmt.Errorf("read %s at %d: %w", c.lf.path, c.pos, err)
	}
	if c.verified {
		return out, nil // Verify checked these bytes
	}
	if err := c.lf.verifyBytes(out[start:], c.pos, c.first); err != nil {
		return dst, fmt.Errorf("read %s at %d: %w", c.lf.path, c.pos, err)
	}
	c.verified = true
	return out, nil
}

// Close releases the chunk's file reference. It is safe to call twice.
func (c *Chunk) Close() error {
	if c.closed {
		return nil
	}
	c.closed = true
	if c.lf == nil {
		return nil
	}
	lf := c.lf
	c.lf = nil
	return lf.release()
}

// verifyBytes checks b, the file's bytes at pos, unless already verified,
// extending the verified prefix when b continues it.
func (lf *logFile) verifyBytes(b []byte, pos, expect int64) error {
	end := pos + int64(len(b))
	v := lf.verified.Load()
	if end <= v {
		return nil
	}
	s, err := ValidateBatches(b, 0)
	switch {
	case err != nil:
		return err
	case s.FirstOffset != expect || !s.Contiguous:
		return corruptf("offsets %d.. do not follow %d contiguously", s.FirstOffset, expect)
	}
	if pos <= v {
		for v < end && !lf.verified.CompareAndSwap(v, end) {
			v = lf.verified.Load()
			if v < pos {
				break
			}
		}
	}
	return nil
}
