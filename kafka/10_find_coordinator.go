package kafka

// FindCoordinator, API key 10, versions 0-4.
//
// v1 adds the coordinator type (0 group, 1 transaction) and an error
// message, v3 is flexible, v4 batches keys (KIP-699). The coordinator of
// every group is the controller (the metadata group's leader, DESIGN.md);
// while it is unknown the answer is COORDINATOR_NOT_AVAILABLE, which
// clients retry. Transaction coordinators do not exist (cairn has no
// transactions): TRANSACTIONAL_ID_AUTHORIZATION_FAILED, as InitProducerID
// answers a transactional id. Any group id is accepted: the offset APIs
// serve the empty one, as Kafka does. The coordinator is named by its
// address on the listener the request arrived on; a coordinator without that
// listener is COORDINATOR_NOT_AVAILABLE, as in Kafka.
//
// This file also holds what the group APIs share: finding the local
// coordinator and checking group ids.

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/cairnlog/cairn/consumer"
	"github.com/cairnlog/cairn/wire"
)

func (h *Handler) findCoordinator(ctx context.Context, req *wire.Request) wire.Reply {
	r := req.Body.(*kmsg.FindCoordinatorRequest)
	resp := kmsg.NewPtrFindCoordinatorResponse()
	resp.Version = r.Version
	keys := r.CoordinatorKeys
	if r.Version < 4 {
		keys = []string{r.CoordinatorKey}
	}
	node, host, port, err := h.findCoordinatorOf(r.CoordinatorType, req.Listener)
	for _, key := range keys {
		c := kmsg.NewFindCoordinatorResponseCoordinator()
		c.Key, c.NodeID, c.Host, c.Port = key, node, host, port
		c.ErrorCode, c.ErrorMessage = errorCode(err), errorMessage(err)
		resp.Coordinators = append(resp.Coordinators, c)
	}
	if r.Version < 4 {
		c := resp.Coordinators[0]
		resp.Coordinators = nil
		resp.NodeID, resp.Host, resp.Port = c.NodeID, c.Host, c.Port
		resp.ErrorCode, resp.ErrorMessage = c.ErrorCode, c.ErrorMessage
	}
	return wire.Respond(resp)
}

// findCoordinatorOf returns the coordinator broker for keys of type typ, at
// its address on listener.
func (h *Handler) findCoordinatorOf(typ int8, listener string) (node int32, host string, port int32, err error) {
	switch typ {
	case 0:
	case 1:
		return -1, "", -1, kerr.TransactionalIDAuthorizationFailed
	default:
		return -1, "", -1, fmt.Errorf("%w: coordinator type %d", errInvalidRequest, typ)
	}
	id := h.b.ControllerID()
	brokers, _ := h.brokersOn(listener)
	for _, b := range brokers {
		if b.ID == id {
			return b.ID, b.Host, b.Port, nil
		}
	}
	return -1, "", -1, kerr.CoordinatorNotAvailable
}

// coordinator returns this broker's group coordinator, or an error
// wrapping consumer.ErrNotCoordinator (NOT_COORDINATOR) when it is not the
// coordinator: the client finds the coordinator again.
func (h *Handler) coordinator() (*consumer.Coordinator, error) {
	if c := h.b.Groups(); c != nil {
		return c, nil
	}
	return nil, fmt.Errorf("%w: broker %d", consumer.ErrNotCoordinator, h.b.ID())
}

// validGroupID applies Kafka's rule for the membership APIs: a group id
// must not be empty (the offset and admin APIs accept it).
func validGroupID(id string) error {
	if id == "" {
		return kerr.InvalidGroupID
	}
	return nil
}

// millis converts a request's milliseconds.
func millis(ms int32) time.Duration { return time.Duration(ms) * time.Millisecond }

// clientHost is a member's host as Kafka reports it: "/" and the address.
func clientHost(addr net.Addr) string {
	if a, ok := addr.(*net.TCPAddr); ok {
		return "/" + a.IP.String()
	}
	if addr == nil {
		return ""
	}
	return "/" + addr.String()
}

// nullable returns a pointer to s, nil for "".
func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// deref returns *s, "" for nil.
func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
