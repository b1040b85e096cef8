package kafka

// Metadata, API key 3, versions 0-12.
//
// v1 adds the controller, racks and null-means-all topics (v0: an empty
// list means all), v2 the cluster id, v4 the auto-create flag (before v4
// auto-creation is always asked for), v5 offline replicas (only those on
// brokers without the request's listener, below), v7 leader epochs (the
// partition group's Raft term), v8 authorized operations (never computed:
// -2147483648, as Kafka without an authorizer reports), v9 is flexible, v10
// topic ids, v12 topics named by id alone.
// v13 (a top-level error code) is not served.
//
// Auto-creation: a topic named in the request that does not exist is
// created with Config.DefaultPartitions and Config.DefaultReplicationFactor
// when the request allows it and Config.DisableAutoCreateTopics is false,
// as Kafka's auto.create.topics.enable does. It is answered in full if its
// partitions already have leaders, else with LEADER_NOT_AVAILABLE (the
// client retries).
//
// Listeners: the brokers are named by their address on the listener the
// request arrived on, and a broker without that listener is left out, as
// Kafka answers. A partition whose leader lacks the listener has leader -1
// and LISTENER_NOT_FOUND (v6+; LEADER_NOT_AVAILABLE before), and replicas on
// brokers without it are reported offline (v5+).

import (
	"context"
	"errors"
	"math"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/cairnlog/cairn/wire"
)

// unauthorizedOps is what Kafka reports for authorized operations it did
// not compute.
const unauthorizedOps = math.MinInt32

// autoCreateTimeout bounds the wait for an auto-created topic.
const autoCreateTimeout = 10 * time.Second

func (h *Handler) metadata(ctx context.Context, req *wire.Request) wire.Reply {
	r := req.Body.(*kmsg.MetadataRequest)
	resp := kmsg.NewPtrMetadataResponse()
	resp.Version = r.Version
	brokers, elsewhere := h.brokersOn(req.Listener)
	for _, b := range brokers {
		mb := kmsg.NewMetadataResponseBroker()
		mb.NodeID, mb.Host, mb.Port = b.ID, b.Host, b.Port
		if b.Rack != "" {
			rack := b.Rack
			mb.Rack = &rack
		}
		resp.Brokers = append(resp.Brokers, mb)
	}
	cid := h.b.ClusterID()
	resp.ClusterID = &cid
	resp.ControllerID = h.b.ControllerID()
	resp.AuthorizedOperations = unauthorizedOps

	all := r.Topics == nil || (r.Version == 0 && len(r.Topics) == 0)
	if all {
		for _, t := range h.b.Topics() {
			resp.Topics = append(resp.Topics, h.metadataTopic(r, t, elsewhere, nil))
		}
		return wire.Respond(resp)
	}
	autoCreate := !h.cfg.DisableAutoCreateTopics && (r.Version < 4 || r.AllowAutoTopicCreation)
	var byID map[[16]byte]TopicInfo
	for _, rt := range r.Topics {
		if rt.Topic == nil {
			// v10+: by topic id alone.
			if byID == nil {
				byID = map[[16]byte]TopicInfo{}
				for _, t := range h.b.Topics() {
					byID[t.ID] = t
				}
			}
			t, ok := byID[rt.TopicID]
			if !ok {
				mt := kmsg.NewMetadataResponseTopic()
				mt.TopicID = rt.TopicID
				mt.ErrorCode = kerr.UnknownTopicID.Code
				mt.AuthorizedOperations = unauthorizedOps
				resp.Topics = append(resp.Topics, mt)
				continue
			}
			resp.Topics = append(resp.Topics, h.metadataTopic(r, t, elsewhere, nil))
			continue
		}
		name := *rt.Topic
		t, ok := h.b.Topic(name)
		var err error
		if !ok {
			err = h.autoCreate(ctx, name, autoCreate)
			if err == nil {
				t, ok = h.b.Topic(name)
			}
		}
		if !ok {
			if err == nil {
				err = kerr.LeaderNotAvailable
			}
			t = TopicInfo{Name: name}
		}
		resp.Topics = append(resp.Topics, h.metadataTopic(r, t, elsewhere, err))
	}
	return wire.Respond(resp)
}

// autoCreate creates a missing topic if allowed, and returns the error to
// report for it: nil when it exists now.
func (h *Handler) autoCreate(ctx context.Context, name string, allowed bool) error {
	if err := validTopicName(name); err != nil {
		return err
	}
	if !allowed {
		return ErrUnknownTopic
	}
	cctx, cancel := h.requestContext(ctx, autoCreateTimeout)
	defer cancel()
	err := h.b.CreateTopic(cctx, name, h.cfg.DefaultPartitions, h.cfg.DefaultReplicationFactor, nil)
	if err != nil && !errors.Is(err, ErrTopicExists) {
		h.logger.Info("auto-create topic failed", "topic", name, "err", err)
		if errors.Is(err, ErrNotController) || errors.Is(err, ErrTimeout) {
			return kerr.LeaderNotAvailable // retriable: the client asks again
		}
		return err
	}
	return nil
}

// metadataTopic describes t, or reports err for it. elsewhere holds the live
// brokers the client cannot reach on its listener.
func (h *Handler) metadataTopic(r *kmsg.MetadataRequest, t TopicInfo, elsewhere map[int32]bool, err error) kmsg.MetadataResponseTopic {
	mt := kmsg.NewMetadataResponseTopic()
	name := t.Name
	mt.Topic = &name
	mt.TopicID = t.ID
	mt.AuthorizedOperations = unauthorizedOps
	if err != nil {
		mt.ErrorCode = errorCode(err)
		return mt
	}
	mt.Partitions = make([]kmsg.MetadataResponseTopicPartition, 0, len(t.Partitions))
	for _, pi := range t.Partitions {
		mp := kmsg.NewMetadataResponseTopicPartition()
		mp.Partition = pi.Index
		mp.Leader = pi.Leader
		mp.LeaderEpoch = pi.LeaderEpoch
		mp.Replicas = append([]int32{}, pi.Replicas...)
		mp.ISR = append([]int32{}, pi.ISR...)
		mp.OfflineReplicas = []int32{}
		for _, id := range pi.Replicas {
			if elsewhere[id] {
				mp.OfflineReplicas = append(mp.OfflineReplicas, id) // as Kafka counts them
			}
		}
		switch {
		case pi.Leader < 0:
			mp.ErrorCode = kerr.LeaderNotAvailable.Code
		case elsewhere[pi.Leader]:
			mp.Leader = -1
			mp.ErrorCode = kerr.LeaderNotAvailable.Code
			if r.Version >= 6 {
				mp.ErrorCode = kerr.ListenerNotFound.Code
			}
		}
		mt.Partitions = append(mt.Partitions, mp)
	}
	return mt
}

// brokersOn returns the live brokers as a client of listener sees them: each
// at its address on that listener, leaving out those that have none (Kafka's
// alive broker nodes of a listener), which elsewhere holds. A request of an
// unnamed listener ("") sees every broker at its Host and Port.
func (h *Handler) brokersOn(listener string) (brokers []BrokerInfo, elsewhere map[int32]bool) {
	all := h.b.Brokers()
	if listener == "" {
		return all, nil
	}
	brokers = make([]BrokerInfo, 0, len(all))
	for _, b := range all {
		i := slices.IndexFunc(b.Listeners, func(e Endpoint) bool { return e.Listener == listener })
		if i < 0 {
			if elsewhere == nil {
				elsewhere = map[int32]bool{}
			}
			elsewhere[b.ID] = true
			continue
		}
		b.Host, b.Port = b.Listeners[i].Host, b.Listeners[i].Port
		brokers = append(brokers, b)
	}
	return brokers, elsewhere
}
