package cluster

import (
	"errors"
	"fmt"
)

// Errors of the Broker API. The Kafka layer maps them to Kafka error codes
// (kerr) at the protocol boundary; they are tested with errors.Is, and may be
// wrapped with detail (which topic, which value).
var (
	// ErrTopicExists: CreateTopic of a name already in use (TOPIC_ALREADY_EXISTS).
	ErrTopicExists = errors.New("cluster: topic already exists")
	// ErrUnknownTopic: the topic does not exist (UNKNOWN_TOPIC_OR_PARTITION).
	ErrUnknownTopic = errors.New("cluster: unknown topic")
	// ErrUnknownPartition: the topic exists but not that partition
	// (UNKNOWN_TOPIC_OR_PARTITION).
	ErrUnknownPartition = errors.New("cluster: unknown partition")
	// ErrInvalidTopic: a topic name breaking Kafka's rules (INVALID_TOPIC_EXCEPTION).
	ErrInvalidTopic = errors.New("cluster: invalid topic name")
	// ErrInvalidReplicationFactor: below 1, or above the live broker count
	// (INVALID_REPLICATION_FACTOR).
	ErrInvalidReplicationFactor = errors.New("cluster: invalid replication factor")
	// ErrInvalidPartitions: a partition count below 1, above MaxPartitions, or
	// not above the current count for CreatePartitions (INVALID_PARTITIONS).
	ErrInvalidPartitions = errors.New("cluster: invalid partition count")
	// ErrInvalidConfig: an unknown topic config or a bad value (INVALID_CONFIG).
	ErrInvalidConfig = errors.New("cluster: invalid topic config")
	// ErrInvalidReplicaAssignment: a reassignment naming an unknown broker, a
	// broker twice, or no broker (INVALID_REPLICA_ASSIGNMENT).
	ErrInvalidReplicaAssignment = errors.New("cluster: invalid replica assignment")
	// ErrReassignmentInProgress: the partition is being reassigned already
	// (REASSIGNMENT_IN_PROGRESS).
	ErrReassignmentInProgress = errors.New("cluster: reassignment in progress")
	// ErrUnknownBroker: no broker with that id is registered.
	ErrUnknownBroker = errors.New("cluster: unknown broker")
	// ErrNotReady: the metadata has no leader (yet) or is not reachable; the
	// operation may be retried (Kafka: REQUEST_TIMED_OUT or NOT_CONTROLLER).
	ErrNotReady = errors.New("cluster: metadata not available")
	// ErrClosed: the broker is shutting down.
	ErrClosed = errors.New("cluster: broker closed")
	// ErrBadCommand marks a metadata command or snapshot this version cannot
	// decode: written by a newer version, or corrupt.
	ErrBadCommand = errors.New("cluster: bad metadata command")
)

// errorCodes numbers the sentinels that cross the wire in forwarded metadata
// commands (meta.apply responses). Codes are part of the RPC format: never
// renumber, only append.
var errorCodes = []error{
	nil, // 0: success
	ErrTopicExists,
	ErrUnknownTopic,
	ErrUnknownPartition,
	ErrInvalidTopic,
	ErrInvalidReplicationFactor,
	ErrInvalidPartitions,
	ErrInvalidConfig,
	ErrInvalidReplicaAssignment,
	ErrReassignmentInProgress,
	ErrUnknownBroker,
	ErrBadCommand,
}

// codeOther is the code of an error that is none of errorCodes.
const codeOther = 255

func errorCode(err error) uint8 {
	if err == nil {
		return 0
	}
	for i, e := range errorCodes[1:] {
		if errors.Is(err, e) {
			return uint8(i + 1)
		}
	}
	return codeOther
}

// codeError rebuilds an error from its code and text: the sentinel wrapped
// with the remote text, so errors.Is works on the caller's side.
func codeError(code uint8, msg string) error {
	if code == 0 {
		return nil
	}
	if int(code) < len(errorCodes) {
		return &remoteCommandError{sentinel: errorCodes[code], msg: msg}
	}
	return fmt.Errorf("cluster: metadata command failed: %s", msg)
}

type remoteCommandError struct {
	sentinel error
	msg      string
}

func (e *remoteCommandError) Error() string { return e.msg }
func (e *remoteCommandError) Unwrap() error { return e.sentinel }
