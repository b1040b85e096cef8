package kafka

// AlterConfigs, API key 33, versions 0-2.
//
// The older, whole-set form of IncrementalAlterConfigs that sarama's and
// kafka-go's admin clients, and confluent-kafka's alter_configs, still send:
// a resource's configs become exactly the ones given, and every honoured
// config the request leaves out returns to its default, as in Kafka. v2 is
// flexible. Topic configs only (broker configs are read-only: INVALID_REQUEST).
// A name twice, or a null value, is INVALID_REQUEST; a config cairn does not
// honour or a bad value INVALID_CONFIG. Validate-only stops after the checks.
// A resource's changes are applied together or not at all.

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/cairnlog/cairn/wire"
)

func (h *Handler) alterConfigs(ctx context.Context, req *wire.Request) wire.Reply {
	r := req.Body.(*kmsg.AlterConfigsRequest)
	resp := kmsg.NewPtrAlterConfigsResponse()
	resp.Version = r.Version
	actx, cancel := h.adminContext(ctx, 0)
	defer cancel()
	for _, rr := range r.Resources {
		sr := kmsg.NewAlterConfigsResponseResource()
		sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
		err := alterResource(rr.ResourceType, func() error { return h.replaceTopicConfigs(actx, rr, r.ValidateOnly) })
		sr.ErrorCode, sr.ErrorMessage = errorCode(err), errorMessage(err)
		resp.Resources = append(resp.Resources, sr)
	}
	return wire.Respond(resp)
}

func (h *Handler) replaceTopicConfigs(ctx context.Context, rr kmsg.AlterConfigsRequestResource, validateOnly bool) error {
	ti, err := h.configuredTopic(rr.ResourceName)
	if err != nil {
		return err
	}
	set := make(map[string]*string, len(rr.Configs))
	for _, c := range rr.Configs {
		if _, dup := set[c.Name]; dup {
			return fmt.Errorf("%w: config %q given twice", errInvalidRequest, c.Name)
		}
		if c.Value == nil {
			return fmt.Errorf("%w: %s: null value (leave a config out to return it to its default)", errInvalidRequest, c.Name)
		}
		if err := checkTopicConfig(c.Name, *c.Value); err != nil {
			return err
		}
		v := *c.Value
		set[c.Name] = &v
	}
	for name := range ti.Configs {
		if _, given := set[name]; !given {
			set[name] = nil
		}
	}
	if validateOnly || len(set) == 0 {
		return nil
	}
	return h.b.AlterTopicConfigs(ctx, rr.ResourceName, set)
}
