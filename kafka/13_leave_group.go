package kafka

// LeaveGroup, API key 13, versions 0-5.
//
// v0-2 name one member by id; v3 takes a batch of members, each by member
// id and/or group instance id (KIP-345), answered member by member; v4 is
// flexible; v5 adds a reason per member (logged nowhere).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/cairnlog/cairn/consumer"
	"github.com/cairnlog/cairn/wire"
)

func (h *Handler) leaveGroup(ctx context.Context, req *wire.Request) wire.Reply {
	r := req.Body.(*kmsg.LeaveGroupRequest)
	resp := kmsg.NewPtrLeaveGroupResponse()
	resp.Version = r.Version
	members := []consumer.LeavingMember{{MemberID: r.MemberID}}
	if r.Version >= 3 {
		members = members[:0]
		for _, m := range r.Members {
			members = append(members, consumer.LeavingMember{MemberID: m.MemberID, InstanceID: deref(m.InstanceID)})
		}
	}
	err := validGroupID(r.Group)
	var c *consumer.Coordinator
	if err == nil {
		c, err = h.coordinator()
	}
	var errs []error
	if err == nil {
		errs, err = c.Leave(r.Group, members)
	}
	if err != nil {
		resp.ErrorCode = groupErrorCode(err)
		return wire.Respond(resp)
	}
	if r.Version < 3 {
		resp.ErrorCode = groupErrorCode(errs[0])
		return wire.Respond(resp)
	}
	for i, m := range r.Members {
		rm := kmsg.NewLeaveGroupResponseMember()
		rm.MemberID, rm.InstanceID = m.MemberID, m.InstanceID
		rm.ErrorCode = groupErrorCode(errs[i])
		resp.Members = append(resp.Members, rm)
	}
	return wire.Respond(resp)
}
