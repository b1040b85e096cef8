package kafka

// JoinGroup, API key 11, versions 0-9.
//
// v1 adds the rebalance timeout (v0 uses the session timeout for both), v4
// makes a new dynamic member join twice (the first join gets its member id
// with MEMBER_ID_REQUIRED, KIP-394), v5 adds static membership (the group
// instance id, KIP-345), v6 is flexible, v7 returns the protocol type, v8
// adds a reason (logged nowhere), v9 the SkipAssignment flag (always false:
// assignors run in the clients). The answer waits for the rebalance
// (wire.Later), so Serve never blocks on it.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/cairnlog/cairn/consumer"
	"github.com/cairnlog/cairn/wire"
)

func (h *Handler) joinGroup(ctx context.Context, req *wire.Request) wire.Reply {
	r := req.Body.(*kmsg.JoinGroupRequest)
	ch := make(chan kmsg.Response, 1) // never blocks the answering goroutine
	answer := func(res consumer.JoinResult) { ch <- joinResponse(r, res) }
	fail := func(err error) wire.Reply {
		answer(consumer.JoinResult{Err: err, MemberID: r.MemberID, Generation: -1})
		return wire.Later(ch)
	}
	if err := validGroupID(r.Group); err != nil {
		return fail(err)
	}
	c, err := h.coordinator()
	if err != nil {
		return fail(err)
	}
	jr := consumer.JoinRequest{
		Group:            r.Group,
		MemberID:         r.MemberID,
		InstanceID:       deref(r.InstanceID),
		ClientID:         req.ClientID,
		ClientHost:       clientHost(req.RemoteAddr),
		SessionTimeout:   millis(r.SessionTimeoutMillis),
		RebalanceTimeout: millis(r.RebalanceTimeoutMillis),
		ProtocolType:     r.ProtocolType,
		RequireMemberID:  r.Version >= 4,
	}
	if r.Version < 1 {
		jr.RebalanceTimeout = jr.SessionTimeout
	}
	for _, p := range r.Protocols {
		jr.Protocols = append(jr.Protocols, consumer.Protocol{Name: p.Name, Metadata: p.Metadata})
	}
	c.Join(jr, answer)
	return wire.Later(ch)
}

func joinResponse(r *kmsg.JoinGroupRequest, res consumer.JoinResult) *kmsg.JoinGroupResponse {
	resp := kmsg.NewPtrJoinGroupResponse()
	resp.Version = r.Version
	resp.ErrorCode = groupErrorCode(res.Err)
	resp.MemberID = res.MemberID
	resp.Generation = res.Generation
	if res.Err != nil {
		resp.Generation = -1
		return resp
	}
	resp.ProtocolType = &res.ProtocolType
	resp.Protocol = &res.Protocol
	resp.LeaderID = res.Leader
	for _, m := range res.Members {
		rm := kmsg.NewJoinGroupResponseMember()
		rm.MemberID, rm.InstanceID, rm.ProtocolMetadata = m.MemberID, nullable(m.InstanceID), m.Metadata
		resp.Members = append(resp.Members, rm)
	}
	return resp
}
