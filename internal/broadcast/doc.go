// Package broadcast is a condition-variable for select: a Signal wakes every
// goroutine waiting on it, and each waiter re-checks its own condition.
//
// It is not a queue and carries no value: a Notify that nobody waits for is
// lost, so a waiter must take C before checking its condition, then wait on
// the channel it took:
//
//	for {
//		ch := sig.C()
//		if done() {
//			return
//		}
//		select {
//		case <-ch:
//		case <-ctx.Done():
//			return
//		}
//	}
package broadcast
