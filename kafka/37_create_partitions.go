package kafka

// CreatePartitions, API key 37, versions 0-3.
//
// v1 changes only throttling, v2 is flexible, v3 is v2. A topic named twice
// is INVALID_REQUEST, a manual assignment INVALID_REPLICA_ASSIGNMENT
// (placement is the controller's), a count not above the current one
// INVALID_PARTITIONS. Validate-only stops after the checks.

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/cairnlog/cairn/wire"
)

func (h *Handler) createPartitions(ctx context.Context, req *wire.Request) wire.Reply {
	r := req.Body.(*kmsg.CreatePartitionsRequest)
	resp := kmsg.NewPtrCreatePartitionsResponse()
	resp.Version = r.Version
	actx, cancel := h.adminContext(ctx, r.TimeoutMillis)
	defer cancel()

	count := map[string]int{}
	for _, rt := range r.Topics {
		count[rt.Topic]++
	}
	for _, rt := range r.Topics {
		st := kmsg.NewCreatePartitionsResponseTopic()
		st.Topic = rt.Topic
		var err error
		if count[rt.Topic] > 1 {
			err = fmt.Errorf("%w: topic %q named %d times", errInvalidRequest, rt.Topic, count[rt.Topic])
		} else {
			err = h.createPartitionsFor(actx, rt, r.ValidateOnly)
		}
		st.ErrorCode, st.ErrorMessage = errorCode(err), errorMessage(err)
		resp.Topics = append(resp.Topics, st)
	}
	return wire.Respond(resp)
}

func (h *Handler) createPartitionsFor(ctx context.Context, rt kmsg.CreatePartitionsRequestTopic, validateOnly bool) error {
	if err := validTopicName(rt.Topic); err != nil {
		return err
	}
	ti, ok := h.b.Topic(rt.Topic)
	switch {
	case !ok:
		return fmt.Errorf("%w: %s", ErrUnknownTopic, rt.Topic)
	case rt.Assignment != nil:
		return fmt.Errorf("%w: manual replica assignment is not supported", kerr.InvalidReplicaAssignment)
	case int(rt.Count) <= len(ti.Partitions):
		return fmt.Errorf("%w: topic %s has %d partitions, asked for %d", ErrInvalidPartitions, rt.Topic, len(ti.Partitions), rt.Count)
	case validateOnly:
		return nil
	}
	return h.b.CreatePartitions(ctx, rt.Topic, rt.Count)
}
