package partition

import (
	"context"
	"sync"
)

// watermark is the high watermark of a partition and the broadcast that wakes
// fetches waiting for it to move. The FSM goroutine advances it; any goroutine reads
// it or waits on it.
type watermark struct {
	mu struct {
		sync.Mutex
		offset int64
		moved  chan struct{} // closed and replaced on every advance
	}
}

func newWatermark() *watermark {
	w := &watermark{}
	w.mu.moved = make(chan struct{})
	return w
}

// get returns the high watermark: every offset below it is committed and readable.
func (w *watermark) get() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.mu.offset
}

// set moves the watermark to offset (backwards only when a snapshot resets the log)
// and wakes every waiter.
func (w *watermark) set(offset int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if offset == w.mu.offset {
		return
	}
	w.mu.offset = offset
	close(w.mu.moved)
	w.mu.moved = make(chan struct{})
}

// wait blocks until the watermark is above offset or ctx ends, and returns the
// watermark it saw last (with ctx's error when it ended first).
func (w *watermark) wait(ctx context.Context, offset int64) (int64, error) {
	for {
		w.mu.Lock()
		hw, moved := w.mu.offset, w.mu.moved
		w.mu.Unlock()
		if hw > offset {
			return hw, nil
		}
		select {
		case <-moved:
		case <-ctx.Done():
			return hw, ctx.Err()
		}
	}
}
