package kafka

import (
	"context"
	"errors"

	"github.com/hashicorp/raft"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/cairnlog/cairn/log"
	"github.com/cairnlog/cairn/partition"
	"github.com/cairnlog/cairn/replication"
)

// Errors of the handlers themselves, beside the Backend's sentinels.
var (
	// errInvalidRequest: a request Kafka would refuse as malformed
	// (negative timeout, duplicate names, manual replica assignment).
	errInvalidRequest = errors.New("kafka: invalid request")
	// errNotLeader: the partition is hosted here but led elsewhere, or not
	// hosted here at all.
	errNotLeader = errors.New("kafka: not the partition leader")
	// errFencedEpoch and errUnknownEpoch: a request's current leader epoch
	// is older (newer) than the partition's (KIP-320).
	errFencedEpoch  = errors.New("kafka: fenced leader epoch")
	errUnknownEpoch = errors.New("kafka: unknown leader epoch")
)

// codes maps every sentinel to its Kafka error. The first match in order
// wins, so more specific sentinels come first. This table is the only
// translation of cairn errors into Kafka error codes.
var codes = []struct {
	err  error
	kerr *kerr.Error
}{
	{ErrTopicExists, kerr.TopicAlreadyExists},
	{ErrUnknownTopic, kerr.UnknownTopicOrPartition},
	{ErrInvalidReplicationFactor, kerr.InvalidReplicationFactor},
	{ErrInvalidPartitions, kerr.InvalidPartitions},
	{ErrInvalidConfig, kerr.InvalidConfig},
	{ErrInvalidTopic, kerr.InvalidTopicException},
	{ErrNotController, kerr.NotController},
	{ErrTimeout, kerr.RequestTimedOut},
	{errInvalidRequest, kerr.InvalidRequest},
	{errNotLeader, kerr.NotLeaderForPartition},
	{errFencedEpoch, kerr.FencedLeaderEpoch},
	{errUnknownEpoch, kerr.UnknownLeaderEpoch},
	// A batch too large (before or after inflation) is checked before
	// corruption: log wraps both in a *BatchError.
	{log.ErrBatchTooLarge, kerr.MessageTooLarge},
	{log.ErrCorrupt, kerr.CorruptMessage},
	{log.ErrOffsetOutOfRange, kerr.OffsetOutOfRange},
	{partition.ErrOutOfOrderSequence, kerr.OutOfOrderSequenceNumber},
	{partition.ErrInvalidEpoch, kerr.InvalidProducerEpoch},
	// Kafka refuses control batches from clients as INVALID_RECORD;
	// cairn has no transactions, so transactional batches too.
	{partition.ErrUnsupportedBatch, kerr.InvalidRecord},
	// Leadership lost or the replica closing (moved, deleted, shutting
	// down): the client refreshes its metadata and retries elsewhere.
	{partition.ErrNotLeader, kerr.NotLeaderForPartition},
	{replication.ErrClosed, kerr.NotLeaderForPartition},
	{raft.ErrRaftShutdown, kerr.NotLeaderForPartition},
	{raft.ErrLeadershipLost, kerr.NotLeaderForPartition},
	{raft.ErrEnqueueTimeout, kerr.RequestTimedOut},
	{context.DeadlineExceeded, kerr.RequestTimedOut},
	{context.Canceled, kerr.RequestTimedOut},
}

// errorCode returns the Kafka error code for err: 0 for nil, the code of
// a *kerr.Error the handler chose itself, the code of the first sentinel
// err wraps, or UNKNOWN_SERVER_ERROR.
func errorCode(err error) int16 {
	if err == nil {
		return 0
	}
	var ke *kerr.Error // a handler's choice of Kafka error, as is
	if errors.As(err, &ke) {
		return ke.Code
	}
	for _, c := range codes {
		if errors.Is(err, c.err) {
			return c.kerr.Code
		}
	}
	return kerr.UnknownServerError.Code
}

// errorMessage returns err's text for the ErrorMessage fields, nil for nil.
func errorMessage(err error) *string {
	if err == nil {
		return nil
	}
	s := err.Error()
	return &s
}
