package kafka

// DeleteTopics, API key 20, versions 0-6.
//
// v1 adds throttling, v4 is flexible, v5 error messages, v6 topics named by
// name or by id. An unknown name is UNKNOWN_TOPIC_OR_PARTITION, an unknown
// id UNKNOWN_TOPIC_ID, an invalid name INVALID_TOPIC_EXCEPTION.

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/cairnlog/cairn/wire"
)

func (h *Handler) deleteTopics(ctx context.Context, req *wire.Request) wire.Reply {
	r := req.Body.(*kmsg.DeleteTopicsRequest)
	resp := kmsg.NewPtrDeleteTopicsResponse()
	resp.Version = r.Version
	actx, cancel := h.adminContext(ctx, r.TimeoutMillis)
	defer cancel()

	targets := r.Topics
	if r.Version < 6 {
		targets = make([]kmsg.DeleteTopicsRequestTopic, len(r.TopicNames))
		for i := range r.TopicNames {
			targets[i].Topic = &r.TopicNames[i]
		}
	}
	for _, t := range targets {
		st := kmsg.NewDeleteTopicsResponseTopic()
		st.TopicID = t.TopicID
		var err error
		name := ""
		if t.Topic != nil {
			name = *t.Topic
		} else {
			for _, ti := range h.b.Topics() {
				if ti.ID == t.TopicID {
					name = ti.Name
				}
			}
			if name == "" {
				err = kerr.UnknownTopicID
			}
		}
		if err == nil {
			st.Topic = &name
			err = h.deleteTopic(actx, name, &st)
		}
		st.ErrorCode = errorCode(err)
		if r.Version >= 5 {
			st.ErrorMessage = errorMessage(err)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return wire.Respond(resp)
}

func (h *Handler) deleteTopic(ctx context.Context, name string, st *kmsg.DeleteTopicsResponseTopic) error {
	if err := validTopicName(name); err != nil {
		return err
	}
	ti, ok := h.b.Topic(name)
	if !ok {
		return fmt.Errorf("%w: %s", ErrUnknownTopic, name)
	}
	st.TopicID = ti.ID
	return h.b.DeleteTopic(ctx, name)
}
