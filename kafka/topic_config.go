package kafka

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/cairnlog/cairn/log"
)

// topicConfig is one topic config cairn honours: its type, its default
// (the broker's, from Config), the broker config it is a synonym of, and
// its check.
type topicConfig struct {
	name   string
	broker string // the broker-wide default's name (DescribeConfigs synonyms)
	typ    kmsg.ConfigType
	def    func(Config) string
	check  func(string) error
	doc    string
}

// topicConfigs are the topic configs cairn honours, in the order
// DescribeConfigs lists them. Any other name is refused as INVALID_CONFIG:
// accepting a setting that would not be applied misleads its user.
var topicConfigs = []topicConfig{
	{
		name: "cleanup.policy", broker: "log.cleanup.policy", typ: kmsg.ConfigTypeList,
		def:   func(Config) string { return "delete" },
		check: checkCleanupPolicy,
		doc:   "delete: drop old segments by retention.ms and retention.bytes; compact: keep every segment (cairn does not yet drop records superseded by a newer one of the same key); or both.",
	},
	{
		name: "retention.ms", broker: "log.retention.ms", typ: kmsg.ConfigTypeLong,
		def:   func(Config) string { return strconv.FormatInt(log.DefaultRetentionAge.Milliseconds(), 10) },
		check: checkLong(-1, math.MaxInt64),
		doc:   "How long a sealed segment is kept after its newest record; -1: for ever.",
	},
	{
		name: "retention.bytes", broker: "log.retention.bytes", typ: kmsg.ConfigTypeLong,
		def:   func(Config) string { return "-1" },
		check: checkLong(-1, math.MaxInt64),
		doc:   "The size a partition's log is trimmed to by deleting its oldest sealed segments; -1: unlimited.",
	},
	{
		name: "segment.bytes", broker: "log.segment.bytes", typ: kmsg.ConfigTypeInt,
		def:   func(Config) string { return strconv.Itoa(log.DefaultMaxSegmentBytes) },
		check: checkLong(log.BatchHeaderSize, math.MaxInt32),
		doc:   "The size at which a partition's active segment is rolled.",
	},
	{
		name: "segment.ms", broker: "log.roll.ms", typ: kmsg.ConfigTypeLong,
		def:   func(Config) string { return strconv.FormatInt(log.DefaultMaxSegmentAge.Milliseconds(), 10) },
		check: checkLong(1, math.MaxInt64),
		doc:   "The age at which a partition's active segment is rolled.",
	},
	{
		name: "max.message.bytes", broker: "message.max.bytes", typ: kmsg.ConfigTypeInt,
		def:   func(c Config) string { return strconv.Itoa(c.MaxBatchBytes) },
		check: checkLong(log.BatchHeaderSize, math.MaxInt32),
		doc:   "The largest record batch accepted, compressed or inflated.",
	},
}

func lookupTopicConfig(name string) (*topicConfig, bool) {
	for i := range topicConfigs {
		if topicConfigs[i].name == name {
			return &topicConfigs[i], true
		}
	}
	return nil, false
}

// checkTopicConfig checks one name and value; errors wrap ErrInvalidConfig.
func checkTopicConfig(name, value string) error {
	tc, ok := lookupTopicConfig(name)
	if !ok {
		return fmt.Errorf("%w: unknown or unsupported topic config %q", ErrInvalidConfig, name)
	}
	if err := tc.check(value); err != nil {
		return fmt.Errorf("%w: %s=%q: %v", ErrInvalidConfig, name, value, err)
	}
	return nil
}

func checkLong(lo, hi int64) func(string) error {
	return func(v string) error {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return fmt.Errorf("not an integer")
		}
		if n < lo || n > hi {
			return fmt.Errorf("not in [%d, %d]", lo, hi)
		}
		return nil
	}
}

func checkCleanupPolicy(v string) error {
	items := splitList(v)
	if len(items) == 0 {
		return fmt.Errorf("empty")
	}
	for _, it := range items {
		if it != "delete" && it != "compact" {
			return fmt.Errorf("%q is not delete or compact", it)
		}
	}
	return nil
}

// splitList splits a Kafka list config ("a,b"), dropping empty items.
func splitList(v string) []string {
	var out []string
	for it := range strings.SplitSeq(v, ",") {
		if it = strings.TrimSpace(it); it != "" {
			out = append(out, it)
		}
	}
	return out
}

// configValue is a topic config as DescribeConfigs and CreateTopics report
// it: set on the topic, or the default.
type configValue struct {
	tc     *topicConfig
	value  string
	source kmsg.ConfigSource
}

// topicConfigValues lists every honoured config of a topic with set (the
// topic's own), in table order, keeping those names selects (nil: all).
func (h *Handler) topicConfigValues(set map[string]string, names []string) []configValue {
	var out []configValue
	for i := range topicConfigs {
		tc := &topicConfigs[i]
		if names != nil && !slices.Contains(names, tc.name) {
			continue
		}
		cv := configValue{tc: tc, value: tc.def(h.cfg), source: kmsg.ConfigSourceDefaultConfig}
		if v, ok := set[tc.name]; ok {
			cv.value, cv.source = v, kmsg.ConfigSourceDynamicTopicConfig
		}
		out = append(out, cv)
	}
	return out
}
