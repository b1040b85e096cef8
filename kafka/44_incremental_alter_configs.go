package kafka

// IncrementalAlterConfigs, API key 44, versions 0-1.
//
// v1 is flexible. Topic configs only (broker configs are read-only here:
// INVALID_REQUEST). SET checks and sets a value, DELETE returns a config to
// its default, APPEND and SUBTRACT edit a list config (cleanup.policy) and
// are INVALID_CONFIG on any other. A name twice in one resource is
// INVALID_REQUEST; a config cairn does not honour or a bad value
// INVALID_CONFIG. Validate-only stops after the checks. A resource's
// changes are applied together (Backend.AlterTopicConfigs) or not at all.

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/cairnlog/cairn/wire"
)

func (h *Handler) incrementalAlterConfigs(ctx context.Context, req *wire.Request) wire.Reply {
	r := req.Body.(*kmsg.IncrementalAlterConfigsRequest)
	resp := kmsg.NewPtrIncrementalAlterConfigsResponse()
	resp.Version = r.Version
	actx, cancel := h.adminContext(ctx, 0)
	defer cancel()
	for _, rr := range r.Resources {
		sr := kmsg.NewIncrementalAlterConfigsResponseResource()
		sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
		err := alterResource(rr.ResourceType, func() error { return h.alterTopicConfigs(actx, rr, r.ValidateOnly) })
		sr.ErrorCode, sr.ErrorMessage = errorCode(err), errorMessage(err)
		resp.Resources = append(resp.Resources, sr)
	}
	return wire.Respond(resp)
}

// alterResource alters one resource's configs: a topic's with alterTopic;
// broker configs are read-only here.
func alterResource(typ kmsg.ConfigResourceType, alterTopic func() error) error {
	switch typ {
	case kmsg.ConfigResourceTypeTopic:
		return alterTopic()
	case kmsg.ConfigResourceTypeBroker:
		return fmt.Errorf("%w: broker configs are read-only", errInvalidRequest)
	default:
		return fmt.Errorf("%w: resource type %d has no configs here", errInvalidRequest, typ)
	}
}

// configuredTopic is the topic whose configs a request alters.
func (h *Handler) configuredTopic(name string) (TopicInfo, error) {
	if err := validTopicName(name); err != nil {
		return TopicInfo{}, err
	}
	ti, ok := h.b.Topic(name)
	if !ok {
		return TopicInfo{}, fmt.Errorf("%w: %s", ErrUnknownTopic, name)
	}
	return ti, nil
}

func (h *Handler) alterTopicConfigs(ctx context.Context, rr kmsg.IncrementalAlterConfigsRequestResource, validateOnly bool) error {
	ti, err := h.configuredTopic(rr.ResourceName)
	if err != nil {
		return err
	}
	set := make(map[string]*string, len(rr.Configs))
	for _, c := range rr.Configs {
		if _, dup := set[c.Name]; dup {
			return fmt.Errorf("%w: config %q given twice", errInvalidRequest, c.Name)
		}
		tc, ok := lookupTopicConfig(c.Name)
		if !ok {
			return fmt.Errorf("%w: unknown or unsupported topic config %q", ErrInvalidConfig, c.Name)
		}
		switch c.Op {
		case kmsg.IncrementalAlterConfigOpSet:
			if c.Value == nil {
				return fmt.Errorf("%w: %s: null value", ErrInvalidConfig, c.Name)
			}
			if err := checkTopicConfig(c.Name, *c.Value); err != nil {
				return err
			}
			v := *c.Value
			set[c.Name] = &v
		case kmsg.IncrementalAlterConfigOpDelete:
			set[c.Name] = nil
		case kmsg.IncrementalAlterConfigOpAppend, kmsg.IncrementalAlterConfigOpSubtract:
			if tc.typ != kmsg.ConfigTypeList {
				return fmt.Errorf("%w: %s is not a list config", ErrInvalidConfig, c.Name)
			}
			if c.Value == nil {
				return fmt.Errorf("%w: %s: null value", ErrInvalidConfig, c.Name)
			}
			cur, ok := ti.Configs[c.Name]
			if !ok {
				cur = tc.def(h.cfg)
			}
			items := splitList(cur)
			for _, it := range splitList(*c.Value) {
				if c.Op == kmsg.IncrementalAlterConfigOpAppend && !slices.Contains(items, it) {
					items = append(items, it)
				}
				if c.Op == kmsg.IncrementalAlterConfigOpSubtract {
					items = slices.DeleteFunc(items, func(x string) bool { return x == it })
				}
			}
			v := strings.Join(items, ",")
			if err := checkTopicConfig(c.Name, v); err != nil {
				return err
			}
			set[c.Name] = &v
		default:
			return fmt.Errorf("%w: %s: unknown operation %d", errInvalidRequest, c.Name, c.Op)
		}
	}
	if validateOnly || len(set) == 0 {
		return nil
	}
	return h.b.AlterTopicConfigs(ctx, rr.ResourceName, set)
}
