package log

import "fmt"

// ReadBelow is Read limited to the batches that end below offset limit: a
// partition serves only what is committed, and its log can hold a little more
// while it replays its Raft log after a restart. limit must be a batch boundary
// (a high watermark always is). offset >= limit gives an empty chunk. The first
// batch is returned whole even above maxBytes, as with Read.
func (l *Log) ReadBelow(offset, limit int64, maxBytes int) (*Chunk, error) {
	if offset >= limit {
		if offset > l.EndOffset() || offset < l.StartOffset() {
			return nil, fmt.Errorf("read at %d, log holds [%d, %d): %w", offset, l.StartOffset(), l.EndOffset(), ErrOffsetOutOfRange)
		}
		return &Chunk{first: offset, next: offset}, nil
	}
	c, err := l.Read(offset, maxBytes)
	if err != nil || c.next <= limit {
		return c, err
	}
	end, next := c.pos, c.first
	_, err = walkHeaders(c.lf.f, c.pos, c.pos+c.n, c.first, func(h *BatchHeader, pos int64) bool {
		if h.LastOffset() >= limit {
			return false
		}
		end, next = pos+int64(h.Size()), h.LastOffset()+1
		return true
	})
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("read at %d below %d: %w", offset, limit, err)
	}
	c.n, c.next = end-c.pos, next
	if c.n == 0 {
		c.Close()
		return &Chunk{first: offset, next: offset}, nil
	}
	return c, nil
}
