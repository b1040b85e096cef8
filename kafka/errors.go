package kafka

import (
	"context"
	"errors"

	"github.com/hashicorp/raft"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/cairnlog/cairn/consumer"
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
	{ErrUnknownBroker, kerr.BrokerIDNotRegistered},
	{errInvalidRequest, kerr.InvalidRequest},
	{errNotLeader, kerr.NotLeaderForPartition},
	{errFencedEpoch, kerr.FencedLeaderEpoch},
	{errUnknownEpoch, kerr.UnknownLeaderEpoch},
	// The group coordinator's errors (package consumer).
	{consumer.ErrNotCoordinator, kerr.NotCoordinator},
	{consumer.ErrUnknownMemberID, kerr.UnknownMemberID},
	{consumer.ErrIllegalGeneration, kerr.IllegalGeneration},
	{consumer.ErrRebalanceInProgress, kerr.RebalanceInProgress},
	{consumer.ErrFencedInstanceID, kerr.FencedInstanceID},
	{consumer.ErrMemberIDRequired, kerr.MemberIDRequired},
	{consumer.ErrInvalidSessionTimeout, kerr.InvalidSessionTimeout},
	{consumer.ErrInconsistentProtocol, kerr.InconsistentGroupProtocol},
	{consumer.ErrGroupMaxSize, kerr.GroupMaxSizeReached},
	{consumer.ErrNonEmptyGroup, kerr.NonEmptyGroup},
	{consumer.ErrGroupNotFound, kerr.GroupIDNotFound},
	{consumer.ErrSubscribedToTopic, kerr.GroupSubscribedToTopic},
	{consumer.ErrMetadataTooLarge, kerr.OffsetMetadataTooLarge},
	// A batch too large (before or after inflation) is checked before
	// corruption: log wraps both in a *BatchError.
	{log.ErrBatchTooLarge, kerr.MessageTooLarge},
	// A replica's own damaged or missing bytes (a read, never a client's
	// batch): retriable, while the replica repairs itself from its peers.
	{partition.ErrStorage, kerr.KafkaStorageError},
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

// groupCodes override codes for the group APIs: the coordinator losing
// the metadata group's leadership (its store failing with a Raft
// leadership error) is NOT_COORDINATOR, so that the client finds the new
// coordinator, where a partition would answer NOT_LEADER_OR_FOLLOWER.
var groupCodes = []struct {
	err  error
	kerr *kerr.Error
}{
	{raft.ErrNotLeader, kerr.NotCoordinator},
	{raft.ErrLeadershipLost, kerr.NotCoordinator},
	{raft.ErrRaftShutdown, kerr.NotCoordinator},
	{replication.ErrClosed, kerr.NotCoordinator},
	{partition.ErrNotLeader, kerr.NotCoordinator},
}

// groupErrorCode is errorCode for the group APIs (groupCodes first).
func groupErrorCode(err error) int16 {
	if err == nil {
		return 0
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Code
	}
	for _, c := range groupCodes {
		if errors.Is(err, c.err) {
			return c.kerr.Code
		}
	}
	return errorCode(err)
}

// errorMessage returns err's text for the ErrorMessage fields, nil for nil.
func errorMessage(err error) *string {
	if err == nil {
		return nil
	}
	s := err.Error()
	return &s
}
