package cluster

import (
	"errors"
	"testing"
	"time"

	"github.com/cairnlog/cairn/log"
)

// TestCleanupPolicy checks cleanup.policy is a list, as Kafka's (Kafka
// Streams creates windowed changelogs with "compact,delete"), and that
// retention deletes only under a policy holding delete.
func TestCleanupPolicy(t *testing.T) {
	for _, v := range []string{"delete", "compact", "compact,delete", "delete, compact", "compact,compact"} {
		if err := ValidateTopicConfig(ConfigCleanupPolicy, v); err != nil {
			t.Errorf("cleanup.policy=%q refused: %v", v, err)
		}
	}
	for _, v := range []string{"", ",", "shred", "compact,shred", "Delete"} {
		if err := ValidateTopicConfig(ConfigCleanupPolicy, v); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("cleanup.policy=%q: err %v, want ErrInvalidConfig", v, err)
		}
	}

	base := log.Config{RetentionAge: time.Hour, RetentionBytes: 1 << 30}
	for _, tc := range []struct {
		configs   map[string]string
		age       time.Duration
		sizeBytes int64
	}{
		{map[string]string{}, time.Hour, 1 << 30},
		{map[string]string{"cleanup.policy": "delete", "retention.ms": "60000"}, time.Minute, 1 << 30},
		{map[string]string{"cleanup.policy": "compact,delete", "retention.bytes": "100"}, time.Hour, 100},
		// Compact alone keeps every segment, whatever retention says.
		{map[string]string{"cleanup.policy": "compact"}, -1, -1},
		{map[string]string{"cleanup.policy": "compact", "retention.ms": "60000", "retention.bytes": "100"}, -1, -1},
	} {
		c := logConfig(base, tc.configs)
		if c.RetentionAge != tc.age || c.RetentionBytes != tc.sizeBytes {
			t.Errorf("%v: retention %v / %d bytes, want %v / %d", tc.configs, c.RetentionAge, c.RetentionBytes, tc.age, tc.sizeBytes)
		}
	}
}
