package broadcast

import "sync"

// Signal wakes every waiter on each Notify. The zero value is not usable; use
// New.
type Signal struct {
	mu sync.Mutex
	ch chan struct{}
}

// New returns a Signal with nobody waiting.
func New() *Signal { return &Signal{ch: make(chan struct{})} }

// Notify wakes everyone who took C before this call.
func (s *Signal) Notify() {
	s.mu.Lock()
	close(s.ch)
	s.ch = make(chan struct{})
	s.mu.Unlock()
}

// C returns a channel that is closed by the next Notify.
func (s *Signal) C() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ch
}
