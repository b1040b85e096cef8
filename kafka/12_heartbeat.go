package kafka

// Heartbeat, API key 12, versions 0-4.
//
// v3 adds the group instance id (static members), v4 is flexible. During a
// rebalance the answer is REBALANCE_IN_PROGRESS: the member rejoins.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/cairnlog/cairn/consumer"
	"github.com/cairnlog/cairn/wire"
)

func (h *Handler) heartbeat(ctx context.Context, req *wire.Request) wire.Reply {
	r := req.Body.(*kmsg.HeartbeatRequest)
	resp := kmsg.NewPtrHeartbeatResponse()
	resp.Version = r.Version
	err := validGroupID(r.Group)
	var c *consumer.Coordinator
	if err == nil {
		c, err = h.coordinator()
	}
	if err == nil {
		err = c.Heartbeat(consumer.HeartbeatRequest{
			Group:      r.Group,
			MemberID:   r.MemberID,
			InstanceID: deref(r.InstanceID),
			Generation: r.Generation,
		})
	}
	resp.ErrorCode = groupErrorCode(err)
	return wire.Respond(resp)
}
