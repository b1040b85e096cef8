package kafka

// DescribeConfigs, API key 32, versions 0-4.
//
// v1 adds config sources and synonyms (IncludeSynonyms), v3 config types and
// documentation (IncludeDocumentation), v4 is flexible. Topics list the
// configs cairn honours (topic_config.go), each set on the topic
// (DYNAMIC_TOPIC_CONFIG) or defaulted (DEFAULT_CONFIG), with the broker
// config it defaults from as a synonym. The broker (named by this broker's
// id, or "" for the cluster default) lists a few read-only settings. A
// ConfigNames list keeps only the names it holds; unknown names are
// omitted, as in Kafka.

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/cairnlog/cairn/wire"
)

func (h *Handler) describeConfigs(ctx context.Context, req *wire.Request) wire.Reply {
	r := req.Body.(*kmsg.DescribeConfigsRequest)
	resp := kmsg.NewPtrDescribeConfigsResponse()
	resp.Version = r.Version
	for _, rr := range r.Resources {
		sr := kmsg.NewDescribeConfigsResponseResource()
		sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
		var err error
		switch rr.ResourceType {
		case kmsg.ConfigResourceTypeTopic:
			err = h.describeTopicConfigs(r, rr, &sr)
		case kmsg.ConfigResourceTypeBroker:
			err = h.describeBrokerConfigs(r, rr, &sr)
		default:
			err = fmt.Errorf("%w: resource type %d is not described", errInvalidRequest, rr.ResourceType)
		}
		sr.ErrorCode, sr.ErrorMessage = errorCode(err), errorMessage(err)
		if err != nil {
			sr.Configs = nil
		}
		resp.Resources = append(resp.Resources, sr)
	}
	return wire.Respond(resp)
}

func (h *Handler) describeTopicConfigs(r *kmsg.DescribeConfigsRequest, rr kmsg.DescribeConfigsRequestResource, sr *kmsg.DescribeConfigsResponseResource) error {
	if err := validTopicName(rr.ResourceName); err != nil {
		return err
	}
	ti, ok := h.b.Topic(rr.ResourceName)
	if !ok {
		return fmt.Errorf("%w: %s", ErrUnknownTopic, rr.ResourceName)
	}
	for _, cv := range h.topicConfigValues(ti.Configs, rr.ConfigNames) {
		c := describedConfig(r, cv.tc.name, cv.value, cv.source, false, cv.tc.typ, cv.tc.doc)
		if r.IncludeSynonyms {
			if cv.source == kmsg.ConfigSourceDynamicTopicConfig {
				c.ConfigSynonyms = append(c.ConfigSynonyms, synonym(cv.tc.name, cv.value, cv.source))
			}
			c.ConfigSynonyms = append(c.ConfigSynonyms, synonym(cv.tc.broker, cv.tc.def(h.cfg), kmsg.ConfigSourceDefaultConfig))
		}
		sr.Configs = append(sr.Configs, c)
	}
	return nil
}

// brokerConfig is a read-only broker setting DescribeConfigs lists.
type brokerConfig struct {
	name  string
	value string
	typ   kmsg.ConfigType
	doc   string
}

func (h *Handler) brokerConfigs() []brokerConfig {
	return []brokerConfig{
		{"broker.id", strconv.Itoa(int(h.b.ID())), kmsg.ConfigTypeInt, "This broker's node id."},
		{"auto.create.topics.enable", strconv.FormatBool(!h.cfg.DisableAutoCreateTopics), kmsg.ConfigTypeBoolean, "Whether Metadata creates the missing topics it names."},
		{"num.partitions", strconv.Itoa(int(h.cfg.DefaultPartitions)), kmsg.ConfigTypeInt, "Partitions of an auto-created topic, or of one created with -1."},
		{"default.replication.factor", strconv.Itoa(int(h.cfg.DefaultReplicationFactor)), kmsg.ConfigTypeShort, "Replicas of an auto-created topic, or of one created with -1."},
		{"message.max.bytes", strconv.Itoa(h.cfg.MaxBatchBytes), kmsg.ConfigTypeInt, "The default of the topic config max.message.bytes."},
		{"fetch.max.bytes", strconv.Itoa(int(h.cfg.FetchMaxBytes)), kmsg.ConfigTypeInt, "The largest Fetch response."},
	}
}

func (h *Handler) describeBrokerConfigs(r *kmsg.DescribeConfigsRequest, rr kmsg.DescribeConfigsRequestResource, sr *kmsg.DescribeConfigsResponseResource) error {
	if rr.ResourceName != "" && rr.ResourceName != strconv.Itoa(int(h.b.ID())) {
		return fmt.Errorf("%w: broker %q: ask that broker", errInvalidRequest, rr.ResourceName)
	}
	for _, bc := range h.brokerConfigs() {
		if rr.ConfigNames != nil && !slices.Contains(rr.ConfigNames, bc.name) {
			continue
		}
		c := describedConfig(r, bc.name, bc.value, kmsg.ConfigSourceStaticBrokerConfig, true, bc.typ, bc.doc)
		if r.IncludeSynonyms {
			c.ConfigSynonyms = append(c.ConfigSynonyms, synonym(bc.name, bc.value, kmsg.ConfigSourceStaticBrokerConfig))
		}
		sr.Configs = append(sr.Configs, c)
	}
	return nil
}

func describedConfig(r *kmsg.DescribeConfigsRequest, name, value string, src kmsg.ConfigSource, readOnly bool, typ kmsg.ConfigType, doc string) kmsg.DescribeConfigsResponseResourceConfig {
	c := kmsg.NewDescribeConfigsResponseResourceConfig()
	c.Name = name
	c.Value = &value
	c.ReadOnly = readOnly
	c.IsDefault = src == kmsg.ConfigSourceDefaultConfig
	c.Source = src
	c.ConfigType = typ
	if r.IncludeDocumentation {
		c.Documentation = &doc
	}
	return c
}

func synonym(name, value string, src kmsg.ConfigSource) kmsg.DescribeConfigsResponseResourceConfigConfigSynonym {
	s := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
	s.Name, s.Value, s.Source = name, &value, src
	return s
}
