package kafka

// UnregisterBroker, API key 64, version 0 (KIP-500).
//
// Marks a broker as decommissioned: it leaves the metadata group's voters,
// gets no new partitions, and is not registered again by gossip. Its
// partition replicas stay until reassigned away, so an admin moves them first
// (`cairn cluster remove-node` does both, in that order). An id that was never
// registered gets BROKER_ID_NOT_REGISTERED.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/cairnlog/cairn/wire"
)

func (h *Handler) unregisterBroker(ctx context.Context, req *wire.Request) wire.Reply {
	r := req.Body.(*kmsg.UnregisterBrokerRequest)
	resp := kmsg.NewPtrUnregisterBrokerResponse()
	resp.Version = r.Version
	actx, cancel := h.adminContext(ctx, 30_000)
	defer cancel()
	err := h.b.Decommission(actx, r.BrokerID)
	resp.ErrorCode, resp.ErrorMessage = errorCode(err), errorMessage(err)
	return wire.Respond(resp)
}
