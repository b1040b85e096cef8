package kafka

// SyncGroup, API key 14, versions 0-5.
//
// v3 adds the group instance id (static members), v4 is flexible, v5 adds
// the protocol type and name, which must be the group's
// (INCONSISTENT_GROUP_PROTOCOL) and are returned. The leader sends every
// member's assignment; the followers' answers wait for it (wire.Later).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/cairnlog/cairn/consumer"
	"github.com/cairnlog/cairn/wire"
)

func (h *Handler) syncGroup(ctx context.Context, req *wire.Request) wire.Reply {
	r := req.Body.(*kmsg.SyncGroupRequest)
	ch := make(chan kmsg.Response, 1)
	answer := func(res consumer.SyncResult) {
		resp := kmsg.NewPtrSyncGroupResponse()
		resp.Version = r.Version
		resp.ErrorCode = groupErrorCode(res.Err)
		if res.Err == nil {
			resp.ProtocolType, resp.Protocol = &res.ProtocolType, &res.Protocol
			resp.MemberAssignment = res.Assignment
		}
		if resp.MemberAssignment == nil {
			resp.MemberAssignment = []byte{}
		}
		ch <- resp
	}
	if err := validGroupID(r.Group); err != nil {
		answer(consumer.SyncResult{Err: err})
		return wire.Later(ch)
	}
	c, err := h.coordinator()
	if err != nil {
		answer(consumer.SyncResult{Err: err})
		return wire.Later(ch)
	}
	sr := consumer.SyncRequest{
		Group:        r.Group,
		MemberID:     r.MemberID,
		InstanceID:   deref(r.InstanceID),
		Generation:   r.Generation,
		ProtocolType: deref(r.ProtocolType),
		Protocol:     deref(r.Protocol),
	}
	if len(r.GroupAssignment) > 0 {
		sr.Assignments = make(map[string][]byte, len(r.GroupAssignment))
		for _, a := range r.GroupAssignment {
			sr.Assignments[a.MemberID] = a.MemberAssignment
		}
	}
	c.Sync(sr, answer)
	return wire.Later(ch)
}
