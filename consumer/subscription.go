package consumer

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// SubscribedTopics decodes a consumer-protocol member metadata (the
// subscription a Kafka consumer joins with: version, topics, user data,
// and from v1 owned partitions, v2 generation, v3 rack) and returns its
// topics. The coordinator reads it only to answer OffsetDelete
// (GROUP_SUBSCRIBED_TO_TOPIC); membership never depends on it, since
// assignors run in the clients. The decoding is kmsg's; the result does
// not alias metadata.
func SubscribedTopics(metadata []byte) ([]string, error) {
	var m kmsg.ConsumerMemberMetadata
	if err := m.ReadFrom(metadata); err != nil {
		return nil, fmt.Errorf("consumer member metadata: %w", err)
	}
	return m.Topics, nil
}
