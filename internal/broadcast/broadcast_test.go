package broadcast

import (
	"sync"
	"testing"
	"time"
)

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// TestNotifyWakesEveryEarlierWaiter checks one Notify closes every channel
// taken before it and none taken after it.
func TestNotifyWakesEveryEarlierWaiter(t *testing.T) {
	s := New()
	before := []<-chan struct{}{s.C(), s.C(), s.C()}
	if closed(before[0]) {
		t.Fatal("channel closed before any Notify")
	}
	s.Notify()
	for i, ch := range before {
		if !closed(ch) {
			t.Fatalf("waiter %d not woken by Notify", i)
		}
	}
	after := s.C()
	if closed(after) {
		t.Fatal("a channel taken after Notify is already closed")
	}
	s.Notify()
	if !closed(after) {
		t.Fatal("second Notify did not wake the later waiter")
	}
}

// TestConcurrentWaiters runs waiters and notifiers together under -race: every
// waiter sees the counter it waits for.
func TestConcurrentWaiters(t *testing.T) {
	s := New()
	var mu sync.Mutex
	n := 0
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			deadline := time.After(10 * time.Second)
			for {
				ch := s.C()
				mu.Lock()
				done := n >= 100
				mu.Unlock()
				if done {
					return
				}
				select {
				case <-ch:
				case <-deadline:
					t.Error("waiter never saw n reach 100")
					return
				}
			}
		}()
	}
	for range 100 {
		mu.Lock()
		n++
		mu.Unlock()
		s.Notify()
	}
	wg.Wait()
}
