package kafka

// ListGroups, API key 16, versions 0-5.
//
// v3 is flexible, v4 filters by state (case-insensitive, KIP-518), v5 by
// group type (KIP-848): every cairn group is "classic". Groups known only
// by their committed offsets are listed as Empty with no protocol type.

import (
	"context"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/cairnlog/cairn/wire"
)

// groupType is the type of every group (KIP-848's name for the protocol
// of JoinGroup and SyncGroup).
const groupType = "classic"

func (h *Handler) listGroups(ctx context.Context, req *wire.Request) wire.Reply {
	r := req.Body.(*kmsg.ListGroupsRequest)
	resp := kmsg.NewPtrListGroupsResponse()
	resp.Version = r.Version
	c, err := h.coordinator()
	if err != nil {
		resp.ErrorCode = groupErrorCode(err)
		return wire.Respond(resp)
	}
	groups, err := c.List()
	if err != nil {
		resp.ErrorCode = groupErrorCode(err)
		return wire.Respond(resp)
	}
	wanted := func(filter []string, v string) bool {
		if len(filter) == 0 {
			return true
		}
		for _, f := range filter {
			if strings.EqualFold(f, v) {
				return true
			}
		}
		return false
	}
	for _, g := range groups {
		if !wanted(r.StatesFilter, g.State.String()) || !wanted(r.TypesFilter, groupType) {
			continue
		}
		rg := kmsg.NewListGroupsResponseGroup()
		rg.Group, rg.ProtocolType, rg.GroupState, rg.GroupType = g.Group, g.ProtocolType, g.State.String(), groupType
		resp.Groups = append(resp.Groups, rg)
	}
	return wire.Respond(resp)
}
