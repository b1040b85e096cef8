package kafka

// DescribeCluster, API key 60, versions 0-1.
//
// v0 is flexible; v1 adds the endpoint type: only brokers (1) are
// described, a request for controllers (2) gets UNSUPPORTED_ENDPOINT_TYPE, as
// a Kafka broker answers. v2 (fenced brokers) is not served. Authorized
// operations are never computed. The brokers are named by their address on
// the listener the request arrived on; those without it are left out
// (Metadata's rule, 03_metadata.go).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/cairnlog/cairn/wire"
)

func (h *Handler) describeCluster(ctx context.Context, req *wire.Request) wire.Reply {
	r := req.Body.(*kmsg.DescribeClusterRequest)
	resp := kmsg.NewPtrDescribeClusterResponse()
	resp.Version = r.Version
	resp.EndpointType = 1
	resp.ClusterAuthorizedOperations = unauthorizedOps
	if r.Version >= 1 && r.EndpointType != 1 {
		resp.ErrorCode = kerr.UnsupportedEndpointType.Code
		return wire.Respond(resp)
	}
	resp.ClusterID = h.b.ClusterID()
	resp.ControllerID = h.b.ControllerID()
	brokers, _ := h.brokersOn(req.Listener)
	for _, b := range brokers {
		db := kmsg.NewDescribeClusterResponseBroker()
		db.NodeID, db.Host, db.Port = b.ID, b.Host, b.Port
		if b.Rack != "" {
			rack := b.Rack
			db.Rack = &rack
		}
		resp.Brokers = append(resp.Brokers, db)
	}
	return wire.Respond(resp)
}
