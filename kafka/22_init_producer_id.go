package kafka

// InitProducerID, API key 22, versions 0-4.
//
// v2 is flexible, v3 adds the producer id and epoch of a producer asking to
// bump its epoch (KIP-360), v4 only changes error handling. Only idempotent
// producers are served: every request gets a new producer id at epoch 0
// from Backend.AllocateProducerID, as Kafka does for a producer with no
// transactional id. A transactional id is refused (cairn has no
// transactions) with TRANSACTIONAL_ID_AUTHORIZATION_FAILED, which clients
// treat as fatal; an empty one with INVALID_REQUEST, as in Kafka.

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/cairnlog/cairn/wire"
)

// allocateTimeout bounds the wait for a producer id.
const allocateTimeout = 10 * time.Second

func (h *Handler) initProducerID(ctx context.Context, req *wire.Request) wire.Reply {
	r := req.Body.(*kmsg.InitProducerIDRequest)
	resp := kmsg.NewPtrInitProducerIDResponse()
	resp.Version = r.Version
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	switch {
	case r.TransactionalID != nil && *r.TransactionalID == "":
		resp.ErrorCode = kerr.InvalidRequest.Code
		return wire.Respond(resp)
	case r.TransactionalID != nil:
		resp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
		return wire.Respond(resp)
	}
	actx, cancel := h.requestContext(ctx, allocateTimeout)
	defer cancel()
	id, epoch, err := h.b.AllocateProducerID(actx)
	if err != nil {
		h.logger.Warn("allocate producer id failed", "err", err)
		// Retriable for the client: the metadata group may be electing.
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return wire.Respond(resp)
	}
	resp.ProducerID, resp.ProducerEpoch = id, epoch
	return wire.Respond(resp)
}
