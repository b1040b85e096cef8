package kafka

// DescribeGroups, API key 15, versions 0-5.
//
// v3 adds authorized operations (never computed), v4 members' group
// instance ids, v5 is flexible. A group with no members is Empty if it has
// committed offsets and Dead otherwise, with no error (as Kafka before v6).
// The protocol, members' metadata and assignments are reported only when
// the group is Stable, as Kafka does.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/cairnlog/cairn/wire"
)

func (h *Handler) describeGroups(ctx context.Context, req *wire.Request) wire.Reply {
	r := req.Body.(*kmsg.DescribeGroupsRequest)
	resp := kmsg.NewPtrDescribeGroupsResponse()
	resp.Version = r.Version
	c, cerr := h.coordinator()
	for _, id := range r.Groups {
		rg := kmsg.NewDescribeGroupsResponseGroup()
		rg.Group = id
		rg.AuthorizedOperations = unauthorizedOps
		if cerr != nil {
			rg.ErrorCode = groupErrorCode(cerr)
			resp.Groups = append(resp.Groups, rg)
			continue
		}
		d, err := c.Describe(id)
		if err != nil {
			rg.ErrorCode = groupErrorCode(err)
			resp.Groups = append(resp.Groups, rg)
			continue
		}
		rg.State, rg.ProtocolType, rg.Protocol = d.State.String(), d.ProtocolType, d.Protocol
		for _, m := range d.Members {
			rm := kmsg.NewDescribeGroupsResponseGroupMember()
			rm.MemberID, rm.InstanceID, rm.ClientID, rm.ClientHost = m.MemberID, nullable(m.InstanceID), m.ClientID, m.ClientHost
			rm.ProtocolMetadata, rm.MemberAssignment = m.Metadata, m.Assignment
			if rm.ProtocolMetadata == nil {
				rm.ProtocolMetadata = []byte{}
			}
			if rm.MemberAssignment == nil {
				rm.MemberAssignment = []byte{}
			}
			rg.Members = append(rg.Members, rm)
		}
		resp.Groups = append(resp.Groups, rg)
	}
	return wire.Respond(resp)
}
