package kafka

// DeleteGroups, API key 42, versions 0-2.
//
// v2 is flexible. A group with members gets NON_EMPTY_GROUP; one with
// neither members nor committed offsets GROUP_ID_NOT_FOUND; deleting a
// group deletes its committed offsets, waiting for the store (admin
// requests block Serve, as the other admin APIs do).

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/cairnlog/cairn/wire"
)

// groupAdminTimeout bounds one group's deletion.
const groupAdminTimeout = 30 * time.Second

func (h *Handler) deleteGroups(ctx context.Context, req *wire.Request) wire.Reply {
	r := req.Body.(*kmsg.DeleteGroupsRequest)
	resp := kmsg.NewPtrDeleteGroupsResponse()
	resp.Version = r.Version
	c, cerr := h.coordinator()
	for _, id := range r.Groups {
		rg := kmsg.NewDeleteGroupsResponseGroup()
		rg.Group = id
		err := cerr
		if err == nil {
			dctx, cancel := h.requestContext(ctx, groupAdminTimeout)
			err = c.Delete(dctx, id)
			cancel()
		}
		rg.ErrorCode = groupErrorCode(err)
		resp.Groups = append(resp.Groups, rg)
	}
	return wire.Respond(resp)
}
