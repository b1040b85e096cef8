package wire

import "time"

// Observer receives metrics callbacks. Its methods are called concurrently
// from every connection's goroutines, so they must be safe for concurrent
// use and must not block: they run on the request path.
type Observer interface {
	// ObserveRequest is called once per request after its response was
	// written to the socket, or once it was dispatched when it has no
	// response (Produce with acks=0). bytesIn and bytesOut are frame sizes
	// including the 4-byte length prefix; bytesOut is 0 without a
	// response. latency runs from the frame's last byte being read to its
	// response being written. Requests that close the connection (unknown
	// key or version, undecodable body) are not observed here.
	ObserveRequest(key, version int16, bytesIn, bytesOut int, latency time.Duration)
	// ObserveConn is called on every connection event.
	ObserveConn(ev ConnEvent)
}

// ConnEvent is a connection lifecycle event reported to an Observer.
type ConnEvent int8

const (
	// ConnOpened: a connection was accepted and admitted.
	ConnOpened ConnEvent = iota
	// ConnClosed: an admitted connection was closed, for any reason.
	ConnClosed
	// ConnRejectedMax: a connection was closed at once because MaxConns
	// connections were open.
	ConnRejectedMax
	// ConnRejectedPerIP: a connection was closed at once because
	// MaxConnsPerIP connections from its IP were open.
	ConnRejectedPerIP
)

func (e ConnEvent) String() string {
	switch e {
	case ConnOpened:
		return "opened"
	case ConnClosed:
		return "closed"
	case ConnRejectedMax:
		return "rejected_max"
	case ConnRejectedPerIP:
		return "rejected_per_ip"
	}
	return "unknown"
}

// NopObserver ignores every callback. Embed it to implement only some.
type NopObserver struct{}

// ObserveRequest implements Observer.
func (NopObserver) ObserveRequest(key, version int16, bytesIn, bytesOut int, latency time.Duration) {}

// ObserveConn implements Observer.
func (NopObserver) ObserveConn(ConnEvent) {}
