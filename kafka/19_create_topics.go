package kafka

// CreateTopics, API key 19, versions 0-7.
//
// v1 adds validate-only and error messages, v4 lets -1 partitions and -1
// replication factor stand for the broker defaults (accepted at every
// version), v5 is flexible and returns the new topic's partition count,
// replication factor and configs, v7 its topic id.
//
// Checks, each answered per topic as Kafka does: a name twice in one
// request (INVALID_REQUEST), an invalid name (INVALID_TOPIC_EXCEPTION), a
// partition count or replication factor of 0 or below -1
// (INVALID_PARTITIONS, INVALID_REPLICATION_FACTOR), a replication factor
// above the live brokers (INVALID_REPLICATION_FACTOR), a manual replica
// assignment (INVALID_REQUEST: placement is the controller's), a config
// cairn does not honour or a bad value (INVALID_CONFIG), an existing topic
// (TOPIC_ALREADY_EXISTS). Validate-only stops there.
//
// The answer waits, within the request's timeout, until every partition of
// the new topics has a leader, so that a client can produce at once instead
// of retrying through the first election; a topic whose leaders are still
// being elected when the timeout ends is created all the same.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/cairnlog/cairn/wire"
)

// defaultAdminTimeout replaces an admin request's timeout of 0 or less.
const defaultAdminTimeout = 30 * time.Second

// adminContext bounds an admin request by its TimeoutMillis.
func (h *Handler) adminContext(ctx context.Context, ms int32) (context.Context, context.CancelFunc) {
	d := time.Duration(ms) * time.Millisecond
	if d <= 0 {
		d = defaultAdminTimeout
	}
	return h.requestContext(ctx, d)
}

func (h *Handler) createTopics(ctx context.Context, req *wire.Request) wire.Reply {
	r := req.Body.(*kmsg.CreateTopicsRequest)
	resp := kmsg.NewPtrCreateTopicsResponse()
	resp.Version = r.Version
	actx, cancel := h.adminContext(ctx, r.TimeoutMillis)
	defer cancel()

	count := map[string]int{}
	for _, rt := range r.Topics {
		count[rt.Topic]++
	}
	var created []string
	for _, rt := range r.Topics {
		st := kmsg.NewCreateTopicsResponseTopic()
		st.Topic = rt.Topic
		st.NumPartitions, st.ReplicationFactor = -1, -1
		var err error
		if count[rt.Topic] > 1 {
			err = fmt.Errorf("%w: topic %q named %d times", errInvalidRequest, rt.Topic, count[rt.Topic])
		} else {
			err = h.createTopic(actx, r, rt, &st)
			if err == nil && !r.ValidateOnly {
				created = append(created, rt.Topic)
			}
		}
		st.ErrorCode, st.ErrorMessage = errorCode(err), errorMessage(err)
		if err != nil {
			st.NumPartitions, st.ReplicationFactor, st.Configs = -1, -1, nil
			if r.Version < 1 {
				st.ErrorMessage = nil
			}
		}
		resp.Topics = append(resp.Topics, st)
	}
	h.awaitLeaders(actx, created)
	return wire.Respond(resp)
}

// awaitLeaders returns once every partition of topics has a leader in this
// broker's metadata, or when ctx ends.
func (h *Handler) awaitLeaders(ctx context.Context, topics []string) {
	led := func() bool {
		for _, name := range topics {
			ti, ok := h.b.Topic(name)
			if !ok {
				continue // deleted meanwhile
			}
			for _, p := range ti.Partitions {
				if p.Leader < 0 {
					return false
				}
			}
		}
		return true
	}
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for !led() {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// createTopic checks and creates one topic, filling st on success.
func (h *Handler) createTopic(ctx context.Context, r *kmsg.CreateTopicsRequest, rt kmsg.CreateTopicsRequestTopic, st *kmsg.CreateTopicsResponseTopic) error {
	if err := validTopicName(rt.Topic); err != nil {
		return err
	}
	partitions, rf := rt.NumPartitions, rt.ReplicationFactor
	if partitions == -1 {
		partitions = h.cfg.DefaultPartitions
	}
	if rf == -1 {
		rf = h.cfg.DefaultReplicationFactor
	}
	switch {
	case len(rt.ReplicaAssignment) > 0:
		return fmt.Errorf("%w: manual replica assignment is not supported", errInvalidRequest)
	case partitions <= 0:
		return fmt.Errorf("%w: %d partitions", ErrInvalidPartitions, rt.NumPartitions)
	case rf <= 0:
		return fmt.Errorf("%w: %d", ErrInvalidReplicationFactor, rt.ReplicationFactor)
	case int(rf) > len(h.b.Brokers()):
		return fmt.Errorf("%w: %d, above the %d live brokers", ErrInvalidReplicationFactor, rf, len(h.b.Brokers()))
	}
	configs := make(map[string]string, len(rt.Configs))
	for _, c := range rt.Configs {
		if c.Value == nil {
			return fmt.Errorf("%w: config %q has a null value", errInvalidRequest, c.Name)
		}
		if _, dup := configs[c.Name]; dup {
			return fmt.Errorf("%w: config %q given twice", errInvalidRequest, c.Name)
		}
		if err := checkTopicConfig(c.Name, *c.Value); err != nil {
			return err
		}
		configs[c.Name] = *c.Value
	}
	if _, ok := h.b.Topic(rt.Topic); ok {
		return fmt.Errorf("%w: %s", ErrTopicExists, rt.Topic)
	}
	if !r.ValidateOnly {
		if err := h.b.CreateTopic(ctx, rt.Topic, partitions, rf, configs); err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				err = fmt.Errorf("%w: %v", ErrTimeout, err)
			}
			return err
		}
		if ti, ok := h.b.Topic(rt.Topic); ok {
			st.TopicID = ti.ID
		}
	}
	st.NumPartitions, st.ReplicationFactor = partitions, rf
	for _, cv := range h.topicConfigValues(configs, nil) {
		c := kmsg.NewCreateTopicsResponseTopicConfig()
		c.Name = cv.tc.name
		v := cv.value
		c.Value = &v
		c.Source = int8(cv.source)
		st.Configs = append(st.Configs, c)
	}
	return nil
}
