package workload

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cairnlog/cairn/faults/history"
)

// sendOutcome maps the error a produce promise received to an outcome.
//
// franz-go resolves a record of an idempotent producer with nil only when a
// broker acknowledged its batch (acks=all here): OK. Otherwise it is
// Unknown, except for the few errors below that prove the batch was never
// appended. The reasons errors are not proof:
//
//   - kgo.ErrRecordTimeout, kgo.ErrRecordRetries and a context error:
//     franz-go fails an idempotent batch only when it has no request
//     outstanding, but "no request outstanding" includes an earlier attempt
//     whose connection died after the request was written and before the
//     response: a later attempt answered with a retryable error (say
//     NOT_LEADER_OR_FOLLOWER from the old leader) re-enables failing, yet
//     the first attempt may have been appended and committed.
//   - kgo.ErrClientClosed, kgo.ErrAborting: buffered batches are failed
//     whether or not they were written.
//   - Producer-id errors (OUT_OF_ORDER_SEQUENCE_NUMBER, UNKNOWN_PRODUCER_ID,
//     INVALID_PRODUCER_EPOCH, a failed InitProducerID) and every other
//     Kafka error: they may follow an attempt that was appended.
//
// The Fail cases are rejections that depend only on the batch's bytes and
// the topic's static configuration, so every attempt of the batch, on any
// broker, was rejected alike: the record is too large, invalid or corrupt,
// acks are invalid, or the client is not authorized. kgo.ErrMaxBuffered is
// returned before the record enters the client at all.
func sendOutcome(err error) history.Outcome {
	if err == nil {
		return history.OK
	}
	for _, definite := range []error{
		kgo.ErrMaxBuffered,
		kerr.MessageTooLarge,
		kerr.RecordListTooLarge,
		kerr.InvalidRecord,
		kerr.CorruptMessage,
		kerr.InvalidRequiredAcks,
		kerr.UnsupportedForMessageFormat,
		kerr.InvalidTopicException,
		kerr.TopicAuthorizationFailed,
		kerr.ClusterAuthorizationFailed,
	} {
		if errors.Is(err, definite) {
			return history.Fail
		}
	}
	return history.Unknown
}

// producerFatal reports whether err means the producer's identity is
// broken (its sequence numbers or epoch are no longer accepted), so that
// the client is recreated with a new producer id. franz-go recovers from
// some of these itself; recreating is harmless when it did.
func producerFatal(err error) bool {
	for _, fatal := range []error{
		kerr.OutOfOrderSequenceNumber,
		kerr.UnknownProducerID,
		kerr.InvalidProducerEpoch,
		kerr.ProducerFenced,
		kerr.InvalidProducerIDMapping,
		kerr.DuplicateSequenceNumber,
	} {
		if errors.Is(err, fatal) {
			return true
		}
	}
	return false
}

// commitOutcome maps a partition's result of an OffsetCommit to an
// outcome: reqErr is the request's error, code the partition's error code.
//
// Fail only for what no attempt of the request can have written: a commit
// refused for its bytes (metadata too large, an invalid request) or for
// authorization. A membership error (ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID,
// REBALANCE_IN_PROGRESS, FENCED_INSTANCE_ID) is Unknown, like everything
// else: franz-go retries a commit whose coordinator went away, and a new
// coordinator, which does not know the group, refuses the retry of an
// attempt the old one had stored. A campaign run recorded exactly that as a
// failed commit the group then resumed from.
func commitOutcome(reqErr error, code int16) history.Outcome {
	if reqErr != nil {
		return history.Unknown
	}
	switch code {
	case 0:
		return history.OK
	case kerr.OffsetMetadataTooLarge.Code,
		kerr.InvalidCommitOffsetSize.Code,
		kerr.InvalidRequest.Code,
		kerr.GroupAuthorizationFailed.Code,
		kerr.TopicAuthorizationFailed.Code:
		return history.Fail
	}
	return history.Unknown
}
